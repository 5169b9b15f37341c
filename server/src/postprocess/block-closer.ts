// Filter: drops a completion that starts by closing the block (or call, list) the cursor is in while the document
// already closes it after the cursor. In an empty block (`function f() {║}`) a model often writes `}` first and then
// code after the block: inserted, that `}` closes the block early and the document's own closer is left unmatched. The
// completion has nothing for the place the user is at, so it is dropped (the next candidate, if any, is shown).

import { initialScanState, scan } from '../syntax/index.js';
import { rulesFor, structuralScorer, type PostprocessContext } from './context.js';

/** A first line that only closes: closers, then at most a `;` or `,` (not `} else {`, `}).then(`, `} catch`). */
const CLOSING_LINE = /^\s*([)\]}]+)[;,]?[ \t]*(?:\n|$)/;

/**
 * '' when `text`'s first line (after blanks) only closes — closers and at most a `;` or `,` — the first closer closing
 * the innermost bracket opened before the cursor, and inserting those closers alone leaves the document lexically more broken than inserting nothing (the
 * document closes that bracket already: `{║}`, `f(║)`, but not `f(g(a║)`, where one closer is missing); else `text`.
 * Brackets, strings and comments are the language's (syntax/lexer). Pure, never throws.
 */
export function dropBlockCloser(text: string, ctx: PostprocessContext): string {
  const m = CLOSING_LINE.exec(text);
  if (!m) return text;
  const closers = m[1]!;
  const rules = rulesFor(ctx.languageId);
  const afterPrefix = scan(ctx.prefix, rules, initialScanState());
  // In a string or comment the closer is text; with nothing open before the cursor it is not the block's.
  if (afterPrefix.inString !== null || afterPrefix.inBlockComment || afterPrefix.inLineComment) return text;
  const pair = rules.brackets.find(([, close]) => close === closers[0]);
  if (!pair || afterPrefix.stack[afterPrefix.stack.length - 1] !== pair[0]) return text;
  const cost = structuralScorer(ctx);
  return cost(closers) > cost('') ? '' : text;
}
