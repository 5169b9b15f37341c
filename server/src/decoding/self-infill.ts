// Decode modes over one Generator: plain FIM and self-infilling (arXiv 2311.17972) adapted to an editor.
//
// Self-infilling, in terms of two prompt shapes of the template's layout (FimLayout): infill(P, S) → the middle between
// P and S, and l2r(P) → the text right after P (PSM: <fim_prefix>P; SPM: <fim_suffix><fim_prefix>P<fim_middle>, an
// empty suffix, which is left to right). P and S are token ids; P may carry generated tokens after the prefix.
//   base      infill(prefix, realSuffix) → m           (plain greedy FIM when never interrupted: tau = 0)
//   interrupt p_max < tau while writing m (empty/irrelevant suffix only): l2r(prefix m) suffixPrompt → the suffix,
//             then infill(prefix m, suffix) → middle; result m middle suffix
//   loop × N  l2r(prefix + result's middle) → suffix′ (degenerate: keep the previous result); then
//             infill(prefix, suffix′ from its last suffix prompt) → middle′; result middle′ suffix′
// With a real suffix the confidence signal cuts a multi-line middle at a low-confidence line boundary (loops = 0) or
// proposes those cuts as candidates (loops ≥ 1), ranked by their FIM log-likelihood including p(end of middle) — how
// well the real suffix follows — plus, where l2r(prefix) shares infill's leading tokens (PSM), the left-to-right
// log p(real suffix head | prefix + candidate). Variants with equal leading tokens reuse the KV (Generator.setPrompt
// keeps the longest common prefix). Cancellation is checked between every two model runs and returned as a value.
import { deflateSync } from 'node:zlib';
import { nowMs } from '../util/clock.js';
import type { Generator } from './generator.js';
import type { SamplingOptions } from './sampler.js';
import type { Rng } from '../util/rng.js';
import { decodeSpan, scoreContinuation, type SpanOptions, type SpanResult, type SpanStopReason, type SpanTokenizer } from './span.js';

/** A span's stop check when `written` already precedes the span's text: the cut, as an offset into the span's text. */
function stopAfter(written: string, stopAt: (text: string) => number | null): (text: string) => number | null {
  return (text) => {
    const c = stopAt(written + text);
    return c === null ? null : Math.max(0, c - written.length);
  };
}

export interface InfillTokenizer extends SpanTokenizer {
  encode(text: string): number[];
}

export interface Forced {
  bytes: string;
  text: string;
  tokenBytes: readonly string[];
}

export interface ModeRequest {
  /** The base prompt: head <fim_suffix> suffix <fim_middle> (self-infill) or the template's own layout (fim). */
  promptIds: readonly number[];
  /** Tokens that end a middle (EOS, pads, …). */
  stopIds: readonly number[];
  /** Sentinels never written inside code. */
  maskIds: readonly number[];
  lineMode: 'single' | 'multi';
  /** Cuts a middle (syntax stops). */
  stopAt: (text: string) => number | null;
  maxNewTokens: number;
  deadlineMs?: number;
  forced?: Forced;
  /** How many candidates to return (alternative first tokens beyond the first). */
  maxCandidates: number;
  signal?: AbortSignal;
  onText?: (text: string) => void;
  /** Sampling for the plain decode (default greedy); self-infilling's extra passes stay greedy. */
  sampling?: SamplingOptions;
  rng?: Rng | null;
  /**
   * Plain FIM: texts this rejects (engine/decode.ts: they begin a new statement in an unfinished line, which
   * post-processing drops) are made up for from further first tokens in rank order, at most `RETRY_FIRSTS` more. One
   * candidate asked (automatic triggers): until one is not rejected, the greedy text staying first in the result.
   * Several asked: until as many as asked are not rejected (a manual request for 3 answered 1 at
   * `from collections import ║` when two of its three were dropped).
   */
  reject?: (text: string, stopReason: SpanStopReason) => boolean;
}

/** The two prompt shapes of a FIM template (see the file comment). */
export interface FimLayout {
  infill(prefixIds: readonly number[], suffixIds: readonly number[]): number[];
  l2r(prefixIds: readonly number[]): number[];
  /** l2r(P) is a prefix of infill(P, S) (PSM): left-to-right scoring reuses the base prompt's KV. */
  readonly l2rSharesPrefix: boolean;
}

