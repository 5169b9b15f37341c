#!/usr/bin/env node
// Host-side cost of decode steps (issue 15), side by side: one child process per variant (its own V8 heap, so one
// variant's garbage never triggers a collection inside another's request), each a model side in-thread (no LSP, as
// keystroke-profile.mjs) over the same model, asked the same keystroke session; the order of the variants rotates per
// keystroke (ABBA for two) so machine load hits them alike. Per request: the raw completion and candidates (must be
// equal across variants), latency, prefill/decode/model-run time, jsMs (the request's time outside model runs, as
// replay.mjs computes it), and the garbage collections inside it (perf_hooks 'gc' entries: count and ms of
// mark-compacts and of scavenges). Writes --out PATH.{json,md} when given.
//   node bench/replay/host-cost.mjs --model DIR [--variants 'before:INFILL_LS_LOGITS_LSE=0,INFILL_LS_KV_RELEASE=0;after:']
//     [--chars 60] [--files 1] [--limit N] [--max-new-tokens 8] [--threads N] [--out bench/results/NAME]
// A variant is NAME:ENV=V,ENV=V (nothing after the colon: the defaults); variants are separated by ';'.
import '../lib/help.mjs';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { arg, replayRequests, sameAnswer } from './session.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const self = fileURLToPath(import.meta.url);

if (process.argv.includes('--child')) await child();
else await parent();

async function child() {
  const { createModelSide } = await import(path.join(root, 'server/dist/engine/model-side.js'));
  const gc = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.push({ start: e.startTime, ms: e.duration, major: e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR });
  }).observe({ entryTypes: ['gc'] });
  const lines = [];
  const MODEL = arg('model', undefined);
  const side = createModelSide(
    { modelDir: MODEL && path.resolve(MODEL), maxNewTokens: Number(arg('max-new-tokens', 8)), ...(arg('threads', null) ? { threads: Number(arg('threads')) } : {}) },
    { log: (m) => m.startsWith('completion ') && lines.push(JSON.parse(m.slice('completion '.length))) },
  );
  await side.loaded;
  if (side.status().state !== 'ready') throw new Error(`model not ready: ${side.status().message}`);
  process.send({ ready: true, status: side.status().message });
  process.on('message', async (msg) => {
    if (msg.dispose) {
      await side.dispose();
      process.exit(0);
    }
    const t0 = performance.now();
    const r = await side.complete({ context: msg.context, background: false, startedAt: performance.timeOrigin + t0 }, new AbortController().signal);
    const t1 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 0)); // gc entries are delivered on a later task
    const inside = gc.filter((g) => g.start >= t0 && g.start < t1);
    gc.length = 0;
    const l = lines.at(-1) ?? {};
    const mem = process.memoryUsage();
    process.send({
      ms: t1 - t0,
      kind: r.kind,
      texts: r.kind === 'ok' ? r.candidates.map((c) => c.text) : [],
      raw: r.kind === 'ok' ? r.raw : undefined,
      line: l,
      majorGcs: inside.filter((g) => g.major).length,
      majorGcMs: inside.filter((g) => g.major).reduce((a, g) => a + g.ms, 0),
      minorGcs: inside.filter((g) => !g.major).length,
      minorGcMs: inside.filter((g) => !g.major).reduce((a, g) => a + g.ms, 0),
      heapUsedMb: mem.heapUsed / 2 ** 20,
      externalMb: mem.external / 2 ** 20,
      rssMb: mem.rss / 2 ** 20,
    });
  });
}

