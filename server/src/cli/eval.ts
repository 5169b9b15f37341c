// `infill-ls eval --tasks T.jsonl --out P.jsonl`: completes every task of a JSONL file with one loaded model.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createEngine } from '../engine/engine.js';
import { MODEL_FLAGS, UsageError, engineOptionsFrom, modelOptions, parse, positiveInt } from './args.js';

export const EVAL_USAGE = `usage: infill-ls eval --tasks T.jsonl --out P.jsonl [options]

Reads one task per line, {"id", "language", "prefix", "suffix"} (HumanEval-infilling's
{"task_id", "prompt", "suffix"} is accepted too; .jsonl.gz is read as gzip), completes each with the
same loaded model, and writes {"id", "completion", "ms"} per line (ms: wall time of the completion).

  --tasks FILE            input tasks
  --out FILE              output predictions (overwritten)
  --limit N               only the first N tasks
${MODEL_FLAGS}`;

export interface EvalTask {
  id: string;
  language: string;
  prefix: string;
  suffix: string;
  /** Optional "kind": "single" | "multi" (our task files carry it): forces the engine's line mode. */
  lineMode?: 'single' | 'multi';
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
  return { id: String(id), language, prefix, suffix, ...(lineMode ? { lineMode } : {}) };
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
  try {
    args = parse(argv, { ...modelOptions, tasks: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' } }, false);
    if (args.values.help) {
      out(`${EVAL_USAGE}\n`);
      return 0;
    }
    if (!args.values.tasks || !args.values.out) throw new UsageError('--tasks and --out are required');
    limit = positiveInt('limit', args.values.limit);
    engineOptions = engineOptionsFrom(args.values);
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
  const engine = createEngine({ ...engineOptions, log: (m) => err(`infill-ls: ${m}\n`) });
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
    for (let i = 0; i < lines.length && (limit === undefined || done < limit); i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      const task = parseTask(line);
      if (typeof task === 'string') {
        err(`infill-ls eval: ${tasksFile}:${i + 1}: ${task}\n`);
        failed++;
        continue;
      }
      const t0 = performance.now();
      const r = await engine.complete(
        { documentKey: `eval:${task.id}`, version: 1, languageId: task.language, prefix: task.prefix, suffix: task.suffix, trigger: 'manual', lineMode: task.lineMode },
        new AbortController().signal,
      );
      const ms = Math.round((performance.now() - t0) * 10) / 10;
      const record: Record<string, unknown> = { id: task.id, completion: r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '', ms };
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
