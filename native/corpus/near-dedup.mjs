// Cross-source MinHash near-duplicate removal for corpus v3 (issue 16), with fetch-npm.mjs's MinHash (128
// permutations over 5-token shingles, LSH 21 bands x 6 rows, estimated Jaccard >= 0.8), in Node: v3_pack.py --near
// (dedup.py, pure Python) had not finished v3's 550 MB after 4.5 min on the loaded 2-core machine.
//
//   node --max-old-space-size=8192 native/corpus/near-dedup.mjs --out DIR IN1.jsonl IN2.jsonl ...
//
// Inputs are corpus records ({"pkg","path","lang","text"}) in priority order: a record whose signature is a near
// duplicate of an earlier record's (any input, any language) is dropped; the first copy stays. Writes
// DIR/N-BASENAME (N = the input's position, 1-based: inputs often share a basename) with the records kept, in their
// input order, and DIR/near-dedup.json: per input, records read and dropped, and how many of its drops matched a
// record of each earlier-or-same input. Reads nothing else, changes no input.
import '../../bench/lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { nearDupIndex } from './fetch-npm.mjs';

/** Near-duplicate filter over a sequence of texts: add(text) -> index of the earlier kept text it duplicates, or -1
 * (then the text is kept and indexed): fetch-npm.mjs's `nearDupIndex`, the one the npm and node-* builders use. */
export const nearFilter = nearDupIndex;

async function main() {
  const argv = process.argv.slice(2);
  const oi = argv.indexOf('--out');
  if (oi < 0 || !argv[oi + 1]) throw new Error('--out DIR is required');
  const out = argv[oi + 1];
  const inputs = argv.filter((_, i) => i !== oi && i !== oi + 1);
  if (!inputs.length) throw new Error('no input files');
  fs.mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  const f = nearFilter();
  const keptFrom = []; // input index of each kept record
  const report = [];
  for (const [n, inp] of inputs.entries()) {
    const r = { input: inp, read: 0, dropped: 0, droppedMatching: {} };
    report.push(r);
    const dest = path.join(out, `${n + 1}-${path.basename(inp)}`);
    const fd = fs.openSync(`${dest}.tmp`, 'w');
    const rl = readline.createInterface({ input: fs.createReadStream(inp), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line) continue;
      r.read++;
      const j = f.add(JSON.parse(line).text);
      if (j >= 0) {
        r.dropped++;
        const src = path.basename(inputs[keptFrom[j]]) + `#${keptFrom[j] + 1}`;
        r.droppedMatching[src] = (r.droppedMatching[src] || 0) + 1;
        continue;
      }
      keptFrom.push(n);
      fs.writeSync(fd, `${line}\n`);
    }
    fs.closeSync(fd);
    fs.renameSync(`${dest}.tmp`, dest);
    process.stderr.write(`${inp}: ${r.read} read, ${r.dropped} near duplicates (${Math.round((Date.now() - t0) / 1e3)} s)\n`);
  }
  const res = { seconds: Math.round((Date.now() - t0) / 1e3), inputs: report };
  fs.writeFileSync(path.join(out, 'near-dedup.json'), JSON.stringify(res, null, 1) + '\n');
  console.log(JSON.stringify(res));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main().catch((e) => { console.error(e.message); process.exit(1); });
