// Repository-level context in the prompt: chunks of other files as the model's repository-level sequence
// (StarCoder2 / Qwen2.5-Coder `<repo_name>` … `<file_sep>` path \n text …) before the FIM sentinels, or as line
// comments at the top of the prefix (Tabby's form) for models without those sentinels. Pure.
import type { FimTemplate } from './templates.js';
import type { Encode } from './trim.js';

/** The shape of engine/types.ts CrossFileContext that prompt building reads (structural, so prompt/ imports nothing above it). */
export interface RepoContextInput {
  repoName: string;
  path: string;
  chunks: ReadonlyArray<{ path: string; text: string; kind?: string }>;
  maxTokens?: number;
  /** Default: 'repo' when the template has repository-level sentinels, else 'comment'. */
  format?: 'repo' | 'comment';
}

export interface ContextPrompt {
  /** Ids placed after BOS and before the first FIM sentinel ('repo' format); [] otherwise. */
  headIds: number[];
  /** Ids placed at the start of the prefix, before the document's own prefix ('comment' format); [] otherwise. */
  prefixIds: number[];
  /** The format used ('none' when nothing was added). */
  format: 'repo' | 'comment' | 'none';
  /** How many chunks fit the budget (taken in the given order; a chunk that does not fit is skipped). */
  chunks: number;
  /** headIds.length + prefixIds.length. */
  tokens: number;
}

export const DEFAULT_CONTEXT_TOKENS = 256;
const NONE: ContextPrompt = { headIds: [], prefixIds: [], format: 'none', chunks: 0, tokens: 0 };

/** Line-comment marker of a language id ('#' for Python, '//' for the C-like languages). */
export function lineComment(languageId: string | undefined): string {
  return languageId === 'python' ? '#' : '//';
}

/** Groups kept chunks by path, in order of each path's first chunk (one file section per path). */
function sections(chunks: ReadonlyArray<{ path: string; text: string }>): Array<{ path: string; text: string }> {
  const byPath = new Map<string, string[]>();
  for (const c of chunks) {
    const list = byPath.get(c.path) ?? [];
    list.push(c.text.replace(/\s+$/, ''));
    byPath.set(c.path, list);
  }
  return [...byPath].map(([path, texts]) => ({ path, text: texts.join('\n\n') }));
}

function render(
  kept: ReadonlyArray<{ path: string; text: string }>,
  input: RepoContextInput,
  repo: { repoNameId: number; fileSepId: number; newline: boolean } | null,
  comment: string,
  encode: Encode,
): number[] {
  if (kept.length === 0) return [];
  const ids: number[] = [];
  if (repo) {
    // Qwen2.5-Coder: "<|repo_name|>{name}\n<|file_sep|>{path}\n{content}\n…<|file_sep|>{path}\n<|fim_prefix|>…";
    // StarCoder2: "<repo_name>{name}<file_sep>{path}\n{content}…<file_sep>{path}\n<fim_prefix>…".
    ids.push(repo.repoNameId, ...encode(input.repoName + (repo.newline ? '\n' : '')));
    for (const s of sections(kept)) ids.push(repo.fileSepId, ...encode(`${s.path}\n${s.text}\n`));
    ids.push(repo.fileSepId, ...encode(`${input.path}\n`));
    return ids;
  }
  let text = '';
  for (const s of sections(kept)) {
    text += `${comment} Path: ${s.path}\n`;
    for (const line of s.text.split('\n')) text += line.trim() === '' ? `${comment}\n` : `${comment} ${line}\n`;
  }
  return encode(text);
}

/**
 * Token ids of the repository-level context within `input.maxTokens` (default 256). Chunks are taken in order (the
 * caller puts the most stable first, so the prompt's leading tokens — and the per-file KV prefix cache — survive
 * while the set does not change); chunks that do not fit are skipped. Format 'repo' (the default) needs the
 * template's `repoNameId`/`fileSepId`, else 'comment' is used. Pure and total: odd input gives NONE.
 */
export function buildContextPrompt(
  input: RepoContextInput | undefined,
  template: FimTemplate,
  encode: Encode,
  languageId?: string,
): ContextPrompt {
  if (!input || typeof input !== 'object' || !Array.isArray(input.chunks) || input.chunks.length === 0) return NONE;
  const budget = Math.max(0, Math.floor(typeof input.maxTokens === 'number' ? input.maxTokens : DEFAULT_CONTEXT_TOKENS));
  if (budget === 0) return NONE;
  const repo =
    input.format !== 'comment' && template.repoNameId !== undefined && template.fileSepId !== undefined
      ? { repoNameId: template.repoNameId, fileSepId: template.fileSepId, newline: template.family === 'qwen' }
      : null;
  const comment = lineComment(languageId);
  const chunks = input.chunks.filter((c) => c && typeof c.path === 'string' && typeof c.text === 'string' && c.text.trim() !== '');
  const kept: Array<{ path: string; text: string }> = [];
  let ids: number[] = [];
  for (const c of chunks) {
    const trial = render([...kept, c], input, repo, comment, encode);
    if (trial.length > budget) continue;
    kept.push(c);
    ids = trial;
  }
  if (kept.length === 0) return NONE;
  return repo
    ? { headIds: ids, prefixIds: [], format: 'repo', chunks: kept.length, tokens: ids.length }
    : { headIds: [], prefixIds: ids, format: 'comment', chunks: kept.length, tokens: ids.length };
}
