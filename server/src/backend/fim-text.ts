// FIM prompts as text for remote servers (OpenAI-compatible `/v1/completions`), which tokenize on their side: the
// family's sentinel spellings (the same families as prompt/templates.ts), character budgets trimmed by whole lines,
// and cross-file context in the family's repository-level form (StarCoder2 / Qwen2.5-Coder) else as comments. Pure.
import type { CrossFileContext } from '../engine/types.js';
import type { FimFamily } from '../prompt/index.js';
import { lineComment } from '../prompt/index.js';

export interface TextTemplate {
  build(prefix: string, suffix: string): string;
  /** Strings that end a completion (the server stops on them). */
  stop: string[];
  /** Repository-level sentinels [repo name, file separator], when the family has them. */
  repo?: [string, string];
}

export const TEXT_TEMPLATES: Record<FimFamily, TextTemplate> = {
  qwen: {
    build: (p, s) => `<|fim_prefix|>${p}<|fim_suffix|>${s}<|fim_middle|>`,
    stop: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<|im_end|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'],
    repo: ['<|repo_name|>', '<|file_sep|>'],
  },
  starcoder: {
    build: (p, s) => `<fim_prefix>${p}<fim_suffix>${s}<fim_middle>`,
    stop: ['<|endoftext|>', '<fim_pad>', '<file_sep>', '<repo_name>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>'],
    repo: ['<repo_name>', '<file_sep>'],
  },
  deepseek: {
    build: (p, s) => `<｜fim▁begin｜>${p}<｜fim▁hole｜>${s}<｜fim▁end｜>`,
    stop: ['<｜end▁of▁sentence｜>', '<|EOT|>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'],
  },
  codellama: {
    build: (p, s) => `<PRE> ${p} <SUF>${s} <MID>`,
    stop: ['<EOT>', '</s>', '<PRE>', '<SUF>', '<MID>'],
  },
  codestral: {
    build: (p, s) => `[SUFFIX]${s}[PREFIX]${p}`,
    stop: ['</s>', '[PREFIX]', '[SUFFIX]', '[MIDDLE]'],
  },
};

/** The last lines of `text` within `maxChars` (the cursor line at least partly). */
export function tailByLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.indexOf('\n', text.length - maxChars);
  return cut < 0 ? text.slice(text.length - maxChars) : text.slice(cut + 1);
}

/** The first lines of `text` within `maxChars`. */
export function headByLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.lastIndexOf('\n', maxChars);
  return cut < 0 ? text.slice(0, maxChars) : text.slice(0, cut + 1);
}

/**
 * The prompt text: [repository-level head] + the family's FIM layout of the trimmed prefix and suffix (prefix
 * `maxPrefixChars`, default 3,000; suffix `maxSuffixChars`, default 1,000; cross-file chunks within `maxContextChars`,
 * default 1,000, taken in order, skipping those that do not fit).
 */
export function buildTextPrompt(
  family: FimFamily,
  input: { prefix: string; suffix: string; languageId: string; crossFile?: CrossFileContext },
  budgets: { maxPrefixChars?: number; maxSuffixChars?: number; maxContextChars?: number } = {},
): string {
  const t = TEXT_TEMPLATES[family];
  let prefix = tailByLines(input.prefix, budgets.maxPrefixChars ?? 3000);
  const suffix = headByLines(input.suffix, budgets.maxSuffixChars ?? 1000);
  let head = '';
  const cf = input.crossFile;
  if (cf && Array.isArray(cf.chunks) && cf.chunks.length > 0) {
    const budget = budgets.maxContextChars ?? 1000;
    let used = 0;
    const kept = cf.chunks.filter((c) => {
      const n = c.path.length + c.text.length + 2;
      if (used + n > budget) return false;
      used += n;
      return true;
    });
    if (kept.length && t.repo && cf.format !== 'comment') {
      head = `${t.repo[0]}${cf.repoName}${family === 'qwen' ? '\n' : ''}${kept.map((c) => `${t.repo![1]}${c.path}\n${c.text}\n`).join('')}${t.repo[1]}${cf.path}\n`;
    } else if (kept.length) {
      const c = lineComment(input.languageId);
      prefix = kept.map((k) => `${c} Path: ${k.path}\n${k.text.split('\n').map((l) => (l.trim() ? `${c} ${l}` : c)).join('\n')}\n`).join('') + prefix;
    }
  }
  return head + t.build(prefix, suffix);
}
