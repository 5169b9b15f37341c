// runtime/fold.ts: the q8w dequantization chains folded in our memory give onnxruntime the very weights its own
// constant folding computes (bit for bit), the default model loads to the same logits either way, and anything
// else is left alone without an exception.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { dequantizeTransposed, foldDequantization } from '../../server/src/runtime/fold.js';
import { InferenceSession, createTensor } from '../../server/src/runtime/ort.js';
import { loadModel, type LoadedModel } from '../../server/src/runtime/index.js';
import { buildModel, DT, floatTensor, int64Tensor, type NodeInit, type TensorInit } from './helpers/onnx-writer.js';
import { createRng } from '../../server/src/util/rng.js';
import { modelTimeout } from './helpers/timeout.js';

const N = 6;
const BLOCK = 8;
const BLOCKS = 3;
const K = BLOCK * BLOCKS;

function uint8Tensor(name: string, dims: number[], values: Uint8Array): TensorInit {
  return { name, dims, dataType: DT.uint8, raw: values };
}

/** Random 8-bit blocks and scales of several magnitudes (as a trained model's are). */
function weights(seed: number) {
  const rng = createRng(seed);
  const rand = () => rng.next();
  const q = Uint8Array.from({ length: N * K }, () => Math.floor(rand() * 256));
  const scale = Float32Array.from({ length: N * BLOCKS }, () => (rand() + 0.01) * 10 ** (-4 + Math.floor(rand() * 4)));
  return { q, scale };
}

/** The chain native/py/dequant_graph.py writes for one weight, output `w.dq.wt` [K, N]. */
function chainNodes(q = 'w', s = 'w_scale'): NodeInit[] {
  return [
    { op: 'Cast', inputs: [q], outputs: ['w.dq.f'], attrs: { to: DT.float } },
    { op: 'Sub', inputs: ['w.dq.f', 'zp'], outputs: ['w.dq.c'] },
    { op: 'Reshape', inputs: [s, 'scale_shape'], outputs: ['w.dq.s'] },
    { op: 'Mul', inputs: ['w.dq.c', 'w.dq.s'], outputs: ['w.dq.w3'] },
    { op: 'Reshape', inputs: ['w.dq.w3', 'w_shape'], outputs: ['w.dq.w'] },
    { op: 'Transpose', inputs: ['w.dq.w'], outputs: ['w.dq.wt'], attrs: { perm: [1, 0] } },
  ];
}

const shapes = () => [
  floatTensor('zp', [], [128]),
  int64Tensor('scale_shape', [3], [N, BLOCKS, 1]),
  int64Tensor('w_shape', [2], [N, K]),
];

/** x [2, K] · W^T [K, N] → y, with the weight's chain on initializers (what onnxruntime folds at load). */
function matmulModel(seed: number, extra: NodeInit[] = []): Uint8Array {
  const { q, scale } = weights(seed);
  return buildModel({
    nodes: [...chainNodes(), { op: 'MatMul', inputs: ['x', 'w.dq.wt'], outputs: ['y'] }, ...extra],
    inputs: [{ name: 'x', elemType: DT.float, dims: [2, K] }],
    outputs: [{ name: 'y', elemType: DT.float, dims: [2, N] }, ...(extra.length ? [{ name: 'z', elemType: DT.float, dims: [N, K] }] : [])],
    initializers: [uint8Tensor('w', [N, BLOCKS, BLOCK], q), floatTensor('w_scale', [N, BLOCKS], scale), ...shapes()],
  });
}

