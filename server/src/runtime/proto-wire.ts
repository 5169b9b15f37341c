// Reading and re-writing ONNX protobuf messages at the wire level, without a schema library: the fields of a message
// as byte ranges of the file's buffer, so that a graph edit (fold.ts, last-logits.ts) copies every field it does not
// change byte for byte and never decodes initializers it does not read.
//
// Protobuf wire format: https://protobuf.dev/programming-guides/encoding/ ; ONNX messages: onnx/onnx.proto (ModelProto
// .graph = 7; GraphProto .node = 1, .initializer = 5, .input = 11, .output = 12; NodeProto .input = 1, .output = 2,
// .name = 3, .op_type = 4, .attribute = 5, .domain = 7; AttributeProto .name = 1, .i = 3, .ints = 8, .type = 20;
// TensorProto .dims = 1, .data_type = 2, .float_data = 4, .int64_data = 7, .name = 8, .raw_data = 9,
// .external_data = 13, .data_location = 14).

/** A field of one protobuf message: its number, wire type, and the value's bytes [start, end) in the buffer. */
export interface Field {
  no: number;
  wire: number;
  start: number;
  end: number;
}

/** Protobuf varint at `o` → [value, next offset]; 8 bytes or more (int64s, negative ones) are read as signed int64. */
export function readVarint(buf: Uint8Array, o: number): [number, number] {
  const start = o;
  let v = 0;
  let mul = 1;
  for (;;) {
    if (o >= buf.length) throw new Error('truncated varint');
    const b = buf[o++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
    if (o - start > 10) throw new Error('varint longer than 10 bytes');
  }
  if (o - start < 8) return [v, o]; // at most 49 bits: exact in a double
  let big = 0n;
  for (let i = o - 1; i >= start; i--) big = (big << 7n) | BigInt(buf[i]! & 0x7f);
  return [Number(BigInt.asIntN(64, big)), o];
}

export function fields(buf: Uint8Array, start: number, end: number): Field[] {
  const out: Field[] = [];
  let o = start;
  while (o < end) {
    const [key, o1] = readVarint(buf, o);
    const no = Math.floor(key / 8);
    const wire = key & 7;
    let s = o1;
    let e: number;
    if (wire === 0) e = readVarint(buf, s)[1];
    else if (wire === 1) e = s + 8;
    else if (wire === 5) e = s + 4;
    else if (wire === 2) {
      const [len, o2] = readVarint(buf, s);
      s = o2;
      e = o2 + len;
    } else throw new Error(`unsupported protobuf wire type ${wire} at byte ${o}`);
    if (e > end) throw new Error(`protobuf field ${no} overruns its message at byte ${o}`);
    out.push({ no, wire, start: s, end: e });
    o = e;
  }
  return out;
}

const decoder = new TextDecoder();
export const str = (buf: Uint8Array, f: Field) => decoder.decode(buf.subarray(f.start, f.end));

/** int64 values of a repeated field, packed (wire 2) or not (wire 0). */
export function int64s(buf: Uint8Array, fs: readonly Field[], no: number): number[] {
  const out: number[] = [];
  for (const f of fs) {
    if (f.no !== no) continue;
    if (f.wire === 0) out.push(readVarint(buf, f.start)[0]);
    else if (f.wire === 2) for (let o = f.start; o < f.end; ) {
      const [v, n] = readVarint(buf, o);
      out.push(v);
      o = n;
    }
  }
  return out;
}

export interface Node {
  field: Field;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, { i?: number; ints: number[] }>;
}

/** A NodeProto's op, domain, inputs, outputs and its int/ints attributes. */
export function parseNode(buf: Uint8Array, field: Field): Node {
  const fs = fields(buf, field.start, field.end);
  const attrs = new Map<string, { i?: number; ints: number[] }>();
  for (const a of fs.filter((f) => f.no === 5 && f.wire === 2)) {
    const af = fields(buf, a.start, a.end);
    const name = af.find((f) => f.no === 1);
    if (!name) continue;
    const i = af.find((f) => f.no === 3 && f.wire === 0);
    attrs.set(str(buf, name), { ...(i ? { i: readVarint(buf, i.start)[0] } : {}), ints: int64s(buf, af, 8) });
  }
  const s = (no: number) => fs.filter((f) => f.no === no && f.wire === 2).map((f) => str(buf, f));
  return { field, op: s(4)[0] ?? '', domain: s(7)[0] ?? '', inputs: s(1), outputs: s(2), attrs };
}

/** A non-negative integer as protobuf varint bytes. */
export function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
/** A field's key: (number << 3) | wire type. */
export const tag = (no: number, wire: number) => varintBytes(no * 8 + wire);

/**
 * The value recorded under `key` in the ModelProto.metadata_props (field 14: StringStringEntryProto key = 1,
 * value = 2) of an ONNX file's bytes, parsed as JSON; undefined when no entry has that key. Throws SyntaxError for a
 * value that is not JSON.
 */
export function readMetadataJson(buf: Uint8Array, key: string): unknown {
  for (const f of fields(buf, 0, buf.length)) {
    if (f.no !== 14 || f.wire !== 2) continue;
    const entry = fields(buf, f.start, f.end);
    const k = entry.find((e) => e.no === 1 && e.wire === 2);
    const value = entry.find((e) => e.no === 2 && e.wire === 2);
    if (!k || str(buf, k) !== key) continue;
    return JSON.parse(value ? str(buf, value) : '');
  }
  return undefined;
}

/** The byte arrays one after another in a new Uint8Array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
