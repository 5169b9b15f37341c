#!/usr/bin/env node
// bench/cpu/quality-avx2.sh's helper (see its header).
//   node bench/cpu/quality-avx2-report.mjs subset --tasks DIR --single N --multi M --procs P --out PRED_DIR
//     writes PRED_DIR/subset.K.jsonl (K < P): the task files both CPU classes complete
//   node bench/cpu/quality-avx2-report.mjs report --tasks DIR --pred PRED_DIR --model DIR --procs P --name NAME
//     compares PRED_DIR/native.K.jsonl with PRED_DIR/avx2.K.jsonl on the tasks the emulated run finished; writes
//     bench/results/quality-NAME.{json,md}
import '../lib/help.mjs';
import { topTwo } from '../lib/top2.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [cmd, ...rest] = process.argv.slice(2);
const args = Object.fromEntries(rest.reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const readJsonl = (p) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const SUITES = ['dev-ts-single', 'dev-py-single', 'dev-ts-multi', 'dev-py-multi'];

/** The first n indices of 0..size-1 in golden-ratio order (every prefix spreads over the whole file). */
function spread(size, n) {
  const phi = (Math.sqrt(5) - 1) / 2;
  const seen = new Set();
  const out = [];
  for (let i = 0; out.length < Math.min(n, size); i++) {
    const k = Math.floor(((i * phi) % 1) * size);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(k);
    }
  }
  return out;
}

if (cmd === 'subset') {
  const single = Number(args.single);
  const multi = Number(args.multi);
  const procs = Number(args.procs);
  const pick = (suite, n) => {
    const all = readJsonl(path.join(args.tasks, `${suite}.jsonl`));
    return spread(all.length, n).map((k) => all[k]);
  };
  const ts = pick('dev-ts-single', single);
  const py = pick('dev-py-single', single);
  const tm = pick('dev-ts-multi', multi);
  const pm = pick('dev-py-multi', multi);
  const rounds = [];
  let m = 0;
  let it = 0;
  let ip = 0;
  for (let r = 0; r < Math.max(ts.length, py.length) || it < tm.length || ip < pm.length; r++) {
    const round = [ts[r], py[r]].filter(Boolean);
    // a multi-line task every third round: TS, Python, Python, TS, TS, ... (so that every file gets both)
    if (r % 3 === 2 || r >= Math.max(ts.length, py.length)) {
      const wantTs = ((m + 1) >> 1) % 2 === 0;
      if ((wantTs && it < tm.length) || ip >= pm.length) round.push(tm[it++]);
      else round.push(pm[ip++]);
      m++;
    }
    rounds.push(round.filter(Boolean));
  }
  const files = Array.from({ length: procs }, () => []);
  rounds.forEach((round, r) => files[r % procs].push(...round));
  // --from-end K: K more files that walk the P files from their ends (the files alternating, tasks dealt i % K), for
  // processes that take the tasks the first P will not reach by the time limit
  const fromEnd = Number(args['from-end'] ?? 0);
  if (fromEnd > 0) {
    const rev = files.map((f) => [...f].reverse());
    const walk = [];
    for (let i = 0; i < Math.max(...rev.map((f) => f.length)); i++) for (const f of rev) if (f[i]) walk.push(f[i]);
    for (let j = 0; j < fromEnd; j++) files.push(walk.filter((_, i) => i % fromEnd === j));
  }
  files.forEach((f, k) => fs.writeFileSync(path.join(args.out, `subset.${k}.jsonl`), f.map((t) => JSON.stringify(t)).join('\n') + '\n'));
  console.error(`quality-avx2: ${files.map((f) => f.length).join(' + ')} tasks in ${files.length} files (${ts.length} + ${py.length} single-line, ${tm.length} + ${pm.length} multi-line)`);
  process.exit(0);
}

if (cmd !== 'report') {
  console.error('usage: quality-avx2-report.mjs subset|report ...');
  process.exit(2);
}

