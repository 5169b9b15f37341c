// CritiPrefill's speed (issue 17): cold-prefill time to first token of N prompt tokens, the plain chunked prefill
// against the same model with its CritiPrefill twin on (runtime `critiPrefill`: runs whose past reaches the twin's
// minimum go to the twin). One process holds both models; for each N the two alternate ABBA over --reps. A cold
// prefill here is what the scheduler does for a new document: runs of --chunk tokens on one KV cache, the last run's
// logits → the first token (argmax). Random-weight models (bench/realmodels) measure speed only: the first tokens'
// agreement and the logits' difference are printed but say nothing about quality (see critiprefill-quality.sh).
// Wall time and the process's CPU time (process.cpuUsage) are both recorded: with 1 onnxruntime thread the CPU time
// is the work itself and much less disturbed by a loaded machine than wall time (as bench/realmodels/cpu.mjs).
// Run: node bench/accelerators/critiprefill.mjs --model DIR [--tokens 2048,4096,8192] [--chunk 256] [--reps 2]
//      [--threads 1] [--device cpu|webgpu] [--score-cap] [--out bench/results/accelerators-critiprefill-<name>]
// --score-cap: both sides shorten runs at depth as the engine does on WebGPU for these graphs (webgpuScoreCappedRun).
import '../lib/help.mjs';
import { loadModel } from '../../server/dist/runtime/model.js';
import { benchTwinPrefill, scoreCap } from './twin-prefill.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const modelDir = arg('model');
if (!modelDir) throw new Error('--model DIR (a model directory with onnx/model*_critiprefill.onnx next to its graph)');
const TOKENS = String(arg('tokens', '2048,4096,8192')).split(',').map(Number);
const CHUNK = Number(arg('chunk', 256));
const REPS = Number(arg('reps', 2));
const device = arg('device', 'cpu');
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const out = arg('out', null);
const capOn = process.argv.includes('--score-cap');
const common = { modelDir, device, intraOpNumThreads: threads, onStatus: (m) => process.stderr.write(`${m}\n`) };
const plain = await loadModel({ ...common, critiPrefill: false });
const crit = await loadModel({ ...common, critiPrefill: true });
if (!crit.critiPrefill) throw new Error(`${modelDir}: no CritiPrefill twin was opened (see the status above)`);
await benchTwinPrefill({
  plain, twin: crit, name: 'critiPrefill', label: 'critiprefill', twinRuns: (m) => m.critiPrefillRuns, tokens: TOKENS, chunk: CHUNK, reps: REPS, out,
  doc: { model: modelDir, device, threads: threads ?? 'default', critiPrefill: crit.critiPrefill, scoreCap: capOn },
  runCap: capOn ? scoreCap(plain) : undefined,
});
await plain.dispose();
await crit.dispose();
