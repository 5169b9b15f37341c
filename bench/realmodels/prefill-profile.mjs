// Prefill of N tokens repeated through the product's runtime (engine/load.js loadBundle + model.forward, a fresh KV
// cache each rep, logits of the last position back on the host), on one device, for a profile of where a prefill's
// time goes. With env INFILL_LS_ORT_PROFILE=<prefix> onnxruntime writes its trace (runtime/model.ts); on WebGPU with
// timestamp queries the trace also holds each dispatch's GPU time ('Api' events), which
// bench/realmodels/ort-profile-summary.py --gpu sums. Prints one JSON line: per-rep wall ms and their median, and
// how much of it was inside onnxruntime's session.run (the rest: feeds, output tensors, the runtime's own work).
//   node bench/realmodels/prefill-profile.mjs --model DIR [--device webgpu] [--tokens 512] [--reps 8] [--chunk N]
// (needs npm run build; --chunk sets the engine's prefill run size, default one run of --tokens; --tokens at most the
// model's positions: the test fixtures have 256, e.g. --model test/fixtures/models/qwen2-genai-packed --device cpu --tokens 128)
import '../lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../lib/stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const { values: args } = parseArgs({
  options: { model: { type: 'string' }, device: { type: 'string', default: 'webgpu' }, tokens: { type: 'string', default: '512' }, reps: { type: 'string', default: '8' }, chunk: { type: 'string' } },
});
const modelDir = args.model;
if (!modelDir) {
  console.error('usage: node bench/realmodels/prefill-profile.mjs --model DIR [--device webgpu] [--tokens 512] [--reps 8]');
  process.exit(2);
}
const device = args.device;
const TOKENS = Number(args.tokens);
const REPS = Number(args.reps);
const CHUNK = Number(args.chunk ?? TOKENS);
const { model, tokenizer } = await loadBundle({ modelDir, device });
// A prefill past the model's positions fails inside onnxruntime (e.g. GroupQueryAttention's "cos_cache dimension 0
// shall not be less than total_sequence_length") and leaves an empty trace: refuse first, with the limit.
const context = model.files?.config?.['max_position_embeddings'];
if (typeof context === 'number' && TOKENS > context) {
  console.error(`prefill-profile.mjs: --tokens ${TOKENS} is more than ${modelDir}'s ${context} positions (max_position_embeddings / genai_config.json context_length); pass --tokens ${context} or fewer`);
  await model.dispose();
  process.exit(2);
}
const text = fs.readFileSync(path.join(root, 'server/src/runtime/model.ts'), 'utf8').repeat(8);
const ids = tokenizer.encode(text).slice(0, TOKENS);
// Time inside session.run (OnnxModel keeps its onnxruntime session as `session`; absent elsewhere: not split).
let inRun = 0;
const session = model.session;
if (session && typeof session.run === 'function') {
  const run = session.run.bind(session);
  session.run = async (...args) => {
    const t = performance.now();
    try {
      return await run(...args);
    } finally {
      inRun += performance.now() - t;
    }
  };
}
const ms = [];
const runMs = [];
for (let rep = -1; rep < REPS; rep++) {
  const cache = model.createCache();
  inRun = 0;
  const t = performance.now();
  for (let i = 0; i < ids.length; i += CHUNK) await model.forward(ids.slice(i, i + CHUNK), cache);
  const dt = performance.now() - t;
  cache.dispose();
  if (rep >= 0) {
    ms.push(+dt.toFixed(2));
    runMs.push(+inRun.toFixed(2));
  }
}
console.log(JSON.stringify({ model: modelDir, device: model.device ?? device, tokens: ids.length, chunk: CHUNK, reps: REPS, median_ms: median(ms), median_session_run_ms: session ? median(runMs) : null, ms, session_run_ms: session ? runMs : null }));
await model.dispose();
