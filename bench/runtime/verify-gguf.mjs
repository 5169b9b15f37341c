// Greedy-decodes models/default/golden.json's prompts with llama.cpp (node-llama-cpp) on the GGUF export and
// compares the tokens with PyTorch's greedy tokens (golden.json's greedy_torch_fp32, computed by native/py/model.py
// from the same checkpoint) and with the fp32 reference of the shipped 8-bit weights (golden.json's "fp32_tokens",
// which the shipped ONNX graph reproduces on every CPU).
//   node bench/runtime/verify-gguf.mjs [bench/runtime/llama/models/infill-q8_0.gguf]
import '../lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(here, 'llama', 'package.json'));
const { getLlama } = await import(require.resolve('node-llama-cpp'));

const gguf = process.argv[2] ?? path.join(here, 'llama/models/infill-q8_0.gguf');
const golden = JSON.parse(fs.readFileSync(path.join(root, 'models/default/golden.json'), 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: gguf });
const ctx = await model.createContext({ contextSize: 2048, threads: 2, batchSize: 1024 });
const seq = ctx.getSequence();
const rows = [];
for (const g of golden) {
  await seq.clearHistory();
  const n = g.greedy_torch_fp32.length;
  // Greedy by argmax over llama.cpp's raw logits, one token per controlledEvaluate call; it continues past
  // <|endoftext|> like native/py/model.py's greedy does (sequence.evaluate would stop there).
  const out = [];
  let input = g.input_ids;
  for (let k = 0; k < n; k++) {
    const items = input.map((t, i) => (i === input.length - 1 ? [t, { generateNext: { logits: true } }] : t));
    const res = await seq.controlledEvaluate(items);
    const logits = res[input.length - 1].next.logits; // Map<token, logit>
    let best = -1, bestV = -Infinity;
    for (const [t, v] of logits) if (v > bestV || (v === bestV && t < best)) { best = t; bestV = v; }
    out.push(best);
    input = [best];
  }
  const agree = (ref) => { let k = 0; while (k < n && out[k] === ref[k]) k++; return k; };
  const same = (ref) => out.filter((t, i) => t === ref[i]).length;
  // Tokenizer check: our tokenizer's ids for the prompt vs llama.cpp's tokenization of the same text.
  const llTok = Array.from(model.tokenize(g.prompt, true));
  rows.push({
    prompt: g.prompt.slice(0, 40),
    llamaCpp: out,
    torchFp32: g.greedy_torch_fp32,
    prefixAgreeTorch: `${agree(g.greedy_torch_fp32)}/${n}`,
    positionsEqualTorch: `${same(g.greedy_torch_fp32)}/${n}`,
    positionsEqualShippedFp32: `${same(g.fp32_tokens)}/${n}`,
    tokenizerMatches: JSON.stringify(llTok) === JSON.stringify(g.input_ids),
  });
}
console.log(`gguf: ${path.relative(root, gguf)}`);
for (const r of rows) console.log(JSON.stringify({ ...r, llamaCpp: r.llamaCpp.join(','), torchFp32: r.torchFp32.join(',') }));
await ctx.dispose(); await model.dispose(); await llama.dispose();
