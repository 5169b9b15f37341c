// Makes a decoder graph compute the logits of the last position only. The runtime never reads any other row
// (`forward` returns the last row; packed prefill takes no logits), but a graph exported by Optimum or by
// onnxruntime-genai's model builder without `num_logits_to_keep` runs its LM head on every position of a prefill
// run and returns [1, seq, vocab]:
// - on the CPU the LM head of a 151,936-word vocabulary is ~28% of a 256-token prefill chunk's FLOPs at the
//   Qwen2.5-Coder-0.5B shape (bench/realmodels/README.md);
// - on WebGPU every run fetches every output (model.ts: onnxruntime-node 1.30 mis-maps a subset of fetches there)
//   and logits cannot stay on the GPU, so a 512-token chunk copies 311 MB to the host: measured on an H200,
//   prefill cost ~0.75 ms per token at both the 0.5B and the 1.5B shape (bench/results/real-models-gpu.md).
// The edit: `Gather(hidden, positions, axis = 1)` before the LM head (a MatMul or MatMulNBits reached from the
// `logits` output through Identity/Cast nodes), where `positions` is a new graph input, int64 [n]
// (`LOGITS_POSITIONS_INPUT`): the runtime feeds [seq - 1], so the head multiplies one row and `logits` is
// [1, 1, vocab]; draft-and-verify decoding (decoding/generator.ts) feeds every position of a short run and gets
// [1, n, vocab]. A row is the same computation as before (the head's rows are independent), though a kernel chosen
// for one row may round differently from one chosen for many.

import { type Field, type Node, concatBytes, fields, parseNode, readVarint, str, tag, varintBytes } from './proto-wire.js';
import { DT, int64Tensor, nodeProto, tensorProto, valueInfo, type NodeInit } from './onnx-proto.js';

/** Graph inputs that make a graph compute only the logits asked for: such graphs are left as they are. */
const SELECTING_INPUTS = new Set(['logits_index', 'num_logits_to_keep', 'logits_to_keep']);

/**
 * Outcome of `keepLastLogits`: the rewritten model bytes, or null with why the graph was left as it is (`selected`:
 * because its logits are already only the rows asked for).
 */
export type LastLogitsResult = { bytes: Uint8Array; head: string } | { bytes: null; reason: string; selected?: boolean };

const HEAD_OPS = new Set(['MatMul', 'MatMulNBits']); // (a Gemm head takes 2-D input: no position axis to cut)
const PASS_OPS = new Set(['Identity', 'Cast']);
const GATHER_NAME = 'infill_ls/last_position';
/**
 * The input an edited graph adds: int64 [n], the run's positions (0-based, within this run) whose logits the LM head
 * computes; `logits` is then [batch, n, vocab]. Every run of an edited graph must feed it (runtime/model.ts feeds
 * [seq - 1] unless all rows are asked for).
 */
export const LOGITS_POSITIONS_INPUT = 'infill_ls/last_position/index';
const INDEX_NAME = LOGITS_POSITIONS_INPUT;
const enc = new TextEncoder();

/**
 * Returns `model` (ONNX ModelProto bytes, weights inline or external) with a Gather of the positions fed as
 * `LOGITS_POSITIONS_INPUT` (int64 [n]) inserted in front of the LM head that produces the graph output `logitsName`
 * ([batch, seq, vocab] → [batch, n, vocab]; n = 1, the last position, is what the runtime feeds by default).
 * Leaves the graph alone (`{ bytes: null, reason }`) when no such head is found, when the head's input is already
 * one position (a graph with `logits_index` or `num_logits_to_keep` handles it itself: the caller checks), or when
 * this reader does not understand the file. Pure; never throws on a malformed file (onnxruntime reports those).
 */
