// Tests of bearer-token resolution: environment, generated 0600 file under the state dir, reuse, unsafe files.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultTokenFile, resolveToken, stateDir, tokenMatches } from '../../server/src/api/token.js';

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

  it('compares tokens exactly', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('ab', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });
});
