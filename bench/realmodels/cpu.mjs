// Side-by-side CPU benchmark at Qwen2.5-Coder shapes (issue 15): our runtime on each generated ONNX layout next to
// llama.cpp (node-llama-cpp) on GGUFs of the same random weights. One command (setup: bench/realmodels/README.md):
//   node bench/realmodels/cpu.mjs [--shape 0.5b] [--models ~/.cache/infill-ls-models]
//        [--ours optimum-q4,genai-int4] [--llama q4_0,q8_0] [--prefill 512,2048,4096] [--past 2048] [--steps 8]
//        [--scenario 4096,260,24] [--reps 2] [--threads 2] [--llama-threads 1,2] [--devices cpu] [--webgpu-validation basic,disabled] [--ours-env NAME=VALUE] [--chunk 256] [--out bench/results/real-models-cpu] [--no-write]
// Each engine runs in its own child process; every measurement is taken ABBA-style (engine order reversed on
// alternate reps) so that the drifting load of this shared machine hits all engines alike. Reports medians and
// `uptime` before/after. Token ids are deterministic pseudo-random ids (cost does not depend on them).
import '../lib/help.mjs';
import { fork, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const list = (s) => s.split(',').filter(Boolean);
const SHAPE = opt('shape', '0.5b');
const SHAPE_DIR = { '0.5b': 'qwen2.5-coder-0.5b-shape', '1.5b': 'qwen2.5-coder-1.5b-shape' }[SHAPE] ?? SHAPE;
const MODELS = path.resolve(opt('models', path.join(os.homedir(), '.cache/infill-ls-models')), SHAPE_DIR);
const OURS = list(opt('ours', 'optimum-q4,genai-int4'));
const LLAMA = list(opt('llama', 'q4_0,q8_0'));
const PREFILL = list(opt('prefill', '512,2048,4096')).map(Number);
const PAST = list(opt('past', '2048')).map(Number);
const STEPS = Number(opt('steps', 8));
const [SC_CTX, SC_NEW, SC_GEN] = list(opt('scenario', '4096,260,24')).map(Number);
const REPS = Number(opt('reps', 2));
const THREADS = list(opt('threads', '2')).map(Number); // ours (0: onnxruntime's default, all cores)
const DEVICES = list(opt('devices', 'cpu')); // ours: cpu | webgpu
const LLAMA_THREADS = list(opt('llama-threads', '1,2')).map(Number);
const CHUNK = Number(opt('chunk', 256));
// WebGPU engines, one per value (env INFILL_LS_WEBGPU_VALIDATION; '' = onnxruntime's default, 'basic').
const VALIDATION = list(opt('webgpu-validation', ''));
// --ours-env NAME=VALUE[,NAME=VALUE...]: every one of our engines also runs once more with these env settings, labelled
// with them (e.g. INFILL_LS_LOGITS_LSE=0 for the host's Σ exp pass instead of the graph's), side by side in one run.
const OURS_ENV = list(opt('ours-env', '')).map((kv) => kv.split('='));
const OUT = path.resolve(root, opt('out', 'bench/results/real-models-cpu'));
const WRITE = !argv.includes('--no-write');

const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const r1 = (x) => Math.round(x * 10) / 10;
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const uptime = () => { try { return execFileSync('uptime', { encoding: 'utf8' }).trim(); } catch { return `load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`; } };

// Ids in [300, 150000): inside every layout's vocabulary (151,936 rows), away from the tokenizer's specials.
function tokenIds(n, seed) {
  let s = seed;
  return Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) % 2147483648; return 300 + (s % 149700); });
}

