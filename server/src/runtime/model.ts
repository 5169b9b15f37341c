// Loads an HF/Optimum-layout decoder model into an onnxruntime-node session and runs forward passes over a KvCache.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { ModelLoadError, errorText } from '../util/errors.js';
import { createTensor, InferenceSession, supportedBackends, type Session, type SessionOptions, type Tensor } from './ort.js';
import {
  ATTENTION_BIAS,
  ATTENTION_MASK,
  CACHE_POSITION,
  INPUT_IDS,
  LOGITS,
  LOGITS_INDEX,
  LOGITS_POSITIONS,
  POSITION_IDS,
  USE_CACHE_BRANCH,
  readLayout,
  type ModelLayout,
} from './layout.js';
import { KvCache } from './kv-cache.js';
import { createGpuDownloader, createGpuSlicer, type KvDownloader, type KvSlicer } from './kv-slice.js';
import type { WgslDecoder } from './wgsl-decode.js';
import { externalDataOf, resolveModelFiles, type ModelDtype, type ModelFiles } from './model-files.js';
import { chooseAutoDevice, matmulWeightsFromConfig, missingProvider, weightsFromFileBytes } from './device-rule.js';
import { scanOnnxGraph } from './onnx-scan.js';
import { gpuDeviceNodes } from './gpu-nodes.js';
import { foldDequantization } from './fold.js';
import { addLogitsLse, keepLastLogits, LOGITS_LSE_OUTPUT } from './last-logits.js';
import { critiPrefillMinPast, critiPrefillTwinPath, readCritiPrefillParams, type CritiPrefillParams } from './critiprefill.js';
import { describeLazyLlm, lazyLlmTwinPath, readLazyLlmParams, type LazyLlmParams } from './lazyllm.js';
import { findKvRunaheadGroups, KvRunaheadPool, type KvRunaheadRun } from './kv-runahead.js';
import { halvesToFloats } from './half.js';

export { halfToFloat, halvesToFloats } from './half.js';

export type DeviceRequest = 'auto' | 'cpu' | 'webgpu' | 'cuda';
export type Device = 'cpu' | 'webgpu' | 'cuda';
export type WebGpuValidation = 'disabled' | 'wgpuOnly' | 'basic' | 'full';
const WEBGPU_VALIDATION: readonly WebGpuValidation[] = ['disabled', 'wgpuOnly', 'basic', 'full'];

export interface LoadModelOptions {
  modelDir: string;
  /**
   * 'auto' (default): WebGPU when the measured rule in device-rule.ts picks it for this model (matrix-product weights
   * per token ≥ 100M, no CPU-only integer MatMul) and a GPU adapter exists, else the CPU; says why through onStatus
   * (on an onnxruntime-node build without a WebGPU provider, e.g. linux/arm64: "webgpu unavailable: this
   * onnxruntime-node build (linux/arm64) has no WebGPU provider (it has: cpu)"). 'webgpu' / 'cuda': that device or a
   * ModelLoadError 'device-unavailable' (never a silent CPU fallback), also when the build lacks its provider.
   */
  device?: DeviceRequest;
  /** Weight variant; 'auto' (default): config.json's dtype, else quantized→fp32 on CPU, fp16→fp32 on GPU. */
  dtype?: ModelDtype | 'auto';
  /** CPU threads within one operator; default: onnxruntime's own choice (physical cores). */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /**
   * Let onnxruntime's thread pools spin-wait between work items (session.intra_op/inter_op.allow_spinning). Default
   * false (env INFILL_LS_ORT_SPIN=1 turns it on): under CPU load spinning threads steal the cores the work needs
   * (issue 11: decode step 80–88 ms spinning vs 29–33 ms not, ~8 runnable processes on 2 cores), and measured quiet
   * it did not win either (bench/runtime/spin.mjs → bench/results/spin-cpu.md).
   */
  allowSpinning?: boolean;
  /**
   * `device: auto` tries WebGPU only for models whose matrix products read at least this many weights per token
   * (device-rule.ts). Default: env INFILL_LS_WEBGPU_MIN_WEIGHTS (a number, e.g. 0 or 5e7), else
   * WEBGPU_MIN_MATMUL_WEIGHTS (100M, measured). For a GPU/CPU pair unlike the measured one, and for tests.
   */
  webgpuMinWeights?: number;
  /**
   * Dawn/onnxruntime validation of WebGPU commands (the WebGPU provider's `validationMode`): 'basic' is onnxruntime's
   * default; 'disabled' skips Dawn's validation of every dispatch, a CPU cost per kernel that a decode step pays a few
   * hundred times (bench/results/real-models-gpu.md measures both). Default: env INFILL_LS_WEBGPU_VALIDATION
   * (disabled | wgpuOnly | basic | full; anything else is ignored), else onnxruntime's default.
   */
  webgpuValidation?: WebGpuValidation;
  /**
   * Fold a q8w graph's weight dequantization (native/py/dequant_graph.py) in our own memory before onnxruntime sees
   * the model (runtime/fold.ts: same fp32 weights bit for bit, without onnxruntime's constant-folding intermediates,
   * which glibc kept as RSS). Default true; env INFILL_LS_FOLD=0 turns it off (for side-by-side measurements).
   */
  foldAtLoad?: boolean;
  /**
   * Cut the LM head to the last position when the graph computes logits for every position (runtime/last-logits.ts:
   * the runtime reads only the last row). Default true; env INFILL_LS_LAST_LOGITS=0 turns it off.
   */
  lastLogitsOnly?: boolean;
  /**
   * On the CPU and WebGPU, add a graph output with log Σ exp of each logits row the graph returns (last-logits.ts
   * `addLogitsLse`) to graphs whose logits are only the rows asked for (cut at load, or `logits_index` /
   * `num_logits_to_keep`), float32 or float16, so decoding skips its own pass of exp over the vocabulary
   * (`LoadedModel.rowLse`). Default true; env INFILL_LS_LOGITS_LSE=0 turns it off (side-by-side measurements).
   */
  logitsLse?: boolean;
  /**
   * CritiPrefill (issue 17, arXiv 2409.12490): also open the model's twin graph `onnx/model{suffix}_critiprefill.onnx`
   * (native/py/critiprefill.py) and run on it every prefill run of 2+ tokens whose past reaches
   * critiPrefillMinPast (there it attends to its budget of past KV blocks only); decoding, shorter pasts and packed
   * prefill stay on the plain graph. Approximate by design (later layers' K/V come from pruned attention). A missing
   * or mismatched twin leaves it off and says why through onStatus. Default false; env INFILL_LS_CRITIPREFILL=1 turns it on.
   */
  critiPrefill?: boolean;
  /** Past (positions) from which prefill runs go to the twin; default critiPrefillMinPast (the first past it prunes). Tests and benchmarks. */
  critiPrefillMinPast?: number;
  /**
   * LazyLLM (issue 17, arXiv 2407.14057): also open the model's twin graph `onnx/model{suffix}_lazyllm.onnx`
   * (native/py/lazyllm.py) and run on it every prefill run of lazyLlmMinTokens+ tokens: from its schedule's layers on it
   * computes queries, O-projection and MLP only for the run's tokens its last token attends to most, and K/V for all
   * of them from their (possibly stale) hidden states, so the cache keeps the plain layout and length. Approximate by
   * design (later layers' K/V and the pruned rows). Decoding, shorter runs and packed prefill stay on the plain graph;
   * a run that CritiPrefill takes stays CritiPrefill's. A missing or mismatched twin leaves it off and says why through
   * onStatus. Default false; env INFILL_LS_LAZYLLM=1 turns it on.
   */
  lazyLlm?: boolean;
  /** Smallest prefill run (tokens) that goes to the LazyLLM twin (default 128; env INFILL_LS_LAZYLLM_MIN_TOKENS). */
  lazyLlmMinTokens?: number;
  /**
   * KV-Runahead (issue 17, arXiv 2405.05329): this many worker threads (2+), each with `kvRunaheadThreads` intra-op
   * threads and its own sessions over the model's layer groups `onnx/model{suffix}_runahead{k}of{n}.onnx`
   * (native/py/kv_runahead.py), compute a forward run of kvRunaheadMinTokens+ tokens as context partitions balanced for
   * the causal cost, handing each layer group's K/V forward (runtime/kv-runahead.ts). The cache it leaves has the plain
   * layout; the logits are the plain graph's within float rounding. CPU only. Missing groups leave it off, said through
   * onStatus. Default 0 (off); env INFILL_LS_KV_RUNAHEAD=N turns it on with N workers.
   */
  kvRunahead?: number;
  /** Intra-op threads of each KV-Runahead worker's sessions (default 1; env INFILL_LS_KV_RUNAHEAD_THREADS). */
  kvRunaheadThreads?: number;
  /** Smallest forward run (tokens) that goes to KV-Runahead (default 1024; env INFILL_LS_KV_RUNAHEAD_MIN_TOKENS). */
  kvRunaheadMinTokens?: number;
  /** Tokens per run inside a partition (default 256, the plain chunked prefill's). */
  kvRunaheadChunk?: number;
  /** partitionForCausalCost's `span` (positions; default 2048). */
  kvRunaheadSpan?: number;
  /**
   * Our own WebGPU decode step (issue 15, runtime/wgsl-decode.ts): on WebGPU, single-token forward runs (decode steps)
   * of an onnxruntime-genai-layout int4 Qwen2 model as native/py/qwen_models.py writes it go to WGSL kernels with a
   * static KV cache instead of onnxruntime; prefill stays onnxruntime's, and the prompt's K/V rows are handed over
   * (copied to the host and up once per sequence, then only the new rows). Needs the optional `webgpu` package. A
   * model it cannot read, a missing package or adapter leave it off and say why through onStatus ("wgslDecode off:"
   * when asked for, "wgslDecode not used:" by default). Default: env INFILL_LS_WGSL_DECODE (0 off, anything else on),
   * else on for WebGPU (bench/results/real-models-gpu-s16.md: 3.1 vs 10.9 ms a token at the 1.5B shape on an H200).
   */
  wgslDecode?: boolean;
  /** Rows of the WGSL decoder's KV cache (default 8,192, capped by the model's positions); longer sequences decode in onnxruntime. Env INFILL_LS_WGSL_MAX_CONTEXT. */
  wgslMaxContext?: number;
  /** The WGSL decoder's speculative next step (wgsl-decode.ts WgslDecoderOptions.speculate); default true, env INFILL_LS_WGSL_SPECULATE=0 turns it off. */
  wgslSpeculate?: boolean;
  /**
   * Sequences whose K/V the WGSL decoder keeps at once (its KV slots, each of wgslMaxContext rows; default 2, env
   * INFILL_LS_WGSL_SLOTS): a sequence that decodes again while it still has its slot hands over only its new rows.
   */
  wgslSlots?: number;
  /** Human-readable progress and fallback messages. */
  onStatus?: (message: string) => void;
}

