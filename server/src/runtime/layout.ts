// Reads a decoder session's input/output metadata into a ModelLayout: which inputs to feed and how the KV cache is shaped.
import { ModelLoadError } from '../util/errors.js';
import type { ValueMetadata } from './ort.js';

/** ONNX input/output names exactly as the exports define them. */
export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const ATTENTION_BIAS = 'attention_bias';
export const POSITION_IDS = 'position_ids';
export const CACHE_POSITION = 'cache_position';
export const NUM_LOGITS_TO_KEEP = 'num_logits_to_keep';
export const LOGITS_TO_KEEP = 'logits_to_keep';
export const USE_CACHE_BRANCH = 'use_cache_branch';
export const LOGITS_INDEX = 'logits_index';
export const LOGITS = 'logits';

const PAST_RE = /^past_key_values\.(\d+)\.(key|value|key_value)$/;

export type KvDtype = 'float32' | 'float16';

/** One past input and the present output that replaces it after each run. */
export interface KvSlot {
  pastName: string;
  presentName: string;
  layer: number;
  part: 'key' | 'value' | 'key_value';
  dtype: KvDtype;
  /** Shape with the past axis set to 0 and batch to 1, e.g. [1, kv_heads, 0, head_dim] or [1, 0, 2*head_dim]. */
  emptyDims: number[];
  /** Index of the past (sequence) axis: 2 for [batch, heads, past, dim], 1 for fused [batch, past, 2*dim]. */
  pastAxis: number;
}

export interface ModelLayout {
  /** 'packed': attention_bias + logits_index (our default model); 'standard': Optimum layout. */
  kind: 'standard' | 'packed';
  kvFormat: 'per-layer' | 'fused';
  numLayers: number;
  slots: KvSlot[];
  has: {
    attentionMask: boolean;
    attentionBias: boolean;
    positionIds: boolean;
    cachePosition: boolean;
    /** The name of the logits-count input (num_logits_to_keep / logits_to_keep) when present. */
    logitsToKeep: string | null;
    useCacheBranch: boolean;
    logitsIndex: boolean;
  };
  /** Last dimension of `logits` when the export fixes it. */
  vocabSize: number | undefined;
  logitsDtype: KvDtype;
}

const KNOWN_INPUTS = new Set([INPUT_IDS, ATTENTION_MASK, ATTENTION_BIAS, POSITION_IDS, CACHE_POSITION, NUM_LOGITS_TO_KEEP, LOGITS_TO_KEEP, USE_CACHE_BRANCH, LOGITS_INDEX]);

