// Reads a decoder session's input/output metadata into a ModelLayout: which inputs to feed and how the KV cache is shaped.
import { ModelLoadError } from '../util/errors.js';
import type { ValueMetadata } from './ort.js';
import type { IoNames } from './model-files.js';
import { LOGITS_POSITIONS_INPUT } from './last-logits.js';

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
/** The positions input runtime/last-logits.ts adds to the graphs it cuts (int64 [n]; fed by runtime/model.ts). */
export const LOGITS_POSITIONS = LOGITS_POSITIONS_INPUT;

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
    /** The LM head takes runtime/last-logits.ts's positions input (LOGITS_POSITIONS): the graph was cut at load. */
    logitsPositions: boolean;
  };
  /** Last dimension of `logits` when the export fixes it. */
  vocabSize: number | undefined;
  logitsDtype: KvDtype;
  /** The graph's own names of the inputs fed by name and of `logits` (the standard ones unless an IoNames map renames them). */
  names: { inputIds: string; attentionMask: string; positionIds: string; logits: string };
}

const KNOWN_INPUTS = new Set([INPUT_IDS, ATTENTION_MASK, ATTENTION_BIAS, POSITION_IDS, CACHE_POSITION, NUM_LOGITS_TO_KEEP, LOGITS_TO_KEEP, USE_CACHE_BRANCH, LOGITS_INDEX, LOGITS_POSITIONS]);

function num(config: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const v = config[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** A `%d` pattern (onnxruntime-genai's 'past_key_values.%d.key') as a regex capturing the layer. */
function patternRe(pattern: string): RegExp {
  const parts = pattern.split('%d').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('(\\d+)')}$`);
}

/**
 * Maps graph names to the standard (Optimum) names this module reads and back, for exports that rename their
 * inputs/outputs (onnxruntime-genai's genai_config.json name map). Identity when `names` is absent.
 */
function renamer(names: IoNames | undefined) {
  const toStd = new Map<string, string>();
  const fromStd = new Map<string, string>();
  const fixed: [string | undefined, string][] = names
    ? [[names.inputIds, INPUT_IDS], [names.attentionMask, ATTENTION_MASK], [names.positionIds, POSITION_IDS], [names.logits, LOGITS]]
    : [];
  for (const [own, std] of fixed) if (own && own !== std) { toStd.set(own, std); fromStd.set(std, own); }
  const patterns: [RegExp, (layer: string) => string][] = [];
  if (names) {
    for (const [pat, std] of [
      [names.pastKey, 'past_key_values.%d.key'], [names.pastValue, 'past_key_values.%d.value'],
      [names.presentKey, 'present.%d.key'], [names.presentValue, 'present.%d.value'],
    ] as const) {
      if (pat && pat !== std && pat.includes('%d')) patterns.push([patternRe(pat), (l) => std.replace('%d', l)]);
    }
  }
  const std = (name: string): string => {
    const f = toStd.get(name);
    if (f) return f;
    for (const [re, make] of patterns) {
      const m = re.exec(name);
      if (m) {
        const s = make(m[1]!);
        fromStd.set(s, name);
        return s;
      }
    }
    return name;
  };
  return { std, own: (standard: string) => fromStd.get(standard) ?? standard };
}

/**
 * Builds the layout from `session.inputMetadata` / `outputMetadata`. config.json is consulted only for
 * dimensions an export leaves symbolic (kv heads, head dim). `names` maps renamed inputs/outputs (from
 * genai_config.json); slots and `names` in the result carry the graph's own names.
 * Throws ModelLoadError('unsupported-layout').
 */
export function readLayout(
  ownInputs: readonly ValueMetadata[],
  ownOutputs: readonly ValueMetadata[],
  config: Record<string, unknown>,
  file: string,
  ioNames?: IoNames,
): ModelLayout {
  const rn = renamer(ioNames);
  const inputs = ownInputs.map((m) => ({ ...m, name: rn.std(m.name) }) as ValueMetadata);
  const outputs = ownOutputs.map((m) => ({ ...m, name: rn.std(m.name) }) as ValueMetadata);
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
    slots.push({ pastName: rn.own(m.name), presentName: rn.own(presentName!), layer, part, dtype: dtype as KvDtype, emptyDims, pastAxis });
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
    logitsPositions: inNames.has(LOGITS_POSITIONS),
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
    names: { inputIds: rn.own(INPUT_IDS), attentionMask: rn.own(ATTENTION_MASK), positionIds: rn.own(POSITION_IDS), logits: rn.own(LOGITS) },
  };
}
