// The `infill-ls.*` VS Code settings: which ones go to the server, how paths resolve, and the enable switches.
//
// The server validates its own settings (server/src/config/settings.ts) and reports rejected fields;
// the extension only forwards the keys the server knows, so its client-side keys (server.*, trace.*)
// never reach the server as "unknown setting".

import os from 'node:os';
import path from 'node:path';

export const SECTION = 'infill-ls';

/** The keys of the server's settings (server/src/config/settings.ts `Settings`). */
export const SERVER_KEYS = ['modelDir', 'device', 'maxNewTokens', 'cacheBudgetMb', 'debounce', 'enable', 'maxStallMs', 'decodeKvWindow', 'draftTokens', 'wgslDecode', 'farContextTokens'] as const;

/** The server's default `modelDir` (server/src/config/settings.ts DEFAULT_SETTINGS), relative to its folder. */
export const DEFAULT_MODEL_DIR = 'models/default';

/** What the extension reads from VS Code's configuration; `get` is WorkspaceConfiguration.get. */
export interface ConfigReader {
  get<T>(key: string): T | undefined;
}

/**
 * `~/x` → home, relative → against `baseFolder` (the first workspace folder), absolute unchanged.
 * A relative path without a workspace folder stays relative and the server resolves it against its own folder.
 */
export function resolveUserPath(value: string, baseFolder: string | undefined): string {
  const trimmed = value.trim();
  if (trimmed === '~') return os.homedir();
  if (trimmed.startsWith('~/')) return path.join(os.homedir(), trimmed.slice(2));
  if (path.isAbsolute(trimmed) || baseFolder === undefined) return trimmed;
  return path.resolve(baseFolder, trimmed);
}

/** `org/name` or `org/name@revision`: a Hugging Face Hub model id (the server's rule: server/src/hub/cache.ts). */
const REPO_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\/[A-Za-z0-9_][A-Za-z0-9_.-]*(?:@[^\s\\]+)?$/;

/**
 * The server's settings section from VS Code's configuration; unset keys are left out (the server keeps its own).
 * A `modelDir` that reads as a Hub repo id and is not a folder (`exists` of its resolved path is false) goes to
 * the server unchanged: the server loads it from the Hugging Face cache (`infill-ls models pull`).
 */
export function serverSettings(config: ConfigReader, baseFolder: string | undefined, exists: (absolutePath: string) => boolean = () => true): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const value = config.get<unknown>(key);
    if (value === undefined || value === null) continue;
    if (key === 'modelDir') {
      // Empty: the server's default model, named explicitly (the server keeps its current value for a missing
      // key, so clearing a wrong directory must send the default); relative to the server's own folder.
      if (typeof value === 'string' && value.trim() === '') {
        out.modelDir = DEFAULT_MODEL_DIR;
        continue;
      }
      if (typeof value !== 'string') {
        out.modelDir = value; // the server's to reject
        continue;
      }
      const resolved = resolveUserPath(value, baseFolder);
      out.modelDir = REPO_ID.test(value.trim()) && !exists(resolved) ? value.trim() : resolved;
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** The `infill-ls.enable` map as the server reads it (`true`/`false` means every language). */
export function enableMap(value: unknown): Record<string, boolean> {
  if (typeof value === 'boolean') return { '*': value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { '*': true };
  const out: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'boolean') out[k] = v;
  return out;
}

/** Same rule as the server's isLanguageEnabled. */
export function isEnabledFor(enable: Record<string, boolean>, languageId: string): boolean {
  return enable[languageId] ?? enable['*'] ?? true;
}

/** The map after the global toggle: `*` flips; languages set explicitly keep their own value. */
export function toggleGlobal(enable: Record<string, boolean>): Record<string, boolean> {
  return { ...enable, '*': !(enable['*'] ?? true) };
}

/** The map after toggling one language. */
export function toggleLanguage(enable: Record<string, boolean>, languageId: string): Record<string, boolean> {
  return { ...enable, [languageId]: !isEnabledFor(enable, languageId) };
}

/** Files a model directory must hold (README "Using your own ONNX model"); returns what is missing. */
export function missingModelFiles(exists: (relative: string) => boolean, onnxFiles: readonly string[]): string[] {
  const missing = ['config.json', 'tokenizer.json'].filter((f) => !exists(f));
  if (!onnxFiles.some((f) => f.endsWith('.onnx'))) missing.push('onnx/*.onnx');
  return missing;
}
