// Same-file far context: snippets of the current document that lie outside the prompt's prefix/suffix window, chosen
// by identifier similarity to the cursor's neighbourhood and given to the prompt as repository-level chunks of the same
// path (the form the model learnt for other files: `<file_sep>path` …). The retrieval half of RepoCoder /
// Copilot's "similar snippets", applied to the current file, which a 1,024-token training context otherwise cuts off.
// Measured on models/default (bench/quality/far-context.mjs → bench/results/far-context.md). Pure: never throws.

const IDENT = /[A-Za-z_$][\w$]*/g;

/** The set of identifiers of a text (ASCII words not starting with a digit, `$` counting as a letter), for Jaccard similarity. */
export function identifierSet(text: string): Set<string> {
  return new Set(text.match(IDENT) ?? []);
}

/** |a ∩ b| / |a ∪ b|; 0 when both are empty. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let inter = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

export interface FarContextOptions {
  /** Lines per snippet (default 8); snippets start every chunkLines/2 lines, so neighbours overlap by half. */
  chunkLines?: number;
  /** Most snippets returned (default 4); the prompt builder keeps those that fit its token budget. */
  maxChunks?: number;
  /** Snippets less similar than this (Jaccard of identifier sets) are left out (default 0.1, as context/ring.ts). */
  minSimilarity?: number;
  /** Lines of the window's prefix end (default 10) and suffix start (default 3) that make the query. */
  queryPrefixLines?: number;
  querySuffixLines?: number;
  /** Characters of each side searched, nearest the window first (default FAR_CONTEXT_MAX_CHARS). */
  maxChars?: number;
  /**
   * Snippets longer than this many characters are left out (default: no limit): the caller passes what cannot fit its
   * token budget (budget × MAX_CHARS_PER_TOKEN), so minified giant lines are never encoded to find out.
   */
  maxSnippetChars?: number;
}

/**
 * Characters of text above and below the window that are searched by default (128 KiB each side, ~3,000 lines of
 * code): bounds the cost per request on huge files (~7-14 ms for 3,600 lines here) and on minified giant lines.
 */
export const FAR_CONTEXT_MAX_CHARS = 128 * 1024;

export interface FarSnippet {
  /** The snippet's lines joined by '\n'. */
  text: string;
  /** 'before': from the text above the window; 'after': below it. */
  side: 'before' | 'after';
  /** 0-based line of the snippet's first line within its side's searched text (the nearest maxChars). */
  line: number;
  /** Jaccard similarity of its identifiers to the query's. */
  similarity: number;
}

function snippetsOf(text: string, side: FarSnippet['side'], chunkLines: number): Array<Omit<FarSnippet, 'similarity'> & { ids: Set<string> }> {
  if (text.trim() === '') return [];
  const lines = text.split('\n');
  const stride = Math.max(1, Math.floor(chunkLines / 2));
  const out: Array<Omit<FarSnippet, 'similarity'> & { ids: Set<string> }> = [];
  for (let start = 0; start < lines.length; start += stride) {
    const body = lines.slice(start, start + chunkLines).join('\n');
    if (body.trim() !== '') out.push({ text: body, side, line: start, ids: identifierSet(body) });
    if (start + chunkLines >= lines.length) break;
  }
  return out;
}

/**
 * The snippets of `before` (the document's text above the prompt's prefix window) and `after` (below its suffix
 * window) most similar to the window's edge around the cursor (`windowPrefix`'s last lines and `windowSuffix`'s first),
 * best first (ties: the earlier in the document). Empty when there is no text outside the window or nothing similar.
 * Strings only; anything else gives [].
 */
