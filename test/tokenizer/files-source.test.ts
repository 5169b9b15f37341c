// Tokenizer.fromFiles drops the parsed tokenizer.json's BPE vocabulary and string merges once @huggingface/tokenizers
// has built its own tables (issue 15: ~14 MB of the model worker's V8 heap at a Qwen-size vocabulary, traversed by every
// mark-compact). The library must not need them later: a tokenizer read from files encodes, decodes, streams and
// lists token bytes exactly as one built from the same objects kept whole, on every BPE fixture and models/default.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Tokenizer } from '../../server/src/tokenizer/index.js';
import { defaultModelDir } from '../../server/src/util/paths.js';

const root = path.resolve(__dirname, '../..');
const DIRS = [defaultModelDir, ...['qwen2-genai', 'qwen2', 'llama', 'gpt_bigcode'].map((n) => path.join(root, 'test/fixtures/models', n))];
const TEXT = 'export function add(a: number, b: number): number {\n  return a + b; // émoji 🙂 and CJK 漢字\n}\n\tdef f(x):\n        return [x ** 2 for x in range(10)]\n<|fim_prefix|> <fim_prefix> </s>';

describe('Tokenizer.fromFiles without the parsed BPE source', () => {
  for (const dir of DIRS) {
    test(`${path.basename(dir)}: same ids, text, stream and token bytes as the whole objects`, () => {
      const json = path.join(dir, 'tokenizer.json');
      const cfg = path.join(dir, 'tokenizer_config.json');
      const files = Tokenizer.fromFiles(json, cfg);
      const whole = Tokenizer.fromObjects(JSON.parse(fs.readFileSync(json, 'utf8')), fs.existsSync(cfg) ? JSON.parse(fs.readFileSync(cfg, 'utf8')) : {});
      const ids = whole.encode(TEXT);
      expect(ids.length).toBeGreaterThan(20);
      expect(files.encode(TEXT)).toEqual(ids);
      expect(files.decode(ids)).toBe(whole.decode(ids));
      expect(files.vocabSize).toBe(whole.vocabSize);
      expect(files.tokenByteStrings()).toEqual(whole.tokenByteStrings());
      const a = files.createStreamDecoder();
      const b = whole.createStreamDecoder();
      expect(ids.map((id) => a.push(id)).join('') + a.flush()).toBe(ids.map((id) => b.push(id)).join('') + b.flush());
    });
  }
});
