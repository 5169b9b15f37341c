// Times the decode-step microbenchmark graphs of decode_stack.py: one M = 1 run per step, onnxruntime-node CPU,
// N threads, variants interleaved round-robin (each round visits every variant, in alternating order) so machine
// load hits all alike. Usage: node bench/realmodels/decode-stack.mjs DIR [--threads 1] [--rounds 5] [--steps 10]
//   [--variants a,b] [--out FILE.json]
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const dir = args[0];
const opt = (k, d) => { const i = args.indexOf(`--${k}`); return i > 0 ? args[i + 1] : d; };
const threads = Number(opt('threads', 1));
const rounds = Number(opt('rounds', 5));
const steps = Number(opt('steps', 10));
const names = (opt('variants', '') || fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => f.replace(/\.onnx$/, '')).sort().join(',')).split(',');
const uptime = () => execSync('uptime').toString().trim();
const start = uptime();
const sessions = {};
for (const n of names) {
  sessions[n] = await ort.InferenceSession.create(path.join(dir, `${n}.onnx`), {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
}
const h = sessions[names[0]].inputMetadata?.[0]?.shape?.[2] ?? 896;
const x = new ort.Tensor('float32', Float32Array.from({ length: h }, (_, i) => Math.sin(i)), [1, 1, h]);
const samples = Object.fromEntries(names.map((n) => [n, []]));
// CPU time of this process per step (all its threads): with 1 intra-op thread it is the work itself, much less
// sensitive than wall time to other processes on a loaded machine (they take turns on the cores, not our cycles).
const cpu = Object.fromEntries(names.map((n) => [n, []]));
for (const n of names) await sessions[n].run({ x }); // warm-up
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...names].reverse() : names;
  for (const n of order) {
    const t = performance.now();
    const u = process.cpuUsage();
    for (let s = 0; s < steps; s++) await sessions[n].run({ x });
    const used = process.cpuUsage(u);
    samples[n].push((performance.now() - t) / steps);
    cpu[n].push((used.user + used.system) / 1000 / steps);
  }
}
const med = (a) => { const b = [...a].sort((p, q) => p - q); return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2; };
const result = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model, threads, rounds, steps, load: { start, end: uptime() },
  ms: Object.fromEntries(names.map((n) => [n, {
    median: Number(med(samples[n]).toFixed(2)), min: Number(Math.min(...samples[n]).toFixed(2)), cpuMedian: Number(med(cpu[n]).toFixed(2)),
    samples: samples[n].map((v) => Number(v.toFixed(2))), cpuSamples: cpu[n].map((v) => Number(v.toFixed(2))),
  }])) };
for (const n of names) {
  const m = result.ms[n];
  console.log(`${n.padEnd(28)} wall median ${m.median.toFixed(2)} min ${m.min.toFixed(2)}  cpu-time median ${m.cpuMedian.toFixed(2)} ms/step`);
}
console.log(`load: ${result.load.start} → ${result.load.end}`);
const out = opt('out', '');
if (out) fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
