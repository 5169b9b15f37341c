// The npm tier lists are stored gzip-compressed (native/corpus/npm-packages-v3.json.gz ... v4k): select-npm.mjs and
// fetch-npm.mjs read a list named *.gz exactly as the same list in plain JSON, and select-npm.mjs --out X.gz writes
// gzip that unpacks to the JSON it would have written, with the same bytes on a re-run (no name, no mtime).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
let tmp: string;
const node = (script: string, args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'native/corpus', script), ...args], { cwd: tmp, encoding: 'utf8' });

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-lists-test-'));
  // a download table: 8 packages; the base list has a, the skip list b and c
  const rows = ['name\tversion\tdownloads\tsummary', 'a\t1.0.0\t900\tx', 'b\t1.0.0\t800\tx', 'c\t2.0.0\t700\tx', 'd\t1.2.3\t600\tx',
    'e\t1.0.0\t500\tx', 'rxjs-x\t1.0.0\t450\tx', 'f\t1.0.0-beta\t400\tx', 'g\t3.0.0\t300\tx', 'h\t1.0.0\t200\tx'];
  fs.writeFileSync(path.join(tmp, 'table.tsv'), rows.join('\n') + '\n');
  const list = (names: string[]) => JSON.stringify({ packages: names.map((name) => ({ name, version: '1.0.0', license: 'MIT', split: 'train' })) }, null, 1) + '\n';
  for (const [f, names] of [['base', ['a']], ['skip', ['b', 'c']]] as const) {
    fs.writeFileSync(path.join(tmp, `${f}.json`), list([...names]));
    fs.writeFileSync(path.join(tmp, `${f}.json.gz`), gzipSync(list([...names])));
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('npm package lists as .json.gz', () => {
  it('select-npm: a .gz base and skip list give the same selection as the .json ones; --out .gz writes deterministic gzip', () => {
    const run = (ext: string, out: string) => {
      const r = node('select-npm.mjs', ['--table', 'table.tsv', '--base', `base${ext}`, '--skip-list', `skip${ext}`, '--add', '3', '--only-added', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const say = run('.json', 'plain.json');
    expect(run('.json.gz', 'packed.json.gz')).toBe(say);
    const plain = JSON.parse(fs.readFileSync(path.join(tmp, 'plain.json'), 'utf8'));
    const packedBytes = fs.readFileSync(path.join(tmp, 'packed.json.gz'));
    expect([...packedBytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    const packed = JSON.parse(gunzipSync(packedBytes).toString('utf8'));
    expect(packed.packages.map((p: { name: string }) => p.name)).toEqual(['d', 'e', 'g']);
    expect(packed.packages).toEqual(plain.packages);
    // the only differences: the file names recorded (which list was read, where --out wrote)
    expect(packed.source).toEqual({ ...plain.source, base: 'base.json.gz', skipLists: ['skip.json.gz'] });
    expect(packed.description).toBe(plain.description.replace('--list plain.json', '--list packed.json.gz'));
    // a re-run gives the same bytes (zlib's gzip header has no file name and mtime 0)
    expect(packedBytes.readUInt32LE(4)).toBe(0);
    fs.rmSync(path.join(tmp, 'packed.json.gz'));
    run('.json.gz', 'packed.json.gz');
    expect(fs.readFileSync(path.join(tmp, 'packed.json.gz')).equals(packedBytes)).toBe(true);
  });

  it('fetch-npm: a .gz list is read as the .json one (its checks run before anything is fetched)', () => {
    const bad = JSON.stringify({ packages: [{ name: 'ok-pkg', version: '1.0.0', split: 'train' }, { name: 'rxjs', version: '7.0.0', split: 'train' }] });
    fs.writeFileSync(path.join(tmp, 'bad.json'), bad);
    fs.writeFileSync(path.join(tmp, 'bad.json.gz'), gzipSync(bad));
    for (const f of ['bad.json', 'bad.json.gz']) {
      const r = node('fetch-npm.mjs', ['--list', f, '--work', path.join(tmp, 'work'), '--manifest', path.join(tmp, 'm.json')]);
      expect(r.status, f).not.toBe(0);
      expect(r.stderr, f).toContain('package list contains hard-excluded package rxjs');
    }
    expect(fs.existsSync(path.join(tmp, 'work'))).toBe(false);
  });

  it('the committed tier lists are gzip of JSON lists, with no file name or mtime in the header', () => {
    const dir = path.join(root, 'native/corpus');
    const tiers = fs.readdirSync(dir).filter((f) => /^npm-packages-v[34][a-z]?\.json\.gz$/.test(f)).sort();
    expect(tiers.length).toBeGreaterThanOrEqual(15);
    expect(fs.readdirSync(dir).filter((f) => /^npm-packages-v[34][a-z]?\.json$/.test(f))).toEqual([]);
    for (const f of tiers) {
      const raw = fs.readFileSync(path.join(dir, f));
      expect(raw.readUInt32LE(4), f).toBe(0); // mtime
      expect(raw[3] & 0x08, f).toBe(0); // FNAME flag
      const list = JSON.parse(gunzipSync(raw).toString('utf8'));
      expect(list.packages.length, f).toBeGreaterThan(2000);
    }
  });
});
