// The KV cache: owns a model's past_key_values tensors between runs, knows its length, rewinds and frees them.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { createTensor, type Tensor } from './ort.js';
import type { KvSlot } from './layout.js';
import type { KvSlicer } from './kv-slice.js';

type KvData = Float32Array | Uint16Array; // float16 travels as raw Uint16 bits

/**
 * Frees the memory of host KV buffers nobody references any more at once, instead of at a later collection (issue 15):
 * onnxruntime-node 1.30 returns every present in a new ArrayBuffer (~17 MB per decode step at the Qwen2.5-Coder-0.5B
 * shape, ~700 positions), and V8 counts those bytes as external memory; with nothing freed until a collection, that
 * count grows by the whole cache each step and sets off mark-compact collections (external memory pressure) every
 * few steps. Transferring the buffers in a message to a port whose peer is closed detaches them (V8 takes their bytes
 * off its count then) and drops the message with the backing stores. One long-lived channel, unref'd so that it never
 * keeps a process or worker alive. `INFILL_LS_KV_RELEASE=0` turns it off (the buffers wait for the collector), for
 * side-by-side measurements. Buffers that cannot be transferred (shared memory, a pooled slab) are left to the
 * collector.
 */
let sink: MessagePort | null = null;
const releaseOn = process.env.INFILL_LS_KV_RELEASE?.trim() !== '0';
function releaseBuffers(list: ArrayBuffer[]): void {
  if (!releaseOn || list.length === 0) return;
  const buffers = [...new Set(list)]; // a buffer listed twice cannot be transferred
  if (!sink) {
    const { port1, port2 } = new MessageChannel();
    port2.close();
    port1.unref();
    sink = port1;
  }
  try {
    sink.postMessage(null, buffers);
  } catch {
    // one buffer could not be transferred (none is detached then): one at a time, skipping those
    for (const b of buffers) {
      try {
        sink.postMessage(null, [b]);
      } catch {
        // left to the garbage collector
      }
    }
  }
}

/** The ArrayBuffer under a CPU tensor's data, when it holds one of ours: a whole, non-empty, non-shared buffer. */
function ownBuffer(t: Tensor): ArrayBuffer | null {
  if (t.location !== 'cpu') return null;
  const d = t.data;
  if (!(d instanceof Float32Array || d instanceof Uint16Array)) return null;
  return d.buffer instanceof ArrayBuffer && d.buffer.byteLength > 0 ? d.buffer : null;
}

function emptyTensor(slot: KvSlot): Tensor {
  return slot.dtype === 'float16'
    ? createTensor('float16', new Uint16Array(0), slot.emptyDims)
    : createTensor('float32', new Float32Array(0), slot.emptyDims);
}

/**
 * Past tensors of one sequence (batch 1), keyed by past input name. Invariant: every tensor's past axis has size
 * `onnxLength`; `length` adds the tokens appended outside onnxruntime (appendOutside: runtime/wgsl-decode.ts's decode
 * steps, whose K/V rows live in the decoder's own cache), which the next onnxruntime run takes first (takeOutside). A
 * tensor handed to `replace` is owned (and eventually disposed) by this cache.
 */
export class KvCache {
  private tensors = new Map<string, Tensor>();
  private len = 0;
  private disposed = false;
  /** Positions dropped by evict() (SCOPE's decode-phase budget) and the first position they were dropped at. */
  private evicted = 0;
  private evictedFrom = Infinity;
  /** Tokens after the tensors' positions whose K/V were computed outside onnxruntime (see the class comment). */
  private outside: number[] = [];
  /**
   * Positions [0, gpuRows) of this sequence that the WGSL decoder's static cache holds (runtime/model.ts keeps it;
   * 0 when the decoder holds another sequence). Rewinds and resets lower it; nothing else here reads it.
   */
  gpuRows = 0;

  constructor(
    private readonly slots: readonly KvSlot[],
    /** Slices tensors that live on the GPU (WebGPU); without it such tensors cannot be rewound. */
    private readonly gpuSlicer: KvSlicer | null = null,
  ) {
    this.reset();
  }

  /** Number of positions (tokens) held: onnxLength plus the tokens appended outside onnxruntime. */
  get length(): number {
    return this.len + this.outside.length;
  }

