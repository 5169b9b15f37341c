#!/usr/bin/env node
// Loss curves of a continual pre-training slot (native/cpt-job.sh): reads each arm's ckpt.json (train.py's
// history: runs[-1].eval_curves = {stream: [{step, tokens, time_s, loss}]}, loss in nats per token) and writes
// one JSON with every arm's run record and curves, and prints the Markdown tables used in bench/results/cpt-slot*.md.
//   node native/tools/cpt-report.mjs OUT.json ARM=path/ckpt.json [ARM=path/ckpt.json ...] [--streams streams.json]
// Errors: exits 2 with a message when an argument is missing or a file has no eval curves.
import '../../bench/lib/help.mjs';
import { readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const si = argv.indexOf('--streams');
const streamsFile = si >= 0 ? argv.splice(si, 2)[1] : undefined;
const [outFile, ...armArgs] = argv;
if (!outFile || armArgs.length === 0 || armArgs.some((a) => !a.includes('='))) {
  console.error('usage: node native/tools/cpt-report.mjs OUT.json ARM=ckpt.json [ARM=ckpt.json ...] [--streams streams.json]');
  process.exit(2);
}
const arms = {};
for (const a of armArgs) {
  const [name, file] = a.split('=', 2);
  let run;
  try {
    run = JSON.parse(readFileSync(file, 'utf8')).history?.runs?.at(-1);
  } catch (e) {
    console.error(`cpt-report: cannot read ${file}: ${e.message}`);
    process.exit(2);
  }
  if (!run?.eval_curves) {
    console.error(`cpt-report: ${file} has no history.runs[-1].eval_curves`);
    process.exit(2);
  }
  arms[name] = run;
}
const out = { source: 'train.py ckpt.json history (native/cpt-job.sh)', arms };
if (streamsFile) out.streams = JSON.parse(readFileSync(streamsFile, 'utf8'));
writeFileSync(outFile, JSON.stringify(out, null, 1) + '\n');

const names = Object.keys(arms);
const streams = Object.keys(arms[names[0]].eval_curves);
const f = (x) => x.toFixed(4);
console.log('| arm | schedule | ' + streams.map((s) => `${s} start → end (Δ)`).join(' | ') + ' |');
console.log('|---|---|' + streams.map(() => '---').join('|') + '|');
for (const n of names) {
  const r = arms[n];
  const cells = streams.map((s) => {
    const c = r.eval_curves[s];
    const d = c.at(-1).loss - c[0].loss;
    return `${f(c[0].loss)} → ${f(c.at(-1).loss)} (${d >= 0 ? '+' : ''}${d.toFixed(4)})`;
  });
  console.log(`| ${n} | ${r.schedule}, peak ${r.peak_lr}${r.schedule === 'constant' ? '' : `, warm-up ${r.warmup}`} | ${cells.join(' | ')} |`);
}
for (const s of streams) {
  console.log(`\n${s}:\n`);
  const steps = arms[names[0]].eval_curves[s].map((p) => p.step);
  console.log('| step | tokens (M) | ' + names.join(' | ') + ' |');
  console.log('|---|---|' + names.map(() => '---').join('|') + '|');
  steps.forEach((st, i) => {
    const p0 = arms[names[0]].eval_curves[s][i];
    const cells = names.map((n) => {
      const p = arms[n].eval_curves[s][i];
      return p ? `${f(p.loss)}${p.step !== st ? ` (step ${p.step})` : ''}` : '–';
    });
    console.log(`| ${st} | ${(p0.tokens / 1e6).toFixed(1)} | ${cells.join(' | ')} |`);
  });
}
