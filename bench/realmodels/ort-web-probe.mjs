// The other JavaScript route to WebGPU graph capture (issue 15): onnxruntime-web in Node on Dawn's Node binding (the
// `webgpu` npm package, which provides `navigator.gpu`). onnxruntime-web's API has what onnxruntime-node 1.30 lacks
// (Tensor.fromGpuBuffer, queue.writeBuffer into bound inputs, enableGraphCapture), so this checks whether it runs there:
//   --build webgpu   onnxruntime-web/webgpu (the C++ WebGPU provider compiled with asyncify): one run of y = x + 1;
//                    reports whether run() returned and whether a 250 ms interval timer kept firing meanwhile
//                    (the JS event loop alive);
//   --build jsep     onnxruntime-web/all (the JS-implemented provider): the same run, then with --static MODEL one
//                    decode step of a static-KV decode graph (static_decode.py of the genai fixture: GroupQueryAttention
//                    with a past of --max rows bound as its own present, the shared-buffer mode graph capture needs);
//                    prints the error if any.
// Neither package is a dependency of infill-ls: install them into a scratch folder first and name it with --deps:
//   mkdir -p /tmp/ortweb && (cd /tmp/ortweb && npm init -y >/dev/null && npm install webgpu@0.6.2 onnxruntime-web@1.30.0)
//   /usr/bin/python3 bench/realmodels/static_decode.py test/fixtures/models/qwen2-genai-fp32/model.onnx /tmp/ortweb/dec.onnx
//   node bench/realmodels/ort-web-probe.mjs --deps /tmp/ortweb --build webgpu|jsep [--static /tmp/ortweb/dec.onnx] [--timeout-ms 20000]
// Needs a WebGPU adapter (the GPU machine, or Mesa's lavapipe here: bench/realmodels/README.md) and `npm run build`.
// Prints one JSON line.
import '../lib/help.mjs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({ options: { deps: { type: 'string' }, build: { type: 'string', default: 'jsep' }, max: { type: 'string', default: '64' }, 'timeout-ms': { type: 'string', default: '20000' }, static: { type: 'string' } } });
if (!o.deps || !['webgpu', 'jsep'].includes(o.build)) {
  console.error('usage: node bench/realmodels/ort-web-probe.mjs --deps DIR --build webgpu|jsep (see --help)');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const dep = (p) => pathToFileURL(path.join(path.resolve(o.deps), 'node_modules', p)).href;
const { create, globals } = await import(dep('webgpu/index.js'));
Object.assign(globalThis, globals);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
// onnxruntime-web hands writeBuffer views of its shared wasm memory, which dawn.node refuses ("Invalid argument",
// "no overload matched"): copy them into a plain buffer first.
const writeBuffer = GPUQueue.prototype.writeBuffer;
GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset = 0, size) {
  const view = ArrayBuffer.isView(data); const el = view ? (data.BYTES_PER_ELEMENT ?? 1) : 1;
  const start = (view ? data.byteOffset : 0) + dataOffset * el;
  const length = size !== undefined ? size * el : data.byteLength - dataOffset * el;
  const copy = new Uint8Array(length); copy.set(new Uint8Array(view ? data.buffer : data, start, length));
  return writeBuffer.call(this, buffer, offset, copy);
};
const ort = await import(dep(`onnxruntime-web/dist/${o.build === 'webgpu' ? 'ort.webgpu.bundle.min.mjs' : 'ort.all.bundle.min.mjs'}`));
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';
const { buildModel, DT, floatTensor } = await import(path.resolve(here, '../../server/dist/runtime/onnx-proto.js'));
const result = { build: o.build };
const firstLine = (e) => String(e.message ?? e).split('\n')[0].slice(0, 300);
const timeout = (ms) => new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));

const add = buildModel({
  nodes: [{ op: 'Add', inputs: ['x', 'one'], outputs: ['y'] }],
  inputs: [{ name: 'x', elemType: DT.float, dims: ['n'] }],
  outputs: [{ name: 'y', elemType: DT.float, dims: ['n'] }],
  initializers: [floatTensor('one', [1], [1])],
});
let ticks = 0;
const timer = setInterval(() => { ticks++; }, 250);
try {
  const s = await ort.InferenceSession.create(add, { executionProviders: ['webgpu'] });
  const t0 = performance.now();
  const r = await Promise.race([s.run({ x: new ort.Tensor('float32', Float32Array.of(41), [1]) }), timeout(Number(o['timeout-ms']))]);
  result.add = r === 'timeout' ? { returned: false, waitedMs: Math.round(performance.now() - t0), timerTicks: ticks } : { returned: true, y: r.y.data[0], timerTicks: ticks };
} catch (e) {
  result.add = { error: firstLine(e) };
}
clearInterval(timer);

