// User settings of infill-ls: defaults, validation with precise messages, and partial updates.
//
// Pure: no I/O, never throws on user input. `applySettings` returns the merged settings plus
// one message per rejected field; rejected fields keep their previous value.

export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type DebounceMode = 'adaptive' | 'fixed';
/** 'fim': plain fill-in-the-middle; 'self-infill': self-infilling (engine/decode.ts, decoding/self-infill.ts). */
export type DecodeMode = 'fim' | 'self-infill';

/** FIM families a remote backend may serve (prompt/templates.ts). */
export const FIM_FAMILIES = ['qwen', 'starcoder', 'deepseek', 'codellama', 'codestral'] as const;

/**
 * Where completions are computed: 'local' (the in-process ONNX model, default) or an OpenAI-compatible server's
 * `/v1/completions` (the prompt, syntax plan, post-processing and completion cache stay in infill-ls).
 */
export type BackendSettings =
  | { kind: 'local' }
  | { kind: 'openai'; url: string; model: string; apiKey?: string; fim?: (typeof FIM_FAMILIES)[number] }
  /** llama.cpp's llama-server `/infill` (backend/llama-server.ts); `tMaxPredictMs` is its `t_max_predict_ms`. */
  | { kind: 'llama-server'; url: string; apiKey?: string; tMaxPredictMs?: number; slots?: 'document' | 'server' };

export interface DebounceSettings {
  /** 'adaptive': Tabby-style, from typing speed, context and expected latency; 'fixed': always `fixedMs`. */
  mode: DebounceMode;
  /** Delay in 'fixed' mode. */
  fixedMs: number;
  /** Lower clamp of the adaptive delay for automatic triggers (manual triggers never wait). */
  minMs: number;
  /** Upper clamp of the adaptive delay. */
  maxMs: number;
}

export interface Settings {
  /** Model directory in the HF/Optimum layout (config.json, tokenizer.json, onnx/model*.onnx). */
  modelDir: string;
  device: Device;
  /** Upper bound on generated tokens per completion. */
  maxNewTokens: number;
  /** Memory budget of the KV prefix caches, in MiB (the completion cache has its own 32 MiB, cache/completion-cache.ts). */
  cacheBudgetMb: number;
  decodeMode: DecodeMode;
  /** Self-infilling looping iterations, 0..2. */
  selfInfillLoops: number;
  /** Self-infilling confidence threshold (p_max below it interrupts or cuts), 0..1. */
  selfInfillTau: number;
  debounce: DebounceSettings;
  /** Enable per language id; '*' is the default for languages not listed. */
  enable: Record<string, boolean>;
  /**
   * Context from other files in the prompt (context/): definitions of imported symbols used near the cursor and
   * chunks of recently edited/viewed documents, read only from open documents and files under the workspace roots.
   * Default off (bench/results/cross-file.md: no gain on models/default).
   */
  crossFileContext: boolean;
  backend: BackendSettings;
  /**
   * The scheduler's chunk-size rule against prefill/decode interference (issue 17; TetriInfer / DistServe, scheduler.ts
   * `maxStallMs`), in ms, 0..60000: prefill runs are sized to take about this long and a request that only has to
   * decode goes before the rest of another document's prefill. 0: off. Unset: env INFILL_LS_MAX_STALL_MS, else off
   * (bench/results/accelerators.md: 100 for a server several users share).
   */
  maxStallMs?: number;
  /**
   * SCOPE's decode-phase KV budget (issue 17; decoding/generator.ts `decodeKvWindow`), in tokens, 0..65536: of the KV
   * a generation adds, only the newest this many positions are kept (CPU only). 0: off (unbounded). Unset: env
   * INFILL_LS_DECODE_KV_WINDOW, else off (bench/results/accelerators.md: 256 for long multi-line generations).
   */
  decodeKvWindow?: number;
  /**
   * Draft-and-verify decoding (issue 15; decoding/generator.ts `draftTokens`): most tokens drafted by prompt lookup
   * and verified in one model run, 0..64; greedy answers stay the plain decode's. 0: off. Unset: env
   * INFILL_LS_DRAFT_TOKENS, else the model side's default (engine/model-side.ts DEFAULT_DRAFT_TOKENS).
   */
  draftTokens?: number;
  /**
   * Our own WGSL decode step on WebGPU (issue 15; runtime/model.ts `LoadModelOptions.wgslDecode`, engine/model-side.ts
   * `ModelOptions.wgslDecode`): decode steps in our WGSL kernels instead of onnxruntime's. false: off. true: asked for
   * (where it cannot run, the ready status says why). Unset: env INFILL_LS_WGSL_DECODE (0 off), else on wherever it
   * can run (WebGPU, a model in the layout it reads, the `webgpu` package and an adapter present).
   */
  wgslDecode?: boolean;
  /**
   * Same-file far context (engine/model-side.ts `farContextTokens`, prompt/far-context.ts): tokens of snippets from the
   * current document outside the prompt's window, 0..8192; the prefix window gets half the prefix budget while it is on.
   * 0: off. Unset: env INFILL_LS_FAR_CONTEXT_TOKENS, else the model side's default (384; bench/results/far-context.md).
   */
  farContextTokens?: number;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  modelDir: 'models/default',
  device: 'auto',
  maxNewTokens: 64,
  cacheBudgetMb: 512,
  // Keep equal to engine/decode.ts DEFAULT_DECODE (test/config/settings.test.ts checks).
  decodeMode: 'fim',
  selfInfillLoops: 1,
  selfInfillTau: 0.25,
  debounce: Object.freeze({ mode: 'adaptive', fixedMs: 150, minMs: 100, maxMs: 1000 }) as DebounceSettings,
  enable: Object.freeze(enableMap({ '*': true })),
  // Off by default: on models/default (v3: repository-level sequences were 2.1% of its last stage's tokens) it moved
  // exact match and edit similarity within noise (bench/results/cross-file-v3.md), and it adds ~155 prompt tokens per request.
  crossFileContext: false,
  backend: Object.freeze({ kind: 'local' }) as BackendSettings,
});

