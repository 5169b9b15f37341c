// Reads the weights of an onnxruntime-genai-layout int4 Qwen2 model from its ONNX file (pure but for file reads), for
// runtime/wgsl-decode.ts. It follows the graph's data flow rather than initializer names: GroupQueryAttention per layer,
// the MatMulNBits products feeding it (q/k/v separate, packed as one, or one split three ways; bias as an Add or the
// product's own bias input; rotary as RotaryEmbedding or inside GroupQueryAttention), the output projection after it,
// the (Skip)SimplifiedLayerNormalization weights before each product, the SiLU-gated MLP (gate: the product whose output
// feeds a Sigmoid), the LM head (the product with N = vocabulary), the embedding (the Gather of input_ids). That is the
// graph native/py/qwen_models.py writes and, by the model builder's source, onnxruntime-genai's int4 export of Qwen2
// (not checked on one: none could be obtained here). MatMulNBits with zero points, other bit widths or blocks that are
// not a multiple of 32 are refused (UnsupportedLayout).
import fs from 'node:fs';
import path from 'node:path';
import { concatBytes as concat, fields, int64s, parseNode, str, type Node } from './proto-wire.js';
import { halvesToFloats } from './half.js';

/** A 4-bit matrix [rows][cols] as MatMulNBits stores it. */
export interface Q4Matrix {
  rows: number;
  cols: number;
  /** Codes, 8 a word, low nibble first: rows × cols / 8 words. */
  words: Uint32Array;
  /** One scale per block: f32 words (scaleF32) or binary16 pairs (two per word). */
  scales: Uint32Array;
  scaleF32: boolean;
  /** Columns per scale (MatMulNBits block_size; a multiple of 32 that divides cols). */
  block: number;
}

export interface GenaiWeights {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  inter: number;
  vocab: number;
  /** Rows of the rotary tables (the positions the model can take). */
  positions: number;
  /** RMSNorm epsilon (the graph's). */
  eps: number;
  /** Embedding table [vocab][hidden]: f32, or binary16 bits (embedF16). */
  embed: Float32Array | Uint16Array;
  lmHead: Q4Matrix;
  norm: Float32Array;
  /** Rotary tables [positions][headDim / 2], f32. */
  cos: Float32Array;
  sin: Float32Array;
  layer: {
    ln1: Float32Array;
    /** q, k and v rows stacked [(heads + 2 kvHeads) headDim][hidden]. */
    qkv: Q4Matrix;
    qkvBias: Float32Array;
    o: Q4Matrix;
    ln2: Float32Array;
    /** gate rows then up rows [2 inter][hidden]. */
    gateUp: Q4Matrix;
    down: Q4Matrix;
  }[];
}

/** Thrown when a model is not in the layout this reader takes (the caller keeps onnxruntime's decode then). */
export class UnsupportedLayout extends Error {}

interface Init {
  dims: number[];
  dataType: number;
  /** The tensor's bytes; external data is read from its file when first asked for (never for a refused graph). */
  bytes(): Uint8Array;
}

const FLOAT = 1;
const FLOAT16 = 10;

interface Graph {
  inits: Map<string, Init>;
  nodes: Node[];
  /** Float attributes by node (epsilon). */
  floats: Map<Node, Map<string, number>>;
}

