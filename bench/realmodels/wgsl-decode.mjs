// A decode step written directly in WebGPU (WGSL), outside onnxruntime (issue 15): how fast can a WebGPU decode of a
// Qwen2.5-Coder-shaped int4 model be when the whole step is one command buffer of our own kernels, with a static KV
// cache (the step writes one row), every bind group made once, and the next token chosen on the GPU (argmax writes it
// where the next step's embedding reads it, so steps can be queued without waiting for the host)? onnxruntime's WebGPU
// provider needs ~250 separately prepared dispatches per step and cannot replay a captured step from Node
// (bench/results/real-models-summary.md); this measures the same work without those limits.
//   node bench/realmodels/wgsl-decode.mjs --deps DIR --shape tiny|small|qwen05b|qwen15b [--past 2048] [--steps 64]
//        [--max-context 4096] [--model DIR] [--check]
//   --max-context N  rows of the static KV cache (a multiple of 32, at most 8,192); --past + --steps + 16 must fit in
//                it, and with --model it may not exceed the model's rotary tables (the genai fixture
//                test/fixtures/models/qwen2-genai holds 256: pass --max-context 256)
//   --model DIR  real weights from a genai-layout int4 model directory as native/py/qwen_models.py writes it (blocks of
//                32, fp32 scales; its shape from genai_config.json) instead of random ones of --shape
//   --check      random weights: compares every step's logits with a float64 reference of the same weights in JS from
//                an empty cache (use the tiny or small shape: the reference is slow); --model: runs golden.json's
//                prompts (one step a token) and compares the greedy tokens, or without golden.json compares every
//                step's logits and greedy token with onnxruntime-node's CPU provider on the same file (8 prompt
//                tokens, up to 16 greedy steps); prints that instead of timings
// Weights are random (speed only), 4-bit symmetric blocks of 32 with an fp16 scale (4.5 bits a weight; llama.cpp's
// Q4_K_M is ~4.8), fp32 activations and KV cache, Qwen2's attention (grouped K/V heads, q/k/v biases, rotary
// embedding with rotate-half, theta 1e6), SwiGLU MLP, RMSNorm, the embedding tied to the LM head (also 4-bit).
// Timings per token, each over --steps steps after 8 warm-up steps, the past starting at --past rows:
//   queued   steps submitted back to back, one command buffer each, host never waits (the GPU's own pace, or the
//            host's encoding pace if that is slower);
//   readback each step's token copied back and awaited before the next step is encoded (what an engine that checks
//            every token for a stop does);
//   prepared as readback, with step t + 1 encoded while step t's token is awaited (submitted once it is read);
//   lagged   step t + 1 queued before step t's token is awaited (an engine one step ahead that drops the extra step
//            after a stop);
//   encodeMs the host's time to encode and submit one step.
// The `webgpu` npm package (Dawn's Node binding) is not a dependency of infill-ls: install it into a scratch folder
//   mkdir -p /tmp/wg && (cd /tmp/wg && npm init -y >/dev/null && npm install webgpu@0.6.2)
// and name that folder with --deps. Needs a WebGPU adapter (the GPU machine, or Mesa's lavapipe here:
// bench/realmodels/README.md). Prints one JSON line.
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const SHAPES = {
  // Qwen2.5-Coder-0.5B / -1.5B's published config values; tiny and small (head size 128, 9 blocks a row): for --check.
  tiny: { hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, inter: 128, vocab: 512 },
  small: { hidden: 256, layers: 2, heads: 2, kvHeads: 1, headDim: 128, inter: 2304, vocab: 1024 },
  qwen05b: { hidden: 896, layers: 24, heads: 14, kvHeads: 2, headDim: 64, inter: 4864, vocab: 151936 },
  qwen15b: { hidden: 1536, layers: 28, heads: 12, kvHeads: 2, headDim: 128, inter: 8960, vocab: 151936 },
};
const THETA = 1e6;
const EPS = 1e-6;
const CH = 32; // keys per attention split (at most 256 splits: ATTN_COMBINE takes one per thread)

const { values: o } = parseArgs({
  options: {
    deps: { type: 'string' },
    shape: { type: 'string', default: 'tiny' },
    model: { type: 'string' },
    past: { type: 'string' },
    steps: { type: 'string', default: '64' },
    'max-context': { type: 'string', default: '4096' },
    check: { type: 'boolean', default: false },
    'fuse-norm': { type: 'string', default: '1' },
    subgroups: { type: 'string', default: '1' },
    tpr: { type: 'string', default: 'auto' },
    variant: { type: 'string', default: 'full' },
    profile: { type: 'boolean', default: false },
  },
});
const modelDir = o.model ? path.resolve(o.model) : undefined;
const genai = modelDir ? JSON.parse(fs.readFileSync(path.join(modelDir, 'genai_config.json'), 'utf8')).model : undefined;
const shape = genai
  ? { hidden: genai.decoder.hidden_size, layers: genai.decoder.num_hidden_layers, heads: genai.decoder.num_attention_heads, kvHeads: genai.decoder.num_key_value_heads, headDim: genai.decoder.head_size, inter: 0, vocab: genai.vocab_size }
  : SHAPES[o.shape];
if (!o.deps || !shape) {
  console.error('usage: node bench/realmodels/wgsl-decode.mjs --deps DIR --shape tiny|small|qwen05b|qwen15b [--past N] [--steps N] [--max-context N] [--model DIR] [--check] (see --help)');
  process.exit(2);
}
const steps = Number(o.steps);
const maxCtx = Number(o['max-context']);
const past = Number(o.past ?? (o.check ? 0 : 2048));
if (maxCtx % CH || maxCtx / CH > 256) {
  console.error(`wgsl-decode: --max-context must be a multiple of ${CH} and at most ${256 * CH}`);
  process.exit(2);
}
if (past + steps + 16 > maxCtx) {
  console.error(`wgsl-decode: --past ${past} + --steps ${steps} + 16 warm-up/check steps exceed --max-context ${maxCtx}`);
  process.exit(2);
}
const { hidden: H, layers: NL, heads: NH, kvHeads: NKV, headDim: HD, vocab: V } = shape;
const QKV = (NH + 2 * NKV) * HD;

