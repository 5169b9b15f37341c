// A CompletionEngine over llama.cpp's llama-server `/infill` endpoint (tools/server in llama.cpp; the request fields are
// those llama.vim / llama.vscode send): `input_prefix` / `input_suffix`, cross-file chunks as `input_extra`
// ({filename, text}: llama-server lays them out in the model's repository-level form, `<repo_name>` / `<file_sep>`, when
// its vocabulary has those tokens), `cache_prompt: true` and one slot per document (`id_slot`) so each document's prompt
// stays in its slot's KV cache between keystrokes, `t_max_predict_ms` as the server-side time limit once a line has
// ended. The FIM layout and tokenization happen on the server; our syntax plan (stop rule), post-processing and
// completion cache stay here, as in openai.ts. Only the configured URL is contacted; the API key goes into the
// Authorization header and nowhere else.
import { CompletionCache } from '../cache/completion-cache.js';
import type { EngineHooks } from '../config/engine.js';
import { planDecode } from '../engine/decode-plan.js';
import type { CompletionContext, CompletionEngine, CompletionResult, CrossFileContext } from '../engine/types.js';
import { LRUCache } from 'lru-cache';
import type { FarChoice, FarChoices } from '../prompt/far-context.js';
import { withFarText } from './far-text.js';
import { HttpError, failureMessage, httpUrl, jsonAnswer, keepAnswer, partialStream, remoteStatus, textOf, typedAheadAnswer } from './remote.js';
import { sseJson } from './sse.js';

export interface LlamaServerBackendOptions {
  /** Server base URL ('http://127.0.0.1:8012'); '/infill' is appended. http or https. */
  url: string;
  apiKey?: string;
  maxNewTokens: number;
  /** llama-server's `t_max_predict_ms`: after a newline, generation stops once it has run this long (default 1,000 ms). */
  tMaxPredictMs?: number;
  /** Whole-request time limit in ms (default 10,000): past it the request answers degraded. */
  timeoutMs?: number;
  /** Characters of prefix / suffix sent (default 3,000 / 1,000; the prefix is cut at a line start that moves in steps). */
  maxPrefixChars?: number;
  maxSuffixChars?: number;
  /**
   * 'document' (default): each document gets its own slot (`id_slot`), for a server this client has to itself;
   * 'server': no `id_slot`, llama-server picks the idle slot whose cached prompt is most similar (its
   * `--slot-prompt-similarity`), for a server shared by several clients, whose slot numbers would otherwise collide.
   */
  slots?: 'document' | 'server';
  /** Characters of cross-file chunks sent as `input_extra` (default 1,000). */
  maxContextChars?: number;
  /**
   * Characters of same-file far context (backend/far-text.ts) sent in `input_extra` after the cross-file chunks, on top
   * of maxContextChars (default 0, off; the setting `farContextTokens` × 4 where it or
   * its env INFILL_LS_FAR_CONTEXT_TOKENS is set: 1,536 for the engine's 384).
   */
  farContextChars?: number;
  log?: (message: string) => void;
}

/** The `/infill` endpoint of a configured base URL. Throws on a URL that is not http(s). */
export function infillUrl(base: string): URL {
  const u = httpUrl(base);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith('/infill') ? path : `${path}/infill`;
  return u;
}

/**
 * The last lines of `text` within about `maxChars`, cut at a line start found from a position that moves only in
 * `step`-character steps, so that while the user types at the end the cut (and with it the prompt's first tokens and
 * the server's cached KV prefix) stays put until the prefix has grown by `step` characters. At most `maxChars`
 * characters are returned; at least `maxChars - step - (length of the line at the cut)`. Pure.
 */
export function stableTail(text: string, maxChars: number, step = Math.max(1, Math.floor(maxChars / 4))): string {
  if (text.length <= maxChars) return text;
  const from = Math.ceil((text.length - maxChars) / step) * step;
  const nl = text.indexOf('\n', from - 1);
  if (nl < 0 || nl + 1 > text.length - 1) return text.slice(text.length - maxChars);
  return text.slice(nl + 1);
}

/** The first lines of `text` within `maxChars`. Pure. */
export function headLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.lastIndexOf('\n', maxChars);
  return cut < 0 ? text.slice(0, maxChars) : text.slice(0, cut + 1);
}

