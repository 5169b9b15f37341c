// Builds small byte-level BPE tokenizer.json objects for tests (ids 0-255 are the raw bytes, then merges, then specials).
import { BYTE_TO_UNICODE } from '../../../server/src/tokenizer/tokenizer.js';

export { BYTE_TO_UNICODE };

export function toUnicodeBytes(text: string): string[] {
  return [...new TextEncoder().encode(text)].map((b) => BYTE_TO_UNICODE[b]!);
}

export const STARCODER_SPECIALS = ['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<file_sep>', '<repo_name>'];

export const DEFAULT_WORDS = [
  ' return', 'return', ' function', 'function', ' const', 'const', ' get', 'get', 'User', 'Name', '    ', '  ', '\n',
  ' =', ' a', ' b', ' +', '()', ' {', ' }', 'é', 'aé', ' add', 'add', ' x', ' y',
];

export interface TinyTokenizer {
  json: Record<string, unknown>;
  config: Record<string, unknown>;
  vocabSize: number;
}

/** Words become left-to-right merge chains over their byte-level characters. */
export function tinyTokenizer(options: { words?: string[]; specials?: string[]; eos?: string; padTo?: number } = {}): TinyTokenizer {
  const vocab: Record<string, number> = {};
  BYTE_TO_UNICODE.forEach((ch, b) => (vocab[ch] = b));
  let next = 256;
  const merges: string[] = [];
  for (const w of options.words ?? DEFAULT_WORDS) {
    const chars = toUnicodeBytes(w);
    let cur = chars[0]!;
    for (let i = 1; i < chars.length; i++) {
      const merged = cur + chars[i]!;
      if (!(merged in vocab)) {
        merges.push(`${cur} ${chars[i]!}`);
        vocab[merged] = next++;
      }
      cur = merged;
    }
  }
  while (options.padTo && next < options.padTo) vocab[`<unused_${next}>`] = next++;
  const specials = options.specials ?? STARCODER_SPECIALS;
  const added = specials.map((content) => ({ id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  const eos = options.eos ?? specials[0];
  const config = { eos_token: eos, bos_token: null, add_bos_token: false, model_max_length: 2048, tokenizer_class: 'GPT2Tokenizer' };
  return { json, config, vocabSize: next };
}