/**
 * The layout of a template with a middle sentinel: PSM, SPM (StarCoder order) or Code Llama's SPM. `head` (the built
 * prompt's headIds: BOS plus repository-level context) leads every shape; without it, BOS alone.
 */
export function fimLayout(t: { mode: 'psm' | 'spm'; family?: string; prefixId: number; suffixId: number; middleId: number; bosId: number | null; head?: readonly number[] }): FimLayout {
  const bos = t.head ? [...t.head] : t.bosId !== null ? [t.bosId] : [];
  const { prefixId: P, suffixId: S, middleId: M } = t;
  if (t.mode === 'psm') {
    return { infill: (p, s) => [...bos, P, ...p, S, ...s, M], l2r: (p) => [...bos, P, ...p], l2rSharesPrefix: true };
  }
  if (t.family === 'codellama') {
    return { infill: (p, s) => [...bos, P, S, ...s, M, ...p], l2r: (p) => [...bos, P, S, M, ...p], l2rSharesPrefix: false };
  }
  return { infill: (p, s) => [...bos, S, ...s, P, ...p, M], l2r: (p) => [...bos, S, P, ...p, M], l2rSharesPrefix: false };
}

export interface SelfInfillRequest extends ModeRequest {
  layout: FimLayout;
  /** The prefix's ids (after healing) and the real suffix's ids: promptIds = layout.infill(prefixIds, suffixIds). */
  prefixIds: readonly number[];
  suffixIds: readonly number[];
  /** The text of the cursor's line before the cursor (where a self-written suffix starts a new line). */
  cursorLine: string;
  /** p_max below this interrupts (0: never, 1: always). */
  tau: number;
  /** Looping iterations (0, 1, 2). */
  loops: number;
  /** Left-to-right passes (the suffix, its regeneration): sentinels masked (as published), these end the pass. */
  l2rMaskIds: readonly number[];
  l2rStopIds: readonly number[];
  /** Text the self-written suffix starts with; null: the real suffix is relevant (no interruption). */
  suffixPrompt: string | null;
  /** Cuts a self-written or regenerated suffix after the cursor's block. */
  suffixStopAt: (text: string) => number | null;
  /** First tokens of the real suffix, for log p(real suffix | prefix + candidate) (PSM layouts); empty: none. */
  suffixScoreIds: readonly number[];
  /** Most tokens of a self-written suffix (default 32). */
  maxSuffixTokens?: number;
}

export type CandidateSource = 'fim' | 'cut' | 'interrupt' | 'loop' | 'alternative';

export interface ModeCandidate {
  text: string;
  /** Higher is better: mean log-probability per token, or with suffix scoring log p(middle ⊕ suffix head). */
  score: number;
  source: CandidateSource;
  /** Why its span stopped (plain FIM's spans; the decode plan keeps several lines only where the middle ended). */
  stopReason?: SpanStopReason;
}

export interface ModeResult {
  cancelled: boolean;
  /** Best first. */
  candidates: ModeCandidate[];
  promptTokens: number;
  /** Base prompt tokens that needed a model run (the rest came from the cache). */
  prefillTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** Tokens chosen by every decoded span (scoring runs not included). */
  generatedTokens: number;
  /** What self-infilling did (tests, logs). */
  trace: { interruptedAt: number | null; loopsRun: number; loopsRejected: number; cuts: number; scored: number };
}

/** Starts a request: makes the sequence equal the base prompt and prefills it (the first logits). */
async function prefill(gen: Generator, ids: readonly number[], signal: AbortSignal | undefined) {
  const t0 = nowMs();
  const reused = await gen.setPrompt(ids);
  const logits = await gen.computeLogits(signal);
  return { cancelled: !(logits instanceof Float32Array), prefillTokens: ids.length - reused, prefillMs: nowMs() - t0 };
}

function spanOptions(req: ModeRequest, extra: Partial<SpanOptions>): SpanOptions {
  return {
    stopTokenIds: req.stopIds,
    maskTokenIds: req.maskIds,
    maxNewTokens: req.maxNewTokens,
    deadlineMs: req.deadlineMs,
    forced: req.forced,
    stopAt: req.stopAt,
    signal: req.signal,
    sampling: req.sampling,
    rng: req.rng,
    ...extra,
  };
}

