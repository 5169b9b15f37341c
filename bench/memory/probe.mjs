// One process's RSS around loading models/default in a worker thread (as the servers do) or the main thread (the CLI) and running it; one JSON line.
// Usage: node bench/memory/probe.mjs [--worker] [--no-fold] [--model DIR]   (MALLOC_MMAP_THRESHOLD_=131072 to compare
// with glibc returning large blocks). Fields: MB of VmRSS before loading, right after loadModel, one event-loop turn
// later, after a 512-token prefill (2 chunks) and 16 greedy steps; peak = VmHWM; tokens = the greedy ids.
import '../lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const hwmMb = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;

async function run({ modelDir, fold }) {
  const { loadModel } = await import(path.join(root, 'server/dist/runtime/index.js'));
  const out = { before: rssMb() };
  const t0 = performance.now();
  const model = await loadModel({ modelDir, device: 'cpu', foldAtLoad: fold });
  out.loadMs = Math.round(performance.now() - t0);
  out.afterLoad = rssMb();
  await new Promise((r) => setImmediate(r));
  out.afterLoadNextTurn = Math.round(rssMb());

  const cache = model.createCache();
  const ids = Array.from({ length: 512 }, (_, i) => (i * 37) % 8000 + 10);
  for (let c = 0; c < 512; c += 256) await model.forward(ids.slice(c, c + 256), cache);
  let logits = null;
  let next = 5;
  const tokens = [];
  for (let s = 0; s < 16; s++) {
    logits = await model.forward([next], cache);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    tokens.push(best);
    next = best;
  }
  out.afterRun = rssMb();
  out.peak = hwmMb();
  out.tokens = tokens.join(',');
  cache.dispose();
  await model.dispose();
  return out;
}

if (isMainThread) {
  const args = process.argv.slice(2);
  const modelDir = args.includes('--model') ? args[args.indexOf('--model') + 1] : path.join(root, 'models/default');
  const opts = { modelDir, fold: !args.includes('--no-fold') };
  let res;
  if (args.includes('--worker')) {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: opts });
    res = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
  } else res = await run(opts);
  for (const k of ['before', 'afterLoad', 'afterRun', 'peak']) res[k] = Math.round(res[k]);
  console.log(JSON.stringify({ ...opts, worker: args.includes('--worker'), mmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null, ...res }));
} else {
  parentPort.postMessage(await run(workerData));
}
