// Child process of cpu.mjs: llama.cpp through node-llama-cpp (bench/runtime/llama/) on the Q8_0 GGUF export.
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(here, 'llama', 'package.json'));
const { getLlama } = await import(require.resolve('node-llama-cpp'));
const nlcVersion = JSON.parse(fs.readFileSync(path.join(here, 'llama/node_modules/node-llama-cpp/package.json'), 'utf8')).version;
const threads = Number(process.env.BENCH_THREADS ?? 2);
const gguf = path.resolve(root, process.env.BENCH_GGUF ?? 'bench/runtime/llama/models/infill-q8_0.gguf');
const flash = process.env.BENCH_LLAMA_FLASH === '1';

const rssBefore = process.memoryUsage().rss;
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
const t0 = performance.now();
const model = await llama.loadModel({ modelPath: gguf });
const ctx = await model.createContext({ contextSize: 2048, batchSize: 1024, threads: { ideal: threads, min: threads }, flashAttention: flash, sequences: 1 });
const loadMs = performance.now() - t0;
const rssAfterLoad = process.memoryUsage().rss;
const seq = ctx.getSequence();
const next = { generateNext: { token: true } }; // greedy (temperature 0 by default)

async function prefill({ ids }) {
  await seq.clearHistory();
  const items = ids.map((t, i) => (i === ids.length - 1 ? [t, next] : t));
  const t = performance.now();
  await seq.controlledEvaluate(items);
  const ms = performance.now() - t;
  return { ms };
}

async function decode({ ids, steps }) {
  await seq.clearHistory();
  const items = ids.map((t, i) => (i === ids.length - 1 ? [t, next] : t));
  let res = await seq.controlledEvaluate(items);
  let tok = res[ids.length - 1].next.token;
  const ms = [];
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    res = await seq.controlledEvaluate([[tok, next]]);
    ms.push(performance.now() - t);
    tok = res[0].next.token;
  }
  return { ms };
}

const ops = { prefill, decode };
process.on('message', async (m) => {
  if (m.op === 'info') {
    process.send({ id: m.id, result: {
      engine: 'llama.cpp via node-llama-cpp', nodeLlamaCppVersion: nlcVersion, llamaCpp: llama.llamaCppRelease, buildType: llama.buildType,
      gguf: path.relative(root, gguf), ggufBytes: fs.statSync(gguf).size, threads, contextSize: ctx.contextSize, batchSize: ctx.batchSize,
      flashAttention: flash, systemInfo: llama.systemInfo, loadMs, rss: { beforeLoad: rssBefore, afterLoad: rssAfterLoad },
    } });
    return;
  }
  if (m.op === 'exit') { await ctx.dispose(); await model.dispose(); await llama.dispose(); process.exit(0); }
  try { process.send({ id: m.id, result: await ops[m.op](m) }); } catch (e) { process.send({ id: m.id, error: String(e?.stack ?? e) }); }
});
process.send({ ready: true });
