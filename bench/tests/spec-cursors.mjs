#!/usr/bin/env node
// Cursor search for test/engine/warm-and-reuse.test.ts's speculation tests: which cursors of the frozen source
// (test/fixtures/engine/reuse-source.ts.txt) meet their preconditions on a model, and how clearly. For each candidate
// cursor it decodes, with the test's engine settings (prefix 256, suffix 64, maxNewTokens 8) but draft-and-verify off,
// the first answer and the answer after accepting it, recording the top-1/top-2 logit margin of every forward row; a
// cursor's margin is the smallest over both decodes (CPU classes move logits by ~1e-5..1e-3: default-model.test.ts).
//   --mode multi   cursors after `name: ` / `name?: ` of a field and after `name = `, multi-line; the precondition is
//                  two non-empty answers (specCursor).
//   --mode single  cursors after each `const `, single-line; the precondition is a non-empty answer and an empty
//                  answer after accepting it ('an empty speculative completion ...').
//   node bench/tests/spec-cursors.mjs --mode multi|single [--model DIR] [--top 10]
// Prints one JSON line per cursor, then the cursors meeting the precondition by largest margin.
import '../lib/help.mjs';
import { topTwo } from '../lib/top2.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
};
const mode = arg('mode', 'multi');
if (mode !== 'multi' && mode !== 'single') throw new Error('--mode multi|single');
const modelDir = path.resolve(arg('model', path.join(root, 'models/default')));
const top = Number(arg('top', 10));
const { createEngine } = await import(path.join(root, 'server/dist/engine/engine.js'));
const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const src = fs.readFileSync(path.join(root, 'test/fixtures/engine/reuse-source.ts.txt'), 'utf8');
const never = new AbortController().signal;

// Every forward row's top-1/top-2 margin (the model class's prototype, as bench/cpu/quality-avx2-report.mjs does).
const probe = await loadBundle({ modelDir, device: 'cpu' });
const proto = Object.getPrototypeOf(probe.model);
const original = proto.forward;
let margins = [];
proto.forward = async function (ids, cache, options) {
  const row = await original.call(this, ids, cache, options);
  if (row) margins.push(topTwo(row).margin);
  return row;
};
await probe.model.dispose();

const e = createEngine({ modelDir, device: 'cpu', maxPrefixTokens: 256, maxSuffixTokens: 64, maxNewTokens: 8, prefillChunkSize: 32, timeBudgetMs: 600_000, draftTokens: 0, speculative: false, completionReuse: false, log: () => {} });
await e.loaded;
const ctx = (key, text, cur) => ({ documentKey: key, version: 1, languageId: 'typescript', prefix: text.slice(0, cur), suffix: text.slice(cur), trigger: 'automatic', lineMode: mode });
const cursors = [];
const patterns = mode === 'multi' ? [/^ +(\w+\??): /gm, /(\w+) = /g] : [/const /g];
for (const re of patterns) for (let m; (m = re.exec(src)); ) cursors.push({ at: m.index + m[0].length, label: m[0].trim() + (mode === 'single' ? ` #${cursors.length + 1}` : '') });

const rows = [];
for (const [n, c] of cursors.entries()) {
  const key = `file:///c${n}.ts`;
  margins = [];
  const r1 = await e.complete(ctx(key, src, c.at), never);
  const m1 = Math.min(...margins);
  const first = r1.kind === 'ok' ? (r1.candidates[0]?.text ?? '') : '';
  let next = null;
  let m2 = Infinity;
  if (first) {
    const after = src.slice(0, c.at) + first + src.slice(c.at);
    margins = [];
    const r2 = await e.complete(ctx(key, after, c.at + first.length), never);
    m2 = Math.min(...margins);
    next = r2.kind === 'ok' ? r2.candidates.map((x) => x.text) : r2.kind;
  }
  const ok = !!first && Array.isArray(next) && (mode === 'multi' ? next.length > 0 && next[0].trim().length > 0 : next.length === 0);
  const row = { label: c.label, at: c.at, ok, first, next, margin: Number(Math.min(m1, m2).toPrecision(3)) };
  rows.push(row);
  console.log(JSON.stringify(row));
}
await e.dispose();
const good = rows.filter((r) => r.ok).sort((a, b) => b.margin - a.margin);
console.log(`${modelDir}, ${mode}: ${cursors.length} cursors, ${rows.filter((r) => r.first).length} with a non-empty first answer, ${good.length} meeting the precondition; by margin:`);
for (const r of good.slice(0, top)) console.log(`  ${r.margin}  at ${r.at} after ${JSON.stringify(src.slice(r.at - 40, r.at))}: ${JSON.stringify(r.first)} then ${JSON.stringify(r.next)}`);
