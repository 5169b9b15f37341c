#!/usr/bin/env node
// Where draft-and-verify and plain greedy decoding may part: greedy-decodes prompts cut from the replay's dev files
// plainly, recording each step's top-1/top-2 logit margin, then with drafts (decoding/generator.ts `draftTokens`), and
// reports per prompt the first step where the tokens differ and the plain decode's margin there. A difference is
// a near-tie flipped by rounding when the plain margin at or before it is small (a several-row verify run uses other
// kernels than a one-token step); a difference after clear margins is a bug.
//   node bench/replay/draft-margins.mjs --model DIR [--prompts 8] [--steps 32] [--draft 4] [--prompt-tokens 600]
import '../lib/help.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg, replayFiles } from './session.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const { Generator } = await import(path.join(root, 'server/dist/decoding/index.js'));
const { decodeSpan } = await import(path.join(root, 'server/dist/decoding/span.js'));
const MODEL = path.resolve(arg('model', path.join(root, 'models/default')));
const PROMPTS = Number(arg('prompts', 8));
const STEPS = Number(arg('steps', 32));
const DRAFT = Number(arg('draft', 4));
const PROMPT_TOKENS = Number(arg('prompt-tokens', 600));
const bundle = await loadBundle({ modelDir: MODEL, device: 'cpu' });
const files = replayFiles(root, PROMPTS);
let clearSteps = 0;
let steps = 0;
let parted = 0;
let accepted = 0;
let drafted = 0;
const minMargins = [];
for (let p = 0; p < PROMPTS; p++) {
  const text = files[p % files.length].text;
  const at = Math.floor(text.length * (0.3 + (0.4 * p) / Math.max(1, PROMPTS)));
  const ids = bundle.tokenizer.encode(text.slice(0, at)).slice(-PROMPT_TOKENS);
  const plain = new Generator(bundle.model);
  plain.appendTokens(ids);
  const tokens = [];
  const margins = [];
  for (let i = 0; i < STEPS; i++) {
    const row = await plain.computeLogits();
    let t1 = 0;
    for (let j = 1; j < row.length; j++) if (row[j] > row[t1]) t1 = j;
    let t2 = t1 === 0 ? 1 : 0;
    for (let j = 0; j < row.length; j++) if (j !== t1 && row[j] > row[t2]) t2 = j;
    tokens.push(t1);
    margins.push(row[t1] - row[t2]);
    plain.appendTokens([t1]);
  }
  plain.dispose();
  const gen = new Generator(bundle.model, { draftTokens: DRAFT });
  gen.appendTokens(ids);
  const span = await decodeSpan(gen, bundle.tokenizer, { maxNewTokens: STEPS });
  accepted += gen.stats.accepted;
  drafted += gen.stats.drafted;
  gen.dispose();
  const first = span.tokenIds.findIndex((t, i) => t !== tokens[i]);
  const upTo = first < 0 ? STEPS : first;
  const minBefore = Math.min(...margins.slice(0, upTo + 1));
  steps += STEPS;
  clearSteps += margins.filter((m) => m > 1e-3).length;
  if (first >= 0) {
    parted++;
    minMargins.push(minBefore);
  }
  console.log(`prompt ${p}: ${ids.length} tokens; ${first < 0 ? 'same tokens' : `first difference at step ${first}, plain margin there ${margins[first].toExponential(2)}, smallest margin up to it ${minBefore.toExponential(2)}`}; smallest margin overall ${Math.min(...margins).toExponential(2)}`);
}
console.log(`${MODEL}: ${PROMPTS} prompts x ${STEPS} steps, draft ${DRAFT}: ${parted} parted (smallest plain margins up to the first difference: ${minMargins.map((m) => m.toExponential(2)).join(', ') || '-'}); ${clearSteps} of ${steps} plain steps have a top-2 margin > 1e-3; drafts accepted ${accepted} of ${drafted}`);
await bundle.model.dispose();
