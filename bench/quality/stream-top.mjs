// Does the streamed candidate stay the top one? A manual request (3 candidates) streams plain FIM's greedy span while
// it decodes, then ranks it with its alternatives: when an alternative ends up first, an editor's ghost text jumps.
// For held-out dev tasks (never HumanEval: this picks a ranking rule), as an editor's manual trigger asks (no forced line
// mode, 3 candidates, in-thread engine on the model, completion reuse off), this counts how often the final first
// candidate is not the streamed one and scores (exact match, edit similarity to the reference, score.mjs's truncation)
// the final first candidate under the rule in engine/decode.ts (`STREAMED_FIRST_MARGIN`) and under other margins.
//
// Usage: node bench/quality/stream-top.mjs [--model models/default] [--per-suite 100] [--tasks-dir .work/tasks]
//        [--out bench/results/stream-top.md] [--from bench/results/stream-top.json]
// Needs a built server (npm run build). Builds the dev task files with make-tasks.mjs when they are missing.
// --from renders the report again from a previous run's JSON (its candidates and scores), without decoding.
// Each task is decoded twice: with 3 candidates, and with 1 (the greedy span alone = the streamed candidate,
// post-processed). Margins are re-applied to the 3-candidate list afterwards (candidate scores: mean log-probability
// per token; within the best syntax group, as rankCandidates orders them).
import { existsSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { editSimilarity } from '../lib/similarity.mjs';

const USAGE = `usage: node bench/quality/stream-top.mjs [--model DIR] [--per-suite N] [--tasks-dir DIR] [--out FILE]
  --model      model folder (default models/default)
  --per-suite  tasks per dev suite, from the start of each file (default 100)
  --tasks-dir  where the dev task files are, built with make-tasks.mjs when missing (default .work/tasks)
  --out        markdown report (default bench/results/stream-top.md); a JSON copy goes next to it
  --from       a previous run's JSON: render the report from it, decode nothing`;
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const args = {};
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i];
  if (!['--model', '--per-suite', '--tasks-dir', '--out', '--from'].includes(k) || argv[i + 1] === undefined) {
    console.error(`stream-top.mjs: bad argument ${k}\n${USAGE}`);
    process.exit(2);
  }
  args[k.slice(2)] = argv[i + 1];
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const model = resolve(args.model ?? join(root, 'models/default'));
const perSuite = Number(args['per-suite'] ?? 100);
const tasksDir = resolve(args['tasks-dir'] ?? join(root, '.work/tasks'));
const out = resolve(args.out ?? join(root, 'bench/results/stream-top.md'));
const SUITES = ['dev-ts-single', 'dev-py-single', 'dev-ts-multi', 'dev-py-multi'];
const MARGINS = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 1, Infinity];