  /** Positions in onnxruntime's tensors. */
  get onnxLength(): number {
    return this.len;
  }

  /** Records a token whose K/V row was computed outside onnxruntime (length grows by one). */
  appendOutside(token: number): void {
    this.assertLive();
    this.outside.push(token);
  }

  /** The tokens appended outside onnxruntime, now removed (length = onnxLength): the caller runs them through onnxruntime. */
  takeOutside(): number[] {
    const t = this.outside;
    this.outside = [];
    return t;
  }

  /** The past tensors with their slots (slot order), e.g. to read K/V rows out. */
  pastTensors(): { slot: KvSlot; tensor: Tensor }[] {
    this.assertLive();
    return this.slots.map((slot) => ({ slot, tensor: this.tensors.get(slot.pastName)! }));
  }

  /**
   * Positions dropped from inside the cache by evict(): the next token's position id is length + positionOffset.
   * 0 for a cache that was never evicted from (or was rewound below the first evicted position).
   */
  get positionOffset(): number {
    return this.evicted;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Adds the past inputs to `feeds`. */
  fill(feeds: Record<string, Tensor>): void {
    this.assertLive();
    if (this.outside.length > 0) throw new Error('KvCache.fill: tokens appended outside onnxruntime were not taken (takeOutside)');
    for (const s of this.slots) feeds[s.pastName] = this.tensors.get(s.pastName)!;
  }

  /**
   * Takes a run's present outputs as the new past (they hold `newLength` positions) and disposes the
   * tensors they replace (GPU buffers are freed now, not at garbage collection).
   */
  replace(outputs: Readonly<Record<string, Tensor>>, newLength: number): void {
    this.assertLive();
    const dead: ArrayBuffer[] = [];
    for (const s of this.slots) {
      const next = outputs[s.presentName];
      if (!next) throw new Error(`KvCache.replace: run output lacks '${s.presentName}'`);
      if (next.dims[s.pastAxis] !== newLength) {
        throw new Error(`KvCache.replace: '${s.presentName}' has ${next.dims[s.pastAxis]} positions on axis ${s.pastAxis}, expected ${newLength}`);
      }
      const old = this.tensors.get(s.pastName);
      this.tensors.set(s.pastName, next);
      if (old && old !== next) {
        // The replaced past is this cache's alone (runs return new buffers; a rewind's view is of a buffer only this
        // cache held): its memory goes now.
        const b = ownBuffer(old);
        if (b && b !== ownBuffer(next)) dead.push(b);
        old.dispose();
      }
    }
    this.len = newLength;
    this.gpuRows = Math.min(this.gpuRows, newLength);
    releaseBuffers(dead);
  }

  /**
   * Keeps the first `length` positions: slices every past tensor along its past axis. CPU tensors are
   * sliced on the host; gpu-buffer tensors on the GPU through the slicer (reading them back with getData
   * aborts onnxruntime-node 1.30's process, measured on an H200).
   */
  async rewindTo(length: number): Promise<void> {
    this.assertLive();
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new RangeError(`KvCache.rewindTo(${length}): length must be an integer in [0, ${this.length}]`);
    }
    this.gpuRows = Math.min(this.gpuRows, length);
    if (length >= this.len) {
      this.outside.length = length - this.len;
      return;
    }
    this.outside = [];
    if (this.evicted > 0) {
      // Positions after an eviction do not line up with token indices: only a cut below it is exact.
      if (length > this.evictedFrom) throw new RangeError(`KvCache.rewindTo(${length}): positions from ${this.evictedFrom} were evicted; rewind to ${this.evictedFrom} or less`);
      this.evicted = 0;
      this.evictedFrom = Infinity;
    }
    if (length === this.len) return;
    if (length === 0) {
      this.reset();
      return;
    }
    const dead: ArrayBuffer[] = [];
    for (const s of this.slots) {
      const t = this.tensors.get(s.pastName)!;
      if (t.location === 'gpu-buffer') {
        if (!this.gpuSlicer) throw new Error(`KvCache.rewindTo: '${s.pastName}' is on the GPU and no slicer was given`);
        const sliced = await this.gpuSlicer.slice(t, s.pastAxis, length, s.dtype);
        this.tensors.set(s.pastName, sliced);
        t.dispose();
        continue;
      }
      const data = t.data as KvData;
      const dims = [...t.dims];
      const outer = dims.slice(0, s.pastAxis).reduce((a, b) => a * b, 1);
      const inner = dims.slice(s.pastAxis + 1).reduce((a, b) => a * b, 1);
      const past = dims[s.pastAxis]!;
      let sliced: KvData;
      if (outer === 1) {
        // [1, past, ...]: the kept prefix is contiguous; a view needs no copy.
        sliced = data.subarray(0, length * inner);
      } else {
        // [1, kv_heads, past, head_dim]: copy each head's first `length` rows.
        sliced = new (data.constructor as { new (n: number): KvData })(outer * length * inner);
        for (let o = 0; o < outer; o++) {
          sliced.set(data.subarray(o * past * inner, o * past * inner + length * inner), o * length * inner);
        }
      }
      dims[s.pastAxis] = length;
      const next = s.dtype === 'float16' ? createTensor('float16', sliced as Uint16Array, dims) : createTensor('float32', sliced as Float32Array, dims);
      this.tensors.set(s.pastName, next);
      // copied across heads: the old buffer is dead; a contiguous view keeps it
      if (outer !== 1) {
        const b = ownBuffer(t);
        if (b) dead.push(b);
      }
      t.dispose();
    }
    this.len = length;
    releaseBuffers(dead);
  }