/**
 * A per-language enable map without a prototype: language ids come from clients and may be Object.prototype keys
 * ("constructor", "toString", "__proto__"), which must read as absent, not as inherited functions (issue 13, item 6).
 */
export function enableMap(entries: Readonly<Record<string, boolean>> = {}): Record<string, boolean> {
  const map = Object.create(null) as Record<string, boolean>;
  for (const [lang, v] of Object.entries(entries)) map[lang] = v;
  return map;
}

/** The section name clients use (`"infill-ls": {...}` in VS Code settings or LSP initializationOptions). */
export const SETTINGS_SECTION = 'infill-ls';

export interface SettingsUpdate {
  settings: Settings;
  /** Human-readable messages, one per rejected field ("infill-ls.maxNewTokens must be ..."). */
  errors: string[];
  /** Top-level keys whose value changed. */
  changed: Array<keyof Settings>;
}

const DEVICES: readonly Device[] = ['auto', 'cpu', 'cuda', 'webgpu'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Finds our section in what a client sent: either `{ "infill-ls": {...} }`, `{ infillLs: {...} }`,
 * or the bare settings object. Returns undefined for null/undefined.
 */
export function extractSection(raw: unknown): unknown {
  if (raw === undefined || raw === null) return undefined;
  if (isRecord(raw)) {
    if (SETTINGS_SECTION in raw) return raw[SETTINGS_SECTION];
    if ('infillLs' in raw) return raw.infillLs;
  }
  return raw;
}

export function cloneSettings(s: Readonly<Settings>): Settings {
  return { ...s, debounce: { ...s.debounce }, enable: enableMap(s.enable), backend: { ...s.backend } };
}

function integerIn(name: string, v: unknown, min: number, max: number, errors: string[]): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
  errors.push(`${SETTINGS_SECTION}.${name} must be an integer in ${min}..${max}, got ${show(v)}`);
  return undefined;
}