export function farSnippets(before: string, after: string, windowPrefix: string, windowSuffix: string, options: FarContextOptions = {}): FarSnippet[] {
  if (typeof before !== 'string' || typeof after !== 'string' || typeof windowPrefix !== 'string' || typeof windowSuffix !== 'string') return [];
  const chunkLines = Math.max(1, Math.floor(options.chunkLines ?? 8));
  const maxChunks = Math.max(0, Math.floor(options.maxChunks ?? 4));
  const minSimilarity = options.minSimilarity ?? 0.1;
  const maxChars = Math.max(0, Math.floor(options.maxChars ?? FAR_CONTEXT_MAX_CHARS));
  if (before.length > maxChars) {
    // The nearest maxChars, from a line start when one is in reach (a snippet's lines stay whole).
    const cut = before.length - maxChars;
    const nl = before.indexOf('\n', cut);
    before = nl >= 0 ? before.slice(nl + 1) : before.slice(cut);
  }
  if (after.length > maxChars) {
    const nl = after.lastIndexOf('\n', maxChars);
    after = nl > 0 ? after.slice(0, nl) : after.slice(0, maxChars);
  }
  const maxSnippetChars = options.maxSnippetChars ?? Infinity;
  const candidates = [...snippetsOf(before, 'before', chunkLines), ...snippetsOf(after, 'after', chunkLines)].filter((c) => c.text.length <= maxSnippetChars);
  if (candidates.length === 0 || maxChunks === 0) return [];
  const pl = windowPrefix.split('\n');
  const near = pl.slice(Math.max(0, pl.length - Math.floor(options.queryPrefixLines ?? 10))).join('\n') + windowSuffix.split('\n', Math.floor(options.querySuffixLines ?? 3)).join('\n');
  const query = identifierSet(near);
  return candidates
    .map((c, order) => ({ text: c.text, side: c.side, line: c.line, similarity: jaccard(query, c.ids), order }))
    .filter((c) => c.similarity >= minSimilarity)
    .sort((a, b) => b.similarity - a.similarity || a.order - b.order)
    .slice(0, maxChunks)
    .map(({ order: _order, ...s }) => s);
}

/** Newlines in `text` (the 0-based line of its end). */
export function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** A document's snippets stay while the cursor is within this many lines of where they were chosen. */
export const FAR_CONTEXT_STICKY_LINES = 16;

/** A document's last far-context choice: the cursor's line when it was made and the snippets' texts (possibly none). */
export interface FarChoice {
  line: number;
  texts: string[];
}

/** Where a caller keeps the choices per document (an LRU map in the engine and the remote backends). */
export interface FarChoices {
  get(documentKey: string): FarChoice | undefined;
  set(documentKey: string, choice: FarChoice): unknown;
}

/**
 * The far snippets' texts for one request, sticky per document: `before` / `after` are the document's text outside the
 * prompt's window (`windowPrefix` / `windowSuffix`), `prefix` the whole prefix (its line count is the cursor's line).
 * The document's stored choice is reused while every one of its texts is still in `before` or `after` and the cursor
 * is within FAR_CONTEXT_STICKY_LINES lines of where it was made — an empty choice too, since the search costs up to
 * ~45 ms a keystroke on a minified file — so the prompt's head (and a KV or server prompt cache) survives typing.
 * Otherwise farSnippets chooses again, and the choice is stored unless `remember` is false (a request that must not
 * move the document's state, e.g. a warm-up). Pure apart from `choices`.
 */
export function stickyFarTexts(
  documentKey: string,
  prefix: string,
  before: string,
  after: string,
  windowPrefix: string,
  windowSuffix: string,
  choices: FarChoices | undefined,
  options: FarContextOptions & { remember?: boolean } = {},
): string[] {
  const line = lineCount(prefix);
  const held = choices?.get(documentKey);
  if (held && Math.abs(held.line - line) <= FAR_CONTEXT_STICKY_LINES && held.texts.every((t) => before.includes(t) || after.includes(t))) return held.texts;
  const texts = farSnippets(before, after, windowPrefix, windowSuffix, options).map((s) => s.text);
  if (options.remember !== false) choices?.set(documentKey, { line, texts });
  return texts;
}
