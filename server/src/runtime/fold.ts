// Folds the 8-bit weight dequantization of a q8w graph (native/py/dequant_graph.py) into fp32 initializers in our
// own memory, before onnxruntime sees the model, so that its constant folding has nothing left to fold.
//
// Why: onnxruntime folds those chains (Cast → Sub → Mul → Reshape → Transpose per weight) during session creation and
// frees the intermediates only at the end of the pass, so ~5 fp32 copies of the weights are alive at once; glibc then
// keeps most of that freed memory (measured: +406 MB RSS after load against +105 MB with MALLOC_MMAP_THRESHOLD_ set,
// which only some launchers set). Here each weight is computed on its own, straight into the model buffer handed to
// onnxruntime, and that buffer is dropped after the session exists.
//
// Numerics are unchanged bit for bit: the chain computes W^T[k, n] = (float(q[n, k]) - zp) * scale[n, k / block] in
// float32. float(q) - zp is an exact small integer (|q - zp| ≤ 255); its product with a float32 scale needs at most
// 8 + 24 significant bits, so it is exact in a double, and the one rounding on the store into a Float32Array is the
// same round-to-nearest as onnxruntime's float32 Mul.
//
// The protobuf reading and field numbers: proto-wire.ts.

import { type Field, type Node, fields, int64s, parseNode, readVarint, str, tag, varintBytes } from './proto-wire.js';

/** Outcome of `foldDequantization`: the rewritten model bytes, or null with why nothing was folded. */
export type FoldResult = { bytes: Uint8Array; weights: number; fp32Bytes: number } | { bytes: null; reason: string };

const TENSOR_FLOAT = 1;
const TENSOR_UINT8 = 2;
const TENSOR_INT64 = 7;

interface Init {
  field: Field;
  name: string;
  dims: number[];
  dataType: number;
  /** The little-endian values; null for external data or typed fields we do not read. */
  raw: Uint8Array | null;
}

function parseInit(buf: Uint8Array, field: Field): Init {
  const fs = fields(buf, field.start, field.end);
  const name = fs.find((f) => f.no === 8);
  const type = fs.find((f) => f.no === 2 && f.wire === 0);
  const dataType = type ? readVarint(buf, type.start)[0] : 0;
  const external = fs.some((f) => f.no === 14 && f.wire === 0 && readVarint(buf, f.start)[0] === 1);
  const rawF = fs.find((f) => f.no === 9 && f.wire === 2);
  let raw: Uint8Array | null = rawF && !external ? buf.subarray(rawF.start, rawF.end) : null;
  if (!raw && !external && dataType === TENSOR_INT64) {
    // Small shape constants may be written as int64_data instead of raw_data.
    const vals = int64s(buf, fs, 7);
    raw = new Uint8Array(BigInt64Array.from(vals, (v) => BigInt(v)).buffer);
  } else if (!raw && !external && dataType === TENSOR_FLOAT) {
    const fl = fs.find((f) => f.no === 4 && f.wire === 2);
    if (fl) raw = buf.slice(fl.start, fl.end);
  }
  return { field, name: name ? str(buf, name) : '', dims: int64s(buf, fs, 1), dataType, raw };
}

const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
function f32(raw: Uint8Array): Float32Array {
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}
function i64(raw: Uint8Array): number[] {
  return Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
}

/** One dequantization chain: the nodes it replaces and how to compute its [K, N] fp32 output. */
interface Chain {
  nodes: Node[];
  output: string;
  q: Init;
  scale: Init;
  zeroPoint: number;
  n: number;
  k: number;
  block: number;
}

/**
 * Recognizes `Transpose[1,0](Reshape(Mul(Sub(Cast<float>(q: uint8 [N, K/B, B]), zp), Reshape(scale: float [N, K/B]…)),
 * [N, K]))` with every leaf an initializer — the exact chain native/py/dequant_graph.py writes. Anything else: null.
 */
