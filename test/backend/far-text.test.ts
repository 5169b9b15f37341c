// backend/far-text.ts: same-file far context for the remote backends (llama-server's input_extra, the OpenAI
// prompt's repository-level head). Snippets of the document outside the window the backend sends, most similar to
// the cursor's neighbourhood, after the request's own chunks, named by the file; sticky per document while they stay
// outside the window and the cursor is within 16 lines; nothing added when off, when the document fits the window or
// when nothing is similar.
import { describe, expect, test } from 'vitest';
import { ENGINE_DEFAULT_FAR_TEXT_CHARS, withFarText } from '../../server/src/backend/far-text.js';
import type { FarChoice } from '../../server/src/prompt/far-context.js';
import { infillBody, stableTail, headLines } from '../../server/src/backend/llama-server.js';
import { buildTextPrompt, headByLines, tailByLines } from '../../server/src/backend/fim-text.js';

// A file whose far top defines what the cursor's line uses, with unrelated filler between.
const top = 'def parse_config(path, strict):\n    with open(path) as handle:\n        return load_yaml(handle, strict)\n\n';
const filler = Array.from({ length: 300 }, (_, i) => `value_${i} = ${i}\n`).join('');
const prefix = `${top}${filler}def main():\n    path = os.environ['CONFIG']\n    strict = True\n    cfg = parse_config(`;
const suffix = ')\n    run(cfg)\n';
const context = { documentKey: 'file:///work/project/app.py', prefix, suffix, crossFile: undefined };
const windowPrefix = prefix.slice(-1500);
const windowPrefixLines = windowPrefix.slice(windowPrefix.indexOf('\n') + 1);

describe('withFarText', () => {
  test("adds the far snippet that shares the cursor's identifiers, named by the file, with its budget", () => {
    const r = withFarText(context, windowPrefixLines, suffix, ENGINE_DEFAULT_FAR_TEXT_CHARS);
    expect(r.extraChars).toBe(ENGINE_DEFAULT_FAR_TEXT_CHARS);
    expect(r.crossFile?.path).toBe('app.py');
    const texts = r.crossFile!.chunks.map((c) => c.text);
    expect(texts.length).toBeGreaterThan(0);
    expect(texts[0]).toContain('def parse_config(path, strict):');
    expect(r.crossFile!.chunks.every((c) => c.kind === 'same-file' && c.path === 'app.py')).toBe(true);
    // every snippet lies outside the window
    for (const t of texts) expect(windowPrefixLines.includes(t)).toBe(false);
  });

  test("keeps the request's own chunks first and its names", () => {
    const own = { repoName: 'proj', path: 'src/app.py', chunks: [{ path: 'src/util.py', text: 'def load_yaml(h, s): ...' }] };
    const r = withFarText({ ...context, crossFile: own }, windowPrefixLines, suffix, 1000);
    expect(r.crossFile!.chunks[0]).toEqual(own.chunks[0]);
    expect(r.crossFile!.repoName).toBe('proj');
    expect(r.crossFile!.chunks.slice(1).every((c) => c.path === 'src/app.py' && c.kind === 'same-file')).toBe(true);
  });

  test('nothing added: off, a document inside the window, no similar snippet, a window that is not the text', () => {
    expect(withFarText(context, windowPrefixLines, suffix, 0)).toEqual({ crossFile: undefined, extraChars: 0 });
    expect(withFarText(context, prefix, suffix, 1000)).toEqual({ crossFile: undefined, extraChars: 0 });
    const unrelated = { ...context, prefix: `${filler}x = ` };
    expect(withFarText(unrelated, 'x = ', suffix, 1000).extraChars).toBe(0);
    expect(withFarText(context, 'not the end of the prefix', suffix, 1000).extraChars).toBe(0);
  });

  test('the choice sticks within 16 lines and is made again further away', () => {
    const choices = new Map<string, FarChoice>();
    const first = withFarText(context, windowPrefixLines, suffix, 1000, choices);
    const held = choices.get(context.documentKey)!;
    expect(held.texts).toEqual(first.crossFile!.chunks.map((c) => c.text));
    // a poisoned choice is reused while the cursor stays near and its text is still outside the window ...
    choices.set(context.documentKey, { line: held.line + 3, texts: [filler.split('\n').slice(0, 8).join('\n')] });
    const near = withFarText(context, windowPrefixLines, suffix, 1000, choices);
    expect(near.crossFile!.chunks[0]!.text).toBe(filler.split('\n').slice(0, 8).join('\n'));
    // ... and replaced when the cursor is 17+ lines away
    choices.set(context.documentKey, { line: held.line + 17, texts: [filler.split('\n').slice(0, 8).join('\n')] });
    const far = withFarText(context, windowPrefixLines, suffix, 1000, choices);
    expect(far.crossFile!.chunks[0]!.text).toContain('def parse_config');
  });
});

test('llama-server: the far snippets go into input_extra after the own chunks, the window into input_prefix; off by default', () => {
  const body = infillBody(context, { maxNewTokens: 16, farContextChars: ENGINE_DEFAULT_FAR_TEXT_CHARS }, {});
  expect(body.input_prefix).toBe(stableTail(prefix, 3000));
  expect(body.input_suffix).toBe(headLines(suffix, 1000));
  const extra = body.input_extra as Array<{ filename: string; text: string }>;
  expect(extra.length).toBeGreaterThan(0);
  expect(extra[0]!.filename).toBe('app.py');
  expect(extra[0]!.text).toContain('def parse_config(path, strict):');
  expect(infillBody(context, { maxNewTokens: 16, farContextChars: 0 }, {}).input_extra).toEqual([]);
  expect(infillBody(context, { maxNewTokens: 16 }, {}).input_extra).toEqual([]);
});

test('OpenAI prompt: the far snippets make the repository-level head in the Qwen form', () => {
  const far = withFarText(context, tailByLines(prefix, 3000), headByLines(suffix, 1000), ENGINE_DEFAULT_FAR_TEXT_CHARS);
  const prompt = buildTextPrompt('qwen', { ...context, languageId: 'python', crossFile: far.crossFile }, { maxContextChars: 1000 + far.extraChars });
  expect(prompt.startsWith('<|repo_name|>\n<|file_sep|>app.py\ndef parse_config(path, strict):')).toBe(true);
  expect(prompt).toContain('<|fim_prefix|>');
});
