// The bounded window of a document the engine sees around the cursor (pure): the cost of a keystroke is bounded by
// the window, not by the document (issue 13, item 4).
//
// The prompt uses ~1k tokens (a few KiB of text) and the syntax layer a few thousand characters on each side, so
// everything past CONTEXT_WINDOW_CHARS from the cursor is cut before the engine sees it. Giant lines (minified
// files) are cut mid-line. The prefix's cut point moves in steps of a quarter window, so while the user types
// the prefix's start stays put (the prompt, KV cache and sticky trimming see the same text before the cursor).

/** UTF-16 code units kept on each side of the cursor. */
export const CONTEXT_WINDOW_CHARS = 64 * 1024;

/** Documents above this many UTF-16 code units (16 Mi: 32 MiB in memory) get no completions and a clear message. */
export const MAX_DOCUMENT_CHARS = 16 * 1024 * 1024;

const isLow = (c: number): boolean => (c & 0xfc00) === 0xdc00;
const isHigh = (c: number): boolean => (c & 0xfc00) === 0xd800;

/**
 * The last ≤ windowChars (+ a quarter window) code units of `prefix`, cut at a step of windowChars/4 counted from
 * the document's start, moved forward to the next line start when one is within that step. Never splits a
 * surrogate pair. Returns `prefix` itself when it is short enough.
 */
export function windowPrefix(prefix: string, windowChars = CONTEXT_WINDOW_CHARS): string {
  if (prefix.length <= windowChars) return prefix;
  const step = Math.max(1, Math.floor(windowChars / 4));
  let cut = Math.floor((prefix.length - windowChars) / step) * step;
  const newline = prefix.indexOf('\n', cut);
  if (newline !== -1 && newline < cut + step) cut = newline + 1;
  else if (cut > 0 && isLow(prefix.charCodeAt(cut)) && isHigh(prefix.charCodeAt(cut - 1))) cut++;
  return prefix.slice(cut);
}

/** The first ≤ windowChars code units of `suffix`, ending at a line end when one is in the last quarter window. */
export function windowSuffix(suffix: string, windowChars = CONTEXT_WINDOW_CHARS): string {
  if (suffix.length <= windowChars) return suffix;
  let end = windowChars;
  const newline = suffix.lastIndexOf('\n', end - 1);
  if (newline !== -1 && newline >= end - Math.floor(windowChars / 4)) end = newline + 1;
  else if (isHigh(suffix.charCodeAt(end - 1))) end--;
  return suffix.slice(0, end);
}

/** `context` with its prefix and suffix cut to the window (the same object when nothing was cut). */
export function windowContext<T extends { prefix: string; suffix: string }>(context: T, windowChars = CONTEXT_WINDOW_CHARS): T {
  const prefix = windowPrefix(context.prefix, windowChars);
  const suffix = windowSuffix(context.suffix, windowChars);
  if (prefix === context.prefix && suffix === context.suffix) return context;
  // Copies, not slices: a slice would keep the whole document alive as long as the context is cached.
  return { ...context, prefix: flatCopy(prefix), suffix: flatCopy(suffix) };
}

/** A copy of `s` that does not share memory with the string it was sliced from (V8 keeps sliced strings' parents). */
function flatCopy(s: string): string {
  // UTF-16LE round-trips every code unit, lone surrogates included.
  return Buffer.from(s, 'utf16le').toString('utf16le');
}
