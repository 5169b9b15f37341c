// Reads what an ONNX file computes without loading it: the operator types of its graph (subgraphs included) and how
// many weights its matrix products multiply per token. Used by `device: auto` (device-rule.ts).
import fs from 'node:fs';

/** What scanOnnxGraph found. */
export interface OnnxGraphScan {
  /** Operator types, `domain:OpType` for non-default domains (e.g. `com.microsoft:MatMulNBits`), plain `OpType` otherwise. */
  readonly opTypes: ReadonlySet<string>;
  /**
   * Weights multiplied per token by the matrix products: Σ K·N over MatMulNBits (its K and N attributes) plus the
   * element count of every MatMul / MatMulInteger / Gemm right-hand side that is an initializer. A weight computed
   * by other operators (e.g. dequantized at load) is not counted.
   */
  readonly matmulWeights: number;
  readonly nodes: number;
}

const WINDOW = 1 << 16;
/** Nesting limit for subgraphs (If/Loop/Scan bodies); deeper graphs are reported as unreadable. */
const MAX_DEPTH = 8;

/** Positioned reads through a 64 KiB window: skipping a tensor's bytes costs nothing. */
class FileReader {
  private buf = Buffer.alloc(WINDOW);
  private start = 0;
  private end = 0;
  constructor(private readonly fd: number, readonly size: number) {}

  byte(pos: number): number {
    if (pos < this.start || pos >= this.end) {
      if (pos < 0 || pos >= this.size) throw new RangeError('past the end of the file');
      const n = fs.readSync(this.fd, this.buf, 0, WINDOW, pos);
      this.start = pos;
      this.end = pos + n;
    }
    return this.buf[pos - this.start]!;
  }

  bytes(pos: number, len: number): Buffer {
    if (pos + len > this.size) throw new RangeError('past the end of the file');
    if (pos >= this.start && pos + len <= this.end) return Buffer.from(this.buf.subarray(pos - this.start, pos - this.start + len));
    const out = Buffer.alloc(len);
    fs.readSync(this.fd, out, 0, len, pos);
    return out;
  }
}

interface Cursor { pos: number }

function varint(r: FileReader, c: Cursor): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = r.byte(c.pos++);
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
  throw new RangeError('varint too long');
}

/** Calls `onField(field, wire, valueStart, valueEnd)` for each field of the message in [start, end); skips values. */
function fields(r: FileReader, start: number, end: number, onField: (field: number, wire: number, c: Cursor, len: number) => void): void {
  const c: Cursor = { pos: start };
  while (c.pos < end) {
    const key = varint(r, c);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const at = c.pos;
      varint(r, c);
      onField(field, wire, { pos: at }, c.pos - at);
    } else if (wire === 2) {
      const len = varint(r, c);
      if (c.pos + len > end) throw new RangeError('field runs past its message');
      onField(field, wire, { pos: c.pos }, len);
      c.pos += len;
    } else if (wire === 1) c.pos += 8;
    else if (wire === 5) c.pos += 4;
    else throw new RangeError(`unsupported wire type ${wire}`);
  }
  if (c.pos !== end) throw new RangeError('message ends inside a field');
}

interface NodeInfo { opType: string; domain: string; inputs: string[]; k: number; n: number }

class Scanner {
  readonly opTypes = new Set<string>();
  nodes = 0;
  matmulWeights = 0;
  constructor(private readonly r: FileReader) {}

  private text(c: Cursor, len: number): string {
    return this.r.bytes(c.pos, len).toString('utf8');
  }

  graph(start: number, end: number, depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError('subgraphs nested too deep');
    const initializers = new Map<string, number>();
    const products: { name: string }[] = [];
    fields(this.r, start, end, (field, wire, c, len) => {
      if (wire !== 2) return;
      if (field === 1) {
        const node = this.node(c.pos, c.pos + len, depth);
        this.nodes++;
        this.opTypes.add(node.domain && node.domain !== 'ai.onnx' ? `${node.domain}:${node.opType}` : node.opType);
        if (node.opType === 'MatMulNBits') this.matmulWeights += node.k * node.n;
        else if ((node.opType === 'MatMul' || node.opType === 'MatMulInteger' || node.opType === 'Gemm') && node.inputs[1]) products.push({ name: node.inputs[1] });
      } else if (field === 5) {
        const t = this.tensor(c.pos, c.pos + len);
        if (t.name) initializers.set(t.name, t.elements);
      }
    });
    for (const p of products) this.matmulWeights += initializers.get(p.name) ?? 0;
  }

  private node(start: number, end: number, depth: number): NodeInfo {
    const info: NodeInfo = { opType: '', domain: '', inputs: [], k: 0, n: 0 };
    fields(this.r, start, end, (field, wire, c, len) => {
      if (wire !== 2) return;
      if (field === 1) info.inputs.push(this.text(c, len));
      else if (field === 4) info.opType = this.text(c, len);
      else if (field === 7) info.domain = this.text(c, len);
      else if (field === 5) this.attribute(c.pos, c.pos + len, depth, info);
    });
    return info;
  }

  /** Reads K / N (MatMulNBits) and descends into graph-valued attributes (If/Loop/Scan bodies). */
  private attribute(start: number, end: number, depth: number, info: NodeInfo): void {
    let name = '';
    let int: number | undefined;
    fields(this.r, start, end, (field, wire, c, len) => {
      if (field === 1 && wire === 2) name = this.text(c, len);
      else if (field === 3 && wire === 0) int = varint(this.r, { pos: c.pos });
      else if ((field === 6 || field === 11) && wire === 2) this.graph(c.pos, c.pos + len, depth + 1);
    });
    if (int !== undefined && name === 'K') info.k = int;
    if (int !== undefined && name === 'N') info.n = int;
  }

  private tensor(start: number, end: number): { name: string; elements: number } {
    const dims: number[] = [];
    let name = '';
    fields(this.r, start, end, (field, wire, c, len) => {
      if (field === 1 && wire === 0) dims.push(varint(this.r, { pos: c.pos }));
      else if (field === 1 && wire === 2) {
        const cc = { pos: c.pos };
        while (cc.pos < c.pos + len) dims.push(varint(this.r, cc));
      } else if (field === 8 && wire === 2) name = this.text(c, len);
    });
    return { name, elements: dims.reduce((a, b) => a * b, 1) };
  }
}

/**
 * Scans an ONNX model file (ModelProto, https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) for its operator
 * types and the weights its matrix products read per token, reading only the graph's structure: initializer
 * payloads and external data files are skipped, so a 2 GB model costs a few thousand small reads.
 * Returns undefined for a file that is missing or not a readable ModelProto; never throws.
 */
export function scanOnnxGraph(file: string): OnnxGraphScan | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const r = new FileReader(fd, fs.fstatSync(fd).size);
    const s = new Scanner(r);
    let graphs = 0;
    fields(r, 0, r.size, (field, wire, c, len) => {
      if (field === 7 && wire === 2) {
        graphs++;
        s.graph(c.pos, c.pos + len, 0);
      }
    });
    if (graphs !== 1 || s.nodes === 0) return undefined;
    return { opTypes: s.opTypes, matmulWeights: s.matmulWeights, nodes: s.nodes };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