function num(config: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const v = config[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/**
 * Builds the layout from `session.inputMetadata` / `outputMetadata`. config.json is consulted only for
 * dimensions an export leaves symbolic (kv heads, head dim). Throws ModelLoadError('unsupported-layout').
 */
export function readLayout(
  inputs: readonly ValueMetadata[],
  outputs: readonly ValueMetadata[],
  config: Record<string, unknown>,
  file: string,
): ModelLayout {
  const unsupported = (problem: string): never => {
    throw new ModelLoadError('unsupported-layout', file, problem);
  };
  const inNames = new Set(inputs.map((m) => m.name));
  const outByName = new Map(outputs.map((m) => [m.name, m]));
  if (!inNames.has(INPUT_IDS)) unsupported(`has no '${INPUT_IDS}' input (inputs: ${[...inNames].join(', ')}); is this a decoder-only language model?`);
  const logits = outByName.get(LOGITS);
  if (!logits) unsupported(`has no '${LOGITS}' output (outputs: ${[...outByName.keys()].join(', ')})`);

  const unknown = inputs.filter((m) => !KNOWN_INPUTS.has(m.name) && !PAST_RE.test(m.name)).map((m) => m.name);
  if (unknown.length) unsupported(`has inputs infill-ls does not know how to feed: ${unknown.join(', ')}`);

  const slots: KvSlot[] = [];
  for (const m of inputs) {
    const match = PAST_RE.exec(m.name);
    if (!match) continue;
    if (!m.isTensor) unsupported(`input '${m.name}' is not a tensor`);
    const meta = m as ValueMetadata & { isTensor: true };
    const layer = Number(match[1]);
    const part = match[2] as KvSlot['part'];
    const dtype = meta.type;
    if (dtype !== 'float32' && dtype !== 'float16') unsupported(`past input '${m.name}' has dtype ${dtype}; only float32 and float16 are supported`);
    const presentName = [`present.${layer}.${part}`, `present_key_values.${layer}.${part}`].find((n) => outByName.has(n));
    if (!presentName) unsupported(`past input '${m.name}' has no matching 'present.${layer}.${part}' output`);
    const rank = meta.shape.length;
    let pastAxis: number;
    if (part === 'key_value') pastAxis = rank === 3 ? 1 : rank === 4 ? 2 : -1;
    else pastAxis = rank === 4 ? 2 : -1;
    if (pastAxis < 0) unsupported(`past input '${m.name}' has rank ${rank} (shape [${meta.shape.join(', ')}]); expected [batch, kv_heads, past, head_dim]${part === 'key_value' ? ' or [batch, past, 2*head_dim]' : ''}`);
    const heads = num(config, 'num_key_value_heads', 'n_head_kv', 'num_attention_heads', 'n_head');
    const hidden = num(config, 'hidden_size', 'n_embd');
    const headDim = num(config, 'head_dim') ?? (hidden && num(config, 'num_attention_heads', 'n_head') ? hidden / num(config, 'num_attention_heads', 'n_head')! : undefined);
    const emptyDims = meta.shape.map((d, i) => {
      if (i === 0) return 1;
      if (i === pastAxis) return 0;
      if (typeof d === 'number') return d;
      // A symbolic non-batch, non-past dimension: fall back to config.json.
      const isLast = i === rank - 1;
      const v = isLast ? (part === 'key_value' ? (headDim ? 2 * headDim : undefined) : headDim) : part === 'key_value' && config['multi_query'] ? 1 : heads;
      if (!v || !Number.isInteger(v)) unsupported(`past input '${m.name}' has symbolic dimension '${d}' that config.json does not determine`);
      return v as number;
    });
    slots.push({ pastName: m.name, presentName: presentName!, layer, part, dtype: dtype as KvDtype, emptyDims, pastAxis });
  }
  if (slots.length === 0) unsupported('has no past_key_values.* inputs; infill-ls needs an export with a KV cache (Optimum "text-generation-with-past")');
  slots.sort((a, b) => a.layer - b.layer || a.part.localeCompare(b.part));
  const layers = [...new Set(slots.map((s) => s.layer))];
  const fused = slots.some((s) => s.part === 'key_value');
  if (fused && slots.some((s) => s.part !== 'key_value')) unsupported('mixes fused key_value and separate key/value past inputs');
  for (let i = 0; i < layers.length; i++) {
    if (layers[i] !== i) unsupported(`past inputs skip layer ${i}`);
    if (!fused && slots.filter((s) => s.layer === i).length !== 2) unsupported(`layer ${i} lacks a key or a value past input`);
  }

  const has = {
    attentionMask: inNames.has(ATTENTION_MASK),
    attentionBias: inNames.has(ATTENTION_BIAS),
    positionIds: inNames.has(POSITION_IDS),
    cachePosition: inNames.has(CACHE_POSITION),
    logitsToKeep: inNames.has(NUM_LOGITS_TO_KEEP) ? NUM_LOGITS_TO_KEEP : inNames.has(LOGITS_TO_KEEP) ? LOGITS_TO_KEEP : null,
    useCacheBranch: inNames.has(USE_CACHE_BRANCH),
    logitsIndex: inNames.has(LOGITS_INDEX),
  };
  const packed = has.attentionBias || has.logitsIndex;
  if (packed) {
    if (!has.attentionBias || !has.logitsIndex || !has.positionIds) {
      unsupported(`looks like the packed layout but lacks ${[!has.attentionBias && ATTENTION_BIAS, !has.logitsIndex && LOGITS_INDEX, !has.positionIds && POSITION_IDS].filter(Boolean).join(', ')}`);
    }
    if (has.attentionMask) unsupported(`has both '${ATTENTION_MASK}' and '${ATTENTION_BIAS}'`);
  }
  const lm = logits as ValueMetadata & { isTensor: true };
  if (lm.type !== 'float32' && lm.type !== 'float16') unsupported(`'logits' has dtype ${lm.type}; expected float32 or float16`);
  const last = lm.shape[lm.shape.length - 1];
  return {
    kind: packed ? 'packed' : 'standard',
    kvFormat: fused ? 'fused' : 'per-layer',
    numLayers: layers.length,
    slots,
    has,
    vocabSize: typeof last === 'number' ? last : undefined,
    logitsDtype: lm.type as KvDtype,
  };
}
