// The WebSocket API's bearer token: from INFILL_LS_TOKEN, or a generated one kept in a 0600 file under the user's state dir.
//
// The file is handled like OpenSSH handles private keys: it is refused when it is a symbolic link, not a regular
// file, owned by another user, or open to group or others; a new token is written atomically (a temporary file
// created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 from the start, then renamed over the token path), so
// nothing is ever written through a link and no other user's file is ever accepted or changed (issue 13, item 3).
// The content must be a token too: a file that is not one (a source file passed to --token-file by mistake) is
// neither read as the token nor overwritten by --new-token; see TOKEN_FILE_CONTENT for the exact format.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TOKEN_ENV = 'INFILL_LS_TOKEN';
const MIN_TOKEN_LENGTH = 16;
/** Longest token accepted from a file (characters); a longer file is not a token file. */
const MAX_TOKEN_LENGTH = 512;
/** Bytes read from a token file: one more than the longest valid content, so an oversized file is seen as such. */
const MAX_TOKEN_FILE_BYTES = MAX_TOKEN_LENGTH + 3;

/**
 * The token file format, precisely:
 * - read: the whole file is one token and at most one line end (`\n` or `\r\n`); the token is 16–512 characters
 *   of RFC 6750 §2.1 `b64token` (`A-Z a-z 0-9 - . _ ~ + /`, then `=` padding only at the end), i.e. a value that can be
 *   sent as `Authorization: Bearer <token>`. An empty file means "no token yet" and gets a new one.
 * - written (and the only non-empty content --new-token may replace): exactly what this program writes, 32 random
 *   bytes as unpadded base64url (43 characters) and one `\n`. Anything else is the user's file and is left alone.
 */
const TOKEN_FILE_CONTENT = /^([A-Za-z0-9\-._~+/]+=*)(\r?\n)?$/;
const WRITTEN_TOKEN_FILE_CONTENT = /^[A-Za-z0-9_-]{43}\n$/;

/** The token held by a token file's `content`, or undefined when the content is not a valid token (see the format above). */
export function parseTokenFileContent(content: string): string | undefined {
  const m = TOKEN_FILE_CONTENT.exec(content);
  if (m === null) return undefined;
  const token = m[1]!;
  return token.length >= MIN_TOKEN_LENGTH && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

/** True when `content` is empty or exactly a token file this program writes (43 base64url characters and `\n`). */
export function isReplaceableTokenFileContent(content: string): boolean {
  return content === '' || WRITTEN_TOKEN_FILE_CONTENT.test(content);
}

/** A token file (or its folder) the server refuses to use; the message says why and what to do. */
export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFileError';
  }
}

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

const posix = process.platform !== 'win32';
let uidOverride: number | undefined;
const myUid = (): number | undefined => uidOverride ?? (posix && typeof process.getuid === 'function' ? process.getuid() : undefined);

/** Throws TokenFileError unless `stat` (not followed) is a regular file owned by this user. */
function checkFileKind(file: string, stat: fs.Stats): void {
  if (stat.isSymbolicLink()) {
    throw new TokenFileError(`${file} is a symbolic link; refusing to read or write a token through it (delete the link, or pass --token-file with a real path)`);
  }
  if (!stat.isFile()) throw new TokenFileError(`${file} is not a regular file; refusing to use it as the token file`);
  const uid = myUid();
  if (uid !== undefined && stat.uid !== uid) {
    throw new TokenFileError(`${file} is owned by another user (uid ${stat.uid}, you are ${uid}); refusing a token someone else chose (delete it, or pass --token-file)`);
  }
}

/** Throws TokenFileError when the file is open to group or others. */
function checkFileMode(file: string, stat: fs.Stats): void {
  if (posix && (stat.mode & 0o077) !== 0) {
    throw new TokenFileError(
      `${file} is readable by other users (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 ${file} or delete it to get a new token`,
    );
  }
}

/** The token folder must be ours and not writable by everyone (they could swap the file); created 0700 when missing. */
function prepareDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (stat.isSymbolicLink()) throw new TokenFileError(`${dir} (the token's folder) is a symbolic link; refusing to write a token there`);
  if (!stat.isDirectory()) throw new TokenFileError(`${dir} (the token's folder) is not a directory`);
  const uid = myUid();
  if (uid !== undefined && stat.uid !== uid) throw new TokenFileError(`${dir} (the token's folder) is owned by another user (uid ${stat.uid}); refusing to keep a token there`);
  // World-writable without the sticky bit: anyone could replace the token between our write and our read.
  if (posix && (stat.mode & 0o002) !== 0 && (stat.mode & 0o1000) === 0) {
    throw new TokenFileError(`${dir} (the token's folder) is writable by every user (mode ${(stat.mode & 0o777).toString(8)}); run chmod 700 ${dir}`);
  }
}

