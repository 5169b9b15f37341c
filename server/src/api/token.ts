// The WebSocket API's bearer token: from INFILL_LS_TOKEN, or a generated one kept in a 0600 file under the user's state dir.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TOKEN_ENV = 'INFILL_LS_TOKEN';
const MIN_TOKEN_LENGTH = 16;

/** `$XDG_STATE_HOME/infill-ls`, else `~/.local/state/infill-ls`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'infill-ls');
}

export function defaultTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateDir(env), 'token');
}

export interface ResolvedToken {
  token: string;
  /** Where it came from: the environment, an existing file, or freshly generated into a file. */
  source: 'env' | 'file' | 'generated';
  file?: string;
}

/**
 * Resolves the token. A generated token is written with mode 0600 (directory 0700); an
 * existing file is reused only if it is not readable by group or others.
 */
export function resolveToken(options: { env?: NodeJS.ProcessEnv; file?: string; regenerate?: boolean } = {}): ResolvedToken {
  const env = options.env ?? process.env;
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_TOKEN_LENGTH) throw new Error(`${TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters long`);
    return { token: fromEnv, source: 'env' };
  }
  const file = options.file ?? defaultTokenFile(env);
  if (options.regenerate !== true && fs.existsSync(file)) {
    const stat = fs.statSync(file);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new Error(`${file} is readable by other users (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 ${file} or delete it to get a new token`);
    }
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= MIN_TOKEN_LENGTH) return { token, source: 'file', file };
  }
  const token = randomBytes(32).toString('base64url');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, token + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600); // the mode above is ignored when the file already existed
  return { token, source: 'generated', file };
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
