// Child process of bench/realmodels/cpu.mjs: our runtime (server/dist, public API) on one generated model directory.
// Env: BENCH_ORT_MODEL (dir), BENCH_THREADS (0: onnxruntime's default), BENCH_CHUNK (prefill chunk: tokens per
// forward run), BENCH_DEVICE (cpu | webgpu).
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const threads = Number(process.env.BENCH_THREADS ?? 2);
const device = process.env.BENCH_DEVICE ?? 'cpu';
const chunk = Number(process.env.BENCH_CHUNK ?? 256);
const modelDir = path.resolve(process.env.BENCH_ORT_MODEL);
const runtime = await import(pathToFileURL(path.join(root, 'server/dist/runtime/index.js')).href);
const t0 = performance.now();
const model = await runtime.loadModel({ modelDir, device, ...(threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}), onStatus: (m) => { if (/^wgslDecode/.test(m)) console.error(`[${path.basename(modelDir)}] ${m}`); } });
const loadMs = performance.now() - t0;
const ortVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version;
// CPU time of this process (all threads) since `u`, ms: with one compute thread it is the work itself, far less
// disturbed than wall time by the other processes of a loaded machine.
const cpuSince = (u) => { const d = process.cpuUsage(u); return (d.user + d.system) / 1000; };
const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };

/** Appends ids in runs of `chunk` tokens, logits of the last position only (what the scheduler does). */
async function append(cache, ids) {
  let logits = null;
  for (let i = 0; i < ids.length; i += chunk) {
    const part = ids.slice(i, i + chunk);
    logits = await model.forward(part, cache, { logits: i + chunk >= ids.length ? 'last' : 'none' });
  }
  return logits;
}

async function prefill({ ids }) {
  const cache = model.createCache();
  const t = performance.now();
  const u = process.cpuUsage();
  const logits = await append(cache, ids);
  argmax(logits);
  const ms = performance.now() - t;
  const cpuMs = cpuSince(u);
  cache.dispose();
  return { ms, cpuMs };
}

async function decode({ ids, steps }) {
  const cache = model.createCache();
  let logits = await append(cache, ids);
  const ms = [];
  const cpuMs = [];
  for (let s = 0; s < steps; s++) {
    const tok = argmax(logits);
    const t = performance.now();
    const u = process.cpuUsage();
    logits = await model.forward([tok], cache, { logits: 'last' });
    argmax(logits);
    ms.push(performance.now() - t);
    cpuMs.push(cpuSince(u));
  }
  // the WGSL decoder's first step includes handing the prompt's K/V rows over (LoadModelOptions.wgslDecode)
  if (model.wgslDecode) console.error(`[${path.basename(modelDir)}] wgsl decode @${ids.length}: first step ${ms[0].toFixed(1)} ms, then median ${[...ms.slice(1)].sort((a, b) => a - b)[Math.floor((ms.length - 1) / 2)]?.toFixed(2)} ms; ${model.wgslSteps} WGSL steps so far, ${JSON.stringify(model.wgslDecode.counts)}, last hand-over ${JSON.stringify(model.wgslDecode.lastHandOver)}`);
  cache.dispose();
  return { ms, cpuMs };
}

// llama.vim's scenario: a cached context of ctx tokens, `fresh` new tokens appended, `gen` tokens generated.
let scen = null;
async function scenario({ ctx, fresh, gen }) {
  if (!scen || scen.key !== ctx.join(',')) {
    scen?.cache.dispose();
    scen = { key: ctx.join(','), cache: model.createCache() };
    await append(scen.cache, ctx);
  }
  const cache = scen.cache;
  const t = performance.now();
  const u = process.cpuUsage();
  let logits = await append(cache, fresh);
  const tPrefill = performance.now() - t;
  for (let s = 0; s < gen; s++) logits = await model.forward([argmax(logits)], cache, { logits: 'last' });
  argmax(logits);
  const ms = performance.now() - t;
  const cpuMs = cpuSince(u);
  await cache.rewindTo(ctx.length);
  return { ms, prefillMs: tPrefill, cpuMs };
}

const ops = { prefill, decode, scenario };
process.on('message', async (m) => {
  if (m.op === 'info') {
    const f = model.files;
    const bytes = fs.statSync(f.onnxPath).size + (f.externalDataPath ? fs.statSync(f.externalDataPath).size : 0);
    process.send({ id: m.id, result: { engine: 'onnxruntime-node', ortVersion, modelDir, onnx: path.basename(f.onnxPath), format: f.format, dtype: f.dtype, bytes, device: model.device, threads, chunk, loadMs, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) } });
    return;
  }
  if (m.op === 'exit') { scen?.cache.dispose(); await model.dispose(); process.exit(0); }
  try { process.send({ id: m.id, result: await ops[m.op](m) }); } catch (e) { process.send({ id: m.id, error: String(e?.stack ?? e) }); }
});
process.send({ ready: true });
