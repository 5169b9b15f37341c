// Builds the FIM prompt token ids: trimmed prefix and suffix around the template's sentinels, with token healing at a partial identifier.
import { buildContextPrompt, type RepoContextInput } from './repo.js';
import type { FimTemplate } from './templates.js';
import { trimPrefix, trimSuffix, type Encode } from './trim.js';

/** What prompt building needs from a tokenizer (see tokenizer/Tokenizer). */
export interface PromptTokenizer {
  encode: Encode;
  /** Every token's bytes as a binary string (one char per byte), '' for special tokens. */
  tokenByteStrings(): readonly string[];
}

export interface PromptOptions {
  /** Token budget of the prefix (default 768). */
  maxPrefixTokens?: number;
  /** Token budget of the suffix (default 256). */
  maxSuffixTokens?: number;
  /** Token healing: how many trailing prefix tokens of a partial identifier may be dropped (0 disables; default 1). */
  maxHealTokens?: number;
}

export interface FimPrompt {
  ids: number[];
  /** Ids before the first FIM sentinel: BOS (when the template has one) and repository-level context ('repo' format). */
  headIds: number[];
  /** The prefix's ids as they appear in `ids` (after healing; led by the 'comment'-format cross-file context, if any). */
  prefixIds: number[];
  /** The suffix's ids as they appear in `ids`. */
  suffixIds: number[];
  /** Kept prefix text, including the healed part. */
  prefixText: string;
  suffixText: string;
  prefixTokens: number;
  suffixTokens: number;
  /**
   * Text removed from the end of the prefix by token healing ('' when none): the generation must begin with
   * it, and it is not part of the inserted completion.
   */
  healText: string;
  /** The same as UTF-8 bytes in binary-string form (what decoding constraints compare). */
  healBytes: string;
  /** Tokens of cross-file context in `ids` (0 without), and how many of its chunks fit the budget. */
  contextTokens: number;
  contextChunks: number;
}

const WORD_TAIL = /[\p{L}\p{N}_$]+$/u;
const utf8 = new TextEncoder();
const byteString = (s: string) => {
  let out = '';
  for (const b of utf8.encode(s)) out += String.fromCharCode(b);
  return out;
};
const fromByteString = (s: string) => new TextDecoder().decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));

/**
 * Token healing: when the prefix ends inside an identifier, drop its trailing token(s) that lie within
 * that identifier (plus at most one character before it, e.g. the space of 'Ġname'), so the model can
 * choose a token that continues the identifier. Returns the kept ids and the removed bytes.
 */
export function healPrefix(prefixText: string, ids: readonly number[], tokenizer: PromptTokenizer, maxHealTokens: number): { ids: number[]; healBytes: string } {
  const word = WORD_TAIL.exec(prefixText)?.[0];
  if (!word || maxHealTokens <= 0 || ids.length === 0) return { ids: [...ids], healBytes: '' };
  const start = prefixText.length - word.length;
  const tail = byteString(prefixText.slice(Math.max(0, start - 1)));
  const wordBytes = byteString(word);
  const strings = tokenizer.tokenByteStrings();
  let removed = '';
  let n = 0;
  while (n < maxHealTokens && n < ids.length) {
    const t = strings[ids[ids.length - 1 - n]!] ?? '';
    if (t === '') break;
    const next = t + removed;
    if (!tail.endsWith(next)) break;
    removed = next;
    n++;
    if (removed.length >= wordBytes.length) break; // the identifier's first token is gone
  }
  return { ids: ids.slice(0, ids.length - n), healBytes: removed };
}

/**
 * Builds the prompt. Pure and total: any strings give a prompt (possibly with an empty prefix or suffix).
 * `crossFile` (engine/types.ts CrossFileContext) adds other files' chunks within their own token budget (prompt/repo.ts):
 * before the sentinels in the 'repo' format, at the start of the prefix in the 'comment' format; `languageId` picks
 * the comment marker.
 */
export function buildFimPrompt(
  input: { prefix: string; suffix: string; crossFile?: RepoContextInput; languageId?: string },
  template: FimTemplate,
  tokenizer: PromptTokenizer,
  options: PromptOptions = {},
): FimPrompt {
  const prefix = typeof input.prefix === 'string' ? input.prefix : '';
  const suffix = typeof input.suffix === 'string' ? input.suffix : '';
  const encode: Encode = (text) => tokenizer.encode(text);
  const p = trimPrefix(prefix, Math.max(0, Math.floor(options.maxPrefixTokens ?? 768)), encode);
  const s = trimSuffix(suffix, Math.max(0, Math.floor(options.maxSuffixTokens ?? 256)), encode);
  const healed = healPrefix(p.text, p.ids, tokenizer, Math.floor(options.maxHealTokens ?? 1));
  const context = buildContextPrompt(input.crossFile, template, encode, input.languageId);
  const head: number[] = [];
  if (template.bosId !== null) head.push(template.bosId);
  head.push(...context.headIds);
  const prefixIds = context.prefixIds.length ? [...context.prefixIds, ...healed.ids] : healed.ids;
  const ids: number[] = [...head];
  const { prefixId: P, suffixId: S, middleId: M } = template;
  if (template.family === 'codestral') {
    ids.push(S, ...s.ids, P, ...prefixIds);
  } else if (template.mode === 'spm' && template.family === 'codellama') {
    ids.push(P, S, ...s.ids, M!, ...prefixIds);
  } else if (template.mode === 'spm') {
    ids.push(S, ...s.ids, P, ...prefixIds, M!);
  } else {
    ids.push(P, ...prefixIds, S, ...s.ids, M!);
  }
  return {
    ids,
    headIds: head,
    prefixIds,
    suffixIds: s.ids,
    prefixText: p.text,
    suffixText: s.text,
    prefixTokens: healed.ids.length,
    contextTokens: context.tokens,
    contextChunks: context.chunks,
    suffixTokens: s.ids.length,
    healText: healed.healBytes ? fromByteString(healed.healBytes) : '',
    healBytes: healed.healBytes,
  };
}
