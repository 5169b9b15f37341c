// Checks that onnxruntime-node reproduces a model directory's golden greedy tokens (golden.json),
// through the KV-cache path, for the standard and the packed layout. Independent of server/src on purpose:
// it checks the exporter, not the runtime. Usage: node native/tools/parity.mjs DIR [onnx file name] [golden key]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const usage = 'usage: node native/tools/parity.mjs DIR [onnx file name] [golden key]\n' +
  '  checks DIR/onnx/<file> (default: the first .onnx there) against DIR/golden.json\'s <key> tokens (default: greedy)';
if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
  console.log(usage);
  process.exit(0);
}
const dir = process.argv[2];
if (!dir) {
  console.error(usage);
  process.exit(2);
}
const file = process.argv[3] ?? readdirSync(join(dir, 'onnx')).find((f) => f.endsWith('.onnx'));
const key = process.argv[4] ?? 'greedy';
const session = await ort.InferenceSession.create(join(dir, 'onnx', file));
const names = session.inputNames;
const meta = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));
const packed = names.includes('attention_bias');
const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
const cases = Array.isArray(golden) ? golden : golden.cases;
const pastNames = names.filter((n) => n.startsWith('past_key_values.'));

function emptyPast(name) {
  const dims = meta[name].shape.map((d) => (typeof d === 'number' ? d : 0));
  dims[0] = 1;
  return new ort.Tensor('float32', new Float32Array(0), dims);
}

async function step(ids, past, pastLen) {
  const s = ids.length;
  const total = pastLen + s;
  const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, s]) };
  feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(pastLen + i))), [1, s]);
  if (packed) {
    const bias = new Float32Array(s * total);
    for (let r = 0; r < s; r++) for (let c = 0; c < total; c++) bias[r * total + c] = c <= pastLen + r ? 0 : -1e9;
    feeds.attention_bias = new ort.Tensor('float32', bias, [1, 1, s, total]);
    feeds.logits_index = new ort.Tensor('int64', BigInt64Array.from([BigInt(s - 1)]), [1]);
  } else {
    feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]);
  }
  for (const n of pastNames) feeds[n] = past[n] ?? emptyPast(n);
  const out = await session.run(feeds);
  const logits = out.logits; // [1, n, vocab]; the last row is the next-token distribution
  const vocab = logits.dims[2];
  const rows = logits.dims[1];
  const data = logits.data;
  let best = 0;
  for (let v = 1; v < vocab; v++) if (data[(rows - 1) * vocab + v] > data[(rows - 1) * vocab + best]) best = v;
  const next = {};
  for (const n of pastNames) next[n] = out[n.replace('past_key_values.', 'present.')];
  return { best, past: next };
}

let ok = true;
for (const c of cases) {
  const want = c[key];
  if (!want) continue;
  let { best, past } = await step(c.input_ids, {}, 0);
  const got = [best];
  let len = c.input_ids.length;
  while (got.length < want.length) {
    ({ best, past } = await step([got.at(-1)], past, len));
    len += 1;
    got.push(best);
  }
  const same = JSON.stringify(got) === JSON.stringify(want);
  ok &&= same;
  console.log(`${same ? 'ok  ' : 'FAIL'} ${JSON.stringify(c.prompt).slice(0, 40)} got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
}
console.log(ok ? `parity: ${dir} (${file}, ${key}) matches` : `parity: ${dir} MISMATCH`);
process.exit(ok ? 0 : 1);
