#!/usr/bin/env node
// Builds the v2 npm package list (issue 16): the v1 list (npm-packages.json, kept as it is, with its dev
// split) plus the most-downloaded other packages, each pinned to the exact version of the input table.
//
//   node native/corpus/select-npm.mjs --table npm.tsv --add 2600 [--aside a,b,c] [--out native/corpus/npm-packages-v2.json]
//   v3, the next tier: --base native/corpus/npm-packages-v2.json --only-added --out native/corpus/npm-packages-v3.json.gz
//   and the one after it: ... --skip-list native/corpus/npm-packages-v3.json.gz --out native/corpus/npm-packages-v3b.json.gz
// Lists (--base, --skip-list) are read gzip-compressed when the name ends in .gz; an --out ending in .gz is written
// gzip-compressed (zlib level 9, no name, no mtime: the same list gives the same bytes). The tiers v3 on are stored
// as .json.gz so that each GPU-machine call carries less (issue 16).
//
// Input table: tab-separated `name  version  downloads_a_month  summary` with a header line (a snapshot of the
// npm registry's download counts; which snapshot is recorded in the output's `source`). Packages added are
// pinned with `"license": null`: fetch-npm.mjs then takes the licence from the tarball's package.json and uses
// the package only if it is one of the allowed licences, recording it in the manifest. Left out before any
// fetch: hard-excluded names (the same rule as fetch-npm.mjs), `@types/*` (declaration files only),
// non-release versions (anything but x.y.z), and v1 packages/rejects (already judged).
// `--aside` names packages (from the v1 train split or the added ones) whose whole source is kept out of
// training (`split: "aside"`), for the cross-file and repository-adaptation measurements.
import '../../bench/lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readPackageList } from './fetch-npm.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// the hard exclusions of fetch-npm.mjs (RxJS under every npm name it had, Effect, Django, HumanEval)
const DENY_NAME = [/rxjs/i, /^rx$/i, /^rx-lite/i, /^@reactivex\//i, /^effect$/i, /^@effect\//i, /django/i, /human-?eval/i];
// prebuilt per-platform binaries (`@esbuild/linux-x64`, `@rollup/rollup-linux-arm64-gnu`, `@biomejs/cli-win32-x64`, ...): no source
const PLATFORM_BINARY = /(^|[-/])(linux|darwin|win32|windows|freebsd|openbsd|netbsd|sunos|android|aix)([-_.](x64|x86|arm64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el|universal)|$)|-(musl|gnu|msvc|gnueabihf)$/i;
const o = { table: null, add: 2600, aside: [], out: path.join(HERE, 'npm-packages-v2.json'), base: path.join(HERE, 'npm-packages.json') };
/** The list's text, gzip-compressed when the name ends in .gz (zlib writes no name and mtime 0: deterministic). */
const writeList = (f, text) => fs.writeFileSync(f, f.endsWith('.gz') ? gzipSync(Buffer.from(text, 'utf8'), { level: 9 }) : text);
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--table') o.table = argv[++i];
  else if (a === '--add') o.add = parseInt(argv[++i], 10);
  else if (a === '--aside') o.aside = argv[++i].split(',').filter(Boolean);
  else if (a === '--out') o.out = argv[++i];
  else if (a === '--base') o.base = argv[++i];
  else if (a === '--skip-list') (o.skipLists ||= []).push(argv[++i]); // v3: lists already built (their packages are not added again)
  else if (a === '--only-added') o.onlyAdded = true; // v3: write only the added packages (the base list is v2's, already built)
  else throw new Error(`unknown argument ${a}`);
}
if (!o.table) throw new Error('--table FILE is required (name, version, downloads_a_month, summary; tab-separated)');
const base = readPackageList(o.base);
const known = new Set([...base.packages.map((p) => p.name), ...Object.keys(base.rejected || {}).map((k) => k.replace(/@[^@]+$/, ''))]);
for (const f of o.skipLists || []) for (const p of readPackageList(f).packages) known.add(p.name);
const rows = fs.readFileSync(o.table, 'utf8').split('\n').slice(1).map((l) => l.split('\t'))
  .filter((r) => r.length >= 3)
  .map(([name, version, dl]) => ({ name, version, downloads: Number(dl) }))
  .filter((r) => Number.isFinite(r.downloads) && r.name && !known.has(r.name) && !r.name.startsWith('@types/') && !PLATFORM_BINARY.test(r.name)
    && !DENY_NAME.some((re) => re.test(r.name)) && /^\d+\.\d+\.\d+$/.test(r.version))
  .sort((a, b) => b.downloads - a.downloads || (a.name < b.name ? -1 : 1));
const added = rows.slice(0, o.add).map((r) => ({ name: r.name, version: r.version, license: null, split: 'train', downloadsAMonth: r.downloads }));
const packages = [...(o.onlyAdded ? [] : base.packages.map((p) => ({ ...p }))), ...added];
for (const p of packages) if (o.aside.includes(p.name)) p.split = 'aside';
const missing = o.aside.filter((n) => !packages.some((p) => p.name === n));
if (missing.length) throw new Error(`--aside names not in the list: ${missing.join(', ')}`);
const out = {
  ...base,
  description: o.onlyAdded
    ? `Pinned npm packages for a corpus tier (issue 16; v3, v4): the next tier by monthly downloads after the v2 list (--base) and the --skip-list tiers, none of them repeated. Built by native/corpus/select-npm.mjs --only-added; fetched by native/corpus/fetch-npm.mjs --list ${path.relative(process.cwd(), o.out)}; see native/corpus/README.md.`
    : 'Pinned npm packages for the v2 TypeScript/JavaScript corpus (issue 16): the v1 list plus the most-downloaded other packages. Built by native/corpus/select-npm.mjs; fetched by native/corpus/fetch-npm.mjs --list native/corpus/npm-packages-v2.json; see native/corpus/README.md.',
  source: { table: path.basename(o.table), base: path.basename(o.base), ...(o.skipLists ? { skipLists: o.skipLists.map((f) => path.basename(f)) } : {}), added: added.length, minDownloadsAMonth: added.length ? added[added.length - 1].downloadsAMonth : null,
    rule: 'v1 list + top packages by monthly downloads; not @types/*, not per-platform binaries, not hard-excluded, x.y.z versions only; licence taken from the tarball (license: null)' },
  shardRawBytes: 160e6,
  packages,
};
writeList(o.out, JSON.stringify(out, null, 1) + '\n');
console.log(`${packages.length} packages (${base.packages.length} v1 + ${added.length} added, down to ${out.source.minDownloadsAMonth} downloads/month); aside: ${o.aside.join(', ') || 'none'}`);
