// The syntax layer's say in decoding: single- vs multi-line, where a completion must stop (end of the cursor's block,
// the code after the cursor) and, when the cursor's block has nothing after the cursor, the self-infilling suffix prompt.
// Pure: plain strings in, plain data and predicates out; never throws on broken code.
import { analyzeCursor, errorWindow, type SyntaxTrees, grammarFor, grammarSettings, initialScanState, leadingWhitespace, scan, GENERIC_RULES, type CursorAnalysis, type LexicalRules, type ScanState } from '../syntax/index.js';

export interface PlanInput {
  prefix: string;
  suffix: string;
  languageId: string;
  trigger: 'automatic' | 'manual';
  lineMode?: 'single' | 'multi';
  /** With `trees`: the document whose analysis window is re-parsed incrementally from its previous tree. */
  documentKey?: string;
}

export interface DecodePlan {
  lineMode: 'single' | 'multi';
  /** Why this line mode (debug logs, tests). */
  lineModeReason: string;
  /**
   * Multi-line only where the middle ended (`keepLines`): true when the cursor's block already has code after the
   * cursor (not the start of an empty block), so that lines the model writes past what is missing would collide with
   * that code.
   */
  onlyIfEnded: boolean;
  /**
   * The code lines around the cursor that `keepLines` compares a multi-line middle with (trimmed): the last code line
   * before the cursor's line (null at the top), and the first two code lines after the cursor (the rest of its line
   * first when it has code).
   */
  around: { above: string | null; below: string[] };
  /**
   * Self-infilling with an empty or irrelevant suffix: the text the self-written suffix starts with (`}` at the block
   * opener's indentation, `return` at a Python function body's); null when the cursor's block has code after the
   * cursor (the real suffix is used), in single-line mode, or when the language gives no natural end.
   */
  suffixPrompt: string | null;
  /** Cuts a completion (a middle): returns the UTF-16 index it ends at, or null to go on. */
  stopAt(text: string): number | null;
  /** Cuts a self-written or regenerated suffix just after the end of the cursor's block. */
  suffixStopAt(text: string): number | null;
}

/** Analysis window: enough context for the cursor's function, bounded cost on big files. */
const WINDOW_CHARS = 6000;
const WORD = /[\p{L}\p{N}_$]/u;
/** A line that continues the statement of the block before it rather than leaving it. */
const CONTINUES_STATEMENT = /^([\])}]\s*)?(else|elif|except|catch|finally)\b/;
/** A line that starts a new definition (Python `def`/`class`/decorator; JS/TS `function`/`class`/`interface`/…, exported or not). */
const STARTS_DEFINITION = /^(?:@\w|(?:export\s+(?:default\s+)?)?(?:async\s+)?(?:(?:def|class|function\*?|interface|enum|abstract\s+class)\b|type\s+[A-Za-z_$]))/;

