// One request's decoding, between the engine façade and the decoding layer: the syntax plan, the FIM prompt (the
// template's layout, so the per-file KV cache keeps working), the decode mode ('fim' or 'self-infill'),
// post-processing and syntax validation of the candidates. The engine calls `decodeRequest` once per request.
import { decodeFim, fimLayout, selfInfill, type ModeResult } from '../decoding/self-infill.js';
import type { Generator, SamplingOptions } from '../decoding/index.js';
import { buildFimPrompt, type FimPrompt, type FimTemplate } from '../prompt/index.js';
import { postprocess, rankCandidates } from '../postprocess/index.js';
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
  const runTokens0 = gen.stats.runTokens;
  const runs0 = gen.stats.runs;
  const runMs0 = gen.stats.runMs;
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
    onText: onPartial,
    sampling: settings.sampling,
    rng: settings.sampling?.temperature ? createRng(settings.seed ?? 0) : null,
  };
  let r: ModeResult;
  if (mode === 'self-infill') {
    r = await selfInfill(gen, tokenizer, {
      ...common,
      // Streaming shows the base decode only when nothing will revise it.
      onText: plan.lineMode === 'single' ? onPartial : undefined,
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
    planMs,
    postMs: 0,
    trace: r.trace,
  };
  if (r.cancelled) return outcome;
  const tPost = nowMs();
  // Several lines only where the plan allows them (decode-plan.ts keepLines: inside a block that goes on, the lines
  // before the model loops or rewrites the code after the cursor).
  let candidates: CompletionCandidate[] = r.candidates.map((c) => ({ text: keepLines(c.text, c.stopReason, plan), score: c.score }));
  if (settings.postprocess) {
    const ctx = { prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, lineMode: plan.lineMode };
    candidates = candidates.map((c) => ({ ...c, text: postprocess(c.text, ctx) }));
  }
  // One candidate per text (the best-scored copy), no empty ones.
  const seen = new Set<string>();
  candidates = candidates.filter((c) => c.text.length > 0 && !seen.has(c.text) && seen.add(c.text));
  // Validation: candidates that add no syntax errors first (stable: score order within each group).
  if (settings.postprocess && candidates.length > 1) candidates = rankCandidates(candidates, context);
  outcome.candidates = candidates.slice(0, maxCandidates);
  outcome.postMs = nowMs() - tPost;
  return outcome;
}
