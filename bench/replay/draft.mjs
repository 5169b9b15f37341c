#!/usr/bin/env node
// Draft-and-verify decoding (decoding/generator.ts `draftTokens`) against plain greedy decoding, side by side in one
// process: two model sides on the same model, one with drafting off and one with --draft K, are asked the same
// keystroke session in-thread (no LSP, as keystroke-profile.mjs), alternating which goes first per keystroke (ABBA)
// so machine load hits both. Per request: the raw completion and candidates of both (must be equal), the engine's
// time, tokens generated, model runs, drafted and accepted tokens. Prints medians, the acceptance rate and the ms per
// generated token, and writes --out PATH.{json,md} when given.
//   node bench/replay/draft.mjs --model DIR [--draft 4] [--min-ngram N (default: the model side's, 2)] [--chars 60] [--files 1] [--limit N]
//     [--max-new-tokens 8] [--threads N] [--out bench/results/NAME]
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg, replayRequests, sameAnswer } from './session.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { createModelSide } = await import(path.join(root, 'server/dist/engine/model-side.js'));
const MODEL = arg('model', undefined);
const DRAFT = Number(arg('draft', 4));
const MIN_NGRAM = arg('min-ngram', null);
const NCHARS = Number(arg('chars', 60));
const NFILES = Number(arg('files', 1));
const LIMIT = Number(arg('limit', Infinity));
const OUT = arg('out', null);
if (MIN_NGRAM !== null) process.env.INFILL_LS_DRAFT_MIN_NGRAM = String(MIN_NGRAM);
const command = `node bench/replay/draft.mjs ${process.argv.slice(2).join(' ')}`;
const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');

function side(draftTokens) {
  const lines = [];
  const s = createModelSide(
    {
      modelDir: MODEL && path.resolve(MODEL),
      maxNewTokens: Number(arg('max-new-tokens', 8)),
      draftTokens,
      ...(arg('threads', null) ? { threads: Number(arg('threads')) } : {}),
    },
    { log: (m) => m.startsWith('completion ') && lines.push(JSON.parse(m.slice('completion '.length))) },
  );
  return { s, lines };
}
const sides = { plain: side(0), draft: side(DRAFT) };
for (const { s } of Object.values(sides)) {
  await s.loaded;
  if (s.status().state !== 'ready') throw new Error(`model not ready: ${s.status().message}`);
}

const rows = [];
let mismatches = 0;
for (const { file: fi, context } of replayRequests(root, NFILES, NCHARS, LIMIT)) {
  const { version } = context;
  const order = version % 2 ? ['plain', 'draft'] : ['draft', 'plain'];
  const got = {};
  for (const name of order) {
    const t0 = performance.now();
    const r = await sides[name].s.complete({ context, background: false, startedAt: performance.timeOrigin + performance.now() }, new AbortController().signal);
    const ms = performance.now() - t0;
    const l = sides[name].lines.at(-1) ?? {};
    got[name] = { ms, kind: r.kind, texts: r.kind === 'ok' ? r.candidates.map((c) => c.text) : [], raw: r.kind === 'ok' ? r.raw : undefined, ...l };
  }
  const same = sameAnswer(got.plain, got.draft);
  if (!same) {
    mismatches++;
    console.log(`request ${version}: plain ${JSON.stringify(got.plain.raw)} vs draft ${JSON.stringify(got.draft.raw)}`);
  }
  rows.push({ version, file: fi, same, plain: pick(got.plain), draft: pick(got.draft) });
}
function pick(g) {
  return { ms: Math.round(g.ms * 10) / 10, generated: g.generated, modelRuns: g.modelRuns, modelRunMs: g.modelRunMs, decodeMs: g.decodeMs, prefillMs: g.prefillMs, drafted: g.drafted, accepted: g.accepted, prefillTokens: g.prefillTokens };
}
for (const { s } of Object.values(sides)) await s.dispose();

const warm = rows.filter((r, i) => i > 0 && r.plain.generated !== undefined);
const med = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};
const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0);
const summary = {};
for (const name of ['plain', 'draft']) {
  const xs = warm.map((r) => r[name]);
  const gen = sum(xs.map((x) => x.generated));
  summary[name] = {
    requests: xs.length,
    p50Ms: med(xs.map((x) => x.ms)),
    p95Ms: (() => {
      const v = xs.map((x) => x.ms).sort((a, b) => a - b);
      return v[Math.min(v.length - 1, Math.floor(v.length * 0.95))];
    })(),
    decodeMsP50: med(xs.map((x) => x.decodeMs)),
    modelRunsP50: med(xs.map((x) => x.modelRuns)),
    generated: gen,
    modelRuns: sum(xs.map((x) => x.modelRuns)),
    msPerGeneratedToken: Math.round((sum(xs.map((x) => x.decodeMs)) / Math.max(1, gen)) * 100) / 100,
    drafted: sum(xs.map((x) => x.drafted)),
    accepted: sum(xs.map((x) => x.accepted)),
  };
}
const d = summary.draft;
const result = {
  command,
  model: MODEL,
  draft: DRAFT,
  minNgram: MIN_NGRAM === null ? 'default' : Number(MIN_NGRAM),
  loadStart,
  loadEnd: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  requests: rows.length,
  identical: rows.length - mismatches,
  acceptanceRate: d.drafted ? Math.round((d.accepted / d.drafted) * 1000) / 1000 : null,
  summary,
  rows,
};
const line = (name) => {
  const x = summary[name];
  return `| ${name} | ${x.requests} | ${x.p50Ms.toFixed(1)} | ${x.p95Ms.toFixed(1)} | ${x.decodeMsP50} | ${x.modelRunsP50} | ${x.generated} | ${x.modelRuns} | ${x.msPerGeneratedToken} | ${x.drafted} | ${x.accepted} |`;
};
const md = [
  `# Draft-and-verify vs plain greedy decoding (${new Date().toISOString()})`,
  '',
  `\`${command}\` — ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, node ${process.version}, load average at start ${result.loadStart}, at end ${result.loadEnd}; both sides in one process, alternating which goes first per keystroke.`,
  '',
  `Identical answers (raw completion and candidates): ${result.identical} of ${result.requests}. Acceptance: ${d.accepted} of ${d.drafted} drafted tokens (${result.acceptanceRate ?? '-'}).`,
  '',
  '| side | requests | p50 ms | p95 ms | decodeMs p50 | model runs p50 | generated | model runs | ms per generated token (decode) | drafted | accepted |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  line('plain'),
  line('draft'),
  '',
  'Medians over requests after the first; ms: the model side\'s complete() call in-thread (no LSP, no worker); decodeMs: the steps after the first logits; ms per generated token: Σ decodeMs / Σ generated.',
  '',
].join('\n');
console.log(md);
if (OUT) {
  fs.mkdirSync(path.dirname(path.resolve(root, OUT)), { recursive: true });
  fs.writeFileSync(path.resolve(root, `${OUT}.json`), JSON.stringify(result, null, 1) + '\n');
  fs.writeFileSync(path.resolve(root, `${OUT}.md`), md);
}