/** The top-level graph's initializers (with their external data, from the model's own folder only) and nodes. */
function readGraph(onnxPath: string): Graph {
  const dir = path.resolve(path.dirname(onnxPath));
  const buf = fs.readFileSync(onnxPath);
  const graph = fields(buf, 0, buf.length).find((f) => f.no === 7);
  if (!graph) throw new UnsupportedLayout(`${onnxPath}: no graph`);
  const inits = new Map<string, Init>();
  const nodes: Node[] = [];
  const floats = new Map<Node, Map<string, number>>();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const f of fields(buf, graph.start, graph.end)) {
    if (f.no === 1) {
      const n = parseNode(buf, f);
      nodes.push(n);
      const fl = new Map<string, number>();
      for (const a of fields(buf, f.start, f.end).filter((x) => x.no === 5 && x.wire === 2)) {
        const af = fields(buf, a.start, a.end);
        const name = af.find((x) => x.no === 1);
        const v = af.find((x) => x.no === 2 && x.wire === 5);
        if (name && v) fl.set(str(buf, name), view.getFloat32(v.start, true));
      }
      floats.set(n, fl);
      continue;
    }
    if (f.no !== 5) continue;
    const tf = fields(buf, f.start, f.end);
    const nameField = tf.find((x) => x.no === 8);
    if (!nameField) continue;
    const name = str(buf, nameField);
    const dataType = int64s(buf, tf, 2)[0] ?? 0;
    const dims = int64s(buf, tf, 1);
    const raw = tf.find((x) => x.no === 9);
    let bytes: () => Uint8Array;
    if (raw) {
      const b = buf.subarray(raw.start, raw.end);
      bytes = () => b;
    } else {
      const ext = Object.fromEntries(
        tf.filter((x) => x.no === 13).map((x) => {
          const kv = fields(buf, x.start, x.end);
          const k = kv.find((e) => e.no === 1);
          const v = kv.find((e) => e.no === 2);
          return [k ? str(buf, k) : '', v ? str(buf, v) : ''];
        }),
      ) as Record<string, string>;
      if (!ext['location']) continue; // float_data / int64_data: not a tensor read here
      const file = path.resolve(dir, ext['location']);
      if (path.dirname(file) !== dir) throw new UnsupportedLayout(`${onnxPath}: external data outside the model's folder`);
      const offset = Number(ext['offset'] ?? 0);
      let cached: Uint8Array | undefined;
      bytes = () => {
        if (cached) return cached;
        const fd = fs.openSync(file, 'r');
        try {
          const length = ext['length'] !== undefined ? Number(ext['length']) : fs.fstatSync(fd).size - offset;
          const out = Buffer.alloc(length);
          if (fs.readSync(fd, out, 0, length, offset) !== length) throw new UnsupportedLayout(`${name}: external data shorter than its length`);
          return (cached = out);
        } finally {
          fs.closeSync(fd);
        }
      };
    }
    inits.set(name, { dims, dataType, bytes });
  }
  return { inits, nodes, floats };
}

/** A copy of `b` in a fresh, 4-byte aligned buffer (protobuf raw_data has any alignment). */
function aligned(b: Uint8Array): ArrayBuffer {
  const c = new Uint8Array(Math.ceil(b.length / 4) * 4);
  c.set(b);
  return c.buffer;
}

/** A product as the graph computes it: its matrix, its bias (an Add's or its own), the value it reads. */
interface Linear {
  node: Node;
  m: Q4Matrix;
  bias: Float32Array | undefined;
  input: string;
}

/**
 * The weights of `onnxPath` with `config`'s shape (hidden_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads; head_dim = hidden / heads unless given), found by the graph's data flow (see the file comment).
 * f16 vectors are widened to f32; the embedding table stays as stored. `eps`: the first RMSNorm's epsilon (else
 * config rms_norm_eps, else 1e-6). Throws UnsupportedLayout with the reason for any other graph.
 */