if (process.env.WGSL_DECODE_ORT_REF) {
  // The reference of --check --model without golden.json: onnxruntime-node's CPU provider on the same file, a prompt
  // of 8 tokens then greedy steps; writes (token, logits) per step as float32 rows to the named file.
  const ort = (await import('onnxruntime-node')).default;
  const sess = await ort.InferenceSession.create(path.join(modelDir, 'model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 2 });
  const prompt = [9707, 11, 1879, 0, 220, 16, 17, 18].map((t) => t % V), n = Math.min(steps, 16);
  const t64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, NKV, 0, HD]);
  let past = Object.fromEntries(Array.from({ length: NL }, (_, l) => [[`past_key_values.${l}.key`, empty()], [`past_key_values.${l}.value`, empty()]]).flat());
  const rows = [];
  let tok = prompt[0];
  for (let i = 0; i < prompt.length + n - 1; i++) {
    const out = await sess.run({ input_ids: t64([tok]), attention_mask: t64(Array(i + 1).fill(1)), position_ids: t64([i]), ...past });
    past = Object.fromEntries(Array.from({ length: NL }, (_, l) => [[`past_key_values.${l}.key`, out[`present.${l}.key`]], [`past_key_values.${l}.value`, out[`present.${l}.value`]]]).flat());
    const row = new Float32Array(V + 1); row[0] = tok; row.set(out.logits.data, 1); rows.push(row);
    let top = 0; for (let v = 1; v < V; v++) if (row[v + 1] > row[top + 1]) top = v;
    tok = i + 1 < prompt.length ? prompt[i + 1] : top;
  }
  fs.writeFileSync(process.env.WGSL_DECODE_ORT_REF, Buffer.concat(rows.map((r) => Buffer.from(r.buffer))));
  process.exit(0);
}
const { create, globals } = await import(pathToFileURL(path.join(path.resolve(o.deps), 'node_modules', 'webgpu', 'index.js')).href);
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('wgsl-decode: no WebGPU adapter');
const lim = adapter.limits;
const device = await adapter.requestDevice({
  // subgroups only where every subgroup fits a row group of 32 threads (subgroupMaxSize when the adapter reports it)
  requiredFeatures: [...(o.profile ? ['timestamp-query'] : []), ...(adapter.features.has('subgroups') && (adapter.info?.subgroupMaxSize ?? 32) <= 32 ? ['subgroups'] : [])],
  requiredLimits: {
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    maxBufferSize: lim.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
    maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
  },
});
let gpuError = null;
device.addEventListener?.('uncapturederror', (e) => { gpuError ??= String(e.error?.message ?? e.error); });

// --- random weights (xorshift32; speed only) -------------------------------------------------------------------------
let seed = 0x9e3779b9;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
const unif = () => rnd() / 4294967296; // [0, 1)
const f32box = new Float32Array(1), u32box = new Uint32Array(f32box.buffer);
function f16bits(x) {
  f32box[0] = x; const u = u32box[0];
  const sign = (u >>> 16) & 0x8000; let e = ((u >>> 23) & 0xff) - 127 + 15; const m = u & 0x7fffff;
  if (e <= 0) return sign; if (e >= 31) return sign | 0x7c00;
  let h = sign | (e << 10) | (m >>> 13); if (m & 0x1000) h++; // round half up (ties rare with random values)
  return h;
}
function f16value(h) {
  const e = (h >>> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}
/** A 4-bit matrix [rows][cols]: packed words (8 nibbles, low first, code-8), fp16 scales per 32 columns (2 per word). */
function q4matrix(rows, cols) {
  const words = new Uint32Array((rows * cols) / 8);
  for (let i = 0; i < words.length; i++) words[i] = rnd();
  const nScales = (rows * cols) / 32;
  const scales = new Uint32Array(Math.ceil(nScales / 2));
  const base = 1 / (4.6 * Math.sqrt(cols));
  for (let i = 0; i < nScales; i++) scales[i >> 1] |= f16bits(base * (0.5 + unif())) << (16 * (i & 1));
  return { rows, cols, words, scales };
}
const vec = (n, center, spread) => Float32Array.from({ length: n }, () => center + spread * (2 * unif() - 1));

/** Rotary tables [positions][HD / 2] for theta (rotate-half layout, as onnxruntime's RotaryEmbedding caches). */
function ropeTables(positions, theta) {
  const half = HD / 2, cos = new Float32Array(positions * half), sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) for (let j = 0; j < half; j++) { const a = p * theta ** (-2 * j / HD); cos[p * half + j] = Math.cos(a); sin[p * half + j] = Math.sin(a); }
  return { cos, sin };
}

/**
 * A genai-layout int4 model directory as our exporter writes it (native/py/qwen_models.py, layout genai-int4: HF
 * initializer names, MatMulNBits bits 4 with blocks of 32 and fp32 scales, no zero points, separate q/k/v and gate/up
 * products, fp32 embedding table, lm_head as MatMulNBits, rotary cos/sin caches): its weights in this probe's layout
 * (q/k/v and gate/up rows stacked). onnxruntime-genai's own builder names its initializers otherwise (not read here).
 */
