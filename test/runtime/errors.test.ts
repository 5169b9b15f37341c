// Load failures give one ModelLoadError naming the file and the problem; device 'auto' falls back to the CPU with a reason.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadModel, missingProvider, supportedBackends } from '../../server/src/runtime/index.js';
import { loadBundle } from '../../server/src/engine/load.js';
import { ModelLoadError } from '../../server/src/util/errors.js';
import { buildModel, DT } from './helpers/onnx-writer.js';
import { tempDir, writeSyntheticModelDir } from './helpers/model-dir.js';
import { tinyTokenizer } from './helpers/tiny-tokenizer.js';

async function loadError(p: Promise<unknown>): Promise<ModelLoadError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelLoadError);
  return e as ModelLoadError;
}

describe('missing files', () => {
  test('directory', async () => {
    const dir = path.join(tempDir(), 'nope');
    const e = await loadError(loadModel({ modelDir: dir, device: 'cpu' }));
    expect(e.code).toBe('missing-file');
    expect(e.file).toBe(dir);
    expect(e.message).toBe(`${dir}: model directory not found`);
  });

  test.each(['config.json', 'tokenizer.json'])('%s', async (name) => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    fs.rmSync(path.join(d.dir, name));
    const e = await loadError(loadBundle({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('missing-file');
    expect(e.file).toBe(path.join(d.dir, name));
    expect(e.message).toMatch(/file not found/);
  });

  test('onnx/model.onnx', async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    fs.rmSync(path.join(d.dir, 'onnx', 'model.onnx'));
    const e = await loadError(loadModel({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('missing-file');
    expect(e.file).toBe(path.join(d.dir, 'onnx', 'model.onnx'));
  });

  test('a requested dtype that is not there', async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    const e = await loadError(loadModel({ modelDir: d.dir, device: 'cpu', dtype: 'q4' }));
    expect(e.file).toBe(path.join(d.dir, 'onnx', 'model_q4.onnx'));
  });
});

describe('dtype choice', () => {
  test('on the CPU the quantized file is preferred, config.json dtype wins', async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    fs.copyFileSync(path.join(d.dir, 'onnx', 'model.onnx'), path.join(d.dir, 'onnx', 'model_quantized.onnx'));
    const m = await loadModel({ modelDir: d.dir, device: 'cpu' });
    expect(m.files.dtype).toBe('quantized');
    expect(m.files.onnxPath).toBe(path.join(d.dir, 'onnx', 'model_quantized.onnx'));
    await m.dispose();
    const cfg = JSON.parse(fs.readFileSync(path.join(d.dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d.dir, 'config.json'), JSON.stringify({ ...cfg, dtype: 'fp32' }));
    const m2 = await loadModel({ modelDir: d.dir, device: 'cpu' });
    expect(m2.files.dtype).toBe('fp32');
    await m2.dispose();
  });
});

describe('corrupt files', () => {
  test('garbage bytes in model.onnx', async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    const file = path.join(d.dir, 'onnx', 'model.onnx');
    fs.writeFileSync(file, Buffer.from('this is not a protobuf \x00\xff\xfe garbage'.repeat(20), 'latin1'));
    const e = await loadError(loadModel({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('corrupt-file');
    expect(e.file).toBe(file);
    expect(e.message.startsWith(`${file}: is not a loadable ONNX model`)).toBe(true);
  });

  test('empty model.onnx', async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    const file = path.join(d.dir, 'onnx', 'model.onnx');
    fs.writeFileSync(file, '');
    const e = await loadError(loadModel({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('corrupt-file');
    expect(e.message).toBe(`${file}: is empty`);
  });

  test('config.json that is not JSON', async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    fs.writeFileSync(path.join(d.dir, 'config.json'), '{"model_type": ');
    const e = await loadError(loadModel({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('corrupt-file');
    expect(e.file).toBe(path.join(d.dir, 'config.json'));
  });
});

describe('tokenizer that does not match the model', () => {
  test('more tokens than logits', async () => {
    const tok = tinyTokenizer();
    const d = writeSyntheticModelDir({ layout: 'per-layer', tokenizer: tok, vocab: tok.vocabSize - 5, config: { vocab_size: undefined } });
    const e = await loadError(loadBundle({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('vocab-mismatch');
    expect(e.file).toBe(path.join(d.dir, 'tokenizer.json'));
    expect(e.message).toMatch(new RegExp(`has ${tok.vocabSize} tokens but the model .* has only ${tok.vocabSize - 5} logits`));
  });

  test('far fewer tokens than logits', async () => {
    const tok = tinyTokenizer();
    const d = writeSyntheticModelDir({ layout: 'per-layer', tokenizer: tok, vocab: 4096, config: { vocab_size: undefined } });
    const e = await loadError(loadBundle({ modelDir: d.dir, device: 'cpu' }));
    expect(e.code).toBe('vocab-mismatch');
    expect(e.message).toMatch(/has \d+ tokens but the model .* has 4096 logits/);
  });

  test('a small padding of the LM head is accepted', async () => {
    const tok = tinyTokenizer();
    const d = writeSyntheticModelDir({ layout: 'per-layer', tokenizer: tok, vocab: tok.vocabSize + 64 });
    const b = await loadBundle({ modelDir: d.dir, device: 'cpu' });
    expect(b.model.vocabSize).toBe(tok.vocabSize + 64);
    expect(b.template?.family).toBe('starcoder');
    await b.model.dispose();
  });
});

describe('unsupported layouts', () => {
  function writeOnnx(bytes: Uint8Array) {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    const file = path.join(d.dir, 'onnx', 'model.onnx');
    fs.writeFileSync(file, bytes);
    return file;
  }

  test('no KV cache inputs', async () => {
    const file = writeOnnx(
      buildModel({
        nodes: [{ op: 'Cast', inputs: ['input_ids'], outputs: ['logits'], attrs: { to: DT.float } }],
        inputs: [{ name: 'input_ids', elemType: DT.int64, dims: ['b', 's'] }],
        outputs: [{ name: 'logits', elemType: DT.float, dims: ['b', 's'] }],
      }),
    );
    const e = await loadError(loadModel({ modelDir: path.dirname(path.dirname(file)), device: 'cpu' }));
    expect(e.code).toBe('unsupported-layout');
    expect(e.file).toBe(file);
    expect(e.message).toMatch(/no past_key_values\.\* inputs/);
  });

  test('an input infill-ls cannot feed', async () => {
    const file = writeOnnx(
      buildModel({
        nodes: [
          { op: 'Add', inputs: ['input_ids', 'token_type_ids'], outputs: ['x'] },
          { op: 'Cast', inputs: ['x'], outputs: ['logits'], attrs: { to: DT.float } },
        ],
        inputs: [
          { name: 'input_ids', elemType: DT.int64, dims: ['b', 's'] },
          { name: 'token_type_ids', elemType: DT.int64, dims: ['b', 's'] },
        ],
        outputs: [{ name: 'logits', elemType: DT.float, dims: ['b', 's'] }],
      }),
    );
    const e = await loadError(loadModel({ modelDir: path.dirname(path.dirname(file)), device: 'cpu' }));
    expect(e.code).toBe('unsupported-layout');
    expect(e.message).toMatch(/token_type_ids/);
  });
});

// What the onnxruntime-node build under test offers, as the runtime reads it: linux/x64 1.30 lists cpu, webgpu, cuda
// and tensorrt; linux/arm64 only cpu. Each device test asserts the behaviour for the build it runs on (no platform
// table); test/runtime/device-rule.test.ts checks the missing-provider text for both lists on every machine.
const BACKENDS = supportedBackends().map((b) => b.name);
const BUILD = `${process.platform}/${process.arch}`;
const NO_WEBGPU = missingProvider('webgpu', BACKENDS, BUILD);
const NO_CUDA = missingProvider('cuda', BACKENDS, BUILD);

describe('devices', () => {
  test("'auto' uses WebGPU when an adapter exists, else falls back to the CPU and says why", async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    const messages: string[] = [];
    const m = await loadModel({ modelDir: d.dir, device: 'auto', webgpuMinWeights: 0, onStatus: (s) => messages.push(s) });
    if (m.device === 'cpu') {
      // This development machine: no GPU adapter (linux/x64), or a build without the WebGPU provider (linux/arm64).
      expect(m.fallbackReason).toMatch(/^webgpu unavailable: /);
      if (NO_WEBGPU) expect(m.fallbackReason).toBe(`webgpu unavailable: ${NO_WEBGPU}`);
      expect(messages.at(-1)).toContain(m.fallbackReason); // the load's last status line says why (probed or not)
      const explicit = await loadModel({ modelDir: d.dir, device: 'webgpu' }).then(
        (w) => w,
        (e: unknown) => e,
      );
      if (explicit instanceof ModelLoadError || !(explicit && typeof explicit === 'object' && 'device' in explicit)) {
        const e = await loadError(Promise.reject(explicit));
        expect(e.code).toBe('device-unavailable');
        expect(e.message).toMatch(/cannot run on webgpu/);
        if (NO_WEBGPU) expect(e.message).toContain(`cannot run on webgpu: ${NO_WEBGPU}; use device auto or cpu`);
      } else {
        // Asked for explicitly, WebGPU runs on the software adapter (Mesa's lavapipe) that auto declines without a GPU
        // device node (runtime/gpu-nodes.ts).
        expect(m.fallbackReason).toMatch(/^webgpu unavailable: no GPU device \(/);
        expect(explicit.device).toBe('webgpu');
        await explicit.dispose();
      }
    } else {
      expect(NO_WEBGPU).toBeUndefined();
      expect(m.device).toBe('webgpu');
      expect(m.fallbackReason).toBeUndefined();
    }
    await m.dispose();
  });

  test("'auto' keeps a model below the measured size threshold on the CPU without probing WebGPU, and says why", async () => {
    const d = writeSyntheticModelDir({ layout: 'per-layer', onnxName: 'model_quantized.onnx' });
    const messages: string[] = [];
    const m = await loadModel({ modelDir: d.dir, device: 'auto', onStatus: (s) => messages.push(s) });
    expect(m.device).toBe('cpu');
    expect(m.files.dtype).toBe('quantized');
    if (NO_WEBGPU) {
      // A build without WebGPU has nothing to weigh: the reason is the missing provider, in the load's one status line.
      expect(m.fallbackReason).toBe(`webgpu unavailable: ${NO_WEBGPU}`);
      expect(messages).toEqual([expect.stringMatching(/ \(quantized\) on cpu — webgpu unavailable: this onnxruntime-node build/)]);
      await m.dispose();
      return;
    }
    expect(m.fallbackReason).toMatch(/^webgpu skipped: model_quantized\.onnx: [0-9.]+M weights per token < 100M: decode is faster on the CPU at this size$/);
    expect(messages[0]).toBe(m.fallbackReason);
    // The same model with the threshold lowered to its size is tried on WebGPU (here: no adapter, or it runs there).
    const lowered = await loadModel({ modelDir: d.dir, device: 'auto', webgpuMinWeights: 1, onStatus: () => {} });
    expect(lowered.fallbackReason ?? '').not.toMatch(/webgpu skipped/);
    await lowered.dispose();
    await m.dispose();
  });

  test("'cuda' is a device error that says why where it cannot run, and computes the CPU's logits where it can", async () => {
    // Which side runs depends on the machine, not on the test: a build without the CUDA provider (linux/arm64,
    // darwin) and a build with it but no CUDA libraries (this development machine) must fail as a device error with
    // a reason; a machine with the libraries and a GPU must run the model and agree with the CPU.
    const d = writeSyntheticModelDir({ layout: 'per-layer' });
    const loaded = await loadModel({ modelDir: d.dir, device: 'cuda' }).then(
      (m) => ({ m }),
      (e: unknown) => ({ e }),
    );
    if ('e' in loaded) {
      expect(loaded.e).toBeInstanceOf(ModelLoadError);
      const e = loaded.e as ModelLoadError;
      expect(e.code).toBe('device-unavailable');
      if (NO_CUDA) expect(e.message).toContain(`cannot run on cuda: ${NO_CUDA}; use device auto or cpu`);
      // the provider is listed: the reason is the provider's own failure (here: "CUDA libraries missing (…)")
      else expect(e.message).toMatch(/cannot run on cuda: \S/);
      return;
    }
    const gpu = loaded.m;
    expect(NO_CUDA).toBeUndefined();
    expect(gpu.device).toBe('cuda');
    const cpu = await loadModel({ modelDir: d.dir, device: 'cpu' });
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const [gc, cc] = [gpu.createCache(), cpu.createCache()];
    const g = Float32Array.from((await gpu.forward(ids, gc))!);
    const c = Float32Array.from((await cpu.forward(ids, cc))!);
    gc.dispose();
    cc.dispose();
    await gpu.dispose();
    await cpu.dispose();
    expect(g.length).toBe(c.length);
    // The same fp32 graph: only summation order (and, if CUDA picks TF32 matrix products, ~1e-3 relative rounding)
    // may differ, so 1% of the largest logit (the synthetic model's reach ±10) separates rounding from a wrong result.
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < c.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(g[i]! - c[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(c[i]!));
    }
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThanOrEqual(1e-2 * maxAbs);
  });
});
