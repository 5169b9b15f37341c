// SCOPE (arXiv 2412.13649) on models/default: decode ms/token and quality of long generations with the decode-phase
// KV budget (Generator `decodeKvWindow`: prompt KV whole, decode-added KV a sliding window) against unbounded decoding.
//
// Run: npm run build && node bench/accelerators/scope.mjs [--files 3] [--prompt 384] [--tokens 1024]
//      [--windows 0,128,256] [--threads N] [--model DIR] [--out bench/results/accelerators-scope]
// --model: another model directory (default models/default), e.g. the random-weight Qwen2.5-Coder-0.5B shape
// (bench/realmodels): there only the speed columns mean something (its text is noise, so the edit similarities are
// the windows' agreement on noise). CPU only: decodeKvWindow evicts from CPU tensors (KvCache.evict).
// Per dev file (bench/quality/data: TypeScript and Python held-out files, the first with at least --prompt tokens):
// the --prompt tokens before its middle as a left-to-right prompt, then --tokens greedy tokens with the special tokens masked (a
// long generation that does not stop early), once per window (0 = unbounded), all windows in lockstep (one step each in turn).
// Quality: edit similarity of the decoded text of the first 256 / 512 / 1,024 tokens against the unbounded run's, and
// the first token index where they differ. Speed: mean model+sampling ms per generated token over the same spans, wall
// and the process's CPU time (with 1 onnxruntime thread the work itself, less disturbed by a loaded machine).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../server/dist/engine/load.js';
import { Generator } from '../../server/dist/decoding/generator.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';
import { readJsonl } from '../lib/data.mjs';
import { editSimilarity } from '../lib/similarity.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const FILES = Number(arg('files', 3));
const PROMPT = Number(arg('prompt', 384));
const TOKENS = Number(arg('tokens', 1024));
const WINDOWS = String(arg('windows', '0,128,256')).split(',').map(Number);
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const out = arg('out', null);
const modelDir = arg('model', defaultModelDir);
const SPANS = [...new Set([256, 512, 1024].filter((n) => n <= TOKENS).concat(TOKENS))];
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();

const b = await loadBundle({ modelDir, device: 'cpu', intraOpNumThreads: threads });
const special = [...b.tokenizer.specialIds];

// Prompts: alternate TypeScript and Python dev files with enough tokens.
const ts = readJsonl(path.join(root, 'bench/quality/data/npm-dev.jsonl.xz')).filter((o) => o.lang === 'typescript');
const py = readJsonl(path.join(root, 'bench/quality/data/py-dev.jsonl.xz'));
const prompts = [];
for (let i = 0, j = 0; prompts.length < FILES && (i < ts.length || j < py.length); ) {
  const pool = prompts.length % 2 === 0 ? ts : py;
  const k = pool === ts ? i++ : j++;
  const o = pool[k];
  if (!o) continue;
  // The prompt ends in the middle of the file (a cursor deep in it; files' first tokens are often the same license
  // header); files whose prompt equals an earlier one are skipped.
  const ids = b.tokenizer.encode(o.text);
  if (ids.length < 2 * PROMPT) continue;
  const mid = Math.floor(ids.length / 2);
  const cut = ids.slice(mid - PROMPT, mid);
  if (prompts.some((q) => q.ids.join() === cut.join())) continue;
  prompts.push({ source: `${o.pkg ?? o.repo ?? ''}/${o.path ?? ''}`, ids: cut });
}

// All windows of one file decode in lockstep, one step each in turn (the order rotating every token), so the shared
// machine's load drift hits every window alike.
async function generateAll(ids) {
  const state = WINDOWS.map((w) => {
    const gen = new Generator(b.model, w > 0 ? { decodeKvWindow: w } : {});
    gen.appendTokens(ids);
    gen.setSearch({ maxNewTokens: TOKENS });
    return { w, gen, toks: [], stepMs: [], stepCpuMs: [], maxCache: 0 };
  });
  for (let i = 0; i < TOKENS; i++) {
    for (let k = 0; k < state.length; k++) {
      const st = state[(i + k) % state.length];
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const logits = await st.gen.computeLogits();
      for (const sp of special) logits[sp] = -Infinity;
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
      // nextToken picks the same argmax (the row is masked in place) and runs the eviction step.
      const c = await st.gen.nextToken();
      if (c.tokenId !== best) throw new Error(`greedy mismatch ${c.tokenId} vs ${best}`);
      st.stepMs.push(performance.now() - t0);
      const cu = process.cpuUsage(c0);
      st.stepCpuMs.push((cu.user + cu.system) / 1000);
      st.toks.push(best);
      st.maxCache = Math.max(st.maxCache, st.gen.cache.length);
    }
  }
  for (const st of state) st.gen.dispose();
  return Object.fromEntries(state.map((st) => [st.w, st]));
}

