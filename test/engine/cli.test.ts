// The complete and eval commands as functions: positions, usage errors, JSONL in and out, one model load.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { offsetOf, parseTask, runComplete, runEval } from '../../server/src/cli/index.js';
import { languageOf } from '../../server/src/cli/args.js';
import { defaultMaxCandidates } from '../../server/src/documents/index.js';
import { createEngine } from '../../server/src/engine/index.js';
import { defaultModelDir, packageRoot } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';
import { tempDir, writeSyntheticModelDir } from '../runtime/helpers/model-dir.js';

const synth = writeSyntheticModelDir({ layout: 'per-layer' });
const never = new AbortController().signal;
/** What a manual request asks for on every surface (LSP, API, CLI): the count changes which candidate is first. */
const MANUAL = { trigger: 'manual' as const, maxCandidates: defaultMaxCandidates('manual') };

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

describe('languageOf', () => {
  test('file extensions map to the language ids editors send over LSP (else plaintext)', () => {
    const cases: Array<[string, string]> = [
      ['a.ts', 'typescript'], ['a.mts', 'typescript'], ['a.tsx', 'typescriptreact'], ['a.js', 'javascript'], ['a.cjs', 'javascript'],
      ['a.jsx', 'javascriptreact'], ['a.py', 'python'], ['a.pyi', 'python'], ['A.PY', 'python'], ['a.go', 'plaintext'], ['Makefile', 'plaintext'],
    ];
    for (const [file, id] of cases) expect([file, languageOf(file)]).toEqual([file, id]);
  });
});

describe('offsetOf', () => {
  const text = 'ab\ncdé\n\nx';
  test('1-based line and column, end of line allowed', () => {
    expect(offsetOf(text, 1, 1)).toBe(0);
    expect(offsetOf(text, 2, 3)).toBe(5);
    expect(offsetOf(text, 2, 4)).toBe(6); // end of 'cdé'
    expect(offsetOf(text, 3, 1)).toBe(7);
    expect(offsetOf(text, 4, 2)).toBe(9);
  });
  test('positions outside the text are usage errors', () => {
    expect(() => offsetOf(text, 5, 1)).toThrow(/--line 5 is past the end/);
    expect(() => offsetOf('x', 2, 1)).toThrow(/--line 2 is past the end of the file \(it has 1 line\)/);
    expect(() => offsetOf('x', 1, 3)).toThrow(/--column 3 is past the end of line 1 \(it has 1 character\)/);
    expect(() => offsetOf(text, 1, 4)).toThrow(/--column 4 is past the end of line 1 \(it has 2 characters\)/);
  });
});

describe('offsetOf: CRLF, lone CR and surrogate pairs (issue 12)', () => {
  test('a line ends before its CRLF or lone CR terminator', () => {
    expect(offsetOf('ab\r\ncd', 2, 1)).toBe(4);
    expect(offsetOf('ab\r\ncd', 1, 3)).toBe(2);
    expect(() => offsetOf('ab\r\ncd', 1, 4)).toThrow(/line 1 \(it has 2 characters\)/);
    expect(offsetOf('ab\rcd', 2, 2)).toBe(4);
  });
  test('a column between the two code units of an emoji is a usage error', () => {
    expect(() => offsetOf('x = "📁"', 1, 7)).toThrow(/inside a surrogate pair/);
    expect(offsetOf('x = "📁"', 1, 8)).toBe(7);
  });
});

describe('runComplete on a CRLF file (issue 12 item 1, default model)', () => {
  test('prints the completion of the LF twin with CRLF line ends', async () => {
    const dir = tempDir();
    const lf = 'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        \n\n    def size(self):\n        return len(self.items)\n';
    fs.writeFileSync(path.join(dir, 'lf.py'), lf);
    fs.writeFileSync(path.join(dir, 'crlf.py'), lf.replace(/\n/g, '\r\n'));
    const run = async (name: string) => {
      const c = capture();
      expect(await runComplete([path.join(dir, name), '--line', '6', '--column', '9', '--trigger', 'automatic', '--json', '--device', 'cpu'], c.io)).toBe(0);
      return JSON.parse(c.out.join('')) as { completion: string; timings: { promptTokens: number } };
    };
    const a = await run('lf.py');
    const b = await run('crlf.py');
    // The model sees the same prompt: the same tokens, so the same greedy completion (no CPU rounding involved).
    expect(b.timings.promptTokens).toBe(a.timings.promptTokens);
    expect(a.completion.trim()).not.toBe('');
    expect(b.completion).toBe(a.completion.replace(/\n/g, '\r\n'));
    expect(b.completion).not.toMatch(/\r(?!\n)/);
  }, modelTimeout(120_000));
});