export function readGenaiWeights(onnxPath: string, config: Record<string, unknown>): GenaiWeights {
  const num = (k: string): number => {
    const v = config[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new UnsupportedLayout(`config has no ${k}`);
    return v;
  };
  const hidden = num('hidden_size');
  const layers = num('num_hidden_layers');
  const heads = num('num_attention_heads');
  const kvHeads = typeof config['num_key_value_heads'] === 'number' ? (config['num_key_value_heads'] as number) : heads;
  const headDim = typeof config['head_dim'] === 'number' ? (config['head_dim'] as number) : hidden / heads;
  const { inits, nodes, floats } = readGraph(onnxPath);
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const PASS = new Set(['Cast', 'Identity']);
  /** The node computing `value`, past casts and identities. */
  const from = (value: string): Node | undefined => {
    let n = producer.get(value);
    while (n && PASS.has(n.op)) n = producer.get(n.inputs[0] ?? '');
    return n;
  };
  /** The nodes reading `value` (and what reads its casts / identities). */
  const readers = (value: string): Node[] => (consumers.get(value) ?? []).flatMap((n) => (PASS.has(n.op) ? readers(n.outputs[0] ?? '') : [n]));
  const t = (name: string, what: string): Init => {
    const x = inits.get(name);
    if (!x) throw new UnsupportedLayout(`${what}: '${name}' is not an initializer`);
    return x;
  };
  const f32 = (name: string, what: string): Float32Array => {
    const x = t(name, what);
    if (x.dataType === FLOAT) return new Float32Array(aligned(x.bytes()));
    if (x.dataType === FLOAT16) {
      const b = x.bytes();
      const h = new Uint16Array(aligned(b), 0, b.length / 2);
      return halvesToFloats(h, 0, h.length);
    }
    throw new UnsupportedLayout(`${what}: data type ${x.dataType}, not float or float16`);
  };
  const q4 = (n: Node, what: string): Q4Matrix => {
    const attr = (k: string) => n.attrs.get(k)?.i;
    if (attr('bits') !== 4) throw new UnsupportedLayout(`${what}: MatMulNBits of ${attr('bits')} bits`);
    if (n.inputs[3]) throw new UnsupportedLayout(`${what}: MatMulNBits with zero points`);
    if (n.inputs[4]) throw new UnsupportedLayout(`${what}: MatMulNBits with g_idx`);
    const w = t(n.inputs[1] ?? '', what);
    const sc = t(n.inputs[2] ?? '', what);
    const rows = attr('N') ?? 0;
    const cols = attr('K') ?? 0;
    const block = attr('block_size') ?? 0;
    if (block < 32 || block % 32 !== 0 || cols % block !== 0) throw new UnsupportedLayout(`${what}: blocks of ${block} over ${cols} columns (a multiple of 32 dividing the row is read)`);
    if (sc.dataType !== FLOAT && sc.dataType !== FLOAT16) throw new UnsupportedLayout(`${what}: scales of data type ${sc.dataType}`);
    const words = new Uint32Array(aligned(w.bytes()));
    if (words.length * 8 !== rows * cols) throw new UnsupportedLayout(`${what}: ${words.length * 8} codes for [${rows}][${cols}]`);
    return { rows, cols, words, scales: new Uint32Array(aligned(sc.bytes())), scaleF32: sc.dataType === FLOAT, block };
  };
  const isProduct = (n: Node | undefined): n is Node => !!n && n.op === 'MatMulNBits';
  /** The product behind `value`, through a bias Add (an initializer operand); with `rotary`, through RotaryEmbedding. */
  const linearOf = (value: string, what: string): Linear & { rope?: Node } => {
    let n = from(value);
    let rope: Node | undefined;
    if (n?.op === 'RotaryEmbedding') {
      rope = n;
      n = from(n.inputs[0] ?? '');
    }
    // one product for q, k and v, split three ways: the whole product (q, k and v then name the same node)
    if (n?.op === 'Split') n = from(n.inputs[0] ?? '');
    let bias: Float32Array | undefined;
    if (n?.op === 'Add') {
      const [a, b] = n.inputs as [string, string];
      const biasName = inits.has(b) ? b : inits.has(a) ? a : undefined;
      if (!biasName) throw new UnsupportedLayout(`${what}: an Add of two computed values`);
      bias = f32(biasName, what);
      n = from(biasName === b ? a : b);
    }
    if (!n || n.op !== 'MatMulNBits') throw new UnsupportedLayout(`${what}: not computed by MatMulNBits (${n?.op ?? 'nothing'})`);
    if (!bias && n.inputs[5]) bias = f32(n.inputs[5], what);
    return { node: n, m: q4(n, what), bias, input: n.inputs[0] ?? '', ...(rope ? { rope } : {}) };
  };
  /** An RMSNorm's weight: SimplifiedLayerNormalization's input 1, SkipSimplifiedLayerNormalization's input 2. */
  const normOf = (n: Node | undefined, what: string): { weight: Float32Array; node: Node } => {
    if (n?.op === 'SimplifiedLayerNormalization') return { weight: f32(n.inputs[1] ?? '', what), node: n };
    if (n?.op === 'SkipSimplifiedLayerNormalization') return { weight: f32(n.inputs[2] ?? '', what), node: n };
    throw new UnsupportedLayout(`${what}: not an RMSNorm (${n?.op ?? 'nothing'})`);
  };
  const stack = (parts: Linear[], what: string): { m: Q4Matrix; bias: Float32Array | undefined } => {
    const [a] = parts;
    if (parts.some((p) => p.m.cols !== a!.m.cols || p.m.block !== a!.m.block || p.m.scaleF32 !== a!.m.scaleF32)) throw new UnsupportedLayout(`${what}: parts of different layouts`);
    const hasBias = parts.every((p) => p.bias);
    return {
      m: { ...a!.m, rows: parts.reduce((x, p) => x + p.m.rows, 0), words: new Uint32Array(aligned(concat(parts.map((p) => new Uint8Array(p.m.words.buffer))))), scales: new Uint32Array(aligned(concat(parts.map((p) => new Uint8Array(p.m.scales.buffer, 0, p.m.scales.byteLength))))) },
      bias: hasBias ? Float32Array.from(parts.flatMap((p) => Array.from(p.bias!))) : undefined,
    };
  };

  const attention = nodes.filter((n) => n.op === 'GroupQueryAttention');
  if (attention.length !== layers) throw new UnsupportedLayout(`${attention.length} GroupQueryAttention nodes for ${layers} layers`);
  let cos: Float32Array | undefined;
  let sin: Float32Array | undefined;
  let positions = 0;
  const rotaryTables = (cosName: string, sinName: string) => {
    if (cos) return;
    cos = f32(cosName, 'cos_cache');
    sin = f32(sinName, 'sin_cache');
    positions = t(cosName, 'cos_cache').dims[0] ?? 0;
  };
  let eps: number | undefined;
  const layer = attention.map((g, i) => {
    const what = `layer ${i}`;
    let qkv: { m: Q4Matrix; bias: Float32Array | undefined };
    let input: string;
    if (!g.inputs[1]) {
      // packed q/k/v, rotary inside GroupQueryAttention (do_rotary) with its cos/sin caches as inputs 7 and 8
      const l = linearOf(g.inputs[0] ?? '', `${what} qkv`);
      qkv = l;
      input = l.input;
      if ((g.attrs.get('do_rotary')?.i ?? 0) !== 1) throw new UnsupportedLayout(`${what}: packed q/k/v without do_rotary`);
      rotaryTables(g.inputs[7] ?? '', g.inputs[8] ?? '');
    } else {
      const [q, k, v] = [0, 1, 2].map((j) => linearOf(g.inputs[j] ?? '', `${what} ${'qkv'[j]}`));
      if (!q!.rope || !k!.rope) throw new UnsupportedLayout(`${what}: q/k without RotaryEmbedding`);
      if ((q!.rope.attrs.get('interleaved')?.i ?? 0) !== 0) throw new UnsupportedLayout(`${what}: interleaved rotary`);
      rotaryTables(q!.rope.inputs[2] ?? '', q!.rope.inputs[3] ?? '');
      // one product split three ways, or three products
      qkv = q!.node === k!.node && k!.node === v!.node ? q! : stack([q!, k!, v!], what);
      input = q!.input;
    }
    if (!qkv.bias) throw new UnsupportedLayout(`${what}: q/k/v without bias (Qwen2 has one)`);
    const ln1 = normOf(from(input), `${what} input_layernorm`);
    eps ??= floats.get(ln1.node)?.get('epsilon');
    const o = readers(g.outputs[0] ?? '').find(isProduct);
    if (!o) throw new UnsupportedLayout(`${what}: no product after attention`);
    const ln2 = normOf(readers(o.outputs[0] ?? '').find((n) => n.op === 'SkipSimplifiedLayerNormalization'), `${what} post_attention_layernorm`);
    const mlpIn = readers(ln2.node.outputs[0] ?? '').filter(isProduct);
    const sigmoidReads = (n: Node) => readers(n.outputs[0] ?? '').some((r) => r.op === 'Sigmoid');
    let gateUp: Q4Matrix;
    let upOut: string;
    if (mlpIn.length === 1) {
      // one product for gate and up, split in two (gate rows first)
      gateUp = q4(mlpIn[0]!, `${what} gate_up`);
      const split = readers(mlpIn[0]!.outputs[0] ?? '').find((n) => n.op === 'Split');
      if (!split || split.outputs.length !== 2) throw new UnsupportedLayout(`${what}: gate/up product without a Split in two`);
      if (!readers(split.outputs[0] ?? '').some((r) => r.op === 'Sigmoid')) throw new UnsupportedLayout(`${what}: the Split's first part is not the gate`);
      upOut = split.outputs[1] ?? '';
    } else if (mlpIn.length === 2) {
      const gate = mlpIn.find(sigmoidReads);
      const up = mlpIn.find((n) => n !== gate);
      if (!gate || !up) throw new UnsupportedLayout(`${what}: no SiLU gate`);
      gateUp = stack([{ node: gate, m: q4(gate, `${what} gate`), bias: undefined, input: '' }, { node: up, m: q4(up, `${what} up`), bias: undefined, input: '' }], what).m;
      upOut = up.outputs[0] ?? '';
    } else throw new UnsupportedLayout(`${what}: ${mlpIn.length} products after post_attention_layernorm`);
    const act = readers(upOut).find((n) => n.op === 'Mul');
    const down = act && readers(act.outputs[0] ?? '').find(isProduct);
    if (!down) throw new UnsupportedLayout(`${what}: no down product after the gated activation`);
    return { ln1: ln1.weight, qkv: qkv.m, qkvBias: qkv.bias, o: q4(o, `${what} o_proj`), ln2: ln2.weight, gateUp, down: q4(down, `${what} down_proj`) };
  });
  const gather = nodes.find((n) => n.op === 'Gather' && inits.has(n.inputs[0] ?? '') && !producer.has(n.inputs[1] ?? ''));
  if (!gather) throw new UnsupportedLayout('no embedding Gather of input_ids');
  const emb = t(gather.inputs[0]!, 'embedding');
  const vocab = emb.dims[0] ?? 0;
  if (emb.dims[1] !== hidden) throw new UnsupportedLayout(`embedding [${emb.dims.join(', ')}], hidden ${hidden}`);
  let embed: Float32Array | Uint16Array;
  if (emb.dataType === FLOAT) embed = new Float32Array(aligned(emb.bytes()));
  else if (emb.dataType === FLOAT16) {
    const b = emb.bytes();
    embed = new Uint16Array(aligned(b), 0, b.length / 2);
  }
  else throw new UnsupportedLayout(`embedding: data type ${emb.dataType}`);
  const heads_ = nodes.filter((n) => isProduct(n) && n.attrs.get('N')?.i === vocab);
  if (heads_.length !== 1) throw new UnsupportedLayout(`${heads_.length} products of the vocabulary's size (the LM head)`);
  const lmHead = q4(heads_[0]!, 'lm_head');
  const norm = normOf(from(heads_[0]!.inputs[0] ?? ''), 'final norm').weight;
  const qkvRows = (heads + 2 * kvHeads) * headDim;
  const inter = layer[0]!.down.cols;
  for (const [i, l] of layer.entries()) {
    const want: [Q4Matrix, number, number, string][] = [[l.qkv, qkvRows, hidden, 'qkv'], [l.o, hidden, heads * headDim, 'o_proj'], [l.gateUp, 2 * inter, hidden, 'gate/up'], [l.down, hidden, inter, 'down_proj']];
    for (const [m, r, c, what] of want) if (m.rows !== r || m.cols !== c) throw new UnsupportedLayout(`layer ${i} ${what}: [${m.rows}][${m.cols}], expected [${r}][${c}]`);
    if (l.qkvBias.length !== qkvRows) throw new UnsupportedLayout(`layer ${i}: q/k/v bias of ${l.qkvBias.length}`);
  }
  if (lmHead.cols !== hidden) throw new UnsupportedLayout(`lm_head: [${lmHead.rows}][${lmHead.cols}]`);
  if (!cos || !sin || cos.length !== positions * (headDim / 2) || sin.length !== cos.length) throw new UnsupportedLayout(`rotary caches: not [positions][${headDim / 2}]`);
  const cfgEps = config['rms_norm_eps'];
  return { hidden, layers, heads, kvHeads, headDim, inter, vocab, positions, embed, lmHead, norm, cos, sin, layer, eps: eps ?? (typeof cfgEps === 'number' ? cfgEps : 1e-6) };
}
