// Corpus v3's cross-source near-duplicate pass (native/corpus/near-dedup.mjs): a record that nearly repeats an earlier
// input's record leaves, the first copy and distinct records stay, in order, and the report says which input matched.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'near-dedup-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const body = (tag: string, n = 30) =>
  Array.from({ length: n }, (_, i) => `export function ${tag}${i}(x: number): number {\n  return x * ${i} + ${tag.length};\n}\n`).join('\n');

describe('near-dedup.mjs', () => {
  it('drops a later near duplicate across inputs and keeps the rest in order', () => {
    const a = body('alpha');
    const nearA = a.replace('alpha29', 'omega29'); // one name of 30 functions changed
    const b = body('beta').replace(/return x \* /g, 'return x - ');
    const c = body('gamma').replace(/number/g, 'bigint');
    const rec = (pkg: string, p: string, text: string) => JSON.stringify({ pkg, path: p, lang: 'typescript', text });
    const in1 = path.join(tmp, 'train.jsonl');
    const in2dir = path.join(tmp, 'other');
    fs.mkdirSync(in2dir);
    const in2 = path.join(in2dir, 'train.jsonl'); // same basename as in1: outputs are numbered
    fs.writeFileSync(in1, `${rec('p@1', 'a.ts', a)}\n${rec('p@1', 'b.ts', b)}\n`);
    fs.writeFileSync(in2, `${rec('q@1', 'a2.ts', nearA)}\n${rec('q@1', 'c.ts', c)}\n`);
    const out = path.join(tmp, 'out');
    const r = spawnSync(process.execPath, [path.join(root, 'native/corpus/near-dedup.mjs'), '--out', out, in1, in2], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const paths = (f: string) => fs.readFileSync(path.join(out, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l).path);
    expect(paths('1-train.jsonl')).toEqual(['a.ts', 'b.ts']);
    expect(paths('2-train.jsonl')).toEqual(['c.ts']);
    const rep = JSON.parse(fs.readFileSync(path.join(out, 'near-dedup.json'), 'utf8'));
    expect(rep.inputs.map((x: { read: number; dropped: number }) => [x.read, x.dropped])).toEqual([[2, 0], [2, 1]]);
    expect(rep.inputs[1].droppedMatching).toEqual({ 'train.jsonl#1': 1 });
  });
});