const runs = [];
for (const [f, p] of prompts.entries()) {
  const byWindow = await generateAll(p.ids);
  for (const w of WINDOWS) process.stderr.write(`file ${f} window ${w}: ${(byWindow[w].stepMs.reduce((a, x) => a + x, 0) / TOKENS).toFixed(2)} ms/token, load ${uptime().join(' ')}\n`);
  const ref = byWindow[0];
  for (const w of WINDOWS) {
    const r = byWindow[w];
    const row = { file: p.source, window: w, maxCacheLength: r.maxCache, spans: {} };
    const firstDiff = r.toks.findIndex((t, i) => t !== ref?.toks[i]);
    row.firstDifferentToken = firstDiff === -1 ? null : firstDiff;
    for (const n of SPANS) {
      const ms = r.stepMs.slice(0, n);
      const cpu = r.stepCpuMs.slice(0, n);
      row.spans[n] = {
        msPerToken: +(ms.reduce((a, x) => a + x, 0) / n).toFixed(2),
        msPerTokenLast256: +(ms.slice(-256).reduce((a, x) => a + x, 0) / Math.min(256, n)).toFixed(2),
        cpuMsPerToken: +(cpu.reduce((a, x) => a + x, 0) / n).toFixed(2),
        cpuMsPerTokenLast256: +(cpu.slice(-256).reduce((a, x) => a + x, 0) / Math.min(256, n)).toFixed(2),
        editSimilarity: ref ? +editSimilarity(b.tokenizer.decode(r.toks.slice(0, n)), b.tokenizer.decode(ref.toks.slice(0, n))).toFixed(3) : null,
      };
    }
    runs.push(row);
  }
}
const loadEnd = uptime();
const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
const summary = WINDOWS.map((w) => {
  const rs = runs.filter((r) => r.window === w);
  const s = { window: w === 0 ? 'unbounded' : w, maxCacheLength: Math.max(...rs.map((r) => r.maxCacheLength)) };
  for (const n of SPANS) {
    s[`msPerToken@${n}`] = +mean(rs.map((r) => r.spans[n].msPerToken)).toFixed(2);
    s[`msPerTokenLast256@${n}`] = +mean(rs.map((r) => r.spans[n].msPerTokenLast256)).toFixed(2);
    s[`cpuMsPerToken@${n}`] = +mean(rs.map((r) => r.spans[n].cpuMsPerToken)).toFixed(2);
    s[`cpuMsPerTokenLast256@${n}`] = +mean(rs.map((r) => r.spans[n].cpuMsPerTokenLast256)).toFixed(2);
    s[`editSim@${n}`] = +mean(rs.map((r) => r.spans[n].editSimilarity)).toFixed(3);
  }
  s.firstDifferentToken = rs.map((r) => r.firstDifferentToken);
  return s;
});
const doc = {
  command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`,
  model: modelDir === defaultModelDir ? 'models/default' : modelDir,
  threads: threads ?? 'default',
  prompt: PROMPT,
  tokens: TOKENS,
  policy: 'sliding window over the decode-added KV (no heavy hitters: the graph does not output attention weights); prompt KV kept whole; evicted in blocks of max(16, window/8)',
  loadavgStart: loadStart,
  loadavgEnd: loadEnd,
  cpu: os.cpus()[0]?.model,
  files: prompts.map((p) => p.source),
  summary,
  runs,
};
console.log(JSON.stringify(summary, null, 1));
if (out) fs.writeFileSync(`${out}.json`, JSON.stringify(doc, null, 1) + '\n');
await b.model.dispose();