/** Merges a partial, untrusted settings object into `base`. Unknown keys are reported, not fatal. */
export function applySettings(base: Readonly<Settings>, raw: unknown): SettingsUpdate {
  const next = cloneSettings(base);
  const errors: string[] = [];
  const section = extractSection(raw);
  if (section === undefined) return { settings: next, errors, changed: [] };
  if (!isRecord(section)) {
    errors.push(`${SETTINGS_SECTION} settings must be an object, got ${show(section)}`);
    return { settings: next, errors, changed: [] };
  }
  for (const [key, value] of Object.entries(section)) {
    if (value === undefined || value === null) continue; // unset: keep the current value
    switch (key) {
      case 'modelDir':
        if (typeof value === 'string' && value.trim().length > 0) next.modelDir = value;
        else errors.push(`${SETTINGS_SECTION}.modelDir must be a non-empty path, got ${show(value)}`);
        break;
      case 'device':
        if (typeof value === 'string' && (DEVICES as readonly string[]).includes(value)) next.device = value as Device;
        else errors.push(`${SETTINGS_SECTION}.device must be one of ${DEVICES.join(', ')}, got ${show(value)}`);
        break;
      case 'maxNewTokens': {
        const v = integerIn('maxNewTokens', value, 1, 1024, errors);
        if (v !== undefined) next.maxNewTokens = v;
        break;
      }
      case 'cacheBudgetMb': {
        const v = integerIn('cacheBudgetMb', value, 0, 65536, errors);
        if (v !== undefined) next.cacheBudgetMb = v;
        break;
      }
      case 'decodeMode':
        if (value === 'fim' || value === 'self-infill') next.decodeMode = value;
        else errors.push(`${SETTINGS_SECTION}.decodeMode must be "fim" or "self-infill", got ${show(value)}`);
        break;
      case 'selfInfillLoops': {
        const v = integerIn('selfInfillLoops', value, 0, 2, errors);
        if (v !== undefined) next.selfInfillLoops = v;
        break;
      }
      case 'selfInfillTau':
        if (typeof value === 'number' && value >= 0 && value <= 1) next.selfInfillTau = value;
        else errors.push(`${SETTINGS_SECTION}.selfInfillTau must be a number in 0..1, got ${show(value)}`);
        break;
      case 'debounce':
        applyDebounce(next, value, errors);
        break;
      case 'enable':
        applyEnable(next, value, errors);
        break;
      case 'backend':
        applyBackend(next, value, errors);
        break;
      case 'crossFileContext':
        if (typeof value === 'boolean') next.crossFileContext = value;
        else errors.push(`${SETTINGS_SECTION}.crossFileContext must be a boolean, got ${show(value)}`);
        break;
      case 'maxStallMs':
        if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 60000) next.maxStallMs = value;
        else errors.push(`${SETTINGS_SECTION}.maxStallMs must be an integer number of milliseconds in 0..60000 (0: off), got ${show(value)}`);
        break;
      case 'decodeKvWindow':
        if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65536) next.decodeKvWindow = value;
        else errors.push(`${SETTINGS_SECTION}.decodeKvWindow must be an integer number of tokens in 0..65536 (0: off), got ${show(value)}`);
        break;
      case 'draftTokens':
        if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 64) next.draftTokens = value;
        else errors.push(`${SETTINGS_SECTION}.draftTokens must be an integer number of tokens in 0..64 (0: off), got ${show(value)}`);
        break;
      case 'wgslDecode':
        if (typeof value === 'boolean') next.wgslDecode = value;
        else errors.push(`${SETTINGS_SECTION}.wgslDecode must be a boolean, got ${show(value)}`);
        break;
      case 'farContextTokens':
        if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 8192) next.farContextTokens = value;
        else errors.push(`${SETTINGS_SECTION}.farContextTokens must be an integer number of tokens in 0..8192 (0: off), got ${show(value)}`);
        break;
      default:
        errors.push(`${SETTINGS_SECTION}.${key} is not a known setting (known: modelDir, device, maxNewTokens, cacheBudgetMb, decodeMode, selfInfillLoops, selfInfillTau, debounce, enable, crossFileContext, backend, maxStallMs, decodeKvWindow, draftTokens, wgslDecode, farContextTokens)`);
    }
  }
  const changed = (Object.keys(next) as Array<keyof Settings>).filter((k) => show(next[k]) !== show(base[k]));
  return { settings: next, errors, changed };
}

function applyBackend(next: Settings, value: unknown, errors: string[]): void {
  const name = `${SETTINGS_SECTION}.backend`;
  if (!isRecord(value) || (value.kind !== 'local' && value.kind !== 'openai' && value.kind !== 'llama-server')) {
    errors.push(`${name} must be {kind: "local"}, {kind: "openai", url, model, apiKey?, fim?} or {kind: "llama-server", url, apiKey?, tMaxPredictMs?, slots?}, got ${show(value)}`);
    return;
  }
  if (value.kind === 'local') {
    next.backend = { kind: 'local' };
    return;
  }
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = typeof value.url === 'string' ? new URL(value.url) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.push(`url must be an http(s) URL, got ${show(value.url)}`);
  if (value.kind === 'openai' && (typeof value.model !== 'string' || value.model.trim() === '')) problems.push(`model must be a non-empty string, got ${show(value.model)}`);
  if (value.apiKey !== undefined && typeof value.apiKey !== 'string') problems.push('apiKey must be a string');
  const t = value.tMaxPredictMs;
  if (value.kind === 'llama-server') {
    if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 60000)) problems.push(`tMaxPredictMs must be an integer from 0 to 60000 (ms), got ${show(t)}`);
    if (value.slots !== undefined && value.slots !== 'document' && value.slots !== 'server') problems.push(`slots must be "document" or "server", got ${show(value.slots)}`);
  } else if (value.fim !== undefined && !(FIM_FAMILIES as readonly unknown[]).includes(value.fim)) {
    problems.push(`fim must be one of ${FIM_FAMILIES.join(', ')}, got ${show(value.fim)}`);
  }
  if (problems.length) {
    errors.push(`${name}: ${problems.join('; ')}`);
    return;
  }
  const apiKey = typeof value.apiKey === 'string' ? { apiKey: value.apiKey } : {};
  next.backend = value.kind === 'llama-server'
    ? {
        kind: 'llama-server',
        url: value.url as string,
        ...apiKey,
        ...(typeof t === 'number' ? { tMaxPredictMs: t } : {}),
        ...(value.slots !== undefined ? { slots: value.slots as 'document' | 'server' } : {}),
      }
    : {
        kind: 'openai',
        url: value.url as string,
        model: value.model as string,
        ...apiKey,
        ...(value.fim !== undefined ? { fim: value.fim as (typeof FIM_FAMILIES)[number] } : {}),
      };
}

