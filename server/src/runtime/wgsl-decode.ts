/// <reference types="@webgpu/types" />
// Our own WebGPU decode step (issue 15): the one importer of the `webgpu` npm package (Dawn's Node binding). One
// token's forward pass of an onnxruntime-genai-layout int4 Qwen2 model as one command buffer of WGSL kernels
// (runtime/wgsl-kernels.ts) with every bind group made once and a static KV cache of `maxContext` rows; onnxruntime
// keeps the prefill (runtime/model.ts hands the prompt's KV rows over, LoadModelOptions.wgslDecode).
// Why: onnxruntime-node 1.30's WebGPU decode step is ~200 separately prepared kernels (9-11 ms at the 1.5B shape on an
// H200, 5-6x llama.cpp CUDA) and the binding cannot replay a captured graph (bench/results/real-models-summary.md).
import { ARGMAX_FINAL_KERNEL, ATTN_COMBINE_KERNEL, ATTN_PART_KERNEL, ATTN_SPLIT, EMBED_KERNEL, matvecKernel, ROPE_KV_KERNEL, ROW_STATS_KERNEL, STATS_CHUNK } from './wgsl-kernels.js';
import type { GenaiWeights, Q4Matrix } from './genai-weights.js';
import type { KvDtype } from './layout.js';

/** Most rows the attention kernels take (256 splits of ATTN_SPLIT keys). */
export const WGSL_MAX_CONTEXT = 256 * ATTN_SPLIT;

export interface WgslDecoderOptions {
  /** Rows of the static KV cache (rounded up to a multiple of 32, capped by the rotary tables and WGSL_MAX_CONTEXT). */
  maxContext: number;
  /** The KV dtype of the onnxruntime graph whose rows are handed over (writeKv takes that dtype's raw data). */
  kvDtype: KvDtype;
  /** RMSNorm epsilon (config rms_norm_eps; Qwen2's 1e-6). */
  eps: number;
  /**
   * Submit step t + 1 with the GPU's argmax of step t as its token before step t's row is read back (default true):
   * when the caller then asks for that token at that position (greedy decoding), its row is already being computed;
   * any other call drops it. The KV row it wrote lies past the sequence until a real step or writeKv overwrites it.
   */
  speculate?: boolean;
  /** Use subgroup sums where the adapter offers subgroups of at most 32 (default true); false: workgroup-memory trees. */
  subgroups?: boolean;
  /**
   * KV caches of `maxContext` rows each (default 1): sequences in different slots keep their rows while others decode
   * (model.ts gives each recently decoded sequence its own, least recently used first out).
   */
  slots?: number;
}

/** One submitted step: its position, the token it ran (undefined until known, for a speculative step), its readback. */
interface Flight {
  slot: number;
  pos: number;
  token: number | undefined;
  staging: GPUBuffer;
  mapped: Promise<undefined>;
  /** False once K/V rows were written after it was submitted (its result may have read them). */
  valid: boolean;
}

/** What one step returns: the logits row [vocab] f32 (a new array) and its log Σ exp (from the GPU's row statistics). */
export interface WgslStep {
  logits: Float32Array;
  lse: number;
}

/** One dispatch of the step; `splits`: attention over key splits, as many workgroups in y as the position needs. */
interface PlanEntry {
  pipeline: GPUComputePipeline;
  /** The bind group, or null with one per KV slot in slotBinds. */
  bind: GPUBindGroup | null;
  slotBinds?: GPUBindGroup[];
  x: number;
  y: number;
  splits?: boolean;
}

type GpuModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

/**
 * The process's one GPU instance, made by the first open() and never dropped: dawn.node tears an instance down when its
 * GPU object is collected, and a decoder's instance collected after its dispose() crashed (SIGSEGV, SIGABRT) or hung
 * the next model's load in 4 of 5 runs on lavapipe (a model reloaded after a garbage collection).
 */
let gpuInstance: GPU | undefined;

