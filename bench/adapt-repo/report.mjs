// Writes bench/results/NAME.{json,md} (default adapt-repo) from the work folder of bench/adapt-repo/run.sh or gpu.sh.
// Usage: node bench/adapt-repo/report.mjs WORK_DIR "UPTIME LINE" [--name NAME] [--arms base,noreplay,replay,...]
//        [--command "what produced it"]
import '../lib/help.mjs';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string', default: 'adapt-repo' }, arms: { type: 'string', default: 'base,noreplay,replay' }, command: { type: 'string', default: 'nice -n 19 bash bench/adapt-repo/run.sh' } },
});
const [w, uptime = ''] = positionals;
const suites = ['heldout-single', 'heldout-multi', 'dev-ts-single', 'dev-py-single'];
const arms = Object.fromEntries(opt.arms.split(',').map((a) => [a, a === 'base' ? null : `${w}/out-${a}`]));
const adapted = Object.keys(arms).filter((a) => a !== 'base');
const split = JSON.parse(readFileSync(`${w}/split.json`, 'utf8'));
const out = {
  date: new Date().toISOString().slice(0, 10),
  machine: `${cpus()[0].model} x${cpus().length}`,
  load: uptime.trim(),
  command: opt.command,
  package: 'comment-parser@1.4.9 (MIT; native/corpus/npm-packages-v2.json split "aside": in no training corpus)',
  split: { files: split.files, adapt: split.adapt, heldout: split.heldout, heldout_paths: split.heldout_paths },
  arms: {},
};
for (const [arm, dir] of Object.entries(arms)) {
  const r = { suites: {} };
  const read = (f) => { try { return JSON.parse(readFileSync(f, 'utf8')); } catch { return null; } }; // an arm not (yet) run: null
  if (dir) {
    r.adapt = read(`${dir}/adapt.json`);
    if (r.adapt) delete r.adapt.log;
  }
  for (const s of suites) {
    const sc = read(`${w}/pred/${arm}-${s}.score.json`);
    r.suites[s] = sc && { n: sc.n, exact_match: sc.exact_match, edit_similarity: sc.edit_similarity };
  }
  out.arms[arm] = r;
}
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/${opt.name}.json`, JSON.stringify(out, null, 1) + '\n');

const pct = (x) => (x == null ? '–' : (100 * x).toFixed(1));
const ad = out.arms[adapted[0]].adapt;
const lines = [
  '# Repository adaptation: base vs adapted (no replay) vs adapted (with replay)',
  '',
  `${out.date}, ${out.machine}, \`${out.command}\`; load at the end: \`${out.load}\` (shared machine, niced: times are load-affected).`,
  '',
  `Package: ${out.package}. Its ${split.files} kept files (native/tools/repo-files.mjs) split by sha1(path) % 5: ` +
    `${split.adapt} adaptation files (the REPO_DIR), ${split.heldout} held out (FIM tasks from their TypeScript files, bench/quality/make-tasks.mjs).`,
  `Adaptation: steps of ${ad.batch} x ${ad.seq} tokens (per arm in the last table; ${adapted[0]}: ${ad.steps} steps, ${ad.tokens_trained} tokens), peak LR ${ad.peak_lr}, ` +
    `${ad.repo_tokens} repository tokens available; replay fraction of the rows per arm: ${adapted.map((a) => `${a} ${out.arms[a].adapt?.replay ?? '(not run)'}`).join(', ')}.`,
  '',
  `| suite | metric | ${Object.keys(arms).join(' | ')} |`,
  `|---|---|${Object.keys(arms).map(() => '---|').join('')}`,
];
for (const s of suites) {
  for (const m of ['exact_match', 'edit_similarity']) {
    lines.push(`| ${s} (n=${out.arms.base.suites[s].n}) | ${m} % | ${Object.keys(arms).map((a) => pct(out.arms[a].suites[s]?.[m])).join(' | ')} |`);
  }
}
lines.push('', 'Next-token loss (nats, fixed windows; `repo_train` = the adaptation stream itself):', '',
  `| stream | base | ${adapted.join(' | ')} |`, `|---|---|${adapted.map(() => '---|').join('')}`);
for (const k of Object.keys(ad.loss_before)) {
  lines.push(`| ${k} | ${ad.loss_before[k]} | ${adapted.map((a) => out.arms[a].adapt?.loss_after[k] ?? '–').join(' | ')} |`);
}
lines.push('', '| arm | steps | replay | train s | data s | export s | total s | torch threads |', '|---|---|---|---|---|---|---|---|');
for (const a of adapted) {
  const x = out.arms[a].adapt;
  if (!x) { lines.push(`| ${a} | not run | | | | | | |`); continue; }
  lines.push(`| ${a} | ${x.steps} | ${x.replay} | ${x.train_s} | ${x.data_s} | ${x.export_s} | ${x.total_s} | ${x.threads} |`);
}
writeFileSync(`bench/results/${opt.name}.md`, lines.join('\n') + '\n');
console.log(lines.join('\n'));