async function loadGenai(dir) {
  // the ONNX reader of server/ (npm run build)
  const { fields, int64s, str } = await import(pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../server/dist/runtime/proto-wire.js')).href);
  const file = path.join(dir, 'model.onnx');
  const buf = fs.readFileSync(file);
  const graph = fields(buf, 0, buf.length).find((f) => f.no === 7);
  const inits = new Map();
  for (const f of fields(buf, graph.start, graph.end)) {
    if (f.no !== 5) continue;
    const tf = fields(buf, f.start, f.end);
    const name = str(buf, tf.find((x) => x.no === 8));
    const dims = int64s(buf, tf, 1);
    const raw = tf.find((x) => x.no === 9);
    let bytes;
    if (raw) bytes = buf.subarray(raw.start, raw.end);
    else {
      const ext = Object.fromEntries(tf.filter((x) => x.no === 13).map((x) => { const kv = fields(buf, x.start, x.end); return [str(buf, kv.find((k) => k.no === 1)), str(buf, kv.find((k) => k.no === 2))]; }));
      if (!ext.location) continue; // float_data etc.: not used by the tensors read here
      const fd = fs.openSync(path.join(dir, ext.location), 'r');
      bytes = Buffer.alloc(Number(ext.length)); fs.readSync(fd, bytes, 0, bytes.length, Number(ext.offset ?? 0)); fs.closeSync(fd);
    }
    inits.set(name, { dims, bytes });
  }
  const t = (name) => { const x = inits.get(name); if (!x) throw new Error(`wgsl-decode: ${file} has no initializer ${name}`); return x; };
  const aligned = (b) => { const c = new Uint8Array(Math.ceil(b.length / 4) * 4); c.set(b); return c.buffer; };
  const f32 = (name) => new Float32Array(aligned(t(name).bytes));
  const cat = (arrays) => { const n = arrays.reduce((a, x) => a + x.length, 0), out = new Uint8Array(n); let o = 0; for (const x of arrays) { out.set(x, o); o += x.length; } return out; };
  const q4 = (...names) => {
    const ws = names.map((n) => t(`${n}.weight.q4`)), ss = names.map((n) => t(`${n}.weight.q4_scale`));
    for (const w of ws) if (w.dims[2] !== 16) throw new Error(`wgsl-decode: ${names[0]}: blocks of ${w.dims[2] * 2}, this probe reads blocks of 32`);
    return { rows: ws.reduce((a, w) => a + w.dims[0], 0), cols: ws[0].dims[1] * 32, words: new Uint32Array(aligned(cat(ws.map((w) => w.bytes)))), scales: new Uint32Array(aligned(cat(ss.map((x) => x.bytes)))), sf32: true };
  };
  const cos = f32('cos_cache'), sin = f32('sin_cache');
  const L = (i) => `model.layers.${i}`;
  const layers = Array.from({ length: NL }, (_, i) => ({
    ln1: f32(`${L(i)}.input_layernorm.weight`),
    qkv: q4(`${L(i)}.self_attn.q_proj`, `${L(i)}.self_attn.k_proj`, `${L(i)}.self_attn.v_proj`),
    qkvBias: new Float32Array(aligned(cat(['q', 'k', 'v'].map((x) => t(`${L(i)}.self_attn.${x}_proj.bias`).bytes)))),
    o: q4(`${L(i)}.self_attn.o_proj`),
    ln2: f32(`${L(i)}.post_attention_layernorm.weight`),
    gateUp: q4(`${L(i)}.mlp.gate_proj`, `${L(i)}.mlp.up_proj`),
    down: q4(`${L(i)}.mlp.down_proj`),
  }));
  return { embedF32: f32('model.embed_tokens.weight'), lmHead: q4('lm_head'), norm: f32('model.norm.weight'), layers, cos, sin, positions: t('cos_cache').dims[0], inter: layers[0].down.cols };
}

const model = modelDir ? await loadGenai(modelDir) : (() => {
  const embed = q4matrix(V, H);
  return {
    embed, lmHead: embed, norm: vec(H, 1, 0.1),
    layers: Array.from({ length: NL }, () => ({
      ln1: vec(H, 1, 0.1),
      qkv: q4matrix(QKV, H),
      qkvBias: vec(QKV, 0, 0.1),
      o: q4matrix(H, NH * HD),
      ln2: vec(H, 1, 0.1),
      gateUp: q4matrix(2 * shape.inter, H), // rows 0..I-1 gate, I..2I-1 up
      down: q4matrix(H, shape.inter),
    })),
    ...ropeTables(maxCtx, THETA), positions: maxCtx, inter: shape.inter,
  };
})();
const I = model.inter;
if (model.positions < maxCtx) { console.error(`wgsl-decode: the model's rotary tables hold ${model.positions} positions, --max-context is ${maxCtx}`); process.exit(2); }

// --- GPU buffers -----------------------------------------------------------------------------------------------------
const S = GPUBufferUsage;
const buf = (size, usage = S.STORAGE | S.COPY_DST | S.COPY_SRC) => device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage });
const upload = (data, usage) => { const b = buf(data.byteLength, usage); device.queue.writeBuffer(b, 0, data); return b; };
const q4 = (m) => ({ w: upload(m.words), s: upload(m.scales), sf32: !!m.sf32 });
/** An fp32 embedding table in up to 6 buffers of whole rows, each within the adapter's binding size. */
function embedChunks(table) {
  const rows = Math.min(V, Math.floor(device.limits.maxStorageBufferBindingSize / (H * 4)));
  const chunks = [];
  for (let r = 0; r < V; r += rows) chunks.push(upload(table.subarray(r * H, Math.min(V, r + rows) * H)));
  if (chunks.length > 6) throw new Error(`wgsl-decode: the embedding table needs ${chunks.length} bindings of ${rows} rows, this probe binds 6`);
  return { w: chunks[0], more: chunks.slice(1), rows, f32: true };
}
const g = {
  embed: model.embedF32 ? embedChunks(model.embedF32) : q4(model.embed),
  lmHead: model.lmHead === model.embed ? undefined : q4(model.lmHead),
  cos: upload(model.cos), sin: upload(model.sin),
  norm: upload(model.norm),
  layers: model.layers.map((l) => ({
    ln1: upload(l.ln1), qkv: q4(l.qkv), qkvBias: upload(l.qkvBias), o: q4(l.o), ln2: upload(l.ln2), gateUp: q4(l.gateUp), down: q4(l.down),
    k: buf(NKV * maxCtx * HD * 4), v: buf(NKV * maxCtx * HD * 4),
  })),
  x: buf(H * 4), xn: buf(H * 4), qkvOut: buf(QKV * 4), attn: buf(NH * HD * 4), mlp: buf(2 * I * 4), logits: buf(V * 4),
  part: buf(NH * (maxCtx / CH) * (HD + 2) * 4),
  pm: buf(Math.ceil(V / 4096) * 4), pi: buf(Math.ceil(V / 4096) * 4),
  tok: buf(4), hist: buf(4 * (maxCtx + 64)),
  params: buf(16, S.STORAGE | S.UNIFORM | S.COPY_DST | S.COPY_SRC), // pos (the row this step writes), step
  dummy: buf(16),
};

