// Where the infill-ls server comes from: the copy bundled in the extension, or a checkout named in settings.
//
// Checks the files before starting, so a wrong `infill-ls.server.path` shows one readable error
// instead of the language client's restart loop.

import fs from 'node:fs';
import path from 'node:path';

export interface ServerLaunch {
  /** The server's entry script, `<root>/bin/infill-ls.js`. */
  module: string;
  /** The Node.js executable; undefined: the extension host's own runtime. */
  runtime: string | undefined;
  /** Arguments after the module; vscode-languageclient appends `--stdio`. */
  args: string[];
  /** The infill-ls folder (cwd of the server). */
  root: string;
  bundled: boolean;
}

export class ServerConfigError extends Error {}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `configuredPath`: `infill-ls.server.path` (a checkout folder or its `bin/infill-ls.js`), '' for the
 * bundled server in `<extensionPath>/server`. `runtime`: `infill-ls.server.runtime`, '' for the host's.
 */
export function resolveServer(extensionPath: string, configuredPath: string, runtime: string, extraArgs: readonly string[]): ServerLaunch {
  const bundled = configuredPath.trim() === '';
  let root: string;
  if (bundled) {
    root = path.join(extensionPath, 'server');
    if (!isDirectory(root)) {
      throw new ServerConfigError(
        `this build of the extension has no bundled server (${root} is missing); set infill-ls.server.path to an infill-ls checkout`,
      );
    }
  } else {
    const given = path.resolve(configuredPath.trim());
    if (isFile(given)) root = path.dirname(path.dirname(given));
    else if (isDirectory(given)) root = given;
    else throw new ServerConfigError(`infill-ls.server.path ${JSON.stringify(configuredPath)} does not exist`);
  }
  const module = path.join(root, 'bin', 'infill-ls.js');
  if (!isFile(module)) {
    throw new ServerConfigError(`${root} is not an infill-ls folder: ${module} is missing`);
  }
  const main = path.join(root, 'server', 'dist', 'main.js');
  if (!isFile(main)) {
    throw new ServerConfigError(`${main} is missing: run "npm ci && npm run build" in ${root}`);
  }
  let runtimePath: string | undefined;
  if (runtime.trim() !== '') {
    runtimePath = runtime.trim();
    if (runtimePath.includes(path.sep) && !isFile(runtimePath)) {
      throw new ServerConfigError(`infill-ls.server.runtime ${JSON.stringify(runtime)} does not exist`);
    }
  }
  for (const a of extraArgs) {
    if (typeof a !== 'string') throw new ServerConfigError(`infill-ls.server.extraArgs must be a list of strings, got ${JSON.stringify(extraArgs)}`);
  }
  return { module, runtime: runtimePath, args: ['serve', ...extraArgs], root, bundled };
}

/**
 * The server process's environment: the extension host's, with onnxruntime's telemetry off
 * (`ORT_DISABLE_TELEMETRY=1`; the server sets it too, this covers a server.path checkout of an older build), and
 * glibc's mmap threshold fixed at 128 KiB unless the user set one (`MALLOC_MMAP_THRESHOLD_`): the default model's
 * weights are dequantized once at load, and with glibc's growing threshold the freed fp32 intermediates stay in the
 * heap (load RSS +406 MB against +105 MB with the fixed threshold; models/default/README.md). Ignored off glibc.
 */
export function serverEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { MALLOC_MMAP_THRESHOLD_: '131072', ...base, ORT_DISABLE_TELEMETRY: '1' };
}