export function planDecode(input: PlanInput, trees?: SyntaxTrees): DecodePlan {
  const prefix = typeof input.prefix === 'string' ? input.prefix : '';
  const suffix = typeof input.suffix === 'string' ? input.suffix : '';
  const w = errorWindow(prefix, suffix, WINDOW_CHARS);
  let analysis: CursorAnalysis | null = null;
  try {
    const text = w.prefix + w.suffix;
    // The window starts at a top-level line that rarely moves while typing: its tree is re-parsed incrementally.
    const tree = trees && input.documentKey !== undefined ? trees.update(input.documentKey, input.languageId, text).tree : undefined;
    analysis = analyzeCursor(text, w.prefix.length, input.languageId, tree);
  } catch {
    analysis = null; // a parser failure is not the request's: decode without syntax facts
  }
  const grammar = grammarFor(input.languageId);
  const settings = grammar ? grammarSettings(grammar) : null;
  const rules: LexicalRules = settings ?? GENERIC_RULES;
  const indentStyle = settings?.blockStyle ?? 'braces';
  const { lineMode, reason, onlyIfEnded } = chooseLineMode(input, prefix, suffix, analysis);
  const unit = analysis?.indent.unit ?? settings?.defaultIndent ?? '    ';
  const bodyIndent = blockBodyIndent(prefix, unit, indentStyle);
  const afterPrefix = scan(w.prefix, rules, initialScanState());

  const singleStop = (text: string) => {
    const at = text.search(/\r?\n/);
    return at < 0 ? null : at;
  };

  /** Indentation of the first code line after the cursor's line, or null when none follows. */
  // With code after the cursor on its line, that line is the next one (its indentation is the whole line's).
  const lineBefore = prefix.slice(prefix.lastIndexOf('\n') + 1);
  const rest = restOfLine(suffix);
  const nextLine = rest.trim() !== '' ? (lineBefore.trim() === '' ? lineBefore + rest : leadingWhitespace(lineBefore) + rest.trimStart()) : suffix.split('\n').slice(1).find((l) => l.trim() !== '');
  const nextIndent = nextLine === undefined ? null : leadingWhitespace(nextLine).length;
  const nextCode = nextLine?.trim() ?? null;
  /**
   * A completion line must not dedent below both the cursor's block and the code that follows: the block (and the
   * code after it) already exist, so such a line runs past them. Lines deeper than the next code line are fine — a
   * completion may open the block the suffix continues in.
   */
  const dedentLimit = Math.min(bodyIndent.length, nextIndent ?? bodyIndent.length);
  const emptyBlock = reason === 'empty-block';
  // A caller-forced multi-line answer (API `lineMode`, eval's multi-line tasks) is the cursor block's too, where code
  // follows the cursor and that block is closed after it (Python: by its dedent; braces: the suffix closes the
  // innermost bracket): rule (c) below ends it at that block's end, as for an empty block. With an empty suffix the
  // dedent rule (b) already ends it at the block (a top-level cursor has nothing to dedent below).
  const forcedBlock =
    reason === 'caller' && lineMode === 'multi' && nextIndent !== null && (indentStyle === 'indent' || suffixClosesInnermost(afterPrefix, suffix, rules));
  const closesBefore = (text: string, upTo: number) => scan(text.slice(0, upTo), rules, { ...afterPrefix, stack: [] }).unmatchedClosers > 0;

  /** Walks the completion's lines after the first (the last one once it shows code); returns the cut or null. */
  const lineStop = (text: string, forSuffix: boolean): number | null => {
    let start = text.indexOf('\n') + 1;
    while (start > 0) {
      const nl = text.indexOf('\n', start);
      const line = nl < 0 ? text.slice(start) : text.slice(start, nl);
      const code = line.trim();
      if (code !== '') {
        const indent = leadingWhitespace(line).length;
        // (a) The first code line after the cursor again (a closer-only one only when it closes a bracket opened
        // before the cursor): the completion started rewriting the suffix.
        if (nextCode !== null && code === nextCode && nl >= 0 && (WORD.test(code) || closesBefore(text, nl))) return start - 1;
        if (!forSuffix && indent < dedentLimit) {
          // (b) Dedent: at the end of the file a brace block may close (keep its closer line), otherwise stop before.
          if (nextIndent === null && indentStyle === 'braces' && /^[\])}]/.test(code)) return nl < 0 ? null : nl;
          return start - 1;
        }
        // (c) At the start of an empty block the completion is that block's body: the code after the block exists
        // already, so a line dedented below the body leaves the block, unless it continues the block's statement
        // (`} else {`, `else:`, `except E:`); judged once the line is complete. A forced multi-line answer inside a
        // block (`forcedBlock`) may go on past the block's end (the enclosing code often continues: dev multi-line
        // tasks lost edit similarity when it stopped there, bench/results/quality-forced-block.md), but not into a new
        // definition (`def`, `class`, `function`, a decorator) dedented below the body.
        if (!forSuffix && (emptyBlock || (forcedBlock && STARTS_DEFINITION.test(code))) && nl >= 0 && indent < bodyIndent.length && !CONTINUES_STATEMENT.test(code)) return start - 1;
      }
      if (nl < 0) break;
      start = nl + 1;
    }
    return null;
  };

  /** The first closer that closes a bracket opened before the cursor: the end of its line (null: still on it). */
  const closerLineEnd = (text: string): number | null | undefined => {
    const from: ScanState = { ...afterPrefix, stack: [] };
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c !== '}' && c !== ')' && c !== ']') continue;
      if (scan(text.slice(0, i + 1), rules, from).unmatchedClosers > 0) {
        const nl = text.indexOf('\n', i);
        return nl < 0 ? null : nl;
      }
    }
    return undefined;
  };

  const firstOf = (...cuts: (number | null | undefined)[]) => {
    let best: number | null = null;
    for (const c of cuts) if (c !== null && c !== undefined && (best === null || c < best)) best = c;
    return best;
  };

  const stopAt = lineMode === 'single' ? singleStop : (text: string) => lineStop(text, false);
  // A self-written or regenerated suffix ends with the cursor's block: a Python line dedented below the suffix
  // prompt's indentation, or the line of the closer that closes the block.
  let suffixIndent = bodyIndent.length;
  const suffixStopAt = (text: string): number | null => {
    if (indentStyle === 'braces') return firstOf(lineStop(text, true), closerLineEnd(text));
    let start = text.indexOf('\n') + 1;
    while (start > 0) {
      const nl = text.indexOf('\n', start);
      const line = nl < 0 ? text.slice(start) : text.slice(start, nl);
      if (line.trim() !== '' && leadingWhitespace(line).length < suffixIndent) return start - 1;
      if (nl < 0) break;
      start = nl + 1;
    }
    return lineStop(text, true);
  };

  let suffixPrompt: string | null = null;
  if (lineMode === 'multi' && analysis && !analysis.inComment && !analysis.inString && restOfLine(suffix).trim() === '') {
    if (indentStyle === 'indent') {
      const fn = enclosingFunctionIndent(prefix, bodyIndent.length);
      if (fn !== null && blockRestEmpty(suffix, bodyIndent.length)) {
        suffixPrompt = fn + unit + 'return';
        suffixIndent = fn.length + unit.length;
      }
    } else if (afterPrefix.stack[afterPrefix.stack.length - 1] === '{' && !suffixClosesInnermost(afterPrefix, suffix, rules) && WORD.test(prefix)) {
      suffixPrompt = (bodyIndent.length >= unit.length ? bodyIndent.slice(0, bodyIndent.length - unit.length) : '') + '}';
    }
  }
  const above = prefix.slice(0, prefix.length - lineBefore.length).split('\n').reverse().find((l) => l.trim() !== '')?.trim() ?? null;
  const below = [rest, ...suffix.split('\n', 64).slice(1)].map((l) => l.trim()).filter((l) => l !== '').slice(0, SUFFIX_LINES_COMPARED);
  return { lineMode, lineModeReason: reason, onlyIfEnded, around: { above, below }, suffixPrompt, stopAt, suffixStopAt };
}