/** Mean log-probability of the span's kept tokens (a stop token chosen at the end counts too). */
function meanLogprob(span: SpanResult): number {
  const steps = span.steps.slice(0, span.stopReason === 'stop-token' ? span.steps.length : span.keptTokens);
  return steps.length ? steps.reduce((a, s) => a + s.logprob, 0) / steps.length : 0;
}

/** Sequence log-likelihood under the FIM prompt: kept tokens, plus ending there (the stop token, or p(stop) at a cut). */
function sequenceLogprob(span: SpanResult, upTo: number): number {
  let total = 0;
  for (let i = 0; i < upTo && i < span.steps.length; i++) if (i < span.tokenIds.length) total += span.steps[i]!.logprob;
  const end = span.steps[upTo];
  if (end) total += upTo < span.tokenIds.length ? end.logpStop : end.logprob;
  return total;
}

/**
 * The most alternative first tokens decoded to make up for rejected texts (ModeRequest.reject), in the model's rank
 * order. At `import os\nfrom collections import ║` the default model ranks `from` (→ `from pathlib import Path`,
 * rejected), `unique`, `import` (→ `import urllib`, rejected): the first retry answers there, but the runner-up can be
 * another statement keyword. Each retry costs one short decode, only when the text before it was rejected.
 */
export const RETRY_FIRSTS = 3;

/**
 * Alternative first tokens (beyond the base's, in the model's rank order, the first `skip` of them left out) decoded
 * greedily; each a candidate scored by mean log-probability. `count` of them (default: the candidates asked beyond the
 * first), stopping after one that `done` accepts.
 */
async function alternatives(
  gen: Generator,
  tokenizer: InfillTokenizer,
  req: ModeRequest,
  base: SpanResult,
  decoded: { tokens: number },
  count = req.maxCandidates - 1,
  done?: (span: SpanResult) => boolean,
  skip = 0,
): Promise<{ cancelled: boolean; spans: SpanResult[] }> {
  const spans: SpanResult[] = [];
  if (count <= 0) return { cancelled: false, spans };
  const stops = new Set(req.stopIds);
  const firsts = base.firstChoices.filter((id) => id !== base.tokenIds[0] && !stops.has(id)).slice(skip, skip + count);
  for (const first of firsts) {
    if (req.signal?.aborted) return { cancelled: true, spans };
    await gen.rewindTo(req.promptIds.length);
    const span = await decodeSpan(gen, tokenizer, spanOptions(req, { firstTokenId: first }));
    decoded.tokens += span.tokenIds.length;
    if (span.stopReason === 'cancelled') return { cancelled: true, spans };
    spans.push(span);
    if (done?.(span)) break;
  }
  return { cancelled: false, spans };
}

/** Plain FIM: the template's prompt, greedy, syntax stops; alternatives when several candidates are asked for. */
export async function decodeFim(gen: Generator, tokenizer: InfillTokenizer, req: ModeRequest): Promise<ModeResult> {
  const result = emptyResult(req.promptIds.length);
  const p = await prefill(gen, req.promptIds, req.signal);
  Object.assign(result, { prefillTokens: p.prefillTokens, prefillMs: p.prefillMs });
  if (p.cancelled) return { ...result, cancelled: true };
  const t0 = nowMs();
  const decoded = { tokens: 0 };
  const base = await decodeSpan(gen, tokenizer, spanOptions(req, { onText: req.onText }));
  decoded.tokens += base.tokenIds.length;
  const finish = (cancelled: boolean) => ({ ...result, cancelled, decodeMs: nowMs() - t0, generatedTokens: decoded.tokens });
  if (base.stopReason === 'cancelled') return finish(true);
  result.candidates.push({ text: base.text, score: meanLogprob(base), source: 'fim', stopReason: base.stopReason });
  const accepted = (s: SpanResult) => req.reject === undefined || !req.reject(s.text, s.stopReason);
  const push = (spans: SpanResult[]) => {
    for (const s of spans) result.candidates.push({ text: s.text, score: meanLogprob(s), source: 'alternative', stopReason: s.stopReason });
  };
  // One candidate asked and the greedy text rejected: retry other first tokens until one is not (kept behind it).
  const retry = req.maxCandidates <= 1 && !accepted(base);
  const alt = retry ? await alternatives(gen, tokenizer, req, base, decoded, RETRY_FIRSTS, accepted) : await alternatives(gen, tokenizer, req, base, decoded);
  push(alt.spans);
  if (alt.cancelled) return finish(true);
  // Several asked and some rejected: the next first tokens make up for them, until as many as asked are accepted.
  let missing = !retry && req.maxCandidates > 1 && req.reject !== undefined ? req.maxCandidates - [base, ...alt.spans].filter(accepted).length : 0;
  if (missing > 0) {
    const more = await alternatives(gen, tokenizer, req, base, decoded, RETRY_FIRSTS, (s) => accepted(s) && --missing <= 0, alt.spans.length);
    push(more.spans);
    if (more.cancelled) return finish(true);
  }
  if (!retry) result.candidates.sort((a, b) => b.score - a.score);
  return finish(false);
}

