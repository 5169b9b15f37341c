// Feasibility check for GroupQueryAttention's share-buffer mode from onnxruntime-node (issue 15): the past K/V
// tensors, preallocated with spare capacity, are also passed as the pre-allocated `present` fetches of session.run,
// so the operator appends one row in place instead of copying the cache. Prints CPU/wall ms per decode step and the
// first logits (compare a `copy` and a `share` run: they must agree). genai layout, 0.5B shape (24 layers, 2 KV heads of 64).
//   node bench/realmodels/gqa-share.mjs MODEL.onnx PAST CAPACITY copy|share
import '../lib/help.mjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
process.env.ORT_DISABLE_TELEMETRY = '1';
const ort = createRequire(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'))('onnxruntime-node');
const model = process.argv[2]; const PAST = Number(process.argv[3] ?? 512); const CAP = Number(process.argv[4] ?? 1024); const STEPS = 16; const mode = process.argv[5] ?? 'share';
const L = 24, KV = 2, HD = 64;
const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3,
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } });
const cap = mode === 'share' ? CAP : PAST;
let past = Array.from({ length: L }, () => [0, 1].map(() => new ort.Tensor('float32', new Float32Array(KV * cap * HD).map((_, i) => { const h = Math.floor(i / (cap * HD)), r = i % (cap * HD); return Math.floor(r / HD) < PAST ? Math.sin(r + 7 * h) * 0.1 : 0; }), [1, KV, cap, HD])));
const wall = [], cpu = []; let len = PAST; let logits0;
for (let st = 0; st < STEPS; st++) {
  const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.of(1000n + BigInt(st)), [1, 1]), attention_mask: new ort.Tensor('int64', new BigInt64Array(len + 1).fill(1n), [1, len + 1]), position_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(len)), [1, 1]) };
  for (let i = 0; i < L; i++) { feeds[`past_key_values.${i}.key`] = past[i][0]; feeds[`past_key_values.${i}.value`] = past[i][1]; }
  let fetches;
  if (mode === 'share') { fetches = { logits: null }; for (let i = 0; i < L; i++) { fetches[`present.${i}.key`] = past[i][0]; fetches[`present.${i}.value`] = past[i][1]; } }
  const t = performance.now(); const u = process.cpuUsage();
  const out = await s.run(feeds, fetches);
  const d = process.cpuUsage(u);
  wall.push(performance.now() - t); cpu.push((d.user + d.system) / 1000);
  if (mode !== 'share') past = Array.from({ length: L }, (_, i) => [out[`present.${i}.key`], out[`present.${i}.value`]]);
  if (st === 0) logits0 = out.logits.data.slice(0, 5);
  len++;
}
const med = (a) => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1]; };
console.log(mode, 'past', PAST, 'wall', med(wall).toFixed(1), 'cpu', med(cpu).toFixed(1), 'logits[0..5] step0', Array.from(logits0).map((x) => x.toFixed(4)).join(' '), 'present dims', past[0][0].dims.join('x'));
