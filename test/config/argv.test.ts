// Tests of `infill-ls serve` flag parsing.

import { describe, expect, it } from 'vitest';
import { SERVE_USAGE, parseServeArgs } from '../../server/src/config/argv.js';
import { MODEL_FLAGS, engineOptionsFrom, positiveInt } from '../../server/src/cli/args.js';

describe('parseServeArgs', () => {
  it('parses the LSP transports as vscode-languageserver names them', () => {
    expect(parseServeArgs(['--stdio']).transport).toEqual({ kind: 'stdio' });
    expect(parseServeArgs(['--socket=5007']).transport).toEqual({ kind: 'socket', port: 5007 });
    expect(parseServeArgs(['--socket', '5007']).transport).toEqual({ kind: 'socket', port: 5007 });
    expect(parseServeArgs(['--pipe=/tmp/x.sock']).transport).toEqual({ kind: 'pipe', name: '/tmp/x.sock' });
    expect(parseServeArgs(['--stdio', '--clientProcessId=123']).transport).toEqual({ kind: 'stdio' });
    expect(parseServeArgs(['--node-ipc']).transport).toEqual({ kind: 'node-ipc' });
  });

  it('parses the WebSocket API options', () => {
    const args = parseServeArgs(['--ws', '--port', '0', '--host=::1', '--allow-origin', 'http://a', '--allow-origin=http://b', '--new-token', '--max-concurrent', '2']);
    expect(args.transport).toEqual({ kind: 'ws', port: 0, host: '::1' });
    expect(args.allowedOrigins).toEqual(['http://a', 'http://b']);
    expect(args.newToken).toBe(true);
    expect(args.maxConcurrentRequests).toBe(2);
  });

  it('collects model settings', () => {
    expect(parseServeArgs(['--stdio', '--model-dir', 'm', '--device=cpu', '--max-new-tokens', '16']).settings).toEqual({ modelDir: 'm', device: 'cpu', maxNewTokens: 16 });
    expect(parseServeArgs(['--ws', '--cross-file-context']).settings).toEqual({ crossFileContext: true });
    expect(parseServeArgs(['--ws', '--max-stall-ms', '100', '--decode-kv-window=256']).settings).toEqual({ maxStallMs: 100, decodeKvWindow: 256 });
    expect(parseServeArgs(['--stdio', '--max-stall-ms=0']).settings).toEqual({ maxStallMs: 0 });
    expect(() => parseServeArgs(['--ws', '--max-stall-ms', 'fast'])).toThrowError(/--max-stall-ms needs an integer, got "fast"/);
    expect(() => parseServeArgs(['--ws', '--decode-kv-window', '70000'])).toThrowError(/--decode-kv-window must be in 0..65536, got 70000/);
    expect(parseServeArgs(['--ws', '--draft-tokens', '0']).settings).toEqual({ draftTokens: 0 });
    expect(parseServeArgs(['--ws', '--draft-tokens=8']).settings).toEqual({ draftTokens: 8 });
    expect(() => parseServeArgs(['--ws', '--draft-tokens', '65'])).toThrowError(/--draft-tokens must be in 0..64, got 65/);
    expect(parseServeArgs(['--ws', '--wgsl-decode', 'off']).settings).toEqual({ wgslDecode: false });
    expect(parseServeArgs(['--stdio', '--wgsl-decode=on']).settings).toEqual({ wgslDecode: true });
    expect(() => parseServeArgs(['--ws', '--wgsl-decode', '0'])).toThrowError('--wgsl-decode needs on or off, got "0"');
    expect(() => parseServeArgs(['--ws', '--wgsl-decode'])).toThrowError('--wgsl-decode needs on or off, got nothing');
    expect(SERVE_USAGE).toMatch(/^ {2}--wgsl-decode on\|off {4}on WebGPU, decode steps in our WGSL kernels/m);
    expect(parseServeArgs(['--ws', '--far-context-tokens', '0']).settings).toEqual({ farContextTokens: 0 });
    expect(() => parseServeArgs(['--ws', '--far-context-tokens', '9000'])).toThrowError(/--far-context-tokens must be in 0..8192, got 9000/);
  });

  it('takes --threads as complete and eval do: a positive integer, refused with the same words; not a setting', () => {
    expect(parseServeArgs(['--ws', '--threads', '2']).threads).toBe(2);
    const lsp = parseServeArgs(['--stdio', '--threads=4']);
    expect(lsp.threads).toBe(4);
    expect(lsp.settings).toEqual({});
    expect(parseServeArgs(['--stdio']).threads).toBeUndefined();
    for (const bad of ['0', '-3', 'two', '1.5', '']) {
      // complete/eval's check (cli/args.ts) on the same value says exactly this.
      let expected = '';
      try {
        positiveInt('threads', bad);
      } catch (err) {
        expected = (err as Error).message;
      }
      expect(expected, bad).toMatch(/^--threads needs a positive integer, got /);
      expect(() => parseServeArgs(['--ws', '--threads', bad]), bad).toThrowError(expected);
      expect(() => parseServeArgs(['--ws', `--threads=${bad}`]), bad).toThrowError(expected);
    }
    expect(() => parseServeArgs(['--ws', '--threads'])).toThrowError('--threads needs a positive integer, got nothing');
    // Documented in serve's usage as in the other commands'.
    expect(SERVE_USAGE).toMatch(/^ {2}--threads N {13}CPU threads per operator/m);
    expect(MODEL_FLAGS).toMatch(/^ {2}--threads N {13}CPU threads per operator/m);
  });

  it('takes the model directory as --model or its alias --model-dir, once', () => {
    expect(parseServeArgs(['--stdio', '--model', 'm']).settings).toEqual({ modelDir: 'm' });
    expect(parseServeArgs(['--ws', '--model=m', '--model-dir', 'm']).settings).toEqual({ modelDir: 'm' });
    expect(() => parseServeArgs(['--ws', '--model', 'a', '--model-dir', 'b'])).toThrowError(/--model and --model-dir name the same setting/);
    expect(() => parseServeArgs(['--ws', '--model'])).toThrowError(/--model needs a directory/);
  });

  it('--help asks for the usage whatever else is given', () => {
    expect(parseServeArgs(['--help']).help).toBe(true);
    expect(parseServeArgs(['--ws', '-h', '--bogus']).help).toBe(true);
    expect(parseServeArgs(['--ws']).help).toBeUndefined();
  });

  it('explains mistakes', () => {
    expect(() => parseServeArgs([])).toThrowError(/choose a transport/);
    expect(() => parseServeArgs(['--stdio', '--ws'])).toThrowError(/choose one transport/);
    expect(() => parseServeArgs(['--ws', '--port', 'abc'])).toThrowError(/--port needs an integer, got "abc"/);
    expect(() => parseServeArgs(['--stdio', '--port', '1'])).toThrowError(/apply to --ws only/);
    expect(() => parseServeArgs(['--ws', '--bogus'])).toThrowError(/unknown option "--bogus"/);
  });
});

describe('complete/eval --far-context-tokens', () => {
  it('reaches the engine options as an integer in 0..8192 (0 off); anything else is a usage error', () => {
    expect(engineOptionsFrom({ 'far-context-tokens': '0' }).farContextTokens).toBe(0);
    expect(engineOptionsFrom({ 'far-context-tokens': '256' }).farContextTokens).toBe(256);
    expect('farContextTokens' in engineOptionsFrom({})).toBe(false);
    for (const bad of ['x', '-1', '8193', '1.5', '']) expect(() => engineOptionsFrom({ 'far-context-tokens': bad })).toThrowError(/--far-context-tokens needs an integer in 0..8192/);
    expect(MODEL_FLAGS).toContain('--far-context-tokens N');
  });
});
