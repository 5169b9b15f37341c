// Child process of bench/realmodels/cpu.mjs: llama.cpp through node-llama-cpp (bench/runtime/llama/) on one GGUF.
// Env: BENCH_GGUF, BENCH_THREADS, BENCH_CTX (context size), BENCH_BATCH (llama.cpp batch: tokens per decode call).
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../runtime/llama/package.json'));
const { getLlama } = await import(require.resolve('node-llama-cpp'));
const nlcVersion = JSON.parse(fs.readFileSync(path.join(here, '../runtime/llama/node_modules/node-llama-cpp/package.json'), 'utf8')).version;
const threads = Number(process.env.BENCH_THREADS ?? 2);
const gguf = path.resolve(process.env.BENCH_GGUF);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
const t0 = performance.now();
const model = await llama.loadModel({ modelPath: gguf });
const ctx = await model.createContext({ contextSize: Number(process.env.BENCH_CTX ?? 8192), batchSize: Number(process.env.BENCH_BATCH ?? 512),
  threads: { ideal: threads, min: threads }, flashAttention: process.env.BENCH_LLAMA_FLASH === '1', sequences: 1 });
const loadMs = performance.now() - t0;
const seq = ctx.getSequence();
// CPU time of this process (all threads) since `u`, ms (see worker-ort.mjs; with 2+ threads llama.cpp spin-waits,
// which counts as CPU time).
const cpuSince = (u) => { const d = process.cpuUsage(u); return (d.user + d.system) / 1000; };
const next = { generateNext: { token: true } }; // greedy
const items = (ids) => ids.map((t, i) => (i === ids.length - 1 ? [t, next] : t));

async function prefill({ ids }) {
  await seq.clearHistory();
  const t = performance.now();
  const u = process.cpuUsage();
  await seq.controlledEvaluate(items(ids));
  return { ms: performance.now() - t, cpuMs: cpuSince(u) };
}

async function decode({ ids, steps }) {
  await seq.clearHistory();
  let res = await seq.controlledEvaluate(items(ids));
  let tok = res[ids.length - 1].next.token;
  const ms = [];
  const cpuMs = [];
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    const u = process.cpuUsage();
    res = await seq.controlledEvaluate([[tok, next]]);
    ms.push(performance.now() - t);
    cpuMs.push(cpuSince(u));
    tok = res[0].next.token;
  }
  return { ms, cpuMs };
}

let scenKey = null;
async function scenario({ ctx: context, fresh, gen }) {
  const key = context.join(',');
  if (scenKey !== key || seq.nextTokenIndex < context.length) {
    await seq.clearHistory();
    await seq.controlledEvaluate(context);
    scenKey = key;
  }
  if (seq.nextTokenIndex > context.length) await seq.eraseContextTokenRanges([{ start: context.length, end: seq.nextTokenIndex }]);
  const t = performance.now();
  const u = process.cpuUsage();
  let res = await seq.controlledEvaluate(items(fresh));
  const prefillMs = performance.now() - t;
  let tok = res[fresh.length - 1].next.token;
  for (let s = 0; s < gen; s++) {
    res = await seq.controlledEvaluate([[tok, next]]);
    tok = res[0].next.token;
  }
  return { ms: performance.now() - t, prefillMs, cpuMs: cpuSince(u) };
}

const ops = { prefill, decode, scenario };
process.on('message', async (m) => {
  if (m.op === 'info') {
    process.send({ id: m.id, result: { engine: 'llama.cpp via node-llama-cpp', nodeLlamaCppVersion: nlcVersion, llamaCpp: llama.llamaCppRelease, buildType: llama.buildType,
      gguf, bytes: fs.statSync(gguf).size, threads, contextSize: ctx.contextSize, batchSize: ctx.batchSize, flashAttention: process.env.BENCH_LLAMA_FLASH === '1', loadMs,
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) } });
    return;
  }
  if (m.op === 'exit') { await ctx.dispose(); await model.dispose(); await llama.dispose(); process.exit(0); }
  try { process.send({ id: m.id, result: await ops[m.op](m) }); } catch (e) { process.send({ id: m.id, error: String(e?.stack ?? e) }); }
});
process.send({ ready: true });
