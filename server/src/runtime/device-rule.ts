// `device: auto`'s choice between WebGPU and the CPU, and the WebGPU prefill run size, from measurements (issue 15).
// Pure: no onnxruntime, no I/O.

/**
 * Weights the matrix products of one decode step read below which `auto` keeps a model on the CPU.
 *
 * Fitted to what onnxruntime-node 1.30 measured on the GPU machine (NVIDIA H200, 16-core Xeon with AVX-512/AMX),
 * decode ms/token, the LM head included in the weights. The first row is the first default model (v1: 18.9M matmul
 * weights, 8-bit), measured 2026-11-26 (commit 1aed146), before issue 16 replaced it; the current default (v6: 32.4M,
 * 4-bit layers, models/default/README.md) was not part of that run, and at 32.4M it is still far below the threshold:
 *
 * | model (matmul weights)               | WebGPU | CPU, 16 threads | source                                  |
 * |--------------------------------------|--------|-----------------|-----------------------------------------|
 * | models/default v1, 18.9M, 8-bit      | 7.46   | 4.51            | bench/results/runtime-gpu.md (@512 past) |
 * | Qwen2.5-Coder-0.5B shape, 494M, int4 | 17.5   | not measured    | real-models-gpu-0.5b.md (@2,048 past)    |
 * | Qwen2.5-Coder-1.5B shape, 1,544M, int4 | 31.8 | 87.5            | real-models-gpu-1.5b.md (@2,048 past)    |
 *
 * A line through the two sizes measured on both devices: WebGPU 7.46 + 0.0160 ms per million weights (it predicts
 * 15.0 ms at 0.5B, measured 17.5), the CPU 4.51 + 0.0544 ms per million. WebGPU's fixed cost is its per-kernel
 * launch overhead (it decodes the 19M v1 model no faster than PyTorch eager: 7.5 ms); the CPU's cost grows with the
 * weights. They cross at 18.9M + (7.46 − 4.51) / (0.0544 − 0.0160) = 95.6M weights, rounded to 100M here.
 * Prefill never favours the CPU: WebGPU was faster at every size (512 tokens: 9.0 vs 42.7 ms at 18.9M, 603 vs
 * 2,075 ms at 1.5B), so the decode crossover decides. End to end it agrees with both measured sides: one completion
 * with models/default (v1) took 804 ms on WebGPU and 429 ms on the CPU (issue 15), and the 1.5B shape is 3.4x (prefill)
 * and 2.75x (decode) faster on WebGPU. A CPU with fewer cores moves the crossover down, not up, so models above the
 * threshold stay on the right side of it on smaller machines.
 */
export const WEBGPU_MIN_MATMUL_WEIGHTS = 100e6;

/**
 * Operators that onnxruntime's WebGPU provider has no kernel for and that carry the model's matrix products: a graph
 * using them runs those nodes on the CPU with a copy each way. Measured on the H200 machine with models/default when
 * it was an int8 MatMulInteger graph (2026-11-26, commit 1aed146): 75 ms/token on WebGPU against 3–6 ms on its CPU.
 */
export const CPU_ONLY_MATMUL_OPS: readonly string[] = ['MatMulInteger', 'DynamicQuantizeLinear', 'com.microsoft:MatMulBnb4', 'com.microsoft:DynamicQuantizeMatMul', 'com.microsoft:MatMulIntegerToFloat'];

/** What the rule looks at; any field may be unknown. */
export interface AutoDeviceFacts {
  /** Σ K·N of the graph's matrix products whose weights are initializers (onnx-scan.ts), 0 if none. */
  graphMatmulWeights?: number;
  /** The same estimated from config.json's dimensions (matmulWeightsFromConfig), if it has them. */
  configMatmulWeights?: number;
  /**
   * Last resort when neither count is known: the weight files' bytes divided by the bytes one weight takes in the
   * file's dtype (weightsFromFileBytes). Counts the embedding too, so it overestimates.
   */
  fileWeights?: number;
  /** The graph's operator types (onnx-scan.ts `opTypes`), if it could be read. */
  opTypes?: ReadonlySet<string>;
  /** The threshold; default WEBGPU_MIN_MATMUL_WEIGHTS. */
  minWeights?: number;
}

