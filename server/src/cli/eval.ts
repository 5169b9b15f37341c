// `infill-ls eval --tasks T.jsonl --out P.jsonl`: completes every task of a JSONL file with one loaded model.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createEngine, type EngineOptions } from '../engine/engine.js';
import { fitCandidate } from '../postprocess/index.js';
import { MODEL_FLAGS, UsageError, engineOptionsFrom, modelOptions, parse, positiveInt } from './args.js';

export const EVAL_USAGE = `usage: infill-ls eval --tasks T.jsonl --out P.jsonl [options]

Reads one task per line, {"id", "language", "prefix", "suffix"} (HumanEval-infilling's
{"task_id", "prompt", "suffix"} is accepted too; .jsonl.gz is read as gzip), completes each with the
same loaded model, and writes {"id", "completion", "raw", "stopReason", "ms", "tokens", "modelTokens"}
per line: completion is post-processed and validated, raw is the model's first choice before the line
rules and post-processing (score either with bench/quality/score.mjs --field), stopReason why raw's
decode stopped (stop-token: the model ended the middle; stop-at: a stop rule of the plan; max-tokens;
…; bench/quality/line-rules.mjs replays line rules on raw), ms the wall time, tokens the tokens decoded
and modelTokens every token run through the model (prefill, decode, self-infilling passes, scoring).

  --tasks FILE            input tasks
  --out FILE              output predictions (overwritten)
  --limit N               only the first N tasks (of this shard)
  --shard K/N             only tasks i with i % N == K (0 <= K < N), to run N processes in parallel
  --mode M                fim | self-infill | si0 | si1 | si2 (si<N> = self-infill with N loops);
                          default: the engine's default decode mode
  --loops N               self-infilling loops, 0..2
  --tau X                 self-infilling confidence threshold, 0..1
  --candidates N          ask for N candidates (1..8; default 1, the greedy decode) and answer the first as
                          the engine ranks them (as \`complete\` and editors' manual requests do); every
                          candidate is written in "candidates" as {text, score} (score: mean log-probability
                          per token); --as-editor asks one candidate, as automatic requests do, and ignores it
  --as-editor             ask and answer as an editor's automatic inline request: trigger automatic, no
                          line mode from the task's "kind" (the engine decides one line or several), and
                          the completion fitted to the document as the LSP/API/CLI edges fit it
                          (postprocess/fit.ts); default: trigger manual with the task's line mode and one
                          candidate, the greedy decode (\`complete\` and editors ask a manual request for 3 and
                          answer the best ranked of them, which can be another)
${MODEL_FLAGS}`;

export interface EvalTask {
  id: string;
  language: string;
  prefix: string;
  suffix: string;
  /** Optional "kind": "single" | "multi" (our task files carry it): forces the engine's line mode. */
  lineMode?: 'single' | 'multi';
  /** Optional "source" (`pkg@version/path:line`, our task files carry it): where the task comes from. */
  source?: string;
}

/** Parses one task line; returns an error string for a malformed one. */
export function parseTask(line: string): EvalTask | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return `not JSON (${e instanceof Error ? e.message : String(e)})`;
  }
  if (!v || typeof v !== 'object') return 'not a JSON object';
  const o = v as Record<string, unknown>;
  const id = o['id'] ?? o['task_id'];
  const prefix = o['prefix'] ?? o['prompt'];
  const suffix = o['suffix'] ?? '';
  if (typeof id !== 'string' && typeof id !== 'number') return 'missing "id"';
  if (typeof prefix !== 'string' || typeof suffix !== 'string') return '"prefix" and "suffix" must be strings';
  const language = typeof o['language'] === 'string' ? (o['language'] as string) : 'python';
  const kind = o['kind'];
  const lineMode = kind === 'single' || kind === 'multi' ? kind : undefined;
  const source = typeof o['source'] === 'string' ? (o['source'] as string) : undefined;
  return { id: String(id), language, prefix, suffix, ...(lineMode ? { lineMode } : {}), ...(source ? { source } : {}) };
}

/**
 * The document key a task is completed under: a file URI ending in the file name of the task's `source`
 * (`pkg@1.0/dir/file.py:12` → `file:///eval/<id>/file.py`), so the prompt names the file as an editor's document URI
 * does (engine/model-side.ts far context); `eval:<id>` without a source. Unique per task.
 */
export function evalDocumentKey(task: Pick<EvalTask, 'id' | 'source'>): string {
  const name = (task.source ?? '').replace(/:\d+$/, '').split('/').filter((p) => p !== '' && p !== '.' && p !== '..').at(-1);
  return name === undefined ? `eval:${task.id}` : `file:///eval/${encodeURIComponent(task.id)}/${encodeURIComponent(name)}`;
}