/** keepLines: the most lines a middle keeps inside a block whose code continues below (see keepLines). */
export const MAX_KEPT_LINES = 5;
/** keepLines: a middle line at least this similar to a code line after the cursor rewrites it (edit similarity). */
export const SUFFIX_LINE_SIMILARITY = 0.5;
/** keepLines: how many code lines after the cursor a middle line is compared with. */
const SUFFIX_LINES_COMPARED = 2;

/**
 * Edit similarity of two strings: 1 - Levenshtein distance / the longer length, in 0..1 (1 for two empty strings).
 * The metric of the code-completion evaluations (CodeXGLUE, RepoBench); O(a·b) time, for single lines.
 */
export function lineSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  if (a.length === 0 || b.length === 0) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - prev[b.length]! / Math.max(a.length, b.length);
}

/**
 * The lines of a decoded middle to keep (plain FIM's candidates, which report why their span stopped):
 * - the plan's stop rules once more on the final text (its last line is complete now, so a dedent or a repeated code
 *   line there counts);
 * - where the plan is multi-line only if the middle ends (`onlyIfEnded`: a blank line or an opener's line inside a
 *   block whose code continues below, issue 12 item 7), the lines up to the first that
 *   (a) repeats an earlier line of the middle or the code line above the cursor (the model loops),
 *   (b) resembles one of the first SUFFIX_LINES_COMPARED code lines after the cursor (edit similarity >=
 *       SUFFIX_LINE_SIMILARITY: the model began to rewrite the code that follows, as peers stop on a line that
 *       repeats the suffix's first line), or
 *   (c) would be line MAX_KEPT_LINES + 1,
 *   whatever ended the decode (its end-of-middle token, a stop rule, the token limit). A single missing line is then
 *   one line when the model continues with the code after it; where it writes other code, the missing part was
 *   likely several lines. Chosen on held-out dev tasks (bench/results/quality-line-rules.md): this keeps single-line
 *   tasks' exact match at their first-line figure and multi-line tasks' edit similarity above the old "all lines".
 * `stopReason` undefined (a decode mode that does not report it) keeps the text.
 */
