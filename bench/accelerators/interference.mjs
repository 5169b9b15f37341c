// Prefill/decode interference (issue 17; TetriInfer arXiv 2401.11181, DistServe arXiv 2401.09670): how long one
// user's request that only has to decode (its document is cached, one keystroke of new tokens) waits while another
// document's cold prefill runs, with the scheduler's default (fixed 256-token chunks, interactive jobs in arrival
// order) and with the chunk-size rule (`maxStallMs`: runs sized to ~X ms, a ready-to-decode request goes first).
//
// Run: npm run build && node bench/accelerators/interference.mjs [--model DIR] [--cold 2048] [--rules 0,50,100]
//      [--offsets 0.25,0.5,0.75] [--reps 1] [--threads N] [--device cpu|webgpu] [--chunk 256]
//      [--out bench/results/accelerators-interference]
// --chunk: the scheduler's and Generator's prefill chunk (256 on the CPU; the engine uses 2,048 on WebGPU), also the
// rule's largest run.
// Per trial: a fresh scheduler and KV store; document A is prefilled (warmA tokens) and decoded once; then document B's
// cold prefill (--cold tokens, interactive, as a first request in a large file, or background with --b-priority
// background, as warming) starts; at offset × (B's prefill time measured in a first calibration trial) A asks again
// with 8 new tokens and decodes --decode tokens; B decodes 4 tokens when its prefill is done. Token ids are seeded
// pseudo-random ids (the speed of a run does not depend on which ids). Rules run interleaved (ABBA) per offset.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../server/dist/runtime/model.js';
import { Generator } from '../../server/dist/decoding/generator.js';
import { KvStore } from '../../server/dist/cache/kv-store.js';
import { Scheduler } from '../../server/dist/scheduler/scheduler.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const modelDir = arg('model', defaultModelDir);
const COLD = Number(arg('cold', 1900));
const WARM_A = Number(arg('warm-a', 512));
const DECODE = Number(arg('decode', 16));
const RULES = String(arg('rules', '0,50,100')).split(',').map(Number); // 0 = off (the default scheduler)
// 'solo': B's cold prefill with nobody else asking (the rule's cost in B's own time to first token).
const OFFSETS = String(arg('offsets', '0.25,0.5,0.75')).split(',').map((x) => (x === 'solo' ? 'solo' : Number(x)));
const REPS = Number(arg('reps', 1));
const B_PRIORITY = arg('b-priority', 'interactive');
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const out = arg('out', null);
const device = arg('device', 'cpu');
const CHUNK = Number(arg('chunk', 256));
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();

const model = await loadModel({ modelDir, device, intraOpNumThreads: threads });
const vocab = model.vocabSize;
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const ids = (n) => Array.from({ length: n }, () => 100 + Math.floor(rand() * Math.min(vocab - 200, 8000)));
const promptA = ids(WARM_A);
const keystroke = ids(8);
const promptB = ids(COLD);

async function decode(lease, prompt, n, stamps) {
  const g = lease.generator;
  await g.setPrompt(prompt);
  g.setSearch({ maxNewTokens: n });
  while (!g.isDone()) {
    const c = await g.nextToken();
    stamps.push(performance.now());
    if (c.tokenId < 0) break;
  }
  lease.release();
}

// Every model run timed: prefill runs are those of 16 tokens or more (A's keystroke is 8, decode steps 1).
let runs = [];
const timed = {
  vocabSize: model.vocabSize,
  createCache: () => model.createCache(),
  async forward(x, cache, o) {
    const t0 = performance.now();
    const r = await model.forward(x, cache, o);
    runs.push({ tokens: x.length, ms: performance.now() - t0 });
    return r;
  },
};

