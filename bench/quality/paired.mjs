#!/usr/bin/env node
// Paired comparison of two models' predictions on the same dev tasks (exact match as bench/quality/score.mjs scores
// it: single-line cut at the first newline, multi-line cut to the reference's line count, trimmed equality).
// Prints, per task file, how many tasks only A gets right, only B, both, neither, and the two-sided sign-test
// p-value of the discordant tasks (exact binomial, p = 0.5): a gain of a few tasks out of 200 is read against it;
// and the mean per-task edit-similarity difference B − A (score.mjs's edit similarity) with its standard error.
//   node bench/quality/paired.mjs --tasks T.jsonl --a A.jsonl --b B.jsonl [--field raw|completion]
//   [--right-a RA.jsonl --right-b RB.jsonl]: take right/wrong per task from score.mjs --per-task files instead of exact
//   match (HumanEval: passed its tests); needed for execution-scored tasks.
// Errors: exits 2 when a file is missing or a task has no prediction in A or B.
import '../lib/help.mjs';
import { readFileSync } from 'node:fs';
import { editSimilarity } from '../lib/similarity.mjs';
import { signTestP } from '../lib/stats.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
if (!args.tasks || !args.a || !args.b) {
  console.error('usage: node bench/quality/paired.mjs --tasks T.jsonl --a A.jsonl --b B.jsonl [--field raw|completion]');
  process.exit(2);
}
const field = args.field ?? 'raw';
const readJsonl = (p) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const tasks = readJsonl(args.tasks);
const byId = (p) => new Map(readJsonl(p).map((x) => [x.id, x]));
const A = byId(args.a), B = byId(args.b);

function truncate(task, completion) {
  if (task.kind === 'single') {
    const nl = completion.indexOf('\n');
    return nl < 0 ? completion : completion.slice(0, nl);
  }
  const want = task.reference.replace(/\n$/, '').split('\n').length;
  return completion.split('\n').slice(0, want).join('\n');
}
const rightFrom = (p) => (p ? new Map(readJsonl(p).map((r) => [r.id, r.right === true])) : null);
if (Boolean(args['right-a']) !== Boolean(args['right-b'])) {
  console.error('paired: --right-a and --right-b go together');
  process.exit(2);
}
const RA = rightFrom(args['right-a']), RB = rightFrom(args['right-b']);
const exact = (t, p) => truncate(t, p[field] ?? p.completion ?? '').trim() === t.reference.trim();
function recorded(map, t, file) {
  if (!map.has(t.id)) {
    console.error(`paired: task ${t.id} is not in ${file}`);
    process.exit(2);
  }
  return map.get(t.id);
}

let onlyA = 0, onlyB = 0, both = 0, neither = 0;
const esDiff = [];
const es = (t, p) => editSimilarity(truncate(t, p[field] ?? p.completion ?? '').trimEnd(), t.reference.trimEnd());
for (const t of tasks) {
  const a = A.get(t.id), b = B.get(t.id);
  if (!a || !b) {
    console.error(`paired: task ${t.id} has no prediction in ${a ? args.b : args.a}`);
    process.exit(2);
  }
  const ra = RA ? recorded(RA, t, args['right-a']) : exact(t, a), rb = RB ? recorded(RB, t, args['right-b']) : exact(t, b);
  esDiff.push(es(t, b) - es(t, a));
  if (ra && rb) both++;
  else if (ra) onlyA++;
  else if (rb) onlyB++;
  else neither++;
}
const p = signTestP(onlyA, onlyB);
const mean = esDiff.reduce((x, y) => x + y, 0) / esDiff.length;
const se = Math.sqrt(esDiff.reduce((x, y) => x + (y - mean) ** 2, 0) / (esDiff.length - 1) / esDiff.length);
console.log(JSON.stringify({ tasks: args.tasks, field, n: tasks.length, both, only_a: onlyA, only_b: onlyB, neither, sign_test_p: +p.toFixed(4),
  es_b_minus_a: +mean.toFixed(4), es_diff_se: +se.toFixed(4) }));