export function keepLines(text: string, stopReason: string | undefined, plan: Pick<DecodePlan, 'lineMode' | 'onlyIfEnded' | 'stopAt' | 'around'>): string {
  if (plan.lineMode !== 'multi' || stopReason === undefined) return text;
  const cut = plan.stopAt(text.endsWith('\n') ? text : `${text}\n`);
  if (cut !== null && cut < text.length) text = text.slice(0, cut);
  if (!plan.onlyIfEnded) return text;
  // The first line that has code (a middle may start with a line break at the end of an opener's line).
  const lead = /^[ \t]*\n/.exec(text)?.[0].length ?? 0;
  const lines = text.slice(lead).split('\n');
  const seen = new Set<string>(plan.around.above !== null ? [plan.around.above] : []);
  let keep = Math.min(lines.length, MAX_KEPT_LINES);
  for (let i = 0; i < keep; i++) {
    const code = lines[i]!.trim();
    if (code === '') continue;
    if (i > 0 && ((code.length > 1 && seen.has(code)) || plan.around.below.some((b) => lineSimilarity(code, b) >= SUFFIX_LINE_SIMILARITY))) keep = i;
    seen.add(code);
  }
  return text.slice(0, lead) + lines.slice(0, keep).join('\n');
}

/**
 * Single- vs multi-line from the cursor: the caller's choice first; at the start of an empty block, several lines;
 * inside a comment or string, one line; with code after the cursor on its line (also at that code's indentation,
 * HumanEval-infilling's layout), one; after other code on the line (`const x = `, mid-identifier) that line only —
 * whatever the trigger: on held-out dev tasks, the several lines a manual request kept there lost exact match or edit
 * similarity against the first line alone (bench/results/quality-line-rules-dev.md). Elsewhere — a blank line or the
 * end of an opener's line in a block that goes on — several lines as `keepLines` cuts them (`onlyIfEnded`), as peers
 * (Copilot, Tabby) go fully multi-line only at an empty block.
 */
