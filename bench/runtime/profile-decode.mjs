// Where our decode step's time goes at a given past: onnxruntime's own profiler (enableProfiling) on the same graph
// and session options as server/src/runtime (graphOptimizationLevel 'all', intraOpNumThreads 2), fed like
// LoadedModel.forward does; plus the wall time of session.run and a fixed-past vs growing-past comparison.
//   node bench/runtime/profile-decode.mjs [--past 1024] [--steps 24] [--threads 2] [--model models/default/onnx/model_quantized.onnx]
// Writes bench/results/runtime-cpu-profile.json and prints a summary.
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
process.env.ORT_DISABLE_TELEMETRY = '1'; // onnxruntime's telemetry off before it loads (README: Security)
const ort = createRequire(path.join(root, 'package.json'))('onnxruntime-node');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : d; };
const PAST = Number(opt('past', 1024));
const STEPS = Number(opt('steps', 24));
const THREADS = Number(opt('threads', 2));
const MODEL = path.resolve(root, opt('model', 'models/default/onnx/model_quantized.onnx'));
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const r2 = (x) => Math.round(x * 100) / 100;
const L = 10, KV = 2, HD = 64;

function feedsFor(past, pastKv, seq = 1) {
  const total = past + seq;
  const f = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt(100 + i)), [1, seq]),
    attention_bias: new ort.Tensor('float32', new Float32Array(seq * total), [1, 1, seq, total]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt(past + i)), [1, seq]),
    logits_index: new ort.Tensor('int64', BigInt64Array.of(BigInt(seq - 1)), [1]),
  };
  for (let i = 0; i < L; i++) for (const kv of ['key', 'value']) f[`past_key_values.${i}.${kv}`] = pastKv[`${i}.${kv}`];
  return f;
}
function randomPast(past) {
  const o = {};
  for (let i = 0; i < L; i++) for (const kv of ['key', 'value']) {
    const d = new Float32Array(KV * past * HD); for (let j = 0; j < d.length; j++) d[j] = Math.random() - 0.5;
    o[`${i}.${kv}`] = new ort.Tensor('float32', d, [1, KV, past, HD]);
  }
  return o;
}
// Wait (up to 15 min) for a quiet machine: load1 < 1.5 and other processes using < 0.3 core over 5 s.
function busyJ() { const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number); return f.reduce((a, b) => a + b, 0) - f[3] - f[4]; }
for (const t0 = Date.now(); Date.now() - t0 < 900e3;) {
  const a = busyJ(); await new Promise((r) => setTimeout(r, 5000)); const busy = (busyJ() - a) / 500;
  if (os.loadavg()[0] < 1.5 && busy < 0.3) break;
  console.error(`waiting: load1 ${os.loadavg()[0].toFixed(2)}, ${busy.toFixed(2)} cores busy`);
}
const load1AtStart = os.loadavg()[0];
const base = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3, intraOpNumThreads: THREADS, interOpNumThreads: 1 };

// 1. Wall time: growing past (what decoding does) vs the same past every step (no KV growth, no new buffers).
const s = await ort.InferenceSession.create(MODEL, base);
async function growing(startPast) {
  let past = startPast, kv = randomPast(past); const ms = [];
  for (let k = 0; k < STEPS; k++) {
    const t = performance.now();
    const out = await s.run(feedsFor(past, kv));
    ms.push(performance.now() - t);
    past++; kv = {}; for (let i = 0; i < L; i++) for (const n of ['key', 'value']) kv[`${i}.${n}`] = out[`present.${i}.${n}`];
  }
  return median(ms);
}
async function fixed(past) {
  const kv = randomPast(past); const ms = [];
  for (let k = 0; k < STEPS; k++) { const t = performance.now(); await s.run(feedsFor(past, kv)); ms.push(performance.now() - t); }
  return median(ms);
}
async function fixedLogitsOnly(past) {
  const kv = randomPast(past); const ms = [];
  for (let k = 0; k < STEPS; k++) { const t = performance.now(); await s.run(feedsFor(past, kv), ['logits']); ms.push(performance.now() - t); }
  return median(ms);
}
await growing(64); // warm-up
const wall = {};
for (const p of [0, 256, 512, 1024, 1536].filter((p) => p <= Math.max(PAST, 1536))) {
  wall[p] = { growing: r2(await growing(p)), fixedPast: r2(await fixed(p)), fixedPastLogitsOnly: r2(await fixedLogitsOnly(p)) };
  console.error(`past ${p}: run ${wall[p].growing} ms (growing), ${wall[p].fixedPast} ms (same past each step), ${wall[p].fixedPastLogitsOnly} ms (presents not fetched)`);
}
await s.release();

// 2. onnxruntime's profiler at PAST.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-prof-'));
const sp = await ort.InferenceSession.create(MODEL, { ...base, enableProfiling: true, profileFilePrefix: path.join(dir, 'decode') });
let kv = randomPast(PAST), past = PAST;
const runMs = [];
for (let k = 0; k < STEPS + 4; k++) {
  const t = performance.now();
  const out = await sp.run(feedsFor(past, kv));
  if (k >= 4) runMs.push(performance.now() - t);
  past++; kv = {}; for (let i = 0; i < L; i++) for (const n of ['key', 'value']) kv[`${i}.${n}`] = out[`present.${i}.${n}`];
}
sp.endProfiling();
await sp.release();
const file = fs.readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.endsWith('.json'));
const ev = JSON.parse(fs.readFileSync(file, 'utf8'));
const runs = ev.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(4);
const t0 = runs[0]?.ts ?? 0;
const nodes = ev.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= t0);
const byOp = {}, byName = {};
for (const e of nodes) {
  const op = e.args?.op_name ?? '?';
  byOp[op] = (byOp[op] ?? 0) + e.dur;
  // group: attention matmuls (plain MatMul on activations), weight matmuls (MatMulInteger + its DynamicQuantizeLinear), KV concat, ...
  const nm = e.name.replace(/_kernel_time$/, '');
  byName[nm] = (byName[nm] ?? 0) + e.dur;
}
const nRuns = runs.length;
const perRun = (us) => r2(us / nRuns / 1000);
const opTable = Object.entries(byOp).sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, msPerStep: perRun(us) }));
const topNodes = Object.entries(byName).sort((a, b) => b[1] - a[1]).slice(0, 15).map(([n, us]) => ({ node: n, msPerStep: perRun(us) }));
const modelRunMs = r2(median(runs.map((r) => r.dur / 1000)));
const kernelSum = r2(nodes.reduce((a, e) => a + e.dur, 0) / nRuns / 1000);
const result = {
  date: new Date().toISOString(), command: `node bench/runtime/profile-decode.mjs ${argv.join(' ')}`.trim(), model: path.relative(root, MODEL),
  threads: THREADS, past: PAST, steps: STEPS, load1AtStart: r2(load1AtStart), load1AtEnd: r2(os.loadavg()[0]),
  wallMsPerStep: wall,
  profiled: { sessionRunWallMs: r2(median(runMs)), ortModelRunMs: modelRunMs, sumOfKernelsMs: kernelSum, byOp: opTable, topNodes },
};
fs.writeFileSync(path.join(root, 'bench/results/runtime-cpu-profile.json'), JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result.profiled, null, 1));
fs.rmSync(dir, { recursive: true, force: true });
