// A minimal ONNX protobuf writer: builds the tiny helper graphs the runtime needs (e.g. slicing a GPU KV cache), the
// nodes graph edits add (last-logits.ts) and test models.

type Field = Uint8Array;

function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const enc = new TextEncoder();

function fVarint(fieldNo: number, value: number | bigint): Field {
  return Uint8Array.from([...varint((fieldNo << 3) | 0), ...varint(value)]);
}
function fBytes(fieldNo: number, bytes: Uint8Array): Field {
  return concat([Uint8Array.from([...varint((fieldNo << 3) | 2), ...varint(bytes.length)]), bytes]);
}
function fString(fieldNo: number, s: string): Field {
  return fBytes(fieldNo, enc.encode(s));
}
function fFloat(fieldNo: number, f: number): Field {
  const b = new Uint8Array(5);
  b[0] = (fieldNo << 3) | 5;
  new DataView(b.buffer).setFloat32(1, f, true);
  return b;
}

export const DT = { float: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10 } as const;
export type ElemType = (typeof DT)[keyof typeof DT];

export interface TensorInit {
  name: string;
  dims: number[];
  dataType: ElemType;
  raw: Uint8Array;
}

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorInit {
  return { name, dims, dataType: DT.float, raw: new Uint8Array(Float32Array.from(values).buffer) };
}
export function int64Tensor(name: string, dims: number[], values: ArrayLike<number>): TensorInit {
  return { name, dims, dataType: DT.int64, raw: new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer) };
}

/** TensorProto bytes (dims, data_type, name, raw_data) of an initializer. */
export function tensorProto(t: TensorInit): Uint8Array {
  return concat([...t.dims.map((d) => fVarint(1, d)), fVarint(2, t.dataType), fString(8, t.name), fBytes(9, t.raw)]);
}

export type AttrValue = number | number[] | string | { float: number } | TensorInit;

function attributeProto(name: string, value: AttrValue): Uint8Array {
  const parts: Uint8Array[] = [fString(1, name)];
  if (typeof value === 'number') parts.push(fVarint(3, value), fVarint(20, 2));
  else if (typeof value === 'string') parts.push(fBytes(4, enc.encode(value)), fVarint(20, 3));
  else if (Array.isArray(value)) parts.push(...value.map((v) => fVarint(8, v)), fVarint(20, 7));
  else if ('float' in value) parts.push(fFloat(2, value.float), fVarint(20, 1));
  else parts.push(fBytes(5, tensorProto(value)), fVarint(20, 4));
  return concat(parts);
}

export interface NodeInit {
  /** Node name; buildModel's default is `n{index}_{op}`. */
  name?: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  domain?: string;
}

/** NodeProto bytes; `index` names a node that has no `name` of its own. */
export function nodeProto(n: NodeInit, index = 0): Uint8Array {
  const parts: Uint8Array[] = [
    ...n.inputs.map((s) => fString(1, s)),
    ...n.outputs.map((s) => fString(2, s)),
    fString(3, n.name ?? `n${index}_${n.op}`),
    fString(4, n.op),
  ];
  for (const [k, v] of Object.entries(n.attrs ?? {})) parts.push(fBytes(5, attributeProto(k, v)));
  if (n.domain) parts.push(fString(7, n.domain));
  return concat(parts);
}

/** A graph input/output: dims are numbers (fixed) or strings (symbolic); null: no shape (left to shape inference). */
export interface ValueInit {
  name: string;
  elemType: ElemType;
  dims: (number | string)[] | null;
}

/** ValueInfoProto bytes of a tensor value. */
export function valueInfo(v: ValueInit): Uint8Array {
  const elem = fVarint(1, v.elemType);
  const tensorType = v.dims === null
    ? elem
    : concat([elem, fBytes(2, concat(v.dims.map((d) => fBytes(1, typeof d === 'number' ? fVarint(1, d) : fString(2, d)))))]);
  return concat([fString(1, v.name), fBytes(2, fBytes(1, tensorType))]);
}

export interface GraphInit {
  nodes: NodeInit[];
  inputs: ValueInit[];
  outputs: ValueInit[];
  initializers?: TensorInit[];
  opset?: number;
}

/** Serializes a ModelProto (IR version 8, default-domain opset 17 unless given). */
export function buildModel(g: GraphInit): Uint8Array {
  const graph = concat([
    ...g.nodes.map((n, i) => fBytes(1, nodeProto(n, i))),
    fString(2, 'synthetic'),
    ...(g.initializers ?? []).map((t) => fBytes(5, tensorProto(t))),
    ...g.inputs.map((v) => fBytes(11, valueInfo(v))),
    ...g.outputs.map((v) => fBytes(12, valueInfo(v))),
  ]);
  const opset = concat([fString(1, ''), fVarint(2, g.opset ?? 17)]);
  return concat([fVarint(1, 8), fString(2, 'infill-ls-test'), fBytes(7, graph), fBytes(8, opset)]);
}
