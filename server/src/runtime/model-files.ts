// Finds the files of an HF/Optimum-layout (or onnxruntime-genai) model directory and picks the ONNX weight variant to load.
import fs from 'node:fs';
import path from 'node:path';
import { ModelLoadError, errorText } from '../util/errors.js';

/** ONNX weight variants of the Optimum / transformers.js layout: onnx/model{suffix}.onnx. */
export type ModelDtype = 'fp32' | 'fp16' | 'quantized' | 'q4' | 'q4f16' | 'int8' | 'uint8' | 'bnb4';

export const DTYPE_SUFFIX: Readonly<Record<ModelDtype, string>> = {
  fp32: '',
  fp16: '_fp16',
  quantized: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
  int8: '_int8',
  uint8: '_uint8',
  bnb4: '_bnb4',
};

/** transformers.js spells the int8 dynamic-quantized variant (model_quantized.onnx) 'q8'. */
const DTYPE_ALIASES: Readonly<Record<string, ModelDtype>> = { q8: 'quantized' };

/** Preference when neither the caller nor config.json names a dtype. */
const CPU_ORDER: readonly ModelDtype[] = ['quantized', 'int8', 'uint8', 'fp32', 'q4', 'bnb4', 'fp16', 'q4f16'];
const GPU_ORDER: readonly ModelDtype[] = ['fp16', 'fp32', 'q4f16', 'q4', 'quantized', 'int8', 'uint8', 'bnb4'];

export interface ModelFiles {
  dir: string;
  configPath: string;
  tokenizerPath: string;
  tokenizerConfigPath: string;
  onnxPath: string;
  /** External weights next to the .onnx file, when present (model.onnx_data or model.onnx.data). */
  externalDataPath?: string;
  dtype: ModelDtype;
  /** Parsed config.json (genai layout: config.json when present, completed from genai_config.json). */
  config: Record<string, unknown>;
  /** 'optimum' (onnx/model*.onnx, standard names) or 'genai' (onnxruntime-genai model builder: genai_config.json). */
  format?: 'optimum' | 'genai';
  /** Graph input/output names from genai_config.json's name map; absent for the Optimum layout. */
  ioNames?: IoNames;
}

/**
 * Graph input/output names when an export renames them (onnxruntime-genai's `model.decoder.inputs/outputs`).
 * `pastKey` etc. are printf-style patterns with `%d` for the layer, e.g. 'past_key_values.%d.key'.
 */
export interface IoNames {
  inputIds?: string;
  attentionMask?: string;
  positionIds?: string;
  logits?: string;
  pastKey?: string;
  pastValue?: string;
  presentKey?: string;
  presentValue?: string;
}

const GENAI_CONFIG = 'genai_config.json';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * The weight variant of a genai decoder: from the model builder's folder/file naming (cpu-int4-rtn-block-32...,
 * cuda-fp16, ...), else 'q4' when the graph file (weights are in model.onnx.data) uses MatMulNBits, else 'fp32'. int4
 * with fp16 in the name, or an fp16-named graph that uses MatMulNBits (the builder's GPU int4 output: fp16
 * activations), is 'q4f16'.
 */
function genaiDtype(name: string, onnxPath: string): ModelDtype {
  const f16 = /fp16|f16/i.test(name);
  if (/int4|q4/i.test(name)) return f16 ? 'q4f16' : 'q4';
  const nbits = (): boolean => {
    try {
      return fs.statSync(onnxPath).size <= 64 * 2 ** 20 && fs.readFileSync(onnxPath).includes('MatMulNBits');
    } catch {
      return false; // unreadable: the session load reports it
    }
  };
  if (f16) return nbits() ? 'q4f16' : 'fp16'; // the builder's GPU int4 output has fp16 activations
  if (/int8/i.test(name)) return 'int8';
  return nbits() ? 'q4' : 'fp32';
}

