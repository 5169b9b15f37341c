// One request's decoding, between the engine façade and the decoding layer: the syntax plan, the FIM prompt (the
// template's layout, so the per-file KV cache keeps working), the decode mode ('fim' or 'self-infill'),
// post-processing and syntax validation of the candidates. The engine calls `decodeRequest` once per request.
import { decodeFim, fimLayout, selfInfill, type ModeResult } from '../decoding/self-infill.js';
import type { Generator, SamplingOptions } from '../decoding/index.js';
import { buildFimPrompt, type FimPrompt, type FimTemplate } from '../prompt/index.js';
import { postprocess, rankWithDeltas, startsStatementMidLine } from '../postprocess/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { nowMs } from '../util/clock.js';
import { createRng } from '../util/rng.js';
import { keepLines, planDecode } from './decode-plan.js';
import type { SyntaxTrees } from '../syntax/index.js';
import type { CompletionCandidate, CompletionContext } from './types.js';

export type DecodeMode = 'fim' | 'self-infill';

export interface DecodeSettings {
  mode: DecodeMode;
  /** Self-infilling loops (0, 1, 2). */
  loops: number;
  /** Confidence threshold: p_max below it interrupts (self-infill) or cuts a multi-line suggestion. */
  tau: number;
  postprocess: boolean;
  maxNewTokens: number;
  timeBudgetMs: number;
  maxPrefixTokens?: number;
  maxSuffixTokens?: number;
  maxHealTokens?: number;
  sampling?: SamplingOptions;
  seed?: number;
}

/**
 * Plain FIM is the default: on held-out dev tasks (60 per suite, models/default) it kept the best edit similarity on
 * multi-line tasks (ts 21.5 / py 26.4 vs self-infill N=1 21.2 / 25.9) with ~20% fewer model tokens; self-infilling's
 * published setting (an empty suffix) is rare in infilling. loops/tau apply when decodeMode is 'self-infill'.
 */
export const DEFAULT_DECODE: Pick<DecodeSettings, 'mode' | 'loops' | 'tau'> = { mode: 'fim', loops: 1, tau: 0.25 };

/**
 * How much higher (mean log-probability per token, nats) another candidate must score than the streamed one to be
 * ranked above it. Plain FIM streams its greedy span while it decodes (the editor shows it as ghost text) and decodes
 * the alternatives after it; ranked by score alone, an alternative that scores a little higher replaced the text the
 * user was already reading when the final list arrived. The value, from bench/quality/stream-top.mjs
 * (bench/results/stream-top.md; models/default, 400 held-out dev tasks, manual trigger, 3 candidates): ranked by score
 * alone the first candidate was not the streamed one in 142 of 400; with a margin of 1, 56 (47 of those 56 because
 * the streamed one added syntax errors, was emptied by post-processing, or was missing), and the first candidate's
 * edit similarity to the reference went from 37.4 to 38.0 (single-line suites 49.2 → 51.2 and 52.1 → 54.2, multi-line
 * 23.7 → 23.2 and 24.7 → 23.4): keeping the greedy text cost nothing measurable overall at any margin tried (0–∞).
 */
export const STREAMED_FIRST_MARGIN = 1;

/**
 * Keeps the streamed candidate first (`candidates` ranked best first: syntax group, then score). It moves to the front
 * when it is in the first candidate's syntax group (`addsErrors`, parallel to `candidates`; absent: one group) and
 * no candidate scores more than `margin` above it. Otherwise (it adds syntax errors another does not, post-processing
 * emptied it, or another is clearly better) the order stays. Returns a new array; pure.
 */
export function keepStreamedFirst<T extends CompletionCandidate>(candidates: readonly T[], streamedText: string | undefined, addsErrors?: readonly boolean[], margin = STREAMED_FIRST_MARGIN): T[] {
  const at = streamedText === undefined ? -1 : candidates.findIndex((c) => c.text === streamedText);
  if (at <= 0) return [...candidates];
  const group = (i: number) => addsErrors?.[i] ?? false;
  if (group(at) !== group(0)) return [...candidates];
  const streamed = candidates[at]!;
  const best = Math.max(...candidates.filter((_, i) => i !== at && group(i) === group(0)).map((c) => c.score));
  if (best > streamed.score + margin) return [...candidates];
  return [streamed, ...candidates.filter((_, i) => i !== at)];
}

/**
 * Stop reasons that cut the model off wherever it was, so the text may end mid-expression (`[2, 3, 5,` with its `[`
 * never closed): the token limit (`max-tokens`) and the decoding time budget (`time-budget`, decoding/span.ts's
 * deadline). The time budget cuts exactly like the token limit — only the clock decides where — and a half-expression
 * as ghost text is as wrong after one as after the other. Every other reason ended the text at a point someone chose:
 * the model (`stop-token`), the syntax plan (`stop-at`), the healing constraint, self-infilling's interruption.
 */
export const TRUNCATING_STOPS: ReadonlySet<string> = new Set(['max-tokens', 'time-budget']);

