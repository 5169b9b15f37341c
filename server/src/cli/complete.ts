// `infill-ls complete <file> --line L --column C`: one completion at a position of a file, printed to stdout.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createEngine } from '../engine/engine.js';
import { binaryContentReason, computeLineStarts, defaultMaxCandidates, documentEol, insideSurrogatePair, lfOnly, lineEndOffset, windowContext } from '../documents/index.js';
import type { CompletionContext } from '../engine/types.js';
import { fitCandidate } from '../postprocess/index.js';
import { decodeOptionsFrom } from './eval.js';
import { MODEL_FLAGS, UsageError, engineOptionsFrom, languageOf, modelOptions, parse, positiveInt, statusLine } from './args.js';

export const COMPLETE_USAGE = `usage: infill-ls complete <file> --line L --column C [options]

Prints the completion the model inserts at line L, column C of <file>: the top candidate, the same one
the WebSocket API's \`complete\` and an LSP request give for that document, position, trigger and count.
L and C are 1-based; C counts characters (UTF-16 code units) within the line, and may be one past
the last character (the end of the line).

${MODEL_FLAGS}
  --trigger T             automatic | manual (default manual): automatic asks as typing does, manual as an
                          explicit request; they differ in the candidates asked (below), and for both the
                          syntax plan chooses one line or several
  --max-candidates N      candidates decoded, 1-8 (default 3 for manual, 1 for automatic, as over LSP and the
                          API); with several, the top one is the best ranked, which may differ from the
                          one-candidate (greedy) answer
  --line-mode M           single | multi: force one line or several (default: the syntax plan chooses)
  --single-line           the same as --line-mode single
  --mode M                fim | self-infill | si0 | si1 | si2 (si<N> = self-infill with N loops): the decode mode,
                          as the LSP setting decodeMode (default fim)
  --loops N, --tau X      self-infilling loops (0..2) and confidence threshold (0..1), as the LSP settings
                          selfInfillLoops (default 1) and selfInfillTau (default 0.25)
  --json                  print {"completion", "candidates", "timings", "status"} as JSON instead of the bare text`;

/**
 * UTF-16 offset of (line, column), both 1-based (lines end at LF, CRLF or a lone CR; a line's length excludes its
 * terminator); throws UsageError when the position is outside the text or inside a surrogate pair.
 */
export function offsetOf(text: string, line: number, column: number): number {
  const starts = computeLineStarts(text);
  if (line > starts.length) throw new UsageError(`--line ${line} is past the end of the file (it has ${starts.length} ${starts.length === 1 ? 'line' : 'lines'})`);
  const lineLength = lineEndOffset(text, starts, line - 1) - starts[line - 1]!;
  if (column > lineLength + 1) throw new UsageError(`--column ${column} is past the end of line ${line} (it has ${lineLength} ${lineLength === 1 ? 'character' : 'characters'})`);
  const offset = starts[line - 1]! + column - 1;
  if (insideSurrogatePair(text, offset)) throw new UsageError(`--column ${column} is inside a surrogate pair on line ${line} (between the two UTF-16 code units of one character); use ${column - 1} or ${column + 1}`);
  return offset;
}