  /**
   * Drops positions [start, end) from every past tensor (CPU tensors only), keeping the ones before and after in
   * order: SCOPE's decode-phase KV budget (arXiv 2412.13649; decoding/generator.ts `decodeKvWindow`). The kept keys
   * carry their rotary positions already, so later tokens keep their own position ids (length + positionOffset).
   * Throws RangeError on a range outside [0, length] and on tensors on the GPU.
   */
  evict(start: number, end: number): void {
    this.assertLive();
    if (this.outside.length > 0) throw new RangeError('KvCache.evict: tokens were appended outside onnxruntime');
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.len || start > end) {
      throw new RangeError(`KvCache.evict(${start}, ${end}): need 0 <= start <= end <= ${this.len}`);
    }
    const drop = end - start;
    if (drop === 0) return;
    const dead: ArrayBuffer[] = [];
    for (const s of this.slots) {
      const t = this.tensors.get(s.pastName)!;
      if (t.location === 'gpu-buffer') throw new RangeError(`KvCache.evict: '${s.pastName}' is on the GPU (eviction is CPU-only)`);
      const data = t.data as KvData;
      const dims = [...t.dims];
      const outer = dims.slice(0, s.pastAxis).reduce((a, b) => a * b, 1);
      const inner = dims.slice(s.pastAxis + 1).reduce((a, b) => a * b, 1);
      const past = dims[s.pastAxis]!;
      const keep = past - drop;
      const out = new (data.constructor as { new (n: number): KvData })(outer * keep * inner);
      for (let o = 0; o < outer; o++) {
        const src = o * past * inner;
        const dst = o * keep * inner;
        out.set(data.subarray(src, src + start * inner), dst);
        out.set(data.subarray(src + end * inner, src + past * inner), dst + start * inner);
      }
      dims[s.pastAxis] = keep;
      const next = s.dtype === 'float16' ? createTensor('float16', out as Uint16Array, dims) : createTensor('float32', out as Float32Array, dims);
      this.tensors.set(s.pastName, next);
      const b = ownBuffer(t);
      if (b) dead.push(b);
      t.dispose();
    }
    releaseBuffers(dead);
    this.len -= drop;
    this.evicted += drop;
    this.evictedFrom = Math.min(this.evictedFrom, start);
  }

  /** Frees every tensor; the cache is unusable afterwards. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
    this.disposed = true;
    this.len = 0;
    this.outside = [];
    this.gpuRows = 0;
    this.evicted = 0;
  }

  private reset(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
    for (const s of this.slots) this.tensors.set(s.pastName, emptyTensor(s));
    this.len = 0;
    this.outside = [];
    this.gpuRows = 0;
    this.evicted = 0;
    this.evictedFrom = Infinity;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('KvCache used after dispose()');
  }
}
