// Does onnxruntime-node (1.30) survive several sessions in several worker threads at once? (issue 17, KV-Runahead:
// model-host/ keeps the model in one worker because onnxruntime-node was "reported to abort with several").
// Each of --workers worker threads loads --sessions sessions of --model through the product's loadModel (1 intra-op
// thread each) and runs --runs forward passes of --tokens tokens on every session, all workers at once; then one of:
//   --end release   every worker releases its sessions and exits
//   --end terminate the main thread terminates the workers while they are running forward passes
//   --end exit      the main thread calls process.exit() while the workers are running forward passes
//   --end idle-terminate / idle-exit: the same once every worker has finished its runs (sessions still open, idle)
// Prints one JSON line per worker and a summary; the exit status and any abort message are the result.
// Run: node bench/accelerators/workers-probe.mjs [--model models/default] [--workers 4] [--sessions 2] [--runs 3]
//      [--tokens 64] [--end release|terminate|exit]
import '../lib/help.mjs';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const root = path.resolve(import.meta.dirname, '../..');
if (isMainThread) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? dflt : process.argv[i + 1];
  };
  const cfg = {
    model: path.resolve(root, arg('model', 'models/default')),
    workers: Number(arg('workers', 4)),
    sessions: Number(arg('sessions', 2)),
    runs: Number(arg('runs', 3)),
    tokens: Number(arg('tokens', 64)),
    end: arg('end', 'release'),
  };
  const t0 = performance.now();
  const load0 = os.loadavg()[0];
  const workers = Array.from({ length: cfg.workers }, (_, k) => new Worker(new URL(import.meta.url), { workerData: { ...cfg, k } }));
  const exits = workers.map((w) => new Promise((r) => w.once('exit', r)));
  let done = 0;
  let running = 0;
  await new Promise((resolve, reject) => {
    for (const w of workers) {
      w.on('error', reject);
      w.on('message', (m) => {
        if (m.type === 'running' && ++running === cfg.workers && cfg.end !== 'release' && !cfg.end.startsWith('idle-')) resolve();
        if (m.type === 'idle' && ++done === cfg.workers) resolve();
        if (m.type === 'done') {
          console.log(JSON.stringify(m));
          if (++done === cfg.workers) resolve();
        }
      });
    }
  });
  if (cfg.end === 'terminate' || cfg.end === 'idle-terminate') {
    const codes = await Promise.all(workers.map((w) => w.terminate()));
    console.log(JSON.stringify({ summary: `${cfg.end}: workers terminated`, codes, ms: Math.round(performance.now() - t0), load0 }));
    // the process goes on after its workers were torn down mid-run: load one more session here to show it is alive
    const { loadModel } = await import('../../server/dist/runtime/model.js');
    const m = await loadModel({ modelDir: cfg.model, device: 'cpu', intraOpNumThreads: 1 });
    const c = m.createCache();
    await m.forward([1, 2, 3], c);
    c.dispose();
    await m.dispose();
    console.log(JSON.stringify({ summary: 'main thread ran a forward pass after the terminations' }));
  } else if (cfg.end === 'exit' || cfg.end === 'idle-exit') {
    console.log(JSON.stringify({ summary: `${cfg.end}: process.exit(0) with the workers' sessions open`, ms: Math.round(performance.now() - t0), load0 }));
    process.exit(0);
  } else {
    const codes = await Promise.all(exits);
    console.log(JSON.stringify({ summary: 'all released and exited', codes, ms: Math.round(performance.now() - t0), load0, load1: os.loadavg()[0] }));
  }
} else {
  const { loadModel } = await import('../../server/dist/runtime/model.js');
  const { model: dir, sessions, runs, tokens, k, end } = workerData;
  const models = [];
  for (let s = 0; s < sessions; s++) models.push(await loadModel({ modelDir: dir, device: 'cpu', intraOpNumThreads: 1 }));
  parentPort.postMessage({ type: 'running' });
  const ids = Array.from({ length: tokens }, (_, i) => 10 + ((i * 31 + k * 7) % 5000));
  const firsts = [];
  const loops = end === 'terminate' || end === 'exit' ? 1000 : 1; // terminate/exit: keep running until torn down
  for (let l = 0; l < loops; l++) {
    await Promise.all(
      models.map(async (m) => {
        for (let r = 0; r < runs; r++) {
          const c = m.createCache();
          const logits = await m.forward(ids, c);
          let best = 0;
          for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
          firsts.push(best);
          c.dispose();
        }
      }),
    );
  }
  if (end.startsWith('idle-')) {
    // idle-terminate / idle-exit: sessions stay open, no run in flight, the worker waits to be torn down
    parentPort.postMessage({ type: 'idle', worker: k, forwards: firsts.length, sameArgmax: new Set(firsts).size === 1 });
    setInterval(() => {}, 1000);
  } else {
    for (const m of models) await m.dispose();
    parentPort.postMessage({ type: 'done', worker: k, sessions, forwards: firsts.length, sameArgmax: new Set(firsts).size === 1 });
  }
}