/** Runs the command; resolves with the exit code (0 ok, 1 model or file problem, 2 usage). */
export async function runComplete(argv: readonly string[], io: { stdout?: (s: string) => void; stderr?: (s: string) => void } = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  let args;
  try {
    args = parse(argv, { ...modelOptions, line: { type: 'string' }, column: { type: 'string' }, 'single-line': { type: 'boolean' }, 'line-mode': { type: 'string' }, 'max-candidates': { type: 'string' }, trigger: { type: 'string' }, json: { type: 'boolean' }, mode: { type: 'string' }, loops: { type: 'string' }, tau: { type: 'string' } }, true);
    if (args.values.help) {
      out(`${COMPLETE_USAGE}\n`);
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one file');
    if (args.values.line === undefined || args.values.column === undefined) throw new UsageError('--line and --column are required');
  } catch (e) {
    if (e instanceof UsageError) {
      err(`infill-ls complete: ${e.message}\n\n${COMPLETE_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const file = path.resolve(args.positionals[0]!);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
    // A UTF-8 byte order mark is not text: editors drop it before they show the file or send it over LSP, so columns
    // on line 1 and the prompt are the same as theirs without it.
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    err(`infill-ls complete: ${file}: ${code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory; give a source file' : code === 'EACCES' ? 'permission denied' : String(e)}\n`);
    return 1;
  }
  const binary = binaryContentReason(text);
  if (binary !== undefined) {
    err(`infill-ls complete: ${file}: not a source file: ${binary}\n`);
    return 1;
  }
  let offset: number;
  let engineOptions;
  let trigger: 'automatic' | 'manual';
  let maxCandidates: number;
  let lineMode: 'single' | 'multi' | undefined;
  try {
    offset = offsetOf(text, positiveInt('line', args.values.line)!, positiveInt('column', args.values.column)!);
    engineOptions = { ...engineOptionsFrom(args.values), ...decodeOptionsFrom(args.values) };
    const t = args.values.trigger ?? 'manual';
    if (t !== 'automatic' && t !== 'manual') throw new UsageError(`--trigger must be automatic or manual, got ${JSON.stringify(t)}`);
    trigger = t;
    maxCandidates = positiveInt('max-candidates', args.values['max-candidates']) ?? defaultMaxCandidates(trigger);
    if (maxCandidates > 8) throw new UsageError(`--max-candidates must be 1-8, got ${maxCandidates}`);
    const m = args.values['line-mode'];
    if (m !== undefined && m !== 'single' && m !== 'multi') throw new UsageError(`--line-mode must be single or multi, got ${JSON.stringify(m)}`);
    if (m === 'multi' && args.values['single-line']) throw new UsageError('--single-line and --line-mode multi contradict each other; give one');
    lineMode = args.values['single-line'] ? 'single' : m;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`infill-ls complete: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // One status line (model, device and why); the engine's load steps and per-request lines only with INFILL_LS_LOG=debug.
  const debug = process.env.INFILL_LS_LOG === 'debug';
  const engine = createEngine({ ...engineOptions, ...(debug ? { log: (m: string) => err(`infill-ls: ${m}\n`) } : {}) });
  try {
    await engine.loaded;
    if (!debug && engine.status().state === 'ready') err(`${statusLine(engine.status())}\n`);
    // The engine sees LF text; the printed completion has the file's line ends and fits the text after the cursor.
    // The same context the servers build for this position (documents/context.ts; trigger, candidate count and line
    // mode as given), and the same window of it that their EngineHost gives the engine (documents/window.ts).
    const context: CompletionContext = {
      documentKey: pathToFileURL(file).href,
      version: 1,
      languageId: languageOf(file),
      prefix: lfOnly(text.slice(0, offset)),
      suffix: lfOnly(text.slice(offset)),
      trigger,
      maxCandidates,
      ...(lineMode ? { lineMode } : {}),
    };
    const r = await engine.complete(windowContext(context), new AbortController().signal);
    if (r.kind !== 'ok') {
      err(`infill-ls complete: ${r.kind === 'degraded' ? r.reason : 'cancelled'}\n`);
      return 1;
    }
    const fit = { prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, eol: documentEol(text) };
    // Fitted, without empty or repeated texts, as the API and LSP items list them; the top one is printed.
    const seen = new Set<string>();
    const candidates = r.candidates.map((c) => ({ ...c, text: fitCandidate(c.text, fit) })).filter((c) => c.text.length > 0 && !seen.has(c.text) && seen.add(c.text));
    const completion = candidates[0]?.text ?? '';
    if (args.values.json) out(`${JSON.stringify({ completion, candidates, timings: r.timings, status: engine.status() })}\n`);
    else out(completion.endsWith('\n') ? completion : `${completion}\n`);
    return 0;
  } finally {
    await engine.dispose();
  }
}
