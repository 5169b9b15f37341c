// Writes bench/results/model-eval-NAME.json from the steps bench/quality/model-eval.sh recorded (one JSON object a
// line: size, golden, suite, latency), with a per-suite summary of the raw and post-processed scores.
//   node bench/quality/model-eval-summary.mjs STEPS.jsonl MODEL_DIR BASE_DIR|'' OUT.json TOTAL_WALL_S
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';

const [steps, model, base, out, total] = process.argv.slice(2);
if (!steps || !model || !out) {
  console.error("usage: node bench/quality/model-eval-summary.mjs STEPS.jsonl MODEL_DIR BASE_DIR|'' OUT.json TOTAL_WALL_S");
  process.exit(2);
}
const rows = fs.readFileSync(steps, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const pick = (r) => r && { exact_match: r.exact_match, edit_similarity: r.edit_similarity, pass_at_1: r.pass_at_1, n: r.n, empty: r.empty };
const summary = {};
for (const r of rows.filter((r) => r.step === 'suite')) summary[r.suite] = { raw: pick(r.raw), postprocessed: pick(r.postprocessed), wall_s: r.wall_s };
const res = {
  model,
  base: base || null,
  date: new Date().toISOString(),
  machine: `${os.cpus()[0].model} x${os.cpus().length}`,
  note: 'quality: 2 niced eval processes of 1 thread, no decode time budget (load-independent); latency: niced, load in each step',
  total_wall_s: Number(total),
  summary,
  steps: rows,
};
fs.writeFileSync(out, `${JSON.stringify(res, null, 1)}\n`);
