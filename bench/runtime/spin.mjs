// onnxruntime thread pools: spinning on/off × intra-op threads, quiet and with N CPU-bound background processes.
// Run: npm run build && node bench/runtime/spin.mjs [--reps 5] [--load 2] [--threads 1,2,4]
// Writes bench/results/spin-cpu.json and .md.
//
// Per configuration one session of models/default (its own thread pool). Each rep times, per configuration in shuffled
// order: a 512-token prefill in chunks of 256 on a fresh KV cache (as the scheduler runs it), then 16 greedy decode
// steps at ~512 past tokens (median step). The same reps run quiet and then with `--load` busy-loop processes
// (`node -e` loops, killed after the phase, each bounded by a 10-minute self-timeout). Medians over reps.
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../server/dist/engine/load.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const REPS = Number(arg('reps', 5));
const LOAD = Number(arg('load', 2));
const THREADS = String(arg('threads', '1,2')).split(',').map(Number);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

const configs = [];
for (const threads of THREADS) {
  for (const spin of [false, true]) {
    const b = await loadBundle({ modelDir: defaultModelDir, device: 'cpu', intraOpNumThreads: threads, allowSpinning: spin });
    configs.push({ name: `threads=${threads} spin=${spin ? 'on' : 'off'}`, threads, spin, b });
  }
}
const tok = configs[0].b.tokenizer;
const text = fs.readFileSync(path.join(root, 'server/src/scheduler/scheduler.ts'), 'utf8');
const ids = tok.encode(text).slice(0, 512);

async function once(b) {
  const cache = b.model.createCache();
  const t0 = performance.now();
  for (let at = 0; at < ids.length; at += 256) {
    const end = Math.min(ids.length, at + 256);
    await b.model.forward(ids.slice(at, end), cache, { logits: end === ids.length ? 'last' : 'none' });
  }
  const prefillMs = performance.now() - t0;
  const steps = [];
  let next = ids[ids.length - 1];
  for (let i = 0; i < 16; i++) {
    const s = performance.now();
    const logits = await b.model.forward([next], cache, { logits: 'last' });
    steps.push(performance.now() - s);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    next = best;
  }
  cache.dispose();
  return { prefillMs, stepMs: median(steps) };
}

function startLoad(n) {
  const procs = [];
  for (let i = 0; i < n; i++) {
    procs.push(spawn(process.execPath, ['-e', 'const end = Date.now() + 600000; while (Date.now() < end) {}'], { stdio: 'ignore' }));
  }
  return () => procs.forEach((p) => p.kill('SIGKILL'));
}

async function phase(load) {
  const stop = load > 0 ? startLoad(load) : () => {};
  const uptime = os.loadavg().map((x) => +x.toFixed(2));
  try {
    await once(configs[0].b); // warm-up
    const samples = new Map(configs.map((c) => [c.name, []]));
    for (let r = 0; r < REPS; r++) {
      const order = [...configs].sort(() => Math.random() - 0.5);
      for (const c of order) samples.get(c.name).push(await once(c.b));
    }
    return {
      load,
      loadavgAtStart: uptime,
      loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)),
      rows: configs.map((c) => {
        const s = samples.get(c.name);
        return { config: c.name, prefill512Ms: +median(s.map((x) => x.prefillMs)).toFixed(1), decodeStepMs: +median(s.map((x) => x.stepMs)).toFixed(2) };
      }),
    };
  } finally {
    stop();
  }
}

const phases = [await phase(0), await phase(LOAD)];
const out = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, reps: REPS, phases };
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/spin-cpu.json'), `${JSON.stringify(out, null, 2)}\n`);
let md = `# onnxruntime spinning × threads (models/default, CPU)\n\n${out.date}, ${out.cpu}, ${out.cores} cores, ${REPS} reps, medians. Command: \`node bench/runtime/spin.mjs --reps ${REPS} --load ${LOAD} --threads ${THREADS.join(',')}\`\n\n`;
for (const p of phases) {
  md += `## ${p.load ? `${p.load} CPU-bound background processes` : 'no added load'} (loadavg ${p.loadavgAtStart.join(' ')} → ${p.loadavgAtEnd.join(' ')})\n\n| config | prefill 512 (ms) | decode step @512 (ms) |\n|---|---|---|\n`;
  for (const r of p.rows) md += `| ${r.config} | ${r.prefill512Ms} | ${r.decodeStepMs} |\n`;
  md += '\n';
}
fs.writeFileSync(path.join(root, 'bench/results/spin-cpu.md'), md);
process.stdout.write(md);
for (const c of configs) await c.b.model.dispose();
