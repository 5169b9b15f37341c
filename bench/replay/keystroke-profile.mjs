#!/usr/bin/env node
// In-thread keystroke loop on the model side (no LSP, no worker): the replay's first session typed without pauses,
// one request per keystroke, each answered before the next. For profiling (node --cpu-prof) and quick A/B of engine
// changes: prints per-request timings from the engine's debug line and their medians.
//   node bench/replay/keystroke-profile.mjs --model DIR [--chars 30] [--limit N] [--max-new-tokens 8] [--threads N]
// --limit N: only the first N keystrokes (the session's first jump elsewhere comes after a third of --chars).
import '../lib/help.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../lib/data.mjs';
import { arg, keystrokes, makeSession, replayFiles } from './session.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { createModelSide } = await import(path.join(root, 'server/dist/engine/model-side.js'));
const MODEL = arg('model', undefined);
const NCHARS = Number(arg('chars', 30));
const lines = [];
const side = createModelSide(
  { modelDir: MODEL && path.resolve(MODEL), maxNewTokens: Number(arg('max-new-tokens', 8)), ...(arg('threads', null) ? { threads: Number(arg('threads')) } : {}) },
  { log: (m) => m.startsWith('completion ') && lines.push(JSON.parse(m.slice('completion '.length))) },
);
await side.loaded;
if (side.status().state !== 'ready') throw new Error(`model not ready: ${side.status().message}`);
const [file] = replayFiles(root, 1);
const session = makeSession(file, rng(1), NCHARS);
let version = 0;
const rows = [];
const LIMIT = Number(arg('limit', Infinity));
for (const { text, cursor } of keystrokes(session)) {
  if (version >= LIMIT) break;
  version++;
  const t0 = performance.now();
  const r = await side.complete(
    { context: { documentKey: 'file:///k.ts', version, languageId: 'typescript', prefix: text.slice(0, cursor), suffix: text.slice(cursor), trigger: 'automatic', maxCandidates: 1 }, background: false, startedAt: performance.timeOrigin + performance.now() },
    new AbortController().signal,
  );
  const ms = performance.now() - t0;
  const l = lines.at(-1);
  rows.push({ ms, ...l });
  if (r.kind !== 'ok') console.log(version, r.kind);
}
const med = (k) => {
  const xs = rows.slice(1).map((r) => r[k]).filter((v) => typeof v === 'number').sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
};
console.log(`${rows.length} requests, medians after the first: ` + ['ms', 'promptMs', 'schedMs', 'planMs', 'prefillMs', 'decodeMs', 'modelRuns', 'modelRunMs', 'postMs', 'prefillTokens', 'generated'].map((k) => `${k} ${Math.round(med(k) * 10) / 10}`).join(', '));
await side.dispose();
