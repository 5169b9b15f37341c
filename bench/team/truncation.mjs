// Remote answers that llama-server stopped at its limit, cut back to a balanced end or not: one real llama-server
// (models/default as GGUF, built by .ci/llama-server.sh; bench/team/llama-server.mjs) answers held-out dev tasks through
// the llama-server backend engine (server/dist/backend/llama-server.js, a manual request in the task's line mode, one
// request at a time). From each answer two texts are scored: the engine's (`cut`: post-processed as truncated when the
// server's final event said `stop_type: "limit"` and our plan had not ended the text) and the same raw text
// post-processed without `truncated` (`before`: what the backend showed before the cut). One server answer per task,
// so both arms see the same model output.
//
//   npm run build
//   node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out bench/quality/tasks
//   node bench/team/truncation.mjs [--tasks bench/quality/tasks] [--suites dev-ts-multi,dev-py-multi,dev-ts-single,dev-py-single]
//                                  [--limit 100] [--max-new 64] [--t-max-predict-ms 1000] [--threads 1] [--spm 1]
//                                  [--out bench/results/remote-truncation]
//
// Per suite and arm: exact match and edit similarity to the reference (the text as the engine returns it, no
// reference truncation), empty answers, and the share of tasks whose prefix + text + suffix has more tree-sitter
// ERROR/MISSING nodes than with the reference (bench/quality/score.mjs's syntax_error_rate); and the answers that
// reached n_predict (the final event's predicted_n = --max-new) and those the cut changed. --t-max-predict-ms is sent
// as llama-server's t_max_predict_ms (a time limit after the first line break: a loaded machine reaches it sooner,
// so results depend on the load; a large value leaves only the token limit). Writes OUT.{json,md}, `uptime` in both.
import '../lib/help.mjs';
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { editSimilarity } from '../lib/similarity.mjs';
import { arg } from '../replay/session.mjs';
import { ROOT, startLlamaServer } from './llama-server.mjs';

const { createLlamaServerEngine } = await import(path.join(ROOT, 'server/dist/backend/llama-server.js'));
const { postprocess } = await import(path.join(ROOT, 'server/dist/postprocess/index.js'));
const { syntaxErrorCount } = await import(path.join(ROOT, 'server/dist/syntax/index.js'));

const TASKS = String(arg('tasks', path.join(ROOT, 'bench/quality/tasks')));
const SUITES = String(arg('suites', 'dev-ts-multi,dev-py-multi,dev-ts-single,dev-py-single')).split(',');
const LIMIT = Number(arg('limit', 100));
const MAX_NEW = Number(arg('max-new', 64));
const T_MAX = Number(arg('t-max-predict-ms', 1000));
const THREADS = Number(arg('threads', 1));
const SPM = String(arg('spm', '1')) !== '0';
const OUT = String(arg('out', path.join(ROOT, 'bench/results/remote-truncation')));

const uptime = () => execSync('uptime').toString().trim();
const readJsonl = (p) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const startUptime = uptime();
console.log(`start: ${startUptime}`);

const server = await startLlamaServer({ parallel: 1, threads: THREADS, spm: SPM });
const results = [];
try {
  for (const suite of SUITES) {
    const tasks = readJsonl(path.join(TASKS, `${suite}.jsonl`)).slice(0, LIMIT);
    const arms = { cut: { em: 0, es: 0, empty: 0, syntaxWorse: 0 }, before: { em: 0, es: 0, empty: 0, syntaxWorse: 0 } };
    let n = 0, reachedLimit = 0, changed = 0, failed = 0;
    const examples = [];
    for (const t of tasks) {
      // A fresh engine per task: no typed-ahead answers from another task; slot 0 of the one-slot server every time.
      const engine = createLlamaServerEngine({ url: server.url, maxNewTokens: MAX_NEW, tMaxPredictMs: T_MAX, timeoutMs: 120_000 });
      const context = { documentKey: `file:///${t.id}`, version: 1, languageId: t.language, prefix: t.prefix, suffix: t.suffix, trigger: 'manual', lineMode: t.kind };
      const r = await engine.complete(context, new AbortController().signal);
      await engine.dispose();
      if (r.kind !== 'ok') {
        failed++;
        continue;
      }
      n++;
      if (r.timings.generatedTokens >= MAX_NEW) reachedLimit++;
      const texts = {
        cut: r.candidates[0]?.text ?? '',
        before: postprocess(r.raw ?? '', { prefix: t.prefix, suffix: t.suffix, languageId: t.language, lineMode: t.kind }),
      };
      if (texts.cut !== texts.before) {
        changed++;
        if (examples.length < 3) examples.push({ id: t.id, before: texts.before.slice(-120), cut: texts.cut.slice(-120) });
      }
      const refErrors = syntaxErrorCount(t.prefix + t.reference + t.suffix, t.language);
      for (const [arm, text] of Object.entries(texts)) {
        const a = arms[arm];
        if (!text.trim()) a.empty++;
        if (text.trim() === t.reference.trim()) a.em++;
        a.es += editSimilarity(text.trimEnd(), t.reference.trimEnd());
        if (syntaxErrorCount(t.prefix + text + t.suffix, t.language) > refErrors) a.syntaxWorse++;
      }
    }
    const rate = (x) => (n ? +(x / n).toFixed(4) : 0);
    const row = { suite, n, failed, reachedLimit, changed, examples };
    for (const [arm, a] of Object.entries(arms)) row[arm] = { exact_match: rate(a.em), edit_similarity: rate(a.es), empty: a.empty, syntax_error_rate: rate(a.syntaxWorse) };
    results.push(row);
    console.log(JSON.stringify({ suite, n, failed, reachedLimit, changed, cut: row.cut, before: row.before }));
  }
} finally {
  await server.stop();
}
const endUptime = uptime();
const meta = { command: `node bench/team/truncation.mjs ${process.argv.slice(2).join(' ')}`.trim(), limit: LIMIT, maxNew: MAX_NEW, tMaxPredictMs: T_MAX, threads: THREADS, spm: SPM, startUptime, endUptime };
writeFileSync(`${OUT}.json`, `${JSON.stringify({ ...meta, results }, null, 1)}\n`);
const pct = (x) => `${(x * 100).toFixed(1)}%`;
const md = [
  '# Remote answers stopped at the limit: cut back or not (llama-server backend, models/default GGUF)',
  '',
  `\`${meta.command}\` — max-new ${MAX_NEW}, t_max_predict_ms ${T_MAX}, ${THREADS} llama-server thread(s), SPM ${SPM}.`,
  `uptime at start: ${startUptime}; at end: ${endUptime}.`,
  '',
  '| suite | answers | reached n_predict | changed by the cut | EM before → cut | ES before → cut | syntax errors added before → cut | empty before → cut |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.suite} | ${r.n}${r.failed ? ` (${r.failed} failed)` : ''} | ${r.reachedLimit} | ${r.changed} | ${pct(r.before.exact_match)} → ${pct(r.cut.exact_match)} | ${r.before.edit_similarity.toFixed(3)} → ${r.cut.edit_similarity.toFixed(3)} | ${pct(r.before.syntax_error_rate)} → ${pct(r.cut.syntax_error_rate)} | ${r.before.empty} → ${r.cut.empty} |`),
  '',
];
writeFileSync(`${OUT}.md`, `${md.join('\n')}\n`);
console.log(`end: ${endUptime}\nwrote ${OUT}.json and ${OUT}.md`);