// --- kernels ---------------------------------------------------------------------------------------------------------
// y = W x for a 4-bit W [N][K]: each thread takes four rows of one or more 32-column blocks (so each x load serves four
// rows), TPR threads share a row group (a power of two >= the blocks per row, 32..256, so that most threads take one
// block: the step's matrices are small and latency-bound), 4 * 256 / TPR rows per workgroup.
// MODE bits: 1 + bias; 2 += into Y (the residual); 4 the input is silu(gate) * up of a 2K-long X; 8 the input is
// RMSNorm(X) * NW, the norm computed by every workgroup (no separate norm dispatch).
// With subgroups (the adapter's 'subgroups' feature, subgroups of at most 32 that tile a row group) the sums are
// subgroupAdd and one barrier instead of a tree of log2(TPR) barriers.
const MATVEC = (sg) => /* wgsl */ `${sg ? 'enable subgroups;' : ''}
override K: u32;
override N: u32;
override TPR: u32;
override MODE: u32 = 0u;
override SF32: bool = false; // scales as fp32 (one a word) instead of fp16 pairs
@group(0) @binding(0) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> Sc: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> B: array<f32>;
@group(0) @binding(5) var<storage, read> NW: array<vec4<f32>>;
fn scaleAt(si: u32) -> f32 {
  if (SF32) { return bitcast<f32>(Sc[si]); }
  return unpack2x16float(Sc[si >> 1u])[si & 1u];
}
var<workgroup> red: array<vec4<f32>, 256>;
var<workgroup> normScale: f32;
fn xin(i: u32) -> vec4<f32> {
  if ((MODE & 4u) != 0u) { let gt = X[i]; return gt / (1.0 + exp(-gt)) * X[i + K / 4u]; }
  if ((MODE & 8u) != 0u) { return X[i] * normScale * NW[i]; }
  return X[i];
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>${sg ? ', @builtin(subgroup_size) sgs: u32, @builtin(subgroup_invocation_id) sid: u32' : ''}) {
  if ((MODE & 8u) != 0u) {
    var ss = 0.0;
    for (var i = li; i < K / 4u; i += 256u) { let v = X[i]; ss += dot(v, v); }
${sg ? `    ss = subgroupAdd(ss);
    if (sid == 0u) { red[li / sgs] = vec4<f32>(ss, 0.0, 0.0, 0.0); }
    workgroupBarrier();
    if (li == 0u) {
      var tot = 0.0;
      for (var i = 0u; i < 256u / sgs; i++) { tot += red[i].x; }
      normScale = inverseSqrt(tot / f32(K) + ${EPS});
    }` : `    red[li] = vec4<f32>(ss, 0.0, 0.0, 0.0);
    workgroupBarrier();
    for (var off = 128u; off > 0u; off >>= 1u) {
      if (li < off) { red[li] += red[li + off]; }
      workgroupBarrier();
    }
    if (li == 0u) { normScale = inverseSqrt(red[0].x / f32(K) + ${EPS}); }`}
    workgroupBarrier();
  }
  let row0 = (wg.x * (256u / TPR) + li / TPR) * 4u;
  let t = li % TPR;
  let nb = K / 32u;
  var acc = vec4<f32>(0.0);
  if (row0 < N) {
    for (var b = t; b < nb; b += TPR) {
      // every load of the block first (four rows' weights and scales, then x), the arithmetic after
      var wr: array<vec4<u32>, 4>;
      var sr: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) {
        let si = min(row0 + r, N - 1u) * nb + b; // rows past N (N not a multiple of 4) read the last row, unused
        wr[r] = W[si];
        sr[r] = scaleAt(si);
      }
      var xv: array<vec4<f32>, 8>;
      for (var j = 0u; j < 8u; j++) { xv[j] = xin(b * 8u + j); }
      for (var r = 0u; r < 4u; r++) {
        let w = wr[r];
        var s = 0.0;
        for (var j = 0u; j < 4u; j++) {
          let word = w[j];
          let lo = vec4<f32>((vec4<u32>(word) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - 8.0;
          let hi = vec4<f32>((vec4<u32>(word) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - 8.0;
          s += dot(lo, xv[2u * j]) + dot(hi, xv[2u * j + 1u]);
        }
        acc[r] += s * sr[r];
      }
    }
  }
${sg ? `  let part = subgroupAdd(acc);
  if (sid == 0u) { red[li / sgs] = part; }
  workgroupBarrier();
  var sum = vec4<f32>(0.0);
  if (t == 0u) { for (var i = 0u; i < TPR / sgs; i++) { sum += red[li / sgs + i]; } }` : `  red[li] = acc;
  workgroupBarrier();
  for (var off = TPR / 2u; off > 0u; off >>= 1u) {
    if (t < off) { red[li] += red[li + off]; }
    workgroupBarrier();
  }
  let sum = red[li];`}
  if (t == 0u && row0 < N) {
    for (var r = 0u; r < min(4u, N - row0); r++) {
      var v = sum[r];
      if ((MODE & 1u) != 0u) { v += B[row0 + r]; }
      if ((MODE & 2u) != 0u) { v += Y[row0 + r]; }
      Y[row0 + r] = v;
    }
  }
}`;

