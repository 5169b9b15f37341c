// Reads the weights of an onnxruntime-genai-layout int4 Qwen2 model from its ONNX file (pure but for file reads), for
// runtime/wgsl-decode.ts. The layout is the one native/py/qwen_models.py writes (HF initializer names, MatMulNBits
// bits 4 without zero points, `{name}.q4` / `{name}.q4_scale`, q/k/v separate or packed as `qkv_proj`, rotary
// cos/sin caches); onnxruntime-genai's own builder names its initializers otherwise and is not read here.
import fs from 'node:fs';
import path from 'node:path';
import { fields, int64s, str } from './proto-wire.js';
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
  /** The tensor's bytes: raw_data in the ONNX file, or read from its external data file when first asked for. */
  bytes(): Uint8Array;
}

const FLOAT = 1;
const FLOAT16 = 10;

/**
 * The ONNX file's initializers by name, their external data read only when a tensor's bytes are asked for (a model in
 * another layout is refused at its first missing name without reading gigabytes of weights); `close()` closes the
 * files opened for that.
 */
function readInitializers(onnxPath: string): { inits: Map<string, Init>; close(): void } {
  const dir = path.dirname(onnxPath);
  const buf = fs.readFileSync(onnxPath);
  const graph = fields(buf, 0, buf.length).find((f) => f.no === 7);
  if (!graph) throw new UnsupportedLayout(`${onnxPath}: no graph`);
  const inits = new Map<string, Init>();
  const fds = new Map<string, number>();
  const close = () => {
    for (const fd of fds.values()) fs.closeSync(fd);
    fds.clear();
  };
  for (const f of fields(buf, graph.start, graph.end)) {
    if (f.no !== 5) continue;
    const tf = fields(buf, f.start, f.end);
    const nameField = tf.find((x) => x.no === 8);
    if (!nameField) continue;
    const name = str(buf, nameField);
    const dataType = int64s(buf, tf, 2)[0] ?? 0;
    const dims = int64s(buf, tf, 1);
    const raw = tf.find((x) => x.no === 9);
    if (raw) {
      inits.set(name, { dims, dataType, bytes: () => buf.subarray(raw.start, raw.end) });
      continue;
    }
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
    inits.set(name, {
      dims,
      dataType,
      bytes: () => {
        if (path.dirname(file) !== path.resolve(dir)) throw new UnsupportedLayout(`${onnxPath}: external data outside the model's folder`);
        let fd = fds.get(file);
        if (fd === undefined) fds.set(file, (fd = fs.openSync(file, 'r')));
        const bytes = Buffer.alloc(Number(ext['length']));
        fs.readSync(fd, bytes, 0, bytes.length, Number(ext['offset'] ?? 0));
        return bytes;
      },
    });
  }
  return { inits, close };
}

/** A copy of `b` in a fresh, 4-byte aligned buffer (protobuf raw_data has any alignment). */
function aligned(b: Uint8Array): ArrayBuffer {
  const c = new Uint8Array(Math.ceil(b.length / 4) * 4);
  c.set(b);
  return c.buffer;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The weights of `onnxPath` with `config`'s shape (hidden_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, vocab_size; head_dim = hidden / heads unless given). f16 vectors are widened to f32; the
 * embedding table stays as stored. Throws UnsupportedLayout (with the reason) for anything else: missing names,
 * blocks that are not a multiple of 32 or do not divide a row, zero points, other dtypes.
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
  const { inits, close } = readInitializers(onnxPath);
  try {
    return readLayout(inits, { hidden, layers, heads, kvHeads, headDim });
  } finally {
    close();
  }
}