function worker(file, env, label) {
  const child = fork(path.join(here, file), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const pending = new Map();
  let ready, failed;
  const readyP = new Promise((r, j) => { ready = r; failed = j; });
  child.on('message', (m) => {
    if (m.ready) return ready();
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p.reject(new Error(`${label}: ${m.error}`)); else p.resolve(m.result);
  });
  child.on('exit', (code) => { failed(new Error(`${label} exited (${code}) before it was ready`)); for (const p of pending.values()) p.reject(new Error(`${label} exited (${code})`)); });
  return { label, child, ready: readyP, call: (op, args = {}) => new Promise((resolve, reject) => { const id = ++seq; pending.set(id, { resolve, reject }); child.send({ id, op, ...args }); }) };
}

const uptimeStart = uptime();
log(uptimeStart);
const engines = [];
for (const l of OURS) {
  const dir = path.join(MODELS, l);
  if (!fs.existsSync(dir)) { log(`skip ours/${l}: ${dir} missing (python3 native/py/qwen_models.py --shape ${SHAPE} --layouts ${l})`); continue; }
  for (const dev of DEVICES) {
    for (const t of dev === 'cpu' ? THREADS : [0]) {
      for (const v of dev === 'webgpu' && VALIDATION.length ? VALIDATION : ['']) {
        const env = { BENCH_ORT_MODEL: dir, BENCH_CHUNK: String(CHUNK), BENCH_THREADS: String(t), BENCH_DEVICE: dev, ...(v ? { INFILL_LS_WEBGPU_VALIDATION: v } : {}) };
        const label = `ours ${l} ${dev === 'cpu' ? `${t}t` : dev}${v ? ` validation ${v}` : ''}`;
        engines.push(worker('worker-ort.mjs', env, label));
        if (OURS_ENV.length) engines.push(worker('worker-ort.mjs', { ...env, ...Object.fromEntries(OURS_ENV) }, `${label} ${OURS_ENV.map((kv) => kv.join('=')).join(' ')}`));
      }
    }
  }
}
for (const t of LLAMA) {
  const f = path.join(MODELS, 'gguf', `model-${t}.gguf`);
  if (!fs.existsSync(f)) { log(`skip llama.cpp ${t}: ${f} missing (native/py/qwen_gguf.py)`); continue; }
  const ctxSize = String(Math.max(...PREFILL, SC_CTX ? SC_CTX + SC_NEW + SC_GEN : 0, ...PAST.map((p) => p + STEPS + 8)) + 64); // no NaN without a scenario
  for (const th of LLAMA_THREADS) engines.push(worker('worker-llama.mjs', { BENCH_GGUF: f, BENCH_CTX: ctxSize, BENCH_THREADS: String(th) }, `llama.cpp ${t} ${th}t`));
}
// Load one at a time (two loads at once on 2 cores would only slow both).
const live = [];
for (const e of engines) {
  try { await e.ready; e.info = await e.call('info'); live.push(e); log(`${e.label}: loaded in ${r1(e.info.loadMs)} ms, ${(e.info.bytes / 2 ** 20).toFixed(0)} MiB on disk, rss ${e.info.rssMiB} MiB`); }
  catch (err) { log(`${e.label}: failed to load: ${err.message}`); e.child.kill(); }
}

/** Runs `op` on every engine for REPS reps, order reversed on odd reps (ABBA). */
async function abba(op, args, pick = (r) => r.ms) {
  const res = Object.fromEntries(live.map((e) => [e.label, []]));
  for (let r = 0; r < REPS; r++) {
    const order = r % 2 ? [...live].reverse() : live;
    for (const e of order) {
      try { res[e.label].push(pick(await e.call(op, args))); } catch (err) { log(`${e.label} ${op}: ${err.message.split('\n')[0]}`); }
    }
  }
  return res;
}

const results = { prefill: {}, decode: {}, scenario: null };
const loads = [];
for (const n of PREFILL) {
  const ids = tokenIds(n, 12345);
  await abba('prefill', { ids: ids.slice(0, Math.min(n, 64)) }); // warm-up (allocations, thread pools)
  loads.push(os.loadavg()[0]);
  const r = await abba('prefill', { ids }, (x) => x);
  results.prefill[n] = Object.fromEntries(Object.entries(r).filter(([, v]) => v.length).map(([k, v]) => {
    const ms = v.map((x) => x.ms);
    const cpu = v.map((x) => x.cpuMs).filter((x) => typeof x === 'number');
    return [k, { ms: r1(median(ms)), tokPerS: Math.round(n / (median(ms) / 1000)), samplesMs: ms.map(r1), ...(cpu.length ? { cpuMs: r1(median(cpu)) } : {}) }];
  }));
  report(false);
  log(`prefill ${n}: ${Object.entries(results.prefill[n]).map(([k, v]) => `${k} ${v.ms} ms`).join(' | ')}`);
}
for (const p of PAST) {
  loads.push(os.loadavg()[0]);
  const r = await abba('decode', { ids: tokenIds(p, 777), steps: STEPS }, (x) => ({ ms: median(x.ms), cpuMs: x.cpuMs?.length ? median(x.cpuMs) : undefined }));
  results.decode[p] = Object.fromEntries(Object.entries(r).filter(([, v]) => v.length).map(([k, v]) => {
    const cpu = v.map((x) => x.cpuMs).filter((x) => typeof x === 'number');
    return [k, { msPerToken: r1(median(v.map((x) => x.ms))), repMedians: v.map((x) => r1(x.ms)), ...(cpu.length ? { cpuMsPerToken: r1(median(cpu)), cpuRepMedians: cpu.map(r1) } : {}) }];
  }));
  report(false);
  log(`decode @${p}: ${Object.entries(results.decode[p]).map(([k, v]) => `${k} ${v.msPerToken} ms/tok`).join(' | ')}`);
}
if (SC_CTX) {
  loads.push(os.loadavg()[0]);
  const ctx = tokenIds(SC_CTX, 999);
  const fresh = tokenIds(SC_NEW, 4242);
  await abba('scenario', { ctx, fresh: fresh.slice(0, 8), gen: 1 }); // fills each engine's cached context (untimed)
  const r = await abba('scenario', { ctx, fresh, gen: SC_GEN }, (x) => x);
  results.scenario = Object.fromEntries(Object.entries(r).filter(([, v]) => v.length).map(([k, v]) => {
    const cpu = v.map((x) => x.cpuMs).filter((x) => typeof x === 'number');
    return [k, { ms: r1(median(v.map((x) => x.ms))), newTokensMs: r1(median(v.map((x) => x.prefillMs))), samplesMs: v.map((x) => r1(x.ms)), ...(cpu.length ? { cpuMs: r1(median(cpu)) } : {}) }];
  }));
  report(false);
  log(`scenario ${SC_CTX}+${SC_NEW}+${SC_GEN}: ${Object.entries(results.scenario).map(([k, v]) => `${k} ${v.ms} ms`).join(' | ')}`);
}
for (const e of live) await e.call('exit').catch(() => {});
const uptimeFinal = uptime();
log(uptimeFinal);
report(true);

/** Writes the JSON and the Markdown table of what has been measured so far (partial results survive a timeout). */
function report(final) {
  const uptimeEnd = final ? uptimeFinal : uptime();
  const git = (...a) => { try { return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim(); } catch { return null; } };
  const out = {
    date: new Date().toISOString(),
    command: `node bench/realmodels/cpu.mjs ${argv.join(' ')}`.trim(),
    machine: { cpu: os.cpus()[0]?.model, logicalCpus: os.cpus().length, memGiB: r1(os.totalmem() / 2 ** 30), node: process.version },
    commit: git('rev-parse', '--short', 'HEAD'),
    settings: { shape: SHAPE, models: MODELS, oursDevices: DEVICES, oursThreads: THREADS, llamaThreads: LLAMA_THREADS, reps: REPS, oursPrefillChunk: CHUNK, decodeSteps: STEPS, scenario: { cachedContext: SC_CTX, newTokens: SC_NEW, generated: SC_GEN } },
    load: { uptimeStart, uptimeEnd, load1Samples: loads.map((x) => Math.round(x * 100) / 100) },
    engines: Object.fromEntries(live.map((e) => [e.label, e.info])),
    results,
  };
  const labels = live.map((e) => e.label);
  const bpw = (e) => (e.info.bytes * 8 / 1e9).toFixed(2);
  const md = [];
  md.push(`# Side by side at the Qwen2.5-Coder-${SHAPE} shape (random weights): ${os.hostname()}`, '');
  md.push(`- date: ${out.date}; command: \`${out.command}\`; commit ${out.commit}`);
  md.push(`- machine: ${out.machine.cpu}, ${out.machine.logicalCpus} logical CPUs, ${out.machine.memGiB} GiB, Node ${process.version}; threads per engine in its label (ours: intraOpNumThreads; llama.cpp: threads)`);
  md.push(`- load: start \`${uptimeStart}\`; end \`${uptimeEnd}\` (the machine is shared with other sessions: numbers are inflated by their load; engines alternate ABBA so it hits all alike)`);
  md.push(`- ours: onnxruntime-node ${live.find((e) => e.info.ortVersion)?.info.ortVersion ?? '-'}, server/dist runtime (\`loadModel\` + \`forward\`), prefill in runs of ${CHUNK} tokens with logits of the last run only (the scheduler's CPU chunk). llama.cpp: node-llama-cpp ${live.find((e) => e.info.nodeLlamaCppVersion)?.info.nodeLlamaCppVersion ?? '-'}, batch 512, flash attention off.`);
  md.push(`- models (files on disk): ${live.map((e) => `${e.label} ${(e.info.bytes / 2 ** 20).toFixed(0)} MiB`).join('; ')}`);
  md.push(`- ${REPS} reps (ABBA) after one warm-up; medians. Decode: ${STEPS} greedy steps after the past is prefilled. Scenario (llama.vim): ${SC_CTX} tokens already cached, ${SC_NEW} new tokens appended, ${SC_GEN} generated; time from the first new token to the last generated one.`);
  md.push('');
  md.push(`| | ${labels.join(' | ')} |`, `|---|${labels.map(() => '---').join('|')}|`);
  const cell = (o, f) => (o ? f(o) : '-');
  for (const n of PREFILL) md.push(`| prefill ${n} (ms) | ${labels.map((l) => cell(results.prefill[n]?.[l], (o) => `${o.ms} (${o.tokPerS} tok/s)`)).join(' | ')} |`);
  for (const p of PAST) md.push(`| decode @${p} past (ms/token) | ${labels.map((l) => cell(results.decode[p]?.[l], (o) => `${o.msPerToken}`)).join(' | ')} |`);
  // CPU time per token (process.cpuUsage, all threads): the work itself, little disturbed by other processes; only
  // comparable between 1-thread engines (more threads add spin-waiting and scheduling).
  for (const n of PREFILL) if (labels.some((l) => results.prefill[n]?.[l]?.cpuMs !== undefined)) md.push(`| prefill ${n}, CPU time (ms) | ${labels.map((l) => cell(results.prefill[n]?.[l], (o) => `${o.cpuMs ?? '-'}`)).join(' | ')} |`);
  for (const p of PAST) if (labels.some((l) => results.decode[p]?.[l]?.cpuMsPerToken !== undefined)) md.push(`| decode @${p} past, CPU time (ms/token) | ${labels.map((l) => cell(results.decode[p]?.[l], (o) => `${o.cpuMsPerToken ?? '-'}`)).join(' | ')} |`);
  if (results.scenario) md.push(`| llama.vim scenario ${SC_CTX}+${SC_NEW}+${SC_GEN} (ms; of which new tokens) | ${labels.map((l) => cell(results.scenario[l], (o) => `${o.ms} (${o.newTokensMs})`)).join(' | ')} |`);
  if (results.scenario && labels.some((l) => results.scenario[l]?.cpuMs !== undefined)) md.push(`| llama.vim scenario, CPU time (ms) | ${labels.map((l) => cell(results.scenario[l], (o) => `${o.cpuMs ?? '-'}`)).join(' | ')} |`);
  if (final) console.log(md.join('\n'));
  if (WRITE) {
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(`${OUT}.json`, JSON.stringify(out, null, 1) + '\n');
    fs.writeFileSync(`${OUT}.md`, md.join('\n') + '\n');
    log(`wrote ${path.relative(root, OUT)}.{json,md}`);
  }

}
