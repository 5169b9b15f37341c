// `device: auto`'s measured rule (runtime/device-rule.ts) and the graph scan it reads (runtime/onnx-scan.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  chooseAutoDevice,
  CPU_ONLY_MATMUL_OPS,
  matmulWeightsFromConfig,
  missingProvider,
  resolveModelFiles,
  scanOnnxGraph,
  WEBGPU_MIN_MATMUL_WEIGHTS,
  weightsFromFileBytes,
  webgpuPrefillChunk,
  webgpuScoreCappedRun,
  webgpuRunCap,
  WEBGPU_MAX_SCORE_ELEMENTS,
} from '../../server/src/runtime/index.js';
import { buildModel, DT, floatTensor } from './helpers/onnx-writer.js';
import { tempDir } from './helpers/model-dir.js';
import { ROOT } from '../e2e/spawn.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'models');

// Published config.json values of Qwen2.5-Coder-0.5B and -1.5B (Hugging Face, Qwen/Qwen2.5-Coder-*).
const QWEN_05B = { model_type: 'qwen2', hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, intermediate_size: 4864, vocab_size: 151936, tie_word_embeddings: true };
const QWEN_15B = { model_type: 'qwen2', hidden_size: 1536, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, intermediate_size: 8960, vocab_size: 151936, tie_word_embeddings: true };
const DEFAULT_CONFIG = JSON.parse(fs.readFileSync(path.join(ROOT, 'models', 'default', 'config.json'), 'utf8')) as Record<string, unknown>;

describe('matmulWeightsFromConfig', () => {
  test('counts the projections, the MLP and the LM head of the published shapes', () => {
    // q/o: 896x896 each, k/v: 896x128 each (2 KV heads of 64), MLP 3 x 896x4864, 24 layers; LM head 151,936 x 896.
    expect(matmulWeightsFromConfig(QWEN_05B)).toBe(24 * (2 * 896 * 896 + 2 * 896 * 128 + 3 * 896 * 4864) + 151936 * 896);
    expect(matmulWeightsFromConfig(QWEN_05B)).toBe(493_961_216);
    expect(matmulWeightsFromConfig(QWEN_15B)).toBe(1_543_569_408);
    // models/default: within 1% of the parameter count its training recorded (which adds norms, counts the tied
    // embedding once as the LM head, and has no separate embedding lookup cost).
    const params = ((DEFAULT_CONFIG['infill_ls'] as Record<string, unknown>)['training'] as Record<string, number>)['params']!;
    expect(Math.abs(matmulWeightsFromConfig(DEFAULT_CONFIG)! / params - 1)).toBeLessThan(0.01);
  });

  test('agrees with the weights the fixture graphs multiply (two independent counts)', () => {
    for (const name of ['llama', 'qwen2', 'gpt_bigcode', 'qwen2-q4']) {
      const files = resolveModelFiles(path.join(FIXTURES, name));
      const scan = scanOnnxGraph(files.onnxPath);
      expect(scan, name).toBeDefined();
      expect(scan!.matmulWeights, name).toBeGreaterThan(0);
      expect(matmulWeightsFromConfig(files.config), name).toBe(scan!.matmulWeights);
    }
  });

  test('is undefined without the dimensions it needs', () => {
    expect(matmulWeightsFromConfig({})).toBeUndefined();
    expect(matmulWeightsFromConfig({ hidden_size: 896, vocab_size: 10 })).toBeUndefined();
    expect(matmulWeightsFromConfig({ hidden_size: 'big', num_hidden_layers: 2, vocab_size: 10 })).toBeUndefined();
  });
});

