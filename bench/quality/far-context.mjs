#!/usr/bin/env node
// Same-file far context (settings farContextTokens, engine/model-side.ts + prompt/far-context.ts), measured side by
// side in one run: the engine as shipped ("on": a 384-token prefix window plus up to 384 tokens of the file's other
// snippets most similar to the cursor's neighbourhood) against far context off (INFILL_LS_FAR_CONTEXT_TOKENS=0: the
// 768-token prefix window alone), on the dev suites and on a second, disjoint sample of the same held-out files.
//
// Usage: node bench/quality/far-context.mjs [--model DIR] [--sets a,b,...] [--shards 2] [--name far-context]
//        [--humaneval DIR]
//   Sets: dev-py-single, dev-ts-single, dev-py-multi, dev-ts-multi (the dev suites: `make-tasks.mjs --per-lang 200`,
//   the first 200 of each kind), val-py-single, val-ts-single (tasks 200-399 of the same generator with
//   --per-lang 400: never looked at while the feature was built), humaneval-single, humaneval-multi (every 3rd
//   of 600; pass@1 by execution; the HumanEval-*LineInfilling.jsonl.gz files are read from --humaneval DIR, default
//   ../shared/bench/humaneval-infilling beside the repository: a clone elsewhere needs --humaneval, or those sets stop
//   with ENOENT). Default: the six dev and val sets. bench/results/far-context.md (about 23 min on 2 loaded cores):
//   --sets dev-py-single,dev-ts-single,val-py-single,val-ts-single,dev-py-multi,dev-ts-multi,humaneval-single,humaneval-multi
// Each set runs `infill-ls eval` (greedy, one candidate, the task's line mode) in --shards processes per variant and
// scores with bench/quality/score.mjs (single-line exact match and multi-line edit similarity after the
// SantaCoder truncation; HumanEval pass@1) on the raw model text (--field raw, as the model card's tables) and on
// the post-processed completion; paired counts (tasks only one variant gets right, raw) with a two-sided sign test. Writes bench/results/NAME.json and NAME.md, with the CPU's AVX-512 flags and `uptime` before and after.
// Needs a built server (npm run build). Tasks go to $TMPDIR/infill-ls-far-context; nothing else is written.
import '../lib/help.mjs';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonl } from '../lib/data.mjs';
import { signTestP } from '../lib/stats.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const sets = (args.sets ?? 'dev-py-single,dev-ts-single,dev-py-multi,dev-ts-multi,val-py-single,val-ts-single').split(',');
const shards = Math.max(1, Number(args.shards ?? 2));
const name = args.name ?? 'far-context';
const work = path.join(os.tmpdir(), 'infill-ls-far-context');
const VARIANTS = [
  ['on', {}],
  ['off', { INFILL_LS_FAR_CONTEXT_TOKENS: '0' }],
];
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const cpuFlags = () => {
  try {
    return [...new Set(readFileSync('/proc/cpuinfo', 'utf8').match(/avx512[a-z]*/g) ?? [])].sort().join(' ') || 'no AVX-512';
  } catch {
    return 'unknown';
  }
};
const writeJsonl = (p, rows) => writeFileSync(p, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

function run(cmd, argv, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.slice(-2000)}`))));
  });
}

// Task files: the dev suites and the disjoint validation halves from one generator run.
mkdirSync(work, { recursive: true });
const gen = path.join(work, 'gen400');
execFileSync(process.execPath, [path.join(repo, 'bench/quality/make-tasks.mjs'), '--npm-dev', path.join(repo, 'bench/quality/data/npm-dev.jsonl.xz'), '--py-dev', path.join(repo, 'bench/quality/data/py-dev.jsonl.xz'), '--out', gen, '--per-lang', '400', ...(args.humaneval ? ['--humaneval', args.humaneval] : [])], { stdio: 'ignore' });
const taskFile = (set) => {
  const file = path.join(work, `${set}.jsonl`);
  const he = /^humaneval-(single|multi)$/.exec(set);
  if (he) {
    const rows = readJsonl(path.join(gen, `humaneval-${he[1]}.jsonl`));
    writeJsonl(file, he[1] === 'multi' ? rows.filter((_, i) => i % 3 === 0) : rows);
    return file;
  }
  const m = /^(dev|val)-(py|ts)-(single|multi)$/.exec(set);
  if (!m) throw new Error(`unknown set ${set}`);
  const rows = readJsonl(path.join(gen, `dev-${m[2]}-${m[3]}.jsonl`));
  writeJsonl(file, m[1] === 'dev' ? rows.slice(0, 200) : rows.slice(200, 400));
  return file;
};

const started = { at: new Date().toISOString(), uptime: uptime() };
const results = [];
for (const set of sets) {
  const tasks = taskFile(set);
  const per = {};
  for (const [variant, env] of VARIANTS) {
    const t0 = performance.now();
    const parts = Array.from({ length: shards }, (_, k) => path.join(work, `${set}.${variant}.${k}.jsonl`));
    await Promise.all(parts.map((out, k) => run(process.execPath, ['bin/infill-ls.js', 'eval', '--tasks', tasks, '--out', out, '--shard', `${k}/${shards}`, ...(args.model ? ['--model', args.model] : [])], env)));
    const pred = path.join(work, `${set}.${variant}.jsonl`);
    writeJsonl(pred, parts.flatMap((p) => readJsonl(p)));
    const perTask = path.join(work, `${set}.${variant}.right.jsonl`);
    const scoreOf = async (field, extra = []) => JSON.parse((await run(process.execPath, ['bench/quality/score.mjs', '--tasks', tasks, '--pred', pred, '--field', field, ...extra])).trim().split('\n').at(-1));
    const score = await scoreOf('raw', ['--per-task', perTask]);
    const post = await scoreOf('completion');
    per[variant] = { score, post, right: new Map(readJsonl(perTask).map((r) => [r.id, r.right])), preds: new Map(readJsonl(pred).map((p) => [p.id, p])), wallS: Math.round((performance.now() - t0) / 100) / 10 };
    process.stderr.write(`${set} ${variant}: ${JSON.stringify({ em: score.exact_match, es: score.edit_similarity, pass: score.pass_at_1 })}\n`);
  }
  const ids = [...per.on.right.keys()];
  const onlyOn = ids.filter((id) => per.on.right.get(id) && !per.off.right.get(id)).length;
  const onlyOff = ids.filter((id) => !per.on.right.get(id) && per.off.right.get(id)).length;
  const changed = ids.filter((id) => per.on.preds.get(id)?.raw !== per.off.preds.get(id)?.raw).length;
  results.push({
    set,
    n: ids.length,
    on: { ...per.on.score, wallS: per.on.wallS },
    off: { ...per.off.score, wallS: per.off.wallS },
    completion: { on: per.on.post, off: per.off.post },
    paired: { onlyOn, onlyOff, signTestP: signTestP(onlyOn, onlyOff), answersChanged: changed },
  });
}
const finished = { at: new Date().toISOString(), uptime: uptime() };

const json = { started, finished, cpu: { model: os.cpus()[0]?.model, cores: os.cpus().length, avx512: cpuFlags() }, model: args.model ?? 'models/default', shards, results };
mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
writeFileSync(path.join(repo, `bench/results/${name}.json`), JSON.stringify(json, null, 2) + '\n');
const pct = (x) => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
const metric = (set, s) => (/^humaneval/.test(set) ? `pass@1 ${pct(s.pass_at_1)}` : /multi/.test(set) ? `ES ${s.edit_similarity.toFixed(3)} (EM ${pct(s.exact_match)})` : `EM ${pct(s.exact_match)} (ES ${s.edit_similarity.toFixed(3)})`);
const md = [
  `# Same-file far context on ${json.model}: on (as shipped) vs off, side by side`,
  '',
  `\`node bench/quality/far-context.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`; ${json.cpu.model}, ${json.cpu.cores} cores, AVX-512: ${json.cpu.avx512}.`,
  `Started ${started.at} (${started.uptime}); finished ${finished.at} (${finished.uptime}).`,
  '',
  '| set | tasks | on (raw) | off (raw) | only on right | only off right | sign test p | raw answers changed | on (completion) | off (completion) | mean ms on / off |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.set} | ${r.n} | ${metric(r.set, r.on)} | ${metric(r.set, r.off)} | ${r.paired.onlyOn} | ${r.paired.onlyOff} | ${r.paired.signTestP.toFixed(3)} | ${r.paired.answersChanged} | ${metric(r.set, r.completion.on)} | ${metric(r.set, r.completion.off)} | ${Math.round(r.on.mean_ms)} / ${Math.round(r.off.mean_ms)} |`),
  '',
  'raw: the model\'s text before post-processing (the model card\'s tables); completion: post-processed and validated, what',
  'an editor shows. Right: exact match after the truncation score.mjs applies (single-line: the first line; multi-line:',
  'the reference\'s line count); HumanEval: its tests pass. ms: the eval\'s wall time per task (a variant\'s shards run in',
  'parallel, the variants one after the other, so load changes between them show here and not in the answers).',
  '',
].join('\n');
writeFileSync(path.join(repo, `bench/results/${name}.md`), md);
process.stdout.write(md);