async function trial(rule, offsetMs) {
  const store = new KvStore({ budgetBytes: 1 << 30, sizeOf: (g) => g.cache.length * 1024 });
  const sched = new Scheduler({
    store,
    createGenerator: () => new Generator(timed, { prefillChunkSize: CHUNK }),
    chunkSize: CHUNK,
    maxStallMs: rule > 0 ? rule : undefined,
  });
  // A: first request in its file (prefill + decode), untimed.
  let o = await sched.request('A', promptA, { priority: 'interactive', hold: true });
  await decode(o.lease, promptA, 1, []);
  // B's cold prefill, then A's keystroke at offsetMs.
  runs = [];
  const tB = performance.now();
  const bStamps = [];
  const bDone = sched.request('B', promptB, { priority: B_PRIORITY, hold: true }).then(async (ob) => {
    if (ob.kind !== 'ready') throw new Error(`B: ${ob.kind}`);
    await decode(ob.lease, promptB, 4, bStamps);
  });
  if (offsetMs === null) {
    await bDone;
    store.clear();
    const bRuns = runs.filter((r) => r.tokens >= 16);
    return { rule, offsetMs: null, bFirstTokenMs: Math.round(bStamps[0] - tB), bRuns: bRuns.length, bRunMsMax: Math.round(Math.max(...bRuns.map((r) => r.ms))), bRunTokensMin: Math.min(...bRuns.map((r) => r.tokens)), bRunTokensMax: Math.max(...bRuns.map((r) => r.tokens)) };
  }
  await new Promise((r) => setTimeout(r, offsetMs));
  const aStamps = [];
  const tA = performance.now();
  const full = [...promptA, ...keystroke];
  o = await sched.request('A', full, { priority: 'interactive', hold: true });
  if (o.kind !== 'ready') throw new Error(`A: ${o.kind}`);
  const aLease = performance.now();
  await decode(o.lease, full, DECODE, aStamps);
  await bDone;
  store.clear();
  const steps = aStamps.slice(1).map((t, i) => t - aStamps[i]);
  steps.sort((x, y) => x - y);
  const bRuns = runs.filter((r) => r.tokens >= 16);
  return {
    rule,
    offsetMs: Math.round(offsetMs),
    aWaitMs: Math.round(aLease - tA),
    aFirstTokenMs: Math.round(aStamps[0] - tA),
    aStepMsP50: +steps[Math.floor(steps.length / 2)].toFixed(1),
    aDoneMs: Math.round(aStamps.at(-1) - tA),
    bFirstTokenMs: Math.round(bStamps[0] - tB),
    bRuns: bRuns.length,
    bRunMsMax: Math.round(Math.max(...bRuns.map((r) => r.ms))),
    bRunTokensMin: Math.min(...bRuns.map((r) => r.tokens)),
    bRunTokensMax: Math.max(...bRuns.map((r) => r.tokens)),
  };
}

// Calibration: B's cold prefill alone, default scheduler (also a warm-up).
const cal = await trial(0, 0);
process.stderr.write(`calibration (A at 0 ms): ${JSON.stringify(cal)}\n`);
const bPrefillMs = cal.bFirstTokenMs;
const results = [];
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
/** The JSON document of the trials so far: summary per rule (median / max) and every trial. */
function document() {
  const summary = RULES.map((rule) => {
    const solo = results.filter((r) => r.rule === rule && r.offset === 'solo');
    const rs = results.filter((r) => r.rule === rule && r.offset !== 'solo');
    const pick = (k) => median(rs.map((r) => r[k]));
    const soloOnly = { rule: rule > 0 ? `maxStallMs ${rule}` : `off (fixed ${CHUNK})`, bSoloFirstTokenMsMedian: median(solo.map((r) => r.bFirstTokenMs)), bSoloTrials: solo.length };
    if (!rs.length) return soloOnly;
    return {
      rule: rule > 0 ? `maxStallMs ${rule}` : `off (fixed ${CHUNK})`,
      ...(solo.length ? { bSoloFirstTokenMsMedian: median(solo.map((r) => r.bFirstTokenMs)), bSoloTrials: solo.length } : {}),
      trials: rs.length,
      aWaitMsMedian: pick('aWaitMs'),
      aWaitMsMax: Math.max(...rs.map((r) => r.aWaitMs)),
      aFirstTokenMsMedian: pick('aFirstTokenMs'),
      aStepMsP50: pick('aStepMsP50'),
      bFirstTokenMsMedian: pick('bFirstTokenMs'),
      bRunMsMax: Math.max(...rs.map((r) => r.bRunMsMax)),
      bRunTokens: `${Math.min(...rs.map((r) => r.bRunTokensMin))}–${Math.max(...rs.map((r) => r.bRunTokensMax))}`,
    };
  });
  const doc = {
    command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`,
    model: modelDir,
    device,
    chunk: CHUNK,
    threads: threads ?? 'default',
    cold: COLD,
    warmA: WARM_A,
    decode: DECODE,
    bPriority: B_PRIORITY,
    bPrefillAloneMs: bPrefillMs,
    loadavgStart: loadStart,
    loadavgEnd: uptime(),
    cpu: os.cpus()[0]?.model,
    summary,
    results,
  };
  return doc;
}
// Written after every trial too (a time limit keeps the finished ones; `summary` counts them).
const save = () => out && fs.writeFileSync(`${out}.json`, JSON.stringify(document(), null, 1) + '\n');
for (let rep = 0; rep < REPS; rep++) {
  for (const [k, f] of OFFSETS.entries()) {
    const order = (rep + k) % 2 === 0 ? [...RULES, ...[...RULES].reverse()] : [...[...RULES].reverse(), ...RULES];
    for (const rule of order) {
      const r = await trial(rule, f === 'solo' ? null : f * bPrefillMs);
      r.offset = f;
      results.push(r);
      process.stderr.write(`${JSON.stringify(r)} load ${uptime().join(' ')}\n`);
      save();
    }
  }
}
const doc = document();
console.log(JSON.stringify(doc.summary, null, 1));
save();
await model.dispose();
