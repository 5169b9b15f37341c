// Records and checks a model directory's golden tokens with onnxruntime-node through the project's own
// runtime: greedy tokens with one-shot prefill ("greedy"), whether chunked prefill gives the same tokens,
// and how many agree with PyTorch fp32 ("greedy_torch_fp32"). Writes golden.json and parity.json's "node" part.
// Usage: node native/tools/golden.mjs DIR [--write]   (needs npm run build)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const { Generator } = await import(path.join(root, 'server/dist/decoding/index.js'));
const dir = process.argv[2];
const write = process.argv.includes('--write');
const goldenPath = path.join(dir, 'golden.json');
const golden = JSON.parse(fs.readFileSync(goldenPath, 'utf8'));
const bundle = await loadBundle({ modelDir: dir, device: 'cpu' });

async function greedy(ids, n, chunk) {
  const gen = new Generator(bundle.model, { prefillChunkSize: chunk });
  gen.appendTokens(ids);
  gen.setSearch({ maxNewTokens: n });
  const out = [];
  while (!gen.isDone()) out.push((await gen.nextToken()).tokenId);
  gen.dispose();
  return out;
}

let agree = 0, total = 0, chunkSame = 0, promptsEqualTorch = 0;
for (const g of golden) {
  const n = g.greedy_torch_fp32.length;
  const oneShot = await greedy(g.input_ids, n, 4096);
  const chunked = await greedy(g.input_ids, n, 7);
  if (JSON.stringify(oneShot) === JSON.stringify(chunked)) chunkSame++;
  agree += oneShot.filter((t, i) => t === g.greedy_torch_fp32[i]).length;
  total += n;
  if (JSON.stringify(oneShot) === JSON.stringify(g.greedy_torch_fp32)) promptsEqualTorch++;
  if (write) g.greedy = oneShot;
}
const node = {
  runtime: 'onnxruntime-node (infill-ls runtime), CPU',
  prompts: golden.length,
  prompts_equal_to_torch_fp32_greedy: promptsEqualTorch,
  token_agreement_with_torch_fp32: +(agree / total).toFixed(3),
  chunked_prefill_7_equals_one_shot: `${chunkSame}/${golden.length}`,
};
console.log(JSON.stringify(node));
if (write) {
  fs.writeFileSync(goldenPath, JSON.stringify(golden, null, 1) + '\n');
  const parityPath = path.join(dir, 'parity.json');
  const parity = fs.existsSync(parityPath) ? JSON.parse(fs.readFileSync(parityPath, 'utf8')) : {};
  parity.node = node;
  fs.writeFileSync(parityPath, JSON.stringify(parity, null, 1) + '\n');
}
await bundle.model.dispose();