export interface ForwardOptions {
  /** 'last' (default): return the last position's logits row (the last `rows`); 'none': the caller only wants the KV appended. */
  logits?: 'last' | 'none';
  /**
   * With logits 'last': how many of the run's last positions to return, 1..seq (default 1): [rows × vocab] float32,
   * row after row (draft-and-verify decoding checks the rows of the drafted tokens it ran: decoding/generator.ts). A
   * run with rows > 1 goes to the plain graph (never a CritiPrefill/LazyLLM twin or KV-Runahead); a graph that takes
   * `logits_index` gets those positions, one that takes `num_logits_to_keep` that count, one runtime/last-logits.ts
   * cut them through its positions input, an uncut graph computes every row and the last `rows` are returned.
   */
  rows?: number;
}

/** The WGSL decode step in use (LoadModelOptions.wgslDecode). */
export interface WgslDecodeInfo {
  adapter: string;
  /** Rows of each of its KV caches, and how many sequences it keeps at once. */
  maxContext: number;
  slots: number;
  weightBytes: number;
  /** Steps run, speculative steps used and dropped (live counters). */
  counts: { steps: number; speculated: number; dropped: number };
  /** The last hand-over of K/V rows from onnxruntime: rows, ms to copy them to the host, ms to write them up. */
  lastHandOver?: { rows: number; downloadMs: number; writeMs: number };
}

/** A loaded model: one session, its layout, and forward passes over caller-owned KV caches. */
export interface LoadedModel {
  readonly files: ModelFiles;
  readonly device: Device;
  /** Why the requested device was not used (auto fallback), if it was not. */
  readonly fallbackReason: string | undefined;
  /** Weights whose 8-bit dequantization runtime/fold.ts folded before the session was created (0: loaded as the file is). */
  readonly foldedWeights: number;
  readonly layout: ModelLayout;
  /** Rows of the logits (the LM head size). */
  readonly vocabSize: number;
  /** The CritiPrefill twin in use (LoadModelOptions.critiPrefill), with its file and the past from which it runs. */
  readonly critiPrefill: (CritiPrefillParams & { file: string; minPast: number }) | undefined;
  /** Forward runs that went to the CritiPrefill twin since load. */
  readonly critiPrefillRuns: number;
  /** The LazyLLM twin in use (LoadModelOptions.lazyLlm), with its file and the smallest run it takes. */
  readonly lazyLlm: (LazyLlmParams & { file: string; minTokens: number }) | undefined;
  /** Forward runs that went to the LazyLLM twin since load. */
  readonly lazyLlmRuns: number;
  /** KV-Runahead in use (LoadModelOptions.kvRunahead): workers, layer groups, the smallest run it takes. */
  readonly kvRunahead: { workers: number; groups: number; threads: number; minTokens: number; chunk: number } | undefined;
  /** The WGSL decode step in use (LoadModelOptions.wgslDecode): adapter, KV rows, weight bytes; and steps it ran since load. */
  readonly wgslDecode: WgslDecodeInfo | undefined;
  readonly wgslSteps: number;
  /** Forward runs that went to KV-Runahead since load, and the last one's partitions and worker times. */
  readonly kvRunaheadRuns: number;
  readonly kvRunaheadLast: KvRunaheadRun | undefined;
  createCache(): KvCache;
  /**
   * Appends `ids` to `cache` in one run. Returns the last position's logits, a [vocab] float32 view
   * (valid until the next forward on any cache), or null with logits 'none'; with `rows` n > 1 the last n
   * positions' rows, [n × vocab] float32. Throws RangeError for rows outside 1..ids.length.
   */
  forward(ids: ArrayLike<number>, cache: KvCache, options?: ForwardOptions): Promise<Float32Array | null>;
  /**
   * log Σ exp over the vocabulary of each row of `logits`, an array this model's `forward` returned ([rows × vocab]
   * → [rows] float32, row order), when the graph computed them (`LoadModelOptions.logitsLse`; float32 rounding of the
   * sum); undefined for any other array, and for runs whose graph has no such output (the switch off, uncut graphs,
   * other devices, KV-Runahead prefills): the caller computes them from the row.
   */
  rowLse(logits: Float32Array): Float32Array | undefined;
  /** True when this model's graph computes the log Σ exp output (see rowLse). */
  readonly computesLse: boolean;
  /**
   * Packed layout only: runs `segments` (each non-empty) concatenated in one forward pass with position_ids
   * restarting at 0 per segment and a block-diagonal causal attention_bias, then splits the present K/V
   * into one new cache per segment (length = segment length; on WebGPU the split runs on the GPU). No logits
   * are returned. See packed-prefill.ts.
   */
  forwardPacked(segments: readonly (readonly number[])[]): Promise<KvCache[]>;
  dispose(): Promise<void>;
}

const NEG_INF_BIAS = -1e9;

/** Classifies a provider failure for a status line. */
export function describeProviderFailure(device: Device, e: unknown): string {
  const text = errorText(e);
  if (/adapter/i.test(text)) return `no GPU adapter (${text})`;
  if (/shared librar|\.so\b|cannot open shared object|dll/i.test(text)) return `${device === 'cuda' ? 'CUDA' : device} libraries missing (${text})`;
  if (/NOT_IMPLEMENTED|not implemented|Could not find an implementation|unsupported/i.test(text)) return `unsupported operator (${text})`;
  return text;
}

function presentNamesFromConfig(config: Record<string, unknown>): string[] | null {
  const n = [config['num_hidden_layers'], config['n_layer'], config['num_layers']].find((v) => typeof v === 'number') as number | undefined;
  if (!n) return null;
  const parts = config['model_type'] === 'gpt_bigcode' ? ['key_value'] : ['key', 'value'];
  const names: string[] = [];
  for (let i = 0; i < n; i++) for (const p of parts) names.push(`present.${i}.${p}`);
  return names;
}