/** Cross-file chunks as llama-server's `input_extra`, in order, skipping those that do not fit `maxChars`. Pure. */
export function inputExtra(crossFile: CrossFileContext | undefined, maxChars: number): Array<{ filename: string; text: string }> {
  if (!crossFile || !Array.isArray(crossFile.chunks)) return [];
  let used = 0;
  const out: Array<{ filename: string; text: string }> = [];
  for (const c of crossFile.chunks) {
    const n = c.path.length + c.text.length + 2;
    if (used + n > maxChars) continue;
    used += n;
    out.push({ filename: c.path, text: c.text.endsWith('\n') ? c.text : `${c.text}\n` });
  }
  return out;
}

/** The `/infill` request body for a context (the fields llama-server reads; greedy sampling). Pure but for `extra.farChoices`, which it updates. */
export function infillBody(
  context: Pick<CompletionContext, 'documentKey' | 'prefix' | 'suffix' | 'crossFile'>,
  options: Pick<LlamaServerBackendOptions, 'maxNewTokens' | 'tMaxPredictMs' | 'maxPrefixChars' | 'maxSuffixChars' | 'maxContextChars' | 'farContextChars'>,
  extra: { idSlot?: number; stop?: string[]; stream?: boolean; farChoices?: FarChoices } = {},
): Record<string, unknown> {
  const inputPrefix = stableTail(context.prefix, options.maxPrefixChars ?? 3000);
  const inputSuffix = headLines(context.suffix, options.maxSuffixChars ?? 1000);
  // Same-file far context after the request's own chunks (backend/far-text.ts); its characters add to the budget.
  const far = withFarText(context, inputPrefix, inputSuffix, options.farContextChars ?? 0, extra.farChoices);
  return {
    input_prefix: inputPrefix,
    input_suffix: inputSuffix,
    input_extra: inputExtra(far.crossFile, (options.maxContextChars ?? 1000) + far.extraChars),
    prompt: '',
    n_predict: options.maxNewTokens,
    temperature: 0,
    top_k: 1,
    samplers: ['top_k'],
    cache_prompt: true,
    t_max_predict_ms: options.tMaxPredictMs ?? 1000,
    stream: extra.stream ?? true,
    ...(extra.stop && extra.stop.length ? { stop: extra.stop } : {}),
    ...(extra.idSlot !== undefined ? { id_slot: extra.idSlot } : {}),
  };
}

/** The final event's fields we read (llama-server's `to_json_non_oaicompat`). */
interface InfillEvent {
  content?: unknown;
  stop?: boolean;
  /** Why generation stopped: 'none' (still generating), 'eos', 'limit', 'word' (tools/server/README.md). */
  stop_type?: unknown;
  /** Older builds' form of `stop_type: 'limit'`. */
  stopped_limit?: unknown;
  tokens_evaluated?: number;
  tokens_cached?: number;
  tokens_predicted?: number;
  timings?: { cache_n?: number; prompt_n?: number; prompt_ms?: number; predicted_n?: number; predicted_ms?: number };
  error?: { message?: string; code?: number } | string;
}

/**
 * Whether llama-server's final answer (`/completion` and `/infill` response, tools/server/README.md in llama.cpp) says
 * generation stopped at a limit, so its text may end mid-expression: `stop_type: "limit"` — `n_predict` tokens, the
 * `t_max_predict_ms` time limit after a line break, or a full context — or, from builds before `stop_type`,
 * `stopped_limit: true`. `"eos"`, `"word"` (a stop string), `"none"`, any other value, a missing field or a value that
 * is not an object: false. Its `truncated` flag is not read: it says the context overflowed (a context shift, or in
 * older builds a cut prompt), which on its own does not end the answer early. Pure.
 */
export function stoppedAtLimit(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as InfillEvent;
  return typeof e.stop_type === 'string' ? e.stop_type === 'limit' : e.stopped_limit === true;
}

/**
 * Slots per document: a document keeps its slot until it closes or, with more documents than slots, until it is
 * the least recently completed one when a new document needs a slot. Pure (no I/O).
 */