function emptyResult(promptTokens: number): ModeResult {
  return {
    cancelled: false,
    candidates: [],
    promptTokens,
    prefillTokens: 0,
    prefillMs: 0,
    decodeMs: 0,
    generatedTokens: 0,
    trace: { interruptedAt: null, loopsRun: 0, loopsRejected: 0, cuts: 0, scored: 0 },
  };
}

/** Line boundaries of a span where the model's confidence dropped below tau: step indices whose token starts a new line. */
export function lowConfidenceCuts(span: SpanResult, tau: number): { step: number; textEnd: number }[] {
  const cuts: { step: number; textEnd: number }[] = [];
  for (let i = 1; i < span.tokenIds.length; i++) {
    const step = span.steps[i]!;
    const before = span.text.slice(0, Math.min(step.textBefore, span.text.length));
    const prevStart = span.steps[i - 1]!.textBefore;
    // The previous token wrote a line break: this token is the first of a new line.
    const nl = before.lastIndexOf('\n');
    if (nl < prevStart || nl < 0) continue;
    if (before.slice(0, nl).trim() === '') continue;
    if (step.pMax < tau) cuts.push({ step: i, textEnd: nl });
  }
  return cuts;
}

/**
 * Degenerate looping output (fall back to the previous result): empty, only `pass` / `return` / closers, highly
 * repetitive (zlib ratio < 0.1), or without the suffix prompt it must contain.
 */
export function isDegenerateSuffix(text: string, suffixPromptCore: string): boolean {
  const t = text.trim();
  if (t === '') return true;
  if (/^(?:pass|return|[})\];,\s])*$/.test(t) && t !== suffixPromptCore) return true;
  if (suffixPromptCore && !text.includes(suffixPromptCore)) return true;
  if (t.length >= 64 && deflateSync(t).length / t.length < 0.1) return true;
  return false;
}

