// Measures how a model directory's graph agrees with the fp32 reference stored in golden.json
// (native/py/reference.py), through the project's own runtime (onnxruntime-node, CPU):
//  - teacher-forced: the prompt, then the reference tokens one decode step at a time; at every position the
//    argmax is compared with the reference token, so positions are independent of each other;
//  - the same with the prompt prefilled in chunks of 7 tokens (chunked == one-shot);
//  - free-running greedy decoding, one-shot and chunked (what a completion does).
// Prints one JSON line; --write stores it as parity.json's "node" part; --dump FILE writes the teacher-forced
// one-shot logits (float32, prompts × positions × vocab) for native/tools/logit-diff.mjs. --tol T: positions whose
// fp32 top-1/top-2 margin is <= T count as near-ties (test/engine/default-model.test.ts uses 1e-3). Usage:
//   node native/tools/golden.mjs DIR [--golden FILE] [--tol T] [--dump FILE] [--threads N] [--write]
// (needs npm run build; under bench/cpu/avx2.sh it measures the AVX2 code paths)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const { Generator } = await import(path.join(root, 'server/dist/decoding/index.js'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const usage = 'usage: node native/tools/golden.mjs DIR [--golden FILE] [--tol T] [--dump FILE] [--threads N] [--write]';
if (args.includes('--help') || args.includes('-h')) {
  console.log(usage);
  process.exit(0);
}
const dir = args[0];
if (!dir || dir.startsWith('-')) {
  console.error(usage);
  process.exit(2);
}
const golden = JSON.parse(fs.readFileSync(opt('--golden', path.join(dir, 'golden.json')), 'utf8'));
const threads = opt('--threads') ? Number(opt('--threads')) : undefined;
const dump = opt('--dump');
const bundle = await loadBundle({ modelDir: dir, device: 'cpu', intraOpNumThreads: threads });
const model = bundle.model;

const argmax = (row) => {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i;
  return b;
};

/** Teacher-forced logits rows: prompt (in chunks of `chunk`), then ref[0..n-2] one step each → n rows. */
async function teacherForced(ids, ref, chunk) {
  const cache = model.createCache();
  let last = null;
  for (let i = 0; i < ids.length; i += chunk) last = await model.forward(ids.slice(i, i + chunk), cache);
  const rows = [Float32Array.from(last)];
  for (let k = 0; k + 1 < ref.length; k++) rows.push(Float32Array.from(await model.forward([ref[k]], cache)));
  cache.dispose();
  return rows;
}

async function greedy(ids, n, chunk) {
  const gen = new Generator(model, { prefillChunkSize: chunk });
  gen.appendTokens(ids);
  gen.setSearch({ maxNewTokens: n });
  const out = [];
  while (!gen.isDone()) out.push((await gen.nextToken()).tokenId);
  gen.dispose();
  return out;
}

const tol = Number(opt('--tol', 0));
let positions = 0, agree = 0, agreeTorch = 0, clear = 0, clearAgree = 0, tfChunkSame = 0, greedyChunkSame = 0;
let greedyPrefixOk = 0, maxChunkDiff = 0, greedyAgree = 0;
const perPrompt = [];
const dumpRows = [];
for (const g of golden) {
  const ref = g.fp32_tokens ?? g.greedy_torch_fp32;
  const margin = g.fp32_margin ?? ref.map(() => Infinity);
  const one = await teacherForced(g.input_ids, ref, 1 << 20);
  const chunked = await teacherForced(g.input_ids, ref, 7);
  const a1 = one.map(argmax);
  const a7 = chunked.map(argmax);
  dumpRows.push(...one);
  for (let k = 0; k < ref.length; k++) {
    positions++;
    if (a1[k] === ref[k]) agree++;
    if (g.greedy_torch_fp32 && a1[k] === g.greedy_torch_fp32[k]) agreeTorch++;
    if (margin[k] > tol) {
      clear++;
      if (a1[k] === ref[k]) clearAgree++;
    }
    for (let j = 0; j < one[k].length; j++) maxChunkDiff = Math.max(maxChunkDiff, Math.abs(one[k][j] - chunked[k][j]));
  }
  if (a1.join() === a7.join()) tfChunkSame++;
  const g1 = await greedy(g.input_ids, ref.length, 4096);
  const g7 = await greedy(g.input_ids, ref.length, 7);
  if (g1.join() === g7.join()) greedyChunkSame++;
  greedyAgree += g1.filter((t, i) => t === ref[i]).length;
  // Free-running greedy must follow the reference at least up to its first near-tie (margin <= tol).
  const firstTie = margin.findIndex((m) => !(m > tol));
  const upTo = firstTie < 0 ? ref.length : firstTie;
  if (g1.slice(0, upTo).join() === ref.slice(0, upTo).join()) greedyPrefixOk++;
  const firstDiff = g1.findIndex((t, i) => t !== ref[i]);
  perPrompt.push({ tf_argmax_mismatch_at: a1.flatMap((t, i) => (t === ref[i] ? [] : [i])), greedy_first_diff: firstDiff, first_near_tie: firstTie });
}
if (dump) fs.writeFileSync(dump, Buffer.concat(dumpRows.map((r) => Buffer.from(r.buffer))));
const report = {
  runtime: 'onnxruntime-node (infill-ls runtime), CPU',
  onnx: path.basename(model.files.onnxPath),
  tol,
  positions,
  teacher_forced_agreement_with_fp32_reference: +(agree / positions).toFixed(3),
  teacher_forced_agreement_with_torch_fp32_greedy: +(agreeTorch / positions).toFixed(3),
  clear_positions_agreeing: `${clearAgree}/${clear}`,
  greedy_agreement_with_fp32_reference: +(greedyAgree / positions).toFixed(3),
  teacher_forced_chunked7_argmax_equals_one_shot: `${tfChunkSame}/${golden.length}`,
  max_abs_logit_diff_chunked7_vs_one_shot: +maxChunkDiff.toExponential(2),
  greedy_chunked7_equals_one_shot: `${greedyChunkSame}/${golden.length}`,
  greedy_follows_reference_to_first_near_tie: `${greedyPrefixOk}/${golden.length}`,
  per_prompt: perPrompt,
};
console.log(JSON.stringify({ dir, ...report }));
if (args.includes('--write')) {
  const parityPath = path.join(dir, 'parity.json');
  const parity = fs.existsSync(parityPath) ? JSON.parse(fs.readFileSync(parityPath, 'utf8')) : {};
  parity.node = report;
  fs.writeFileSync(parityPath, JSON.stringify(parity, null, 1) + '\n');
}
await model.dispose();
