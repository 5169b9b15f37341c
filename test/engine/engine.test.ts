// The engine façade on a synthetic ONNX model: status, exact completions, KV prefix reuse, cancellation, serialisation, degraded loads.
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createEngine, type Engine } from '../../server/src/engine/index.js';
import type { CompletionContext, EngineStatus } from '../../server/src/engine/types.js';
import { Tokenizer } from '../../server/src/tokenizer/index.js';
import { buildFimPrompt, detectTemplate } from '../../server/src/prompt/index.js';
import { planDecode } from '../../server/src/engine/decode-plan.js';
import { cutTruncated } from '../../server/src/postprocess/index.js';
import { syntheticNext } from '../runtime/helpers/synthetic-model.js';
import { tempDir, writeSyntheticModelDir } from '../runtime/helpers/model-dir.js';

const synth = writeSyntheticModelDir({ layout: 'packed', layers: 2 });
const tok = Tokenizer.fromObjects(synth.tokenizer.json, synth.tokenizer.config);
const template = detectTemplate(tok, { modelConfig: { infill_ls: { fim_mode: 'spm' } } })!;

/**
 * What the engine must produce in 'fim' mode: SPM prompt, synthetic greedy tokens until a stop token or 64 tokens, cut
 * where the syntax plan says (the synthetic text is random bytes, so its closers and line breaks may end it early).
 */
function expected(prefix: string, suffix: string, maxNew = 64): { ids: number[]; text: string } {
  const prompt = buildFimPrompt({ prefix, suffix }, template, tok).ids;
  const plan = planDecode({ prefix, suffix, languageId: 'typescript', trigger: 'manual' });
  const seq = [...prompt];
  const out: number[] = [];
  while (out.length < maxNew) {
    const t = syntheticNext(seq, synth.vocab);
    if (template.stopIds.includes(t)) break;
    out.push(t);
    seq.push(t);
    const cut = plan.stopAt(tok.decode(out));
    if (cut !== null) return { ids: prompt, text: tok.decode(out).slice(0, cut) };
  }
  // Stopped by the token limit: post-processing cuts the answer back to a balanced end (postprocess cutTruncated).
  const text = tok.decode(out);
  return { ids: prompt, text: out.length >= maxNew ? cutTruncated(text, { prefix, suffix, languageId: 'typescript', truncated: true }) : text };
}

function ctx(prefix: string, suffix: string, trigger: CompletionContext['trigger'] = 'manual'): CompletionContext {
  return { documentKey: 'file:///a.ts', version: 1, languageId: 'typescript', prefix, suffix, trigger };
}

const engines: Engine[] = [];
function engine(options: Parameters<typeof createEngine>[0]): Engine {
  // These tests pin the façade (caches, cancellation, serialisation) on plain FIM; test/engine/decode-modes.test.ts
  // covers self-infilling, the default mode.
  const e = createEngine({ device: 'cpu', threads: 1, decodeMode: 'fim', ...options });
  engines.push(e);
  return e;
}
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

const never = new AbortController().signal;
// Inputs chosen so the synthetic continuation is non-empty and has no newline.
const prefix = 'function add(a, b) {\n  return ';
const suffix = ';\n}\n';

