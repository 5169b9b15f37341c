// Our own WebGPU decode step (issue 15: runtime/wgsl-decode.ts behind LoadedModel.forward, LoadModelOptions.wgslDecode)
// on the genai-layout fixtures, run on the machine's WebGPU adapter: Mesa's lavapipe on CI (mesa-vulkan-drivers,
// installed by .ci/install-editors.sh), a GPU where there is one. Tolerances: golden tokens are PyTorch's greedy
// continuation with a top-2 margin of at least 0.13 (fp16 fixture 0.30) along each path (golden.json), far above the
// differences of these kernels from onnxruntime's (measured ≤ 3.4e-5 for the fp32 fixtures, ≤ 0.22 for the fp16 one,
// whose onnxruntime graph rounds activations to fp16 and ours does not; on lavapipe and on an H200): token equality is
// the tolerance-aware check there, and logits are compared with onnxruntime's within a stated bound.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { loadModel, type LoadedModel } from '../../server/src/runtime/model.js';
import { KvCache } from '../../server/src/runtime/kv-cache.js';
import { readGenaiWeights, UnsupportedLayout } from '../../server/src/runtime/genai-weights.js';
import { resolveModelFiles } from '../../server/src/runtime/model-files.js';
import { Generator } from '../../server/src/decoding/index.js';
import { WgslDecoder } from '../../server/src/runtime/wgsl-decode.js';
import { modelTimeout } from './helpers/timeout.js';

// lavapipe runs the kernels on the CPU: ~2 s a test alone, 10x that on a loaded 2-core machine (seen once at 20 s)
vi.setConfig({ testTimeout: modelTimeout(120_000), hookTimeout: modelTimeout(120_000) });

const root = path.resolve(__dirname, '../fixtures/models');
// qwen2-genai-packed and -fused hold qwen2-genai's weights (q/k/v packed into GroupQueryAttention; q/k/v and gate/up
// each one product + Split), so the reader must give the same matrices
const fixtures = ['qwen2-genai', 'qwen2-genai-fp16', 'qwen2-genai-packed', 'qwen2-genai-fused'] as const;
type Golden = { min_margin: number; cases: { input_ids: number[]; greedy: number[] }[] };
const golden = (name: string) => JSON.parse(fs.readFileSync(path.join(root, name, 'golden.json'), 'utf8')) as Golden;
// largest |logit difference| from onnxruntime's WebGPU graph accepted (see the file comment)
const tolerance = (name: string) => (name === 'qwen2-genai-fp16' ? 0.3 : 1e-3);

const models: LoadedModel[] = [];
afterAll(async () => {
  for (const m of models) await m.dispose();
});
async function open(name: string, wgslDecode: boolean, status?: string[]): Promise<LoadedModel> {
  const m = await loadModel({ modelDir: path.join(root, name), device: 'webgpu', wgslDecode, onStatus: (s) => status?.push(s) });
  models.push(m);
  return m;
}
const argmax = (a: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[b]!) b = i;
  return b;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

describe('genai weights reader (pure)', () => {
  test('follows each fixture graph to the same weights: shapes, and packed or fused products equal to the separate ones', () => {
    const read = (name: string) => {
      const files = resolveModelFiles(path.join(root, name));
      return readGenaiWeights(files.onnxPath, files.config);
    };
    const plain = read('qwen2-genai');
    const packed = read('qwen2-genai-packed');
    const fused = read('qwen2-genai-fused');
    const half = read('qwen2-genai-fp16');
    const same = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    expect([plain.layers, plain.hidden, plain.heads, plain.kvHeads, plain.headDim, plain.vocab]).toEqual([2, 64, 4, 2, 16, 327]);
    expect(plain.layer[0]!.qkv.rows).toBe((4 + 2 * 2) * 16);
    expect(plain.layer[0]!.gateUp.rows).toBe(2 * plain.inter);
    // qwen2-genai-packed has qwen2-genai's weights (same seed) in one qkv_proj: the reader stacks them the same way
    for (let l = 0; l < 2; l++) {
      for (const other of [packed, fused]) {
        for (const k of ['qkv', 'o', 'gateUp', 'down'] as const) {
          expect(same(other.layer[l]![k].words, plain.layer[l]![k].words), k).toBe(true);
          expect(same(other.layer[l]![k].scales, plain.layer[l]![k].scales), k).toBe(true);
        }
        expect(Array.from(other.layer[l]!.qkvBias)).toEqual(Array.from(plain.layer[l]!.qkvBias));
        expect(Array.from(other.layer[l]!.ln2)).toEqual(Array.from(plain.layer[l]!.ln2));
      }
    }
    expect(same(fused.lmHead.words, plain.lmHead.words) && same(fused.norm, plain.norm) && same(fused.cos, plain.cos)).toBe(true);
    expect(plain.eps).toBeCloseTo(1e-6, 12); // SimplifiedLayerNormalization's epsilon attribute
    expect(plain.layer[0]!.qkv.scaleF32).toBe(true);
    expect(half.layer[0]!.qkv.scaleF32).toBe(false); // fp16 scales, read as pairs by the kernels
    expect(half.embed).toBeInstanceOf(Uint16Array);
  });

  test('a model in another layout is refused with UnsupportedLayout naming what is missing', () => {
    const files = resolveModelFiles(path.join(root, 'qwen2'));
    expect(() => readGenaiWeights(files.onnxPath, files.config)).toThrow(UnsupportedLayout);
    expect(() => readGenaiWeights(files.onnxPath, files.config)).toThrow(/0 GroupQueryAttention nodes for 2 layers/);
  });
});

