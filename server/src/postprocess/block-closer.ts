// Filter: drops a completion that starts by closing the block (or call, list) the cursor is in while the document
// already closes it after the cursor. In an empty block (`function f() {║}`) a model often writes `}` first and then
// code after the block: inserted, that `}` closes the block early and the document's own closer is left unmatched. The
// completion has nothing for the place the user is at, so it is dropped (the next candidate, if any, is shown).

import { initialScanState, scan } from '../syntax/index.js';
import { rulesFor, type PostprocessContext } from './context.js';

const CLOSERS = new Set([')', ']', '}']);

/**
 * '' when `text`'s first non-blank character is a closer that closes the innermost bracket opened before the cursor
 * and the suffix closes that bracket too (lexically, the language's brackets, strings and comments); else `text`.
 * Pure, never throws.
 */
export function dropBlockCloser(text: string, ctx: PostprocessContext): string {
  const lead = text.trimStart();
  if (lead === '' || !CLOSERS.has(lead[0]!)) return text;
  const rules = rulesFor(ctx.languageId);
  const afterPrefix = scan(ctx.prefix, rules, initialScanState());
  // The cursor is in a string or comment, or nothing is open before it: the closer is text, or not the block's.
  if (afterPrefix.inString !== null || afterPrefix.inBlockComment || afterPrefix.inLineComment || afterPrefix.stack.length === 0) return text;
  const pair = rules.brackets.find(([, close]) => close === lead[0]);
  if (!pair || afterPrefix.stack[afterPrefix.stack.length - 1] !== pair[0]) return text;
  // Does the suffix close what was open before the cursor? (Counting from an empty stack: closers of earlier openers.)
  const fromCursor = { ...afterPrefix, stack: [] as string[], unmatchedClosers: 0, mismatchedClosers: 0, unterminatedStrings: 0 };
  return scan(ctx.suffix, rules, fromCursor).unmatchedClosers > 0 ? '' : text;
}