async function parent() {
  const MODEL = arg('model', undefined);
  const NCHARS = Number(arg('chars', 60));
  const NFILES = Number(arg('files', 1));
  const LIMIT = Number(arg('limit', Infinity));
  const OUT = arg('out', null);
  const spec = arg('variants', 'before:INFILL_LS_LOGITS_LSE=0,INFILL_LS_KV_RELEASE=0;after:');
  const variants = spec.split(';').filter(Boolean).map((v) => {
    const [name, envs = ''] = v.split(/:(.*)/s);
    return { name, env: Object.fromEntries(envs.split(',').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2))) };
  });
  const command = `node bench/replay/host-cost.mjs ${process.argv.slice(2).map((a) => (/[;\s]/.test(a) ? `'${a}'` : a)).join(' ')}`;
  const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const passArgs = ['model', 'max-new-tokens', 'threads'].flatMap((k) => (arg(k, null) !== null ? [`--${k}`, String(arg(k))] : []));
  const kids = {};
  for (const v of variants) {
    const p = fork(self, ['--child', ...passArgs], { env: { ...process.env, ...v.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise((resolve, reject) => {
      p.once('message', resolve);
      p.once('exit', (code) => reject(new Error(`variant ${v.name} exited (${code}) before it was ready`)));
    });
    kids[v.name] = { p, status: ready.status };
  }
  const ask = (name, context) => new Promise((resolve) => {
    kids[name].p.once('message', resolve);
    kids[name].p.send({ context });
  });
  const names = variants.map((v) => v.name);
  const rows = [];
  let mismatches = 0;
  for (const { file: fi, context } of replayRequests(root, NFILES, NCHARS, LIMIT)) {
    const { version } = context;
    // rotation: keystroke k starts at variant k mod n; with two variants A B, B A, A B, ... (ABBA over pairs)
    const order = names.map((_, i) => names[(i + version) % names.length]);
    const got = {};
    for (const name of order) got[name] = await ask(name, context);
    const ref = got[names[0]];
    const same = names.every((n) => sameAnswer(got[n], ref));
    if (!same) {
      mismatches++;
      console.log(`request ${version}: ${names.map((n) => `${n} ${JSON.stringify(got[n].raw)}`).join(' vs ')}`);
    }
    rows.push({ version, file: fi, same, ...Object.fromEntries(names.map((n) => [n, pick(got[n])])) });
  }
  for (const { p } of Object.values(kids)) p.send({ dispose: true });
  const loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');

  const warm = rows.filter((r, i) => i > 0 && r[names[0]].generated !== undefined);
  const med = (xs) => {
    const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)] : NaN;
  };
  const p95 = (xs) => {
    const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
    return v.length ? v[Math.min(v.length - 1, Math.floor(v.length * 0.95))] : NaN;
  };
  const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0);
  const summary = {};
  for (const n of names) {
    const xs = warm.map((r) => r[n]);
    const steps = sum(xs.map((x) => Math.max(0, (x.modelRuns ?? 1) - 1)));
    summary[n] = {
      requests: xs.length,
      p50Ms: med(xs.map((x) => x.ms)),
      p95Ms: p95(xs.map((x) => x.ms)),
      prefillMsP50: med(xs.map((x) => x.prefillMs)),
      decodeMsP50: med(xs.map((x) => x.decodeMs)),
      modelRunMsP50: med(xs.map((x) => x.modelRunMs)),
      jsMsP50: med(xs.map((x) => x.jsMs)),
      msPerDecodeStep: Math.round((sum(xs.map((x) => x.decodeMs)) / Math.max(1, steps)) * 100) / 100,
      majorGcs: sum(xs.map((x) => x.majorGcs)),
      majorGcMs: Math.round(sum(xs.map((x) => x.majorGcMs))),
      minorGcs: sum(xs.map((x) => x.minorGcs)),
      minorGcMs: Math.round(sum(xs.map((x) => x.minorGcMs))),
      heapUsedMbP50: med(xs.map((x) => x.heapUsedMb)),
      rssMbMax: Math.max(...xs.map((x) => x.rssMb)),
    };
  }
  const result = { command, model: MODEL, variants, status: Object.fromEntries(names.map((n) => [n, kids[n].status])), loadStart, loadEnd, requests: rows.length, identical: rows.length - mismatches, summary, rows };
  const cols = ['requests', 'p50Ms', 'p95Ms', 'prefillMsP50', 'decodeMsP50', 'modelRunMsP50', 'jsMsP50', 'msPerDecodeStep', 'majorGcs', 'majorGcMs', 'minorGcs', 'minorGcMs', 'heapUsedMbP50', 'rssMbMax'];
  const fmt = (x) => (typeof x === 'number' ? String(Math.round(x * 10) / 10) : String(x));
  const md = [
    `# Host-side cost of decode steps, side by side (${new Date().toISOString()})`,
    '',
    `\`${command}\` — ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, node ${process.version}, load average at start ${loadStart}, at end ${loadEnd}; one child process per variant, the order rotating per keystroke.`,
    '',
    `Variants: ${variants.map((v) => `**${v.name}** ${Object.keys(v.env).length ? Object.entries(v.env).map(([k, x]) => `${k}=${x}`).join(' ') : '(defaults)'}`).join('; ')}.`,
    '',
    `Identical answers (raw completion and candidates): ${result.identical} of ${result.requests}.`,
    '',
    `| variant | ${cols.join(' | ')} |`,
    `| --- | ${cols.map(() => '---').join(' | ')} |`,
    ...names.map((n) => `| ${n} | ${cols.map((c) => fmt(summary[n][c])).join(' | ')} |`),
    '',
    "Medians (p50/p95) over requests after the first; ms: the model side's complete() in-thread (no LSP, no worker); prefillMs: the request's start to its first logits; decodeMs: the steps after it; modelRunMs: forward passes (prefill run included); jsMs: the time outside forward passes (prefillMs − schedMs − promptMs + decodeMs − modelRunMs, as replay.mjs); msPerDecodeStep: Σ decodeMs / Σ (modelRuns − 1); GCs: count and total ms of mark-compacts (major) and scavenges (minor) inside the requests, summed over them; heapUsed: V8 heap after a request.",
    '',
  ].join('\n');
  console.log(md);
  if (OUT) {
    fs.mkdirSync(path.dirname(path.resolve(root, OUT)), { recursive: true });
    fs.writeFileSync(path.resolve(root, `${OUT}.json`), JSON.stringify(result, null, 1) + '\n');
    fs.writeFileSync(path.resolve(root, `${OUT}.md`), md);
  }
}

function pick(g) {
  const l = g.line ?? {};
  const r1 = (x) => (typeof x === 'number' ? Math.round(x * 10) / 10 : x);
  const jsMs = typeof l.prefillMs === 'number' ? l.prefillMs - (l.schedMs ?? 0) - (l.promptMs ?? 0) + l.decodeMs - l.modelRunMs : undefined;
  return {
    ms: r1(g.ms), kind: g.kind, raw: g.raw, generated: l.generated, modelRuns: l.modelRuns, modelRunMs: l.modelRunMs, prefillMs: l.prefillMs, decodeMs: l.decodeMs,
    jsMs: r1(jsMs), prefillTokens: l.prefillTokens, drafted: l.drafted, accepted: l.accepted,
    majorGcs: g.majorGcs, majorGcMs: r1(g.majorGcMs), minorGcs: g.minorGcs, minorGcMs: r1(g.minorGcMs), heapUsedMb: r1(g.heapUsedMb), rssMb: r1(g.rssMb),
  };
}