function matchChain(transpose: Node, producer: Map<string, Node>, inits: Map<string, Init>): Chain | null {
  const perm = transpose.attrs.get('perm')?.ints;
  if (transpose.op !== 'Transpose' || transpose.domain !== '' || !perm || perm.join() !== '1,0') return null;
  const reshape = producer.get(transpose.inputs[0] ?? '');
  if (reshape?.op !== 'Reshape' || reshape.domain !== '') return null;
  const wShape = inits.get(reshape.inputs[1] ?? '');
  const mul = producer.get(reshape.inputs[0] ?? '');
  if (!wShape?.raw || mul?.op !== 'Mul' || mul.domain !== '') return null;
  const sub = producer.get(mul.inputs[0] ?? '');
  const scaleReshape = producer.get(mul.inputs[1] ?? '');
  if (sub?.op !== 'Sub' || sub.domain !== '' || scaleReshape?.op !== 'Reshape' || scaleReshape.domain !== '') return null;
  const cast = producer.get(sub.inputs[0] ?? '');
  const zp = inits.get(sub.inputs[1] ?? '');
  if (cast?.op !== 'Cast' || cast.domain !== '' || cast.attrs.get('to')?.i !== TENSOR_FLOAT) return null;
  if (!zp?.raw || zp.dataType !== TENSOR_FLOAT || count(zp.dims) !== 1) return null;
  const q = inits.get(cast.inputs[0] ?? '');
  const scale = inits.get(scaleReshape.inputs[0] ?? '');
  const scaleShape = inits.get(scaleReshape.inputs[1] ?? '');
  if (!q?.raw || q.dataType !== TENSOR_UINT8 || q.dims.length !== 3) return null;
  if (!scale?.raw || scale.dataType !== TENSOR_FLOAT || !scaleShape?.raw) return null;
  const [n, blocks, block] = q.dims as [number, number, number];
  const k = blocks * block;
  if (i64(wShape.raw).join() !== `${n},${k}` || i64(scaleShape.raw).join() !== `${n},${blocks},1`) return null;
  if (count(scale.dims) !== n * blocks || q.raw.length !== n * k || scale.raw.length !== 4 * n * blocks) return null;
  return { nodes: [cast, sub, scaleReshape, mul, reshape, transpose], output: transpose.outputs[0]!, q, scale, zeroPoint: f32(zp.raw)[0]!, n, k, block };
}

/** W^T as float32 [K, N], row-major: W^T[k, n] = (q[n, k] - zp) * scale[n, floor(k / block)] (see the file comment). */
export function dequantizeTransposed(q: Uint8Array, scale: Float32Array, zeroPoint: number, n: number, k: number, block: number, out = new Float32Array(k * n)): Float32Array {
  const blocks = k / block;
  for (let r = 0; r < n; r++) {
    const qRow = r * k;
    for (let b = 0; b < blocks; b++) {
      const s = scale[r * blocks + b]!;
      for (let c = b * block, end = c + block; c < end; c++) out[c * n + r] = (q[qRow + c]! - zeroPoint) * s;
    }
  }
  return out;
}

const enc = new TextEncoder();

/** TensorProto header (dims, data_type FLOAT, name) and the raw_data key and length; the fp32 bytes follow it. */
function tensorHeader(name: string, dims: readonly number[], rawBytes: number): Uint8Array {
  const nameBytes = enc.encode(name);
  return Uint8Array.from([
    ...dims.flatMap((d) => [...tag(1, 0), ...varintBytes(d)]),
    ...tag(2, 0), ...varintBytes(TENSOR_FLOAT),
    ...tag(8, 2), ...varintBytes(nameBytes.length), ...nameBytes,
    ...tag(9, 2), ...varintBytes(rawBytes),
  ]);
}

/**
 * Returns `model` (ONNX ModelProto bytes) with every dequantization chain of native/py/dequant_graph.py replaced by
 * its fp32 result as an initializer ([K, N] float32, named as the chain's output), and the initializers only those
 * chains read dropped. A model without such chains comes back as `{ bytes: null, reason }`, as does one whose graph
 * this reader does not understand: the caller then loads the file as it is. Pure; never throws on a malformed file
 * (that is onnxruntime's to report).
 */
