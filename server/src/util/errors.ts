// Typed errors for model directories: one clear message naming the file and the problem.

export type ModelErrorCode =
  | 'missing-file'
  | 'corrupt-file'
  | 'vocab-mismatch'
  | 'unsupported-layout'
  | 'device-unavailable';

/** Raised when a model directory cannot be used; `message` is `${file}: ${problem}`. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  constructor(
    readonly code: ModelErrorCode,
    /** The offending file (absolute or as given), or the directory when no single file is to blame. */
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/**
 * Error text of an unknown thrown value: first line only, without onnxruntime's source locations
 * ("/onnxruntime_src/...cc:136 onnxruntime::...<lambda()> cond was false. ") and status prefixes.
 */
export function errorText(e: unknown): string {
  let s = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
  s = s.replace(/\S*onnxruntime_src\S*:\d+\s*/g, '');
  const cond = s.lastIndexOf(' was false. ');
  if (cond !== -1) s = s.slice(cond + ' was false. '.length);
  s = s.replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/g, '');
  return s.trim();
}
