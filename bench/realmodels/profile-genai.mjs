// Where a decode step of an onnxruntime-genai-layout model goes: onnxruntime's profiler (kernel time per operator
// type) over 12 decode steps at a fixed past, 1 thread, spinning off. 0.5B shape (24 layers, 2 KV heads of 64).
//   node bench/realmodels/profile-genai.mjs MODEL.onnx [PAST]
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
process.env.ORT_DISABLE_TELEMETRY = '1';
const ort = createRequire(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'))('onnxruntime-node');
const model = process.argv[2]; const PAST = Number(process.argv[3] ?? 512); const STEPS = 12;
const L = 24, KV = 2, HD = 64;
const PROF_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-prof-'));
const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3, enableProfiling: true, profileFilePrefix: PROF_DIR + '/p',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } });
let past = Array.from({ length: L }, () => [new ort.Tensor('float32', new Float32Array(KV * PAST * HD), [1, KV, PAST, HD]), new ort.Tensor('float32', new Float32Array(KV * PAST * HD), [1, KV, PAST, HD])]);
const wall = [], cpu = [], runOnly = [];
for (let st = 0; st < STEPS; st++) {
  const p = past[0][0].dims[2];
  const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.of(1000n), [1, 1]), attention_mask: new ort.Tensor('int64', new BigInt64Array(p + 1).fill(1n), [1, p + 1]), position_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(p)), [1, 1]) };
  for (let i = 0; i < L; i++) { feeds[`past_key_values.${i}.key`] = past[i][0]; feeds[`past_key_values.${i}.value`] = past[i][1]; }
  const t = performance.now(); const u = process.cpuUsage();
  const out = await s.run(feeds);
  const d = process.cpuUsage(u);
  wall.push(performance.now() - t); cpu.push((d.user + d.system) / 1000);
  past = Array.from({ length: L }, (_, i) => [out[`present.${i}.key`], out[`present.${i}.value`]]);
}
const file = s.endProfiling ? s.endProfiling() : null;
await s.release();
const med = (a) => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1]; };
console.log('wall', med(wall).toFixed(1), 'cpu', med(cpu).toFixed(1));
const f = fs.readdirSync(PROF_DIR).filter((x) => x.startsWith('p')).map((x) => PROF_DIR + '/' + x).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
const ev = JSON.parse(fs.readFileSync(f, 'utf8'));
const byOp = {}; let runs = [];
for (const e of ev) {
  if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) { const op = e.args?.op_name ?? '?'; byOp[op] = (byOp[op] ?? 0) + e.dur; }
  if (e.cat === 'Session' && e.name === 'model_run') runs.push(e.dur);
}
const steps = runs.length; const tot = Object.values(byOp).reduce((a, b) => a + b, 0);
console.log('model_run median us', med(runs), 'kernels sum per step ms', (tot / steps / 1000).toFixed(2));
for (const [k, v] of Object.entries(byOp).sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(k.padEnd(36), (v / steps / 1000).toFixed(2), 'ms', (100 * v / tot).toFixed(1) + '%');