describe('chooseAutoDevice', () => {
  test('the measured sides: models/default on the CPU, the 0.5B and 1.5B shapes on WebGPU', () => {
    const small = chooseAutoDevice({ configMatmulWeights: matmulWeightsFromConfig(DEFAULT_CONFIG) });
    expect(small.device).toBe('cpu');
    expect(small.reason).toBe('32.4M weights per token < 100M: decode is faster on the CPU at this size');
    expect(chooseAutoDevice({ configMatmulWeights: matmulWeightsFromConfig(QWEN_05B) })).toEqual({
      device: 'webgpu', matmulWeights: 493_961_216, reason: '494M weights per token ≥ 100M: WebGPU is faster at this size',
    });
    expect(chooseAutoDevice({ configMatmulWeights: matmulWeightsFromConfig(QWEN_15B) }).device).toBe('webgpu');
  });

  test('the threshold is the fitted crossover, 100M weights; the boundary belongs to WebGPU', () => {
    expect(WEBGPU_MIN_MATMUL_WEIGHTS).toBe(100e6);
    expect(chooseAutoDevice({ graphMatmulWeights: 99_999_999 }).device).toBe('cpu');
    expect(chooseAutoDevice({ graphMatmulWeights: 100_000_000 }).device).toBe('webgpu');
    expect(chooseAutoDevice({ graphMatmulWeights: 5e6, minWeights: 1e6 }).device).toBe('webgpu');
    expect(chooseAutoDevice({ graphMatmulWeights: 5e8, minWeights: 1e9 }).device).toBe('cpu');
    expect(chooseAutoDevice({ graphMatmulWeights: 5e8, minWeights: Number.NaN }).device).toBe('webgpu');
  });

  test('the larger of the two counts decides (a graph that dequantizes at load hides its weights from the scan)', () => {
    expect(chooseAutoDevice({ graphMatmulWeights: 0, configMatmulWeights: 2e8 }).device).toBe('webgpu');
    expect(chooseAutoDevice({ graphMatmulWeights: 2e8, configMatmulWeights: 5e7 }).matmulWeights).toBe(2e8);
  });

  test('integer MatMul graphs stay on the CPU at any size; unknown size lets WebGPU be probed', () => {
    for (const op of CPU_ONLY_MATMUL_OPS) {
      const c = chooseAutoDevice({ graphMatmulWeights: 2e9, opTypes: new Set(['Gather', op]) });
      expect(c.device, op).toBe('cpu');
      expect(c.reason, op).toContain(op);
    }
    expect(chooseAutoDevice({ graphMatmulWeights: 2e9, opTypes: new Set(['com.microsoft:MatMulNBits', 'MatMul']) }).device).toBe('webgpu');
    expect(chooseAutoDevice({})).toEqual({ device: 'webgpu', matmulWeights: undefined, reason: 'model size unknown' });
  });

  test('the file size decides only when neither count is known', () => {
    expect(weightsFromFileBytes(862_090_046, 'q4')).toBe(1_724_180_092); // the 0.5B genai int4 files: 494M + fp32 embedding
    expect(weightsFromFileBytes(19_646_019, 'quantized')).toBe(19_646_019);
    expect(weightsFromFileBytes(1000, 'mystery')).toBeUndefined();
    expect(chooseAutoDevice({ fileWeights: 3e5 }).device).toBe('cpu');
    expect(chooseAutoDevice({ fileWeights: 3e8 }).device).toBe('webgpu');
    expect(chooseAutoDevice({ configMatmulWeights: 5e7, fileWeights: 3e8 }).device).toBe('cpu');
  });
});

describe('missingProvider', () => {
  // The lists onnxruntime-node 1.30's listSupportedBackends() returns on linux/x64 and on linux/arm64 (read from the
  // two bindings, bench/results/arm64-tests.md), so both texts are checked on every machine.
  const X64 = ['cpu', 'webgpu', 'cuda', 'tensorrt'];
  const ARM64 = ['cpu'];

  test('a build with the provider: nothing missing (whether it can run is found when a session opens)', () => {
    expect(missingProvider('webgpu', X64, 'linux/x64')).toBeUndefined();
    expect(missingProvider('cuda', X64, 'linux/x64')).toBeUndefined();
  });

  test('a build without it: one sentence naming the build, the provider and what the build has', () => {
    expect(missingProvider('webgpu', ARM64, 'linux/arm64')).toBe('this onnxruntime-node build (linux/arm64) has no WebGPU provider (it has: cpu)');
    expect(missingProvider('cuda', ARM64, 'linux/arm64')).toBe('this onnxruntime-node build (linux/arm64) has no CUDA provider (it has: cpu)');
    expect(missingProvider('cuda', ['cpu', 'webgpu', 'coreml'], 'darwin/arm64')).toBe('this onnxruntime-node build (darwin/arm64) has no CUDA provider (it has: cpu, webgpu, coreml)');
    expect(missingProvider('webgpu', [], 'x/y')).toBe('this onnxruntime-node build (x/y) has no WebGPU provider (it has: none listed)');
  });

  test('the CPU is never missing', () => {
    expect(missingProvider('cpu', ARM64, 'linux/arm64')).toBeUndefined();
    expect(missingProvider('cpu', [], 'x/y')).toBeUndefined();
  });
});