test('the default model directory is models/default under the package root, wherever the cwd is', () => {
  expect(fs.existsSync(path.join(packageRoot, 'package.json'))).toBe(true);
  expect(defaultModelDir).toBe(path.join(packageRoot, 'models', 'default'));
});

describe('runComplete', () => {
  test('prints what the engine completes at the position', async () => {
    const file = path.join(tempDir(), 'a.ts');
    const text = 'function add(a, b) {\n  return \n}\n';
    fs.writeFileSync(file, text);
    const c = capture();
    const code = await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu'], c.io);
    expect(code).toBe(0);
    const engine = createEngine({ modelDir: synth.dir, device: 'cpu' });
    const r = await engine.complete(
      { documentKey: 'x', version: 1, languageId: 'typescript', prefix: text.slice(0, 30), suffix: text.slice(30), ...MANUAL },
      never,
    );
    const ready = engine.status().message;
    await engine.dispose();
    expect(text.slice(0, 30)).toBe('function add(a, b) {\n  return ');
    expect(r.kind).toBe('ok');
    const want = r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '';
    expect(c.out.join('')).toBe(want.endsWith('\n') ? want : `${want}\n`);
    // stderr: one status line naming the model directory and the device (load steps only with INFILL_LS_LOG=debug)
    if (process.env.INFILL_LS_LOG !== 'debug') expect(c.err.join('').trimEnd().split('\n')).toEqual([`infill-ls: ready: ${synth.dir}: ${ready}`]);
    expect(ready).toMatch(/ on cpu/);
  });

  test('--model-dir is an alias of --model; both with different directories is a usage error', async () => {
    const file = path.join(tempDir(), 'a.ts');
    fs.writeFileSync(file, 'function add(a, b) {\n  return \n}\n');
    const a = capture();
    const b = capture();
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu'], a.io)).toBe(0);
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model-dir', synth.dir, '--device', 'cpu'], b.io)).toBe(0);
    expect(b.out.join('')).toBe(a.out.join(''));
    const c = capture();
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--model-dir', '/elsewhere'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/--model and --model-dir name the same setting/);
  });

  test('usage errors exit 2 with the usage text; --help exits 0', async () => {
    const c = capture();
    expect(await runComplete(['--line', '1'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/give exactly one file[\s\S]*1-based/);
    const h = capture();
    expect(await runComplete(['--help'], h.io)).toBe(0);
    expect(h.out.join('')).toMatch(/L and C are 1-based/);
    const d = capture();
    expect(await runComplete(['x.ts', '--line', '1', '--column', '1', '--device', 'tpu'], d.io)).toBe(1); // file missing first
    const file = path.join(tempDir(), 'b.py');
    fs.writeFileSync(file, 'x');
    const e = capture();
    expect(await runComplete([file, '--line', '1', '--column', '1', '--device', 'tpu'], e.io)).toBe(2);
    expect(e.err.join('')).toMatch(/--device must be auto, cpu, webgpu or cuda/);
  });

  test('--fim chooses the prompt order: the CLI prints what a PSM engine completes; a bad value exits 2', async () => {
    const file = path.join(tempDir(), 'f.ts');
    const text = 'function add(a, b) {\n  return \n}\n';
    fs.writeFileSync(file, text);
    const c = capture();
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu', '--fim', 'psm'], c.io)).toBe(0);
    const engine = createEngine({ modelDir: synth.dir, device: 'cpu', fim: { mode: 'psm' } });
    const r = await engine.complete({ documentKey: 'x', version: 1, languageId: 'typescript', prefix: text.slice(0, 30), suffix: text.slice(30), ...MANUAL }, never);
    const status = engine.status();
    await engine.dispose();
    expect(status.message).toMatch(/ PSM,/);
    const want = r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '';
    expect(c.out.join('')).toBe(want.endsWith('\n') ? want : `${want}\n`);
    const bad = capture();
    expect(await runComplete([file, '--line', '1', '--column', '1', '--fim', 'msp'], bad.io)).toBe(2);
    expect(bad.err.join('')).toMatch(/--fim must be psm or spm, got "msp"/);
    const badTrigger = capture();
    expect(await runComplete([file, '--line', '1', '--column', '1', '--trigger', 'sideways'], badTrigger.io)).toBe(2);
    expect(badTrigger.err.join('')).toMatch(/--trigger must be automatic or manual, got "sideways"/);
  });

  test('--trigger automatic asks as typing does, --single-line keeps one line', async () => {
    const file = path.join(tempDir(), 'g.ts');
    const text = 'function add(a, b) {\n  return \n}\n';
    fs.writeFileSync(file, text);
    const context = { documentKey: 'x', version: 1, languageId: 'typescript', prefix: text.slice(0, 30), suffix: text.slice(30) };
    const engine = createEngine({ modelDir: synth.dir, device: 'cpu' });
    const auto = await engine.complete({ ...context, trigger: 'automatic' }, never);
    const single = await engine.complete({ ...context, ...MANUAL, lineMode: 'single' }, never);
    await engine.dispose();
    const textOf = (r: typeof auto) => (r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '');
    const a = capture();
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu', '--trigger', 'automatic'], a.io)).toBe(0);
    expect(a.out.join('')).toBe(textOf(auto).endsWith('\n') ? textOf(auto) : `${textOf(auto)}\n`);
    const s = capture();
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu', '--single-line'], s.io)).toBe(0);
    expect(s.out.join('')).toBe(`${textOf(single)}\n`);
    expect(textOf(single)).not.toContain('\n');
    const l = capture();
    expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu', '--line-mode', 'single'], l.io)).toBe(0);
    expect(l.out.join('')).toBe(s.out.join(''));
  });

  test('a UTF-8 byte order mark is not text: columns and the completion are those of the file without it', async () => {
    const dir = tempDir();
    const body = 'const total = \nconsole.log(total);\n';
    fs.writeFileSync(path.join(dir, 'plain.ts'), body);
    fs.writeFileSync(path.join(dir, 'bom.ts'), `\uFEFF${body}`);
    const run = async (name: string, column: string) => {
      const c = capture();
      const code = await runComplete([path.join(dir, name), '--line', '1', '--column', column, '--model', synth.dir, '--device', 'cpu', '--json'], c.io);
      return { code, out: code === 0 ? (JSON.parse(c.out.join('')) as { candidates: unknown[] }).candidates : c.err.join('') };
    };
    const plain = await run('plain.ts', '15');
    expect(plain.code).toBe(0);
    expect(await run('bom.ts', '15')).toEqual(plain);
    // Line 1 has 14 characters in an editor, BOM or not: column 16 is past its end.
    expect((await run('bom.ts', '16')).code).toBe(2);
  });

  test('--max-candidates: the count the engine decodes (default 3 manual, 1 automatic); --json lists the fitted candidates', async () => {
    const file = path.join(tempDir(), 'm.ts');
    const text = 'function add(a, b) {\n  return \n}\n';
    fs.writeFileSync(file, text);
    const context = { documentKey: 'x', version: 1, languageId: 'typescript', prefix: text.slice(0, 30), suffix: text.slice(30), trigger: 'manual' as const };
    const engine = createEngine({ modelDir: synth.dir, device: 'cpu' });
    const one = await engine.complete({ ...context, maxCandidates: 1 }, never);
    const three = await engine.complete({ ...context, maxCandidates: 3 }, new AbortController().signal);
    await engine.dispose();
    const texts = (r: typeof one) => (r.kind === 'ok' ? r.candidates.map((c) => c.text).filter((t) => t.length > 0) : []);
    const run = async (...flags: string[]) => {
      const c = capture();
      expect(await runComplete([file, '--line', '2', '--column', '10', '--model', synth.dir, '--device', 'cpu', '--json', ...flags], c.io)).toBe(0);
      return JSON.parse(c.out.join('')) as { completion: string; candidates: Array<{ text: string; score: number }> };
    };
    const byDefault = await run();
    const asked1 = await run('--max-candidates', '1');
    expect(byDefault.candidates.map((c) => c.text)).toEqual(texts(three));
    expect(byDefault.completion).toBe(texts(three)[0] ?? '');
    expect(asked1.candidates.map((c) => c.text)).toEqual(texts(one));
    expect(asked1.completion).toBe(texts(one)[0] ?? '');
    for (const [flags, message] of [
      [['--max-candidates', '9'], /--max-candidates must be 1-8, got 9/],
      [['--max-candidates', '0'], /--max-candidates needs a positive integer/],
      [['--line-mode', 'both'], /--line-mode must be single or multi, got "both"/],
      [['--line-mode', 'multi', '--single-line'], /contradict/],
    ] as const) {
      const bad = capture();
      expect(await runComplete([file, '--line', '2', '--column', '10', ...flags], bad.io)).toBe(2);
      expect(bad.err.join('')).toMatch(message);
    }
  });

  test('a model problem exits 1 naming the file', async () => {
    const file = path.join(tempDir(), 'c.py');
    fs.writeFileSync(file, 'x = ');
    const missing = path.join(tempDir(), 'no-model');
    const c = capture();
    expect(await runComplete([file, '--line', '1', '--column', '5', '--model', missing, '--device', 'cpu'], c.io)).toBe(1);
    expect(c.err.join('')).toContain(`${missing}: model directory not found`);
  });
});

describe('runEval', () => {
  test('parses tasks, including HumanEval-infilling field names', () => {
    expect(parseTask('{"id":"a","language":"python","prefix":"p","suffix":"s"}')).toEqual({ id: 'a', language: 'python', prefix: 'p', suffix: 's' });
    expect(parseTask('{"task_id":"HumanEval/1","prompt":"def f():\\n","suffix":""}')).toEqual({ id: 'HumanEval/1', language: 'python', prefix: 'def f():\n', suffix: '' });
    expect(parseTask('{"id":1}')).toMatch(/prefix/);
    expect(parseTask('nope')).toMatch(/not JSON/);
  });

  test('writes one {id, completion, ms} line per task with one loaded model', async () => {
    const dir = tempDir();
    const tasks = path.join(dir, 'tasks.jsonl');
    const preds = path.join(dir, 'preds.jsonl');
    const items = [
      { id: 't1', language: 'python', prefix: 'def add(a, b):\n    return ', suffix: '\n' },
      { id: 't2', language: 'typescript', prefix: 'const x = ', suffix: ';\n' },
      { id: 't3', language: 'python', prefix: '', suffix: '' },
    ];
    fs.writeFileSync(tasks, items.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const c = capture();
    expect(await runEval(['--tasks', tasks, '--out', preds, '--model', synth.dir, '--device', 'cpu'], c.io)).toBe(0);
    const lines = fs.readFileSync(preds, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(['t1', 't2', 't3']);
    for (const l of lines) {
      expect(typeof l.completion).toBe('string');
      expect(l.ms).toBeGreaterThan(0);
    }
    expect(c.err.join('')).toMatch(/3 tasks → .*preds\.jsonl; latency p50/);
    expect(c.err.join('').match(/on cpu/g)).toHaveLength(1); // the model was loaded once
    // Same completions as single requests.
    const engine = createEngine({ modelDir: synth.dir, device: 'cpu' });
    for (const [i, t] of items.entries()) {
      const r = await engine.complete({ documentKey: t.id, version: 1, languageId: t.language, prefix: t.prefix, suffix: t.suffix, trigger: 'manual' }, never);
      expect(lines[i].completion).toBe(r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : null);
    }
    await engine.dispose();
  });

  test('--shard K/N takes task i when i % N == K; --mode fim and si<N>; raw and token counts per line', async () => {
    const dir = tempDir();
    const tasks = path.join(dir, 'tasks.jsonl');
    const items = Array.from({ length: 5 }, (_, i) => ({ id: `s${i}`, language: 'typescript', prefix: `const v${i} = `, suffix: ';\n' }));
    fs.writeFileSync(tasks, items.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const ids: string[][] = [];
    for (const k of [0, 1]) {
      const out = path.join(dir, `p${k}.jsonl`);
      expect(await runEval(['--tasks', tasks, '--out', out, '--model', synth.dir, '--device', 'cpu', '--shard', `${k}/2`, '--mode', k ? 'si2' : 'fim'], capture().io)).toBe(0);
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      for (const l of lines) {
        expect(typeof l.raw).toBe('string');
        expect(l.tokens).toBeGreaterThanOrEqual(0);
        expect(l.modelTokens).toBeGreaterThan(0);
        // Why plain FIM's raw decode stopped (bench/quality/line-rules.mjs replays the line rules on it); self-infilling's
        // candidates do not report it.
        if (k === 0) expect(['stop-token', 'stop-at', 'max-tokens', 'time-budget', 'constraint']).toContain(l.stopReason);
        else expect(l.stopReason).toBeUndefined();
      }
      ids.push(lines.map((l) => l.id));
    }
    expect(ids).toEqual([['s0', 's2', 's4'], ['s1', 's3']]);
    for (const bad of [['--shard', '2/2'], ['--shard', 'x'], ['--mode', 'beam'], ['--loops', '3'], ['--tau', '1.5']]) {
      const c = capture();
      expect(await runEval(['--tasks', tasks, '--out', path.join(dir, 'x.jsonl'), ...bad], c.io)).toBe(2);
      expect(c.err.join('')).toContain(bad[0]);
    }
  });

  test('--candidates N answers the first of the engine ranking of N candidates and lists them all', async () => {
    const dir = tempDir();
    const tasks = path.join(dir, 'tasks.jsonl');
    const items = [
      { id: 'c1', language: 'python', prefix: 'def add(a, b):\n    return ', suffix: '\n' },
      { id: 'c2', language: 'typescript', prefix: 'const x = ', suffix: ';\n' },
    ];
    fs.writeFileSync(tasks, items.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const out = path.join(dir, 'p.jsonl');
    expect(await runEval(['--tasks', tasks, '--out', out, '--model', synth.dir, '--device', 'cpu', '--candidates', '3'], capture().io)).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const engine = createEngine({ modelDir: synth.dir, device: 'cpu' });
    for (const [i, t] of items.entries()) {
      const r = await engine.complete({ documentKey: t.id, version: 1, languageId: t.language, prefix: t.prefix, suffix: t.suffix, trigger: 'manual', maxCandidates: 3 }, never);
      expect(r.kind).toBe('ok');
      if (r.kind !== 'ok') continue;
      expect(lines[i].candidates.map((c: { text: string }) => c.text)).toEqual(r.candidates.map((c) => c.text));
      expect(lines[i].completion).toBe(r.candidates[0]?.text ?? '');
      for (const c of lines[i].candidates) expect(c.score).toBeLessThanOrEqual(0); // mean log-probabilities
    }
    await engine.dispose();
    for (const bad of ['0', '9', 'x']) {
      const c = capture();
      expect(await runEval(['--tasks', tasks, '--out', path.join(dir, 'x.jsonl'), '--candidates', bad], c.io)).toBe(2);
      expect(c.err.join('')).toContain('candidates');
    }
  });

  test('missing flags exit 2; a bad task line is reported and counted', async () => {
    expect(await runEval(['--tasks', 'x'], capture().io)).toBe(2);
    const dir = tempDir();
    const tasks = path.join(dir, 't.jsonl');
    fs.writeFileSync(tasks, '{"id":"ok","prefix":"a = ","suffix":""}\n{broken\n');
    const c = capture();
    expect(await runEval(['--tasks', tasks, '--out', path.join(dir, 'p.jsonl'), '--model', synth.dir, '--device', 'cpu', '--limit', '5'], c.io)).toBe(1);
    expect(c.err.join('')).toContain(`${tasks}:2: not JSON`);
    expect(fs.readFileSync(path.join(dir, 'p.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
