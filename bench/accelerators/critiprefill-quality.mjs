// CritiPrefill's quality cost (issue 17): `infill-ls eval` predictions of the plain graph and of CritiPrefill twins on
// the same tasks, compared with each other (exact match and edit similarity of the twin's completion against the
// plain graph's, the raw decode as well) and with the tasks' references (bench/quality's single/multi-line scoring:
// exact match and edit similarity after truncation to the reference's lines).
// Run: node bench/accelerators/critiprefill-quality.mjs --tasks T.jsonl --plain P.jsonl --variants NAME=P.jsonl[:LOG:MINPAST],... [--out F]
//   LOG: that variant's `INFILL_LS_LOG=debug` stderr (its completion lines carry promptTokens), MINPAST: the twin's first
//   past in positions; with both, the tasks whose prompt reached past MINPAST in a 256-token run (so ran the twin) are
//   counted and compared on their own.
import '../lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { editSimilarity } from '../lib/similarity.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const readJsonl = (p) => fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const tasks = readJsonl(arg('tasks'));
const plain = new Map(readJsonl(arg('plain')).map((p) => [p.id, p]));
const variants = String(arg('variants')).split(',').map((s) => s.split('='));

function truncate(task, completion) {
  if (task.kind === 'single') {
    const nl = completion.indexOf('\n');
    return nl < 0 ? completion : completion.slice(0, nl);
  }
  const lines = task.reference.split('\n').length;
  return completion.split('\n').slice(0, lines).join('\n');
}
const mean = (xs) => (xs.length ? +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4) : null);

function score(preds) {
  const em = [];
  const es = [];
  for (const t of tasks) {
    const p = preds.get(t.id);
    if (!p) continue;
    const c = truncate(t, p.completion);
    em.push(c.trim() === t.reference.trim() ? 1 : 0);
    es.push(editSimilarity(c, t.reference));
  }
  return { n: em.length, exactMatch: mean(em), editSimilarity: mean(es) };
}

const rows = [{ name: 'plain', vsReference: score(plain) }];
const CHUNK = 256;
function compare(preds, ids) {
  const same = [];
  const sim = [];
  const rawSame = [];
  const rawSim = [];
  for (const t of tasks) {
    if (ids && !ids.has(t.id)) continue;
    const a = preds.get(t.id);
    const b = plain.get(t.id);
    if (!a || !b) continue;
    same.push(a.completion === b.completion ? 1 : 0);
    sim.push(editSimilarity(a.completion, b.completion));
    rawSame.push(a.raw === b.raw ? 1 : 0);
    rawSim.push(editSimilarity(a.raw, b.raw));
  }
  return { n: same.length, exactMatch: mean(same), editSimilarity: mean(sim), rawExactMatch: mean(rawSame), rawEditSimilarity: mean(rawSim) };
}
for (const [name, spec] of variants) {
  const [file, log, minPast] = spec.split(':');
  const preds = new Map(readJsonl(file).map((p) => [p.id, p]));
  const row = { name, vsReference: score(preds), vsPlain: compare(preds) };
  if (log && minPast) {
    // a cold prefill runs in CHUNK-token runs at pasts 0, CHUNK, ...; the twin runs those with past >= minPast
    const ran = new Set();
    for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
      const m = /"doc":"eval:([^"]+)".*?"promptTokens":(\d+)/.exec(line);
      if (m && Math.floor((Number(m[2]) - 1) / CHUNK) * CHUNK >= Number(minPast)) ran.add(m[1]);
    }
    row.twinRan = { tasks: ran.size, vsPlain: compare(preds, ran) };
  }
  rows.push(row);
}
const doc = { command: `node ${process.argv.slice(1).map((a) => path.relative(process.cwd(), a) || a).join(' ')}`, tasks: arg('tasks'), rows };
console.log(JSON.stringify(doc, null, 1));
if (arg('out')) fs.writeFileSync(arg('out'), JSON.stringify(doc, null, 1) + '\n');
