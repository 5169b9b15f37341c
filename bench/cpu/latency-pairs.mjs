// Summarises bench/cpu/gpuhost-avx2.sh's latency.json (two models in one process, runs plain / masked / masked2 /
// plain2 per prefill length): per CPU class (plain = the machine's own kernels, masked = AVX2 kernels) and length,
// each model's median decode ms/token over both runs, and the median of the per-rep ratios first model / second
// model (reps are paired: the two models alternate within a rep). Prints a Markdown table.
//   node bench/cpu/latency-pairs.mjs bench/results/gpuhost-latency-avx2/latency-v6-v1.json
import '../lib/help.mjs';
import fs from 'node:fs';
import { median } from '../lib/stats.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/cpu/latency-pairs.mjs LATENCY.json');
  process.exit(2);
}
const runs = JSON.parse(fs.readFileSync(file, 'utf8'));
const lengths = [...new Set(Object.keys(runs).map((k) => k.split('-')[0]))];
const first = Object.values(runs)[0].variants.map((v) => v.dir);
console.log(`| past | kernels | ${first[0]} ms/token | ${first[1]} ms/token | paired ratio (median) | first faster in | prefill ms | load |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const p of lengths) {
  for (const cls of ['plain', 'masked']) {
    const pair = [runs[`${p}-${cls}`], runs[`${p}-${cls}2`]].filter(Boolean);
    const a = [], b = [], ratio = [], preA = [], preB = [];
    for (const r of pair) {
      const [va, vb] = r.variants;
      va.decode_ms_per_token.forEach((x, i) => { a.push(x); b.push(vb.decode_ms_per_token[i]); ratio.push(x / vb.decode_ms_per_token[i]); });
      preA.push(...va.prefill_ms);
      preB.push(...vb.prefill_ms);
    }
    const faster = ratio.filter((x) => x < 1).length;
    const load = pair.map((r) => r.load1_during.join('–')).join(', ');
    console.log(`| ${p} | ${cls === 'plain' ? 'own (AVX-512)' : 'AVX2 (masked)'} | ${median(a).toFixed(2)} | ${median(b).toFixed(2)} | ${median(ratio).toFixed(3)} | ${faster} of ${ratio.length} | ${median(preA).toFixed(0)} / ${median(preB).toFixed(0)} | ${load} |`);
  }
}
