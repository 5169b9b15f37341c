// A CompletionEngine over an OpenAI-compatible `/v1/completions` server (vLLM, TGI, Ollama, llama-server): the FIM
// prompt is built here as text (fim-text.ts), streamed back with server-sent events, cut by our syntax plan
// (engine/decode-plan.ts) and post-processed by our chain (postprocess/); typed-ahead answers come from our completion
// cache. Only the configured URL is contacted; the API key goes into the Authorization header and nowhere else.
import { CompletionCache } from '../cache/completion-cache.js';
import type { EngineHooks } from '../config/engine.js';
import { planDecode } from '../engine/decode-plan.js';
import type { CompletionContext, CompletionEngine, CompletionResult } from '../engine/types.js';
import type { FimFamily } from '../prompt/index.js';
import { LRUCache } from 'lru-cache';
import type { FarChoice } from '../prompt/far-context.js';
import { withFarText } from './far-text.js';
import { TEXT_TEMPLATES, buildTextPrompt, headByLines, tailByLines } from './fim-text.js';
import { HttpError, failureMessage, httpUrl, jsonAnswer, keepAnswer, partialStream, remoteStatus, textOf, typedAheadAnswer } from './remote.js';
import { sseJson } from './sse.js';

export interface OpenAiBackendOptions {
  /** Server base URL ('http://host:8000', '…/v1') or the full '…/v1/completions' endpoint; http or https. */
  url: string;
  model: string;
  apiKey?: string;
  /** The served model's FIM family (its sentinel spellings); default 'qwen' (Qwen2.5-Coder). */
  fim?: FimFamily;
  maxNewTokens: number;
  /** Whole-request time limit in ms (default 10,000): past it the request answers degraded. */
  timeoutMs?: number;
  /**
   * Characters of same-file far context (backend/far-text.ts) in the prompt's cross-file head, on top of the 1,000 of
   * cross-file chunks (default 0, off; the setting `farContextTokens` × 4 where it or
   * its env INFILL_LS_FAR_CONTEXT_TOKENS is set: 1,536 for the engine's 384).
   */
  farContextChars?: number;
  log?: (message: string) => void;
}

/** The completions endpoint of a configured base URL. Throws on a URL that is not http(s). */
export function completionsUrl(base: string): URL {
  const u = httpUrl(base);
  const path = u.pathname.replace(/\/+$/, '');
  if (path.endsWith('/completions')) return u;
  u.pathname = path.endsWith('/v1') ? `${path}/completions` : `${path}/v1/completions`;
  return u;
}

/**
 * Whether an OpenAI-compatible completion choice stopped at the token limit (`max_tokens`, or the model's context):
 * `finish_reason: "length"` (OpenAI Completions API; vLLM, TGI, Ollama and llama-server answer the same), so its text
 * may end mid-expression. `"stop"`, null (a stream's chunks before the last), any other value or none: false. Pure.
 */
export function finishedByLength(finishReason: unknown): boolean {
  return finishReason === 'length';
}

/** The fields of a completions answer or stream chunk we read. */
interface CompletionsChunk {
  choices?: Array<{ text?: unknown; finish_reason?: unknown }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  error?: { message?: string };
}

/**
 * Creates the engine. It is ready at once (no probe: the server is contacted only by completion requests); the status
 * message names the backend and, after a failure, its last error until a request succeeds again.
 */
