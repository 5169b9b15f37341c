// CritiPrefill twins (issue 17; Lv et al., "CritiPrefill: A Segment-wise Criticality-based Approach for Prefilling
// Acceleration in LLMs", arXiv 2409.12490): where a model's twin graph lives and the parameters it records.
// Pure (reads one file it is given); model.ts opens the twin's session.
import fs from 'node:fs';
import { readMetadataJson } from './proto-wire.js';

/** The metadata_props key native/py/onnx_builder.py writes into a twin (JSON value, CritiPrefillParams). */
export const CRITIPREFILL_KEY = 'infill_ls.critiprefill';

/** A twin's block selection, as its graph computes it (native/py/onnx_builder.py `critiprefill_plan`). */
export interface CritiPrefillParams {
  /** Past positions per KV block. */
  block: number;
  /** Whole blocks kept per layer and KV head (the sink block and the `recent` newest ones included). */
  budget: number;
  /** Newest whole blocks always kept. */
  recent: number;
}

/** onnx/model{suffix}.onnx → onnx/model{suffix}_critiprefill.onnx (native/py/onnx_builder.py `twin_path`). */
export function critiPrefillTwinPath(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/, '') + '_critiprefill.onnx';
}

/**
 * The smallest past (in positions) for which the twin drops a block: it keeps min(budget, floor(past / block)) whole
 * blocks and the tail, so below (budget + 1) · block it attends to every past position, as the plain graph does.
 */
export function critiPrefillMinPast(p: CritiPrefillParams): number {
  return (p.budget + 1) * p.block;
}

/**
 * The parameters recorded in an ONNX file's ModelProto.metadata_props (field 14: StringStringEntryProto key = 1,
 * value = 2) under CRITIPREFILL_KEY; undefined when the entry is absent. Throws (Error with the reason) when the file
 * cannot be read or parsed, or the entry is not {block ≥ 1, budget ≥ 1, recent ≥ 0} integers.
 */
export function readCritiPrefillParams(file: string): CritiPrefillParams | undefined {
  const v = readMetadataJson(fs.readFileSync(file), CRITIPREFILL_KEY);
  if (v === undefined) return undefined;
  const o = (v !== null && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  const int = (x: unknown, min: number) => (typeof x === 'number' && Number.isInteger(x) && x >= min ? x : undefined);
  const block = int(o['block'], 1);
  const budget = int(o['budget'], 1);
  const recent = int(o['recent'], 0);
  if (block === undefined || budget === undefined || recent === undefined) throw new Error(`${CRITIPREFILL_KEY} is not {block, budget, recent}: ${JSON.stringify(v)}`);
  return { block, budget, recent };
}