function sessionOptions(device: Device, opts: LoadModelOptions, presentNames: readonly string[] | null): SessionOptions {
  const spin = opts.allowSpinning ?? envOn('INFILL_LS_ORT_SPIN');
  const validation = opts.webgpuValidation ?? envWebgpuValidation().value;
  // Env INFILL_LS_ORT_PROFILE=<file prefix>: onnxruntime's own per-node trace (JSON) of every run, for benchmarks.
  const profile = process.env.INFILL_LS_ORT_PROFILE?.trim();
  const o: SessionOptions = {
    executionProviders: [device === 'webgpu' && validation ? { name: 'webgpu', validationMode: validation } : device],
    ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(opts.intraOpNumThreads ? { intraOpNumThreads: opts.intraOpNumThreads } : {}),
    ...(opts.interOpNumThreads ? { interOpNumThreads: opts.interOpNumThreads } : {}),
    // Session config entries (onnxruntime_session_options_config_keys.h); the Node binding takes string values.
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' }, inter_op: { allow_spinning: spin ? '1' : '0' } } },
  };
  if (device === 'webgpu' && presentNames) {
    // Keep present.* on the GPU and feed them back as past: no host round trip of the whole cache per step.
    // Only the presents: onnxruntime-node 1.30 aborts the process when `logits` is a gpu-buffer output
    // (measured on an H200, 2026-11-26), so logits stay on the CPU.
    return { ...o, preferredOutputLocation: Object.fromEntries(presentNames.map((n) => [n, 'gpu-buffer' as const])) };
  }
  return o;
}

/** Weight variants that can hold dequant_graph.py's 8-bit chains (the only ones fold.ts reads). */
const FOLDABLE_DTYPES: ReadonlySet<ModelDtype> = new Set(['quantized', 'int8', 'uint8', 'bnb4']);

/**
 * Largest graph file read into memory for the load-time edits (logits cut, dequantization fold); the default model's
 * (v2) is 18.50 MB (models/default/README.md; v1's, the default until issue 16, was 19.6 MB).
 */
const FOLD_MAX_FILE_BYTES = 256 * 1024 * 1024;

/**
 * The model as onnxruntime should open it: the file's path, or its bytes edited in memory (the user's file is never
 * written) when an edit applies and the graph file is at most FOLD_MAX_FILE_BYTES (weights outside it are read by
 * onnxruntime from the model's folder, see createSession):
 * - the LM head cut to the last position (last-logits.ts) unless the graph already takes `logits_index` or
 *   `num_logits_to_keep` (INFILL_LS_LAST_LOGITS=0 or `lastLogitsOnly: false` turns it off);
 * - on the CPU and WebGPU, for such graphs (float32 or float16 logits), an output with each row's log Σ exp
 *   (last-logits.ts `addLogitsLse`; INFILL_LS_LOGITS_LSE=0 or `logitsLse: false` turns it off);
 * - the weight dequantization folded (fold.ts) when the graph has native/py/dequant_graph.py's chains and keeps its
 *   weights inside the file (INFILL_LS_FOLD=0 or `foldAtLoad: false` turns it off).
 */
function modelSource(files: ModelFiles, device: Device, opts: LoadModelOptions): { source: string | Uint8Array; foldedWeights: number } {
  const asFile = { source: files.onnxPath, foldedWeights: 0 };
  const wantFold = (opts.foldAtLoad ?? process.env.INFILL_LS_FOLD?.trim() !== '0') && !files.externalDataPath && FOLDABLE_DTYPES.has(files.dtype);
  const wantCut = opts.lastLogitsOnly ?? process.env.INFILL_LS_LAST_LOGITS?.trim() !== '0';
  // On the CPU and on WebGPU (where the Σ exp pass then runs on the GPU and one float per row comes back).
  const wantLse = wantCut && (device === 'cpu' || device === 'webgpu') && (opts.logitsLse ?? process.env.INFILL_LS_LOGITS_LSE?.trim() !== '0');
  if (!wantFold && !wantCut) return asFile;
  let size: number;
  try {
    size = fs.statSync(files.onnxPath).size;
  } catch {
    return asFile; // onnxruntime reports the missing file
  }
  if (size > FOLD_MAX_FILE_BYTES) return asFile;
  let bytes: Uint8Array = fs.readFileSync(files.onnxPath);
  let edited = false;
  let foldedWeights = 0;
  if (wantCut) {
    const cut = keepLastLogits(bytes, files.ioNames?.logits ?? LOGITS);
    if (cut.bytes) {
      releaseNow(bytes.buffer);
      bytes = cut.bytes;
      edited = true;
    }
    // Only where the graph returns the rows asked for: on every row of a prefill run it would cost seq rows.
    const lse = wantLse && (cut.bytes || cut.selected) ? addLogitsLse(bytes, files.ioNames?.logits ?? LOGITS) : null;
    if (lse?.bytes) {
      releaseNow(bytes.buffer);
      bytes = lse.bytes;
      edited = true;
    }
  }
  if (wantFold) {
    const folded = foldDequantization(bytes);
    if (folded.bytes) {
      releaseNow(bytes.buffer);
      bytes = folded.bytes;
      edited = true;
      foldedWeights = folded.weights;
    }
  }
  if (!edited) {
    releaseNow(bytes.buffer);
    return asFile;
  }
  return { source: bytes, foldedWeights };
}

/**
 * Frees an ArrayBuffer's memory now instead of at some later garbage collection (the edited graph's bytes, which
 * onnxruntime has copied; an idle worker may not collect for a long time. They were ~88 MB with v1, the default model
 * until issue 16, whose fold made 75 MB of fp32 weights (2026-11-30); v2's fold makes one 16.8 MB fp32 weight,
 * models/default/README.md): transferring it in a message to a closed port detaches it, and the undelivered message,
 * with the backing store, is dropped on the next turn of the loop.
 * The caller must hold no other view of it.
 */
function releaseNow(buffer: ArrayBufferLike): void {
  if (!(buffer instanceof ArrayBuffer)) return;
  const { port1, port2 } = new MessageChannel();
  port2.close();
  try {
    port1.postMessage(null, [buffer]);
  } catch {
    // not transferable (e.g. a pooled Buffer's shared slab): the garbage collector frees it
  }
  port1.close();
}

async function createSession(source: string | Uint8Array, options: SessionOptions, files: ModelFiles): Promise<Session> {
  if (typeof source === 'string') return await InferenceSession.create(source, options);
  // A graph given as bytes has no folder of its own: its external weights (model.onnx.data) are read from the
  // model's folder (session config key session.model_external_initializers_file_folder_path).
  const extra = (options.extra ?? {}) as { session?: Record<string, unknown> };
  const withFolder: SessionOptions = files.externalDataPath
    ? { ...options, extra: { ...extra, session: { ...extra.session, model_external_initializers_file_folder_path: path.dirname(files.onnxPath) } } }
    : options;
  return await InferenceSession.create(source, withFolder);
}

/** Opens one graph file on the CPU as loadModel opens the model's graph (its load-time edits included): KV-Runahead's workers. */
export async function openCpuGraph(files: ModelFiles, opts: LoadModelOptions): Promise<Session> {
  return (await openSession(files, 'cpu', opts)).session;
}

async function openSession(files: ModelFiles, device: Device, opts: LoadModelOptions): Promise<{ session: Session; foldedWeights: number }> {
  // onnxruntime copies a model given as bytes while it creates the session, so the folded bytes go as soon as the
  // session(s) exist, or creation failed.
  const { source, foldedWeights } = modelSource(files, device, opts);
  try {
    return { session: await openSessionFrom(source, files, device, opts), foldedWeights };
  } finally {
    if (typeof source !== 'string') {
      releaseNow(source.buffer);
      await new Promise((resolve) => setImmediate(resolve)); // the dropped message frees the bytes on this turn
    }
  }
}

