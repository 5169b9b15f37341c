// Finds the files of an HF/Optimum-layout model directory and picks the ONNX weight variant to load.
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
  /** Parsed config.json. */
  config: Record<string, unknown>;
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
  const externalDataPath = [`${onnxPath}_data`, `${onnxPath}.data`].find((p) => fs.existsSync(p));
  return { dir: abs, configPath, tokenizerPath, tokenizerConfigPath, onnxPath, externalDataPath, dtype, config };
}
