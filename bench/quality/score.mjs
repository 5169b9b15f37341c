// Scores `infill-ls eval` predictions against task files: exact match and edit similarity for dev tasks,
// execution pass@1 for HumanEval tasks (python3 runs prefix + completion + suffix + test, 10 s timeout).
// Usage: node bench/quality/score.mjs --tasks T.jsonl --pred P.jsonl [--field completion|raw] [--truncate reference|none] [--out R.json]
//   [--per-task R.jsonl]: one line per scored task, {id, right} (right: passed its tests for HumanEval, exact match
//   otherwise), for bench/quality/paired.mjs --right-a/--right-b.
//   --field raw scores the model's text before post-processing (eval writes both from one decode).
//   --truncate none scores the completion as the engine returned it (what an editor inserts); the default,
//   reference, cuts it as below.
// syntax_error_rate: the share of tasks whose prefix + completion + suffix has more tree-sitter ERROR/MISSING nodes
// than prefix + reference + suffix (needs a built server: server/dist/syntax).
// Truncation, as in the SantaCoder/InCoder evaluations: a single-line completion is cut at its first
// newline; a multi-line completion is cut to the reference's number of lines.
import '../lib/help.mjs';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { editSimilarity } from '../lib/similarity.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
// resolve the interpreter once: version-manager shims (pyenv) cost ~0.3 s per start
const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim();
const readJsonl = (p) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const tasks = readJsonl(args.tasks);
const preds = new Map(readJsonl(args.pred).map((p) => [p.id, p]));
const field = args.field ?? 'completion';
if (field !== 'completion' && field !== 'raw') throw new Error(`--field must be completion or raw, got ${field}`);
const { syntaxErrorCount } = await import(new URL('../../server/dist/syntax/index.js', import.meta.url).href);

/** The middle as it lands in the file (HumanEval: what runsPython inserts). */
function inserted(task, middle) {
  if (!task.test) return middle;
  return task.kind === 'single' ? middle + '\n' : middle.endsWith('\n') || task.suffix.startsWith('\n') ? middle : middle + '\n';
}

const truncation = args.truncate ?? 'reference';
if (truncation !== 'reference' && truncation !== 'none') throw new Error(`--truncate must be reference or none, got ${truncation}`);

function truncate(task, completion) {
  if (truncation === 'none') return completion;
  if (task.kind === 'single') {
    const nl = completion.indexOf('\n');
    return nl < 0 ? completion : completion.slice(0, nl);
  }
  const want = task.reference.replace(/\n$/, '').split('\n').length;
  return completion.split('\n').slice(0, want).join('\n');
}

function runsPython(task, middle) {
  const dir = mkdtempSync(join(tmpdir(), 'infill-he-'));
  const file = join(dir, 'prog.py');
  // HumanEval references end with a newline; a single-line completion is a whole line
  const mid = task.kind === 'single' ? middle + '\n' : middle.endsWith('\n') || task.suffix.startsWith('\n') ? middle : middle + '\n';
  writeFileSync(file, `${task.prefix}${mid}${task.suffix}\n${task.test}\ncheck(${task.entry_point})\n`);
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [file], { stdio: 'ignore', cwd: dir });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve(code === 0);
    });
  });
}

const perTask = [];
let n = 0, em = 0, es = 0, passed = 0, ms = 0, missing = 0, empty = 0, tokens = 0, modelTokens = 0, syntaxWorse = 0, refErrors = 0;
const executions = [];
for (const t of tasks) {
  const p = preds.get(t.id);
  if (!p) {
    missing++;
    continue;
  }
  n++;
  ms += p.ms ?? 0;
  tokens += p.tokens ?? 0;
  modelTokens += p.modelTokens ?? 0;
  const got = truncate(t, p[field] ?? p.completion ?? '');
  if (!got.trim()) empty++;
  const lang = t.language ?? 'python';
  const refCount = syntaxErrorCount(t.prefix + inserted(t, t.reference) + t.suffix, lang);
  if (refCount > 0) refErrors++;
  if (syntaxErrorCount(t.prefix + inserted(t, got) + t.suffix, lang) > refCount) syntaxWorse++;
  if (t.test) {
    executions.push([t, got]);
  } else {
    const ref = t.reference;
    perTask.push({ id: t.id, right: got.trim() === ref.trim() });
    if (got.trim() === ref.trim()) em++;
    es += editSimilarity(got.trimEnd(), ref.trimEnd());
  }
}
// a small pool of concurrent python processes
for (let i = 0; i < executions.length; i += 4) {
  const batch = executions.slice(i, i + 4);
  const ok = await Promise.all(batch.map(([t, got]) => runsPython(t, got)));
  passed += ok.filter(Boolean).length;
  batch.forEach(([t], j) => perTask.push({ id: t.id, right: ok[j] }));
}
const isExec = tasks.some((t) => t.test);
const res = {
  tasks: args.tasks,
  pred: args.pred,
  field,
  truncate: truncation,
  n,
  missing,
  empty,
  mean_ms: n ? +(ms / n).toFixed(1) : null,
  mean_tokens: n ? +(tokens / n).toFixed(1) : null,
  mean_model_tokens: n ? +(modelTokens / n).toFixed(1) : null,
  syntax_error_rate: n ? +(syntaxWorse / n).toFixed(4) : 0,
  reference_syntax_error_rate: n ? +(refErrors / n).toFixed(4) : 0,
};
if (isExec) res.pass_at_1 = n ? +(passed / n).toFixed(4) : 0;
else Object.assign(res, { exact_match: n ? +(em / n).toFixed(4) : 0, edit_similarity: n ? +(es / n).toFixed(4) : 0 });
console.log(JSON.stringify(res));
if (args.out) writeFileSync(args.out, JSON.stringify(res, null, 1) + '\n');
if (args['per-task']) writeFileSync(args['per-task'], perTask.map((r) => JSON.stringify(r)).join('\n') + '\n');