/**
 * Whether a candidate is post-processed as truncated (postprocess/bracket-balance.ts `cutTruncated`, which cuts it back
 * to a balanced end): its span stopped for one of `TRUNCATING_STOPS` and `keepLines` left its `decoded` text whole
 * (`kept === decoded`; a cut there already ended it at a complete line). `stopReason` undefined (a decode mode that does
 * not report it): false. Pure.
 */
export function isTruncated(stopReason: string | undefined, decoded: string, kept: string): boolean {
  return stopReason !== undefined && TRUNCATING_STOPS.has(stopReason) && kept === decoded;
}

/** Real-suffix tokens scored after each candidate (loops ≥ 1): about the first line or two. */
const SUFFIX_SCORE_TOKENS = 16;

export interface DecodeOutcome {
  cancelled: boolean;
  /** Post-processed and validated (when on), best first, at most maxCandidates. */
  candidates: CompletionCandidate[];
  /** The model's first choice before post-processing and validation. */
  raw: string;
  /** Why the decode of `raw` stopped (stop-token: the model ended the middle; stop-at: a plan stop rule cut it; …). */
  stopReason?: string;
  mode: DecodeMode;
  lineMode: 'single' | 'multi';
  promptTokens: number;
  prefillTokens: number;
  prefillMs: number;
  decodeMs: number;
  generatedTokens: number;
  /** Every token run through the model for this request (prefill, decode and scoring runs). */
  modelTokens: number;
  /** Model runs (forward passes) of this decode and their wall time in ms (the rest of prefillMs + decodeMs is JS work). */
  modelRuns: number;
  modelRunMs: number;
  /** Draft-and-verify (decoding/generator.ts `draftTokens`): tokens drafted into this decode's runs, and how many were accepted. */
  drafted: number;
  accepted: number;
  /** Wall ms of the syntax plan (tree-sitter, incremental) and of post-processing + validation of the candidates. */
  planMs: number;
  postMs: number;
  trace: ModeResult['trace'];
}

