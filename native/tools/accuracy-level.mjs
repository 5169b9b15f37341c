// Reads or rewrites the `accuracy_level` attribute of every MatMulNBits node of an ONNX model, in place of the
// bytes (the value is one varint byte, so no length in the file changes and nothing else is touched).
// accuracy_level (onnxruntime contrib op MatMulNBits, docs/ContribOperators.md): 0 unset (the CPU kernel then
// computes in fp32), 1 fp32, 2 fp16, 3 bf16, 4 int8 (activations quantized per row and block inside the kernel).
// Usage: node native/tools/accuracy-level.mjs MODEL.onnx               prints the levels found
//        node native/tools/accuracy-level.mjs MODEL.onnx LEVEL OUT.onnx writes a copy with every level set to LEVEL
import '../../bench/lib/help.mjs';
import fs from 'node:fs';

/** Protobuf varint at `o` → [value, next offset]. */
function varint(buf, o) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (o >= buf.length) throw new Error('truncated varint');
    const b = buf[o++];
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [v, o];
    shift += 7n;
  }
}

/** Fields of one message in buf[start, end): { no, wire, start, end } with [start, end) the value's bytes. */
function fields(buf, start, end) {
  const out = [];
  let o = start;
  while (o < end) {
    const [key, o1] = varint(buf, o);
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    let s = o1;
    let e;
    if (wire === 0) e = varint(buf, s)[1];
    else if (wire === 1) e = s + 8;
    else if (wire === 5) e = s + 4;
    else if (wire === 2) {
      const [len, o2] = varint(buf, s);
      s = o2;
      e = o2 + Number(len);
    } else throw new Error(`unsupported wire type ${wire} at byte ${o}`);
    if (e > end) throw new Error(`field ${no} overruns its message at byte ${o}`);
    out.push({ no, wire, start: s, end: e });
    o = e;
  }
  return out;
}

const text = (buf, f) => Buffer.from(buf.subarray(f.start, f.end)).toString('utf8');

/** Offsets of the `i` value of every MatMulNBits node's accuracy_level attribute (ModelProto.graph.node, no subgraphs). */
export function accuracyLevels(buf) {
  const graph = fields(buf, 0, buf.length).find((f) => f.no === 7 && f.wire === 2);
  if (!graph) throw new Error('no graph in this ONNX file');
  const found = [];
  let nodes = 0;
  for (const node of fields(buf, graph.start, graph.end).filter((f) => f.no === 1 && f.wire === 2)) {
    const nf = fields(buf, node.start, node.end);
    const op = nf.find((f) => f.no === 4);
    if (!op || text(buf, op) !== 'MatMulNBits') continue;
    nodes++;
    for (const a of nf.filter((f) => f.no === 5 && f.wire === 2)) {
      const af = fields(buf, a.start, a.end);
      const name = af.find((f) => f.no === 1);
      if (!name || text(buf, name) !== 'accuracy_level') continue;
      const i = af.find((f) => f.no === 3 && f.wire === 0);
      if (!i) throw new Error('accuracy_level attribute without an int value');
      found.push({ offset: i.start, length: i.end - i.start, value: Number(varint(buf, i.start)[0]) });
    }
  }
  return { nodes, found };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, level, out] = process.argv.slice(2);
  if (!file || (level !== undefined && !out)) {
    console.error('usage: node native/tools/accuracy-level.mjs MODEL.onnx [LEVEL OUT.onnx]');
    process.exit(2);
  }
  const buf = new Uint8Array(fs.readFileSync(file));
  const { nodes, found } = accuracyLevels(buf);
  if (level === undefined) {
    const counts = {};
    for (const f of found) counts[f.value] = (counts[f.value] ?? 0) + 1;
    console.log(JSON.stringify({ matmulnbits_nodes: nodes, accuracy_level: counts }));
  } else {
    const v = Number(level);
    if (!Number.isInteger(v) || v < 0 || v > 4) throw new Error(`LEVEL must be 0..4, got ${level}`);
    if (found.length !== nodes) throw new Error(`${nodes - found.length} MatMulNBits nodes have no accuracy_level attribute to rewrite`);
    for (const f of found) {
      if (f.length !== 1) throw new Error('accuracy_level value is not a one-byte varint');
      buf[f.offset] = v;
    }
    fs.writeFileSync(out, buf);
    console.log(JSON.stringify({ matmulnbits_nodes: nodes, rewritten: found.length, accuracy_level: v, out }));
  }
}