describe('dequantizeTransposed', () => {
  test("equals onnxruntime's Cast/Sub/Mul/Reshape/Transpose bit for bit", async () => {
    // q and scale as graph inputs: onnxruntime cannot fold them and runs its float32 kernels.
    const bytes = buildModel({
      nodes: chainNodes(),
      inputs: [
        { name: 'w', elemType: DT.uint8, dims: [N, BLOCKS, BLOCK] },
        { name: 'w_scale', elemType: DT.float, dims: [N, BLOCKS] },
      ],
      outputs: [{ name: 'w.dq.wt', elemType: DT.float, dims: [K, N] }],
      initializers: shapes(),
    });
    const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    try {
      for (const seed of [1, 2, 3]) {
        const { q, scale } = weights(seed);
        const out = await session.run({
          w: createTensor('uint8', q, [N, BLOCKS, BLOCK]),
          w_scale: createTensor('float32', scale, [N, BLOCKS]),
        });
        const ort = out['w.dq.wt']!.data as Float32Array;
        const ours = dequantizeTransposed(q, scale, 128, N, K, BLOCK);
        expect(new Uint32Array(ours.buffer)).toEqual(new Uint32Array(ort.buffer, ort.byteOffset, ort.length));
      }
    } finally {
      await session.release();
    }
  });
});

describe('foldDequantization', () => {
  test('replaces the chain by its fp32 initializer and the model computes the same', async () => {
    const model = matmulModel(7);
    const folded = foldDequantization(model);
    if (!folded.bytes) throw new Error(folded.reason);
    expect(folded.weights).toBe(1);
    expect(folded.fp32Bytes).toBe(4 * K * N);
    const text = Buffer.from(folded.bytes).toString('latin1');
    for (const op of ['Cast', 'Sub', 'Transpose']) expect(text).not.toContain(op);
    expect(Buffer.from(model).toString('latin1')).toContain('Transpose');
    const x = Float32Array.from({ length: 2 * K }, (_, i) => Math.sin(i) * 3);
    const run = async (bytes: Uint8Array) => {
      const s = await InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      try {
        return Array.from((await s.run({ x: createTensor('float32', x, [2, K]) }))['y']!.data as Float32Array);
      } finally {
        await s.release();
      }
    };
    expect(await run(folded.bytes)).toEqual(await run(model));
  });

  test('leaves a graph alone when a chain intermediate is read elsewhere', () => {
    const r = foldDequantization(matmulModel(8, [{ op: 'Identity', inputs: ['w.dq.w'], outputs: ['z'] }]));
    expect(r.bytes).toBeNull();
    expect(r.bytes === null && r.reason).toMatch(/w\.dq\.w is read outside its chain/);
  });

  test('models without chains and broken bytes come back unfolded, without an exception', () => {
    const fixture = path.resolve('test/fixtures/models/llama/onnx/model.onnx');
    expect(foldDequantization(fs.readFileSync(fixture))).toEqual({ bytes: null, reason: 'no dequantization chains' });
    const model = matmulModel(9);
    for (const broken of [model.subarray(0, model.length - 7), Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0x0f), new Uint8Array(0), Uint8Array.of(0xff)]) {
      const r = foldDequantization(broken);
      expect(r.bytes).toBeNull();
    }
  });
});

describe('models/default', () => {
  const models: LoadedModel[] = [];
  afterAll(async () => {
    for (const m of models) await m.dispose();
  });

  test('folded at load and folded by onnxruntime give the same logits', async () => {
    const modelDir = path.resolve('models/default');
    const folded = foldDequantization(fs.readFileSync(path.join(modelDir, 'onnx/model_quantized.onnx')));
    // the 8-bit tied LM head (8192 x 512); the layers are 4-bit MatMulNBits, which onnxruntime does not fold
    expect(folded.bytes && folded.weights).toBe(1);
    const prompt = Array.from({ length: 40 }, (_, i) => (i * 97 + 13) % 8000);
    const logits: Float32Array[] = [];
    for (const foldAtLoad of [true, false]) {
      const m = await loadModel({ modelDir, device: 'cpu', intraOpNumThreads: 1, foldAtLoad });
      models.push(m);
      expect(m.foldedWeights).toBe(foldAtLoad ? 1 : 0);
      const cache = m.createCache();
      await m.forward(prompt.slice(0, 24), cache);
      logits.push(Float32Array.from((await m.forward(prompt.slice(24), cache))!));
      cache.dispose();
    }
    // Same weights, same kernels, same thread count: the same numbers, not merely close ones.
    expect(logits[0]!.length).toBe(8192);
    expect(Array.from(logits[0]!)).toEqual(Array.from(logits[1]!));
  }, modelTimeout(60_000));
});
