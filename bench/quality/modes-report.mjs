// Turns the decode-mode grid's score rows (bench/quality/modes.sh) into bench/results/quality-modes.json and a
// markdown table: one row per mode × output (post-processed / raw), one column group per suite.
// Usage: node bench/quality/modes-report.mjs --rows R.jsonl --json OUT.json --md OUT.md [--model M --procs P --threads T --limit L]
import '../lib/help.mjs';
import { cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const rows = readFileSync(args.rows, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const modes = [...new Set(rows.map((r) => r.mode))];
const suites = [...new Set(rows.map((r) => r.suite))];
const MODE_NAMES = { fim: 'plain FIM', si0: 'self-infill N=0', si1: 'self-infill N=1', si2: 'self-infill N=2', 'self-infill': 'self-infill (default N)' };

const out = {
  model: args.model ?? 'models/default',
  date: new Date().toISOString().slice(0, 10),
  machine: `${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
  procs: Number(args.procs ?? 1),
  threadsPerProc: Number(args.threads ?? 1),
  limit: args.limit ?? 'all',
  note: 'completion = post-processed and validated; raw = the model text before post-processing, from the same decode. syntax_error_rate: share of tasks where prefix+completion+suffix has more tree-sitter errors than prefix+reference+suffix. mean_ms is wall time per task with procs processes sharing the machine.',
  modes: {},
};
for (const r of rows) {
  const { mode, suite, field, tasks, pred, ...metrics } = r;
  ((out.modes[mode] ??= {})[field] ??= {})[suite] = metrics;
}
writeFileSync(args.json, `${JSON.stringify(out, null, 1)}\n`);

const metric = (m) => (m.pass_at_1 !== undefined ? `${(m.pass_at_1 * 100).toFixed(1)}` : `${(m.exact_match * 100).toFixed(1)} / ${(m.edit_similarity * 100).toFixed(1)}`);
const lines = [
  `# Decode modes (${out.model}, ${out.date}, ${out.machine}, ${out.procs} proc × ${out.threadsPerProc} thread${out.limit === 'all' ? '' : `, first ${out.limit} tasks per suite`})`,
  '',
  'Dev suites: exact match / edit similarity (%); HumanEval: pass@1 (%). Then: syntax-error rate (% of tasks where',
  'the completion adds tree-sitter errors over the reference), tokens decoded, tokens run through the model, ms per task.',
  '`pp` = post-processed and validated (what the server shows), `raw` = the model text (same decode).',
  '',
  `| mode | out | ${suites.map((s) => `${s} | syn | tok | model tok | ms`).join(' | ')} |`,
  `|---|---|${suites.map(() => '---|---|---|---|---').join('|')}|`,
];
for (const mode of modes) {
  for (const field of ['completion', 'raw']) {
    const bySuite = out.modes[mode]?.[field] ?? {};
    const cells = suites.map((s) => {
      const m = bySuite[s];
      return m ? `${metric(m)} | ${(m.syntax_error_rate * 100).toFixed(1)} | ${m.mean_tokens} | ${m.mean_model_tokens} | ${m.mean_ms}` : '– | – | – | – | –';
    });
    lines.push(`| ${MODE_NAMES[mode] ?? mode} | ${field === 'completion' ? 'pp' : 'raw'} | ${cells.join(' | ')} |`);
  }
}
writeFileSync(args.md, `${lines.join('\n')}\n`);