const pred = args.pred;
const procs = Number(args.procs);
const modelDir = args.model;
const tasks = new Map();
for (const s of SUITES) for (const t of readJsonl(path.join(args.tasks, `${s}.jsonl`))) tasks.set(t.id, { ...t, suite: s });
const native = new Map();
const avx2 = new Map();
const order = [];
for (let k = 0; k < procs; k++) {
  for (const p of readJsonl(path.join(pred, `native.${k}.jsonl`))) native.set(p.id, p);
  for (const p of readJsonl(path.join(pred, `avx2.${k}.jsonl`))) {
    if (avx2.has(p.id)) continue; // a task both ends reached is counted once (the first answer kept)
    avx2.set(p.id, p);
    order.push(p.id);
  }
}
const subsetSize = new Set(Array.from({ length: procs }, (_, k) => readJsonl(path.join(pred, `subset.${k}.jsonl`)).map((t) => t.id)).flat()).size;
// the comparison set: tasks the emulated run finished (without an error), with a native answer
const ids = order.filter((id) => !avx2.get(id).error && native.has(id) && !native.get(id).error);
const tmp = fs.mkdtempSync(path.join(pred, 'score-'));
function score(sel, side, field) {
  const tf = path.join(tmp, 't.jsonl');
  const pf = path.join(tmp, 'p.jsonl');
  fs.writeFileSync(tf, sel.map((id) => JSON.stringify(tasks.get(id))).join('\n') + '\n');
  fs.writeFileSync(pf, sel.map((id) => JSON.stringify(side.get(id))).join('\n') + '\n');
  const r = JSON.parse(execFileSync(process.execPath, [path.join(root, 'bench/quality/score.mjs'), '--tasks', tf, '--pred', pf, '--field', field]).toString());
  return { exact_match: r.exact_match, edit_similarity: r.edit_similarity, empty: r.empty };
}

// Top-1/top-2 logit margins along the AVX-512 run's greedy path (a native re-run of each task through the same engine,
// every forward pass's last logits row recorded): the smallest one, and where the two CPU classes' raw texts part
// (tasks the emulated run answered differently), the one there.
// A task whose two answers agree keeps its margins in PRED_DIR/margins.json (they depend on the native side only), so
// a later report re-runs only the tasks that differ and the ones not seen before.
async function margins(checkIds) {
  const cacheFile = path.join(pred, 'margins.json');
  const cache = fs.existsSync(cacheFile) ? JSON.parse(fs.readFileSync(cacheFile, 'utf8')) : {};
  const same = (id) => !avx2.has(id) || avx2.get(id).raw === native.get(id).raw;
  const out = new Map(checkIds.filter((id) => same(id) && cache[id]).map((id) => [id, cache[id]]));
  checkIds = checkIds.filter((id) => !out.has(id));
  if (checkIds.length === 0) return out;
  const { createEngine } = await import(path.join(root, 'server/dist/engine/engine.js'));
  const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
  const probe = await loadBundle({ modelDir, device: 'cpu', intraOpNumThreads: 1 });
  const tokenizer = probe.tokenizer;
  const proto = Object.getPrototypeOf(probe.model);
  const calls = [];
  const original = proto.forward;
  proto.forward = async function (ids, cache, options) {
    const row = await original.call(this, ids, cache, options);
    if (row) {
      const { i1, i2, margin } = topTwo(row);
      calls.push({ n: ids.length, first: ids[0], argmax: i1, second: i2, margin });
    } else calls.push({ n: ids.length, first: ids[0] });
    return row;
  };
  await probe.model.dispose();
  const engine = createEngine({ timeBudgetMs: 600_000, modelDir, device: 'cpu', threads: 1, log: () => {} });
  await engine.loaded;
  for (const id of checkIds) {
    const t = tasks.get(id);
    calls.length = 0;
    const r = await engine.complete(
      { documentKey: `eval:${id}`, version: 1, languageId: t.language, prefix: t.prefix, suffix: t.suffix, trigger: 'manual', lineMode: t.kind },
      new AbortController().signal,
    );
    const raw = r.kind === 'ok' ? (r.raw ?? r.candidates[0]?.text ?? '') : '';
    // decode steps: each one-token forward pass feeds the token chosen from the previous pass's row
    const steps = [];
    for (let j = 1; j < calls.length; j++) if (calls[j].n === 1 && calls[j - 1].margin !== undefined) steps.push({ token: calls[j].first, ...calls[j - 1] });
    // the last row chose the token that ended the decode (end of text, or the last token a stop rule kept)
    const last = calls.at(-1);
    if (last?.margin !== undefined) steps.push({ token: last.argmax, ...last });
    const min = steps.length ? Math.min(...steps.map((x) => x.margin)) : null;
    if (same(id)) {
      out.set(id, { rerun_raw_equals_native: raw === native.get(id).raw, decode_steps: steps.length, min_margin: min === null ? null : Number(min.toPrecision(4)) });
      cache[id] = out.get(id);
      continue;
    }
    const other = avx2.get(id).raw;
    const nat = native.get(id).raw;
    let at = -1;
    const full = tokenizer.decode(steps.map((s) => s.token));
    const heal = nat && full.includes(nat) ? full.indexOf(nat) : 0;
    for (let k = 0; k < steps.length; k++) {
      const text = tokenizer.decode(steps.slice(0, k + 1).map((s) => s.token)).slice(heal);
      if (!other.startsWith(text.slice(0, Math.min(text.length, other.length + 1)))) {
        at = k;
        break;
      }
    }
    const path_ = at >= 0 ? steps.slice(0, at + 1) : steps;
    out.set(id, {
      rerun_raw_equals_native: raw === nat,
      decode_steps: steps.length,
      min_margin: min === null ? null : Number(min.toPrecision(4)),
      first_diff_step: at >= 0 ? at : null,
      // at = -1: the native text is a prefix of the emulated one (native stopped first: the stop decision differs)
      margin_at_first_diff: at >= 0 ? Number(steps[at].margin.toFixed(5)) : null,
      chosen_was_argmax: at >= 0 ? steps[at].token === steps[at].argmax : null,
      min_margin_up_to_diff: path_.length ? Number(Math.min(...path_.map((s) => s.margin)).toFixed(5)) : null,
    });
  }
  await engine.dispose();
  proto.forward = original;
  fs.writeFileSync(cacheFile, JSON.stringify(cache) + '\n');
  return out;
}

