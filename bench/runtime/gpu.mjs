// GPU half of the runtime benchmark (issue 3): our runtime (server/dist's public runtime API) on the GPU machine's
// WebGPU provider, for each ONNX variant of the default model that bench/runtime/gpu/variants.py writes (fp32, fp16,
// and the shipped 8-bit graph), plus the CPU provider on that machine's cores for reference. Same schedule as
// cpu.mjs and gpu/torch_bench.py: prefill ms at 256/512/1024 tokens, decode ms/token at 256/512/1024 tokens of past
// (medians), and the first 16 greedy tokens after a 256-token prompt (to compare the variants with PyTorch).
//   node bench/runtime/gpu.mjs --model DIR --out ort.json [--variants fp32,fp16,quantized] [--devices webgpu,cpu]
// Run by bench/runtime/gpu/run.sh on the GPU machine (README.md in this folder).
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const MODEL = path.resolve(opt('model', 'models/default'));
const OUT = opt('out', null);
const VARIANTS = opt('variants', 'fp32,fp16,quantized').split(',');
const DEVICES = opt('devices', 'webgpu,cpu').split(',');
const REPS = Number(opt('reps', 7));
const WARMUP = Number(opt('warmup', 2));
const STEPS = Number(opt('steps', 16));
const PREFILL = [256, 512, 1024];
const PAST = [256, 512, 1024];
const runtime = await import(pathToFileURL(path.join(root, 'server/dist/runtime/index.js')).href);
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };
// Deterministic token ids, the same sequence as gpu/torch_bench.py (Park-Miller: exact in doubles; specials 0..6 avoided).
function tokenIds(n) {
  let s = 12345;
  return Array.from({ length: n }, () => { s = (s * 48271) % 2147483647; return 7 + (s % (8192 - 7)); });
}

async function measure(model) {
  const res = { prefill_ms: {}, decode_ms: {} };
  for (const n of PREFILL) {
    const ids = tokenIds(n);
    const ms = [];
    for (let r = 0; r < WARMUP + REPS; r++) {
      const cache = model.createCache();
      const t = performance.now();
      await model.forward(ids, cache, { logits: 'last' });
      ms.push(performance.now() - t);
      cache.dispose();
    }
    res.prefill_ms[n] = median(ms.slice(WARMUP));
  }
  for (const p of PAST) {
    const ids = tokenIds(p);
    const per = [];
    for (let r = 0; r < WARMUP + REPS; r++) {
      const cache = model.createCache();
      let logits = await model.forward(ids, cache, { logits: 'last' });
      const step = [];
      for (let s = 0; s < STEPS; s++) {
        const tok = argmax(logits);
        const t = performance.now();
        logits = await model.forward([tok], cache, { logits: 'last' });
        step.push(performance.now() - t);
      }
      cache.dispose();
      if (r >= WARMUP) per.push(median(step));
    }
    res.decode_ms[p] = median(per);
  }
  const cache = model.createCache();
  let logits = await model.forward(tokenIds(256), cache, { logits: 'last' });
  res.greedy16 = [];
  for (let s = 0; s < 16; s++) {
    const tok = argmax(logits);
    res.greedy16.push(tok);
    logits = await model.forward([tok], cache, { logits: 'last' });
  }
  cache.dispose();
  return res;
}

const out = { node: process.version, cpus: `${os.cpus()[0]?.model} x${os.cpus().length}`, rows: [] };
for (const device of DEVICES) {
  for (const dtype of VARIANTS) {
    const row = { device, dtype };
    try {
      const t0 = performance.now();
      const model = await runtime.loadModel({ modelDir: MODEL, device, dtype, ...(device === 'cpu' ? { intraOpNumThreads: os.cpus().length, interOpNumThreads: 1 } : {}) });
      row.loadMs = Math.round(performance.now() - t0);
      row.onnx = path.basename(model.files.onnxPath);
      row.rssAfterLoadMiB = Math.round(process.memoryUsage().rss / 1048576);
      log(`${device} ${dtype}: loaded in ${row.loadMs} ms`);
      Object.assign(row, await measure(model));
      await model.dispose();
    } catch (e) {
      row.error = String(e?.message ?? e).slice(0, 600);
    }
    log(JSON.stringify(row));
    out.rows.push(row);
    if (OUT) fs.writeFileSync(OUT, JSON.stringify(out, null, 1) + '\n'); // after every row: a timeout keeps what ran
  }
}