export function keepLastLogits(model: Uint8Array, logitsName: string): LastLogitsResult {
  try {
    return edit(model, logitsName);
  } catch (e) {
    return { bytes: null, reason: `logits not cut: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function edit(buf: Uint8Array, logitsName: string): LastLogitsResult {
  const top = fields(buf, 0, buf.length);
  const graphs = top.filter((f) => f.no === 7 && f.wire === 2);
  if (graphs.length !== 1) return { bytes: null, reason: 'no single graph' };
  const graph = graphs[0]!;
  const gf = fields(buf, graph.start, graph.end);
  const inputNames = gf.filter((f) => f.no === 11 && f.wire === 2).map((f) => {
    const name = fields(buf, f.start, f.end).find((x) => x.no === 1 && x.wire === 2);
    return name ? str(buf, name) : '';
  });
  const selecting = inputNames.find((n) => SELECTING_INPUTS.has(n));
  if (selecting) return { bytes: null, reason: `the graph takes ${selecting}`, selected: true };
  const nodes = gf.filter((f) => f.no === 1 && f.wire === 2).map((f) => parseNode(buf, f));
  if (nodes.some((n) => n.inputs.includes(INDEX_NAME))) return { bytes: null, reason: 'already cut', selected: true };
  const producer = new Map<string, Node>();
  for (const nd of nodes) for (const o of nd.outputs) producer.set(o, nd);
  let head = producer.get(logitsName);
  for (let hops = 0; head && PASS_OPS.has(head.op) && head.domain === '' && hops < 4; hops++) head = producer.get(head.inputs[0] ?? '');
  if (!head || !HEAD_OPS.has(head.op) || !(head.domain === '' || head.domain === 'com.microsoft')) {
    return { bytes: null, reason: `${logitsName} does not come from a MatMul or MatMulNBits` };
  }
  const hidden = head.inputs[0];
  if (!hidden) return { bytes: null, reason: 'the LM head has no input' };
  // Read by anything else, the full hidden state must stay: only the head's own input is replaced.
  const lastName = `${hidden}/last_position`;

  const gather = nodeProto({ name: GATHER_NAME, op: 'Gather', inputs: [hidden, INDEX_NAME], outputs: [lastName], attrs: { axis: 1 } });
  const index = valueInfo({ name: INDEX_NAME, elemType: DT.int64, dims: ['infill_ls_positions'] });
  const headBytes = renameFirstInput(buf, head.field, lastName);

  // The unchanged fields (initializers included) stay views into `buf` until the one copy into the result.
  const graphBody: Uint8Array[] = [];
  for (const f of gf) {
    if (f === head.field) graphBody.push(lenField(1, gather), lenField(1, headBytes));
    else graphBody.push(...keyed(buf, f));
  }
  graphBody.push(lenField(11, index)); // a graph input
  const out = cat(...top.flatMap((f) => (f === graph ? [lenHeader(7, graphBody), ...graphBody] : keyed(buf, f))));
  return { bytes: out, head: head.op };
}

/** The NodeProto of `field` with its first input renamed; every other field copied as it is. */
function renameFirstInput(buf: Uint8Array, field: Field, name: string): Uint8Array {
  let done = false;
  return cat(...fields(buf, field.start, field.end).flatMap((f) => {
    if (!done && f.no === 1 && f.wire === 2) {
      done = true;
      return [lenField(1, enc.encode(name))];
    }
    return keyed(buf, f);
  }));
}

/** A field as it stands in `buf`: its key (and length) rebuilt, its value a view, not a copy. */
function keyed(buf: Uint8Array, f: Field): Uint8Array[] {
  const value = buf.subarray(f.start, f.end);
  return [f.wire === 2 ? lenHeader(f.no, [value]) : Uint8Array.from(tag(f.no, f.wire)), value];
}

/** Key and length of a length-delimited field whose value is `body`'s pieces. */
function lenHeader(no: number, body: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from([...tag(no, 2), ...varintBytes(body.reduce((a, p) => a + p.length, 0))]);
}

function lenField(no: number, body: Uint8Array): Uint8Array {
  return cat(lenHeader(no, [body]), body);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/**
 * The output an `addLogitsLse` graph adds: float32 [batch, n, 1], log Σ exp over the vocabulary of each row of
 * `logits` ([batch, n, vocab]): the normalizer of log-probabilities, computed next to the LM head so that the host
 * skips a pass of exp over 151,936 entries per decode step at the Qwen2.5-Coder shapes (~1.6 ms on the development
 * CPU, issue 15). Same value as the host's float64 pass within float32 rounding: onnxruntime sums the exps in float32
 * (`test/runtime/logits-lse.test.ts` states the tolerance).
 */
export const LOGITS_LSE_OUTPUT = 'infill_ls/logits_lse';
const LSE_PREFIX = 'infill_ls/logits_lse';

/** Outcome of `addLogitsLse`: the model bytes with the output added, or null with why the graph was left as it is. */
export type LogitsLseResult = { bytes: Uint8Array } | { bytes: null; reason: string };

/**
 * Returns `model` (ONNX ModelProto bytes) with a graph output `LOGITS_LSE_OUTPUT` computed from the graph output
 * `logitsName` (float32 or float16 [batch, n, vocab]; float16 is first Cast to float32, so the sum is float32's either
 * way and matches the host's pass over the widened row) by ReduceMax → Sub → Exp → ReduceSum → Log → Add over the last
 * axis (keepdims: [batch, n, 1], float32); these operators have vectorized CPU kernels, unlike ReduceLogSumExp's scalar
 * exp, and run on the GPU with the graph there. Meant for graphs whose logits are already cut to the rows the runtime
 * reads (keepLastLogits, or a graph that takes `logits_index` / `num_logits_to_keep`): on a full [1, seq, vocab]
 * prefill output it would cost seq rows. Leaves the graph alone (`{ bytes: null, reason }`) when `logitsName` is no
 * graph output, is neither float32 nor float16, the default opset is below 13 or unknown, or the output exists
 * already. Pure; never throws.
 */
export function addLogitsLse(model: Uint8Array, logitsName: string): LogitsLseResult {
  try {
    return editLse(model, logitsName);
  } catch (e) {
    return { bytes: null, reason: `log-sum-exp not added: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function editLse(buf: Uint8Array, logitsName: string): LogitsLseResult {
  const top = fields(buf, 0, buf.length);
  const graphs = top.filter((f) => f.no === 7 && f.wire === 2);
  if (graphs.length !== 1) return { bytes: null, reason: 'no single graph' };
  // ModelProto.opset_import (8): OperatorSetIdProto { domain = 1, version = 2 }; '' is the default domain.
  let opset = 0;
  for (const f of top) {
    if (f.no !== 8 || f.wire !== 2) continue;
    const of = fields(buf, f.start, f.end);
    const domain = of.find((x) => x.no === 1 && x.wire === 2);
    const version = of.find((x) => x.no === 2 && x.wire === 0);
    const d = domain ? str(buf, domain) : '';
    if ((d === '' || d === 'ai.onnx') && version) opset = readVarint(buf, version.start)[0];
  }
  if (opset < 13) return { bytes: null, reason: `default opset ${opset || 'unknown'} (13+ needed)` };
  const graph = graphs[0]!;
  const gf = fields(buf, graph.start, graph.end);
  // GraphProto.output (12): ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1: { elem_type = 1 } } }
  let elemType = -1;
  for (const f of gf) {
    if (f.no !== 12 || f.wire !== 2) continue;
    const vf = fields(buf, f.start, f.end);
    const name = vf.find((x) => x.no === 1 && x.wire === 2);
    if (!name) continue;
    const n = str(buf, name);
    if (n === LOGITS_LSE_OUTPUT) return { bytes: null, reason: 'already added' };
    if (n !== logitsName) continue;
    const type = vf.find((x) => x.no === 2 && x.wire === 2);
    const tensor = type && fields(buf, type.start, type.end).find((x) => x.no === 1 && x.wire === 2);
    const elem = tensor && fields(buf, tensor.start, tensor.end).find((x) => x.no === 1 && x.wire === 0);
    elemType = elem ? readVarint(buf, elem.start)[0] : 0;
  }
  if (elemType === -1) return { bytes: null, reason: `no graph output ${logitsName}` };
  if (elemType !== DT.float && elemType !== DT.float16) return { bytes: null, reason: `${logitsName} is neither float32 nor float16 (elem_type ${elemType})` };

  const axesName = `${LSE_PREFIX}/axes`;
  const n = (suffix: string) => `${LSE_PREFIX}/${suffix}`;
  const node = (op: string, inputs: string[], outputs: string[], attrs?: NodeInit['attrs']) => nodeProto({ name: n(op), op, inputs, outputs, ...(attrs ? { attrs } : {}) });
  // ReduceMax takes axes as an attribute before opset 18, as an input from 18 on; ReduceSum as an input from 13 on.
  // float16 logits: one Cast to float32 first (TensorProto.DataType FLOAT = 1), every later node reads the cast.
  const src = elemType === DT.float16 ? n('logits_f32') : logitsName;
  const cast = elemType === DT.float16 ? [node('Cast', [logitsName], [src], { to: DT.float })] : [];
  const reduceMax = opset >= 18
    ? node('ReduceMax', [src, axesName], [n('max')], { keepdims: 1 })
    : node('ReduceMax', [src], [n('max')], { keepdims: 1, axes: [-1] });
  const nodes = [
    ...cast,
    reduceMax,
    node('Sub', [src, n('max')], [n('shifted')]),
    node('Exp', [n('shifted')], [n('exp')]),
    node('ReduceSum', [n('exp'), axesName], [n('sum')], { keepdims: 1 }),
    node('Log', [n('sum')], [n('log')]),
    node('Add', [n('log'), n('max')], [LOGITS_LSE_OUTPUT]),
  ];
  const axes = tensorProto(int64Tensor(axesName, [1], [-1]));
  const output = valueInfo({ name: LOGITS_LSE_OUTPUT, elemType: DT.float, dims: null }); // shape left to inference

  const graphBody: Uint8Array[] = [];
  for (const f of gf) graphBody.push(...keyed(buf, f));
  for (const nd of nodes) graphBody.push(lenField(1, nd));
  graphBody.push(lenField(5, axes), lenField(12, output));
  const out = cat(...top.flatMap((f) => (f === graph ? [lenHeader(7, graphBody), ...graphBody] : keyed(buf, f))));
  return { bytes: out };
}
