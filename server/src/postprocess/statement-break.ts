// Filter: drops a completion that begins a new statement in the middle of the cursor's line where it cannot go. At
// `from collections import ║` the model may write a whole new import, `from contextlib import contextmanager`;
// inserted, `from collections import from contextlib import contextmanager` is a syntax error. Counting errors does
// not see it: the unfinished line is one ERROR node with or without the completion, so the completion "adds" none and
// the ranking (rank.ts) cannot put it behind a fitting one, nor does it help when only one candidate is asked
// (automatic triggers). Ghost text that breaks the line is worse than none: the completion is dropped (the next
// candidate, if any, is shown).

import { grammarFor, grammarSettings, syntaxChecker, type GrammarName, type SyntaxCheck } from '../syntax/index.js';
import { lineBeforeCursor, type PostprocessContext } from './context.js';

const starts = new Map<GrammarName, RegExp | null>();

/** The grammar's `statementStart` pattern (grammars/<name>.json), null when it has none or it does not compile. */
function statementStart(grammar: GrammarName): RegExp | null {
  let re = starts.get(grammar);
  if (re === undefined) {
    const source = grammarSettings(grammar).statementStart;
    try {
      re = typeof source === 'string' && source ? new RegExp(source) : null;
    } catch {
      re = null;
    }
    starts.set(grammar, re);
  }
  return re;
}

/**
 * True when `text` (after spaces and tabs) starts with a keyword that only begins a statement (`import`, `from`, `def`,
 * `return`, `const`, `export`…: grammars/<name>.json `statementStart`, which leaves out keywords that also continue an
 * expression, such as Python's `if`/`else`/`for` or JS's `function`/`class`/`import(`). False for languages without a grammar.
 */
export function startsStatement(text: string, languageId: string): boolean {
  const grammar = grammarFor(languageId);
  const re = grammar ? statementStart(grammar) : null;
  return re !== null && re.test(text.replace(/^[ \t]+/, ''));
}

// The last cursor's checker: one request's candidates (and a one-candidate request's retries, engine/decode.ts) share
// one parse of the document instead of one each.
let last: { prefix: string; suffix: string; languageId: string; check: ReturnType<typeof syntaxChecker> } | undefined;

function checkerFor(ctx: PostprocessContext): ReturnType<typeof syntaxChecker> {
  if (last && last.prefix === ctx.prefix && last.suffix === ctx.suffix && last.languageId === ctx.languageId) return last.check;
  const check = syntaxChecker(ctx.prefix, ctx.suffix, ctx.languageId);
  last = { prefix: ctx.prefix, suffix: ctx.suffix, languageId: ctx.languageId, check };
  return check;
}

/** startsStatement(text) while the cursor's line has code before the cursor: the texts dropStatementBreak parses for. */
export function startsStatementMidLine(text: string, ctx: { prefix: string; languageId: string }): boolean {
  return /\S/.test(lineBeforeCursor(ctx.prefix)) && startsStatement(text, ctx.languageId);
}

/**
 * Whether a completion that starts a statement (startsStatement) breaks the line it is inserted in, given its syntax
 * check at the cursor: the cursor is inside an unfinished statement (`check.unfinished`) and the completion repairs
 * nothing, neither an ERROR/MISSING node (treeDelta ≥ 0; `import defaultdict` at `from collections ║` repairs one and
 * stays) nor a bracket (lexicalDelta ≥ 0; `else {` at `} ║` whose block the suffix closes). "Adds errors" alone is
 * not enough: on held-out files (cut out of longer ones, so often broken around the cursor) it dropped true
 * completions such as `else if (…) {` at `} ║`.
 */
export function breaksLine(check: SyntaxCheck): boolean {
  return check.unfinished && check.treeDelta >= 0 && check.lexicalDelta >= 0;
}

/**
 * '' when `text` starts a new statement (startsStatement) while the cursor's line has code before the cursor, and
 * inserting it there breaks that line (breaksLine); else `text`. Costs nothing unless the text starts with a statement
 * keyword mid-line; then one parse of the document (kept for the next call at the same cursor) and one incremental
 * re-parse. Pure (the kept parse changes no answer), never throws.
 */
export function dropStatementBreak(text: string, ctx: PostprocessContext): string {
  if (!startsStatementMidLine(text, ctx)) return text;
  const check = checkerFor(ctx)?.(text);
  return check && breaksLine(check) ? '' : text;
}
