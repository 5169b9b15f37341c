// Same-file far context for the remote backends (llama-server's /infill, OpenAI-compatible /v1/completions), which
// trim the document by characters, not tokens: the engine's far context (prompt/far-context.ts, measured in
// bench/results/far-context.md) given to a server the same way — snippets of the document outside the window sent,
// as the engine sends them, after the request's own cross-file chunks (llama-server: `input_extra`, the chunks
// llama.vim sends from its ring buffer; OpenAI: the family's repository-level head). Off unless `farContextTokens` is
// set (bench/results/remote-far-{py,ts}.md). A document's snippets are sticky as in the engine (stickyFarTexts), so
// the prompt's head — and the server's cached prompt — survives typing. Pure apart from the caller's choice map.
import type { CompletionContext } from '../engine/types.js';
import { stickyFarTexts, type FarChoices } from '../prompt/far-context.js';
import { documentFileName } from '../util/paths.js';

/** Characters a token of far context stands for when a token budget (the `farContextTokens` setting) is given to a remote backend. */
export const FAR_TEXT_CHARS_PER_TOKEN = 4;
/**
 * Characters of far context that the engine's default (DEFAULT_FAR_CONTEXT_TOKENS, 384, engine/model-side.ts) stands
 * for. Remote backends do not use it by default: there far context is on only where `farContextTokens` (or its env)
 * is set, because its gain was measured on models/default's 1,024-token training window, not on the models servers run.
 */
export const ENGINE_DEFAULT_FAR_TEXT_CHARS = 384 * FAR_TEXT_CHARS_PER_TOKEN;

/**
 * The request's cross-file context with the document's far snippets added (kind 'same-file', named by the document's
 * file name, as the engine names them), and how many characters of budget they bring (`farChars`, 0 when none were
 * added: the caller adds it to its own cross-file budget). `windowPrefix` / `windowSuffix` are what the backend sends
 * of the prefix (its end) and of the suffix (its start); the rest of the document is searched. `farChars` ≤ 0, a
 * document with nothing outside the window, or no similar snippet leave the context as it is.
 */
export function withFarText(
  context: Pick<CompletionContext, 'documentKey' | 'prefix' | 'suffix' | 'crossFile'>,
  windowPrefix: string,
  windowSuffix: string,
  farChars: number,
  choices?: FarChoices,
): { crossFile: CompletionContext['crossFile']; extraChars: number } {
  const unchanged = { crossFile: context.crossFile, extraChars: 0 };
  if (!(farChars > 0) || typeof context.prefix !== 'string' || typeof context.suffix !== 'string') return unchanged;
  if (!context.prefix.endsWith(windowPrefix) || !context.suffix.startsWith(windowSuffix)) return unchanged;
  const before = context.prefix.slice(0, context.prefix.length - windowPrefix.length);
  const after = context.suffix.slice(windowSuffix.length);
  if (before.trim() === '' && after.trim() === '') return unchanged;
  const texts = stickyFarTexts(context.documentKey, context.prefix, before, after, windowPrefix, windowSuffix, choices, { maxSnippetChars: farChars });
  if (texts.length === 0) return unchanged;
  const own = context.crossFile;
  const name = own ? { repoName: own.repoName, path: own.path } : documentFileName(context.documentKey);
  return {
    crossFile: {
      repoName: name.repoName,
      path: name.path,
      chunks: [...(own?.chunks ?? []), ...texts.map((text) => ({ path: name.path, text, kind: 'same-file' as const }))],
      ...(own?.maxTokens !== undefined ? { maxTokens: own.maxTokens } : {}),
      ...(own?.format ? { format: own.format } : {}),
    },
    extraChars: farChars,
  };
}

