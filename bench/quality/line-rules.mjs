// Issue 12 item 7: replays line-mode rules on one set of decoded middles, without running the model again.
// `infill-ls eval` (trigger manual, no "kind") writes each task's raw middle (as decoded, cut only by the plan's stop
// rules) and why its decode stopped (stopReason); this script applies a rule that chooses the lines to keep, then the
// engine's post-processing, and writes predictions that bench/quality/score.mjs scores as returned (--truncate none).
// Greedy decoding makes this exact for rules that keep a prefix of the decoded lines.
//   node bench/quality/line-rules.mjs --tasks T.jsonl --pred RAW.jsonl --rule NAME --out P.jsonl
//   node bench/quality/line-rules.mjs --tasks T.jsonl --pred RAW.jsonl --table   (dev tasks: EM / ES of every rule)
//   [--trigger automatic [--fit]]  (see below)
// Rules: engine (this build's keepLines), all (every decoded line the plan's stop rules keep), first (the first line
// only), and x:… variants (see `variant`). --rules takes a ;-separated list.
import '../lib/help.mjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { editSimilarity } from '../lib/similarity.mjs';

const dist = (p) => import(new URL(`../../server/dist/${p}`, import.meta.url).href);
const { planDecode, keepLines } = await dist('engine/decode-plan.js');
const { postprocess, fitCandidate } = await dist('postprocess/index.js');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') ? true : (all[i + 1] ?? true)]] : acc), []));
const readJsonl = (p) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const tasks = new Map(readJsonl(args.tasks).map((t) => [String(t.id ?? t.task_id), t]));
const preds = readJsonl(args.pred);

export const RULES = {
  engine: (text, p, plan) => keepLines(text, p.stopReason, plan),
  all: (text, p, plan) => keepLines(text, p.stopReason, { ...plan, onlyIfEnded: false }),
  first: (text, p, plan) => {
    const t = keepLines(text, p.stopReason, { ...plan, onlyIfEnded: false });
    const lead = /^[ \t]*\n/.exec(t)?.[0].length ?? 0;
    const nl = t.indexOf('\n', lead);
    return plan.lineMode === 'multi' && plan.onlyIfEnded && nl >= 0 ? t.slice(0, nl) : t;
  },
};

const lead = (l) => /^[ \t]*/.exec(l)[0].length;
/**
 * A parameterized rule (the experiment's variants): the plan's stop rules, then, where the plan is multi-line only if
 * the middle ends, cuts at the first of: a line deeper-suffix (the code after the cursor is indented deeper than the
 * cursor's block: only its opener is missing), a line that resembles the first code line after the cursor (fuzzy,
 * edit similarity >= o.fuzzy), a line that repeats an earlier one (o.repeat), a line dedented below the cursor's block
 * (o.block), o.max lines; then keeps the lines by stop reason (o.reasons). Named `x:PART,PART,...` with the parts rep,
 * f=N/SIM (the first N code lines after the cursor, similarity SIM), op (deeper suffix: up to the first opener),
 * m=N, part (drop a line cut by the token limit); e.g. `x:rep,f=2/0.5,m=5` is the engine's keepLines.
 */