// near-ties: the native side's margins only, and a task file of the N tasks whose greedy path comes closest to a tie
if (args['near-ties'] !== undefined) {
  const n = Number(args['near-ties']);
  const all = [...new Set(Array.from({ length: procs }, (_, k) => readJsonl(path.join(pred, `subset.${k}.jsonl`)).map((t) => t.id)).flat())].filter((id) => native.has(id));
  const mm = await margins(all);
  const near = all.filter((id) => typeof mm.get(id)?.min_margin === 'number').sort((a, b) => mm.get(a).min_margin - mm.get(b).min_margin).slice(0, n);
  fs.writeFileSync(args.out, near.map((id) => JSON.stringify(Object.fromEntries(Object.entries(tasks.get(id)).filter(([k]) => k !== 'suite')))).join('\n') + '\n');
  console.error(`quality-avx2: the ${near.length} tasks nearest a tie on the AVX-512 greedy path: ${near.map((id) => `${id} ${mm.get(id).min_margin}`).join(', ')}`);
  process.exit(0);
}

const bySuite = {};
const diffs = [];
for (const s of [...SUITES, 'all']) {
  const sel = ids.filter((id) => s === 'all' || tasks.get(id).suite === s);
  if (sel.length === 0) continue;
  const rawSame = sel.filter((id) => native.get(id).raw === avx2.get(id).raw).length;
  const postSame = sel.filter((id) => native.get(id).completion === avx2.get(id).completion).length;
  bySuite[s] = {
    n: sel.length,
    raw_identical: rawSame,
    completion_identical: postSame,
    avx512: { raw: score(sel, native, 'raw'), postprocessed: score(sel, native, 'completion') },
    avx2_emulated: { raw: score(sel, avx2, 'raw'), postprocessed: score(sel, avx2, 'completion') },
  };
  if (s === 'all') for (const id of sel) if (native.get(id).raw !== avx2.get(id).raw || native.get(id).completion !== avx2.get(id).completion) diffs.push(id);
}
// the native side finished the whole subset: its scores there, for scale (the comparison set is a part of it)
const allIds = [...new Set(Array.from({ length: procs }, (_, k) => readJsonl(path.join(pred, `subset.${k}.jsonl`)).map((t) => t.id)).flat())].filter((id) => native.has(id));
const nativeWhole = {};
for (const s of [...SUITES, 'all']) {
  const sel = allIds.filter((id) => s === 'all' || tasks.get(id).suite === s);
  if (sel.length) nativeWhole[s] = { n: sel.length, raw: score(sel, native, 'raw'), postprocessed: score(sel, native, 'completion') };
}
fs.rmSync(tmp, { recursive: true, force: true });
const allMargins = args['all-margins'] !== undefined && args['all-margins'] !== '0';
const m = await margins(allMargins ? allIds : diffs.filter((id) => native.get(id).raw !== avx2.get(id).raw));
let marginSummary = null;
if (allMargins) {
  const mins = allIds.map((id) => ({ id, min: m.get(id)?.min_margin })).filter((x) => typeof x.min === 'number').sort((a, b) => a.min - b.min);
  const inSet = new Set(ids);
  marginSummary = {
    what: 'smallest top-1/top-2 logit margin along each task\'s AVX-512 greedy path (every decode step and the step that ended it)',
    tasks: mins.length,
    reruns_equal_to_eval: allIds.filter((id) => m.get(id)?.rerun_raw_equals_native).length,
    below: Object.fromEntries([1e-4, 1e-3, 1e-2, 1e-1].map((t) => [String(t), mins.filter((x) => x.min < t).length])),
    below_in_compared: Object.fromEntries([1e-4, 1e-3, 1e-2, 1e-1].map((t) => [String(t), mins.filter((x) => x.min < t && inSet.has(x.id)).length])),
    smallest: mins.slice(0, 8).map((x) => ({ ...x, compared: inSet.has(x.id) })),
  };
}
const rows = diffs.map((id) => ({ id, avx512_raw: native.get(id).raw, avx2_raw: avx2.get(id).raw, avx512_completion: native.get(id).completion, avx2_completion: avx2.get(id).completion, ...(m.get(id) ? { margins: m.get(id) } : {}) }));
const emuMs = ids.map((id) => avx2.get(id).ms).sort((a, b) => a - b);
const natMs = ids.map((id) => native.get(id).ms).sort((a, b) => a - b);
const med = (a) => (a.length ? a[Math.floor(a.length / 2)] : null);
const runLines = readJsonl(path.join(pred, 'run.json'));
let probe = '';
try {
  probe = execFileSync('bash', [path.join(root, 'bench/cpu/avx2.sh'), '--probe'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  probe = 'probe failed (needs cc)';
}
const qemu = (() => {
  try {
    return execFileSync('qemu-x86_64', ['--version']).toString().split('\n')[0];
  } catch {
    return 'unknown';
  }
})();
const hostFlags = (() => {
  const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? 'unknown';
  const flags = new Set((/flags\s*:\s*(.*)/.exec(info)?.[1] ?? '').split(' '));
  return { model, flags: ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.has(f)) };
})();
const result = {
  what: `${modelDir}: the same dev tasks completed natively (AVX-512) and on an emulated AVX2-only CPU (QEMU user mode, -cpu ${process.env.QEMU_CPU ?? 'EPYC-Rome'}); compared on the tasks the emulated run finished`,
  command: `bash bench/cpu/quality-avx2.sh --model ${modelDir} --name ${args.name} --single ${runLines[0]?.single} --multi ${runLines[0]?.multi} --procs ${runLines[0]?.procs ?? procs}${runLines[0]?.from_end ? ` --from-end ${runLines[0].from_end}` : ''}${runLines[0]?.near_ties ? ` --near-ties ${runLines[0].near_ties}` : ''} --until ${runLines[0]?.until}`,
  eval: 'infill-ls eval --device cpu --threads 1 (greedy, up to 64 new tokens, default prompt budget, SPM, no decode time budget), niced',
  host: hostFlags,
  emulated_cpu: { qemu, cpu: process.env.QEMU_CPU ?? 'EPYC-Rome', probe },
  run: runLines,
  tasks_in_subset: subsetSize,
  tasks_compared: ids.length,
  emulated_ms_per_task: { median: med(emuMs), min: emuMs[0] ?? null, max: emuMs.at(-1) ?? null },
  native_ms_per_task: { median: med(natMs), min: natMs[0] ?? null, max: natMs.at(-1) ?? null },
  suites: bySuite,
  avx512_whole_subset: nativeWhole,
  avx512_greedy_margins: marginSummary,
  differing: rows,
  ids,
};
const outBase = path.join(root, 'bench/results', `quality-${args.name}`);
fs.writeFileSync(`${outBase}.json`, JSON.stringify(result, null, 1) + '\n');

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const names = { 'dev-ts-single': 'TypeScript single-line', 'dev-py-single': 'Python single-line', 'dev-ts-multi': 'TypeScript multi-line', 'dev-py-multi': 'Python multi-line', all: 'all' };
const md = [];
md.push(`# ${modelDir} on both x86-64 CPU classes: dev-task quality, AVX-512 against emulated AVX2`, '');
md.push(`Command: \`${result.command}\` (bench/cpu/quality-avx2.sh; results \`bench/results/quality-${args.name}.json\`, predictions \`.work/pred/${args.name}/\`).`, '');
md.push(`- Native: ${hostFlags.model}, flags ${hostFlags.flags.join(', ')}.`);
md.push(`- Emulated: ${qemu}, \`-cpu ${result.emulated_cpu.cpu}\` (cpuid probe: ${probe.replace(/\n/g, '; ')}). onnxruntime picks its kernels from cpuid, which QEMU reports without AVX-512, so the AVX2 code paths run; this is not a real AVX2 CPU's timing (emulated: median ${Math.round((result.emulated_ms_per_task.median ?? 0) / 1000)} s a task against ${result.native_ms_per_task.median} ms natively).`);
md.push(`- ${result.eval}. ${ids.length} of the ${subsetSize} tasks of the subset finished under emulation by the time limit; both sides are scored on those ${ids.length}.`);
md.push('- Run log (`run.json`):');
for (const l of runLines) md.push(`  - \`${JSON.stringify(l)}\``);
md.push('');
md.push('| suite | tasks | raw identical | post-processed identical | AVX-512: exact / edit sim. (raw) | AVX2 emulated: exact / edit sim. (raw) | AVX-512 post-processed | AVX2 post-processed |');
md.push('|---|---|---|---|---|---|---|---|');
for (const [s, v] of Object.entries(bySuite)) {
  const f = (x) => `${pct(x.exact_match)} / ${x.edit_similarity.toFixed(3)}`;
  md.push(`| ${names[s]} | ${v.n} | ${v.raw_identical} | ${v.completion_identical} | ${f(v.avx512.raw)} | ${f(v.avx2_emulated.raw)} | ${f(v.avx512.postprocessed)} | ${f(v.avx2_emulated.postprocessed)} |`);
}
md.push('');
md.push(`For scale, the AVX-512 run over the whole subset (raw; post-processed in parentheses): ${Object.entries(nativeWhole).map(([s, v]) => `${names[s]} ${v.n} tasks ${pct(v.raw.exact_match)} / ${v.raw.edit_similarity.toFixed(3)} (${pct(v.postprocessed.exact_match)} / ${v.postprocessed.edit_similarity.toFixed(3)})`).join('; ')}.`, '');
if (marginSummary) {
  const b = marginSummary.below;
  md.push(`Near-ties (\`--all-margins\`): along the AVX-512 greedy paths of all ${marginSummary.tasks} subset tasks (a native re-run; ${marginSummary.reruns_equal_to_eval} of them reproduce the eval's raw text), the smallest top-1/top-2 logit margin is below 1e-4 on ${b['0.0001']} tasks, below 1e-3 on ${b['0.001']}, below 1e-2 on ${b['0.01']} and below 0.1 on ${b['0.1']} (of the ${ids.length} compared: ${Object.values(marginSummary.below_in_compared).join(' / ')}). Smallest: ${marginSummary.smallest.map((x) => `${x.id} ${x.min}${x.compared ? ' (compared)' : ''}`).join(', ')}.`, '');
}
if (rows.length === 0) md.push('No completion differs between the two CPU classes on these tasks (raw model text and post-processed).');
else {
  md.push(`${rows.length} completions differ. For each, the AVX-512 run's top-1/top-2 logit margin where the texts part (a native re-run, every forward's last row recorded):`, '');
  md.push('| task | AVX-512 raw | AVX2 raw | first differing step | margin there | smallest margin up to it |');
  md.push('|---|---|---|---|---|---|');
  for (const r of rows) md.push(`| ${r.id} | \`${JSON.stringify(r.avx512_raw).slice(1, -1).replace(/\|/g, '\\|')}\` | \`${JSON.stringify(r.avx2_raw).slice(1, -1).replace(/\|/g, '\\|')}\` | ${r.margins?.first_diff_step ?? '–'} | ${r.margins?.margin_at_first_diff ?? '–'} | ${r.margins?.min_margin_up_to_diff ?? '–'} |`);
}
fs.writeFileSync(`${outBase}.md`, md.join('\n') + '\n');
console.log(JSON.stringify({ tasks_compared: ids.length, differing: rows.length, out: `${outBase}.{json,md}` }));
