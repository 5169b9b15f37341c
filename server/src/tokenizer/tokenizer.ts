// Wraps @huggingface/tokenizers: plain encoding (no special tokens added), id↔token, token bytes and streaming decoding.
import fs from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ModelLoadError, errorText } from '../util/errors.js';

type Json = Record<string, unknown>;

/** GPT-2's byte→printable-char table of byte-level BPE (index = byte). */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i]!)));
  return out;
})();

/** The same table inverted: a byte-level BPE token's chars map back to raw bytes. */
const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch, b]));

const utf8 = new TextEncoder();

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return undefined;
}

function isByteLevel(json: Json): boolean {
  const has = (node: unknown): boolean => {
    if (!node || typeof node !== 'object') return false;
    const n = node as Json;
    if (n['type'] === 'ByteLevel') return true;
    for (const k of ['decoders', 'pretokenizers']) {
      const list = n[k];
      if (Array.isArray(list) && list.some(has)) return true;
    }
    return false;
  };
  return has(json['decoder']) || (json['decoder'] == null && has(json['pre_tokenizer']));
}

/** Emits text as tokens arrive; a UTF-8 character split over several byte-level tokens appears once complete. */
export interface StreamDecoder {
  /** Returns the text that became complete with this token ('' while a character is still partial). */
  push(id: number): string;
  /** Returns whatever is still buffered (an incomplete character decodes to U+FFFD). */
  flush(): string;
}

/**
 * Appends `src` to `dst` in place. Not `dst.push(...src)`: a spread passes every element as an argument, and past
 * ~100k tokens that throws "Maximum call stack size exceeded" (issue 13, item 4).
 */
function append(dst: number[], src: ArrayLike<number>): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
}

/**
 * Drops the parsed tokenizer.json's BPE vocabulary and string merges once @huggingface/tokenizers (0.1.x) has built its
 * own tables from them (its BPE model copies `vocab` into a Map and an array and splits string merges into pairs at
 * construction, and reads neither again), while the library keeps a reference to the whole parsed file: at a Qwen-size
 * vocabulary (151,665 entries) they are ~14 MB of the model worker's ~30 MB V8 heap, which every mark-compact collection
 * traverses (issue 15). Only for a file we parsed ourselves (fromFiles), never a caller's object; other model types
 * are left alone.
 */
function dropBpeSource(json: Json): void {
  const model = json['model'];
  if (!model || typeof model !== 'object' || (model as Json)['type'] !== 'BPE') return;
  const m = model as Json;
  if (m['vocab'] && typeof m['vocab'] === 'object' && !Array.isArray(m['vocab'])) m['vocab'] = {};
  const merges = m['merges'];
  if (Array.isArray(merges) && typeof merges[0] === 'string') m['merges'] = [];
}

export class Tokenizer {
  readonly vocabSize: number;
  /** Ids of added tokens marked special (sentinels, EOS...). */
  readonly specialIds: ReadonlySet<number>;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  /** Whether the model expects BOS at the start of a sequence (tokenizer_config add_bos_token). */
  readonly addBosToken: boolean;
  readonly byteLevel: boolean;
  private readonly hf: HfTokenizer;
  private readonly addedContent = new Map<number, string>();
  private byteStrings: string[] | null = null;
  /** Matches the text of any added special token (sentinels, EOS) inside user text; null when there are none. */
  private readonly specialText: RegExp | null;

