// Slices GPU-resident KV tensors on the GPU with a one-node ONNX graph (onnxruntime-node cannot read gpu-buffer tensors back safely).
import { buildModel, DT, int64Tensor } from './onnx-proto.js';
import { createTensor, InferenceSession, type Session, type Tensor } from './ort.js';
import type { KvDtype } from './layout.js';

/** Keeps positions [start, start + length) of `t` along `axis` (start defaults to 0); the result stays where `t` is. */
export interface KvSlicer {
  slice(t: Tensor, axis: number, length: number, dtype: KvDtype, start?: number): Promise<Tensor>;
  dispose(): Promise<void>;
}

/**
 * A Slice session per (dtype, rank, axis) on the WebGPU provider:
 * x: [d0, .., d_{rank-1}] dtype, starts/ends: [1] int64 → y = x[..., starts:ends, ...] along `axis`, kept as a gpu-buffer.
 */
export function createGpuSlicer(): KvSlicer {
  const sessions = new Map<string, Promise<Session>>();
  const sessionFor = (dtype: KvDtype, rank: number, axis: number): Promise<Session> => {
    const key = `${dtype}/${rank}/${axis}`;
    let s = sessions.get(key);
    if (!s) {
      const elem = dtype === 'float16' ? DT.float16 : DT.float;
      const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
      const bytes = buildModel({
        nodes: [{ op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes'], outputs: ['y'] }],
        inputs: [
          { name: 'x', elemType: elem, dims },
          { name: 'starts', elemType: DT.int64, dims: [1] },
          { name: 'ends', elemType: DT.int64, dims: [1] },
        ],
        outputs: [{ name: 'y', elemType: elem, dims: dims.map((d, i) => (i === axis ? 'n' : d)) }],
        initializers: [int64Tensor('axes', [1], [axis])],
      });
      s = InferenceSession.create(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: { y: 'gpu-buffer' }, logSeverityLevel: 3 });
      sessions.set(key, s);
    }
    return s;
  };
  return {
    async slice(t, axis, length, dtype, start = 0) {
      const session = await sessionFor(dtype, t.dims.length, axis);
      const out = await session.run({
        x: t,
        starts: createTensor('int64', BigInt64Array.of(BigInt(start)), [1]),
        ends: createTensor('int64', BigInt64Array.of(BigInt(start + length)), [1]),
      });
      return out['y'] as Tensor;
    },
    async dispose() {
      for (const s of sessions.values()) await (await s).release();
      sessions.clear();
    },
  };
}

/** Copies positions [start, end) of same-shaped gpu-buffer tensors to the host, in one run and one copy. */
export interface KvDownloader {
  /** → one CPU tensor [ts.length × d0, ...] (the slices one after another along axis 0). */
  download(ts: readonly Tensor[], axis: number, start: number, end: number, dtype: KvDtype): Promise<Tensor>;
  dispose(): Promise<void>;
}

/**
 * A session per (dtype, count, rank, axis) on the WebGPU provider: x0..x{n-1} [d0, .., d_{rank-1}] dtype (same shape),
 * starts/ends [1] int64 → y = Concat(x_i[..., starts:ends, ...] along `axis`, axis 0), a CPU output (onnxruntime
 * copies it back in one transfer; reading a gpu-buffer tensor with getData aborts onnxruntime-node 1.30's process).
 * For the WGSL decoder's hand-over of a prompt's K/V rows (runtime/model.ts): one output instead of one per tensor
 * (56 at the 1.5B shape), so one GPU-to-host copy.
 */
export function createGpuDownloader(): KvDownloader {
  const sessions = new Map<string, Promise<Session>>();
  const sessionFor = (dtype: KvDtype, count: number, rank: number, axis: number): Promise<Session> => {
    const key = `${dtype}/${count}/${rank}/${axis}`;
    let s = sessions.get(key);
    if (!s) {
      const elem = dtype === 'float16' ? DT.float16 : DT.float;
      const dims = Array.from({ length: rank }, (_, d) => `d${d}`);
      const bytes = buildModel({
        nodes: [
          ...Array.from({ length: count }, (_, i) => ({ op: 'Slice', inputs: [`x${i}`, 'starts', 'ends', 'axes'], outputs: [`s${i}`] })),
          { op: 'Concat', inputs: Array.from({ length: count }, (_, i) => `s${i}`), outputs: ['y'], attrs: { axis: 0 } },
        ],
        inputs: [
          ...Array.from({ length: count }, (_, i) => ({ name: `x${i}`, elemType: elem, dims })),
          { name: 'starts', elemType: DT.int64, dims: [1] },
          { name: 'ends', elemType: DT.int64, dims: [1] },
        ],
        outputs: [{ name: 'y', elemType: elem, dims: dims.map((d, j) => (j === axis ? 'n' : j === 0 ? 'c' : d)) }],
        initializers: [int64Tensor('axes', [1], [axis])],
      });
      s = InferenceSession.create(bytes, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
      sessions.set(key, s);
    }
    return s;
  };
  return {
    async download(ts, axis, start, end, dtype) {
      const session = await sessionFor(dtype, ts.length, ts[0]?.dims.length ?? 0, axis);
      const feeds: Record<string, Tensor> = {
        starts: createTensor('int64', BigInt64Array.of(BigInt(start)), [1]),
        ends: createTensor('int64', BigInt64Array.of(BigInt(end)), [1]),
      };
      ts.forEach((t, i) => (feeds[`x${i}`] = t));
      return (await session.run(feeds))['y'] as Tensor;
    },
    async dispose() {
      for (const s of sessions.values()) await (await s).release();
      sessions.clear();
    },
  };
}