test.each([true, false])('the decoder alone (subgroups %s), every token one step from an empty cache, gives the golden tokens', async (subgroups) => {
  for (const name of fixtures) {
    const files = resolveModelFiles(path.join(root, name));
    const w = readGenaiWeights(files.onnxPath, files.config);
    const d = await WgslDecoder.open(w, { maxContext: 256, kvDtype: name === 'qwen2-genai-fp16' ? 'float16' : 'float32', eps: w.eps, subgroups });
    try {
      for (const c of golden(name).cases) {
        let pos = 0;
        let row = (await d.step(c.input_ids[0]!, pos++)).logits;
        for (const t of c.input_ids.slice(1)) row = (await d.step(t, pos++)).logits;
        const got: number[] = [];
        for (let i = 0; i < c.greedy.length; i++) {
          got.push(argmax(row));
          if (i + 1 < c.greedy.length) row = (await d.step(got[i]!, pos++)).logits;
        }
        expect(got, name).toEqual(c.greedy);
      }
    } finally {
      d.dispose();
    }
  }
});

describe('genai weights reader, external data', () => {
  // protobuf fields: varint (wire type 0) and length-delimited (2)
  const varint = (n: number) => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
    out.push(n);
    return out;
  };
  const fv = (no: number, v: number) => [...varint(no << 3), ...varint(v)];
  const fb = (no: number, b: number[] | Buffer) => [...varint((no << 3) | 2), ...varint(b.length), ...b];
  const entry = (k: string, v: string) => fb(13, [...fb(1, [...Buffer.from(k)]), ...fb(2, [...Buffer.from(v)])]);

  test('a model in another layout is refused at its first missing name, before any external data is read', () => {
    // one initializer whose external data file does not exist: reading it would fail with ENOENT, not UnsupportedLayout
    const init = [...fv(1, 1024), ...fv(1, 1024), ...fv(2, 1), ...fb(8, [...Buffer.from('model.embed_tokens.weight')]), ...entry('location', 'absent.onnx.data'), ...entry('offset', '0'), ...entry('length', String(4 << 20)), ...fv(14, 1)];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-genai-ext-'));
    try {
      const file = path.join(dir, 'model.onnx');
      fs.writeFileSync(file, Buffer.from(fb(7, fb(5, init))));
      const config = { hidden_size: 1024, num_hidden_layers: 1, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 1024 };
      expect(() => readGenaiWeights(file, config)).toThrow(UnsupportedLayout);
      expect(() => readGenaiWeights(file, config)).toThrow(/0 GroupQueryAttention nodes for 1 layers/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('KvCache tokens appended outside onnxruntime (pure)', () => {
  const slots = [{ pastName: 'p.k', presentName: 'q.k', layer: 0, part: 'key' as const, dtype: 'float32' as const, emptyDims: [1, 1, 0, 2], pastAxis: 2 }];
  test('count in length, survive a rewind into them, are dropped by a rewind below them, and block fill until taken', async () => {
    const c = new KvCache(slots);
    c.replace({ 'q.k': { dims: [1, 1, 3, 2], data: new Float32Array(6), location: 'cpu', type: 'float32', dispose() {} } as never }, 3);
    c.appendOutside(7);
    c.appendOutside(8);
    c.gpuRows = 5;
    expect([c.length, c.onnxLength]).toEqual([5, 3]);
    expect(() => c.fill({})).toThrow(/takeOutside/);
    await c.rewindTo(4);
    expect([c.length, c.onnxLength, c.gpuRows]).toEqual([4, 3, 4]);
    expect(c.takeOutside()).toEqual([7]);
    expect(c.length).toBe(3);
    c.appendOutside(9);
    await c.rewindTo(2);
    expect([c.length, c.onnxLength, c.gpuRows]).toEqual([2, 2, 2]);
    expect(c.takeOutside()).toEqual([]);
    await expect(c.rewindTo(3)).rejects.toThrow(RangeError);
    c.dispose();
  });
});

describe.each(fixtures)('WGSL decode step on %s', (name) => {
  const g = golden(name);

  test('greedy decoding through the Generator matches PyTorch; every decode step ran in the WGSL kernels', async () => {
    const status: string[] = [];
    const m = await open(name, true, status);
    expect(m.wgslDecode, status.join('\n')).toBeDefined();
    expect(status.some((s) => s.startsWith('wgslDecode on:'))).toBe(true);
    const before = m.wgslSteps;
    let steps = 0;
    for (const c of g.cases) {
      const gen = new Generator(m);
      gen.appendTokens(c.input_ids);
      const got: number[] = [];
      for (let i = 0; i < c.greedy.length; i++) {
        const logits = await gen.computeLogits();
        if ('cancelled' in logits) throw new Error('cancelled');
        const t = argmax(logits);
        got.push(t);
        gen.appendTokens([t]);
      }
      steps += c.greedy.length - 1; // the first token comes from the prefill's row
      expect(got).toEqual(c.greedy);
      gen.dispose();
    }
    expect(m.wgslSteps - before).toBe(steps);
    expect(m.wgslDecode!.counts.speculated).toBeGreaterThan(0); // greedy steps find the speculative row computed
  });

  test(`logits and log Σ exp match onnxruntime's WebGPU decode (|Δ| < ${tolerance(name)}), also for a token that is not the argmax`, async () => {
    const w = await open(name, true);
    const o = await open(name, false);
    expect(o.wgslDecode).toBeUndefined();
    const ids = g.cases[0]!.input_ids;
    const cw = w.createCache();
    const co = o.createCache();
    let lw = await w.forward(ids, cw);
    let lo = await o.forward(ids, co);
    const dropped = w.wgslDecode!.counts.dropped;
    for (let s = 0; s < 12; s++) {
      // every third step feeds the second-best token: the speculative step (run with the argmax) must be dropped
      const ranked = Array.from(lo!.keys()).sort((a, b) => lo![b]! - lo![a]!);
      const t = s % 3 === 2 ? ranked[1]! : ranked[0]!;
      const row = (await w.forward([t], cw))!;
      const lse = w.rowLse(row)?.[0];
      lw = Float32Array.from(row);
      lo = Float32Array.from((await o.forward([t], co))!);
      expect(maxDiff(lw, lo)).toBeLessThan(tolerance(name));
      // the GPU's per-chunk max and Σ exp, merged on the host: float32 sums of 327 terms (bound 1e-4)
      let mx = -Infinity;
      for (const x of lw) mx = Math.max(mx, x);
      let sum = 0;
      for (const x of lw) sum += Math.exp(x - mx);
      expect(lse).toBeDefined();
      expect(Math.abs(lse! - (mx + Math.log(sum)))).toBeLessThan(1e-4);
    }
    expect(cw.length).toBe(co.length);
    expect(cw.onnxLength).toBeLessThan(cw.length); // the decode steps' rows live in the WGSL cache
    expect(w.wgslDecode!.counts.dropped).toBeGreaterThan(dropped);
    cw.dispose();
    co.dispose();
  });

  test('onnxruntime continues a sequence the WGSL steps extended (the outside tokens run first), and rewinds into them work', async () => {
    const w = await open(name, true);
    const o = await open(name, false);
    const c = g.cases[1]!;
    const cw = w.createCache();
    const co = o.createCache();
    await w.forward(c.input_ids, cw);
    await o.forward(c.input_ids, co);
    for (const t of c.greedy.slice(0, 5)) {
      await w.forward([t], cw);
      await o.forward([t], co);
    }
    expect(cw.onnxLength).toBe(c.input_ids.length);
    // a multi-token run goes to onnxruntime, which runs the 5 outside tokens first
    const more = [c.greedy[5]!, c.greedy[6]!];
    const a = Float32Array.from((await w.forward(more, cw))!);
    const b = Float32Array.from((await o.forward(more, co))!);
    expect(cw.onnxLength).toBe(cw.length);
    expect(maxDiff(a, b)).toBeLessThan(tolerance(name));
    // rewind to inside the decoded tokens, then decode again: the WGSL cache's rows are handed over again as needed
    await cw.rewindTo(c.input_ids.length + 3);
    await co.rewindTo(c.input_ids.length + 3);
    const x = Float32Array.from((await w.forward([c.greedy[3]!], cw))!);
    const y = Float32Array.from((await o.forward([c.greedy[3]!], co))!);
    expect(maxDiff(x, y)).toBeLessThan(tolerance(name));
    cw.dispose();
    co.dispose();
  });
});

test('sequences share the KV slots: two alternate in two slots without handing over again; a third takes the least recently used', async () => {
  const name = 'qwen2-genai';
  const w = await open(name, true);
  const o = await open(name, false);
  expect(w.wgslDecode!.slots).toBe(2);
  const cases = golden(name).cases; // three prompts
  const cw = cases.map(() => w.createCache());
  const co = cases.map(() => o.createCache());
  for (let i = 0; i < cases.length; i++) {
    await w.forward(cases[i]!.input_ids, cw[i]!);
    await o.forward(cases[i]!.input_ids, co[i]!);
  }
  const step = async (i: number, s: number) => {
    const t = cases[i]!.greedy[s]!;
    const a = Float32Array.from((await w.forward([t], cw[i]!))!);
    expect(maxDiff(a, (await o.forward([t], co[i]!))!)).toBeLessThan(tolerance(name));
  };
  await step(0, 0);
  await step(1, 0);
  const handed = w.wgslDecode!.lastHandOver;
  expect(handed?.rows).toBe(cases[1]!.input_ids.length);
  for (let s = 1; s < 4; s++) for (const i of [0, 1]) await step(i, s);
  expect(w.wgslDecode!.lastHandOver).toBe(handed); // no hand-over while both keep their slots
  await step(2, 0); // the third sequence takes sequence 0's slot (least recently used)
  expect(w.wgslDecode!.lastHandOver?.rows).toBe(cases[2]!.input_ids.length);
  expect(cw[0]!.gpuRows).toBe(0);
  await step(1, 4); // still in its slot: nothing to hand over
  expect(w.wgslDecode!.lastHandOver?.rows).toBe(cases[2]!.input_ids.length);
  await step(0, 4); // back: its onnxruntime rows are handed over, its four WGSL-decoded tokens re-run in onnxruntime first
  for (const c of [...cw, ...co]) c.dispose();
});

test('a decode step that fails (the device lost) turns the WGSL decoder off, says so, and onnxruntime carries the sequence on', async () => {
  const name = 'qwen2-genai';
  const status: string[] = [];
  const w = await open(name, true, status);
  const o = await open(name, false);
  const c = golden(name).cases[0]!;
  const cw = w.createCache();
  const co = o.createCache();
  await w.forward(c.input_ids, cw);
  await o.forward(c.input_ids, co);
  for (const t of c.greedy.slice(0, 3)) {
    await w.forward([t], cw);
    await o.forward([t], co);
  }
  expect(cw.onnxLength).toBe(c.input_ids.length); // three rows only in the WGSL cache
  // what a lost device does to the next step: its readback is aborted
  (w as unknown as { wgsl: { dispose(): void } }).wgsl.dispose();
  const t = c.greedy[3]!;
  const a = Float32Array.from((await w.forward([t], cw))!);
  const b = (await o.forward([t], co))!;
  expect(maxDiff(a, b)).toBeLessThan(tolerance(name));
  expect(w.wgslDecode).toBeUndefined();
  expect(cw.onnxLength).toBe(cw.length); // the three tokens re-ran in onnxruntime
  expect(status.at(-1)).toMatch(/^wgslDecode off: .*decoding in onnxruntime from now on/);
  cw.dispose();
  co.dispose();
});

test('on by default on WebGPU where it can run; INFILL_LS_WGSL_DECODE=0 keeps onnxruntime; another layout says why it is not used', async () => {
  const status: string[] = [];
  const d = await loadModel({ modelDir: path.join(root, 'qwen2-genai'), device: 'webgpu', onStatus: (s) => status.push(s) });
  models.push(d);
  expect(d.wgslDecode).toBeDefined();
  const prev = process.env.INFILL_LS_WGSL_DECODE;
  process.env.INFILL_LS_WGSL_DECODE = '0';
  try {
    const off = await loadModel({ modelDir: path.join(root, 'qwen2-genai'), device: 'webgpu' });
    models.push(off);
    expect(off.wgslDecode).toBeUndefined();
  } finally {
    if (prev === undefined) delete process.env.INFILL_LS_WGSL_DECODE;
    else process.env.INFILL_LS_WGSL_DECODE = prev;
  }
  const other: string[] = [];
  const q = await loadModel({ modelDir: path.join(root, 'qwen2'), device: 'webgpu', onStatus: (s) => other.push(s) });
  models.push(q);
  expect(q.wgslDecode).toBeUndefined();
  expect(other.find((s) => s.startsWith('wgslDecode not used:'))).toMatch(/GroupQueryAttention/);
  // asked for on the CPU: off, and says so
  const cpu: string[] = [];
  const c = await loadModel({ modelDir: path.join(root, 'qwen2-genai'), device: 'cpu', wgslDecode: true, onStatus: (s) => cpu.push(s) });
  models.push(c);
  expect(c.wgslDecode).toBeUndefined();
  expect(cpu.find((s) => s.startsWith('wgslDecode not used:'))).toMatch(/on cpu/); // noted, not an "off" in the ready status
  expect(cpu.some((s) => s.startsWith('wgslDecode off:'))).toBe(false);
});

test('through the CLI (the engine and its worker thread): the ready status says WGSL decode (and that drafting is off), INFILL_LS_WGSL_DECODE=0 nothing of it', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-wgsl-')), 'a.py');
  fs.writeFileSync(file, 'def add(a, b):\n    return \n');
  const run = (env: Record<string, string>) =>
    JSON.parse(
      execFileSync(process.execPath, [path.resolve(__dirname, '../../bin/infill-ls.js'), 'complete', file, '--line', '2', '--column', '12', '--device', 'webgpu', '--model', path.join(root, 'qwen2-genai'), '--json'], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as { status: { message: string }; timings: { generatedTokens: number } };
  const on = run({});
  expect(on.status.message).toMatch(/on webgpu, WGSL decode/);
  expect(on.timings.generatedTokens).toBeGreaterThan(0);
  const off = run({ INFILL_LS_WGSL_DECODE: '0' });
  expect(off.status.message).toMatch(/on webgpu/);
  expect(off.status.message).not.toMatch(/WGSL/);
  // drafting asked for (not the default 4): off where the WGSL decode runs, and the ready status says so
  expect(run({ INFILL_LS_DRAFT_TOKENS: '2' }).status.message).toMatch(/WGSL decode.*draftTokens 2 off: the WGSL decode step runs one token at a time/);
});

test('a cache disposed before or during its decode step is an error for that call only: the WGSL decoder stays on', async () => {
  const w = await open('qwen2-genai', true);
  const ids = golden('qwen2-genai').cases[0]!.input_ids;
  const a = w.createCache();
  await w.forward(ids, a);
  await w.forward([1], a);
  a.dispose();
  await expect(w.forward([2], a)).rejects.toThrow(/after dispose/);
  expect(w.wgslDecodeOff).toBeUndefined();
  const b = w.createCache();
  await w.forward(ids, b);
  const pending = w.forward([3], b); // disposed while the step waits for the GPU
  b.dispose();
  await expect(pending).rejects.toThrow(/after dispose/);
  expect(w.wgslDecodeOff).toBeUndefined();
  expect(w.wgslDecode).toBeDefined();
  const c = w.createCache();
  await w.forward(ids, c);
  const before = w.wgslSteps;
  await w.forward([4], c);
  expect(w.wgslSteps).toBe(before + 1);
  c.dispose();
});

test('models loaded one after another, each disposed and garbage-collected before the next: no crash or hang', () => {
  // One dawn.node GPU instance per decoder, collected after dispose(), crashed (SIGSEGV, SIGABRT) or hung the next
  // load in 4 of 5 runs of this script on lavapipe; the decoders now share the process's one instance. A child process
  // (server/dist, built by the global setup) so that a crash fails this test only.
  const dist = pathToFileURL(path.resolve(__dirname, '../../server/dist/runtime/index.js')).href;
  const script = `
    const { loadModel } = await import(${JSON.stringify(dist)});
    for (let i = 0; i < 4; i++) {
      const m = await loadModel({ modelDir: ${JSON.stringify(path.join(root, 'qwen2-genai'))}, device: 'webgpu', wgslDecode: true });
      if (!m.wgslDecode) throw new Error('no WGSL decoder');
      const c = m.createCache();
      await m.forward([1, 2, 3], c);
      await m.forward([4], c);
      c.dispose();
      await m.dispose();
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log('reloaded 4 times');`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 90_000 });
  expect(`${r.signal ?? r.status} ${r.stdout}`, r.stderr.slice(-2000)).toBe('0 reloaded 4 times\n');
}, 120_000);
