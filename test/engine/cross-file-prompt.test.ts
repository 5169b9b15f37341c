// The real engine on the default model with cross-file context: the chunks enter the prompt (more prompt tokens, by
// the context's own count), and typing at the cursor with the same context reuses the document's KV prefix (the
// context's tokens are not prefilled again).
import { afterAll, expect, test } from 'vitest';
import { createEngine, type Engine } from '../../server/src/engine/engine.js';
import type { CompletionContext, CrossFileContext } from '../../server/src/engine/types.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';

const never = new AbortController().signal;
const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

const crossFile: CrossFileContext = {
  repoName: 'shop',
  path: 'src/main.ts',
  chunks: [{ path: 'src/price.ts', kind: 'definition', text: 'export function netPrice(gross: number, vatRate: number): number {\n  return gross / (1 + vatRate);\n}' }],
};
const text = "import { netPrice } from './price';\n\nexport function total(items: number[]): number {\n  return items.reduce((sum, x) => sum + netPrice(x, ";
const ctx = (documentKey: string, prefix: string, extra?: CrossFileContext): CompletionContext => ({
  documentKey,
  version: 1,
  languageId: 'typescript',
  prefix,
  suffix: '\n}\n',
  trigger: 'automatic',
  lineMode: 'single',
  ...(extra ? { crossFile: extra } : {}),
});

test('cross-file chunks enter the prompt and keep the KV prefix while typing', async () => {
  const e = createEngine({ modelDir: defaultModelDir, device: 'cpu', maxNewTokens: 4, prefillChunkSize: 64 });
  engines.push(e);
  await e.loaded;
  expect(e.status().state).toBe('ready');
  const plain = await e.complete(ctx('a', text), never);
  for (const format of ['repo', 'comment'] as const) {
    const withContext = await e.complete(ctx(`b-${format}`, text, { ...crossFile, format }), never);
    if (plain.kind !== 'ok' || withContext.kind !== 'ok') throw new Error('expected ok results');
    // The definition's tokens and the format's framing: far more than a few tokens, within the 256-token budget.
    const extra = withContext.timings.promptTokens - plain.timings.promptTokens;
    expect(extra).toBeGreaterThan(30);
    expect(extra).toBeLessThanOrEqual(256 + 1);
    // One more character at the cursor, same context: only the new tokens (and the template's tail) are prefilled.
    // The character differs from the completion's first one, so the completion cache cannot answer.
    const ch = withContext.candidates[0]?.text.startsWith('q') ? 'z' : 'q';
    const typed = await e.complete(ctx(`b-${format}`, `${text}${ch}`, { ...crossFile, format }), never);
    if (typed.kind !== 'ok') throw new Error('expected ok');
    expect(typed.cache).toMatch(/^kv-prefix:/);
    expect(typed.timings.prefillTokens).toBeLessThan(10);
    expect(typed.timings.promptTokens - typed.timings.prefillTokens).toBeGreaterThan(withContext.timings.promptTokens - 10);
  }
}, modelTimeout(20_000));