/** readGenaiWeights's reading of `inits` for a model of `shape` (throws UnsupportedLayout as it says). */
function readLayout(inits: Map<string, Init>, shape: { hidden: number; layers: number; heads: number; kvHeads: number; headDim: number }): GenaiWeights {
  const { hidden, layers, heads, kvHeads, headDim } = shape;
  const t = (name: string): Init => {
    const x = inits.get(name);
    if (!x) throw new UnsupportedLayout(`no initializer ${name} (not the layout native/py/qwen_models.py writes)`);
    return x;
  };
  const f32 = (name: string): Float32Array => {
    const x = t(name);
    if (x.dataType === FLOAT) return new Float32Array(aligned(x.bytes()));
    if (x.dataType === FLOAT16) {
      const b = x.bytes();
      const h = new Uint16Array(aligned(b), 0, b.length / 2);
      return halvesToFloats(h, 0, h.length);
    }
    throw new UnsupportedLayout(`${name}: data type ${x.dataType}, not float or float16`);
  };
  const q4 = (...keys: string[]): Q4Matrix => {
    const ws = keys.map((k) => t(`${k}.q4`));
    const ss = keys.map((k) => t(`${k}.q4_scale`));
    if (keys.some((k) => inits.has(`${k}.q4_zp`) || inits.has(`${k}.zero_points`))) throw new UnsupportedLayout(`${keys[0]}: zero points`);
    const sType = ss[0]!.dataType;
    if (ss.some((s) => s.dataType !== sType) || (sType !== FLOAT && sType !== FLOAT16)) throw new UnsupportedLayout(`${keys[0]}: scales of data type ${sType}`);
    const rows = ws.reduce((a, w) => a + (w.dims[0] ?? 0), 0);
    const blocks = ws[0]!.dims[1] ?? 0;
    const block = (ws[0]!.dims[2] ?? 0) * 2;
    const cols = blocks * block;
    if (ws.some((w) => w.dims[1] !== blocks || w.dims[2] !== block / 2)) throw new UnsupportedLayout(`${keys[0]}: parts of different shapes`);
    if (block < 32 || block % 32 !== 0) throw new UnsupportedLayout(`${keys[0]}: blocks of ${block} (a multiple of 32 is read)`);
    const words = new Uint32Array(aligned(concat(ws.map((w) => w.bytes()))));
    if (words.length * 8 !== rows * cols) throw new UnsupportedLayout(`${keys[0]}: ${words.length * 8} codes for [${rows}][${cols}]`);
    return { rows, cols, words, scales: new Uint32Array(aligned(concat(ss.map((s) => s.bytes())))), scaleF32: sType === FLOAT, block };
  };
  const L = (i: number) => `model.layers.${i}`;
  const packed = inits.has(`${L(0)}.self_attn.qkv_proj.weight.q4`);
  const layer = Array.from({ length: layers }, (_, i) => {
    const a = `${L(i)}.self_attn`;
    const qkv = packed ? q4(`${a}.qkv_proj.weight`) : q4(`${a}.q_proj.weight`, `${a}.k_proj.weight`, `${a}.v_proj.weight`);
    const qkvBias = packed ? f32(inits.has(`${a}.qkv_proj.bias`) ? `${a}.qkv_proj.bias` : `${a}.qkv_proj.weight.bias`) : Float32Array.from([...f32(`${a}.q_proj.bias`), ...f32(`${a}.k_proj.bias`), ...f32(`${a}.v_proj.bias`)]);
    const fusedGateUp = inits.has(`${L(i)}.mlp.gate_up_proj.weight.q4`);
    return {
      ln1: f32(`${L(i)}.input_layernorm.weight`),
      qkv,
      qkvBias,
      o: q4(`${a}.o_proj.weight`),
      ln2: f32(`${L(i)}.post_attention_layernorm.weight`),
      gateUp: fusedGateUp ? q4(`${L(i)}.mlp.gate_up_proj.weight`) : q4(`${L(i)}.mlp.gate_proj.weight`, `${L(i)}.mlp.up_proj.weight`),
      down: q4(`${L(i)}.mlp.down_proj.weight`),
    };
  });
  const emb = t('model.embed_tokens.weight');
  const vocab = emb.dims[0] ?? 0;
  if (emb.dims[1] !== hidden) throw new UnsupportedLayout(`model.embed_tokens.weight: [${emb.dims.join(', ')}], hidden ${hidden}`);
  let embed: Float32Array | Uint16Array;
  if (emb.dataType === FLOAT) embed = new Float32Array(aligned(emb.bytes()));
  else if (emb.dataType === FLOAT16) {
    const b = emb.bytes();
    embed = new Uint16Array(aligned(b), 0, b.length / 2);
  }
  else throw new UnsupportedLayout(`model.embed_tokens.weight: data type ${emb.dataType}`);
  const qkvRows = (heads + 2 * kvHeads) * headDim;
  const inter = layer[0]!.down.cols;
  for (const [i, l] of layer.entries()) {
    const want: [Q4Matrix, number, number, string][] = [[l.qkv, qkvRows, hidden, 'qkv'], [l.o, hidden, heads * headDim, 'o_proj'], [l.gateUp, 2 * inter, hidden, 'gate/up'], [l.down, hidden, inter, 'down_proj']];
    for (const [m, r, c, what] of want) if (m.rows !== r || m.cols !== c) throw new UnsupportedLayout(`layer ${i} ${what}: [${m.rows}][${m.cols}], expected [${r}][${c}]`);
    if (l.qkvBias.length !== qkvRows) throw new UnsupportedLayout(`layer ${i}: q/k/v bias of ${l.qkvBias.length}`);
  }
  const lmHead = q4('lm_head.weight');
  if (lmHead.rows !== vocab || lmHead.cols !== hidden) throw new UnsupportedLayout(`lm_head: [${lmHead.rows}][${lmHead.cols}]`);
  const cos = f32('cos_cache');
  const sin = f32('sin_cache');
  const positions = t('cos_cache').dims[0] ?? 0;
  if (cos.length !== positions * (headDim / 2) || sin.length !== cos.length) throw new UnsupportedLayout(`cos_cache/sin_cache: not [positions][${headDim / 2}]`);
  return { hidden, layers, heads, kvHeads, headDim, inter, vocab, positions, embed, lmHead, norm: f32('model.norm.weight'), cos, sin, layer };
}
