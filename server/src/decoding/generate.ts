// The decode loop over a Generator: prefill, choose tokens, stream text, stop on tokens/strings/budgets/cancellation.
import { nowMs } from '../util/clock.js';
import { createRng } from '../util/rng.js';
import { ForcedPrefix } from './constraints.js';
import type { Generator } from './generator.js';
import type { SamplingOptions } from './sampler.js';
import { findStopString, pendingStopPrefix, type StopReason } from './stopping.js';

export interface TextDecoding {
  createStreamDecoder(): { push(id: number): string; flush(): string };
}

export interface GenerateRequest {
  promptIds: readonly number[];
  stopTokenIds?: Iterable<number>;
  /** Text that ends the completion (cut before it), e.g. '\n' for single-line completions. */
  stopStrings?: readonly string[];
  /** Default 64. */
  maxNewTokens?: number;
  /** Budget for decoding (after the prompt is prefilled), in ms. */
  timeBudgetMs?: number;
  sampling?: SamplingOptions;
  /** Seed of the sampling RNG (default 0). */
  seed?: number;
  /**
   * Token healing: bytes (binary string) the generation must start with, the token byte table to check
   * them against, and the text they decode to, which is removed from the returned text.
   */
  forced?: { bytes: string; text: string; tokenBytes: readonly string[] };
  signal?: AbortSignal;
  /** Streaming: called with each newly visible piece of text. */
  onText?: (delta: string) => void;
}

export interface GenerateResult {
  stopReason: StopReason;
  /** Completion text (forced text removed, cut before a stop string). */
  text: string;
  tokenIds: number[];
  /** Sum of log p over generated tokens (for mean-logprob scores). */
  logprobSum: number;
  promptTokens: number;
  /** Prompt tokens that needed a model run (the rest was reused from the cache). */
  prefillTokens: number;
  prefillMs: number;
  decodeMs: number;
}

/** Runs one generation turn on `gen`. Never throws for cancellation: stopReason 'cancelled'. */
export async function generate(gen: Generator, tokenizer: TextDecoding, req: GenerateRequest): Promise<GenerateResult> {
  const t0 = nowMs();
  const reused = await gen.setPrompt(req.promptIds);
  const prefillTokens = req.promptIds.length - reused;
  const result: GenerateResult = {
    stopReason: 'max-tokens',
    text: '',
    tokenIds: [],
    logprobSum: 0,
    promptTokens: req.promptIds.length,
    prefillTokens,
    prefillMs: 0,
    decodeMs: 0,
  };
  const maxNewTokens = req.maxNewTokens ?? 64;
  const stopIds = new Set(req.stopTokenIds ?? []);
  gen.setSearch({ stopTokenIds: stopIds, maxNewTokens });
  const prefill = await gen.computeLogits(req.signal);
  const tPrefilled = nowMs();
  result.prefillMs = tPrefilled - t0;
  if (!(prefill instanceof Float32Array)) {
    result.stopReason = 'cancelled';
    return result;
  }
  const stopStrings = req.stopStrings ?? [];
  const forced = req.forced && req.forced.bytes ? new ForcedPrefix(req.forced.bytes, req.forced.tokenBytes) : null;
  const forcedText = req.forced?.bytes ? req.forced.text : '';
  const rng = req.sampling?.temperature ? createRng(req.seed ?? 0) : null;
  const decoder = tokenizer.createStreamDecoder();
  let raw = ''; // decoded text including the forced prefix
  let emitted = 0; // chars of visible text already streamed
  const visible = () => (forcedText && raw.startsWith(forcedText) ? raw.slice(forcedText.length) : forcedText.startsWith(raw) ? '' : raw);

  while (!gen.isDone()) {
    if (req.signal?.aborted) {
      result.stopReason = 'cancelled';
      break;
    }
    if (req.timeBudgetMs !== undefined && nowMs() - tPrefilled > req.timeBudgetMs) {
      result.stopReason = 'time-budget';
      break;
    }
    const choice = await gen.nextToken({ sampling: req.sampling, rng, filter: forced?.filter() ?? null, signal: req.signal });
    if ('cancelled' in choice) {
      result.stopReason = 'cancelled';
      break;
    }
    if (choice.tokenId < 0) {
      result.stopReason = 'constraint';
      break;
    }
    forced?.accept(choice.tokenId);
    if (stopIds.has(choice.tokenId)) {
      result.stopReason = 'stop-token';
      break;
    }
    result.tokenIds.push(choice.tokenId);
    result.logprobSum += choice.logprob;
    raw += decoder.push(choice.tokenId);
    const text = visible();
    const hit = findStopString(text, stopStrings, emitted);
    if (hit) {
      result.text = text.slice(0, hit.index);
      if (hit.index > emitted) req.onText?.(text.slice(emitted, hit.index));
      result.stopReason = 'stop-string';
      result.decodeMs = nowMs() - tPrefilled;
      return result;
    }
    const safe = text.length - pendingStopPrefix(text, stopStrings);
    if (safe > emitted) {
      req.onText?.(text.slice(emitted, safe));
      emitted = safe;
    }
  }
  raw += decoder.flush();
  let text = visible();
  const hit = findStopString(text, stopStrings, 0);
  if (hit) {
    text = text.slice(0, hit.index);
    result.stopReason = 'stop-string';
  }
  if (text.length > emitted) req.onText?.(text.slice(emitted));
  result.text = text;
  result.decodeMs = nowMs() - tPrefilled;
  return result;
}