// A GPU buffer of `bytes` (rounded up to 16) and the tensor over it.
const gpuTensor = (device, dataType, dims, bytes) => {
  const b = device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  return { b, t: ort.Tensor.fromGpuBuffer(b, { dataType, dims }) };
};
// The static KV cache: per layer a past K/V of `max` rows in a GPU buffer, bound as its own present as well.
const bindStaticKv = (s, device, max, feeds, fetches) => {
  const pastKeys = s.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n));
  const meta = s.inputMetadata?.find?.((m) => m.name === pastKeys[0]);
  const [kvHeads, headDim] = meta?.shape ? [meta.shape[1], meta.shape[3]] : [2, 16];  // the fixture's
  for (let i = 0; i < pastKeys.length; i++) for (const kv of ['key', 'value']) {
    const t = gpuTensor(device, 'float32', [1, kvHeads, max, headDim], kvHeads * max * headDim * 4).t;
    feeds[`past_key_values.${i}.${kv}`] = t; fetches[`present.${i}.${kv}`] = t;
  }
};

if (o.static && result.add.returned) {
  const MAX = Number(o.max);
  const bytes = (await import('node:fs')).readFileSync(o.static);
  try {
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
    const device = await ort.env.webgpu.device;
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.of(1n), [1, 1]), position_ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1, 1]),
      seqlens_k: new ort.Tensor('int32', Int32Array.of(0), [1]), total_sequence_length: new ort.Tensor('int32', Int32Array.of(1), [1]),
    };
    const fetches = { logits: null };
    bindStaticKv(s, device, MAX, feeds, fetches);
    ticks = 0;
    const timer2 = setInterval(() => { ticks++; }, 250);
    const r = await Promise.race([s.run(feeds, fetches), timeout(Number(o['timeout-ms']))]);
    clearInterval(timer2);
    result.staticKv = r === 'timeout' ? { returned: false, timerTicks: ticks } : { returned: true, presentDims: r['present.0.key'].dims, sharedBuffer: r['present.0.key'] === feeds['past_key_values.0.key'] };
  } catch (e) {
    result.staticKv = { error: firstLine(e) };
  }
  // the same step with graph capture: every input and output a fixed GPU buffer, rewritten with writeBuffer between
  // runs (run 1 allocates, run 2 captures, run 3 replays); a timer runs meanwhile, as above
  const steps = [];
  try {
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer', enableGraphCapture: true });
    const device = await ort.env.webgpu.device;
    const small = {
      input_ids: gpuTensor(device, 'int64', [1, 1], 8), position_ids: gpuTensor(device, 'int64', [1, 1], 8),
      seqlens_k: gpuTensor(device, 'int32', [1], 4), total_sequence_length: gpuTensor(device, 'int32', [1], 4),
    };
    const feeds = Object.fromEntries(Object.entries(small).map(([k, v]) => [k, v.t]));
    const vocab = 327;  // the genai fixture's
    const fetches = { logits: gpuTensor(device, 'float32', [1, 1, vocab], vocab * 4).t };
    bindStaticKv(s, device, MAX, feeds, fetches);
    const timer3 = setInterval(() => {}, 250);
    for (let p = 0; p < 3; p++) {
      device.queue.writeBuffer(small.input_ids.b, 0, BigInt64Array.of(1n));
      device.queue.writeBuffer(small.position_ids.b, 0, BigInt64Array.of(BigInt(p)));
      device.queue.writeBuffer(small.seqlens_k.b, 0, Int32Array.of(p));
      device.queue.writeBuffer(small.total_sequence_length.b, 0, Int32Array.of(p + 1));
      const r = await Promise.race([s.run(feeds, fetches).then(() => 'ok', firstLine), timeout(Number(o['timeout-ms']))]);
      steps.push(r);
      if (r !== 'ok') break;
    }
    clearInterval(timer3);
  } catch (e) {
    steps.push(firstLine(e));
  }
  result.capture = { steps };
}
console.log(JSON.stringify(result));
process.exit(0);