function applyDebounce(next: Settings, value: unknown, errors: string[]): void {
  // A bare number means a fixed delay: `"debounce": 0` turns debouncing off.
  if (typeof value === 'number') {
    const v = integerIn('debounce', value, 0, 10000, errors);
    if (v !== undefined) next.debounce = { ...DEFAULT_SETTINGS.debounce, mode: 'fixed', fixedMs: v };
    return;
  }
  if (!isRecord(value)) {
    errors.push(`${SETTINGS_SECTION}.debounce must be a number (fixed ms) or {mode, fixedMs, minMs, maxMs}, got ${show(value)}`);
    return;
  }
  // An object replaces the old debounce setting: keys it leaves out take their defaults, not their old values.
  const d = { ...DEFAULT_SETTINGS.debounce };
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (key === 'mode') {
      if (v === 'adaptive' || v === 'fixed') d.mode = v;
      else errors.push(`${SETTINGS_SECTION}.debounce.mode must be "adaptive" or "fixed", got ${show(v)}`);
    } else if (key === 'fixedMs' || key === 'minMs' || key === 'maxMs') {
      const n = integerIn(`debounce.${key}`, v, 0, 10000, errors);
      if (n !== undefined) d[key] = n;
    } else {
      errors.push(`${SETTINGS_SECTION}.debounce.${key} is not a known setting (known: mode, fixedMs, minMs, maxMs)`);
    }
  }
  if (d.minMs > d.maxMs) {
    errors.push(`${SETTINGS_SECTION}.debounce.minMs (${d.minMs}) must not exceed debounce.maxMs (${d.maxMs})`);
    return;
  }
  next.debounce = d;
}

function applyEnable(next: Settings, value: unknown, errors: string[]): void {
  if (typeof value === 'boolean') {
    next.enable = enableMap({ '*': value });
    return;
  }
  if (!isRecord(value)) {
    errors.push(`${SETTINGS_SECTION}.enable must be a boolean or an object of languageId → boolean, got ${show(value)}`);
    return;
  }
  // The pushed map replaces the old one, as VS Code's configuration model does (a language left out of it is no
  // longer disabled); an invalid entry is reported and that language keeps its old value (a map with no valid entry
  // keeps the old map).
  const old = next.enable;
  const e: Record<string, boolean> = Object.create(null) as Record<string, boolean>;
  let valid = 0;
  for (const [lang, v] of Object.entries(value)) {
    if (typeof v === 'boolean') {
      e[lang] = v;
      valid++;
    } else {
      errors.push(`${SETTINGS_SECTION}.enable.${lang} must be a boolean, got ${show(v)}`);
      if (Object.hasOwn(old, lang)) e[lang] = old[lang]!;
    }
  }
  if (valid > 0 || Object.keys(value).length === 0) next.enable = enableMap(e);
}

/** Whether completion is on for `languageId`: its own entry, else '*', else true. Only own entries count. */
export function isLanguageEnabled(settings: Readonly<Settings>, languageId: string): boolean {
  const own = (key: string): boolean | undefined => (Object.hasOwn(settings.enable, key) && typeof settings.enable[key] === 'boolean' ? settings.enable[key] : undefined);
  return own(languageId) ?? own('*') ?? true;
}

/** Settings that require a new engine when they change (the others are read per request). */
export const ENGINE_SETTINGS: ReadonlyArray<keyof Settings> = ['modelDir', 'device', 'maxNewTokens', 'cacheBudgetMb', 'decodeMode', 'selfInfillLoops', 'selfInfillTau', 'backend', 'maxStallMs', 'decodeKvWindow', 'draftTokens', 'wgslDecode', 'farContextTokens'];
