// Reused buffers for a run's present (KV) outputs on the CPU (issue 15). Left to itself, onnxruntime-node copies every
// output of a run into a new ArrayBuffer: at the Qwen2.5-Coder-0.5B shape a decode step at ~700 positions of past
// makes 48 present tensors, ~17 MB of new external memory per step, whose copy, fresh pages and the mark-compact
// collections that external memory pressure sets off cost about as much as the step's own arithmetic on the 2-core
// development machine. onnxruntime writes an output into a tensor the caller passes as that output's fetch (a
// pre-allocated output): here, a view of the exact present shape into a buffer kept from an earlier run. The
// computation is the same kernel writing the same values to another address, so logits and KV are bitwise the same.
//
// Ownership: one spare buffer per KV slot, held by the pool between runs. `take` hands the spares out (the pool then
// holds none, so an overlapping run would allocate its own), `recycle` takes back the buffers of the past tensors a
// run replaced, which the KV cache no longer references: a cache's tensors are views into buffers that only that cache
// holds (runtime/kv-cache.ts copies when it rewinds across heads or evicts; a contiguous rewind keeps a view of a
// buffer the cache alone owns). The larger of two candidate buffers is kept, so a spare grows to the longest past seen
// plus headroom; `dispose` lets them all go.
import { createTensor, type Tensor } from './ort.js';
import type { KvSlot } from './layout.js';

type KvData = Float32Array | Uint16Array;

/** Positions of headroom allocated past a run's need when a spare is too small: decode steps grow the past by one. */
const HEADROOM_MIN = 64;
const HEADROOM_FRACTION = 0.25;

export class PresentPool {
  /** Spare buffers by slot index: views over a whole ArrayBuffer, or null when none is held. */
  private spare: (KvData | null)[];
  /** Fetches made since construction / buffers allocated because no spare was large enough (tests, benches). */
  readonly stats = { runs: 0, allocated: 0, recycled: 0 };

  constructor(private readonly slots: readonly KvSlot[]) {
    this.spare = slots.map(() => null);
  }

  /**
   * Pre-allocated present outputs for a run whose past tensors are `pasts` (by past name, as KvCache.fill wrote them)
   * and whose presents hold `total` positions: by present name, a tensor of the past's dtype and dims with the past axis
   * set to `total`, viewing a spare buffer (taken from the pool) or a new one with headroom. Returns null when a past
   * is not a CPU tensor (the run then lets onnxruntime allocate). `total` ≥ 1.
   */
  take(pasts: Readonly<Record<string, Tensor>>, total: number): Record<string, Tensor> | null {
    const out: Record<string, Tensor> = {};
    const taken: (KvData | null)[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      const past = pasts[s.pastName];
      if (!past || past.location !== 'cpu' || (past.type !== 'float32' && past.type !== 'float16')) {
        this.giveBack(taken);
        return null;
      }
      const dims = [...past.dims];
      dims[s.pastAxis] = total;
      const n = dims.reduce((a, b) => a * b, 1);
      let buf = this.spare[i] ?? null;
      this.spare[i] = null;
      const f16 = past.type === 'float16';
      if (!buf || buf.length < n || buf instanceof Uint16Array !== f16) {
        const perPosition = n / total;
        const cap = Math.ceil(perPosition * (total + Math.max(HEADROOM_MIN, Math.ceil(total * HEADROOM_FRACTION))));
        buf = f16 ? new Uint16Array(cap) : new Float32Array(cap);
        this.stats.allocated++;
      }
      taken.push(buf);
      out[s.presentName] = f16 ? createTensor('float16', (buf as Uint16Array).subarray(0, n), dims) : createTensor('float32', (buf as Float32Array).subarray(0, n), dims);
    }
    this.stats.runs++;
    return out;
  }

  /**
   * The data arrays of a run's past tensors (by past name, as KvCache.fill wrote them), read before the cache replaces
   * (and disposes) them: what `recycle` takes back after the replace. CPU float tensors only; others are left out.
   */
  snapshot(pasts: Readonly<Record<string, Tensor>>): Record<string, KvData> {
    const out: Record<string, KvData> = {};
    for (const s of this.slots) {
      const t = pasts[s.pastName];
      if (t && t.location === 'cpu' && (t.type === 'float32' || t.type === 'float16')) out[s.pastName] = t.data as KvData;
    }
    return out;
  }

  /**
   * Takes back the buffers under `replaced` (a `snapshot` of the past tensors a run's presents replaced in a KV cache,
   * which references them no more), keeping per slot the larger of it and the spare held. A buffer that was detached
   * (transferred) or is shared memory is skipped.
   */
  recycle(replaced: Readonly<Record<string, KvData>>): void {
    for (let i = 0; i < this.slots.length; i++) {
      const data = replaced[this.slots[i]!.pastName];
      if (!data || !(data.buffer instanceof ArrayBuffer) || data.buffer.byteLength === 0) continue;
      const whole = data instanceof Float32Array ? new Float32Array(data.buffer) : new Uint16Array(data.buffer);
      const held = this.spare[i];
      if (!held || held.buffer.byteLength < whole.buffer.byteLength) {
        this.spare[i] = whole;
        this.stats.recycled++;
      }
    }
  }

  /** Returns the buffers of a `take` whose run failed (by present name). */
  giveBack(fetches: Readonly<Record<string, Tensor>> | (KvData | null)[] | null): void {
    if (!fetches) return;
    if (Array.isArray(fetches)) {
      fetches.forEach((b, i) => {
        if (b && !this.spare[i]) this.spare[i] = b;
      });
      return;
    }
    const asPast: Record<string, KvData> = {};
    for (const s of this.slots) {
      const t = fetches[s.presentName];
      if (t) asPast[s.pastName] = t.data as KvData;
    }
    this.recycle(asPast);
  }

  /** True once `verify` found a run's returned presents equal to the pre-allocated ones. */
  verified = false;

  /**
   * Whether onnxruntime wrote a run's presents into the pre-allocated tensors `pre` (by present name): every element
   * of each equals the present the run returned in `out` (bitwise; NaN payloads compared as bits). Sets `verified` when
   * they agree. Called on a pool's first run.
   */
  verify(pre: Readonly<Record<string, Tensor>>, out: Readonly<Record<string, Tensor>>): boolean {
    for (const s of this.slots) {
      const a = pre[s.presentName];
      const b = out[s.presentName];
      if (!a || !b || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return false;
      if (a === b) continue;
      const x = a.data as KvData;
      const y = b.data as KvData;
      if (x.length !== y.length) return false;
      const xi = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      const yi = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
      for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return false;
    }
    this.verified = true;
    return true;
  }

  /** Bytes held in spare buffers. */
  get bytes(): number {
    return this.spare.reduce((a, b) => a + (b ? b.buffer.byteLength : 0), 0);
  }

  dispose(): void {
    this.spare = this.slots.map(() => null);
  }
}