/** Self-infilling (see the file comment). Never throws for cancellation: `cancelled` is set instead. */
export async function selfInfill(gen: Generator, tokenizer: InfillTokenizer, req: SelfInfillRequest): Promise<ModeResult> {
  const result = emptyResult(req.promptIds.length);
  const p = await prefill(gen, req.promptIds, req.signal);
  Object.assign(result, { prefillTokens: p.prefillTokens, prefillMs: p.prefillMs });
  if (p.cancelled) return { ...result, cancelled: true };
  const t0 = nowMs();
  const decoded = { tokens: 0 };
  const finish = (cancelled: boolean): ModeResult => ({ ...result, cancelled, decodeMs: nowMs() - t0, generatedTokens: decoded.tokens });
  const interruptOn = req.lineMode === 'multi' && req.suffixPrompt !== null && req.tau > 0;
  const base = await decodeSpan(gen, tokenizer, spanOptions(req, { interrupt: interruptOn ? ({ pMax }) => pMax < req.tau : undefined }));
  decoded.tokens += base.tokenIds.length;
  if (base.stopReason === 'cancelled') return finish(true);

  if (base.stopReason === 'interrupted' && req.suffixPrompt !== null) {
    result.trace.interruptedAt = base.tokenIds.length;
    const r = await interruptAndLoop(gen, tokenizer, req, base, decoded, result.trace);
    if (r === null) return finish(true);
    result.candidates.push(r);
  } else if (req.lineMode === 'multi' && req.suffixPrompt === null) {
    // A real suffix: the confidence signal proposes cuts at line boundaries; loops ≥ 1 rank them by the suffix.
    const cuts = lowConfidenceCuts(base, req.tau).slice(0, 3);
    result.trace.cuts = cuts.length;
    const pool: { text: string; fim: number; mean: number; source: CandidateSource }[] = [];
    if (req.loops === 0) {
      const c = cuts[0];
      pool.push(c ? { text: base.text.slice(0, c.textEnd), fim: sequenceLogprob(base, c.step), mean: meanLogprob(base), source: 'cut' } : { text: base.text, fim: 0, mean: meanLogprob(base), source: 'fim' });
    } else {
      pool.push({ text: base.text, fim: sequenceLogprob(base, base.keptTokens), mean: meanLogprob(base), source: 'fim' });
      for (const c of cuts) pool.push({ text: base.text.slice(0, c.textEnd), fim: sequenceLogprob(base, c.step), mean: meanLogprob(base), source: 'cut' });
    }
    const alt = await alternatives(gen, tokenizer, req, base, decoded);
    for (const s of alt.spans) pool.push({ text: s.text, fim: sequenceLogprob(s, s.keptTokens), mean: meanLogprob(s), source: 'alternative' });
    if (alt.cancelled) return finish(true);
    if (req.loops >= 1 && pool.length > 1) {
      const l2r = req.layout.l2rSharesPrefix && req.suffixScoreIds.length > 0;
      for (const c of pool) {
        let ll = 0;
        if (l2r) {
          const v = await suffixLikelihood(gen, tokenizer, req, c.text);
          if (v === null) return finish(true);
          ll = v;
        }
        result.trace.scored++;
        result.candidates.push({ text: c.text, score: c.fim + ll, source: c.source });
      }
    } else {
      for (const c of pool) result.candidates.push({ text: c.text, score: c.mean, source: c.source });
    }
  } else {
    result.candidates.push({ text: base.text, score: meanLogprob(base), source: 'fim' });
    const alt = await alternatives(gen, tokenizer, req, base, decoded);
    for (const s of alt.spans) result.candidates.push({ text: s.text, score: meanLogprob(s), source: 'alternative' });
    if (alt.cancelled) return finish(true);
  }
  // Stable: on equal scores the earlier (the full decode) wins.
  result.candidates.sort((a, b) => b.score - a.score);
  return finish(false);
}

/** log p(real suffix head | prefix + candidate), left to right on l2r(prefix + candidate). null when cancelled. */
async function suffixLikelihood(gen: Generator, tokenizer: InfillTokenizer, req: SelfInfillRequest, text: string): Promise<number | null> {
  if (req.signal?.aborted) return null;
  const ids = tokenizer.encode((req.forced?.text ?? '') + text);
  await gen.setPrompt(req.layout.l2r([...req.prefixIds, ...ids]));
  return scoreContinuation(gen, req.suffixScoreIds, req.signal);
}

/**
 * Where a self-written suffix starts: on a new line at its own indentation. When the cursor's line (after m) holds only
 * whitespace that the prompt's indentation begins with, the prompt continues that line; otherwise a line break first.
 */
export function suffixLead(currentLine: string, suffixPrompt: string): string {
  if (currentLine.trim() === '' && suffixPrompt.startsWith(currentLine)) return suffixPrompt.slice(currentLine.length);
  return `\n${suffixPrompt}`;
}

