// Prepacked prefill vs one-by-one prefill on the CPU (models/default).
// Run: npm run build && ONNXRUNTIME_NODE_INSTALL=skip node bench/prepack/prepack.mjs [threads]
// Writes bench/results/prepack-cpu.json and .md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../server/dist/engine/load.js';
import { packedPrefill } from '../../server/dist/runtime/index.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const threads = Number(process.argv[2] ?? os.availableParallelism());
const LENGTHS = [128, 2048, 256, 1024, 384, 512, 192, 768]; // 8 prompts, 5312 tokens
const REPS = 3;
const CAPACITIES = [2048, 1024];

const b = await loadBundle({ modelDir: defaultModelDir, device: 'cpu', intraOpNumThreads: threads });
// Real code: the dev file contents of bench/quality/data/npm-dev.jsonl.xz, concatenated.
const lines = execFileSync('xz', ['-dc', path.join(root, 'bench/quality/data/npm-dev.jsonl.xz')], { maxBuffer: 1 << 30 }).toString('utf8').split('\n').filter(Boolean);
let text = '';
for (const l of lines) {
  const o = JSON.parse(l);
  text += Object.values(o).filter((v) => typeof v === 'string' && v.length > 200).join('\n') + '\n';
  if (text.length > 200_000) break;
}
const ids = b.tokenizer.encode(text);
let at = 0;
const prompts = LENGTHS.map((n) => { const p = ids.slice(at, at + n); at += n; return p; });
if (prompts.some((p, i) => p.length !== LENGTHS[i])) throw new Error(`not enough text: ${ids.length} tokens`);

async function oneByOne() {
  const caches = [];
  for (const p of prompts) {
    const c = b.model.createCache();
    await b.model.forward(p.slice(0, -1), c, { logits: 'none' });
    caches.push(c);
  }
  return caches;
}
const variants = { 'one-by-one': oneByOne, ...Object.fromEntries(CAPACITIES.map((cap) => [`packed, bins of ${cap}`, () => packedPrefill(b.model, prompts, { binTokens: cap })])) };
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const results = {};
for (const [name, fn] of Object.entries(variants)) {
  const times = [];
  for (let r = 0; r <= REPS; r++) {
    const t0 = performance.now();
    const caches = await fn();
    const ms = performance.now() - t0;
    for (const c of caches) c.dispose();
    if (r > 0) times.push(ms); // rep 0 is the warm-up
  }
  results[name] = { median_ms: Math.round(median(times)), reps_ms: times.map(Math.round) };
  console.log(name, results[name]);
}
const base = results['one-by-one'].median_ms;
for (const r of Object.values(results)) r.speedup_vs_one_by_one = +(base / r.median_ms).toFixed(2);
const sumSq = LENGTHS.reduce((a, n) => a + (n - 1) ** 2, 0);
const out = {
  date: new Date().toISOString(),
  command: `npm run build && ONNXRUNTIME_NODE_INSTALL=skip node bench/prepack/prepack.mjs ${threads}`,
  cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`,
  threads,
  model: b.model.files.onnxPath.replace(root + '/', ''),
  prompt_tokens: LENGTHS,
  total_prefill_tokens: LENGTHS.reduce((a, n) => a + n - 1, 0),
  reps: REPS,
  note: 'one warm-up then median of reps; held-back last token excluded from every variant; padded batch not measured',
  attention_work: { one_by_one_sum_len2: sumSq },
  results,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/prepack-cpu.json'), JSON.stringify(out, null, 1) + '\n');
const md = [
  '# Prepacked prefill on the CPU',
  '',
  `\`${out.command}\` — ${out.cpu}, ${threads} threads, ${out.model}; 8 prompts of ${LENGTHS.join(', ')} tokens (real code from bench/quality/data/npm-dev.jsonl.xz), ${out.total_prefill_tokens} prefill tokens; median of ${REPS} after a warm-up.`,
  '',
  '| variant | median ms | reps ms | speed-up vs one by one |',
  '|---|---|---|---|',
  ...Object.entries(results).map(([k, r]) => `| ${k} | ${r.median_ms} | ${r.reps_ms.join(', ')} | ${r.speedup_vs_one_by_one}x |`),
  '',
].join('\n');
fs.writeFileSync(path.join(root, 'bench/results/prepack-cpu.md'), md);
await b.model.dispose();