export function createOpenAiEngine(options: OpenAiBackendOptions): CompletionEngine & EngineHooks & { loaded: Promise<void> } {
  const endpoint = completionsUrl(options.url);
  const family: FimFamily = options.fim ?? 'qwen';
  const template = TEXT_TEMPLATES[family];
  const describe = `openai-compatible ${endpoint.origin}${endpoint.pathname} (${options.model}, FIM ${family})`;
  const state = remoteStatus(describe, options.model, options.log);
  const cache = new CompletionCache();
  /** Per document: the far-context snippets last chosen (backend/far-text.ts), so the prompt's head survives typing. */
  const farChoices = new LRUCache<string, FarChoice>({ max: 4096 });
  let disposed = false;
  const inflight = new Set<AbortController>();

  const setStatus = state.set;
  const noteError = state.noteError;

  async function complete(context: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult> {
    if (disposed || signal.aborted) return { kind: 'cancelled' };
    const t0 = performance.now();
    const typedAhead = typedAheadAnswer(cache, context, t0);
    if (typedAhead) return typedAhead;
    const plan = planDecode({ prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, trigger: context.trigger, lineMode: context.lineMode });
    // Same-file far context after the request's own chunks (backend/far-text.ts), on the window buildTextPrompt keeps.
    const far = withFarText(context, tailByLines(context.prefix, 3000), headByLines(context.suffix, 1000), options.farContextChars ?? 0, farChoices);
    const prompt = buildTextPrompt(family, { ...context, crossFile: far.crossFile }, { maxContextChars: 1000 + far.extraChars });
    // OpenAI's API takes at most 4 stop strings; the rest of the template's stops are cut here.
    const stop = [...(plan.lineMode === 'single' ? ['\n'] : []), ...template.stop].slice(0, 4);
    const controller = new AbortController();
    inflight.add(controller);
    const onAbort = () => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new Error('timeout')), options.timeoutMs ?? 10_000);
    let firstByteMs = 0;
    let text = '';
    let usage: CompletionsChunk['usage'];
    // The first choice's finish_reason (the last chunk's, when streamed), and whether our plan or a stop string ended
    // the text first (then a length stop the server reports does not count).
    let finishReason: unknown;
    let planCut = false;
    const partials = partialStream(onPartial);
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        body: JSON.stringify({ model: options.model, prompt, max_tokens: options.maxNewTokens, temperature: 0, stream: true, stop }),
        signal: controller.signal,
      });
      if (!res.ok) {
        const body = (await res.text().catch(() => '')).slice(0, 300).replace(/\s+/g, ' ').trim();
        throw new HttpError(`HTTP ${res.status}${body ? `: ${body}` : ''}`);
      }
      firstByteMs = performance.now() - t0;
      // Cuts the text at the plan's stop and at any stop string; true when it was cut (the stream can end).
      const cut = (): boolean => {
        let end: number | null = plan.stopAt(text);
        for (const s of template.stop) {
          const i = text.indexOf(s);
          if (i >= 0 && (end === null || i < end)) end = i;
        }
        if (end === null) return false;
        text = text.slice(0, end);
        planCut = true;
        return true;
      };
      if ((res.headers.get('content-type') ?? '').includes('application/json')) {
        // A server that ignores `stream` answers with one JSON body.
        const json = await jsonAnswer<CompletionsChunk>(res);
        text = textOf(json.choices?.[0]?.text);
        finishReason = json.choices?.[0]?.finish_reason;
        usage = json.usage;
        cut();
      } else if (res.body) {
        let done = false;
        for await (const event of sseJson<CompletionsChunk>(res.body as unknown as AsyncIterable<Uint8Array>)) {
          if (event.error) throw new HttpError(`server error: ${event.error.message ?? JSON.stringify(event.error)}`);
          if (event.usage) usage = event.usage;
          text += textOf(event.choices?.[0]?.text);
          const reason = event.choices?.[0]?.finish_reason;
          if (reason !== undefined && reason !== null) finishReason = reason;
          if (cut()) done = true;
          partials.send(text);
          if (done) break;
        }
        if (done) controller.abort(); // stop the server's generation once the plan has cut the completion
      }
      noteError(null);
      // Stopped by max_tokens (and not by our plan): cut back to a balanced end like a local answer.
      const { shown, id } = keepAnswer(cache, context, plan, text, !planCut && finishedByLength(finishReason));
      partials.end(shown);
      const totalMs = performance.now() - t0;
      setStatus({ ...state.get(), lastLatencyMs: Math.round(totalMs) });
      return {
        kind: 'ok',
        candidates: shown ? [{ text: shown, score: 0 }] : [],
        timings: { totalMs, prefillMs: firstByteMs, decodeMs: totalMs - firstByteMs, prefillTokens: usage?.prompt_tokens ?? 0, promptTokens: usage?.prompt_tokens ?? 0, generatedTokens: usage?.completion_tokens ?? 0 },
        cache: 'remote',
        id,
        raw: text,
      };
    } catch (err) {
      if (signal.aborted || disposed) return { kind: 'cancelled' };
      const message = failureMessage(err, controller.signal.aborted, options.timeoutMs ?? 10_000, endpoint.origin);
      noteError(message);
      return { kind: 'degraded', reason: `backend: ${message}` };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      inflight.delete(controller);
    }
  }

  return {
    loaded: Promise.resolve(),
    complete,
    status: state.get,
    onStatus: state.onStatus,
    async dispose() {
      disposed = true;
      for (const c of inflight) c.abort();
      state.clear();
    },
  };
}