export async function decodeRequest(
  gen: Generator,
  bundle: { tokenizer: Tokenizer; template: FimTemplate; trees?: SyntaxTrees },
  context: CompletionContext,
  /** The prefix after sticky trimming (context.prefix is the whole document's, for post-processing). */
  prefix: string,
  settings: DecodeSettings,
  signal: AbortSignal,
  onPartial?: (text: string) => void,
  /** The prompt of `prefix` and the context's suffix when the caller built it already (the engine's scheduler prefilled it). */
  built?: FimPrompt,
): Promise<DecodeOutcome> {
  const { tokenizer, template } = bundle;
  // The stream ends with the answer's first candidate as post-processing spells it (below): remember what it showed.
  let lastPartial: string | undefined;
  const streamText = onPartial
    ? (text: string) => {
        lastPartial = text;
        onPartial(text);
      }
    : undefined;
  const runTokens0 = gen.stats.runTokens;
  const runs0 = gen.stats.runs;
  const runMs0 = gen.stats.runMs;
  const drafted0 = gen.stats.drafted;
  const accepted0 = gen.stats.accepted;
  const tPlan = nowMs();
  const plan = planDecode(
    { prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, trigger: context.trigger, lineMode: context.lineMode, documentKey: context.documentKey },
    bundle.trees,
  );
  const planMs = nowMs() - tPlan;
  // Self-infilling needs a middle sentinel and a prefix-first layout; Codestral has neither.
  const mode: DecodeMode = settings.mode === 'self-infill' && template.middleId !== null && template.family !== 'codestral' ? 'self-infill' : 'fim';
  const prompt = built ?? buildFimPrompt({ prefix, suffix: context.suffix, crossFile: context.crossFile, languageId: context.languageId }, template, tokenizer, {
    maxPrefixTokens: settings.maxPrefixTokens,
    maxSuffixTokens: settings.maxSuffixTokens,
    maxHealTokens: settings.maxHealTokens,
  });
  const sentinels = [template.prefixId, template.suffixId, ...(template.middleId !== null ? [template.middleId] : [])];
  const maxCandidates = Math.max(1, Math.min(8, Math.floor(context.maxCandidates ?? 1)));
  // A decoded text as the answer spells it, in two steps: the lines the plan keeps (decode-plan.ts keepLines: inside a
  // block that goes on, the lines before the model loops or rewrites the code after the cursor), with `truncated` when
  // the token limit or the time budget stopped it mid-text (not when keepLines already ended it at a complete line),
  // then post-processing, which cuts a truncated text back to a balanced line end. The reject hook below and the final
  // candidate list both go through these.
  const keep = (text: string, stopReason: string | undefined) => {
    const kept = keepLines(text, stopReason, plan);
    return { text: kept, truncated: isTruncated(stopReason, text, kept) };
  };
  const postCtx = { prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, lineMode: plan.lineMode };
  const post = (k: { text: string; truncated: boolean }) => postprocess(k.text, k.truncated ? { ...postCtx, truncated: true } : postCtx);
  const t0 = nowMs();
  const common = {
    promptIds: prompt.ids,
    // Infilling passes stop at any sentinel, as plain FIM always did (so tau = 0 is exactly plain FIM).
    stopIds: template.stopIds,
    maskIds: [] as number[],
    lineMode: plan.lineMode,
    stopAt: plan.stopAt,
    maxNewTokens: settings.maxNewTokens,
    // The time budget counts from the end of prefill in the plain decode loop; here from the request's start plus
    // a prefill allowance, so that self-infilling's extra passes stay within one budget.
    deadlineMs: t0 + settings.timeBudgetMs + 1000,
    forced: prompt.healBytes ? { bytes: prompt.healBytes, text: prompt.healText, tokenBytes: tokenizer.tokenByteStrings() } : undefined,
    maxCandidates,
    signal,
    onText: streamText,
    sampling: settings.sampling,
    rng: settings.sampling?.temperature ? createRng(settings.seed ?? 0) : null,
    // A text that begins a new statement mid-line and that post-processing then drops whole
    // (postprocess/statement-break.ts) is made up for with other first tokens, so that an automatic request answers a
    // fitting text rather than none and a manual one as many as it asked. Costs nothing unless such a text came up.
    reject:
      settings.postprocess
        ? (text: string, stopReason: string) => {
            const k = keep(text, stopReason);
            return startsStatementMidLine(k.text, context) && post(k) === '';
          }
        : undefined,
  };
  let r: ModeResult;
  if (mode === 'self-infill') {
    r = await selfInfill(gen, tokenizer, {
      ...common,
      // Streaming shows the base decode only when nothing will revise it.
      onText: plan.lineMode === 'single' ? streamText : undefined,
      layout: fimLayout({ ...template, middleId: template.middleId!, head: prompt.headIds }),
      prefixIds: prompt.prefixIds,
      suffixIds: prompt.suffixIds,
      cursorLine: context.prefix.slice(context.prefix.lastIndexOf('\n') + 1),
      tau: settings.tau,
      loops: settings.loops,
      // Left-to-right passes mask the sentinels while writing code, as published.
      l2rMaskIds: sentinels,
      l2rStopIds: template.stopIds.filter((id) => !sentinels.includes(id)),
      suffixPrompt: plan.suffixPrompt,
      suffixStopAt: plan.suffixStopAt,
      suffixScoreIds: prompt.suffixText.trim() === '' ? [] : tokenizer.encode(prompt.suffixText).slice(0, SUFFIX_SCORE_TOKENS),
    });
  } else {
    r = await decodeFim(gen, tokenizer, common);
  }
  const outcome: DecodeOutcome = {
    cancelled: r.cancelled,
    candidates: [],
    raw: r.candidates[0]?.text ?? '',
    ...(r.candidates[0]?.stopReason ? { stopReason: r.candidates[0].stopReason } : {}),
    mode,
    lineMode: plan.lineMode,
    promptTokens: r.promptTokens,
    prefillTokens: r.prefillTokens,
    prefillMs: r.prefillMs,
    decodeMs: r.decodeMs,
    generatedTokens: r.generatedTokens,
    modelTokens: gen.stats.runTokens - runTokens0,
    modelRuns: gen.stats.runs - runs0,
    modelRunMs: gen.stats.runMs - runMs0,
    drafted: gen.stats.drafted - drafted0,
    accepted: gen.stats.accepted - accepted0,
    planMs,
    postMs: 0,
    trace: r.trace,
  };
  if (r.cancelled) return outcome;
  const tPost = nowMs();
  let candidates: (CompletionCandidate & { streamed: boolean; truncated: boolean })[] = r.candidates.map((c) => ({
    ...keep(c.text, c.stopReason),
    score: c.score,
    streamed: mode === 'fim' && c.source === 'fim',
  }));
  if (settings.postprocess) candidates = candidates.map((c) => ({ ...c, text: post(c) }));
  // What plain FIM streamed (its greedy span), as the final list spells it.
  const streamedText = candidates.find((c) => c.streamed)?.text;
  // One candidate per text (the best-scored copy), no empty ones.
  const seen = new Set<string>();
  candidates = candidates.filter((c) => c.text.length > 0 && !seen.has(c.text) && seen.add(c.text));
  // Validation: candidates that add no syntax errors first (stable: score order within each group).
  let addsErrors: boolean[] | undefined;
  if (settings.postprocess && candidates.length > 1) {
    const ranked = rankWithDeltas(candidates, context);
    candidates = ranked.map((x) => x.candidate);
    addsErrors = ranked.map((x) => x.check?.addsErrors ?? false);
  }
  // The streamed text stays first unless another candidate is better by a margin (or by syntax): no jump in the editor.
  candidates = keepStreamedFirst(candidates, streamedText, addsErrors);
  outcome.candidates = candidates.slice(0, maxCandidates).map(({ text, score }) => ({ text, score }));
  // A stream that showed something ends with the first candidate (the streamed text after post-processing, or the
  // candidate that ranked above it), so the last partial is the answer's first text.
  const first = outcome.candidates[0]?.text;
  if (streamText && lastPartial !== undefined && first !== undefined && first !== lastPartial) streamText(first);
  outcome.postMs = nowMs() - tPost;
  return outcome;
}
