// Corpus v3's Debian node-* builder (native/corpus/node-deb.mjs): the DEP-5 licence rule, the module directories
// it finds, and one whole run on a .deb built here with dpkg-deb (already in the work directory, so nothing is
// downloaded): which modules and files reach the output, which are refused and why, and the v2 hash exclusion.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { debLicenceAllowed, dep5Stanzas, moduleDebLicence, moduleDirs } from '../../native/corpus/node-deb.mjs';

const root = path.resolve(import.meta.dirname, '../..');
let tmp: string;

const COPYRIGHT = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 A
License: Expat

Files: gplmod/*
Copyright: 2020 B
License: GPL-3+

Files: debian/*
Copyright: 2021 C
License: GPL-2+
`;

// a distinct body per name (each character of the name picks a statement), so no two are near duplicates
const OPS = ['total += x;', 'total -= x / 2;', 'total *= x + 1;', 'if (x > total) total = x;', 'total = Math.max(total, x * 3);',
  'count++;', 'total ^= x;', 'seen.add(x);', 'total += seen.size;', 'total = total % 1000;'];
const code = (name: string) =>
  `export function ${name}(items: number[]): number {\n  let total = 0;\n  let count = 0;\n  const seen = new Set<number>();\n` +
  `  for (const x of items) {\n${[...name].map((c) => `    ${OPS[c.charCodeAt(0) % OPS.length]}\n`).join('')}  }\n  return total + count;\n}\n`;

function writeFile(p: string, text: string) {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-deb-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('licence rule', () => {
  it('allows the permissive DEP-5 names, one option of a dual licence, and refuses the rest', () => {
    for (const ok of ['Expat', 'MIT', 'BSD-3-clause', 'Apache-2.0', 'ISC', 'GPL-2+ or Expat', 'Expat and BSD-2-clause']) expect(debLicenceAllowed(ok), ok).toBe(true);
    for (const bad of ['GPL-3+', 'Expat and GPL-2', 'public-domain', 'WTFPL', 'BSD-3-clause~Dojo', '', undefined]) expect(debLicenceAllowed(bad), String(bad)).toBe(false);
  });
  it("takes a module's own stanza over Files: *, and ignores non-DEP-5 files", () => {
    const st = dep5Stanzas(COPYRIGHT);
    expect(st.map((s: { licence: string }) => s.licence)).toEqual(['Expat', 'GPL-3+', 'GPL-2+']);
    expect(moduleDebLicence(st, 'demo')).toBe('Expat');
    expect(moduleDebLicence(st, 'gplmod')).toBe('GPL-3+');
    expect(dep5Stanzas('This package was debianized by X.\nLicense: MIT\n')).toEqual([]);
    expect(moduleDebLicence([], 'demo')).toBe('UNKNOWN');
  });
});

describe('a whole run on a built .deb', () => {
  it('keeps allowed modules and their source files only, and says why the rest left', () => {
    const pkg = path.join(tmp, 'pkg');
    const share = path.join(pkg, 'usr/share/nodejs');
    writeFile(path.join(pkg, 'DEBIAN/control'), 'Package: node-demo\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n');
    writeFile(path.join(pkg, 'usr/share/doc/node-demo/copyright'), COPYRIGHT);
    writeFile(path.join(share, 'demo/package.json'), JSON.stringify({ name: 'demo', version: '1.0.0', license: 'MIT' }));
    writeFile(path.join(share, 'demo/src/sum.ts'), code('sum'));
    writeFile(path.join(share, 'demo/src/mean.ts'), code('mean'));
    writeFile(path.join(share, 'demo/src/types.d.ts'), 'export declare function sum(items: number[]): number;\n'.repeat(6));
    writeFile(path.join(share, 'demo/src/old.ts'), code('old')); // in "v2" below
    writeFile(path.join(share, 'demo/node_modules/dep/index.js'), code('dep')); // vendored
    writeFile(path.join(share, '@scope/util/package.json'), JSON.stringify({ name: '@scope/util', version: '2.0.0', license: 'ISC' }));
    writeFile(path.join(share, '@scope/util/index.ts'), code('util'));
    writeFile(path.join(share, 'gplmod/package.json'), JSON.stringify({ name: 'gplmod', version: '1.0.0', license: 'MIT' }));
    writeFile(path.join(share, 'gplmod/index.ts'), code('gpl'));
    writeFile(path.join(share, 'rx/package.json'), JSON.stringify({ name: 'rx', version: '4.1.0', license: 'Apache-2.0' }));
    writeFile(path.join(share, 'rx/index.ts'), code('rx'));
    writeFile(path.join(share, 'nolicence/package.json'), JSON.stringify({ name: 'nolicence', version: '1.0.0' }));
    writeFile(path.join(share, 'nolicence/index.ts'), code('nolic'));
    writeFile(path.join(share, 'comment-parser/package.json'), JSON.stringify({ name: 'comment-parser', version: '1.0.0', license: 'MIT' }));
    writeFile(path.join(share, 'comment-parser/index.ts'), code('cp'));
    expect(moduleDirs(pkg)).toEqual([
      'usr/share/nodejs/@scope/util', 'usr/share/nodejs/comment-parser', 'usr/share/nodejs/demo', 'usr/share/nodejs/gplmod',
      'usr/share/nodejs/nolicence', 'usr/share/nodejs/rx',
    ]);
    const work = path.join(tmp, 'work');
    fs.mkdirSync(work);
    const built = spawnSync('dpkg-deb', ['--build', '--root-owner-group', pkg, path.join(work, 'node-demo_1.0-1_all.deb')], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const list = path.join(tmp, 'list.txt');
    fs.writeFileSync(list, '# test\nnode-demo\n');
    const v2 = path.join(tmp, 'v2.jsonl');
    fs.writeFileSync(v2, JSON.stringify({ pkg: 'old@1', path: 'a.ts', lang: 'typescript', text: `${code('old')}  \n` }) + '\n');
    const heldOut = path.join(tmp, 'held.json');
    fs.writeFileSync(heldOut, JSON.stringify({ packages: [{ name: 'comment-parser', split: 'aside' }, { name: 'demo', split: 'train' }] }));
    const out = path.join(tmp, 'out');
    const manifest = path.join(tmp, 'manifest.json');
    const r = spawnSync(process.execPath, [path.join(root, 'native/corpus/node-deb.mjs'), '--list', list, '--work', work, '--out', out,
      '--manifest', manifest, '--held-out', heldOut, '--v2', v2], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const recs = fs.readFileSync(path.join(out, 'node-train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(recs.map((x) => `${x.pkg} ${x.path} ${x.lang}`)).toEqual([
      '@scope/util@2.0.0 index.ts typescript', 'demo@1.0.0 src/mean.ts typescript', 'demo@1.0.0 src/sum.ts typescript',
    ]);
    expect(recs[2].text).toBe(code('sum'));
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    const reasons = Object.fromEntries(m.refused.map((x: { module: string; reason: string }) => [x.module, x.reason]));
    expect(reasons).toEqual({
      'comment-parser@1.0.0': 'held out (npm dev/aside of v2)',
      'gplmod@1.0.0': 'licence (debian/copyright: GPL-3+)',
      'nolicence@1.0.0': 'licence (package.json: none)',
      'rx@4.1.0': 'excluded',
    });
    const demo = m.modules.find((x: { module: string }) => x.module === 'demo@1.0.0');
    expect(demo.dropped).toEqual({ dts: 1, vendored: 1, dup_v2: 1 });
    expect(m.totals.train).toMatchObject({ modules: 2, files: 3, ts: 3, js: 0 });

    // the same held-out list gzip-compressed (as the npm tier lists are stored): the same records and refusals
    const heldGz = path.join(tmp, 'held.json.gz');
    fs.writeFileSync(heldGz, gzipSync(fs.readFileSync(heldOut)));
    const out2 = path.join(tmp, 'out-gz');
    const manifest2 = path.join(tmp, 'manifest-gz.json');
    const r2 = spawnSync(process.execPath, [path.join(root, 'native/corpus/node-deb.mjs'), '--list', list, '--work', work, '--out', out2,
      '--manifest', manifest2, '--held-out', heldGz, '--v2', v2], { encoding: 'utf8' });
    expect(r2.status, r2.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out2, 'node-train.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(out, 'node-train.jsonl'), 'utf8'));
    expect(JSON.parse(fs.readFileSync(manifest2, 'utf8')).refused).toEqual(m.refused);
  });
});