export function foldDequantization(model: Uint8Array): FoldResult {
  try {
    return fold(model);
  } catch (e) {
    return { bytes: null, reason: `not folded: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function fold(buf: Uint8Array): FoldResult {
  const top = fields(buf, 0, buf.length);
  const graphs = top.filter((f) => f.no === 7 && f.wire === 2);
  if (graphs.length !== 1) return { bytes: null, reason: 'no single graph' };
  const graph = graphs[0]!;
  const gf = fields(buf, graph.start, graph.end);
  const nodes = gf.filter((f) => f.no === 1 && f.wire === 2).map((f) => parseNode(buf, f));
  const inits = new Map<string, Init>();
  for (const f of gf.filter((f) => f.no === 5 && f.wire === 2)) {
    const t = parseInit(buf, f);
    inits.set(t.name, t);
  }
  const producer = new Map<string, Node>();
  for (const nd of nodes) for (const o of nd.outputs) producer.set(o, nd);
  const chains: Chain[] = [];
  for (const nd of nodes) {
    if (nd.op !== 'Transpose') continue;
    const c = matchChain(nd, producer, inits);
    if (c) chains.push(c);
  }
  if (chains.length === 0) return { bytes: null, reason: 'no dequantization chains' };
  // A chain's intermediate read by any node outside it would lose its producer: then fold nothing.
  const removed = new Set<Node>(chains.flatMap((c) => c.nodes));
  const outputs = new Set(chains.map((c) => c.output));
  const graphOutputs = new Set(gf.filter((f) => f.no === 12 && f.wire === 2).map((f) => {
    const name = fields(buf, f.start, f.end).find((x) => x.no === 1);
    return name ? str(buf, name) : '';
  }));
  const readByKept = new Set<string>();
  for (const nd of nodes) if (!removed.has(nd)) for (const i of nd.inputs) readByKept.add(i);
  for (const c of chains) {
    for (const nd of c.nodes) for (const o of nd.outputs) {
      if (o !== c.output && (readByKept.has(o) || graphOutputs.has(o))) return { bytes: null, reason: `${o} is read outside its chain` };
    }
  }
  // Initializers read only by removed nodes go; subgraphs (If/Loop bodies) are not looked into, so keep everything
  // when a kept node has one.
  if (nodes.some((nd) => !removed.has(nd) && /^(If|Loop|Scan)$/.test(nd.op))) return { bytes: null, reason: 'graph has subgraphs' };
  const dropInit = new Set<Init>();
  for (const nd of removed) for (const i of nd.inputs) {
    const t = inits.get(i);
    if (t && !readByKept.has(i) && !graphOutputs.has(i)) dropInit.add(t);
  }
  for (const o of outputs) if (inits.has(o)) return { bytes: null, reason: `${o} is already an initializer` };
  const removedFields = new Set<Field>([...[...removed].map((n) => n.field), ...[...dropInit].map((t) => t.field)]);

  // Graph body: every kept field's bytes as they are, then one new initializer per chain.
  const keptGraph = gf.filter((f) => !removedFields.has(f));
  const keyLen = (f: Field) => {
    // The field's key and length prefix sit between the previous field's end and f.start; rebuild them.
    return tag(f.no, f.wire).length + (f.wire === 2 ? varintBytes(f.end - f.start).length : 0);
  };
  const headers = chains.map((c) => tensorHeader(c.output, [c.k, c.n], 4 * c.k * c.n));
  const initBodyLen = (i: number) => headers[i]!.length + 4 * chains[i]!.k * chains[i]!.n;
  let graphLen = keptGraph.reduce((a, f) => a + keyLen(f) + (f.end - f.start), 0);
  chains.forEach((_, i) => {
    const len = initBodyLen(i);
    graphLen += tag(5, 2).length + varintBytes(len).length + len;
  });
  const keptTop = top.filter((f) => f !== graph);
  const total = keptTop.reduce((a, f) => a + keyLen(f) + (f.end - f.start), 0) + tag(7, 2).length + varintBytes(graphLen).length + graphLen;

  const out = new Uint8Array(total);
  let o = 0;
  const put = (bytes: ArrayLike<number>) => {
    out.set(bytes, o);
    o += bytes.length;
  };
  const copyField = (f: Field) => {
    put(tag(f.no, f.wire));
    if (f.wire === 2) put(varintBytes(f.end - f.start));
    out.set(buf.subarray(f.start, f.end), o);
    o += f.end - f.start;
  };
  for (const f of keptTop) copyField(f);
  put(tag(7, 2));
  put(varintBytes(graphLen));
  for (const f of keptGraph) copyField(f);
  // One weight at a time: a scratch of the largest [K, N] is reused, so the fold's own peak is one weight.
  const scratch = new Float32Array(Math.max(...chains.map((c) => c.k * c.n)));
  let fp32Bytes = 0;
  chains.forEach((c, i) => {
    put(tag(5, 2));
    put(varintBytes(initBodyLen(i)));
    put(headers[i]!);
    const w = dequantizeTransposed(c.q.raw!, f32(c.scale.raw!), c.zeroPoint, c.n, c.k, c.block, scratch);
    const bytes = new Uint8Array(w.buffer, 0, 4 * c.k * c.n);
    out.set(bytes, o);
    o += bytes.length;
    fp32Bytes += bytes.length;
  });
  if (o !== total) throw new Error(`size mismatch: wrote ${o} of ${total} bytes`);
  return { bytes: out, weights: chains.length, fp32Bytes };
}
