// Child process of cpu.mjs: our runtime (server/dist, public API) on models/default, driven over IPC.
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const threads = Number(process.env.BENCH_THREADS ?? 2);
const modelDir = path.resolve(root, process.env.BENCH_ORT_MODEL ?? 'models/default');
const rssBefore = process.memoryUsage().rss;
const runtime = await import(pathToFileURL(path.join(root, 'server/dist/runtime/index.js')).href);
const decoding = await import(pathToFileURL(path.join(root, 'server/dist/decoding/index.js')).href);
const rssAfterImport = process.memoryUsage().rss;
const t0 = performance.now();
const model = await runtime.loadModel({ modelDir, device: 'cpu', intraOpNumThreads: threads, interOpNumThreads: 1 });
const loadMs = performance.now() - t0;
const rssAfterLoad = process.memoryUsage().rss;
const ortVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version;

const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };

async function prefill({ ids }) {
  const cache = model.createCache();
  const t = performance.now();
  await model.forward(ids, cache, { logits: 'last' });
  const ms = performance.now() - t;
  cache.dispose();
  return { ms };
}

// What the server does: Generator with its default prefill chunking (256 tokens per run).
async function prefillChunked({ ids }) {
  const g = new decoding.Generator(model);
  g.appendTokens(ids);
  const t = performance.now();
  await g.computeLogits();
  const ms = performance.now() - t;
  g.dispose();
  return { ms };
}

async function decode({ ids, steps }) {
  const cache = model.createCache();
  let logits = await model.forward(ids, cache, { logits: 'last' });
  const ms = [];
  for (let s = 0; s < steps; s++) {
    const tok = argmax(logits);
    const t = performance.now();
    logits = await model.forward([tok], cache, { logits: 'last' });
    argmax(logits);
    ms.push(performance.now() - t);
  }
  cache.dispose();
  return { ms };
}

const ops = { prefill, prefillChunked, decode };
process.on('message', async (m) => {
  if (m.op === 'info') {
    process.send({ id: m.id, result: {
      engine: 'onnxruntime-node', ortVersion, modelDir: path.relative(root, modelDir), onnx: path.relative(root, model.files.onnxPath),
      onnxBytes: fs.statSync(model.files.onnxPath).size, dtype: model.files.dtype, threads, loadMs,
      rss: { beforeImport: rssBefore, afterImport: rssAfterImport, afterLoad: rssAfterLoad, now: process.memoryUsage().rss },
    } });
    return;
  }
  if (m.op === 'exit') { await model.dispose(); process.exit(0); }
  try { process.send({ id: m.id, result: await ops[m.op](m) }); } catch (e) { process.send({ id: m.id, error: String(e?.stack ?? e) }); }
});
process.send({ ready: true });
