// Tests of bearer-token resolution: environment, generated 0600 file under the state dir, reuse, unsafe files.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  TokenFileError,
  defaultTokenFile,
  isReplaceableTokenFileContent,
  parseTokenFileContent,
  resolveToken,
  stateDir,
  tokenMatches,
} from '../../server/src/api/token.js';

const dirs: string[] = [];
function tempStateHome(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-state-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('token', () => {
  it('uses $XDG_STATE_HOME/infill-ls, else ~/.local/state/infill-ls', () => {
    expect(stateDir({ XDG_STATE_HOME: '/x/state' })).toBe('/x/state/infill-ls');
    expect(stateDir({})).toBe(path.join(os.homedir(), '.local', 'state', 'infill-ls'));
    expect(stateDir({ XDG_STATE_HOME: 'relative' })).toBe(path.join(os.homedir(), '.local', 'state', 'infill-ls'));
  });

  it('prefers INFILL_LS_TOKEN and writes no file', () => {
    const home = tempStateHome();
    const env = { XDG_STATE_HOME: home, INFILL_LS_TOKEN: 'a-long-enough-token-123' };
    expect(resolveToken({ env })).toEqual({ token: 'a-long-enough-token-123', source: 'env' });
    expect(fs.existsSync(defaultTokenFile(env))).toBe(false);
    expect(() => resolveToken({ env: { INFILL_LS_TOKEN: 'short' } })).toThrowError(/at least 16 characters/);
  });

  it('generates a token into a 0600 file and reuses it', () => {
    const env = { XDG_STATE_HOME: tempStateHome() };
    const first = resolveToken({ env });
    expect(first.source).toBe('generated');
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fs.statSync(first.file!).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(first.file!)).mode & 0o777).toBe(0o700);
    const again = resolveToken({ env });
    expect(again).toEqual({ token: first.token, source: 'file', file: first.file });
    const fresh = resolveToken({ env, regenerate: true });
    expect(fresh.token).not.toBe(first.token);
  });

  it('refuses a token file readable by others', () => {
    const env = { XDG_STATE_HOME: tempStateHome() };
    const { file } = resolveToken({ env });
    fs.chmodSync(file!, 0o644);
    expect(() => resolveToken({ env })).toThrowError(/readable by other users/);
  });

  it('never writes through a symbolic link at the token path, with or without --new-token (real links)', () => {
    const home = tempStateHome();
    const env = { XDG_STATE_HOME: home };
    const file = defaultTokenFile(env);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const victim = path.join(home, 'victim.txt');
    fs.writeFileSync(victim, 'precious user data\n', { mode: 0o644 });
    fs.symlinkSync(victim, file);
    for (const regenerate of [false, true]) {
      expect(() => resolveToken({ env, regenerate })).toThrowError(TokenFileError);
      expect(() => resolveToken({ env, regenerate })).toThrowError(/is a symbolic link; refusing/);
    }
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious user data\n');
    expect(fs.statSync(victim).mode & 0o777).toBe(0o644);
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
    // A link to a valid-looking 0600 token file is refused too (someone else could have planted both).
    const planted = path.join(home, 'planted');
    fs.writeFileSync(planted, 'a-token-somebody-else-chose-123\n', { mode: 0o600 });
    fs.rmSync(file);
    fs.symlinkSync(planted, file);
    expect(() => resolveToken({ env })).toThrowError(/symbolic link/);
  });

  it('refuses a token file owned by another user', () => {
    const env = { XDG_STATE_HOME: tempStateHome() };
    const { file, token } = resolveToken({ env });
    const owner = fs.statSync(file!).uid;
    // As another user: the file is not ours.
    expect(() => resolveToken({ env, uid: owner + 1 })).toThrowError(/owned by another user/);
    expect(() => resolveToken({ env, uid: owner + 1, regenerate: true })).toThrowError(/owned by another user/);
    if (process.getuid?.() === 0) {
      // Really owned by someone else (the test runs as root here): refused, and left as it was.
      fs.chownSync(file!, 65534, 65534);
      expect(() => resolveToken({ env })).toThrowError(/owned by another user \(uid 65534/);
      expect(() => resolveToken({ env, regenerate: true })).toThrowError(/owned by another user/);
      expect(fs.readFileSync(file!, 'utf8').trim()).toBe(token);
    }
  });

  it('writes a new token atomically: 0600 from the start, renamed into place, no temporary file left', () => {
    const env = { XDG_STATE_HOME: tempStateHome() };
    const first = resolveToken({ env });
    const inode = fs.statSync(first.file!).ino;
    fs.chmodSync(first.file!, 0o640); // our own file with a loose mode may be replaced by --new-token
    const fresh = resolveToken({ env, regenerate: true });
    expect(fresh.source).toBe('generated');
    const stat = fs.statSync(fresh.file!);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.ino).not.toBe(inode); // a new file renamed over the old path, not the old file rewritten
    expect(fs.readdirSync(path.dirname(fresh.file!))).toEqual(['token']);
    expect(fs.readFileSync(fresh.file!, 'utf8')).toBe(`${fresh.token}\n`);
  });

  it('refuses a world-writable token folder and a token path that is not a regular file', () => {
    const home = tempStateHome();
    const dir = path.join(home, 'open');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    expect(() => resolveToken({ env: {}, file: path.join(dir, 'token') })).toThrowError(/writable by every user/);
    expect(fs.readdirSync(dir)).toEqual([]);
    const notFile = path.join(home, 'adir');
    fs.mkdirSync(notFile);
    expect(() => resolveToken({ env: {}, file: notFile })).toThrowError(/not a regular file/);
  });

  it('never overwrites or reads as a token a file of the user that is not a token file (--token-file by mistake)', () => {
    const home = tempStateHome();
    const source = path.join(home, 'tool.py');
    const code = 'import os\n\ndef main():\n    print(os.getcwd())\n';
    for (const mode of [0o600, 0o644]) {
      fs.writeFileSync(source, code);
      fs.chmodSync(source, mode);
      const inode = fs.statSync(source).ino;
      expect(() => resolveToken({ env: {}, file: source, regenerate: true })).toThrowError(/is not a token file written by infill-ls.*refusing to overwrite it/);
      expect(() => resolveToken({ env: {}, file: source })).toThrowError(/does not hold a token.*refusing to use or replace it/);
      expect(fs.readFileSync(source, 'utf8')).toBe(code);
      expect(fs.statSync(source).mode & 0o777).toBe(mode);
      expect(fs.statSync(source).ino).toBe(inode);
      expect(fs.readdirSync(home)).toEqual(['tool.py']); // no temporary file left behind
    }
    // A 0600 file holding two lines, a space, a short or an over-long value: not a token, not replaced.
    for (const text of ['first-line-of-token\nsecond-line-of-it\n', 'abcdefgh ijklmnopqrstu\n', 'short\n', `${'a'.repeat(600)}\n`, '\n']) {
      fs.writeFileSync(source, text, { mode: 0o600 });
      fs.chmodSync(source, 0o600);
      expect(() => resolveToken({ env: {}, file: source })).toThrowError(TokenFileError);
      expect(() => resolveToken({ env: {}, file: source, regenerate: true })).toThrowError(TokenFileError);
      expect(fs.readFileSync(source, 'utf8')).toBe(text);
    }
    // A valid token the user wrote by hand is used, but --new-token does not replace it (only our own format is replaced).
    fs.writeFileSync(source, 'my-own-chosen-token.value==\r\n', { mode: 0o600 });
    expect(resolveToken({ env: {}, file: source })).toEqual({ token: 'my-own-chosen-token.value==', source: 'file', file: source });
    expect(() => resolveToken({ env: {}, file: source, regenerate: true })).toThrowError(/not a token file written by infill-ls/);
    // An empty file and an absent file get a new token.
    fs.writeFileSync(source, '', { mode: 0o600 });
    const fromEmpty = resolveToken({ env: {}, file: source });
    expect(fromEmpty.source).toBe('generated');
    expect(fs.readFileSync(source, 'utf8')).toBe(`${fromEmpty.token}\n`);
    fs.rmSync(source);
    const fromAbsent = resolveToken({ env: {}, file: source, regenerate: true });
    expect(fs.readFileSync(source, 'utf8')).toBe(`${fromAbsent.token}\n`);
  });

  it('defines the token file format: b64token lines read, only the written format replaced', () => {
    expect(parseTokenFileContent('abcdefghijklmnop')).toBe('abcdefghijklmnop');
    expect(parseTokenFileContent('abcdefghijklmnop\n')).toBe('abcdefghijklmnop');
    expect(parseTokenFileContent('A0-._~+/abcdefgh==\r\n')).toBe('A0-._~+/abcdefgh==');
    expect(parseTokenFileContent('abcdefghijklmno\n')).toBeUndefined(); // 15 characters
    expect(parseTokenFileContent('abcdefgh=ijklmnop')).toBeUndefined(); // '=' only as trailing padding
    expect(parseTokenFileContent('abcdefghijklmnop\n\n')).toBeUndefined();
    expect(parseTokenFileContent('abcdefgh\tijklmnop')).toBeUndefined();
    expect(parseTokenFileContent('abcdefghijklmnop\u0000')).toBeUndefined();
    const ours = `${'x'.repeat(40)}_-9\n`;
    expect(isReplaceableTokenFileContent(ours)).toBe(true);
    expect(isReplaceableTokenFileContent('')).toBe(true);
    expect(isReplaceableTokenFileContent(ours.trimEnd())).toBe(false);
    expect(isReplaceableTokenFileContent(`${'x'.repeat(44)}\n`)).toBe(false);
    expect(isReplaceableTokenFileContent(`${'x'.repeat(42)}+\n`)).toBe(false);
  });

  it('compares tokens exactly', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('ab', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });
});
