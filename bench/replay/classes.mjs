#!/usr/bin/env node
// Splits a keystroke replay's answered requests (replay.mjs's OUT.json) by where the answer came from: the completion
// cache (typed-ahead reuse, no model run) or the model. The "all" mode's overall p50 sits among the cache answers, so
// its quiet/loaded ratio moves with their share as well as with their latency; this prints both per mode.
//   node bench/replay/classes.mjs bench/results/replay-load.json [more.json ...]
import '../lib/help.mjs';
import fs from 'node:fs';

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 10) / 10;
};
for (const file of process.argv.slice(2)) {
  const { runs } = JSON.parse(fs.readFileSync(file, 'utf8'));
  console.log(`${file}:`);
  for (const run of runs) {
    const ok = run.requests.filter((r) => r.outcome === 'ok');
    const reuse = ok.filter((r) => typeof r.cache === 'string' && r.cache.startsWith('completion-reuse')).map((r) => r.latencyMs);
    const model = ok.filter((r) => typeof r.cache === 'string' && !r.cache.startsWith('completion-reuse')).map((r) => r.latencyMs);
    const all = ok.map((r) => r.latencyMs);
    console.log(
      `  ${run.mode} (load average ${run.loadavg?.[0] ?? '?'}): ${ok.length} answered of ${run.requests.length}, p50 ${pct(all, 0.5)} ms;` +
        ` from the cache ${reuse.length} (${Math.round((100 * reuse.length) / Math.max(1, ok.length))}%) p50 ${pct(reuse, 0.5)} / p90 ${pct(reuse, 0.9)} ms;` +
        ` from the model ${model.length} p50 ${pct(model, 0.5)} / p90 ${pct(model, 0.9)} ms`,
    );
  }
}