describe('engine on a synthetic model', () => {
  test('loads: loading → ready on cpu, template in the status message', async () => {
    const seen: EngineStatus[] = [];
    const e = engine({ modelDir: synth.dir });
    e.onStatus((s) => seen.push(s));
    expect(e.status().state).toBe('loading');
    await e.loaded;
    expect(e.status()).toMatchObject({ state: 'ready', device: 'cpu' });
    expect(e.status().message).toMatch(/^starcoder SPM, fp32 on cpu/);
    expect(seen.at(-1)!.state).toBe('ready');
  });

  test('completes exactly what the model decodes from the SPM prompt, streaming as it goes', async () => {
    const want = expected(prefix, suffix);
    expect(want.text.length).toBeGreaterThan(0);
    const e = engine({ modelDir: synth.dir });
    const partials: string[] = [];
    const r = await e.complete(ctx(prefix, suffix), never, (t) => partials.push(t));
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0]!.text).toBe(want.text);
    // One-hot logits of 10 over ~300 tokens: log p = 10 - log(e^10 + 299) ≈ -0.0135 per token.
    expect(r.candidates[0]!.score).toBeCloseTo(10 - Math.log(Math.exp(10) + synth.vocab - 1), 3);
    expect(partials.at(-1)).toBe(want.text);
    expect(r.timings.promptTokens).toBe(want.ids.length);
    expect(r.timings.prefillTokens).toBe(want.ids.length);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.prefillMs);
    expect(e.status().lastLatencyMs).toBeTypeOf('number');
  });

  test('a new latency is told after the answer, once per turn of the event loop', async () => {
    const e = engine({ modelDir: synth.dir });
    await e.loaded;
    const seen: EngineStatus[] = [];
    e.onStatus((s) => seen.push(s));
    const first = await e.complete(ctx(prefix, suffix), never);
    if (first.kind !== 'ok' || !first.candidates[0]?.text) throw new Error(`no completion to type through: ${JSON.stringify(first)}`);
    // The answer is in the caller's hands before any status notification about it.
    expect(seen).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.lastLatencyMs).toBe(e.status().lastLatencyMs);
    // Two answers from the completion cache in one turn (typing through the text): one notification.
    const typed = prefix + first.candidates[0].text.slice(0, 1);
    const both = await Promise.all([e.complete(ctx(typed, suffix), never), e.complete(ctx(typed, suffix), never)]);
    expect(both.map((r) => r.kind === 'ok' && r.cache)).toEqual(['completion-reuse', 'completion-reuse']);
    expect(seen).toHaveLength(1);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(2);
  });

  test('the next request reuses the KV prefix (typing appends to the SPM prompt)', async () => {
    const e = engine({ modelDir: synth.dir });
    await e.complete(ctx(prefix, suffix), never);
    const typed = prefix + 'a +';
    const r = await e.complete(ctx(typed, suffix), never);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    const want = expected(typed, suffix);
    expect(r.candidates[0]?.text ?? '').toBe(want.text);
    expect(r.cache).toMatch(/^kv-prefix:\d+$/);
    expect(r.timings.prefillTokens).toBeLessThan(want.ids.length / 2);
  });

  test('maxNewTokens bounds the completion', async () => {
    const e = engine({ modelDir: synth.dir, maxNewTokens: 3 });
    const r = await e.complete(ctx(prefix, suffix), never);
    expect(r.kind === 'ok' && r.timings.generatedTokens).toBeLessThanOrEqual(3);
    expect(r.kind === 'ok' && r.candidates[0]?.text).toBe(expected(prefix, suffix, 3).text);
  });

  test('cancellation: an aborted signal, or one aborted while waiting for the model', async () => {
    const e = engine({ modelDir: synth.dir });
    const ac = new AbortController();
    ac.abort();
    expect(await e.complete(ctx(prefix, suffix), ac.signal)).toEqual({ kind: 'cancelled' });
    const slow = e.complete(ctx(prefix + 'x'.repeat(2000), suffix), never);
    const ac2 = new AbortController();
    const waiting = e.complete(ctx(prefix, suffix), ac2.signal);
    ac2.abort();
    expect(await waiting).toEqual({ kind: 'cancelled' });
    expect((await slow).kind).toBe('ok');
  });

  test('concurrent requests run one at a time and each gets its own answer', async () => {
    const e = engine({ modelDir: synth.dir });
    const inputs = [prefix, prefix + 'b ', prefix + 'a * ']; // no word char at the cursor: no token healing
    const results = await Promise.all(inputs.map((p) => e.complete(ctx(p, suffix), never)));
    results.forEach((r, i) => {
      expect(r.kind).toBe('ok');
      if (r.kind === 'ok') expect(r.candidates[0]?.text ?? '').toBe(expected(inputs[i]!, suffix).text);
    });
  });
});

describe('degraded', () => {
  test('a missing model directory: status names it, completions are degraded', async () => {
    const dir = path.join(tempDir(), 'missing');
    const e = engine({ modelDir: dir });
    await e.loaded;
    expect(e.status()).toMatchObject({ state: 'degraded', message: `${dir}: model directory not found` });
    expect(await e.complete(ctx('a', 'b'), never)).toEqual({ kind: 'degraded', reason: `${dir}: model directory not found` });
  });

  test('after dispose', async () => {
    const e = createEngine({ modelDir: synth.dir, device: 'cpu' });
    await e.loaded;
    await e.dispose();
    expect((await e.complete(ctx('a', 'b'), never)).kind).toBe('degraded');
  });
});
