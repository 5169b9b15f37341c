#!/usr/bin/env node
// The tiny fixture models' golden paths (test/fixtures/models/{llama,qwen2,gpt_bigcode}, exact tokens in
// test/runtime/fixtures.test.ts): teacher-forced through our runtime, the top-1/top-2 logit margin at every golden
// position (smallest per fixture) and whether the argmax is the golden token. With --dump FILE it writes the logits
// (float32 rows, fixtures and positions in order) so that native and emulated runs can be compared:
//   node bench/cpu/fixture-margins.mjs --dump /tmp/native.bin
//   bash bench/cpu/avx2.sh node bench/cpu/fixture-margins.mjs --dump /tmp/avx2.bin
//   node bench/cpu/fixture-margins.mjs --compare /tmp/native.bin /tmp/avx2.bin    max |Δlogit| between the two
// Needs npm run build (it loads server/dist). Prints one JSON line.
import '../lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const read = (f) => {
  const b = fs.readFileSync(f);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
if (args[0] === '--compare') {
  const [a, b] = [read(args[1]), read(args[2])];
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  console.log(JSON.stringify({ values: a.length, max_abs_logit_diff: max }));
  process.exit(0);
}
const dumpAt = args.indexOf('--dump');
const dump = dumpAt >= 0 ? args[dumpAt + 1] : null;

const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const out = {};
const rows = [];
for (const name of ['llama', 'qwen2', 'gpt_bigcode']) {
  const dir = path.join(root, 'test/fixtures/models', name);
  const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  const b = await loadBundle({ modelDir: dir, device: 'cpu', intraOpNumThreads: 1 });
  let minMargin = Infinity;
  let positions = 0;
  let agree = 0;
  for (const g of golden) {
    const cache = b.model.createCache();
    let logits = await b.model.forward(g.input_ids, cache);
    for (let k = 0; k < g.greedy.length; k++) {
      const row = Float32Array.from(logits);
      rows.push(row);
      let i1 = 0;
      for (let i = 1; i < row.length; i++) if (row[i] > row[i1]) i1 = i;
      let second = -Infinity;
      for (let i = 0; i < row.length; i++) if (i !== i1 && row[i] > second) second = row[i];
      minMargin = Math.min(minMargin, row[i1] - second);
      positions++;
      if (i1 === g.greedy[k]) agree++;
      if (k + 1 < g.greedy.length) logits = await b.model.forward([g.greedy[k]], cache);
    }
    cache.dispose();
  }
  await b.model.dispose();
  out[name] = { positions, argmax_is_golden: agree, min_top2_margin: Number(minMargin.toFixed(5)) };
}
if (dump) {
  const all = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let o = 0;
  for (const r of rows) {
    all.set(r, o);
    o += r.length;
  }
  fs.writeFileSync(dump, Buffer.from(all.buffer));
}
console.log(JSON.stringify(out));