/**
 * Reads an existing token file after the checks: undefined when there is none or it is empty (a new token is then
 * written), else its token. Opened O_NOFOLLOW and checked again by fstat. Throws TokenFileError when the content is
 * not a valid token (see TOKEN_FILE_CONTENT): such a file is the user's, not ours, and is neither used nor replaced.
 */
function readTokenFile(file: string): string | undefined {
  const content = readOwnFile(file);
  if (content === undefined) return undefined;
  if (content.text === '') {
    checkFileMode(file, content.stat);
    return undefined;
  }
  const token = parseTokenFileContent(content.text);
  if (token === undefined) {
    throw new TokenFileError(
      `${file} does not hold a token (expected one line of ${MIN_TOKEN_LENGTH}-${MAX_TOKEN_LENGTH} characters A-Z a-z 0-9 - . _ ~ + / and nothing else); ` +
        'refusing to use or replace it: pass --token-file with another path, or move that file away',
    );
  }
  checkFileMode(file, content.stat);
  return token;
}

/** The first MAX_TOKEN_FILE_BYTES of `file` (a regular file of ours, not a link; any mode) and its stat; undefined when absent. */
function readOwnFile(file: string): { text: string; stat: fs.Stats } | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  checkFileKind(file, stat);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') checkFileKind(file, fs.lstatSync(file));
    throw err;
  }
  try {
    // The file may have been swapped between lstat and open: check what was opened.
    const opened = fs.fstatSync(fd);
    checkFileKind(file, opened);
    const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return { text: buf.subarray(0, n).toString('latin1'), stat: opened };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `token` to `file` atomically: a 0600 O_EXCL|O_NOFOLLOW temporary file in the same folder, renamed over `file`. */
function writeTokenFile(file: string, token: string): void {
  const dir = path.dirname(file);
  prepareDir(dir);
  // An existing path must be a regular file of ours (never someone else's file or a link) that holds nothing or a
  // token this program wrote: any other content is the user's and is never replaced (any mode is fine: it is rewritten 0600).
  const existing = readOwnFile(file);
  if (existing !== undefined && !isReplaceableTokenFileContent(existing.text)) {
    throw new TokenFileError(
      `${file} is not a token file written by infill-ls (expected 43 characters A-Z a-z 0-9 - _ and a newline, or an empty file); ` +
        'refusing to overwrite it: pass --token-file with another path, or move that file away yourself',
    );
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);
  const fd = fs.openSync(tmp, flags, 0o600);
  try {
    fs.writeSync(fd, `${token}\n`);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Resolves the token: `INFILL_LS_TOKEN` (at least 16 characters), else the token file (default
 * `$XDG_STATE_HOME/infill-ls/token`), else a new random 256-bit base64url token written to that file.
 * `regenerate` (--new-token) replaces the file's token. Throws TokenFileError for a file whose content is not a
 * token (reading) or not one this program wrote (replacing; see TOKEN_FILE_CONTENT), and for a file or folder that is a
 * symbolic link, owned by another user or open to others (group/other bits on the file; a world-writable folder
 * without the sticky bit). `uid`: whose files are accepted (default: this process's user; tests pass another).
 */
export function resolveToken(options: { env?: NodeJS.ProcessEnv; file?: string; regenerate?: boolean; uid?: number } = {}): ResolvedToken {
  uidOverride = options.uid;
  try {
    return resolve(options);
  } finally {
    uidOverride = undefined;
  }
}

function resolve(options: { env?: NodeJS.ProcessEnv; file?: string; regenerate?: boolean }): ResolvedToken {
  const env = options.env ?? process.env;
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_TOKEN_LENGTH) throw new TokenFileError(`${TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters long`);
    return { token: fromEnv, source: 'env' };
  }
  const file = path.resolve(options.file ?? defaultTokenFile(env));
  if (options.regenerate !== true) {
    const existing = readTokenFile(file);
    if (existing !== undefined) return { token: existing, source: 'file', file };
  }
  const token = randomBytes(32).toString('base64url');
  writeTokenFile(file, token);
  return { token, source: 'generated', file };
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