  private constructor(json: Json, config: Json) {
    this.hf = new HfTokenizer(json, config);
    this.byteLevel = isByteLevel(json);
    const special = new Set<number>();
    for (const t of (json['added_tokens'] as Json[] | undefined) ?? []) {
      const id = t['id'];
      const content = t['content'];
      if (typeof id !== 'number' || typeof content !== 'string') continue;
      this.addedContent.set(id, content);
      if (t['special'] === true) special.add(id);
    }
    this.specialIds = special;
    const contents = [...special].map((id) => this.addedContent.get(id)!).filter((c) => c.length > 1);
    this.specialText = contents.length
      ? new RegExp(contents.sort((a, b) => b.length - a.length).map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : null;
    let max = -1;
    for (const id of this.hf.get_vocab(true).values()) if (id > max) max = id;
    for (const id of this.addedContent.keys()) if (id > max) max = id;
    this.vocabSize = max + 1;
    const lookup = (v: unknown) => {
      const c = tokenContent(v);
      return c === undefined ? undefined : this.tokenToId(c);
    };
    this.bosTokenId = lookup(config['bos_token']);
    this.eosTokenId = lookup(config['eos_token']);
    this.addBosToken = config['add_bos_token'] === true;
  }

  /** Builds from parsed tokenizer.json and tokenizer_config.json objects. */
  static fromObjects(tokenizerJson: Json, tokenizerConfig: Json = {}): Tokenizer {
    return new Tokenizer(tokenizerJson, tokenizerConfig);
  }

  /** Reads tokenizer.json (required) and tokenizer_config.json (optional). Throws ModelLoadError. */
  static fromFiles(tokenizerPath: string, tokenizerConfigPath?: string): Tokenizer {
    const read = (file: string, required: boolean): Json | undefined => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        if (!required) return undefined;
        throw new ModelLoadError('missing-file', file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot be read (${errorText(e)})`);
      }
      try {
        return JSON.parse(text) as Json;
      } catch (e) {
        throw new ModelLoadError('corrupt-file', file, `is not valid JSON (${errorText(e)})`);
      }
    };
    const json = read(tokenizerPath, true)!;
    const config = (tokenizerConfigPath && read(tokenizerConfigPath, false)) || {};
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, config);
    } catch (e) {
      throw new ModelLoadError('corrupt-file', tokenizerPath, `is not a usable tokenizer (${errorText(e)})`);
    }
    dropBpeSource(json);
    return tokenizer;
  }

  /**
   * Token ids of `text`, without BOS/EOS. Text that spells a special token (a file containing
   * "<fim_middle>" or "<|endoftext|>") is encoded as ordinary text, never as the special token: it is
   * split after its first character, so user text cannot inject sentinels into a prompt.
   */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    if (!this.specialText) return this.hf.encode(text, { add_special_tokens: false }).ids;
    const ids: number[] = [];
    let start = 0;
    this.specialText.lastIndex = 0;
    for (let m = this.specialText.exec(text); m; m = this.specialText.exec(text)) {
      const cut = m.index + 1;
      if (cut > start) append(ids, this.hf.encode(text.slice(start, cut), { add_special_tokens: false }).ids);
      start = cut;
      this.specialText.lastIndex = cut;
    }
    if (start < text.length) append(ids, this.hf.encode(text.slice(start), { add_special_tokens: false }).ids);
    return ids;
  }

  /** Like encode, but special-token text becomes the special token (for prompts written as text, e.g. golden files). */
  encodeWithSpecials(text: string): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedContent.get(id) ?? this.hf.id_to_token(id);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The raw bytes a token stands for (added tokens: their UTF-8 content). */
  tokenBytes(id: number): Uint8Array {
    const added = this.addedContent.get(id);
    if (added !== undefined) return utf8.encode(added);
    const tok = this.hf.id_to_token(id);
    if (tok === undefined) return new Uint8Array(0);
    if (this.byteLevel) {
      const out = new Uint8Array(tok.length * 2);
      let n = 0;
      for (const ch of tok) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b !== undefined) out[n++] = b;
        else for (const x of utf8.encode(ch)) out[n++] = x;
      }
      return out.slice(0, n);
    }
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(tok);
    if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    return utf8.encode(tok.replace(/\u2581/g, ' '));
  }

  /**
   * Every token's bytes as a "binary string" (one char per byte, code 0–255), indexed by id; special tokens
   * map to '' so byte-level constraints never select them. Built once, on first use.
   */
  tokenByteStrings(): readonly string[] {
    if (!this.byteStrings) {
      const out = new Array<string>(this.vocabSize);
      for (let id = 0; id < this.vocabSize; id++) {
        let str = '';
        if (!this.specialIds.has(id)) for (const b of this.tokenBytes(id)) str += String.fromCharCode(b);
        out[id] = str;
      }
      this.byteStrings = out;
    }
    return this.byteStrings;
  }

  createStreamDecoder(): StreamDecoder {
    const decoder = new TextDecoder('utf-8', { fatal: false });
    return {
      push: (id: number) => (this.specialIds.has(id) ? '' : decoder.decode(this.tokenBytes(id), { stream: true })),
      flush: () => decoder.decode(),
    };
  }
}

/** UTF-8 bytes of `text` as a binary string (one char per byte), the form tokenByteStrings() uses. */
export function toByteString(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += String.fromCharCode(b);
  return out;
}