async function openSessionFrom(source: string | Uint8Array, files: ModelFiles, device: Device, opts: LoadModelOptions): Promise<Session> {
  if (device !== 'webgpu') return await createSession(source, sessionOptions(device, opts, null), files);
  const guessed = presentNamesFromConfig(files.config);
  if (guessed) {
    try {
      return await createSession(source, sessionOptions(device, opts, guessed), files);
    } catch (e) {
      // A wrong guess of the output names (config.json disagrees with the graph) is retried below;
      // any other failure is the caller's to classify.
      if (!/preferredOutputLocation|output name|not found|invalid/i.test(errorText(e))) throw e;
    }
  }
  // Learn the real output names from a plain session, then open the one that keeps presents on the GPU.
  const probe = await createSession(source, sessionOptions(device, opts, null), files);
  const names = probe.outputNames.filter((n) => n !== LOGITS);
  await probe.release();
  return await createSession(source, sessionOptions(device, opts, names), files);
}

function isDeviceFailure(device: Device, e: unknown): boolean {
  if (device === 'cpu') return false;
  return /adapter|provider|shared librar|cannot open shared object|webgpu|cuda|dawn|vulkan|NOT_IMPLEMENTED|Could not find an implementation/i.test(errorText(e));
}

function fileFailure(files: ModelFiles, e: unknown): ModelLoadError {
  const text = errorText(e);
  if (/external|\.onnx_data|\.data\b/i.test(text)) {
    return new ModelLoadError('missing-file', files.externalDataPath ?? `${files.onnxPath}_data`, `external weights of ${files.onnxPath} could not be read (${text})`);
  }
  return new ModelLoadError('corrupt-file', files.onnxPath, `is not a loadable ONNX model (${text})`);
}

/**
 * Why `device: auto` must not try WebGPU in this process, or undefined when it may. Cached per process:
 * a failed probe is not repeated on a reload, and nothing is probed where no adapter can exist. On Linux,
 * Dawn (onnxruntime-node's WebGPU provider) reaches the GPU only through the Vulkan loader; without
 * libvulkan.so.1 the probe cannot succeed and Dawn prints "Couldn't load Vulkan" on stderr (below
 * onnxruntime's log level). `process.dlopen` searches exactly as Dawn's dlopen does (LD_LIBRARY_PATH, ld.so
 * cache); on success it rejects the library as "not a Node addon", which is all we need to know. With the loader but
 * no GPU device node (gpu-nodes.ts), the only adapter Dawn can find is a software one (lavapipe, SwiftShader) that
 * runs on the CPU far slower than the CPU provider: not tried either, unless env INFILL_LS_WEBGPU_SOFTWARE=1 (tests
 * and measurements; `device: webgpu` always tries).
 */
let webgpuUnavailable: string | undefined;
let webgpuChecked = false;
function webgpuUnavailableReason(): string | undefined {
  if (!webgpuChecked && process.platform === 'linux') {
    try {
      process.dlopen({ exports: {} }, 'libvulkan.so.1');
    } catch (e) {
      if (/cannot open shared object|No such file/i.test(errorText(e))) webgpuUnavailable = 'no GPU adapter: libvulkan.so.1 (the Vulkan loader) not found';
    }
    if (webgpuUnavailable === undefined && process.env.INFILL_LS_WEBGPU_SOFTWARE?.trim() !== '1' && gpuDeviceNodes().length === 0) {
      webgpuUnavailable =
        'no GPU device (no /dev/dri/renderD*, /dev/nvidia0, /dev/dxg): only a software Vulkan driver such as lavapipe could run it, on the CPU and slower than the CPU provider (INFILL_LS_WEBGPU_SOFTWARE=1 tries it)';
    }
  }
  webgpuChecked = true;
  return webgpuUnavailable;
}

