// Paths resolved from this module's own location (server/src/util or server/dist/util), never from the cwd.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root (the folder holding package.json). */
export const packageRoot: string = fileURLToPath(new URL('../../../', import.meta.url));

/** The shipped default model directory, `models/default` under the package root. */
export const defaultModelDir: string = path.join(packageRoot, 'models', 'default');

/**
 * What the repository-level prompt format names a document by without cross-file context: its file name ('' for
 * document keys that are not file URIs) and no repository name. Only the file name: the same file gets the same
 * prompt on every surface (CLI, API, LSP) and through every backend, wherever its folder is. Never throws.
 */
export function documentFileName(documentKey: string): { repoName: string; path: string } {
  if (!documentKey.startsWith('file:')) return { repoName: '', path: '' };
  try {
    return { repoName: '', path: path.basename(fileURLToPath(documentKey)) };
  } catch {
    return { repoName: '', path: '' };
  }
}
