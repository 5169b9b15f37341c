// Can onnxruntime-node drive WebGPU graph capture (issue 15: a GPU decode step is ~250 dispatches of host work;
// replaying a captured step is the lever llama.cpp and PyTorch use)? Graph capture needs (1) the option to reach the
// WebGPU provider and (2) inputs and outputs in fixed GPU buffers that the caller rewrites between replays, i.e.
// session.run writing into pre-allocated gpu-buffer fetches. This checks both with one-node graphs on the WebGPU
// provider and prints one JSON line:
//   prealloc.inPlace   a gpu-buffer tensor passed as a fetch holds the run's result afterwards (false: the binding
//                      allocated a new output and left the given buffer as it was);
//   capture.enabled    the provider logged that the session uses graph capture, with
//                      `extra: { 'ep.webgpuexecutionprovider.enableGraphCapture': '1' }` (the only way to pass it:
//                      the binding's WebGPU options accept preferredLayout, deviceId, validationMode and buffer cache modes);
//   capture.lines      onnxruntime's own log lines that mention graph capture (severity 0, from a child process).
// Needs a WebGPU adapter: the GPU machine, or here Mesa's lavapipe (`mesa-vulkan-drivers` 25 from bookworm-backports:
// bookworm's 22.3 lacks a feature Dawn requires). Run after `npm run build`:
//   node bench/realmodels/graph-capture-probe.mjs [--out bench/results/FILE.json]
import '../lib/help.mjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
process.env.ORT_DISABLE_TELEMETRY = '1';
const here = path.dirname(fileURLToPath(import.meta.url));
const ort = createRequire(path.resolve(here, '../../package.json'))('onnxruntime-node');
const { buildModel, DT, floatTensor } = await import(path.resolve(here, '../../server/dist/runtime/onnx-proto.js'));

// y = x + 0 (a kernel that computes on the provider, not an alias), and y = x (to read a GPU tensor back)
const graph = (op) => buildModel({
  nodes: [op === 'Add' ? { op, inputs: ['x', 'zero'], outputs: ['y'] } : { op, inputs: ['x'], outputs: ['y'] }],
  inputs: [{ name: 'x', elemType: DT.float, dims: ['n'] }],
  outputs: [{ name: 'y', elemType: DT.float, dims: ['n'] }],
  initializers: op === 'Add' ? [floatTensor('zero', [1], [0])] : [],
});
const f32 = (v) => new ort.Tensor('float32', Float32Array.of(v), [1]);

if (process.argv[2] === '--child-capture') {  // a session with the option, its log on stderr for the parent to read
  const s = await ort.InferenceSession.create(graph('Add'), {
    executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer', logSeverityLevel: 0,
    extra: { 'ep.webgpuexecutionprovider.enableGraphCapture': '1' },
  });
  for (let i = 0; i < 3; i++) await s.run({ x: f32(i) });
  process.exit(0);
}

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const result = { when: new Date().toISOString(), onnxruntimeNode: createRequire(path.resolve(here, '../../package.json'))('onnxruntime-node/package.json').version };
try {
  const writer = await ort.InferenceSession.create(graph('Add'), { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer', logSeverityLevel: 3 });
  const reader = await ort.InferenceSession.create(graph('Identity'), { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  const read = async (t) => (await reader.run({ x: t })).y.data[0];
  const a = (await writer.run({ x: f32(7) })).y;
  const b = (await writer.run({ x: f32(42) }, { y: a })).y;
  result.prealloc = { location: a.location, givenHolds: await read(a), returnedHolds: await read(b), returnedIsGiven: a === b };
  result.prealloc.inPlace = result.prealloc.givenHolds === 42;
} catch (e) {
  result.prealloc = { error: String(e.message ?? e).split('\n')[0] };
}
const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child-capture'], { encoding: 'utf8', timeout: 120_000 });
const log = `${child.stdout ?? ''}${child.stderr ?? ''}`;
const lines = log.split('\n').filter((l) => /graph.capture|enableGraphCapture/i.test(l)).map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim());
result.capture = {
  childExit: child.status,
  optionSeenInSessionConfig: /enableGraphCapture: 1/.test(log),
  enabled: lines.some((l) => /will use the graph capture feature/i.test(l)),
  lines: lines.map((l) => l.slice(0, 400)),
};
const json = JSON.stringify(result);
console.log(json);
if (outAt >= 0) fs.writeFileSync(args[outAt + 1], `${JSON.stringify(result, null, 1)}\n`);
