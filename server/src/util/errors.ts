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

/** Error text of an unknown thrown value, first line only (ORT messages carry long source paths). */
export function errorText(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split('\n')[0]!.trim();
}
