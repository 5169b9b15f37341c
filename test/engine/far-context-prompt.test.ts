// The real engine on the default model with same-file far context (engine/model-side.ts, prompt/far-context.ts): a
// document longer than the halved prefix window gets snippets of its far text, similar to the cursor's neighbourhood,
// as repository-level chunks; a document that fits gets exactly the prompt it gets without far context; typing keeps
// the snippets and the KV prefix.
import { afterAll, expect, test } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../server/src/engine/engine.js';
import type { CompletionContext } from '../../server/src/engine/types.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';

const never = new AbortController().signal;
const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

interface Line {
  doc: string;
  cache: string;
  promptTokens: number;
  prefillTokens: number;
  contextChunks?: number;
  contextTokens?: number;
  request?: { prompt: string };
}

async function logged(options: Partial<EngineOptions>) {
  const lines: Line[] = [];
  const e = createEngine({
    modelDir: defaultModelDir,
    device: 'cpu',
    maxNewTokens: 4,
    prefillChunkSize: 256,
    log: (line) => {
      const m = /^completion (\{.*\})$/.exec(line);
      if (m) lines.push(JSON.parse(m[1]!) as Line);
    },
    ...options,
  });
  engines.push(e);
  await e.loaded;
  expect(e.status().state).toBe('ready');
  return { e, lines };
}

const head = [
  'def parse_ranges(spec, separator):',
  '    ranges = []',
  '    for part in spec.split(separator):',
  '        start, _, end = part.partition("-")',
  '        ranges.append((int(start), int(end or start)))',
  '    return ranges',
  '',
].join('\n');
// ~100 lines of unrelated code push parse_ranges out of a 384-token window (and stay inside the default 768).
const filler = Array.from({ length: 100 }, (_, i) => `logger_${i % 7}.info("step %d of the pipeline", ${i})`).join('\n');
const tail = '\n\ndef count_positions(spec, separator):\n    total = 0\n    for start, end in parse_ranges(spec, separator):\n        total += ';
const ctx = (documentKey: string, prefix: string): CompletionContext => ({
  documentKey,
  version: 1,
  languageId: 'python',
  prefix,
  suffix: '\n    return total\n',
  trigger: 'automatic',
  lineMode: 'single',
});

test('a long document gets snippets of its far text; a short one the same prompt as without; typing keeps the KV prefix', async () => {
  const on = await logged({});
  const off = await logged({ farContextTokens: 0 });
  const long = head + filler + tail;

  const a = await on.e.complete(ctx('file:///work/app/ranges.py', long), never);
  const b = await off.e.complete(ctx('file:///work/app/ranges.py', long), never);
  if (a.kind !== 'ok' || b.kind !== 'ok') throw new Error('expected ok results');
  const la = on.lines.at(-1)!;
  const lb = off.lines.at(-1)!;
  // parse_ranges' lines (out of the 384-token window) are a chunk: within the far budget, the prompt within the
  // default 1,024-token training context (384 prefix + 256 suffix + 384 far + the sentinels).
  expect(la.contextChunks).toBeGreaterThanOrEqual(1);
  expect(la.contextTokens).toBeGreaterThan(20);
  expect(la.contextTokens).toBeLessThanOrEqual(384);
  expect(la.promptTokens).toBeLessThanOrEqual(384 + 256 + 384 + 8);
  expect(lb.contextChunks).toBeUndefined();
  expect(la.request!.prompt).not.toBe(lb.request!.prompt);

  // Typing one character at the cursor: the snippets stay, so only the new tokens (and the template's tail) are prefilled.
  const typed = await on.e.complete(ctx('file:///work/app/ranges.py', `${long}1`), never);
  if (typed.kind !== 'ok') throw new Error('expected ok');
  expect(on.lines.at(-1)!.contextChunks).toBe(la.contextChunks);
  expect(typed.cache).toMatch(/^kv-prefix:/);
  expect(typed.timings.prefillTokens).toBeLessThan(10);

  // Long lines (a fresh user's find: 600 lines of ~840 characters): the halved window would keep fewer than 8 whole
  // lines before the cursor's, so far context stays out and the prompt is the one without it.
  const wide = Array.from({ length: 300 }, (_, i) => `row_${i} = [${Array.from({ length: 60 }, (_, j) => `cell_${(i * 7 + j) % 97}`).join(', ')}]`).join('\n');
  await on.e.complete(ctx('file:///work/app/wide.py', `${wide}\nrow_300 = [cell_`), never);
  await off.e.complete(ctx('file:///work/app/wide.py', `${wide}\nrow_300 = [cell_`), never);
  expect(on.lines.at(-1)!.contextChunks).toBeUndefined();
  expect(on.lines.at(-1)!.request!.prompt).toBe(off.lines.at(-1)!.request!.prompt);

  // A document that fits the halved window: the very same prompt as without far context.
  const short = head + tail;
  await on.e.complete(ctx('file:///work/app/short.py', short), never);
  await off.e.complete(ctx('file:///work/app/short.py', short), never);
  expect(on.lines.at(-1)!.contextChunks).toBeUndefined();
  expect(on.lines.at(-1)!.request!.prompt).toBe(off.lines.at(-1)!.request!.prompt);
}, modelTimeout(30_000));
