// CLI input errors that need no model: binary files, directories; each gets a clear message and exit code 1.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runComplete } from '../../server/src/cli/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-cli-input-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

describe('complete: input that is not a source file', () => {
  it('refuses a binary file (4 KiB of an executable) with exit code 1 and prints no completion', async () => {
    const bin = path.join(dir, 'bin.dat');
    const fd = fs.openSync(process.execPath, 'r');
    const head = Buffer.alloc(4096);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    fs.writeFileSync(bin, head);
    const c = capture();
    expect(await runComplete([bin, '--line', '1', '--column', '1', '--model', path.join(dir, 'no-model')], c.io)).toBe(1);
    expect(c.out.join('')).toBe('');
    expect(c.err.join('')).toMatch(/bin\.dat: not a source file: it contains a NUL character/);
  });
});
