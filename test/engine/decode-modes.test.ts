// Decode modes end to end: self-infilling on the shipped model (models/default) through engine/decode.ts, and the
// engine's candidates / raw text on a synthetic model.
import { afterAll, describe, expect, test } from 'vitest';
import { loadBundle } from '../../server/src/engine/load.js';
import { decodeRequest, type DecodeSettings } from '../../server/src/engine/decode.js';
import { createEngine, type Engine } from '../../server/src/engine/index.js';
import type { CompletionContext } from '../../server/src/engine/types.js';
import { Generator } from '../../server/src/decoding/index.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { writeSyntheticModelDir } from '../runtime/helpers/model-dir.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';

const bundle = await loadBundle({ modelDir: defaultModelDir, device: 'cpu', intraOpNumThreads: 1 });
const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
  await bundle.model.dispose();
});

const never = new AbortController().signal;
const settings = (patch: Partial<DecodeSettings>): DecodeSettings => ({ mode: 'self-infill', loops: 0, tau: 0.25, postprocess: false, maxNewTokens: 48, timeBudgetMs: 60_000, ...patch });
// End of file inside a function: self-infilling's published setting (empty suffix, `return` as the suffix prompt).
const py: CompletionContext = {
  documentKey: 'file:///t.py',
  version: 1,
  languageId: 'python',
  prefix: 'def sum_of_squares(numbers):\n    """Return the sum of the squares of the numbers."""\n    total = 0\n    ',
  suffix: '',
  trigger: 'manual',
};

async function run(context: CompletionContext, s: DecodeSettings) {
  const gen = new Generator(bundle.model);
  try {
    return await decodeRequest(gen, { tokenizer: bundle.tokenizer, template: bundle.template! }, context, context.prefix, s, never);
  } finally {
    gen.dispose();
  }
}

describe('self-infilling on models/default', () => {
  test('tau = 0 never interrupts: the same text as plain FIM', async () => {
    const fim = await run(py, settings({ mode: 'fim' }));
    const si = await run(py, settings({ tau: 0 }));
    expect(si.mode).toBe('self-infill');
    expect(si.trace.interruptedAt).toBeNull();
    expect(si.raw).toBe(fim.raw);
    expect(fim.raw.length).toBeGreaterThan(0);
  }, modelTimeout(20_000));

  test('tau = 1 interrupts before the first token and writes the function end from `return` first', async () => {
    const r = await run(py, settings({ tau: 1 }));
    expect(r.trace.interruptedAt).toBe(0);
    // The self-written suffix continues the cursor's indented empty line with the suffix prompt.
    expect(r.raw).toMatch(/\breturn\b/);
    // Prompt tokens run: the base prompt once (SPM with an empty suffix is also the left-to-right prompt of the suffix
    // pass, so that pass reuses it), then the prefix again behind the self-written suffix (≤ 32 tokens + its lead).
    const prefilled = r.modelTokens - r.generatedTokens;
    expect(prefilled).toBeLessThanOrEqual(2 * r.promptTokens + 40);
    expect(prefilled).toBeGreaterThan(r.promptTokens);
  }, modelTimeout(20_000));

  test('a loop either replaces the result or is rejected as degenerate, and says which', async () => {
    const r = await run(py, settings({ tau: 1, loops: 1 }));
    expect(r.trace.loopsRun).toBe(1);
    const once = await run(py, settings({ tau: 1, loops: 0 }));
    if (r.trace.loopsRejected === 1) expect(r.raw).toBe(once.raw);
    else expect(r.raw).toMatch(/\breturn\b/);
  }, modelTimeout(20_000));
});

describe('engine candidates (synthetic model)', () => {
  const synth = writeSyntheticModelDir({ layout: 'packed', layers: 2 });
  const ctx = (maxCandidates: number): CompletionContext => ({ documentKey: 'file:///a.ts', version: 1, languageId: 'typescript', prefix: 'function add(a, b) {\n  return ', suffix: ';\n}\n', trigger: 'manual', maxCandidates });

  test('maxCandidates gives several distinct candidates, best first, and the raw first choice', async () => {
    const e = createEngine({ modelDir: synth.dir, device: 'cpu', threads: 1 });
    engines.push(e);
    const one = await e.complete(ctx(1), never);
    const three = await e.complete(ctx(3), never);
    expect(one.kind === 'ok' && three.kind === 'ok').toBe(true);
    if (one.kind !== 'ok' || three.kind !== 'ok') return;
    expect(one.candidates).toHaveLength(1);
    expect(three.candidates.length).toBeGreaterThan(1);
    expect(three.candidates.length).toBeLessThanOrEqual(3);
    expect(new Set(three.candidates.map((c) => c.text)).size).toBe(three.candidates.length);
    expect(three.raw).toBeTypeOf('string');
    expect(three.timings.modelTokens).toBeGreaterThan(one.timings.modelTokens ?? 0);
  });
});
