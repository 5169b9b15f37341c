// The plain-data contract between every transport (LSP, WebSocket API, CLI) and the engine façade.
// Transports build a CompletionContext from a document snapshot; the engine returns a CompletionResult.
// Positions here are UTF-16 code-unit offsets into the document text (what LSP and JS strings use).

export interface CompletionContext {
  /** Stable key of the document (URI), used for per-file caches. */
  documentKey: string;
  /** Document version the context was built from (monotonic per document). */
  version: number;
  /** Language id as editors name it: typescript, typescriptreact, javascript, javascriptreact, python, ... */
  languageId: string;
  /** Text before the cursor (whole document prefix; the prompt builder trims it to its token budget). */
  prefix: string;
  /** Text after the cursor (whole document suffix). */
  suffix: string;
  /** Explicit (manual) trigger vs automatic (typing). */
  trigger: 'automatic' | 'manual';
  /** Force a single-line or multi-line completion (eval tasks know; editors leave it to the engine). */
  lineMode?: 'single' | 'multi';
  /** How many candidates the caller wants (manual trigger may ask for several). */
  maxCandidates?: number;
  /** Context from other files of the workspace (context/CrossFileContext builds it; absent: the current file only). */
  crossFile?: CrossFileContext;
}

/** One piece of another file put into the prompt. */
export interface CrossFileChunk {
  /** Workspace-relative path with '/' separators (what the repository-level format names the file by). */
  path: string;
  /**
   * The text: a definition (signature, body when small), a window of lines of a recently edited/viewed file, or
   * ('same-file') lines of the current document outside the prompt's window (engine/model-side.ts far context).
   */
  text: string;
  kind: 'definition' | 'recent' | 'same-file';
}

/**
 * Repository-level context of a completion, plain data. Chunks come in prompt order, most stable first; prompt
 * building keeps them while they fit `maxTokens` and drops the rest.
 */
export interface CrossFileContext {
  /** Repository name for `<repo_name>` (the workspace folder's name). */
  repoName: string;
  /** The current file's workspace-relative path ('' when unknown). */
  path: string;
  chunks: CrossFileChunk[];
  /** Token budget of all chunks together (default 256). */
  maxTokens?: number;
  /**
   * 'repo': the model's repository-level sentinels before the FIM prompt (StarCoder2 `<repo_name>`/`<file_sep>`,
   * Qwen2.5-Coder `<|repo_name|>`/`<|file_sep|>`), falling back to 'comment' without them; 'comment': the chunks as
   * line comments at the top of the prefix (Tabby's form). Default: 'repo' where the vocabulary has the sentinels
   * (as llama.cpp's /infill does), else 'comment'.
   */
  format?: 'repo' | 'comment';
}

export interface CompletionCandidate {
  /** Text inserted at the cursor. */
  text: string;
  /** Model score (mean log-probability per token), higher is better. */
  score: number;
}

export interface CompletionTimings {
  totalMs: number;
  prefillMs: number;
  decodeMs: number;
  /** Prompt tokens that had to be prefilled for this request (after any cache reuse). */
  prefillTokens: number;
  promptTokens: number;
  generatedTokens: number;
  /** Every token run through the model for the request (prefill, decode, self-infilling's extra passes and scoring). */
  modelTokens?: number;
}

export type CompletionResult =
  | {
      kind: 'ok';
      candidates: CompletionCandidate[];
      timings: CompletionTimings;
      /** How caches served it: kv-prefix:N, miss, off, completion-reuse, completion-reuse:speculative. */
      cache?: string;
      /** The engine's id of this completion (transports put it into items; accept events carry it back). */
      id?: string;
      /** The model's first choice before post-processing and syntax validation (eval, debugging). */
      raw?: string;
      /** Why the decode of `raw` stopped (stop-token, stop-at, max-tokens, …; eval, debugging). */
      stopReason?: string;
    }
  | { kind: 'cancelled' }
  | { kind: 'degraded'; reason: string };

export interface EngineStatus {
  state: 'loading' | 'ready' | 'degraded';
  device?: string;
  model?: string;
  message?: string;
  lastLatencyMs?: number;
}

/** The one façade every transport uses. Implementations never throw for cancellation: they return {kind:'cancelled'}. */
export interface CompletionEngine {
  complete(context: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult>;
  status(): EngineStatus;
  onStatus(listener: (status: EngineStatus) => void): () => void;
  dispose(): Promise<void>;
}

/** A client-side event about a completion the engine returned (editor telemetry, never required). */
export interface CompletionEvent {
  kind: 'shown' | 'accepted' | 'partiallyAccepted';
  /** Document URI the completion was for, when the client says. */
  uri?: string;
  /** Identifier the server put into the item's `data`/command arguments (the result's `id` when the engine gave one). */
  completionId?: string;
  /** For partial accepts: how many UTF-16 code units of the item were accepted. */
  acceptedLength?: number;
  /** The raw notification params, for engines that want more. */
  raw: unknown;
}