export function chooseLineMode(
  input: Pick<PlanInput, 'trigger' | 'lineMode'>,
  prefix: string,
  suffix: string,
  analysis: CursorAnalysis | null,
): { lineMode: 'single' | 'multi'; reason: string; onlyIfEnded: boolean } {
  if (input.lineMode) return { lineMode: input.lineMode, reason: 'caller', onlyIfEnded: false };
  if (analysis?.atEmptyBlockStart) return { lineMode: 'multi', reason: 'empty-block', onlyIfEnded: false };
  if (analysis?.inComment) return { lineMode: 'single', reason: 'comment', onlyIfEnded: false };
  if (analysis?.inString) return { lineMode: 'single', reason: 'string', onlyIfEnded: false };
  const lineBefore = prefix.slice(prefix.lastIndexOf('\n') + 1);
  if (restOfLine(suffix).trim() !== '') return { lineMode: 'single', reason: 'code-after-cursor', onlyIfEnded: false };
  if (lineBefore.trim() === '') return { lineMode: 'multi', reason: 'blank-line', onlyIfEnded: true };
  if (/[{:(\[]\s*$/.test(lineBefore)) return { lineMode: 'multi', reason: 'opener', onlyIfEnded: true };
  return { lineMode: 'single', reason: analysis?.midIdentifier ? 'mid-identifier' : 'after-code', onlyIfEnded: false };
}

/**
 * Indentation of the lines the completion writes in the cursor's block: the cursor line's own whitespace when it has
 * nothing else; at column 0 of an empty line, the previous code line's (one unit deeper after an opener); after code,
 * that line's (one unit deeper after an opener).
 */
export function blockBodyIndent(prefix: string, unit: string, style: 'braces' | 'indent'): string {
  const lineBefore = prefix.slice(prefix.lastIndexOf('\n') + 1);
  if (lineBefore.length > 0 && lineBefore.trim() === '') return lineBefore;
  let line = lineBefore;
  if (line === '') {
    const lines = prefix.split('\n');
    line = '';
    for (let i = lines.length - 2; i >= 0; i--) {
      if (lines[i]!.trim() !== '') {
        line = lines[i]!.replace(/\r$/, '');
        break;
      }
    }
  }
  const opener = style === 'indent' ? /:\s*(#.*)?$/.test(line) : /[{(\[]\s*$/.test(line);
  return leadingWhitespace(line) + (opener ? unit : '');
}

function restOfLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  return nl < 0 ? suffix : suffix.slice(0, nl);
}

/**
 * True when the suffix closes the innermost bracket open at the cursor (scanning the suffix from the prefix's state).
 * The whole suffix, not the analysis window: a long class body closes far below the cursor, and a window would make
 * its suffix look irrelevant.
 */
function suffixClosesInnermost(afterPrefix: ScanState, suffix: string, rules: LexicalRules): boolean {
  const depth = afterPrefix.stack.length;
  if (depth === 0) return false;
  // Scan line by line so that a long suffix stops as soon as the depth drops below the cursor's.
  let state = afterPrefix;
  let start = 0;
  while (start < suffix.length) {
    const nl = suffix.indexOf('\n', start);
    const end = nl < 0 ? suffix.length : nl + 1;
    state = scan(suffix.slice(start, end), rules, state);
    if (state.stack.length < depth || state.unmatchedClosers > afterPrefix.unmatchedClosers) return true;
    start = end;
  }
  return false;
}

/** The indentation of the `def` whose body holds a line indented `bodyIndent`, or null at module/class level. */
function enclosingFunctionIndent(prefix: string, bodyIndent: number): string | null {
  if (bodyIndent === 0) return null;
  const lines = prefix.split('\n');
  let threshold = bodyIndent;
  for (let i = lines.length - 1; i >= 0 && threshold > 0; i--) {
    const line = lines[i]!;
    if (line.trim() === '' || (i === lines.length - 1 && line.trim() === '')) continue;
    const ind = leadingWhitespace(line);
    if (ind.length >= threshold) continue;
    if (/^\s*(async\s+)?def\s/.test(line)) return ind;
    if (/^\s*class\s/.test(line)) return null;
    threshold = ind.length;
  }
  return null;
}

/** No code line after the cursor's line at the block's indentation or deeper before the block ends. */
function blockRestEmpty(suffix: string, bodyIndent: number): boolean {
  const lines = suffix.split('\n').slice(1);
  for (const line of lines) {
    if (line.trim() === '') continue;
    return leadingWhitespace(line).length < bodyIndent;
  }
  return true;
}