if (SUITES.some((s) => !existsSync(join(tasksDir, `${s}.jsonl`)))) {
  execFileSync(process.execPath, [join(root, 'bench/quality/make-tasks.mjs'), '--npm-dev', join(root, 'bench/quality/data/npm-dev.jsonl.xz'), '--py-dev', join(root, 'bench/quality/data/py-dev.jsonl.xz'), '--humaneval', join(tasksDir, 'no-humaneval'), '--out', tasksDir, '--per-lang', '200'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

const dist = (p) => new URL(`../../server/dist/${p}`, import.meta.url).href;
const { STREAMED_FIRST_MARGIN } = await import(dist('engine/decode.js'));

function truncate(kind, text, reference) {
  if (kind === 'single') {
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  }
  return text.split('\n').slice(0, reference.split('\n').length).join('\n');
}

const tasksById = new Map();
for (const suite of SUITES) {
  const tasks = readFileSync(join(tasksDir, `${suite}.jsonl`), 'utf8').split('\n').filter(Boolean).slice(0, perSuite).map((l) => JSON.parse(l));
  for (const t of tasks) tasksById.set(t.id, { ...t, suite });
}

/** Decodes every task twice (3 candidates, streamed; 1 candidate) and keeps the candidates with score and syntax check. */
async function decode() {
  const { createEngine } = await import(dist('engine/engine.js'));
  const { rankWithDeltas } = await import(dist('postprocess/rank.js'));
  const engine = createEngine({ modelDir: model, device: 'cpu', completionReuse: false, warm: false, speculative: false });
  await engine.loaded;
  if (engine.status().state !== 'ready') throw new Error(`model not ready: ${engine.status().message}`);
  const rows = [];
  for (const task of tasksById.values()) {
    const ctx = { documentKey: `stream-top:${task.id}`, version: 1, languageId: task.language, prefix: task.prefix, suffix: task.suffix, trigger: 'manual' };
    const partials = [];
    const r3 = await engine.complete({ ...ctx, maxCandidates: 3 }, new AbortController().signal, (t) => partials.push(t));
    const r1 = await engine.complete({ ...ctx, maxCandidates: 1 }, new AbortController().signal);
    if (r3.kind !== 'ok' || r1.kind !== 'ok') throw new Error(`${task.id}: ${r3.kind}/${r1.kind}`);
    const streamed = r1.candidates[0]?.text ?? '';
    const checks = rankWithDeltas(r3.candidates, { prefix: task.prefix, suffix: task.suffix, languageId: task.language });
    const adds = (c) => checks.find((x) => x.candidate === c)?.check?.addsErrors ?? false;
    rows.push({
      suite: task.suite,
      id: task.id,
      streamed,
      lastPartial: partials.at(-1) ?? null,
      delivered: r3.candidates[0]?.text ?? '',
      candidates: r3.candidates.map((c) => ({ text: c.text, score: c.score, addsErrors: adds(c), streamed: c.text === streamed })),
    });
    if (rows.length % 50 === 0) process.stderr.write(`${rows.length} tasks\n`);
  }
  await engine.dispose();
  return rows;
}

/** The first candidate under a margin: rankCandidates' first syntax group, the streamed one unless another scores > m higher. */
function topAt(row, margin) {
  const list = row.candidates;
  const pool = list.some((c) => !c.addsErrors) ? list.filter((c) => !c.addsErrors) : list;
  const byScore = [...pool].sort((a, b) => b.score - a.score);
  const base = pool.find((c) => c.streamed);
  if (!base) return byScore[0]?.text ?? '';
  const other = byScore.find((c) => c !== base);
  return other && other.score > base.score + margin ? other.text : base.text;
}

// (An earlier version of this script kept only the streamed candidate's flag; its text is then the flagged candidate's.)
const saved = args.from ? JSON.parse(readFileSync(resolve(args.from), 'utf8')) : null;
// The margin of the build that decoded (the rows' `delivered` order), which --from may not share.
const decodedMargin = saved ? (saved.margin ?? 'unknown') : STREAMED_FIRST_MARGIN;
const rows = (saved ? saved.rows : await decode()).map((r) => ({
  ...r,
  streamed: typeof r.streamed === 'string' ? r.streamed : (r.candidates.find((c) => c.streamed)?.text ?? null),
}));
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const score = (row, text) => {
  const task = tasksById.get(row.id);
  const t = truncate(task.kind, text, task.reference);
  return { em: t.trim() === task.reference.trim() ? 1 : 0, es: editSimilarity(t, task.reference) };
};
const lines = [
  `# Streamed candidate vs the final first candidate (manual trigger, 3 candidates)`,
  '',
  `${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model} x${os.cpus().length}, load ${(saved?.load ?? os.loadavg()).map((l) => l.toFixed(2)).join(' ')} at the end of the decoding${saved ? ` (this report rendered with --from ${args.from})` : ''}; model ${model.replace(root + '/', '')};`,
  `${perSuite} held-out dev tasks per suite (the first of each file), asked as an editor's manual trigger (no forced line mode); \`node bench/quality/stream-top.mjs --per-suite ${perSuite}\`.`,
  `For each margin m: the first candidate when the streamed (greedy) one stays first unless another in the best syntax group scores more than m higher (mean log-prob per token); m = 0 is the ranking by score alone (before engine/decode.ts's STREAMED_FIRST_MARGIN), m = Infinity always keeps the streamed one when its syntax is as good.`,
  `"jumps": tasks whose first candidate is not the streamed text. EM / ES: exact match / edit similarity (%) of the first candidate to the reference (score.mjs's truncation). The build that decoded: margin ${decodedMargin}; its first candidates jumped ${rows.filter((r) => r.delivered !== r.streamed).length} times in ${rows.length}.`,
  '',
  `| suite | tasks | ${MARGINS.map((m) => `m=${m}: jumps, EM / ES`).join(' | ')} |`,
  `|---|---|${MARGINS.map(() => '---').join('|')}|`,
];
for (const suite of [...SUITES, 'all']) {
  const rs = rows.filter((r) => suite === 'all' || r.suite === suite);
  const cells = MARGINS.map((m) => {
    const tops = rs.map((r) => topAt(r, m));
    const s = rs.map((r, i) => score(r, tops[i]));
    return `${rs.filter((r, i) => tops[i] !== r.streamed).length}, ${(100 * mean(s.map((x) => x.em))).toFixed(1)} / ${(100 * mean(s.map((x) => x.es))).toFixed(1)}`;
  });
  lines.push(`| ${suite} | ${rs.length} | ${cells.join(' | ')} |`);
}
const gaps = rows.flatMap((r) => {
  const pool = r.candidates.some((c) => !c.addsErrors) ? r.candidates.filter((c) => !c.addsErrors) : r.candidates;
  const base = pool.find((c) => c.streamed);
  const best = Math.max(...pool.filter((c) => c !== base).map((c) => c.score));
  return base && best > base.score ? [best - base.score] : [];
}).sort((a, b) => a - b);
lines.push('', `Where another candidate of the streamed one's syntax group scored higher (n=${gaps.length} of ${rows.length}), by: ${gaps.length ? `median ${gaps[gaps.length >> 1].toFixed(3)}, quartiles ${gaps[gaps.length >> 2].toFixed(3)} / ${gaps[(3 * gaps.length) >> 2].toFixed(3)}, max ${gaps.at(-1).toFixed(3)}` : '-'}.`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, lines.join('\n') + '\n');
if (!args.from) writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify({ model: model.replace(root + '/', ''), perSuite, margin: STREAMED_FIRST_MARGIN, load: os.loadavg(), rows }, null, 1) + '\n');
console.log(lines.join('\n'));