/**
 * An onnxruntime-genai model directory (model builder output): genai_config.json names the decoder file
 * (`model.decoder.filename`, next to it) and its input/output names; config.json is optional there.
 * Source: onnxruntime-genai's genai_config.json schema (src/config.cpp). The weight variant is the directory's
 * one file, so its dtype is read from the names (int4 / fp16 / int8 in the folder or file name, else fp32).
 */
function resolveGenai(abs: string, genaiPath: string, requested: ModelDtype | undefined): ModelFiles {
  const genai = readJsonFile(genaiPath);
  const model = (genai['model'] ?? {}) as Record<string, unknown>;
  const decoder = (model['decoder'] ?? {}) as Record<string, unknown>;
  const filename = str(decoder['filename']);
  if (!filename) throw new ModelLoadError('corrupt-file', genaiPath, "has no model.decoder.filename");
  const onnxPath = path.resolve(abs, filename);
  if (path.dirname(onnxPath) !== abs) throw new ModelLoadError('corrupt-file', genaiPath, `model.decoder.filename '${filename}' must name a file in ${abs}`);
  if (!fs.existsSync(onnxPath)) throw new ModelLoadError('missing-file', onnxPath, `file not found (named by ${GENAI_CONFIG})`);
  const configPath = path.join(abs, 'config.json');
  const hf = fs.existsSync(configPath) ? readJsonFile(configPath) : {};
  const fromGenai: Record<string, unknown> = {
    model_type: model['type'],
    vocab_size: model['vocab_size'],
    bos_token_id: model['bos_token_id'],
    eos_token_id: model['eos_token_id'],
    pad_token_id: model['pad_token_id'],
    max_position_embeddings: model['context_length'],
    num_hidden_layers: decoder['num_hidden_layers'],
    num_attention_heads: decoder['num_attention_heads'],
    num_key_value_heads: decoder['num_key_value_heads'],
    head_dim: decoder['head_size'],
    hidden_size: decoder['hidden_size'],
  };
  const config: Record<string, unknown> = { ...hf };
  for (const [k, v] of Object.entries(fromGenai)) if (v !== undefined && config[k] === undefined) config[k] = v;
  const ins = (decoder['inputs'] ?? {}) as Record<string, unknown>;
  const outs = (decoder['outputs'] ?? {}) as Record<string, unknown>;
  const ioNames: IoNames = {
    inputIds: str(ins['input_ids']),
    attentionMask: str(ins['attention_mask']),
    positionIds: str(ins['position_ids']),
    pastKey: str(ins['past_key_names']),
    pastValue: str(ins['past_value_names']),
    logits: str(outs['logits']),
    presentKey: str(outs['present_key_names']),
    presentValue: str(outs['present_value_names']),
  };
  const dtype = genaiDtype(`${path.basename(abs)}/${filename}`, onnxPath);
  if (requested && requested !== dtype) {
    throw new ModelLoadError('missing-file', onnxPath, `is the only weight variant of this onnxruntime-genai directory (${dtype}); dtype '${requested}' was requested`);
  }
  const externalDataPath = [`${onnxPath}.data`, `${onnxPath}_data`].find((p) => fs.existsSync(p));
  const tokenizerPath = path.join(abs, 'tokenizer.json');
  if (!fs.existsSync(tokenizerPath)) throw new ModelLoadError('missing-file', tokenizerPath, 'file not found');
  return {
    dir: abs, configPath: fs.existsSync(configPath) ? configPath : genaiPath, tokenizerPath, tokenizerConfigPath: path.join(abs, 'tokenizer_config.json'),
    onnxPath, externalDataPath, dtype, config, format: 'genai', ioNames,
  };
}

export function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelLoadError('missing-file', file, 'file not found');
    throw new ModelLoadError('missing-file', file, `cannot be read (${errorText(e)})`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('top level is not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ModelLoadError('corrupt-file', file, `is not valid JSON (${errorText(e)})`);
  }
}

/** A known dtype name (aliases resolved), or undefined. */
export function toDtype(s: unknown): ModelDtype | undefined {
  if (typeof s !== 'string') return undefined;
  if (s in DTYPE_SUFFIX) return s as ModelDtype;
  return DTYPE_ALIASES[s];
}

