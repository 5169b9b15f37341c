// LazyLLM twins (issue 17; Fu et al., "LazyLLM: Dynamic Token Pruning for Efficient Long Context LLM Inference",
// arXiv 2407.14057): where a model's twin graph lives and the pruning schedule it records.
// Pure (reads one file it is given); model.ts opens the twin's session.
import fs from 'node:fs';
import { readMetadataJson } from './proto-wire.js';

/** The metadata_props key native/py/onnx_builder.py writes into a twin (JSON value, LazyLlmParams). */
export const LAZYLLM_KEY = 'infill_ls.lazyllm';

/**
 * A twin's pruning schedule, as its graph computes it (native/py/onnx_builder.py `lazyllm_select`): from layer
 * `layers[j]` on (until the next listed layer), only max(1, ceil(S · keep[j] / 100)) of a run's S tokens get queries,
 * O-projection and MLP; the rest keep their hidden state, from which K/V are still projected.
 */
export interface LazyLlmParams {
  /** First layer of each pruning stage, ascending, each ≥ 1. */
  layers: number[];
  /** Percent (1..100) of the run's tokens each stage computes. */
  keep: number[];
}

/** onnx/model{suffix}.onnx → onnx/model{suffix}_lazyllm.onnx (native/py/onnx_builder.py `lazyllm_path`). */
export function lazyLlmTwinPath(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/, '') + '_lazyllm.onnx';
}

/**
 * The schedule recorded in an ONNX file's ModelProto.metadata_props under LAZYLLM_KEY; undefined when the entry is
 * absent. Throws (Error with the reason) when the file cannot be read or parsed, or the entry is not
 * {layers: ascending integers ≥ 1, keep: integers in 1..100} of one length ≥ 1.
 */
export function readLazyLlmParams(file: string): LazyLlmParams | undefined {
  const v = readMetadataJson(fs.readFileSync(file), LAZYLLM_KEY);
  if (v === undefined) return undefined;
  const o = (v !== null && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  const ints = (x: unknown, min: number, max: number) =>
    Array.isArray(x) && x.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) ? (x as number[]) : undefined;
  const layers = ints(o['layers'], 1, 1 << 20);
  const keep = ints(o['keep'], 1, 100);
  const ok = layers && keep && layers.length >= 1 && layers.length === keep.length && layers.every((l, i) => i === 0 || l > layers[i - 1]!);
  if (!ok) throw new Error(`${LAZYLLM_KEY} is not {layers: ascending, keep: 1..100}: ${JSON.stringify(v)}`);
  return { layers: [...layers!], keep: [...keep!] };
}

/** "4:70, 6:50" style description of a schedule (layer: percent kept from it on). */
export function describeLazyLlm(p: LazyLlmParams): string {
  return p.layers.map((l, i) => `${l}:${p.keep[i]}%`).join(', ');
}
