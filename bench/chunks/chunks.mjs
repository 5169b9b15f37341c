// Prefill chunk size on the CPU: throughput (total prefill time of a ~1500-token prompt) against the time it takes to
// notice an abort (onnxruntime-node cannot stop a running session.run, so an abort waits for the chunk under way).
// Run: npm run build && ONNXRUNTIME_NODE_INSTALL=skip node bench/chunks/chunks.mjs [--reps 5] [--tokens 1500] [--threads N]
// Writes bench/results/chunks-<device>.json and .md (--device cpu|webgpu, default cpu).
//
// Per chunk size: the prompt is prefilled chunk by chunk on a fresh KV cache, as the scheduler does (logits 'none'
// except the last chunk); each chunk's model run is timed. Worst-case abort latency = the longest chunk run (an abort
// that arrives just after that chunk started waits for all of it); mean abort latency = Σt²/(2Σt) (an abort at a
// uniformly random time during the prefill waits for the rest of its chunk). Sizes run interleaved in every rep
// (shuffled order) so load drift on the shared machine spreads over all of them; medians over reps after a warm-up.
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../server/dist/engine/load.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const REPS = Number(arg('reps', 5));
const TOKENS = Number(arg('tokens', 1500));
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const SIZES = [32, 64, 128, 256, 512];
const loadavgAtStart = os.loadavg().map((x) => +x.toFixed(2));

const device = arg('device', 'cpu'); // --device webgpu on the GPU machine → bench/results/chunks-webgpu.*
const b = await loadBundle({ modelDir: defaultModelDir, device, intraOpNumThreads: threads });
if (b.model.device !== device) throw new Error(`asked for ${device}, got ${b.model.device}`);
// A real file: the first TypeScript dev file with at least TOKENS tokens.
const lines = execFileSync('xz', ['-dc', path.join(root, 'bench/quality/data/npm-dev.jsonl.xz')], { maxBuffer: 1 << 30 }).toString('utf8').split('\n').filter(Boolean);
let ids = null;
let source = '';
for (const l of lines) {
  const o = JSON.parse(l);
  if (o.lang !== 'typescript') continue;
  const t = b.tokenizer.encode(o.text);
  if (t.length >= TOKENS) {
    ids = t.slice(0, TOKENS);
    source = `${o.pkg}/${o.path}`;
    break;
  }
}
if (!ids) throw new Error(`no dev file with ${TOKENS} tokens`);

async function prefill(chunk) {
  const cache = b.model.createCache();
  const runs = [];
  const t0 = performance.now();
  for (let at = 0; at < ids.length; at += chunk) {
    const end = Math.min(ids.length, at + chunk);
    const s = performance.now();
    await b.model.forward(ids.slice(at, end), cache, { logits: end === ids.length ? 'last' : 'none' });
    runs.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  cache.dispose();
  const sum = runs.reduce((a, x) => a + x, 0);
  return { total, worst: Math.max(...runs), meanAbort: runs.reduce((a, x) => a + x * x, 0) / (2 * sum), runs: runs.length };
}

let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const samples = Object.fromEntries(SIZES.map((s) => [s, []]));
for (let rep = 0; rep <= REPS; rep++) {
  const order = [...SIZES].sort(() => rand() - 0.5);
  for (const s of order) {
    const r = await prefill(s);
    if (rep > 0) samples[s].push(r); // rep 0 is the warm-up
  }
  process.stderr.write(`rep ${rep} done\n`);
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const results = SIZES.map((s) => ({
  chunk: s,
  runs: samples[s][0].runs,
  totalMs: Math.round(median(samples[s].map((r) => r.total))),
  worstAbortMs: Math.round(median(samples[s].map((r) => r.worst))),
  meanAbortMs: Math.round(median(samples[s].map((r) => r.meanAbort))),
  tokensPerS: Math.round(TOKENS / (median(samples[s].map((r) => r.total)) / 1000)),
}));
const best = Math.min(...results.map((r) => r.totalMs));
for (const r of results) r.vsFastest = +(r.totalMs / best).toFixed(2);
// The rule: the smallest chunk whose total prefill is within 10% of the fastest size's (less wasted work per abort at
// a bounded throughput cost).
const chosen = results.find((r) => r.totalMs <= best * 1.1);
const out = {
  date: new Date().toISOString(),
  command: `npm run build && ONNXRUNTIME_NODE_INSTALL=skip node bench/chunks/chunks.mjs --reps ${REPS} --tokens ${TOKENS}${threads ? ` --threads ${threads}` : ''}${device !== 'cpu' ? ` --device ${device}` : ''}`,
  cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`,
  loadavgAtStart,
  loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)),
  model: b.model.files.onnxPath.replace(root + '/', ''),
  prompt: `${TOKENS} tokens of ${source}`,
  rule: 'smallest chunk with total prefill within 10% of the fastest',
  chosen: chosen.chunk,
  results,
  samples,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, `bench/results/chunks-${device}.json`), JSON.stringify(out, null, 1) + '\n');
const md = [
  `# Prefill chunk size on ${device === 'cpu' ? 'the CPU' : device}`,
  '',
  `\`${out.command}\` — ${out.cpu}, ${out.model}, ${out.prompt}; median of ${REPS} reps after a warm-up, sizes interleaved; load average (2 shared cores) at start ${out.loadavgAtStart.join(' ')}, at end ${out.loadavgAtEnd.join(' ')}.`,
  '',
  '| chunk | model runs | total prefill ms | tokens/s | × fastest | worst-case abort latency ms | mean abort latency ms |',
  '|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.chunk} | ${r.runs} | ${r.totalMs} | ${r.tokensPerS} | ${r.vsFastest} | ${r.worstAbortMs} | ${r.meanAbortMs} |`),
  '',
  `Worst-case abort latency: the longest chunk run (an abort that arrives as it starts waits for all of it). Mean: an abort at a uniformly random moment of the prefill waits Σt²/(2Σt). Rule: ${out.rule} → **${out.chosen}**.`,
  '',
];
fs.writeFileSync(path.join(root, `bench/results/chunks-${device}.md`), md.join('\n'));
console.log(md.join('\n'));