function variant(o) {
  return (text0, p, plan, t) => {
    let text = keepLines(text0, p.stopReason, { ...plan, onlyIfEnded: false });
    if (!(plan.lineMode === 'multi' && plan.onlyIfEnded)) return text;
    const leadNl = /^[ \t]*\n/.exec(text)?.[0].length ?? 0;
    const lines = text.slice(leadNl).split('\n');
    if (lines.length <= 1) return text;
    const lineBefore = t.prefix.slice(t.prefix.lastIndexOf('\n') + 1);
    const sufLines = t.suffix.split('\n');
    const rest = sufLines[0];
    const nextLine = rest.trim() !== '' ? (lineBefore.trim() === '' ? lineBefore + rest : rest) : sufLines.slice(1).find((l) => l.trim() !== '');
    const nextCode = nextLine?.trim() ?? null;
    const nextIndent = nextLine === undefined ? null : lead(nextLine);
    const prevLines = t.prefix.split('\n');
    const sufCode = [rest, ...sufLines.slice(1)].map((l) => l.trim()).filter((l) => l !== '');
    const cursorLineIndent = lineBefore.trim() === '' ? lineBefore.length : lead(lineBefore);
    // indentation of the completion's first line as inserted
    const firstIndent = lineBefore.trim() === '' ? lineBefore.length + lead(lines[0]) : lead(lineBefore);
    let k = lines.length;
    const cut = (i) => { if (i >= 1 && i < k) k = i; };
    if (o.opener && nextIndent !== null && rest.trim() === '' && nextIndent > firstIndent && !/[:{(\[]\s*$/.test(lineBefore)) {
      const at = lines.findIndex((l) => /[:{(\[]\s*(#.*|\/\/.*)?$/.test(l));
      if (at >= 0) cut(at + 1);
    }
    if (o.deeper && nextIndent !== null && rest.trim() === '' && nextIndent > firstIndent && !/[:{(\[]\s*$/.test(lineBefore)) cut(1);
    const seen = new Set([lineBefore.trim() !== '' ? null : prevLines[prevLines.length - 2]?.trim()]);
    for (let i = 0; i < lines.length; i++) {
      const code = lines[i].trim();
      if (i >= 1 && code !== '') {
        if (o.fuzzy && nextCode && editSimilarity(code, nextCode) >= o.fuzzy) cut(i);
        if (o.fuzzyN && sufCode.slice(0, o.fuzzyN[0]).some((c) => editSimilarity(code, c) >= o.fuzzyN[1])) cut(i);
        if (o.repeat && code.length > 1 && seen.has(code)) cut(i);
        if (o.block && lead(lines[i]) < firstIndent && !/^([\])}]\s*)?(else|elif|except|catch|finally)\b/.test(code) && !/^[\])}]/.test(code)) cut(i);
      }
      if (code !== '') seen.add(code);
    }
    if (o.max) cut(o.max);
    // a line cut by max-tokens or the time budget is not complete
    if ((p.stopReason === 'max-tokens' || p.stopReason === 'time-budget') && k === lines.length && o.dropPartial) k = Math.max(1, k - 1);
    const kept = text.slice(0, leadNl) + lines.slice(0, k).join('\n');
    const first = text.slice(0, leadNl) + lines[0];
    if (k <= 1) return first;
    if (!(o.reasons ?? ['stop-token']).includes(p.stopReason)) return first;
    return kept;
  };
}
const ALLR = ['stop-token', 'stop-at', 'max-tokens', 'time-budget'];

function ruleOf(name) {
  if (RULES[name]) return RULES[name];
  if (!name.startsWith('x:')) throw new Error(`no rule ${name}`);
  const o = { reasons: ALLR };
  for (const part of name.slice(2).split(',')) {
    const [k, v] = part.split('=');
    if (k === 'rep') o.repeat = true;
    else if (k === 'op') o.opener = true;
    else if (k === 'part') o.dropPartial = true;
    else if (k === 'f') o.fuzzyN = v.split('/').map(Number);
    else if (k === 'm') o.max = Number(v);
    else throw new Error(`bad part ${part}`);
  }
  return (RULES[name] = variant(o));
}

// --trigger automatic replays an editor's automatic request (eval --as-editor): where its plan is single-line, the
// decode would have stopped at the first line break, so the raw middle's first line is its text; --fit then fits the
// answer to the document as the LSP/API/CLI edges do (postprocess/fit.ts).
const trigger = args.trigger === 'automatic' ? 'automatic' : 'manual';
function apply(rule, p) {
  const t = tasks.get(p.id);
  const languageId = t.language ?? 'python';
  // --force-multi: the plan as multi-line only-if-ended wherever it is single-line (how a manual request at a code line's
  // indentation was planned before commit a3ddc8f), its stop rules those of a caller-chosen multi-line plan.
  let plan = planDecode({ prefix: t.prefix, suffix: t.suffix, languageId, trigger });
  if (args['force-multi'] && plan.lineMode === 'single') plan = { ...planDecode({ prefix: t.prefix, suffix: t.suffix, languageId, trigger, lineMode: 'multi' }), onlyIfEnded: true };
  let raw = p.raw ?? '';
  if (plan.lineMode === 'single' && raw.search(/\r?\n/) >= 0) raw = raw.slice(0, raw.search(/\r?\n/));
  const text = postprocess(ruleOf(rule)(raw, p, plan, t), { prefix: t.prefix, suffix: t.suffix, languageId, lineMode: plan.lineMode });
  return args.fit ? fitCandidate(text, { prefix: t.prefix, suffix: t.suffix, languageId }) : text;
}

if (args.diff) {
  const [r1, r2] = args.diff.split(';');
  for (const p of preds) {
    const a = apply(r1, p), b = apply(r2, p), t = tasks.get(p.id);
    if (a === b) continue;
    console.log(`--- ${p.id} ${p.stopReason} ES ${editSimilarity(a.trimEnd(), t.reference.trimEnd()).toFixed(2)} vs ${editSimilarity(b.trimEnd(), t.reference.trimEnd()).toFixed(2)}`);
    console.log('PRE', JSON.stringify(t.prefix.slice(-80)));
    console.log('REF', JSON.stringify(t.reference));
    console.log(r1, JSON.stringify(a));
    console.log(r2, JSON.stringify(b));
    console.log('SUF', JSON.stringify(t.suffix.slice(0, 100)));
  }
} else if (args.table) {
  const rules = typeof args.rules === 'string' ? args.rules.split(';') : Object.keys(RULES);
  for (const rule of rules) {
    let em = 0, es = 0, multi = 0;
    for (const p of preds) {
      const got = apply(rule, p);
      const ref = tasks.get(p.id).reference;
      if (got.trim() === ref.trim()) em++;
      es += editSimilarity(got.trimEnd(), ref.trimEnd());
      if (got.trim().includes('\n')) multi++;
    }
    console.log(`${rule.padEnd(16)} n ${preds.length}  EM ${((100 * em) / preds.length).toFixed(1)}%  ES ${(es / preds.length).toFixed(3)}  multi-line ${multi}`);
  }
} else {
  if (!args.rule.startsWith('x:') && !RULES[args.rule]) throw new Error(`--rule must be one of ${Object.keys(RULES).join(', ')}`);
  writeFileSync(args.out, preds.map((p) => JSON.stringify({ ...p, completion: apply(args.rule, p) })).join('\n') + '\n');
}