/** Loads the `webgpu` package (an optional dependency); throws an Error that says how to get it when it is missing. */
async function loadWebgpu(): Promise<GpuModule> {
  try {
    return (await import('webgpu')) as unknown as GpuModule;
  } catch (e) {
    throw new Error(`the \`webgpu\` package (Dawn's Node binding, an optional dependency) is not installed or does not load here: npm install webgpu@0.6.2 (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * A decode step on the GPU for one model, with static KV caches (`slots`, one sequence each: the caller hands the KV
 * of the sequence it continues over with writeKv). Errors: open() rejects without an adapter or when the device cannot
 * hold the weights; step() rejects on a lost device (the caller goes back to onnxruntime).
 */
export class WgslDecoder {
  /** Readback buffers: one for the step being read, one for the speculative step behind it. */
  private readonly free: GPUBuffer[];
  private spec: Flight | null = null;
  private readonly speculate: boolean;
  /** Steps whose speculative row was used, and speculative steps dropped (since open). */
  readonly counts = { steps: 0, speculated: 0, dropped: 0 };
  private readonly scratch = new Uint32Array(4);
  private lost: string | null = null;
  /** The adapter the device came from, held while the decoder lives (the GPU instance is held process-wide). */
  private adapter: GPUAdapter | null = null;

  private constructor(
    private readonly device: GPUDevice,
    readonly adapterName: string,
    readonly maxContext: number,
    readonly kvDtype: KvDtype,
    readonly vocab: number,
    private readonly kvHeads: number,
    private readonly headDim: number,
    /** [slot][layer] */
    private readonly kv: { k: GPUBuffer; v: GPUBuffer }[][],
    private readonly plan: PlanEntry[],
    private readonly bufs: { tok: GPUBuffer; params: GPUBuffer; logits: GPUBuffer; stats: GPUBuffer },
    private readonly statsCount: number,
    /** Weight bytes on the GPU (for the status line). */
    readonly weightBytes: number,
    speculate: boolean,
  ) {
    const size = vocab * 4 + statsCount * 8 + 16;
    this.free = [0, 1].map(() => device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    this.speculate = speculate;
    void device.lost.then((info) => {
      this.lost = `the WebGPU device was lost (${info.message || info.reason})`;
    });
  }

  /** Opens a device on the high-performance adapter and uploads `w` (GenaiWeights, genai-weights.ts). */
  static async open(w: GenaiWeights, opts: WgslDecoderOptions): Promise<WgslDecoder> {
    const { create, globals } = await loadWebgpu();
    Object.assign(globalThis, globals);
    const gpu = (gpuInstance ??= create([]));
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter');
    const lim = adapter.limits;
    const subgroups = (opts.subgroups ?? true) && adapter.features.has('subgroups') && ((adapter.info as { subgroupMaxSize?: number }).subgroupMaxSize ?? 32) <= 32;
    const device = await adapter.requestDevice({
      requiredFeatures: subgroups ? ['subgroups' as GPUFeatureName] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
        maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      },
    });
    try {
      const decoder = await WgslDecoder.build(device, adapter, w, opts, subgroups);
      decoder.adapter = adapter;
      return decoder;
    } catch (e) {
      device.destroy();
      throw e;
    }
  }

  private static async build(device: GPUDevice, adapter: GPUAdapter, w: GenaiWeights, opts: WgslDecoderOptions, subgroups: boolean): Promise<WgslDecoder> {
    const { hidden: H, heads: NH, kvHeads: NKV, headDim: HD, vocab: V, inter: I } = w;
    if (256 % HD !== 0 || HD % 8 !== 0 || HD > 256) throw new Error(`head size ${HD}: the attention kernels take 8..256 dividing 256`);
    if (NH % NKV !== 0) throw new Error(`${NH} heads over ${NKV} KV heads`);
    if (H % 32 !== 0 || I % 32 !== 0) throw new Error(`hidden ${H} / intermediate ${I} not multiples of 32`);
    const maxC = Math.min(WGSL_MAX_CONTEXT, Math.floor(w.positions / ATTN_SPLIT) * ATTN_SPLIT, Math.ceil(opts.maxContext / ATTN_SPLIT) * ATTN_SPLIT);
    if (maxC < ATTN_SPLIT) throw new Error(`a KV cache of ${maxC} rows`);
    const kv16 = opts.kvDtype === 'float16';
    const S = GPUBufferUsage;
    const buf = (size: number, usage = S.STORAGE | S.COPY_DST | S.COPY_SRC) => device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage });
    const upload = (data: ArrayBufferView, usage?: number) => {
      const b = buf(data.byteLength, usage);
      device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, Math.ceil(data.byteLength / 4) * 4);
      return b;
    };
    let weightBytes = 0;
    const q4 = (m: Q4Matrix) => {
      weightBytes += m.words.byteLength + m.scales.byteLength;
      return { w: upload(m.words), s: upload(m.scales), m };
    };
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    // The embedding table in whole rows per binding (up to six bindings).
    const embF16 = w.embed instanceof Uint16Array;
    const rowBytes = H * (embF16 ? 2 : 4);
    const rowsPer = Math.min(V, Math.floor(device.limits.maxStorageBufferBindingSize / rowBytes));
    const chunks: GPUBuffer[] = [];
    for (let r = 0; r < V; r += rowsPer) chunks.push(upload(w.embed.subarray(r * H, Math.min(V, r + rowsPer) * H)));
    if (chunks.length > 6) throw new Error(`the embedding table needs ${chunks.length} bindings (six are bound)`);
    weightBytes += w.embed.byteLength;
    const dummy = buf(16);
    const g = {
      lmHead: q4(w.lmHead),
      cos: upload(w.cos),
      sin: upload(w.sin),
      norm: upload(w.norm),
      layers: w.layer.map((l) => ({ ln1: upload(l.ln1), qkv: q4(l.qkv), qkvBias: upload(l.qkvBias), o: q4(l.o), ln2: upload(l.ln2), gateUp: q4(l.gateUp), down: q4(l.down) })),
      x: buf(H * 4),
      qkvOut: buf((NH + 2 * NKV) * HD * 4),
      attn: buf(NH * HD * 4),
      mlp: buf(2 * I * 4),
      logits: buf(V * 4),
      part: buf(NH * (maxC / ATTN_SPLIT) * (HD + 2) * 4),
      stats: buf(Math.ceil(V / STATS_CHUNK) * 8),
      pi: buf(Math.ceil(V / STATS_CHUNK) * 4),
      tok: buf(16),
      params: buf(16, S.STORAGE | S.UNIFORM | S.COPY_DST),
    };
    const slots = Math.max(1, Math.floor(opts.slots ?? 1));
    const kv = Array.from({ length: slots }, () => w.layer.map(() => ({ k: buf(NKV * maxC * HD * (kv16 ? 2 : 4)), v: buf(NKV * maxC * HD * (kv16 ? 2 : 4)) })));
    // One shader module per kernel source, one pipeline per source and override constants.
    const pipelines = new Map<string, { module: GPUShaderModule; byConstants: Map<string, GPUComputePipeline> }>();
    const pipeline = (code: string, constants: Record<string, number>) => {
      let k = pipelines.get(code);
      if (!k) pipelines.set(code, (k = { module: device.createShaderModule({ code }), byConstants: new Map() }));
      const key = JSON.stringify(constants);
      let p = k.byConstants.get(key);
      if (!p) k.byConstants.set(key, (p = device.createComputePipeline({ layout: 'auto', compute: { module: k.module, entryPoint: 'main', constants } })));
      return p;
    };
    const bind = (p: GPUComputePipeline, buffers: GPUBuffer[]) =>
      device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: buffers.map((b, i) => ({ binding: i, resource: { buffer: b } })) });
    const plan: PlanEntry[] = [];
    const matvec = matvecKernel(subgroups, opts.eps);
    const mv = (m: { w: GPUBuffer; s: GPUBuffer; m: Q4Matrix }, x: GPUBuffer, y: GPUBuffer, mode: number, bias?: GPUBuffer, normW?: GPUBuffer) => {
      const k = m.m.cols;
      const tpr = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(k / 32))));
      const p = pipeline(matvec, { K: k, N: m.m.rows, TPR: tpr, MODE: mode | (normW ? 8 : 0), SF32: m.m.scaleF32 ? 1 : 0, SB: m.m.block / 32 });
      plan.push({ pipeline: p, bind: bind(p, [m.w, m.s, x, y, bias ?? dummy, normW ?? dummy]), x: Math.ceil(m.m.rows / ((4 * 256) / tpr)), y: 1 });
    };
    {
      const p = pipeline(EMBED_KERNEL, { H, EF16: embF16 ? 1 : 0, ROWS: rowsPer });
      plan.push({ pipeline: p, bind: bind(p, [chunks[0]!, g.tok, g.x, ...[1, 2, 3, 4, 5].map((i) => chunks[i] ?? dummy)]), x: 1, y: 1 });
    }
    const attnConsts = { NH, NKV, HD, MAXC: maxC, KV16: kv16 ? 1 : 0 };
    for (const [i, l] of g.layers.entries()) {
      mv(l.qkv, g.x, g.qkvOut, 1, l.qkvBias, l.ln1);
      const rope = pipeline(ROPE_KV_KERNEL, attnConsts);
      plan.push({ pipeline: rope, bind: null, slotBinds: kv.map((sk) => bind(rope, [g.qkvOut, sk[i]!.k, sk[i]!.v, g.params, g.cos, g.sin])), x: 1, y: 1 });
      const ap = pipeline(ATTN_PART_KERNEL, attnConsts);
      plan.push({ pipeline: ap, bind: null, slotBinds: kv.map((sk) => bind(ap, [g.qkvOut, sk[i]!.k, sk[i]!.v, g.params, g.part])), x: NH, y: maxC / ATTN_SPLIT, splits: true });
      const ac = pipeline(ATTN_COMBINE_KERNEL, { HD, MAXC: maxC });
      plan.push({ pipeline: ac, bind: bind(ac, [g.part, g.params, g.attn]), x: NH, y: 1 });
      mv(l.o, g.attn, g.x, 2);
      mv(l.gateUp, g.x, g.mlp, 0, undefined, l.ln2);
      mv(l.down, g.mlp, g.x, 2 | 4);
    }
    mv(g.lmHead, g.x, g.logits, 0, undefined, g.norm);
    const statsCount = Math.ceil(V / STATS_CHUNK);
    {
      const p = pipeline(ROW_STATS_KERNEL, { N: V });
      plan.push({ pipeline: p, bind: bind(p, [g.logits, g.stats, g.pi]), x: statsCount, y: 1 });
      const a2 = pipeline(ARGMAX_FINAL_KERNEL, { NW: statsCount });
      plan.push({ pipeline: a2, bind: bind(a2, [g.stats, g.pi, g.tok]), x: 1, y: 1 });
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (oom) throw new Error(`out of GPU memory for the decode step (${oom.message})`);
    if (validation) throw new Error(`decode step: ${validation.message}`);
    const info = adapter.info;
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
    return new WgslDecoder(device, name, maxC, opts.kvDtype, V, NKV, HD, kv, plan, { tok: g.tok, params: g.params, logits: g.logits, stats: g.stats }, statsCount, weightBytes, opts.speculate ?? true);
  }

  /** KV slots (WgslDecoderOptions.slots). */
  get slots(): number {
    return this.kv.length;
  }

  /**
   * Writes rows [start, start + n) of layer `layer`'s K and V in KV slot `slot`: `k` and `v` as onnxruntime's presents
   * hold them ([kvHeads][n][headDim] of the decoder's kvDtype: Float32Array, or float16 bits as Uint16Array).
   * RangeError past maxContext or outside the slots.
   */
  writeKv(layer: number, start: number, n: number, k: Float32Array | Uint16Array, v: Float32Array | Uint16Array, slot = 0): void {
    if (start < 0 || n < 0 || start + n > this.maxContext) throw new RangeError(`WgslDecoder.writeKv: rows [${start}, ${start + n}) outside [0, ${this.maxContext})`);
    const b = this.kvDtype === 'float16' ? 2 : 4;
    const rowEl = this.headDim;
    const bufs = this.kv[slot]?.[layer];
    if (!bufs) throw new RangeError(`WgslDecoder.writeKv: no layer ${layer} in slot ${slot}`);
    if (k.length !== this.kvHeads * n * rowEl || v.length !== k.length) throw new RangeError(`WgslDecoder.writeKv: ${k.length} / ${v.length} values for ${this.kvHeads} heads × ${n} rows × ${rowEl}`);
    if (n === 0) return;
    if (this.spec) this.spec.valid = false;
    for (let h = 0; h < this.kvHeads; h++) {
      const dst = ((h * this.maxContext + start) * rowEl) * b;
      const src = h * n * rowEl;
      const bytes = n * rowEl * b; // a multiple of 4: headDim is a multiple of 8
      this.device.queue.writeBuffer(bufs.k, dst, k.buffer, k.byteOffset + src * b, bytes);
      this.device.queue.writeBuffer(bufs.v, dst, v.buffer, v.byteOffset + src * b, bytes);
    }
  }

  /**
   * One decode step: token `token` at position `pos` of the sequence in KV slot `slot` (its K/V row is written at row
   * `pos`; rows [0, pos) must hold the sequence's KV). Resolves with the logits row and its log Σ exp. With
   * `speculate`, step pos + 1 is submitted before this one is read (see WgslDecoderOptions.speculate).
   */
  async step(token: number, pos: number, slot = 0): Promise<WgslStep> {
    if (this.lost) throw new Error(this.lost);
    if (!Number.isInteger(pos) || pos < 0 || pos >= this.maxContext) throw new RangeError(`WgslDecoder.step: position ${pos} outside [0, ${this.maxContext})`);
    if (!Number.isInteger(token) || token < 0 || token >= this.vocab) throw new RangeError(`WgslDecoder.step: token ${token} outside the vocabulary`);
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.kv.length) throw new RangeError(`WgslDecoder.step: no KV slot ${slot}`);
    const q = this.device.queue;
    let cur: Flight | null = null;
    const spec = this.spec;
    this.spec = null;
    if (spec) {
      if (spec.valid && spec.slot === slot && spec.pos === pos && spec.token === token) {
        cur = spec;
        this.counts.speculated++;
      } else {
        this.counts.dropped++;
        await this.drain(spec);
      }
    }
    if (!cur) {
      this.scratch[0] = token;
      q.writeBuffer(this.bufs.tok, 0, this.scratch, 0, 4);
      cur = this.submit(slot, pos, token);
    }
    if (this.speculate && pos + 1 < this.maxContext) this.spec = this.submit(slot, pos + 1, undefined); // its token: cur's argmax, on the GPU
    this.counts.steps++;
    try {
      await cur.mapped;
    } catch (e) {
      this.lost ??= `a decode step's readback failed (${e instanceof Error ? e.message : String(e)})`;
      throw e;
    }
    const all = new Float32Array(cur.staging.getMappedRange().slice(0));
    cur.staging.unmap();
    this.free.push(cur.staging);
    const logits = all.subarray(0, this.vocab);
    const stats = all.subarray(this.vocab, this.vocab + 2 * this.statsCount);
    if (this.spec) this.spec.token = new Uint32Array(all.buffer, (this.vocab + 2 * this.statsCount) * 4, 1)[0];
    let m = -Infinity;
    for (let i = 0; i < this.statsCount; i++) m = Math.max(m, stats[2 * i]!);
    let s = 0;
    for (let i = 0; i < this.statsCount; i++) s += stats[2 * i + 1]! * Math.exp(stats[2 * i]! - m);
    return { logits, lse: m + Math.log(s) };
  }

  private async drain(f: Flight): Promise<void> {
    try {
      await f.mapped;
      f.staging.unmap();
    } catch {
      // a failed map leaves the buffer unmapped
    }
    this.free.push(f.staging);
  }

  /** Encodes and submits the step at `pos` (token and position are read from buffers), with its readback copy. */
  private submit(slot: number, pos: number, token: number | undefined): Flight {
    const staging = this.free.pop();
    if (!staging) throw new Error('WgslDecoder: no free readback buffer');
    this.scratch[0] = pos;
    this.device.queue.writeBuffer(this.bufs.params, 0, this.scratch, 0, 4);
    const splits = Math.ceil((pos + 1) / ATTN_SPLIT);
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const e of this.plan) {
      pass.setPipeline(e.pipeline);
      pass.setBindGroup(0, e.bind ?? e.slotBinds![slot]!);
      pass.dispatchWorkgroups(e.x, e.splits ? splits : e.y);
    }
    pass.end();
    enc.copyBufferToBuffer(this.bufs.logits, 0, staging, 0, this.vocab * 4);
    enc.copyBufferToBuffer(this.bufs.stats, 0, staging, this.vocab * 4, this.statsCount * 8);
    enc.copyBufferToBuffer(this.bufs.tok, 0, staging, this.vocab * 4 + this.statsCount * 8, 4);
    this.device.queue.submit([enc.finish()]);
    const mapped = staging.mapAsync(GPUMapMode.READ);
    mapped.catch(() => {}); // a speculative step nobody awaits is aborted by dispose(): not an unhandled rejection
    return { slot, pos, token, staging, mapped, valid: true };
  }

  /** Frees the device and its buffers. Idempotent. */
  dispose(): void {
    this.spec = null;
    this.device.destroy();
    this.adapter = null;
  }
}
