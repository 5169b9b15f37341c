// CLI input errors that need no model: binary files, directories, flag values, folders that are not models; each gets a
// clear message (exit code 1 for input, 2 for usage), and serve's status line names a missing model folder once.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runComplete } from '../../server/src/cli/index.js';
import { statusLine } from '../../server/src/cli/args.js';

const BIN = fileURLToPath(new URL('../../bin/infill-ls.js', import.meta.url));

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

describe('clear CLI errors (fresh-user report)', () => {
  it('a directory as the file: "is a directory", exit code 1', async () => {
    const c = capture();
    expect(await runComplete([dir, '--line', '1', '--column', '1'], c.io)).toBe(1);
    expect(c.err.join('')).toBe(`infill-ls complete: ${dir}: is a directory; give a source file\n`);
  });

  it('a negative number as a flag value is checked by the flag, not called "ambiguous"; an option-like value says the flag needs one', async () => {
    const file = path.join(dir, 'a.py');
    fs.writeFileSync(file, 'x = 1\n');
    const c = capture();
    expect(await runComplete([file, '--line', '1', '--column', '1', '--threads', '-3'], c.io)).toBe(2);
    expect(c.err.join('')).toBe('infill-ls complete: --threads needs a positive integer, got "-3"\n');
    const d = capture();
    expect(await runComplete([file, '--line', '1', '--column', '1', '--model', '--json'], d.io)).toBe(2);
    expect(d.err.join('')).toMatch(/^infill-ls complete: --model needs a value \(got the option-like "--json"; write --model=--json if that is the value\)\n/);
    expect(d.err.join('')).not.toMatch(/ambiguous/);
  });

  it('a folder that is not a model: says so and what a model folder holds', async () => {
    const file = path.join(dir, 'b.py');
    fs.writeFileSync(file, 'x = 1\n');
    const notModel = fs.mkdtempSync(path.join(dir, 'ws-'));
    fs.writeFileSync(path.join(notModel, 'main.py'), 'print(1)\n');
    const c = capture();
    expect(await runComplete([file, '--line', '1', '--column', '1', '--model', notModel, '--device', 'cpu'], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(new RegExp(`${notModel}: is not a model directory: a model folder holds config.json, tokenizer.json and onnx/model\\*\\.onnx`));
    expect(c.err.join('')).not.toMatch(/config\.json: file not found/);
  });

  it('serve --ws with a missing model folder names the folder once', async () => {
    const missing = path.join(dir, 'nomodel');
    const child = spawn(process.execPath, [BIN, 'serve', '--ws', '--port', '0', '--model', missing, '--token-file', path.join(dir, 'token')], {
      env: { ...process.env, INFILL_LS_TOKEN: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no model line; stderr: ${stderr}`)), 30_000);
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/infill-ls model: degraded.*\n/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(stderr).toContain(`infill-ls model: degraded: ${missing}: model directory not found\n`);
    } finally {
      child.kill();
    }
  }, 40_000);

  it('statusLine does not repeat a model folder the message already names', () => {
    expect(statusLine({ state: 'degraded', model: '/m', message: '/m: model directory not found' })).toBe('infill-ls: degraded: /m: model directory not found');
    expect(statusLine({ state: 'ready', model: '/m', message: 'llama PSM, fp32 on cpu' })).toBe('infill-ls: ready: /m: llama PSM, fp32 on cpu');
  });
});