/** Interruption: write the suffix from the suffix prompt, then the middle; then the looping iterations. null: cancelled. */
async function interruptAndLoop(
  gen: Generator,
  tokenizer: InfillTokenizer,
  req: SelfInfillRequest,
  base: SpanResult,
  decoded: { tokens: number },
  trace: ModeResult['trace'],
): Promise<ModeCandidate | null> {
  const prompt = req.suffixPrompt!;
  const core = prompt.trim();
  const mIds = base.tokenIds;
  const mText = base.text;
  const currentLine = (req.cursorLine + mText).slice((req.cursorLine + mText).lastIndexOf('\n') + 1);
  const lead = suffixLead(currentLine, prompt);
  const mIdsFor = (ids: readonly number[]) => (req.forced ? { ...req.forced, acceptedIds: ids } : undefined);
  // The suffix: l2r(prefix m) lead → until the cursor's block ends (sentinels masked).
  await gen.setPrompt([...req.layout.l2r([...req.prefixIds, ...mIds]), ...tokenizer.encode(lead)]);
  const sSpan = await decodeSpan(gen, tokenizer, {
    stopTokenIds: req.l2rStopIds,
    maskTokenIds: req.l2rMaskIds,
    maxNewTokens: req.maxSuffixTokens ?? 32,
    deadlineMs: req.deadlineMs,
    stopAt: stopAfter(prompt, req.suffixStopAt),
    signal: req.signal,
  });
  decoded.tokens += sSpan.tokenIds.length;
  if (sSpan.stopReason === 'cancelled') return null;
  const selfSuffix = (lead + sSpan.text).replace(/\s+$/, '');
  // The middle: infill(prefix m, selfSuffix) → middle (the healing constraint goes on after m).
  await gen.setPrompt(req.layout.infill([...req.prefixIds, ...mIds], tokenizer.encode(selfSuffix)));
  const midSpan = await decodeSpan(gen, tokenizer, {
    stopTokenIds: req.stopIds,
    maskTokenIds: req.maskIds,
    maxNewTokens: Math.max(16, req.maxNewTokens - mIds.length),
    deadlineMs: req.deadlineMs,
    forced: mIdsFor(mIds),
    stopAt: stopAfter(mText, req.stopAt),
    signal: req.signal,
  });
  decoded.tokens += midSpan.tokenIds.length;
  if (midSpan.stopReason === 'cancelled') return null;
  let best: ModeCandidate = { text: mText + midSpan.text + selfSuffix, score: meanLogprob(midSpan), source: 'interrupt' };
  // The left-to-right context of the next loop: everything generated before the suffix.
  let before: readonly number[] = [...mIds, ...midSpan.tokenIds.slice(0, midSpan.keptTokens)];
  let beforeText = mText + midSpan.text;
  for (let k = 0; k < req.loops; k++) {
    trace.loopsRun++;
    // (1) Left to right from the prefix and the middle: regenerate the suffix.
    await gen.setPrompt(req.layout.l2r([...req.prefixIds, ...before]));
    const regen = await decodeSpan(gen, tokenizer, {
      stopTokenIds: req.l2rStopIds,
      maskTokenIds: req.l2rMaskIds,
      maxNewTokens: req.maxNewTokens,
      deadlineMs: req.deadlineMs,
      forced: mIdsFor(before),
      stopAt: stopAfter(beforeText, req.suffixStopAt),
      signal: req.signal,
    });
    decoded.tokens += regen.tokenIds.length;
    if (regen.stopReason === 'cancelled') return null;
    // (2) Degenerate output: keep the previous result.
    if (isDegenerateSuffix(regen.text, core)) {
      trace.loopsRejected++;
      break;
    }
    // (3) Re-infill the middle before the suffix, cut at the line of its last suffix prompt.
    const at = regen.text.lastIndexOf(core);
    const lineStart = regen.text.lastIndexOf('\n', at) + 1;
    // The suffix keeps the line break before its line, so the middle ends where that line begins.
    const suffixText = regen.text.slice(Math.max(0, lineStart - 1)).replace(/\s+$/, '');
    await gen.setPrompt(req.layout.infill(req.prefixIds, tokenizer.encode(suffixText)));
    const mid = await decodeSpan(gen, tokenizer, {
      stopTokenIds: req.stopIds,
      maskTokenIds: req.maskIds,
      maxNewTokens: req.maxNewTokens,
      deadlineMs: req.deadlineMs,
      forced: req.forced,
      stopAt: req.stopAt,
      signal: req.signal,
    });
    decoded.tokens += mid.tokenIds.length;
    if (mid.stopReason === 'cancelled') return null;
    if (mid.stopReason !== 'stop-token') {
      // The middle never ended (budget, or it ran into a syntax stop): not a usable infill.
      trace.loopsRejected++;
      break;
    }
    best = { text: mid.text + suffixText, score: meanLogprob(mid), source: 'loop' };
    before = mid.tokenIds.slice(0, mid.keptTokens);
    beforeText = mid.text;
  }
  return best;
}