function fileBytes(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** INFILL_LS_WEBGPU_MIN_WEIGHTS as a number ≥ 0, or undefined (unset or not a number: the measured default). */
function envMinWeights(): number | undefined {
  const v = process.env.INFILL_LS_WEBGPU_MIN_WEIGHTS?.trim();
  const n = v ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Loads the model directory. Throws ModelLoadError with the file and the problem. */
export async function loadModel(opts: LoadModelOptions): Promise<LoadedModel> {
  const request = opts.device ?? 'auto';
  const status = opts.onStatus ?? (() => {});
  const badValidation = envWebgpuValidation().invalid;
  if (badValidation !== undefined) {
    status(`INFILL_LS_WEBGPU_VALIDATION=${JSON.stringify(badValidation)} ignored: it must be one of ${WEBGPU_VALIDATION.join(', ')}`);
  }
  // What this onnxruntime-node build offers decides, not a table of platforms (linux/arm64 1.30 has only the CPU).
  const backends = supportedBackends().map((b) => b.name);
  const build = `${process.platform}/${process.arch}`;
  const noWebgpu = missingProvider('webgpu', backends, build);
  const candidates: Device[] = request === 'auto' ? (noWebgpu ? ['cpu'] : ['webgpu', 'cpu']) : [request];
  let fallbackReason: string | undefined = request === 'auto' && noWebgpu ? `webgpu unavailable: ${noWebgpu}` : undefined;
  let lastError: unknown;
  for (const device of candidates) {
    const files = resolveModelFiles(opts.modelDir, { dtype: opts.dtype, gpu: device !== 'cpu' });
    const noProvider = missingProvider(device, backends, build);
    if (noProvider) {
      // Only an explicit request gets here ('auto' lists WebGPU only when the build has it).
      throw new ModelLoadError('device-unavailable', files.onnxPath, `cannot run on ${device}: ${noProvider}; use device auto or cpu`);
    }
    if (request === 'auto' && device === 'webgpu') {
      // The measured size rule (device-rule.ts): small models decode faster on the CPU, and graphs built on
      // operators WebGPU lacks run them on the CPU anyway. Decided from the files, before any adapter is probed.
      const scan = scanOnnxGraph(files.onnxPath);
      const choice = chooseAutoDevice({
        graphMatmulWeights: scan?.matmulWeights, configMatmulWeights: matmulWeightsFromConfig(files.config), opTypes: scan?.opTypes,
        fileWeights: weightsFromFileBytes(fileBytes(files.onnxPath) + (files.externalDataPath ? fileBytes(files.externalDataPath) : 0), files.dtype),
        minWeights: opts.webgpuMinWeights ?? envMinWeights(),
      });
      if (choice.device === 'cpu') {
        fallbackReason = `webgpu skipped: ${path.basename(files.onnxPath)}: ${choice.reason}`;
        status(fallbackReason);
        continue;
      }
    }
    const noAdapter = request === 'auto' && device === 'webgpu' ? webgpuUnavailableReason() : undefined;
    if (noAdapter) {
      fallbackReason = `webgpu unavailable: ${noAdapter}`;
      status(fallbackReason);
      continue;
    }
    if (fs.statSync(files.onnxPath).size === 0) throw new ModelLoadError('corrupt-file', files.onnxPath, 'is empty');
    let session: Session;
    let foldedWeights: number;
    try {
      ({ session, foldedWeights } = await openSession(files, device, opts));
    } catch (e) {
      lastError = e;
      if (request === 'auto' && device !== 'cpu') {
        // No adapter (or no provider library) holds for the whole process; an operator this model lacks does not.
        if (device === 'webgpu' && /adapter|shared librar|cannot open shared object/i.test(errorText(e))) webgpuUnavailable = describeProviderFailure(device, e);
        fallbackReason = `${device} unavailable: ${describeProviderFailure(device, e)}`;
        status(`${fallbackReason}; falling back to cpu`);
        continue;
      }
      if (isDeviceFailure(device, e)) {
        throw new ModelLoadError('device-unavailable', files.onnxPath, `cannot run on ${device}: ${describeProviderFailure(device, e)}`);
      }
      throw fileFailure(files, e);
    }
    let model: OnnxModel;
    try {
      const layout = readLayout(session.inputMetadata, session.outputMetadata, files.config, files.onnxPath, files.ioNames);
      model = new OnnxModel(session, files, device, layout, fallbackReason, foldedWeights);
    } catch (e) {
      await session.release().catch(() => {});
      throw e;
    }
    if (request === 'auto' && device !== 'cpu') {
      // A provider can accept a session yet fail at the first run (an operator it cannot execute).
      const probe = model.createCache();
      try {
        await model.forward([0], probe);
      } catch (e) {
        fallbackReason = `${device} unavailable: ${describeProviderFailure(device, e)}`;
        status(`${fallbackReason}; falling back to cpu`);
        probe.dispose();
        await model.dispose();
        continue;
      } finally {
        probe.dispose();
      }
    }
    status(`model ${files.dir} (${files.dtype}) on ${device}${opts.intraOpNumThreads ? `, ${opts.intraOpNumThreads} threads` : ''}${fallbackReason ? ` — ${fallbackReason}` : ''}`);
    // The accelerators' extra sessions and workers: one that cannot be opened fails the load, model released.
    const workers = opts.kvRunahead ?? envCount('INFILL_LS_KV_RUNAHEAD');
    try {
      if (opts.critiPrefill ?? envOn('INFILL_LS_CRITIPREFILL')) await model.attachCritiPrefill(opts, status);
      if (opts.lazyLlm ?? envOn('INFILL_LS_LAZYLLM')) await model.attachLazyLlm(opts, status);
      if (workers && workers > 0) await model.attachKvRunahead(opts, workers, status);
      // On by default where it can run: an explicit request (option or env) says why it could not ("wgslDecode off:"),
      // the default only notes it ("wgslDecode not used:"), and only on WebGPU.
      const wgslAsked = opts.wgslDecode ?? envSwitch('INFILL_LS_WGSL_DECODE');
      if (wgslAsked ?? model.device === 'webgpu') await model.attachWgslDecode(opts, status, wgslAsked === true);
    } catch (e) {
      await model.dispose();
      throw e;
    }
    return model;
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** INFILL_LS_WEBGPU_VALIDATION: `value` when it names a validation mode; `invalid`, the text, when it is set to anything else. */
function envWebgpuValidation(): { value?: WebGpuValidation; invalid?: string } {
  const v = process.env.INFILL_LS_WEBGPU_VALIDATION?.trim();
  if (!v) return {};
  return WEBGPU_VALIDATION.includes(v as WebGpuValidation) ? { value: v as WebGpuValidation } : { invalid: v };
}

/** An env switch: on when set to anything but '' or '0' (surrounding blanks ignored). */
function envOn(name: string): boolean {
  return envSwitch(name) ?? false;
}

/** An env switch with a default: true when set to anything but '' or '0', false for '0', undefined when unset or blank. */
function envSwitch(name: string): boolean | undefined {
  const v = process.env[name]?.trim();
  return v === undefined || v === '' ? undefined : v !== '0';
}

/** A non-negative integer from the environment, or undefined (unset or not one). */
function envCount(name: string): number | undefined {
  const v = process.env[name]?.trim();
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

class OnnxModel implements LoadedModel {
  readonly vocabSize: number;
  readonly computesLse: boolean;
  /** Per-row log Σ exp of the logits arrays forward returned (keys: those arrays; values: [rows] float32). */
  private readonly lseOf = new WeakMap<Float32Array, Float32Array>();
  /** Shared, never-written inputs: ones for attention_mask, zeros for a decode step's attention_bias. */
  private ones = new BigInt64Array(0);
  private zeros = new Float32Array(0);
  private readonly fetchAll: string[];
  private readonly fetchKvOnly: string[];
  private disposed = false;
  private readonly slicer: KvSlicer | null;
  private twin: Session | undefined;
  critiPrefill: (CritiPrefillParams & { file: string; minPast: number }) | undefined;
  critiPrefillRuns = 0;
  private lazyTwin: Session | undefined;
  lazyLlm: (LazyLlmParams & { file: string; minTokens: number }) | undefined;
  lazyLlmRuns = 0;
  private runahead: KvRunaheadPool | undefined;
  kvRunahead: { workers: number; groups: number; threads: number; minTokens: number; chunk: number; span: number } | undefined;
  kvRunaheadRuns = 0;
  /** Why KV-Runahead was turned off after it started (a worker died), if it was. */
  kvRunaheadOff: string | undefined;
  get kvRunaheadLast(): KvRunaheadRun | undefined {
    return this.runahead?.lastRun;
  }
  private wgsl: WgslDecoder | undefined;
  private downloader: KvDownloader | undefined;
  /** The cache each KV slot of the WGSL decoder holds (KvCache.gpuRows of its rows), and when each was last used. */
  private wgslHeld: (KvCache | null)[] = [];
  private wgslUsed: number[] = [];
  private wgslTick = 0;
  wgslDecode: WgslDecodeInfo | undefined;
  wgslSteps = 0;

  constructor(
    private readonly session: Session,
    readonly files: ModelFiles,
    readonly device: Device,
    readonly layout: ModelLayout,
    readonly fallbackReason: string | undefined,
    readonly foldedWeights: number,
  ) {
    const cfgVocab = files.config['vocab_size'];
    this.vocabSize = layout.vocabSize ?? (typeof cfgVocab === 'number' ? cfgVocab : 0);
    this.slicer = device === 'webgpu' ? createGpuSlicer() : null;
    this.fetchAll = [...session.outputNames];
    // onnxruntime-node 1.30 with preferredOutputLocation (WebGPU) maps a subset of fetches to the wrong
    // outputs (measured on an H200): there every run fetches every output, in the session's order.
    this.fetchKvOnly = device === 'webgpu' ? this.fetchAll : layout.slots.map((s) => s.presentName);
    this.computesLse = session.outputNames.includes(LOGITS_LSE_OUTPUT);
  }

  rowLse(logits: Float32Array): Float32Array | undefined {
    return this.lseOf.get(logits);
  }

  createCache(): KvCache {
    return new KvCache(this.layout.slots, this.slicer);
  }

  /**
   * Opens the CritiPrefill twin next to the graph (critiprefill.ts) with the same device and options; it must have
   * the graph's inputs and outputs. A twin that is absent, has no parameters, or does not match is left off, said
   * through `status`; one that cannot be loaded throws as the graph would (ModelLoadError).
   */
  async attachCritiPrefill(opts: LoadModelOptions, status: (message: string) => void): Promise<void> {
    const file = critiPrefillTwinPath(this.files.onnxPath);
    const off = (why: string) => status(`critiPrefill off: ${why}`);
    if (this.files.format === 'genai' || !fs.existsSync(file)) return off(`no twin graph ${file} (native/py/critiprefill.py writes it)`);
    let params: CritiPrefillParams | undefined;
    try {
      params = readCritiPrefillParams(file);
    } catch (e) {
      return off(`${file}: ${errorText(e)}`);
    }
    if (!params) return off(`${file} has no infill_ls.critiprefill parameters`);
    const session = await this.openTwin(file, opts, off);
    if (!session) return;
    this.twin = session;
    this.critiPrefill = { ...params, file, minPast: Math.max(1, opts.critiPrefillMinPast ?? critiPrefillMinPast(params)) };
    status(`critiPrefill on: ${file} (blocks of ${params.block}, budget ${params.budget}) for prefill runs with a past of ${this.critiPrefill.minPast}+ positions`);
  }

  /**
   * Opens an accelerator's twin graph (CritiPrefill, LazyLLM) with this model's device and options. Returns undefined
   * after `off(reason)` when its inputs/outputs differ from the graph's; throws (ModelLoadError) when it cannot load.
   */
  private async openTwin(file: string, opts: LoadModelOptions, off: (why: string) => void): Promise<Session | undefined> {
    const twinFiles: ModelFiles = { ...this.files, onnxPath: file, externalDataPath: externalDataOf(file) };
    let session: Session;
    try {
      ({ session } = await openSession(twinFiles, this.device, opts));
    } catch (e) {
      throw fileFailure(twinFiles, e);
    }
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((n) => b.includes(n));
    if (!same(session.inputNames, this.session.inputNames) || !same(session.outputNames, this.session.outputNames)) {
      await session.release();
      off(`${file} has other inputs/outputs than ${this.files.onnxPath}`);
      return undefined;
    }
    return session;
  }

  /**
   * Opens the LazyLLM twin next to the graph (lazyllm.ts) with the same device and options; it must have the graph's
   * inputs and outputs and its schedule's layers must lie within the model's. A twin that is absent, has no schedule,
   * or does not match is left off, said through `status`; one that cannot be loaded throws as the graph would.
   */
  async attachLazyLlm(opts: LoadModelOptions, status: (message: string) => void): Promise<void> {
    const file = lazyLlmTwinPath(this.files.onnxPath);
    const off = (why: string) => status(`lazyLlm off: ${why}`);
    if (this.files.format === 'genai' || !fs.existsSync(file)) return off(`no twin graph ${file} (native/py/lazyllm.py writes it)`);
    let params: LazyLlmParams | undefined;
    try {
      params = readLazyLlmParams(file);
    } catch (e) {
      return off(`${file}: ${errorText(e)}`);
    }
    if (!params) return off(`${file} has no infill_ls.lazyllm schedule`);
    if (params.layers.at(-1)! >= this.layout.numLayers) return off(`${file} prunes from layer ${params.layers.at(-1)}, the model has ${this.layout.numLayers}`);
    const session = await this.openTwin(file, opts, off);
    if (!session) return;
    this.lazyTwin = session;
    const minTokens = Math.max(2, opts.lazyLlmMinTokens ?? envCount('INFILL_LS_LAZYLLM_MIN_TOKENS') ?? 128);
    this.lazyLlm = { ...params, file, minTokens };
    status(`lazyLlm on: ${file} (keep from layer ${describeLazyLlm(params)}) for prefill runs of ${minTokens}+ tokens`);
  }

  /**
   * Starts KV-Runahead's workers over the model's layer groups (kv-runahead.ts). Groups that are absent or do not
   * cover the model, a non-CPU device or a non-float32 KV leave it off, said through `status`; a worker that cannot
   * open its groups throws (the model is then disposed by loadModel).
   */
  async attachKvRunahead(opts: LoadModelOptions, workers: number, status: (message: string) => void): Promise<void> {
    const off = (why: string) => status(`kvRunahead off: ${why}`);
    if (workers < 2) return off(`needs 2+ workers, got ${workers}`);
    if (this.device !== 'cpu') return off(`CPU only (the model runs on ${this.device})`);
    if (this.layout.kvFormat !== 'per-layer' || this.layout.slots.some((s) => s.dtype !== 'float32')) return off('needs per-layer float32 K/V');
    const found = findKvRunaheadGroups(this.files.onnxPath, this.layout.numLayers);
    if ('reason' in found) return off(found.reason);
    const threads = opts.kvRunaheadThreads ?? envCount('INFILL_LS_KV_RUNAHEAD_THREADS') ?? 1;
    this.runahead = await KvRunaheadPool.start(
      {
        groups: found.groups,
        files: this.files,
        intraOpNumThreads: Math.max(1, threads),
        allowSpinning: opts.allowSpinning,
        foldAtLoad: opts.foldAtLoad,
        lastLogitsOnly: opts.lastLogitsOnly,
        slots: this.layout.slots,
        kind: this.layout.kind,
      },
      workers,
    );
    const minTokens = Math.max(2, opts.kvRunaheadMinTokens ?? envCount('INFILL_LS_KV_RUNAHEAD_MIN_TOKENS') ?? 1024);
    this.kvRunahead = { workers, groups: found.groups.length, threads: Math.max(1, threads), minTokens, chunk: opts.kvRunaheadChunk ?? 256, span: opts.kvRunaheadSpan ?? 2048 };
    status(`kvRunahead on: ${workers} workers x ${this.kvRunahead.threads} threads over ${found.groups.length} layer groups, for forward runs of ${minTokens}+ tokens`);
  }

  /**
   * Opens the WGSL decode step (LoadModelOptions.wgslDecode) for this model; leaves it off with a status line
   * ("wgslDecode off: why") when the device is not WebGPU, the model is not in the layout it reads, or the `webgpu`
   * package or an adapter is missing.
   */
  async attachWgslDecode(opts: LoadModelOptions, status: (message: string) => void, asked: boolean): Promise<void> {
    const off = (why: string) => status(`wgslDecode ${asked ? 'off' : 'not used'}: ${why}`);
    this.wgslStatus = status;
    // Asked for on another device (a client that always sends the setting, e.g. the VS Code extension's default):
    // noted, never an "off" in the ready status.
    if (this.device !== 'webgpu') return status(`wgslDecode not used: it runs beside onnxruntime's WebGPU provider, and the model is on ${this.device}`);
    const slots = this.layout.slots;
    if (this.layout.kvFormat !== 'per-layer' || slots.some((s) => s.pastAxis !== 2 || s.emptyDims.length !== 4)) return off('the KV layout is not [batch, kv_heads, past, head_dim] per layer');
    const dtype = slots[0]!.dtype;
    const { readGenaiWeights, UnsupportedLayout } = await import('./genai-weights.js');
    const { WgslDecoder } = await import('./wgsl-decode.js');
    let weights;
    try {
      weights = readGenaiWeights(this.files.onnxPath, this.files.config);
    } catch (e) {
      if (e instanceof UnsupportedLayout) return off(e.message);
      throw e;
    }
    const maxContext = opts.wgslMaxContext ?? envCount('INFILL_LS_WGSL_MAX_CONTEXT') ?? 8192;
    try {
      const speculate = opts.wgslSpeculate ?? envSwitch('INFILL_LS_WGSL_SPECULATE') ?? true;
      const slots = Math.max(1, Math.min(16, opts.wgslSlots ?? envCount('INFILL_LS_WGSL_SLOTS') ?? 2));
      this.wgsl = await WgslDecoder.open(weights, { maxContext, kvDtype: dtype, eps: weights.eps, speculate, slots });
      this.wgslHeld = Array.from({ length: slots }, () => null);
      this.wgslUsed = Array.from({ length: slots }, () => 0);
    } catch (e) {
      return off(errorText(e));
    }
    this.downloader = createGpuDownloader();
    // Warm-up: one token through onnxruntime and its row handed over, so that the first request does not pay for the
    // download graph's creation and shader compilation (~200 ms measured at the 1.5B shape).
    const warm = this.createCache();
    try {
      await this.forward([0], warm, { logits: 'none' });
      await this.handOver(warm, 0);
    } catch (e) {
      this.wgsl.dispose();
      this.wgsl = undefined;
      await this.downloader.dispose().catch(() => {});
      this.downloader = undefined;
      return off(`the K/V hand-over failed: ${errorText(e)}`);
    } finally {
      warm.dispose();
    }
    this.wgslDecode = { adapter: this.wgsl.adapterName, maxContext: this.wgsl.maxContext, slots: this.wgsl.slots, weightBytes: this.wgsl.weightBytes, counts: this.wgsl.counts };
    status(`wgslDecode on: decode steps in our WGSL kernels on ${this.wgsl.adapterName} (${(this.wgsl.weightBytes / 1e6).toFixed(1)} MB of weights, ${this.wgsl.slots} KV cache${this.wgsl.slots === 1 ? '' : 's'} of ${this.wgsl.maxContext} rows)`);
  }

  /**
   * One decode step of `token` on `cache` in the WGSL decoder; null when it cannot take it (the sequence is longer
   * than its cache, or tokens decoded there earlier are no longer in its cache): then onnxruntime runs it. A failing
   * step (a lost device) turns the decoder off for good, says so through the load's onStatus ("wgslDecode off: why",
   * also kept in wgslDecodeOff) and returns null: onnxruntime re-runs the tokens decoded outside it and goes on. A
   * cache or model disposed while the step ran is the caller's error: thrown, the decoder stays on.
   */
  private async wgslStep(token: number, cache: KvCache): Promise<Float32Array | null> {
    const d = this.wgsl!;
    if (cache.length + 1 > d.maxContext) return null;
    try {
      const slot = this.wgslSlotOf(cache);
      if (cache.gpuRows < cache.onnxLength) await this.handOver(cache, slot);
      if (cache.gpuRows !== cache.length) return null;
      const r = await d.step(token, cache.length, slot);
      cache.appendOutside(token);
      cache.gpuRows = cache.length;
      this.wgslSteps++;
      this.lseOf.set(r.logits, Float32Array.of(r.lse));
      return r.logits;
    } catch (e) {
      // the caller's error (the cache, or the model, disposed while the step ran): thrown, the decoder stays on
      if (cache.isDisposed) throw new Error('KvCache used after dispose() (disposed during a WGSL decode step)');
      if (this.disposed || this.wgsl !== d) throw e;
      this.wgslDecodeOff = `wgslDecode off: ${errorText(e)}; decoding in onnxruntime from now on`;
      this.wgslStatus?.(this.wgslDecodeOff);
      this.wgsl = undefined;
      this.wgslDecode = undefined;
      d.dispose();
      for (const c of this.wgslHeld) if (c) c.gpuRows = 0;
      this.wgslHeld = [];
      return null;
    }
  }

  /**
   * The WGSL decoder's KV slot for `cache`: the one it holds, else a free one (or one whose cache was disposed), else
   * the least recently used one, whose cache loses its rows there (gpuRows 0: handed over again if it decodes again).
   */
  private wgslSlotOf(cache: KvCache): number {
    let slot = this.wgslHeld.indexOf(cache);
    if (slot < 0) {
      slot = this.wgslHeld.findIndex((c) => c === null || c.isDisposed);
      if (slot < 0) slot = this.wgslUsed.indexOf(Math.min(...this.wgslUsed));
      const old = this.wgslHeld[slot];
      if (old) old.gpuRows = 0;
      this.wgslHeld[slot] = cache;
      cache.gpuRows = 0;
    }
    this.wgslUsed[slot] = ++this.wgslTick;
    return slot;
  }
  /** Why the WGSL decoder was turned off after it started (a failed step), if it was. */
  wgslDecodeOff: string | undefined;
  private wgslStatus: ((message: string) => void) | undefined;

  /** Copies rows [gpuRows, onnxLength) of `cache` from onnxruntime's tensors into the WGSL decoder's KV slot `slot`. */
  private async handOver(cache: KvCache, slot: number): Promise<void> {
    const from = cache.gpuRows;
    const to = cache.onnxLength;
    const n = to - from;
    const t0 = performance.now();
    const parts = cache.pastTensors();
    const rows = new Map<Tensor, Float32Array | Uint16Array>();
    const onGpu = parts.filter((p) => p.tensor.location === 'gpu-buffer');
    let downloaded: Tensor | undefined;
    if (onGpu.length > 0) {
      // one run, one copy back: [tensors × heads, n, head_dim]
      downloaded = await this.downloader!.download(onGpu.map((p) => p.tensor), 2, from, to, onGpu[0]!.slot.dtype);
      const all = downloaded.data as Float32Array | Uint16Array;
      const per = all.length / onGpu.length;
      onGpu.forEach((p, i) => rows.set(p.tensor, all.subarray(i * per, (i + 1) * per)));
    }
    const byLayer = new Map<number, { key?: Float32Array | Uint16Array; value?: Float32Array | Uint16Array }>();
    for (const { slot, tensor } of parts) {
      let data = rows.get(tensor);
      if (!data) {
        // a host tensor [1, heads, past, head_dim]: each head's rows [from, to)
        const [, heads, past, hd] = tensor.dims as number[];
        const src = tensor.data as Float32Array | Uint16Array;
        const out = new (src.constructor as { new (n: number): Float32Array | Uint16Array })(heads! * n * hd!);
        for (let h = 0; h < heads!; h++) out.set(src.subarray((h * past! + from) * hd!, (h * past! + to) * hd!), h * n * hd!);
        data = out;
      }
      const e = byLayer.get(slot.layer) ?? {};
      e[slot.part === 'value' ? 'value' : 'key'] = data;
      byLayer.set(slot.layer, e);
    }
    const t1 = performance.now();
    for (const [layer, { key, value }] of byLayer) this.wgsl!.writeKv(layer, from, n, key!, value!, slot);
    downloaded?.dispose();
    cache.gpuRows = to;
    if (this.wgslDecode) this.wgslDecode.lastHandOver = { rows: n, downloadMs: +(t1 - t0).toFixed(2), writeMs: +(performance.now() - t1).toFixed(2) };
  }

  async forward(ids: ArrayLike<number>, cache: KvCache, options: ForwardOptions = {}): Promise<Float32Array | null> {
    if (this.disposed) throw new Error('LoadedModel.forward after dispose()');
    if (ids.length === 0) throw new RangeError('LoadedModel.forward: no tokens');
    if (cache.isDisposed) throw new Error('KvCache used after dispose()');
    if (this.wgsl && ids.length === 1 && options.logits !== 'none' && (options.rows ?? 1) === 1 && cache.positionOffset === 0) {
      const logits = await this.wgslStep(ids[0]!, cache);
      if (logits) return logits;
    }
    // Tokens decoded outside onnxruntime (the WGSL decoder) run first: their K/V rows join onnxruntime's tensors.
    const outside = cache.takeOutside();
    if (outside.length > 0) ids = [...outside, ...Array.from(ids)];
    const seq = ids.length;
    if (this.runahead?.broken) {
      // a worker died: KV-Runahead goes off for this model and the plain graph takes over (the cache is untouched)
      const pool = this.runahead;
      this.kvRunaheadOff = `kvRunahead off: ${pool.broken}`;
      this.runahead = undefined;
      this.kvRunahead = undefined;
      void pool.dispose().catch(() => {});
    }
    const rows = options.rows ?? 1;
    if (!Number.isInteger(rows) || rows < 1 || rows > seq) throw new RangeError(`LoadedModel.forward: rows must be an integer in 1..${seq}, got ${rows}`);
    const allRows = rows > 1 && options.logits !== 'none';
    if (this.runahead && this.kvRunahead && !allRows && seq >= this.kvRunahead.minTokens && cache.positionOffset === 0) {
      // KV-Runahead: the run is split into context partitions computed by the pool's workers (kv-runahead.ts)
      const logits = await this.runahead.prefill(ids, cache, { chunk: this.kvRunahead.chunk, span: this.kvRunahead.span, wantLogits: options.logits !== 'none' });
      this.kvRunaheadRuns++;
      return logits;
    }
    const past = cache.length;
    const total = past + seq;
    const has = this.layout.has;
    // Position of the first new token: past, plus what a decode-phase KV budget evicted (KvCache.evict).
    const offset = cache.positionOffset;
    if (offset > 0 && (!has.positionIds || has.cachePosition)) throw new Error(`${this.files.onnxPath}: a KV cache with evicted positions needs a graph with position_ids and no cache_position`);
    const feeds: Record<string, Tensor> = {};
    // input_ids: [1, seq] int64
    const idData = new BigInt64Array(seq);
    for (let i = 0; i < seq; i++) idData[i] = BigInt(ids[i]!);
    const names = this.layout.names; // the graph's own names (genai_config.json may rename them)
    feeds[names.inputIds] = createTensor('int64', idData, [1, seq]);
    if (has.attentionMask) {
      // attention_mask: [1, past + seq] int64, all ones (one unpadded sequence)
      feeds[names.attentionMask] = createTensor('int64', this.onesOf(total), [1, total]);
    }
    if (has.attentionBias) {
      // attention_bias: [1, 1, seq, past + seq] float32; row r may attend columns <= past + r
      feeds[ATTENTION_BIAS] = createTensor('float32', seq === 1 ? this.zerosOf(total) : causalBias(past, seq), [1, 1, seq, total]);
    }
    if (has.positionIds || has.cachePosition) {
      // position_ids: [1, seq] int64 = past .. past + seq - 1; cache_position: [seq]
      const pos = new BigInt64Array(seq);
      for (let i = 0; i < seq; i++) pos[i] = BigInt(offset + past + i);
      if (has.positionIds) feeds[names.positionIds] = createTensor('int64', pos, [1, seq]);
      if (has.cachePosition) feeds[CACHE_POSITION] = createTensor('int64', pos, [seq]);
    }
    if (has.logitsIndex || has.logitsPositions) {
      // logits_index / last-logits.ts's positions input: [1] int64, the last position only; [rows] for the last rows
      const at = allRows ? BigInt64Array.from({ length: rows }, (_, i) => BigInt(seq - rows + i)) : BigInt64Array.of(BigInt(seq - 1));
      feeds[has.logitsIndex ? LOGITS_INDEX : LOGITS_POSITIONS] = createTensor('int64', at, [at.length]);
    }
    if (has.logitsToKeep) {
      // num_logits_to_keep: scalar int64
      feeds[has.logitsToKeep] = createTensor('int64', BigInt64Array.of(allRows ? BigInt(rows) : 1n), []);
    }
    if (has.useCacheBranch) {
      // use_cache_branch: [1] bool, true once a past exists
      feeds[USE_CACHE_BRANCH] = createTensor('bool', Uint8Array.of(past > 0 ? 1 : 0), [1]);
    }
    cache.fill(feeds);
    const wantLogits = options.logits !== 'none';
    // CritiPrefill: a prefill run over a past long enough for the twin to drop blocks goes to the twin (same I/O).
    const twin = this.twin && !allRows && seq > 1 && past >= this.critiPrefill!.minPast ? this.twin : undefined;
    // LazyLLM: any other prefill run of its minimum length goes to its twin (same I/O).
    const lazy = !twin && !allRows && this.lazyTwin && seq >= this.lazyLlm!.minTokens ? this.lazyTwin : undefined;
    let out: Record<string, Tensor>;
    try {
      out = (await (twin ?? lazy ?? this.session).run(feeds, wantLogits ? this.fetchAll : this.fetchKvOnly)) as Record<string, Tensor>;
    } catch (e) {
      const file = twin ? this.critiPrefill!.file : lazy ? this.lazyLlm!.file : this.files.onnxPath;
      throw new Error(`${file}: run failed on ${this.device} (past ${past}, seq ${seq}): ${errorText(e)}`);
    }
    if (twin) this.critiPrefillRuns++;
    if (lazy) this.lazyLlmRuns++;
    cache.replace(out, total);
    if (!wantLogits) return null;
    const logits = out[names.logits]!;
    const result = allRows ? lastRows(logits, rows) : lastRow(logits);
    // LOGITS_LSE_OUTPUT: [1, n, 1] float32, one value per logits row; the last `rows` (or 1) belong to `result`.
    const lse = this.computesLse ? out[LOGITS_LSE_OUTPUT] : undefined;
    if (lse && lse.location === 'cpu' && lse.data instanceof Float32Array) {
      const n = allRows ? rows : 1;
      const data = lse.data;
      if (data.length >= n && result.length === n * (logits.dims[logits.dims.length - 1] ?? 0)) this.lseOf.set(result, data.subarray(data.length - n));
    }
    return result;
  }

  async forwardPacked(segments: readonly (readonly number[])[]): Promise<KvCache[]> {
    if (this.disposed) throw new Error('LoadedModel.forwardPacked after dispose()');
    if (this.layout.kind !== 'packed') throw new Error(`${this.files.onnxPath}: forwardPacked needs the packed layout`);
    if (this.device !== 'cpu' && !this.slicer) throw new Error(`LoadedModel.forwardPacked: KV tensors on ${this.device} cannot be split`);
    if (segments.length === 0) return [];
    const starts: number[] = [];
    let total = 0;
    for (const s of segments) {
      if (s.length === 0) throw new RangeError('LoadedModel.forwardPacked: empty segment');
      starts.push(total);
      total += s.length;
    }
    // input_ids / position_ids: [1, total] int64, positions restart at 0 per segment
    const idData = new BigInt64Array(total);
    const pos = new BigInt64Array(total);
    // attention_bias: [1, 1, total, total] float32, -1e9 except each segment's own lower triangle
    const bias = new Float32Array(total * total).fill(NEG_INF_BIAS);
    segments.forEach((seg, k) => {
      const start = starts[k]!;
      for (let i = 0; i < seg.length; i++) {
        const r = start + i;
        idData[r] = BigInt(seg[i]!);
        pos[r] = BigInt(i);
        bias.fill(0, r * total + start, r * total + r + 1);
      }
    });
    const feeds: Record<string, Tensor> = {
      [INPUT_IDS]: createTensor('int64', idData, [1, total]),
      [POSITION_IDS]: createTensor('int64', pos, [1, total]),
      [ATTENTION_BIAS]: createTensor('float32', bias, [1, 1, total, total]),
      // logits_index: [1] int64; nobody reads the logits (each segment's last token is held back by the caller)
      [LOGITS_INDEX]: createTensor('int64', BigInt64Array.of(BigInt(total - 1)), [1]),
    };
    const empty = this.createCache();
    empty.fill(feeds);
    let out: Record<string, Tensor>;
    try {
      out = (await this.session.run(feeds, this.fetchKvOnly)) as Record<string, Tensor>;
    } catch (e) {
      throw new Error(`${this.files.onnxPath}: packed run failed on ${this.device} (${segments.length} segments, ${total} tokens): ${errorText(e)}`);
    } finally {
      empty.dispose();
    }
    const caches = segments.map(() => this.createCache());
    try {
      for (let k = 0; k < segments.length; k++) {
        const seg = segments[k]!;
        const parts: Record<string, Tensor> = {};
        for (const s of this.layout.slots) {
          const t = out[s.presentName]!;
          // gpu-buffer presents (WebGPU) are split on the GPU; CPU ones on the host
          parts[s.presentName] =
            t.location === 'gpu-buffer' && this.slicer
              ? await this.slicer.slice(t, s.pastAxis, seg.length, s.dtype, starts[k]!)
              : sliceAxis(t, s.pastAxis, starts[k]!, starts[k]! + seg.length);
        }
        caches[k]!.replace(parts, seg.length);
      }
    } catch (e) {
      for (const c of caches) c.dispose();
      throw e;
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
    return caches;
  }

  async dispose(): Promise<void> {
    this.wgsl?.dispose();
    this.wgsl = undefined;
    this.wgslHeld = [];
    await this.downloader?.dispose().catch(() => {});
    if (this.disposed) return;
    this.disposed = true;
    await this.slicer?.dispose();
    await this.runahead?.dispose();
    await this.twin?.release();
    await this.lazyTwin?.release();
    await this.session.release();
  }

  private onesOf(n: number): BigInt64Array {
    if (this.ones.length < n) this.ones = new BigInt64Array(Math.max(n, this.ones.length * 2, 256)).fill(1n);
    return this.ones.subarray(0, n);
  }

  private zerosOf(n: number): Float32Array {
    if (this.zeros.length < n) this.zeros = new Float32Array(Math.max(n, this.zeros.length * 2, 256));
    return this.zeros.subarray(0, n);
  }
}

/** Copies positions [start, end) of `t` along `axis` (batch 1, CPU) into a new tensor. */
function sliceAxis(t: Tensor, axis: number, start: number, end: number): Tensor {
  const dims = [...t.dims];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const len = dims[axis]!;
  const n = end - start;
  const data = t.data as Float32Array | Uint16Array;
  const sliced = new (data.constructor as { new (n: number): Float32Array | Uint16Array })(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    const from = (o * len + start) * inner;
    sliced.set(data.subarray(from, from + n * inner), o * n * inner);
  }
  dims[axis] = n;
  return sliced instanceof Uint16Array ? createTensor('float16', sliced, dims) : createTensor('float32', sliced, dims);
}

/** [seq, past + seq] float32: 0 where column <= past + row, -1e9 after (plain causal decoding). */
function causalBias(past: number, seq: number): Float32Array {
  const total = past + seq;
  const bias = new Float32Array(seq * total);
  for (let r = 0; r < seq; r++) bias.fill(NEG_INF_BIAS, r * total + past + r + 1, (r + 1) * total);
  return bias;
}

/** logits: [1, rows, vocab] float32|float16 → the last row as float32 [vocab]; a view for float32 on the CPU. */
function lastRow(logits: Tensor): Float32Array {
  const dims = logits.dims;
  const vocab = dims[dims.length - 1]!;
  const rows = dims.length === 3 ? dims[1]! : 1;
  // Logits are always requested on the CPU (see sessionOptions); getData() on a gpu-buffer aborts the process.
  if (logits.location !== 'cpu') throw new Error(`logits came back on '${logits.location}', expected the CPU`);
  const data = logits.data as Float32Array | Uint16Array;
  const start = (rows - 1) * vocab;
  if (data instanceof Float32Array) return data.subarray(start, start + vocab);
  return halvesToFloats(data, start, vocab);
}

/** logits: [1, rows, vocab] float32|float16 → its last `n` rows as float32 [n × vocab]; a view for float32 on the CPU. */
function lastRows(logits: Tensor, n: number): Float32Array {
  const dims = logits.dims;
  const vocab = dims[dims.length - 1]!;
  const rows = dims.length === 3 ? dims[1]! : 1;
  if (logits.location !== 'cpu') throw new Error(`logits came back on '${logits.location}', expected the CPU`);
  if (rows < n) throw new Error(`logits hold ${rows} rows, ${n} were asked for`);
  const data = logits.data as Float32Array | Uint16Array;
  const start = (rows - n) * vocab;
  if (data instanceof Float32Array) return data.subarray(start, start + n * vocab);
  return halvesToFloats(data, start, n * vocab);
}

/** CPU count suggestion for callers that want to leave cores to the editor. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
}