/** The dtype config.json asks for: `dtype` or transformers.js' `transformers.js_config.dtype` (string form). */
function configDtype(config: Record<string, unknown>): ModelDtype | undefined {
  const tjs = config['transformers.js_config'];
  return toDtype(config['dtype']) ?? (tjs && typeof tjs === 'object' ? toDtype((tjs as Record<string, unknown>)['dtype']) : undefined);
}

/**
 * Resolves the files of `dir`. `dtype` 'auto' (default) takes config.json's dtype when its file exists,
 * else the first available variant in the device's preference order.
 */
export function resolveModelFiles(dir: string, opts: { dtype?: ModelDtype | 'q8' | 'auto'; gpu?: boolean } = {}): ModelFiles {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new ModelLoadError('missing-file', abs, 'model directory not found');
  }
  // A folder with none of a model's files (a workspace passed as --model by mistake): say what a model folder is,
  // rather than the first missing file. One with some of them gets the precise missing file below.
  if (!['config.json', GENAI_CONFIG, 'tokenizer.json', 'onnx'].some((name) => fs.existsSync(path.join(abs, name)))) {
    throw new ModelLoadError(
      'missing-file',
      abs,
      'is not a model directory: a model folder holds config.json, tokenizer.json and onnx/model*.onnx (a Hugging Face ' +
        'Optimum ONNX export; `infill-ls models pull org/name` fetches one), or genai_config.json with its ONNX file',
    );
  }
  const genaiPath = path.join(abs, GENAI_CONFIG);
  if (fs.existsSync(genaiPath) && !fs.existsSync(path.join(abs, 'onnx'))) {
    return resolveGenai(abs, genaiPath, opts.dtype && opts.dtype !== 'auto' ? toDtype(opts.dtype) : undefined);
  }
  const configPath = path.join(abs, 'config.json');
  const tokenizerPath = path.join(abs, 'tokenizer.json');
  const tokenizerConfigPath = path.join(abs, 'tokenizer_config.json');
  const config = readJsonFile(configPath);
  if (!fs.existsSync(tokenizerPath)) throw new ModelLoadError('missing-file', tokenizerPath, 'file not found');
  const onnxDir = path.join(abs, 'onnx');
  const fileOf = (d: ModelDtype) => path.join(onnxDir, `model${DTYPE_SUFFIX[d]}.onnx`);
  const requested = opts.dtype && opts.dtype !== 'auto' ? toDtype(opts.dtype) : undefined;
  let dtype: ModelDtype | undefined;
  if (requested) {
    if (!fs.existsSync(fileOf(requested))) throw new ModelLoadError('missing-file', fileOf(requested), `file not found (dtype '${requested}' was requested)`);
    dtype = requested;
  } else {
    const fromConfig = configDtype(config);
    if (fromConfig && fs.existsSync(fileOf(fromConfig))) dtype = fromConfig;
    else dtype = (opts.gpu ? GPU_ORDER : CPU_ORDER).find((d) => fs.existsSync(fileOf(d)));
  }
  if (!dtype) {
    throw new ModelLoadError('missing-file', path.join(onnxDir, 'model.onnx'), `file not found (nor any of ${Object.values(DTYPE_SUFFIX).map((s) => `model${s}.onnx`).join(', ')})`);
  }
  const onnxPath = fileOf(dtype);
  const externalDataPath = externalDataOf(onnxPath);
  return { dir: abs, configPath, tokenizerPath, tokenizerConfigPath, onnxPath, externalDataPath, dtype, config, format: 'optimum' };
}

/** The external-data file next to an ONNX graph (`model.onnx_data`, else `model.onnx.data`), or undefined when neither exists. */
export function externalDataOf(onnxPath: string): string | undefined {
  return [`${onnxPath}_data`, `${onnxPath}.data`].find((p) => fs.existsSync(p));
}