export interface AutoDeviceChoice {
  device: 'webgpu' | 'cpu';
  /** Why, for the status line (names the numbers it used). */
  reason: string;
  /** The weight count the decision used, or undefined when none was known. */
  matmulWeights: number | undefined;
}

const millions = (n: number) => `${(n / 1e6).toFixed(n < 1e8 ? 1 : 0)}M`;

/**
 * Which device `device: auto` should try first for a model, before any GPU adapter is probed.
 * - A graph whose matrix products use CPU_ONLY_MATMUL_OPS → 'cpu'.
 * - Matrix-product weights per token (the larger of the graph's and config.json's count) below
 *   `minWeights` (default WEBGPU_MIN_MATMUL_WEIGHTS) → 'cpu'; at or above → 'webgpu'.
 * - Neither count known: the file-size estimate decides; nothing known at all → 'webgpu' (then the caller's probe
 *   and fallback decide, as before the rule).
 * Never throws.
 */
export function chooseAutoDevice(facts: AutoDeviceFacts): AutoDeviceChoice {
  const ops = facts.opTypes;
  const cpuOnly = ops ? CPU_ONLY_MATMUL_OPS.filter((o) => ops.has(o)) : [];
  const known = [facts.graphMatmulWeights, facts.configMatmulWeights].filter((n): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0);
  const fromFile = typeof facts.fileWeights === 'number' && Number.isFinite(facts.fileWeights) && facts.fileWeights > 0 ? facts.fileWeights : undefined;
  const weights = known.length ? Math.max(...known) : fromFile;
  if (cpuOnly.length) {
    return { device: 'cpu', matmulWeights: weights, reason: `its graph uses ${cpuOnly.join(', ')}, which WebGPU runs on the CPU with copies (measured 75 vs 3–6 ms/token)` };
  }
  if (weights === undefined) return { device: 'webgpu', matmulWeights: undefined, reason: 'model size unknown' };
  const min = facts.minWeights !== undefined && Number.isFinite(facts.minWeights) && facts.minWeights >= 0 ? facts.minWeights : WEBGPU_MIN_MATMUL_WEIGHTS;
  const threshold = millions(min);
  if (weights < min) {
    return { device: 'cpu', matmulWeights: weights, reason: `${millions(weights)} weights per token < ${threshold}: decode is faster on the CPU at this size` };
  }
  return { device: 'webgpu', matmulWeights: weights, reason: `${millions(weights)} weights per token ≥ ${threshold}: WebGPU is faster at this size` };
}

/** Our device names as onnxruntime-node's `listSupportedBackends()` names them, and as the user reads them. */
const PROVIDER_TEXT: Readonly<Record<'webgpu' | 'cuda', string>> = { webgpu: 'WebGPU', cuda: 'CUDA' };

/**
 * Why `device` cannot run with an onnxruntime-node build at all, or undefined when the build has its execution provider.
 * `backends`: the names the build lists (onnxruntime-node's `listSupportedBackends()`, bundled or loadable; in 1.30
 * linux/x64 lists cpu, webgpu, cuda, tensorrt and linux/arm64 only cpu); `build`: how the text names the build,
 * e.g. "linux/arm64". The CPU is never missing. Having the provider does not mean it can run here (no adapter, no
 * CUDA libraries): that is found when a session is opened. Never throws.
 * Example: `missingProvider('cuda', ['cpu'], 'linux/arm64')` →
 * "this onnxruntime-node build (linux/arm64) has no CUDA provider (it has: cpu)".
 */