/** `--shard K/N`: this process takes task i when i % N == K. */
export function parseShard(v: string | undefined): { index: number; count: number } {
  if (v === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard needs K/N with 0 <= K < N, got ${JSON.stringify(v)}`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** Decode-mode flags → engine options (`--mode`, `--loops`, `--tau`); throws UsageError. */
export function decodeOptionsFrom(values: { mode?: string; loops?: string; tau?: string }): Partial<EngineOptions> {
  const out: Partial<EngineOptions> = {};
  const mode = values.mode;
  if (mode !== undefined) {
    const si = /^si([0-2])$/.exec(mode);
    if (si) Object.assign(out, { decodeMode: 'self-infill', selfInfillLoops: Number(si[1]) });
    else if (mode === 'fim' || mode === 'self-infill') out.decodeMode = mode;
    else throw new UsageError(`--mode must be fim, self-infill, si0, si1 or si2, got ${JSON.stringify(mode)}`);
  }
  if (values.loops !== undefined) {
    if (!/^[0-2]$/.test(values.loops)) throw new UsageError(`--loops must be 0, 1 or 2, got ${JSON.stringify(values.loops)}`);
    out.selfInfillLoops = Number(values.loops);
  }
  if (values.tau !== undefined) {
    const tau = Number(values.tau);
    if (!/^\d*\.?\d+$/.test(values.tau) || !(tau >= 0 && tau <= 1)) throw new UsageError(`--tau must be a number in 0..1, got ${JSON.stringify(values.tau)}`);
    out.selfInfillTau = tau;
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs the command; resolves with the exit code (0 ok, 1 model/file problem or failed tasks, 2 usage). */
export async function runEval(argv: readonly string[], io: { stdout?: (s: string) => void; stderr?: (s: string) => void } = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  let args;
  let limit: number | undefined;
  let engineOptions;
  let shard = { index: 0, count: 1 };
  let candidates = 1;
  try {
    args = parse(
      argv,
      { ...modelOptions, tasks: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' }, shard: { type: 'string' }, mode: { type: 'string' }, loops: { type: 'string' }, tau: { type: 'string' }, candidates: { type: 'string' }, 'as-editor': { type: 'boolean' } },
      false,
    );
    if (args.values.help) {
      out(`${EVAL_USAGE}\n`);
      return 0;
    }
    if (!args.values.tasks || !args.values.out) throw new UsageError('--tasks and --out are required');
    limit = positiveInt('limit', args.values.limit);
    engineOptions = { ...engineOptionsFrom(args.values), ...decodeOptionsFrom(args.values) };
    shard = parseShard(args.values.shard);
    candidates = positiveInt('candidates', args.values.candidates) ?? 1;
    if (candidates > 8) throw new UsageError(`--candidates must be 1..8, got ${candidates}`);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`infill-ls eval: ${e.message}\n\n${EVAL_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const tasksFile = path.resolve(args.values.tasks);
  let lines: string[];
  try {
    const raw = fs.readFileSync(tasksFile);
    lines = (tasksFile.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8').split('\n');
  } catch (e) {
    err(`infill-ls eval: ${tasksFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(e)}\n`);
    return 1;
  }
  // Quality, not latency: no decoding time budget, so that results do not depend on the machine's load (a loaded
  // machine cut some completions at the 3 s budget and made two runs of one mode disagree).
  const engine = createEngine({ timeBudgetMs: 600_000, ...engineOptions, log: (m) => err(`infill-ls: ${m}\n`) });
  const outFile = path.resolve(args.values.out);
  const fd = fs.openSync(outFile, 'w');
  let failed = 0;
  const times: number[] = [];
  try {
    await engine.loaded;
    if (engine.status().state !== 'ready') {
      err(`infill-ls eval: ${engine.status().message ?? 'model not available'}\n`);
      return 1;
    }
    let done = 0;
    let taskIndex = -1;
    for (let i = 0; i < lines.length && (limit === undefined || done < limit); i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      taskIndex++;
      if (taskIndex % shard.count !== shard.index) continue;
      const task = parseTask(line);
      if (typeof task === 'string') {
        err(`infill-ls eval: ${tasksFile}:${i + 1}: ${task}\n`);
        failed++;
        continue;
      }
      const t0 = performance.now();
      const r = await engine.complete(
        args.values['as-editor']
          ? { documentKey: evalDocumentKey(task), version: 1, languageId: task.language, prefix: task.prefix, suffix: task.suffix, trigger: 'automatic' }
          : { documentKey: evalDocumentKey(task), version: 1, languageId: task.language, prefix: task.prefix, suffix: task.suffix, trigger: 'manual', lineMode: task.lineMode, maxCandidates: candidates },
        new AbortController().signal,
      );
      const ms = Math.round((performance.now() - t0) * 10) / 10;
      const fit = { prefix: task.prefix, suffix: task.suffix, languageId: task.language };
      const record: Record<string, unknown> = {
        id: task.id,
        completion:
          r.kind !== 'ok' ? '' : args.values['as-editor'] ? (r.candidates.map((c) => fitCandidate(c.text, fit)).find((t) => t.length > 0) ?? '') : (r.candidates[0]?.text ?? ''),
        raw: r.kind === 'ok' ? (r.raw ?? r.candidates[0]?.text ?? '') : '',
        ...(r.kind === 'ok' && r.stopReason ? { stopReason: r.stopReason } : {}),
        ...(r.kind === 'ok' && candidates > 1 ? { candidates: r.candidates.map((c) => ({ text: c.text, score: Math.round(c.score * 1e4) / 1e4 })) } : {}),
        ms,
        tokens: r.kind === 'ok' ? r.timings.generatedTokens : 0,
        modelTokens: r.kind === 'ok' ? (r.timings.modelTokens ?? 0) : 0,
      };
      if (r.kind !== 'ok') {
        record['error'] = r.kind === 'degraded' ? r.reason : 'cancelled';
        failed++;
      }
      fs.writeSync(fd, `${JSON.stringify(record)}\n`);
      times.push(ms);
      done++;
    }
    times.sort((a, b) => a - b);
    err(`infill-ls eval: ${done} tasks → ${outFile}; latency p50 ${percentile(times, 50)} ms, p95 ${percentile(times, 95)} ms${failed ? `; ${failed} failed` : ''}\n`);
    return failed ? 1 : 0;
  } finally {
    fs.closeSync(fd);
    await engine.dispose();
  }
}
