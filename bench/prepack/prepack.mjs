// Prepacked prefill vs one-by-one prefill vs one padded batch (models/default), on the CPU or on WebGPU.
// Run: npm run build && node bench/prepack/prepack.mjs [threads] [--device cpu|webgpu]
// Writes bench/results/prepack-<device>.json and .md.
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../server/dist/engine/load.js';
import { packedPrefill } from '../../server/dist/runtime/index.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const argv = process.argv.slice(2);
const flag = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const threads = Number(argv[0] && !argv[0].startsWith('--') ? argv[0] : os.availableParallelism());
const device = flag('device', 'cpu');
const LENGTHS = [128, 2048, 256, 1024, 384, 512, 192, 768]; // 8 prompts, 5312 tokens
const REPS = 3;
const CAPACITIES = [2048, 1024];

const b = await loadBundle({ modelDir: defaultModelDir, device, intraOpNumThreads: threads });
if (b.model.device !== device) throw new Error(`asked for ${device}, got ${b.model.device}`);
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
// Padded batching: one run of [8, longest] with each row's own causal block (padding masked), the same graph and
// weights through its own onnxruntime session (the runtime has no batched API). Its KV is not split afterwards,
// so this variant's time is a lower bound for a padded-batch prefill.
process.env.ORT_DISABLE_TELEMETRY = '1'; // onnxruntime's telemetry off before it loads (README: Security)
const ort = (await import('onnxruntime-node')).default;
const padSession = await ort.InferenceSession.create(b.model.files.onnxPath, {
  executionProviders: [device], intraOpNumThreads: threads,
  ...(device === 'webgpu' ? { preferredOutputLocation: Object.fromEntries(b.model.layout.slots.map((s) => [s.presentName, 'gpu-buffer'])) } : {}),
});
async function paddedBatch() {
  const held = prompts.map((p) => p.slice(0, -1));
  const B = held.length, S = Math.max(...held.map((p) => p.length));
  const ids = new BigInt64Array(B * S), pos = new BigInt64Array(B * S);
  const bias = new Float32Array(B * S * S).fill(-1e9);
  held.forEach((p, r) => {
    for (let i = 0; i < S; i++) {
      ids[r * S + i] = BigInt(i < p.length ? p[i] : 0);
      pos[r * S + i] = BigInt(Math.min(i, p.length - 1));
      // real rows attend to their own prefix; padding rows attend to column 0 only (finite softmax)
      const base = (r * S + i) * S;
      if (i < p.length) bias.fill(0, base, base + i + 1); else bias[base] = 0;
    }
  });
  const feeds = {
    input_ids: new ort.Tensor('int64', ids, [B, S]), position_ids: new ort.Tensor('int64', pos, [B, S]),
    attention_bias: new ort.Tensor('float32', bias, [B, 1, S, S]), logits_index: new ort.Tensor('int64', BigInt64Array.of(BigInt(S - 1)), [1]),
  };
  for (const s of b.model.layout.slots) {
    const dims = [...s.emptyDims]; dims[0] = B;
    feeds[s.pastName] = new ort.Tensor('float32', new Float32Array(0), dims);
  }
  const out = await padSession.run(feeds);
  for (const t of Object.values(out)) t.dispose?.();
  return [];
}
const variants = {
  'one-by-one': oneByOne,
  ...Object.fromEntries(CAPACITIES.map((cap) => [`packed, bins of ${cap}`, () => packedPrefill(b.model, prompts, { binTokens: cap })])),
  'padded batch [8, 2047] (KV not split)': paddedBatch,
};
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
// Same next token from the packed caches as from one-by-one prefill (each prompt's held-back last token decoded)?
const argmax = (a) => { let m = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[m]) m = i; return m; };
const firstTokens = async (caches) => { const t = []; for (let k = 0; k < prompts.length; k++) t.push(argmax(await b.model.forward(prompts[k].slice(-1), caches[k]))); return t; };
const refCaches = await oneByOne();
const packedCaches = await packedPrefill(b.model, prompts, { binTokens: CAPACITIES[0] });
const ref = await firstTokens(refCaches), got = await firstTokens(packedCaches);
for (const c of [...refCaches, ...packedCaches]) c.dispose();
const sameFirstToken = ref.filter((t, i) => t === got[i]).length;
console.log(`first token after packed prefill = one by one: ${sameFirstToken}/${prompts.length}`);
const base = results['one-by-one'].median_ms;
for (const r of Object.values(results)) r.speedup_vs_one_by_one = +(base / r.median_ms).toFixed(2);
const sumSq = LENGTHS.reduce((a, n) => a + (n - 1) ** 2, 0);
const out = {
  date: new Date().toISOString(),
  command: `npm run build && node bench/prepack/prepack.mjs ${threads} --device ${device}`,
  device,
  cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`,
  threads,
  model: b.model.files.onnxPath.replace(root + '/', ''),
  prompt_tokens: LENGTHS,
  total_prefill_tokens: LENGTHS.reduce((a, n) => a + n - 1, 0),
  reps: REPS,
  note: 'one warm-up then median of reps; held-back last token excluded from every variant; the padded batch is one run of the same graph without the KV split',
  attention_work: { one_by_one_sum_len2: sumSq },
  same_first_token_packed_vs_one_by_one: `${sameFirstToken}/${prompts.length}`,
  results,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, `bench/results/prepack-${device}.json`), JSON.stringify(out, null, 1) + '\n');
const md = [
  `# Prepacked prefill on ${device === 'cpu' ? 'the CPU' : device}`,
  '',
  `\`${out.command}\` — ${out.cpu}, ${device === 'cpu' ? `${threads} threads` : device}, ${out.model}; 8 prompts of ${LENGTHS.join(', ')} tokens (real code from bench/quality/data/npm-dev.jsonl.xz), ${out.total_prefill_tokens} prefill tokens; median of ${REPS} after a warm-up.`,
  '',
  '| variant | median ms | reps ms | speed-up vs one by one |',
  '|---|---|---|---|',
  ...Object.entries(results).map(([k, r]) => `| ${k} | ${r.median_ms} | ${r.reps_ms.join(', ')} | ${r.speedup_vs_one_by_one}x |`),
  '',
  `Next token after the packed prefill (bins of ${CAPACITIES[0]}) = after one-by-one prefill: ${sameFirstToken}/${prompts.length} prompts.`,
  '',
].join('\n');
fs.writeFileSync(path.join(root, `bench/results/prepack-${device}.md`), md);
await padSession.release();
await b.model.dispose();