export function missingProvider(device: 'cpu' | 'webgpu' | 'cuda', backends: readonly string[], build: string): string | undefined {
  if (device === 'cpu' || backends.includes(device)) return undefined;
  const has = backends.length ? backends.join(', ') : 'none listed';
  return `this onnxruntime-node build (${build}) has no ${PROVIDER_TEXT[device]} provider (it has: ${has})`;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/** Model types whose MLP is not gated (two matrices, up and down, instead of gate, up and down). */
const UNGATED_MLP = new Set(['gpt2', 'gpt_bigcode', 'starcoder2', 'gpt_neox', 'gptj', 'codegen', 'phi', 'falcon', 'bloom', 'opt']);

/**
 * Weights the matrix products of one decode step multiply, from a Hugging Face config.json (or the fields
 * model-files.ts maps from genai_config.json): per layer the q/k/v/o projections (heads × head_dim rows, KV heads for
 * k and v) and the MLP (3·hidden·intermediate when gated, as in Llama/Qwen2; 2· for GPT-2-style MLPs), plus the LM
 * head (vocab·hidden, computed every step whether or not it is tied to the embedding). The embedding lookup reads one
 * row and is not counted. Returns undefined when hidden size, layer count or vocabulary is missing; a missing
 * intermediate size counts the MLP as 0 (an underestimate). Examples: Qwen2.5-Coder-0.5B 494.0M, -1.5B 1,543.6M,
 * models/default 32.4M (v6 and v5: 28.2M in their 10 layers + the 4.2M LM head; v2/v3 26.7M with 8 layers; v1, the default
 * until issue 16, 18.9M).
 */
export function matmulWeightsFromConfig(config: Readonly<Record<string, unknown>>): number | undefined {
  const hidden = num(config['hidden_size']) ?? num(config['n_embd']) ?? num(config['d_model']);
  const layers = num(config['num_hidden_layers']) ?? num(config['n_layer']) ?? num(config['num_layers']);
  const vocab = num(config['vocab_size']);
  if (!hidden || !layers || !vocab) return undefined;
  const heads = queryHeads(config);
  const headDim = num(config['head_dim']) ?? (heads ? hidden / heads : undefined);
  const qWidth = heads && headDim ? heads * headDim : hidden;
  const kvHeads = num(config['num_key_value_heads']) ?? (config['multi_query'] === true ? 1 : heads);
  const kvWidth = kvHeads && headDim ? kvHeads * headDim : hidden;
  const modelType = typeof config['model_type'] === 'string' ? config['model_type'] : '';
  const intermediate = num(config['intermediate_size']) ?? num(config['n_inner']) ?? (UNGATED_MLP.has(modelType) ? 4 * hidden : 0);
  const attention = hidden * qWidth + 2 * hidden * kvWidth + qWidth * hidden;
  const mlp = (UNGATED_MLP.has(modelType) ? 2 : 3) * hidden * intermediate;
  return layers * (attention + mlp) + vocab * hidden;
}

/** Bytes one weight takes in each weight variant's file (model-files.ts dtypes); q4 variants keep fp32 scales. */
const BYTES_PER_WEIGHT: Readonly<Record<string, number>> = { fp32: 4, fp16: 2, q4f16: 0.5, quantized: 1, int8: 1, uint8: 1, q4: 0.5, bnb4: 0.5 };

/** Weights a model file of `bytes` (graph + external data) holds in `dtype`, or undefined for an unknown dtype. */
export function weightsFromFileBytes(bytes: number, dtype: string): number | undefined {
  const per = BYTES_PER_WEIGHT[dtype];
  return per && Number.isFinite(bytes) && bytes > 0 ? bytes / per : undefined;
}

/** Fused attention operators: onnxruntime computes attention inside one kernel, without a [queries × keys] tensor. */
export const FUSED_ATTENTION_OPS: readonly string[] = ['com.microsoft:GroupQueryAttention', 'com.microsoft:MultiHeadAttention', 'com.microsoft:Attention', 'com.microsoft:PagedAttention'];

/**
 * Prefill run size (tokens per forward run) on WebGPU for a graph with these operator types (onnx-scan.ts `opTypes`;
 * undefined: unreadable). A WebGPU run costs a fixed ~12–25 ms whatever its size, so fewer, larger runs win — as long as
 * attention is fused. A graph that computes attention from MatMul + Softmax (Optimum's export, our own exporter)
 * materialises [heads × run × past] scores per layer, and large runs then cost far more than their share. Measured at
 * the Qwen2.5-Coder-0.5B shape on an H200 (onnxruntime-node 1.30; `bench/results/real-models-gpu*.md` and
 * `real-models-gpu-0.5b-optimum-chunk{512,1024,2048}.json`), prefill of 2,048 / 4,096 tokens:
 *
 * | graph                                   | runs of 512   | runs of 1,024  | runs of 2,048   |
 * |-----------------------------------------|---------------|----------------|-----------------|
 * | genai layout, GroupQueryAttention, int4 | 266 / 380 ms  | not measured   | 67 / 160 ms     |
 * | Optimum layout, MatMul + Softmax, int4  | 156 / 340 ms  | 114 / 1,432 ms | 902 / 3,388 ms  |
 *
 * (The genai runs of 512 were measured with three other engines sharing the machine; alone, one 512-token run took
 * 25 ms.) With fused attention one run of 4,096 beat two of 2,048 at both shapes and both activation types
 * (`bench/results/real-models-gpu-s8.md`, genai int4, prefill of 4,096 tokens: 0.5B 179 → 152 ms (fp32 activations),
 * 159 → 114 ms (fp16); 1.5B 512 → 466 ms, 312 → 257 ms; 2,048 tokens unchanged). Returns 4,096 for fused attention,
 * 512 otherwise (also when the graph could not be read). A long run blocks other requests' decode steps for its
 * duration; the scheduler's interference rule shortens runs while another request waits.
 */
export function webgpuPrefillChunk(opTypes: ReadonlySet<string> | undefined): number {
  return hasFusedAttention(opTypes) ? 4096 : 512;
}

/** True when the graph's operator types (onnx-scan.ts `opTypes`) include one of FUSED_ATTENTION_OPS; false if unreadable. */
export function hasFusedAttention(opTypes: ReadonlySet<string> | undefined): boolean {
  return opTypes !== undefined && FUSED_ATTENTION_OPS.some((op) => opTypes.has(op));
}

/** Query heads from a config.json (`num_attention_heads`, GPT-2's `n_head`), or undefined. */
export function queryHeads(config: Readonly<Record<string, unknown>>): number | undefined {
  return num(config['num_attention_heads']) ?? num(config['n_head']);
}

/**
 * The Generator's `prefillRunCap` on WebGPU for a graph with these operator types and this config.json: undefined for
 * fused attention (no score tensor) or unknown query heads, else webgpuScoreCappedRun with the heads. Never throws.
 */
export function webgpuRunCap(opTypes: ReadonlySet<string> | undefined, config: Readonly<Record<string, unknown>>): ((run: number, past: number) => number) | undefined {
  const heads = queryHeads(config);
  if (hasFusedAttention(opTypes) || heads === undefined) return undefined;
  return (run, past) => webgpuScoreCappedRun(run, past, heads);
}

/**
 * Elements of one layer's [heads × run × (past + run)] attention scores above which a WebGPU run of a MatMul + Softmax
 * graph falls off a cliff (onnxruntime-node 1.30, H200). Every measured run fits one threshold, at both shapes: runs
 * whose scores held ≤ 40.9M elements took 35–122 ms, runs with ≥ 44.0M took 750–1,170 ms (prefill of 8,192 tokens in
 * runs of 512: the runs ending at 6,144+ positions (0.5B shape, 14 heads) and 7,168+ (1.5B, 12 heads),
 * `bench/results/accelerators-{critiprefill,lazyllm}-qwen{05b,15b}-webgpu-c512.json` `plainRunMs`; runs of 1,024 and
 * 2,048 in the table above cross it earlier). 2^25 (32M, 128 MiB as fp32) keeps a margin below the fast side.
 */
export const WEBGPU_MAX_SCORE_ELEMENTS = 2 ** 25;

/**
 * The longest prefill run, at most `run` tokens, whose attention scores [heads × r × (past + r)] stay within
 * `maxElements` (default WEBGPU_MAX_SCORE_ELEMENTS): r = ⌊(√(past² + 4·max/heads) − past) / 2⌋, never below
 * min(16, run) (at 32,000 positions and 14 heads it is 74 tokens). For WebGPU graphs without fused
 * attention (webgpuPrefillChunk), where the cliff was measured. `heads`: query heads (config.json
 * num_attention_heads); an unknown or invalid value returns `run` unchanged. Never throws.
 * Example: run 512, past 7,680, 14 heads → 300 (33.5M elements); past 4,096 → 512 (33.0M).
 */
export function webgpuScoreCappedRun(run: number, past: number, heads: number | undefined, maxElements = WEBGPU_MAX_SCORE_ELEMENTS): number {
  if (!(run >= 1) || !(heads !== undefined && heads >= 1) || !(past >= 0) || !(maxElements > 0)) return run;
  const per = maxElements / heads;
  const r = Math.floor((Math.sqrt(past * past + 4 * per) - past) / 2);
  return Math.max(Math.min(16, run), Math.min(run, r));
}
