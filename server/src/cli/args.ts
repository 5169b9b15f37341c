// Flag parsing shared by the complete and eval commands (a thin layer over node:util parseArgs).
import { parseArgs } from 'node:util';
import type { EngineStatus } from '../engine/types.js';
import type { DeviceRequest } from '../runtime/index.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const MODEL_FLAGS = `model
  --model DIR             HF/Optimum model directory (default: models/default in the infill-ls package),
                          or a Hugging Face repo id org/name[@rev] fetched with \`infill-ls models pull\`;
                          --model-dir is the same flag
  --device D              auto | cpu | webgpu | cuda (default auto: WebGPU for models of >= 100M weights per token when a GPU adapter exists, else CPU)
  --threads N             CPU threads per operator (default: onnxruntime's choice)
  --max-new-tokens N      most tokens generated per completion (default 64)
  --fim MODE              psm | spm: the FIM prompt order (default: the model's config, else what its family supports)
  --far-context-tokens N  snippets of the file from outside the prompt's window, up to N tokens; 0 off (default:
                          env INFILL_LS_FAR_CONTEXT_TOKENS, else 384; README "Context from the rest of the file")`;

export const modelOptions = {
  model: { type: 'string' },
  'model-dir': { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  fim: { type: 'string' },
  'far-context-tokens': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * node:util parseArgs, strict, with clear UsageErrors. A value that starts with a dash is taken as the flag's value when
 * it is a negative number (`--threads -3`, so the flag's own check says why it is refused, instead of parseArgs's
 * "argument is ambiguous"); another one (`--model -x`) is a UsageError that says the flag needs a value.
 */
export function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(argv: readonly string[], options: T, allowPositionals: boolean) {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else {
      args.push(a);
    }
  }
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const ambiguous = /^Option '(-[^']+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const flag = ambiguous[1]!.split(', ').at(-1)!;
      const at = argv.indexOf(flag);
      const value = at >= 0 ? argv[at + 1] : undefined;
      throw new UsageError(`${flag} needs a value${value !== undefined ? ` (got the option-like ${JSON.stringify(value)}; write ${flag}=${value} if that is the value)` : ''}`);
    }
    throw new UsageError(message);
  }
}

export function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${flag} needs a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function device(v: string | undefined): DeviceRequest | undefined {
  if (v === undefined) return undefined;
  if (v === 'auto' || v === 'cpu' || v === 'webgpu' || v === 'cuda') return v;
  throw new UsageError(`--device must be auto, cpu, webgpu or cuda, got ${JSON.stringify(v)}`);
}

const LANGUAGES: Record<string, string> = {
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'typescriptreact',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascriptreact',
  '.py': 'python',
  // As editors name them (VS Code's language ids for Python's stub and windowed-script files).
  '.pyi': 'python',
  '.pyw': 'python',
};

export function languageOf(file: string): string {
  const m = /\.[^./\\]+$/.exec(file);
  return (m && LANGUAGES[m[0].toLowerCase()]) || 'plaintext';
}

export function fimMode(v: string | undefined): 'psm' | 'spm' | undefined {
  if (v === undefined) return undefined;
  if (v === 'psm' || v === 'spm') return v;
  throw new UsageError(`--fim must be psm or spm, got ${JSON.stringify(v)}`);
}

/** The model directory from `--model DIR`, or its alias `--model-dir DIR` (the name `serve` used first); throws UsageError when both disagree. */
export function modelDir(values: { model?: string; 'model-dir'?: string }): string | undefined {
  const a = values.model;
  const b = values['model-dir'];
  if (a !== undefined && b !== undefined && a !== b) throw new UsageError(`--model and --model-dir name the same setting; give one (got ${JSON.stringify(a)} and ${JSON.stringify(b)})`);
  if ((a ?? b) === '') throw new UsageError('--model needs a directory');
  return a ?? b;
}

/**
 * Engine options from the shared model flags (`--model`, `--device`, `--threads`, `--max-new-tokens`, `--fim`,
 * `--far-context-tokens`); throws UsageError.
 */
export function engineOptionsFrom(values: { model?: string; 'model-dir'?: string; device?: string; threads?: string; 'max-new-tokens'?: string; fim?: string; 'far-context-tokens'?: string }) {
  const mode = fimMode(values.fim);
  const far = values['far-context-tokens'];
  if (far !== undefined && (!/^\d+$/.test(far) || Number(far) > 8192)) throw new UsageError(`--far-context-tokens needs an integer in 0..8192, got ${JSON.stringify(far)}`);
  return {
    ...(far !== undefined ? { farContextTokens: Number(far) } : {}),
    modelDir: modelDir(values),
    device: device(values.device),
    threads: positiveInt('threads', values.threads),
    maxNewTokens: positiveInt('max-new-tokens', values['max-new-tokens']),
    ...(mode ? { fim: { mode } } : {}),
  };
}

/**
 * The one status line a command prints about its model: `infill-ls: ready: <model dir>: <template, dtype> on
 * <device> (<why this device>)`, or `infill-ls: degraded: <reason>`.
 */
export function statusLine(status: EngineStatus): string {
  // A load error's message starts with the model folder already: it is not printed twice.
  const named = status.model !== undefined && status.message?.startsWith(status.model) === true;
  return `infill-ls: ${status.state}${status.model && !named ? `: ${status.model}` : ''}${status.message ? `: ${status.message}` : ''}`;
}