export class SlotMap {
  private readonly slotOf = new Map<string, number>(); // insertion order = least recently used first
  private readonly free: number[];
  constructor(readonly slots: number) {
    this.free = Array.from({ length: slots }, (_, i) => i);
  }
  slot(documentKey: string): number {
    let s = this.slotOf.get(documentKey);
    if (s !== undefined) this.slotOf.delete(documentKey);
    else if (this.free.length) s = this.free.shift()!;
    else {
      const [evicted, slot] = this.slotOf.entries().next().value as [string, number];
      this.slotOf.delete(evicted);
      s = slot;
    }
    this.slotOf.set(documentKey, s);
    return s;
  }
  release(documentKey: string): void {
    const s = this.slotOf.get(documentKey);
    if (s === undefined) return;
    this.slotOf.delete(documentKey);
    this.free.push(s);
    this.free.sort((x, y) => x - y);
  }
}

/**
 * Creates the engine. The first completion asks `GET /props` for the server's `total_slots` (its `--parallel`) to
 * give documents their own slots; if that fails, requests go without `id_slot` (llama-server then picks the slot
 * whose cached prompt is most similar). The status message names the backend and, after a failure, its last error
 * until a request succeeds again.
 */
export function createLlamaServerEngine(options: LlamaServerBackendOptions): CompletionEngine & EngineHooks & { loaded: Promise<void> } {
  const endpoint = infillUrl(options.url);
  const describe = `llama-server ${endpoint.origin}${endpoint.pathname}`;
  const state = remoteStatus(describe, 'llama-server', options.log);
  const cache = new CompletionCache();
  /** Per document: the far-context snippets last chosen (backend/far-text.ts), so the server's cached prompt survives typing. */
  const farChoices = new LRUCache<string, FarChoice>({ max: 4096 });
  let disposed = false;
  const inflight = new Set<AbortController>();
  const headers = { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
  let slots: Promise<SlotMap | null> | null = null;

  const setStatus = state.set;
  const noteError = state.noteError;

  const slotMap = (): Promise<SlotMap | null> => {
    if (options.slots === 'server') return Promise.resolve(null);
    slots ??= (async () => {
      try {
        const res = await fetch(new URL('props', `${endpoint.origin}${endpoint.pathname.replace(/infill$/, '')}`), { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
        if (!res.ok) return null;
        const props = (await res.json()) as { total_slots?: unknown; model_path?: unknown; model_alias?: unknown };
        const model = typeof props.model_alias === 'string' && props.model_alias ? props.model_alias : typeof props.model_path === 'string' ? props.model_path.split(/[\\/]/).pop() : undefined;
        if (model) setStatus({ ...state.get(), model });
        return typeof props.total_slots === 'number' && props.total_slots >= 1 ? new SlotMap(Math.floor(props.total_slots)) : null;
      } catch {
        slots = null; // not reachable yet: ask again next time
        return null;
      }
    })();
    return slots;
  };

  async function complete(context: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult> {
    if (disposed || signal.aborted) return { kind: 'cancelled' };
    const t0 = performance.now();
    const typedAhead = typedAheadAnswer(cache, context, t0);
    if (typedAhead) return typedAhead;
    const plan = planDecode({ prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, trigger: context.trigger, lineMode: context.lineMode });
    const controller = new AbortController();
    inflight.add(controller);
    const onAbort = () => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(() => controller.abort(new Error('timeout')), timeoutMs);
    let firstByteMs = 0;
    let text = '';
    let final: InfillEvent | undefined;
    // True once our syntax plan ended the text (its stop rule): a limit the server reached after that does not count.
    let planCut = false;
    const partials = partialStream(onPartial);
    try {
      const map = await slotMap();
      if (signal.aborted) return { kind: 'cancelled' };
      const body = infillBody(context, options, { idSlot: map?.slot(context.documentKey), stop: plan.lineMode === 'single' ? ['\n'] : [], farChoices });
      const res = await fetch(endpoint, { method: 'POST', headers: { ...headers, accept: 'text/event-stream' }, body: JSON.stringify(body), signal: controller.signal });
      if (!res.ok) {
        const raw = (await res.text().catch(() => '')).slice(0, 300);
        let message = raw;
        try {
          const e = (JSON.parse(raw) as InfillEvent).error;
          message = typeof e === 'string' ? e : (e?.message ?? raw);
        } catch {
          /* not JSON: the raw text */
        }
        message = message.replace(/\s+/g, ' ').trim();
        throw new HttpError(`HTTP ${res.status}${message ? `: ${message}` : ''}`);
      }
      firstByteMs = performance.now() - t0;
      const cut = (): boolean => {
        const end = plan.stopAt(text);
        if (end === null) return false;
        text = text.slice(0, end);
        planCut = true;
        return true;
      };
      if ((res.headers.get('content-type') ?? '').includes('application/json')) {
        final = await jsonAnswer<InfillEvent>(res);
        text = textOf(final.content);
        cut();
      } else if (res.body) {
        let done = false;
        for await (const event of sseJson<InfillEvent>(res.body as unknown as AsyncIterable<Uint8Array>, ['data', 'error'])) {
          if (event.error) throw new HttpError(`server error: ${typeof event.error === 'string' ? event.error : (event.error.message ?? JSON.stringify(event.error))}`);
          const piece = textOf(event.content);
          text += piece;
          if (event.stop) {
            final = event;
            done = true;
          }
          if (cut()) done = true;
          if (piece) partials.send(text);
          if (done) break;
        }
        // Closing the connection makes llama-server cancel the task and free the slot.
        if (done && !final) controller.abort();
      }
      noteError(null);
      // Stopped by the server's token or time limit (and not by our plan): cut back to a balanced end like a local answer.
      const { shown, id } = keepAnswer(cache, context, plan, text, !planCut && stoppedAtLimit(final));
      partials.end(shown);
      const totalMs = performance.now() - t0;
      setStatus({ ...state.get(), lastLatencyMs: Math.round(totalMs) });
      const t = final?.timings;
      const cached = t?.cache_n ?? final?.tokens_cached ?? 0;
      return {
        kind: 'ok',
        candidates: shown ? [{ text: shown, score: 0 }] : [],
        timings: {
          totalMs,
          prefillMs: t?.prompt_ms ?? firstByteMs,
          decodeMs: t?.predicted_ms ?? totalMs - firstByteMs,
          prefillTokens: t?.prompt_n ?? 0,
          promptTokens: (t?.prompt_n ?? 0) + (t?.cache_n ?? 0) || (final?.tokens_evaluated ?? 0),
          generatedTokens: t?.predicted_n ?? final?.tokens_predicted ?? 0,
        },
        cache: final ? `remote:kv-prefix:${cached}` : 'remote',
        id,
        raw: text,
      };
    } catch (err) {
      if (signal.aborted || disposed) return { kind: 'cancelled' };
      const message = failureMessage(err, controller.signal.aborted, timeoutMs, endpoint.origin);
      noteError(message);
      return { kind: 'degraded', reason: `backend: ${message}` };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      inflight.delete(controller);
    }
  }

  /**
   * Background warming (as llama.vim's `n_predict: 0` requests): the document's prompt is prefilled into its slot, so
   * the next completion there only prefills what changed. At most one warm-up in flight; a completion does not wait
   * for it (llama-server queues the completion behind it on a pinned slot). Errors are ignored here: completions
   * report them.
   */
  let warming: AbortController | null = null;
  function warm(context: CompletionContext): void {
    if (disposed || warming) return;
    const controller = new AbortController();
    warming = controller;
    inflight.add(controller);
    const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
    void (async () => {
      try {
        const map = await slotMap();
        const body = { ...infillBody(context, options, { idSlot: map?.slot(context.documentKey), stream: false, farChoices }), n_predict: 0 };
        const res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal });
        await res.arrayBuffer();
      } catch {
        /* a failed warm-up costs nothing but the warm cache */
      } finally {
        clearTimeout(timer);
        inflight.delete(controller);
        if (warming === controller) warming = null;
      }
    })();
  }

  return {
    loaded: Promise.resolve(),
    complete,
    warm,
    onDocumentClosed(documentKey: string) {
      cache.deleteDocument(documentKey);
      void slots?.then((m) => m?.release(documentKey));
    },
    status: state.get,
    onStatus: state.onStatus,
    async dispose() {
      disposed = true;
      for (const c of inflight) c.abort();
      state.clear();
    },
  };
}