describe('scanOnnxGraph', () => {
  test('reads operator types with their domains and the weights of MatMul, MatMulInteger and MatMulNBits', () => {
    const dir = tempDir();
    const file = path.join(dir, 'model.onnx');
    const w = (name: string, dims: number[]) => floatTensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));
    fs.writeFileSync(file, buildModel({
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['a'] },
        { op: 'MatMulInteger', inputs: ['a', 'w2'], outputs: ['b'] },
        { op: 'MatMulNBits', inputs: ['b', 'q', 's'], outputs: ['c'], domain: 'com.microsoft', attrs: { K: 6, N: 7, bits: 4, block_size: 32 } },
        { op: 'MatMul', inputs: ['c', 'c'], outputs: ['y'] }, // not a weight: counts nothing
      ],
      inputs: [{ name: 'x', elemType: DT.float, dims: [1, 4] }],
      outputs: [{ name: 'y', elemType: DT.float, dims: [1, 7] }],
      initializers: [w('w1', [4, 5]), w('w2', [5, 6])],
    }));
    const scan = scanOnnxGraph(file)!;
    expect([...scan.opTypes].sort()).toEqual(['MatMul', 'MatMulInteger', 'com.microsoft:MatMulNBits']);
    expect(scan.matmulWeights).toBe(4 * 5 + 5 * 6 + 6 * 7);
    expect(scan.nodes).toBe(4);
    expect(chooseAutoDevice({ graphMatmulWeights: 2e9, opTypes: scan.opTypes }).device).toBe('cpu');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the fused fixture: GroupQueryAttention and MatMulNBits in the com.microsoft domain', () => {
    const scan = scanOnnxGraph(resolveModelFiles(path.join(FIXTURES, 'qwen2-genai')).onnxPath)!;
    for (const op of ['GroupQueryAttention', 'MatMulNBits', 'RotaryEmbedding', 'SkipSimplifiedLayerNormalization']) expect(scan.opTypes.has(`com.microsoft:${op}`), op).toBe(true);
  });

  test('a missing, empty, truncated or non-ONNX file gives undefined, not an exception', () => {
    const dir = tempDir();
    const good = fs.readFileSync(resolveModelFiles(path.join(FIXTURES, 'llama')).onnxPath);
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      text: Buffer.from('{"not": "onnx"}\n'),
      truncated: good.subarray(0, Math.floor(good.length / 2)),
      random: Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      fs.writeFileSync(path.join(dir, name), bytes);
      expect(scanOnnxGraph(path.join(dir, name)), name).toBeUndefined();
    }
    expect(scanOnnxGraph(path.join(dir, 'missing.onnx'))).toBeUndefined();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('WebGPU prefill run size follows the attention operator (webgpuPrefillChunk)', () => {
  test('fused attention (the genai layout): 4,096; MatMul + Softmax attention (Optimum layout): 512', () => {
    const genai = scanOnnxGraph(resolveModelFiles(path.join(FIXTURES, 'qwen2-genai')).onnxPath);
    const optimum = scanOnnxGraph(resolveModelFiles(path.join(FIXTURES, 'qwen2-q4')).onnxPath);
    expect(genai?.opTypes.has('com.microsoft:GroupQueryAttention')).toBe(true);
    expect(optimum?.opTypes.has('Softmax')).toBe(true);
    expect(webgpuPrefillChunk(genai?.opTypes)).toBe(4096);
    expect(webgpuPrefillChunk(optimum?.opTypes)).toBe(512);
  });

  test('an unreadable graph gets the size that is safe for either kind', () => {
    expect(webgpuPrefillChunk(undefined)).toBe(512);
    expect(webgpuPrefillChunk(new Set(['MatMul', 'Softmax']))).toBe(512);
    expect(webgpuPrefillChunk(new Set(['com.microsoft:MultiHeadAttention']))).toBe(4096);
  });
});

describe('WebGPU runs of MatMul + Softmax graphs shrink at depth (webgpuScoreCappedRun)', () => {
  const scores = (heads: number, run: number, past: number) => heads * run * (past + run);
  test('runs that stayed fast in the measurements are left whole; the ones that hit the cliff are cut below it', () => {
    // fast: 0.5B shape (14 heads) run 512 ending at 5,632 positions (40.4M elements); slow: ending at 6,144 (44.0M)
    expect(webgpuScoreCappedRun(512, 0, 14)).toBe(512);
    expect(webgpuScoreCappedRun(512, 4096, 14)).toBe(512);
    for (const [heads, past] of [[14, 5632], [14, 7680], [12, 6656], [12, 7680], [14, 30000]] as const) {
      const r = webgpuScoreCappedRun(512, past, heads);
      expect(r).toBeLessThan(512);
      expect(scores(heads, r, past)).toBeLessThanOrEqual(WEBGPU_MAX_SCORE_ELEMENTS);
      expect(scores(heads, r + 1, past)).toBeGreaterThan(WEBGPU_MAX_SCORE_ELEMENTS); // the longest that fits
      expect(WEBGPU_MAX_SCORE_ELEMENTS).toBeLessThan(40.4e6); // under every measured fast run
    }
  });

  test('webgpuRunCap: the cap for MatMul + Softmax graphs with known heads, none for fused attention or unknown heads', () => {
    const softmax = new Set(['MatMul', 'Softmax']);
    expect(webgpuRunCap(softmax, QWEN_05B)?.(512, 7680)).toBe(webgpuScoreCappedRun(512, 7680, 14));
    expect(webgpuRunCap(undefined, QWEN_05B)?.(512, 7680)).toBe(300); // unreadable graph: treated as unfused, as the run size
    expect(webgpuRunCap(new Set(['com.microsoft:GroupQueryAttention']), QWEN_05B)).toBeUndefined();
    expect(webgpuRunCap(softmax, { hidden_size: 896 })).toBeUndefined();
  });

  test('floor of 16 tokens, never above the run, unknown heads or bad input leave the run alone', () => {
    expect(webgpuScoreCappedRun(512, 10_000_000, 14)).toBe(16);
    expect(webgpuScoreCappedRun(8, 10_000_000, 14)).toBe(8);
    expect(webgpuScoreCappedRun(100, 0, 1)).toBe(100);
    expect(webgpuScoreCappedRun(512, 7680, undefined)).toBe(512);
    expect(webgpuScoreCappedRun(512, 7680, 0)).toBe(512);
    expect(webgpuScoreCappedRun(512, Number.NaN, 14)).toBe(512);
  });
});