const NOOP = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  if (li == 0u && wg.x == 0u && wg.y == 0u) { Y[0] = Y[0] + 1.0; }
}`;

const RMSNORM = /* wgsl */ `
override H: u32;
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < H; i += 256u) { let v = X[i]; s += v * v; }
  red[li] = s;
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) { red[li] += red[li + off]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(H) + ${EPS});
  for (var i = li; i < H; i += 256u) { Y[i] = X[i] * inv * Wt[i]; }
}`;

const EMBED = /* wgsl */ `
override H: u32;
override EF32: bool = false; // an fp32 table [V][H] (W, E1..E5 hold its bits, ROWS rows each) instead of 4-bit blocks
override ROWS: u32 = 1u;     // rows per fp32 chunk (a binding holds at most maxStorageBufferBindingSize bytes)
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> Sc: array<u32>;
@group(0) @binding(2) var<storage, read> T: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> E1: array<u32>;
@group(0) @binding(5) var<storage, read> E2: array<u32>;
@group(0) @binding(6) var<storage, read> E3: array<u32>;
@group(0) @binding(7) var<storage, read> E4: array<u32>;
@group(0) @binding(8) var<storage, read> E5: array<u32>;
fn chunkAt(c: u32, e: u32) -> f32 {
  if (c == 0u) { return bitcast<f32>(W[e]); }
  if (c == 1u) { return bitcast<f32>(E1[e]); }
  if (c == 2u) { return bitcast<f32>(E2[e]); }
  if (c == 3u) { return bitcast<f32>(E3[e]); }
  if (c == 4u) { return bitcast<f32>(E4[e]); }
  return bitcast<f32>(E5[e]);
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let tok = T[0];
  for (var i = li; i < H; i += 256u) {
    let e = tok * H + i;
    if (EF32) { Y[i] = chunkAt(tok / ROWS, (tok % ROWS) * H + i); continue; }
    let code = f32((W[e / 8u] >> (4u * (e % 8u))) & 15u) - 8.0;
    let si = e / 32u;
    Y[i] = code * unpack2x16float(Sc[si >> 1u])[si & 1u];
  }
}`;

const ROPE_KV = /* wgsl */ `
override NH: u32;
override NKV: u32;
override HD: u32;
override MAXC: u32;
@group(0) @binding(0) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(1) var<storage, read_write> KC: array<f32>;
@group(0) @binding(2) var<storage, read_write> VC: array<f32>;
@group(0) @binding(3) var<uniform> P: vec4<u32>;
@group(0) @binding(4) var<storage, read> COS: array<f32>;
@group(0) @binding(5) var<storage, read> SIN: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let pos = P.x;
  let half = HD / 2u;
  for (var i = li; i < (NH + NKV) * half; i += 256u) {
    let h = i / half;
    let j = i % half;
    let c = COS[pos * half + j];
    let s = SIN[pos * half + j];
    let a = QKV[h * HD + j];
    let b = QKV[h * HD + j + half];
    if (h < NH) {
      QKV[h * HD + j] = a * c - b * s;
      QKV[h * HD + j + half] = b * c + a * s;
    } else {
      let at = ((h - NH) * MAXC + pos) * HD;
      KC[at + j] = a * c - b * s;
      KC[at + j + half] = b * c + a * s;
    }
  }
  for (var i = li; i < NKV * HD; i += 256u) {
    VC[((i / HD) * MAXC + pos) * HD + i % HD] = QKV[(NH + NKV) * HD + i];
  }
}`;

// Attention over the cache in splits of CH keys (flash-decoding): one workgroup per (head, split) writes the split's
// max score, sum of exp and exp-weighted V; ATTN_COMBINE merges a head's splits. Keys are scored 8 threads to a key
// (coalesced reads of the K row) and V rows are read by 256 / HD groups of HD threads.
const ATTN_PART = /* wgsl */ `
override NH: u32;
override NKV: u32;
override HD: u32;
override MAXC: u32;
const CH = ${CH}u;
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> KC: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> VC: array<f32>;
@group(0) @binding(3) var<uniform> P: vec4<u32>;
@group(0) @binding(4) var<storage, read_write> PART: array<f32>;
var<workgroup> qs: array<vec4<f32>, 32>;
var<workgroup> red: array<f32, 256>;
var<workgroup> sc: array<f32, CH>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let start = wg.y * CH;
  let L = P.x + 1u;
  let kh = h / (NH / NKV);
  let at = (h * (MAXC / CH) + wg.y) * (HD + 2u);
  if (start >= L) {
    if (li < HD) { PART[at + 2u + li] = 0.0; }
    if (li == 0u) { PART[at] = -1e30; PART[at + 1u] = 0.0; }
    return;
  }
  let hv = HD / 4u;
  if (li < hv) { qs[li] = Q[h * hv + li] * inverseSqrt(f32(HD)); }
  workgroupBarrier();
  let key = start + li / 8u;
  var d = 0.0;
  if (key < L) {
    let row = (kh * MAXC + key) * hv;
    for (var i = li % 8u; i < hv; i += 8u) { d += dot(qs[i], KC[row + i]); }
  }
  red[li] = d;
  workgroupBarrier();
  if (li < CH) {
    var s = 0.0;
    for (var j = 0u; j < 8u; j++) { s += red[li * 8u + j]; }
    sc[li] = select(-1e30, s, start + li < L);
  }
  workgroupBarrier();
  var m = -1e30;
  for (var j = 0u; j < CH; j++) { m = max(m, sc[j]); }
  workgroupBarrier();
  if (li < CH) { sc[li] = select(0.0, exp(sc[li] - m), start + li < L); }
  workgroupBarrier();
  let n = min(CH, L - start);
  let groups = 256u / HD;
  var acc = 0.0;
  for (var j = li / HD; j < n; j += groups) { acc += sc[j] * VC[(kh * MAXC + start + j) * HD + li % HD]; }
  red[li] = acc;
  workgroupBarrier();
  if (li < HD) {
    var o = 0.0;
    for (var gi = 0u; gi < groups; gi++) { o += red[gi * HD + li]; }
    PART[at + 2u + li] = o;
  }
  if (li == 0u) {
    var l = 0.0;
    for (var j = 0u; j < n; j++) { l += sc[j]; }
    PART[at] = m;
    PART[at + 1u] = l;
  }
}`;

const ATTN_COMBINE = /* wgsl */ `
override HD: u32;
override MAXC: u32;
const CH = ${CH}u;
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<uniform> P: vec4<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
var<workgroup> red: array<f32, 256>;
var<workgroup> f: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let n = (P.x + 1u + CH - 1u) / CH;
  let base = h * (MAXC / CH);
  let ms = select(-1e30, PART[(base + li) * (HD + 2u)], li < n);
  red[li] = ms;
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) { red[li] = max(red[li], red[li + off]); }
    workgroupBarrier();
  }
  let M = red[0];
  workgroupBarrier();
  let fi = select(0.0, exp(ms - M), li < n);
  f[li] = fi;
  red[li] = select(0.0, fi * PART[(base + li) * (HD + 2u) + 1u], li < n);
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) { red[li] += red[li + off]; }
    workgroupBarrier();
  }
  let den = red[0];
  workgroupBarrier();
  let groups = 256u / HD;
  var acc = 0.0;
  for (var s = li / HD; s < n; s += groups) { acc += f[s] * PART[(base + s) * (HD + 2u) + 2u + li % HD]; }
  red[li] = acc;
  workgroupBarrier();
  if (li < HD) {
    var o = 0.0;
    for (var gi = 0u; gi < groups; gi++) { o += red[gi * HD + li]; }
    O[h * HD + li] = o / den;
  }
}`;

const ARGMAX1 = /* wgsl */ `
override N: u32;
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> PM: array<f32>;
@group(0) @binding(2) var<storage, read_write> PI: array<u32>;
var<workgroup> rm: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  var m = -3.4e38;
  var mi = 0xffffffffu;
  let end = min(N, (wg.x + 1u) * 4096u);
  for (var i = wg.x * 4096u + li; i < end; i += 256u) { let v = X[i]; if (v > m) { m = v; mi = i; } }
  rm[li] = m;
  ri[li] = mi;
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) {
      let v = rm[li + off];
      let k = ri[li + off];
      if (v > rm[li] || (v == rm[li] && k < ri[li])) { rm[li] = v; ri[li] = k; }
    }
    workgroupBarrier();
  }
  if (li == 0u) { PM[wg.x] = rm[0]; PI[wg.x] = ri[0]; }
}`;

const ARGMAX2 = /* wgsl */ `
override NW: u32;
@group(0) @binding(0) var<storage, read> PM: array<f32>;
@group(0) @binding(1) var<storage, read> PI: array<u32>;
@group(0) @binding(2) var<storage, read_write> T: array<u32>;
@group(0) @binding(3) var<storage, read_write> HIST: array<u32>;
@group(0) @binding(4) var<storage, read_write> P: array<u32>;
@compute @workgroup_size(1)
fn main() {
  var m = PM[0];
  var mi = PI[0];
  for (var w = 1u; w < NW; w++) { if (PM[w] > m) { m = PM[w]; mi = PI[w]; } }
  T[0] = mi;
  HIST[P[1]] = mi;
  P[0] = P[0] + 1u;
  P[1] = P[1] + 1u;
}`;

const modules = new Map();
const pipelines = new Map();
function pipeline(code, constants) {
  let mod = modules.get(code);
  if (!mod) { mod = device.createShaderModule({ code }); modules.set(code, mod); }
  const key = `${[...modules.keys()].indexOf(code)}:${JSON.stringify(constants)}`;
  if (!pipelines.has(key)) pipelines.set(key, device.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main', constants } }));
  return pipelines.get(key);
}
const bind = (pipe, buffers) => device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: buffers.map((b, i) => ({ binding: i, resource: { buffer: b } })) });

// One step = a list of [pipeline, bindGroup, workgroupsX, workgroupsY, matvec or other, kernel kind].
device.pushErrorScope('validation');
const plan = [];
const fuseNorm = o['fuse-norm'] !== '0';
const useSubgroups = o.subgroups !== '0' && device.features.has('subgroups');
const tprFor = (k) => (o.tpr === 'auto' ? Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(k / 32)))) : Number(o.tpr));
// normW: fuse RMSNorm(x) * normW into the product's input (MODE 8) instead of a norm dispatch into g.xn.
const mv = (label, m, x, y, n, k, mode, bias, normW) => {
  if (normW && !fuseNorm) { norm(x, normW, g.xn); x = g.xn; normW = undefined; }
  const tpr = tprFor(k);
  const p = pipeline(MATVEC(useSubgroups), { K: k, N: n, TPR: tpr, MODE: mode | (normW ? 8 : 0), SF32: m.sf32 ? 1 : 0 });
  plan.push([p, bind(p, [m.w, m.s, x, y, bias ?? g.dummy, normW ?? g.dummy]), Math.ceil(n / ((4 * 256) / tpr)), 1, 'matvec', label]);
};
function norm(x, w, y) { const p = pipeline(RMSNORM, { H }); plan.push([p, bind(p, [x, w, y]), 1, 1, 'other', 'norm']); }
{
  const p = pipeline(EMBED, { H, EF32: g.embed.f32 ? 1 : 0, ROWS: g.embed.rows ?? 1 });
  const more = g.embed.more ?? [];
  plan.push([p, bind(p, [g.embed.w, g.embed.s ?? g.dummy, g.tok, g.x, ...[0, 1, 2, 3, 4].map((i) => more[i] ?? g.dummy)]), 1, 1, 'other', 'embed']);
}
for (const l of g.layers) {
  mv('qkv', l.qkv, g.x, g.qkvOut, QKV, H, 1, l.qkvBias, l.ln1);
  const rope = pipeline(ROPE_KV, { NH, NKV, HD, MAXC: maxCtx });
  plan.push([rope, bind(rope, [g.qkvOut, l.k, l.v, g.params, g.cos, g.sin]), 1, 1, 'other', 'rope']);
  const ap = pipeline(ATTN_PART, { NH, NKV, HD, MAXC: maxCtx });
  plan.push([ap, bind(ap, [g.qkvOut, l.k, l.v, g.params, g.part]), NH, maxCtx / CH, 'other', 'attention']);
  const ac = pipeline(ATTN_COMBINE, { HD, MAXC: maxCtx });
  plan.push([ac, bind(ac, [g.part, g.params, g.attn]), NH, 1, 'other', 'combine']);
  mv('o', l.o, g.attn, g.x, H, NH * HD, 2);
  mv('gateUp', l.gateUp, g.x, g.mlp, 2 * I, H, 0, undefined, l.ln2);
  mv('down', l.down, g.mlp, g.x, H, I, 2 | 4);
}
mv('lmHead', g.lmHead ?? g.embed, g.x, g.logits, V, H, 0, undefined, g.norm);
const NW = Math.ceil(V / 4096);
{
  const a1 = pipeline(ARGMAX1, { N: V });
  plan.push([a1, bind(a1, [g.logits, g.pm, g.pi]), NW, 1, 'other', 'argmax']);
  const a2 = pipeline(ARGMAX2, { NW });
  plan.push([a2, bind(a2, [g.pm, g.pi, g.tok, g.hist, g.params]), 1, 1, 'other', 'argmax']);
}

// --variant: matvec = the step's matrix-vector products only; noattn = the step without attention (rope, splits,
// combine); noop = as many dispatches of an empty kernel (the cost of dispatching and ordering them); full = the step.
if (!['full', 'matvec', 'noattn', 'noop'].includes(o.variant)) { console.error('wgsl-decode: --variant must be full, matvec, noattn or noop'); process.exit(2); }
if (o.variant !== 'full' && o.check) { console.error('wgsl-decode: --check needs --variant full'); process.exit(2); }
const noop = pipeline(NOOP, {});
const noopBind = bind(noop, [g.dummy]);
const ATTN_KINDS = ['rope', 'attention', 'combine'];
const steps_ =
  o.variant === 'full' ? plan
  : o.variant === 'matvec' ? plan.filter((e) => e[4] === 'matvec')
  : o.variant === 'noattn' ? plan.filter((e) => !ATTN_KINDS.includes(e[5]))
  : plan.map((e) => [noop, noopBind, e[2], e[3]]);
const buildError = await device.popErrorScope();
if (buildError) { console.error(`wgsl-decode: ${buildError.message}`); process.exit(1); }
function encodeStep(enc) {
  const pass = enc.beginComputePass();
  for (const [p, bg, x, y] of steps_) {
    pass.setPipeline(p);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(x, y);
  }
  pass.end();
}
const staging = device.createBuffer({ size: 16, usage: S.MAP_READ | S.COPY_DST });
const stagings = new Map(); // one mappable buffer per size, reused (on lavapipe, dawn.node aborted in runs that made many)
async function readU32(src, offset, count) {
  const size = Math.max(16, count * 4);
  if (!stagings.has(size)) stagings.set(size, device.createBuffer({ size, usage: S.MAP_READ | S.COPY_DST }));
  const st = stagings.get(size);
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, st, 0, count * 4);
  device.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(st.getMappedRange().slice(0));
  st.unmap();
  return out;
}
const setState = (pos, step, tok) => {
  device.queue.writeBuffer(g.params, 0, new Uint32Array([pos, step, 0, 0]));
  device.queue.writeBuffer(g.tok, 0, new Uint32Array([tok]));
};

const result = {
  shape: modelDir ? path.relative(process.cwd(), modelDir) : o.shape, ...shape, inter: I, adapter: [adapter.info?.vendor, adapter.info?.architecture, adapter.info?.device, adapter.info?.description].filter(Boolean).join(' '),
  host: os.cpus()[0]?.model, variant: o.variant, fuseNorm, subgroups: useSubgroups, tpr: o.tpr, dispatchesPerStep: steps_.length, weightBytes: [model.lmHead, ...model.layers.flatMap((l) => [l.qkv, l.o, l.gateUp, l.down])].reduce((a, m) => a + m.words.byteLength + m.scales.byteLength, 0),
};

if (o.check && modelDir && !fs.existsSync(path.join(modelDir, 'golden.json'))) {
  // No golden tokens (the big generated models have none): onnxruntime-node's CPU provider on the same file is the
  // reference. A prompt of 8 tokens, then greedy steps; every step's logits compared, and the tokens where
  // onnxruntime's top-2 margin is clear of the largest logit difference seen.
  // onnxruntime runs in a child process (this script with WGSL_DECODE_ORT_REF set), so that the two runtimes' threads
  // never share a process. (On lavapipe, dawn.node 0.6.2 aborted or hung during this check with the 0.5B shape's
  // generated model either way; it passed with the fixtures; the GPU machine did not show it.)
  const refFile = path.join(os.tmpdir(), `wgsl-decode-ref-${process.pid}.bin`);
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { env: { ...process.env, WGSL_DECODE_ORT_REF: refFile }, stdio: ['ignore', 'ignore', 'inherit'] });
  const blob = new Float32Array(new Uint8Array(fs.readFileSync(refFile)).buffer); fs.rmSync(refFile);
  const count = blob.length / (V + 1);
  const tokens = Array.from({ length: count }, (_, i) => blob[i * (V + 1)]), refs = Array.from({ length: count }, (_, i) => blob.subarray(i * (V + 1) + 1, (i + 1) * (V + 1)));
  const promptLength = 8; // as the child's prompt
  const checkStaging = device.createBuffer({ size: V * 4, usage: S.MAP_READ | S.COPY_DST });
  setState(0, 0, tokens[0]);
  let maxDiff = 0, maxLogit = 0;
  const steps2 = [];
  for (let i = 0; i < tokens.length; i++) {
    const ref = refs[i];
    device.queue.writeBuffer(g.tok, 0, new Uint32Array([tokens[i]]));
    const enc = device.createCommandEncoder(); encodeStep(enc); enc.copyBufferToBuffer(g.logits, 0, checkStaging, 0, V * 4);
    device.queue.submit([enc.finish()]);
    await checkStaging.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(checkStaging.getMappedRange().slice(0)); checkStaging.unmap();
    let d = 0, top = 0, second = -Infinity, gotTop = 0;
    for (let v = 0; v < V; v++) {
      d = Math.max(d, Math.abs(got[v] - ref[v])); maxLogit = Math.max(maxLogit, Math.abs(ref[v]));
      if (ref[v] > ref[top]) top = v;
      if (got[v] > got[gotTop]) gotTop = v;
    }
    for (let v = 0; v < V; v++) if (v !== top && ref[v] > second) second = ref[v];
    maxDiff = Math.max(maxDiff, d);
    if (i >= promptLength - 1) steps2.push({ ref: top, got: gotTop, margin: ref[top] - second });
  }
  const clear = steps2.filter((x) => x.margin > 2 * maxDiff);
  Object.assign(result, { check: { reference: 'onnxruntime-node CPU provider, same file', promptTokens: promptLength, greedySteps: steps2.length, maxAbsLogitDiff: +maxDiff.toExponential(3), maxAbsLogit: +maxLogit.toFixed(3), tokensAgree: steps2.filter((x) => x.ref === x.got).length, clearMarginSteps: clear.length, clearMarginAgree: clear.filter((x) => x.ref === x.got).length, minMargin: +Math.min(...steps2.map((x) => x.margin)).toExponential(3) } });
  console.log(JSON.stringify(result));
  process.exit(0);
}
if (o.check && modelDir) {
  // The model directory's golden.json: prompts' token ids and the greedy tokens of a reference implementation
  // (native/py/qwen_models.py: PyTorch on the dequantized int4 weights), with the smallest top-2 margin over them.
  const golden = JSON.parse(fs.readFileSync(path.join(modelDir, 'golden.json'), 'utf8'));
  const cases = [];
  for (const c of golden.cases) {
    const ids = c.input_ids, n = c.greedy.length;
    if (ids.length + n + 1 > maxCtx) throw new Error(`wgsl-decode: golden case longer than --max-context ${maxCtx}`);
    setState(0, 0, ids[0]);
    for (let i = 0; i < ids.length + n - 1; i++) {
      if (i > 0 && i < ids.length) device.queue.writeBuffer(g.tok, 0, new Uint32Array([ids[i]])); // the prompt, one step a token
      const enc = device.createCommandEncoder(); encodeStep(enc); device.queue.submit([enc.finish()]);
    }
    const got = [...(await readU32(g.hist, 4 * (ids.length - 1), n))];
    cases.push({ prompt: c.prompt, greedy: c.greedy, got, agree: got.filter((t, i) => t === c.greedy[i]).length });
  }
  Object.assign(result, { check: { reference: golden.reference, minMargin: golden.min_margin, cases: cases.length, tokens: cases.reduce((a, c) => a + c.greedy.length, 0), tokensAgree: cases.reduce((a, c) => a + c.agree, 0), mismatches: cases.filter((c) => c.agree < c.greedy.length) } });
  console.log(JSON.stringify(result));
  process.exit(0);
}
if (o.check) {
  // Float64 reference of the same weights and the same math, step by step from token 1 at position 0.
  const deq = (m, r, c) => { const e = r * m.cols + c; return (((m.words[e >>> 3] >>> (4 * (e & 7))) & 15) - 8) * f16value((m.scales[e >>> 6] >>> (16 * ((e >>> 5) & 1))) & 0xffff); };
  const matvec = (m, x) => { const y = new Float64Array(m.rows); for (let r = 0; r < m.rows; r++) { let s = 0; for (let c = 0; c < m.cols; c++) s += deq(m, r, c) * x[c]; y[r] = s; } return y; };
  const rms = (x, w) => { let s = 0; for (const v of x) s += v * v; const inv = 1 / Math.sqrt(s / x.length + EPS); return x.map((v, i) => v * inv * w[i]); };
  const kc = model.layers.map(() => []), vc = model.layers.map(() => []);
  const refStep = (tok, pos) => {
    let x = new Float64Array(H);
    for (let i = 0; i < H; i++) x[i] = deq(model.embed, tok, i);
    model.layers.forEach((l, li) => {
      const qkv = matvec(l.qkv, rms(x, l.ln1)).map((v, i) => v + l.qkvBias[i]);
      const rot = (v, base) => { for (let j = 0; j < HD / 2; j++) { const ang = pos * THETA ** ((-2 * j) / HD); const a = v[base + j], b = v[base + j + HD / 2]; v[base + j] = a * Math.cos(ang) - b * Math.sin(ang); v[base + j + HD / 2] = b * Math.cos(ang) + a * Math.sin(ang); } };
      for (let h = 0; h < NH + NKV; h++) rot(qkv, h * HD);
      kc[li].push(qkv.slice(NH * HD, (NH + NKV) * HD)); vc[li].push(qkv.slice((NH + NKV) * HD));
      const attn = new Float64Array(NH * HD);
      for (let h = 0; h < NH; h++) {
        const kh = Math.floor(h / (NH / NKV));
        const sc = kc[li].map((k) => { let d = 0; for (let i = 0; i < HD; i++) d += qkv[h * HD + i] * k[kh * HD + i]; return d / Math.sqrt(HD); });
        const m = Math.max(...sc); const p = sc.map((s) => Math.exp(s - m)); const z = p.reduce((a, b) => a + b, 0);
        for (let i = 0; i < HD; i++) attn[h * HD + i] = p.reduce((a, pj, j) => a + pj * vc[li][j][kh * HD + i], 0) / z;
      }
      const oo = matvec(l.o, attn); x = x.map((v, i) => v + oo[i]);
      const gu = matvec(l.gateUp, rms(x, l.ln2));
      const act = new Float64Array(I); for (let i = 0; i < I; i++) act[i] = (gu[i] / (1 + Math.exp(-gu[i]))) * gu[I + i];
      const d = matvec(l.down, act); x = x.map((v, i) => v + d[i]);
    });
    return matvec(model.embed, rms(x, model.norm));
  };
  const checkStaging = device.createBuffer({ size: V * 4 + 16, usage: S.MAP_READ | S.COPY_DST });
  setState(0, 0, 1);
  let tok = 1, maxDiff = 0, maxLogit = 0, minMargin = Infinity, agree = 0;
  const n = steps;
  for (let s = 0; s < n; s++) {
    const ref = refStep(tok, s);
    const enc = device.createCommandEncoder(); encodeStep(enc);
    enc.copyBufferToBuffer(g.logits, 0, checkStaging, 0, V * 4);
    enc.copyBufferToBuffer(g.tok, 0, checkStaging, V * 4, 4);
    device.queue.submit([enc.finish()]);
    await checkStaging.mapAsync(GPUMapMode.READ);
    const both = checkStaging.getMappedRange().slice(0);
    checkStaging.unmap();
    const got = new Float32Array(both, 0, V);
    for (let i = 0; i < V; i++) { maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i])); maxLogit = Math.max(maxLogit, Math.abs(ref[i])); }
    const sorted = [...ref].sort((a, b) => b - a); minMargin = Math.min(minMargin, sorted[0] - sorted[1]);
    const refTok = ref.indexOf(sorted[0]);
    const gpuTok = new Uint32Array(both, V * 4, 1)[0];
    if (gpuTok === refTok) agree++;
    tok = refTok;
    if (gpuTok !== refTok) setState(s + 1, s + 1, tok); // keep following the reference
  }
  // With --check only the check runs: after the reference's garbage, dawn.node 0.6.2 on lavapipe aborted in a
  // later submission (a pthread assertion), and the tiny shape's timings mean nothing anyway.
  Object.assign(result, { check: { steps: n, maxAbsLogitDiff: +maxDiff.toExponential(3), maxAbsLogit: +maxLogit.toFixed(3), minTop2Margin: +minMargin.toExponential(3), tokensAgree: agree } });
  console.log(JSON.stringify(result));
  process.exit(0);
}

// --profile: one step with every dispatch in a pass of its own, timestamps at each pass's start and end (GPU time per
// kernel kind, summed over the step; passes of their own add ordering the step itself does not have).
if (o.profile) {
  setState(past, 0, 1);
  const n = steps_.length;
  const qs = device.createQuerySet({ type: 'timestamp', count: 2 * n });
  const res = buf(16 * n, S.QUERY_RESOLVE | S.COPY_SRC);
  const perKind = {};
  for (let rep = 0; rep < 5; rep++) {
    const enc = device.createCommandEncoder();
    steps_.forEach(([p, bg, x, y], i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(x, y); pass.end();
    });
    enc.resolveQuerySet(qs, 0, 2 * n, res, 0);
    device.queue.submit([enc.finish()]);
    const raw = await readU32(res, 0, 4 * n);
    const ts = new BigUint64Array(raw.buffer);
    if (rep < 2) continue; // warm-up
    steps_.forEach((e, i) => { const k = e[5] ?? 'noop'; perKind[k] = (perKind[k] ?? 0) + Number(ts[2 * i + 1] - ts[2 * i]) / 1e6 / 3; });
  }
  const passes = Object.values(perKind).reduce((a, b) => a + b, 0);
  result.profileMs = Object.fromEntries([...Object.entries(perKind).map(([k, v]) => [k, +v.toFixed(3)]), ['sum', +passes.toFixed(3)]]);
}

// Timings from --past rows of (zero) cache.
const warm = 8;
setState(past, 0, 1);
for (let s = 0; s < warm; s++) { const enc = device.createCommandEncoder(); encodeStep(enc); device.queue.submit([enc.finish()]); }
await device.queue.onSubmittedWorkDone();
setState(past, 0, 1);
let encodeMs = 0;
let t0 = performance.now();
for (let s = 0; s < steps; s++) {
  const e0 = performance.now();
  const enc = device.createCommandEncoder(); encodeStep(enc); device.queue.submit([enc.finish()]);
  encodeMs += performance.now() - e0;
}
await device.queue.onSubmittedWorkDone();
const queuedMs = (performance.now() - t0) / steps;
const hist = await readU32(g.hist, 0, steps);
setState(past, 0, 1);
t0 = performance.now();
for (let s = 0; s < steps; s++) {
  const enc = device.createCommandEncoder(); encodeStep(enc);
  enc.copyBufferToBuffer(g.tok, 0, staging, 0, 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  new Uint32Array(staging.getMappedRange())[0];
  staging.unmap();
}
const readbackMs = (performance.now() - t0) / steps;
// prepared: the same, but step t + 1's command buffer is encoded while step t's token is awaited (the token never
// leaves the GPU, so encoding does not need it) and submitted once the token has been read
const encodeWithCopy = () => { const enc = device.createCommandEncoder(); encodeStep(enc); enc.copyBufferToBuffer(g.tok, 0, staging, 0, 4); return enc.finish(); };
setState(past, 0, 1);
t0 = performance.now();
let next = encodeWithCopy();
for (let s = 0; s < steps; s++) {
  device.queue.submit([next]);
  const mapped = staging.mapAsync(GPUMapMode.READ);
  if (s + 1 < steps) next = encodeWithCopy();
  await mapped;
  new Uint32Array(staging.getMappedRange())[0];
  staging.unmap();
}
const preparedMs = (performance.now() - t0) / steps;
// lagged: step t + 1 is queued before step t's token is read (an engine one step ahead, dropping that step at a stop)
const lagStaging = [0, 1].map(() => device.createBuffer({ size: 16, usage: S.MAP_READ | S.COPY_DST }));
setState(past, 0, 1);
t0 = performance.now();
for (let s = 0; s <= steps; s++) {
  if (s < steps) {
    const enc = device.createCommandEncoder(); encodeStep(enc);
    enc.copyBufferToBuffer(g.tok, 0, lagStaging[s % 2], 0, 4);
    device.queue.submit([enc.finish()]);
  }
  if (s > 0) {
    const b = lagStaging[(s - 1) % 2];
    await b.mapAsync(GPUMapMode.READ);
    new Uint32Array(b.getMappedRange())[0];
    b.unmap();
  }
}
const laggedMs = (performance.now() - t0) / steps;
Object.assign(result, {
  past, steps, msPerToken: { queued: +queuedMs.toFixed(3), readback: +readbackMs.toFixed(3), prepared: +preparedMs.toFixed(3), lagged: +laggedMs.toFixed(3), encodeMs: +(encodeMs / steps).toFixed(3) },
  distinctTokens: new Set(hist).size, gpuError, load: os.loadavg().map((x) => +x.toFixed(2)),
});
console.log(JSON.stringify(result));
device.destroy?.();
process.exit(0);
