// PSM against SPM: prompt tokens re-prefilled per keystroke, counted exactly (no model run, no timing noise).
// Replays the keystroke sessions of replay.mjs (same files, seed and edits, without accepts), builds each keystroke's
// prompt as the engine does (sticky prefix trimming, then prompt/buildFimPrompt with the default budgets: 768 prefix,
// 256 suffix tokens) in each FIM mode, and counts the tokens after the longest common prefix with the document's
// previous prompt: what a request must prefill when the previous request's prefill finished (the KV prefix cache).
// The jumps count too (their first keystroke re-prefills almost everything in either mode).
//
//   npm run build && node bench/replay/fim-tokens.mjs [--files 3] [--chars 120] [--seed 1]
// Writes bench/results/replay-fim-tokens.json and .md.
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rng } from '../lib/data.mjs';
import { keystrokes, makeSession, replayFiles, sessionArgs } from './session.mjs';
import { loadBundle } from '../../server/dist/engine/load.js';
import { buildFimPrompt, detectTemplate } from '../../server/dist/prompt/index.js';
import { stickyTrimPrefix } from '../../server/dist/cache/index.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const { nfiles: NFILES, nchars: NCHARS, seed: SEED } = sessionArgs();
const PREFIX_BUDGET = 768;

const b = await loadBundle({ modelDir: defaultModelDir, device: 'cpu' });
const files = replayFiles(root, NFILES);
const encode = (t) => b.tokenizer.encode(t);
const pct = (xs, p) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

const results = {};
for (const mode of ['spm', 'psm']) {
  const template = detectTemplate(b.tokenizer, { override: { mode }, modelConfig: b.model.files.config });
  if (!template || template.mode !== mode) throw new Error(`models/default has no ${mode} template`);
  const rand = rng(SEED); // as replay.mjs: one generator per mode, sessions drawn file after file
  const per = [];
  const promptLens = [];
  for (const file of files) {
    const session = makeSession(file, rand, NCHARS);
    let previous = null;
    let start = null;
    for (const { text, cursor } of keystrokes(session)) {
      const t = stickyTrimPrefix(text.slice(0, cursor), start, encode, { budget: PREFIX_BUDGET });
      start = t.startLine;
      const ids = buildFimPrompt({ prefix: t.text, suffix: text.slice(cursor) }, template, b.tokenizer, {}).ids;
      if (previous) {
        let lcp = 0;
        while (lcp < ids.length && lcp < previous.length && ids[lcp] === previous[lcp]) lcp++;
        per.push(ids.length - lcp);
        promptLens.push(ids.length);
      }
      previous = ids;
    }
  }
  const sum = per.reduce((a, x) => a + x, 0);
  results[mode] = {
    keystrokes: per.length,
    medianPromptTokens: pct(promptLens, 0.5),
    medianReprefill: pct(per, 0.5),
    meanReprefill: +(sum / per.length).toFixed(1),
    p95Reprefill: pct(per, 0.95),
    totalReprefill: sum,
    keystrokesOver32: per.filter((x) => x > 32).length,
  };
  console.log(mode, results[mode]);
}
const out = {
  date: new Date().toISOString(),
  command: `npm run build && node bench/replay/fim-tokens.mjs --files ${NFILES} --chars ${NCHARS} --seed ${SEED}`,
  files: files.map((f) => `${f.pkg}/${f.path}`),
  node: process.version,
  cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`,
  results,
};
fs.writeFileSync(path.join(root, 'bench/results/replay-fim-tokens.json'), JSON.stringify(out, null, 1) + '\n');
const cols = ['keystrokes', 'medianPromptTokens', 'medianReprefill', 'meanReprefill', 'p95Reprefill', 'totalReprefill', 'keystrokesOver32'];
const md = [
  '# PSM against SPM: prompt tokens re-prefilled per keystroke',
  '',
  `\`${out.command}\` — exact token counts (no model run); files: ${out.files.join('; ')}.`,
  '',
  `| mode | ${cols.join(' | ')} |`,
  `|---|${cols.map(() => '---').join('|')}|`,
  ...['spm', 'psm'].map((m) => `| ${m.toUpperCase()} | ${cols.map((c) => results[m][c]).join(' | ')} |`),
  '',
  'Re-prefill: prompt tokens after the longest common token prefix with the previous keystroke\'s prompt of the same document (what the request prefills when the previous prefill finished). Sticky trimming and the default budgets as in the engine.',
  '',
];
fs.writeFileSync(path.join(root, 'bench/results/replay-fim-tokens.md'), md.join('\n'));
console.log(md.join('\n'));
