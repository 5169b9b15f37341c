#!/usr/bin/env node
// Build the TypeScript/JavaScript part of the training corpus from pinned npm tarballs.
//
//   node native/corpus/fetch-npm.mjs [--list native/corpus/npm-packages.json]   (a list named *.gz is gunzipped)
//        [--work .work/corpus] [--manifest native/corpus/manifest-npm.json]
//        [--jobs 5] [--no-xz]
//
// Plain Node ESM, built-ins only; shells out to `npm pack`, `tar` and `xz`.
// See native/corpus/README.md for the filters and thresholds.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = {
    list: path.join(HERE, 'npm-packages.json'),
    work: path.join(ROOT, '.work', 'corpus'),
    manifest: path.join(HERE, 'manifest-npm.json'),
    jobs: 5,
    xz: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') o.list = path.resolve(argv[++i]);
    else if (a === '--work') o.work = path.resolve(argv[++i]);
    else if (a === '--manifest') o.manifest = path.resolve(argv[++i]);
    else if (a === '--jobs') o.jobs = Math.max(1, parseInt(argv[++i], 10));
    else if (a === '--no-xz') o.xz = false;
    else if (a === '--fetch-only') o.fetchOnly = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node native/corpus/fetch-npm.mjs [--list F (.json, or .json.gz)] [--work DIR] [--manifest F] [--jobs N] [--no-xz] [--fetch-only]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------- hard exclusions
// Never fetched, never emitted. Checked when the list is loaded, before `npm pack`,
// and again on every output record (package name and file text).
const DENY_NAME = [
  /rxjs/i, // RxJS and anything named after it (rxjs-compat is RxJS's own code)
  /^rx$/i, // RxJS 4's npm names
  /^rx-lite/i,
  /^@reactivex\//i,
  /^effect$/i,
  /^@effect\//i,
  /django/i,
  /human-?eval/i,
];
// any file whose path or text matches is dropped (HumanEval in any spelling; anything Django)
const DENY_TEXT = /HumanEval|human[-_ ]?eval|django/i;
const DENY_PATH = /human[-_ ]?eval|django/i;
function deniedName(name) {
  return DENY_NAME.some((re) => re.test(name));
}

// ---------------------------------------------------------------- thresholds
const ALLOWED_LICENSES = new Set(['MIT', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', '0BSD']);
const SOURCE_EXT = new Map([
  ['.ts', 'typescript'], ['.tsx', 'typescript'], ['.mts', 'typescript'], ['.cts', 'typescript'],
  ['.js', 'javascript'], ['.jsx', 'javascript'], ['.mjs', 'javascript'], ['.cjs', 'javascript'],
]);
const MIN_BYTES = 200;
const MAX_BYTES = 200 * 1024;
const MAX_MEAN_LINE = 100;
const MAX_LINE = 1000;
const MIN_WS_RATIO = 0.02;
const VENDOR_DIRS = new Set(['node_modules', 'vendor', 'vendors', 'third_party', 'third-party', 'bower_components']);
const BUILD_DIRS = new Set(['dist', 'build', 'lib', 'esm', 'cjs', 'es', 'umd', 'out', 'bundle', 'bundles',
  '_esm', '_cjs', '_types', 'module', 'modules-dist', 'fesm2015', 'fesm2020', 'fesm2022', 'browser', 'amd',
  'commonjs', 'system', 'es5', 'es6', 'es2015', 'es2017', 'es2020', 'esnext', 'dist-es', 'dist-cjs', 'legacy']);
// when two top-level dirs mirror each other, keep the likelier original: plain dirs (src/, modules/, ...)
// over lib/, over ESM build dirs, over everything else (dist/, cjs/, amd/, umd/, build/, browser/ ...)
const dirRank = (t) => (!BUILD_DIRS.has(t) ? 0 : t === 'lib' ? 1 : ['esm', 'es', 'module', 'es6', 'es2015', 'esnext'].includes(t) ? 2 : 3);
// MinHash / LSH
const SHINGLE = 5;
const NPERM = 128;
const BANDS = 21;
const ROWS = 6; // BANDS*ROWS <= NPERM
const NEAR_DUP_JACCARD = 0.8;

// ---------------------------------------------------------------- small utils
const sh = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} -> ${code}\n${err.slice(-2000)}`))));
  });

async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const tgzName = (name, version) => `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
const safeDir = (name, version) => `${name.replace(/^@/, '').replace('/', '__')}@${version}`;

// SPDX-ish licence normalisation from a package.json
function pkgLicense(pj) {
  let l = pj.license;
  if (l && typeof l === 'object') l = l.type;
  if (!l && Array.isArray(pj.licenses)) {
    const ts = pj.licenses.map((x) => (typeof x === 'string' ? x : x && x.type)).filter(Boolean);
    l = ts.length > 1 ? `(${ts.join(' OR ')})` : ts[0];
  }
  return typeof l === 'string' ? l.trim() : '';
}
function licenseAllowed(expr) {
  if (!expr) return false;
  const e = expr.replace(/[()]/g, ' ').trim();
  const ids = e.split(/\s+(?:OR|AND)\s+/i).map((s) => s.trim());
  if (/\sAND\s/i.test(e) && !/\sOR\s/i.test(e)) return ids.every((id) => ALLOWED_LICENSES.has(id));
  return ids.some((id) => ALLOWED_LICENSES.has(id));
}

// ---------------------------------------------------------------- fetch
// Many packages per `npm pack` call (one npm start-up per batch instead of per package: with 2,800
// packages on a 2-core machine the start-ups, not the network, were the limit: 0.4 packages/s one by one).
// A batch that fails as a whole (one bad spec) is left to the one-by-one path, which reports the failure.
async function prefetchBatches(pkgs, dirs, jobs, size = 25) {
  const todo = pkgs.filter((p) => !deniedName(p.name) && !fs.existsSync(path.join(dirs.cache, tgzName(p.name, p.version))));
  const batches = [];
  for (let i = 0; i < todo.length; i += size) batches.push(todo.slice(i, i + size));
  let done = 0;
  await pool(batches, jobs, async (b) => {
    const tmp = fs.mkdtempSync(path.join(dirs.cache, '.pack-'));
    try {
      const out = await sh('npm', ['pack', ...b.map((p) => `${p.name}@${p.version}`), '--json', '--pack-destination', tmp,
        '--ignore-scripts', '--loglevel=error', '--no-audit', '--no-fund'], { cwd: tmp });
      for (const j of JSON.parse(out)) {
        const f = path.join(tmp, j.filename);
        if (fs.existsSync(f)) fs.renameSync(f, path.join(dirs.cache, tgzName(j.name, j.version)));
      }
    } catch { /* the one-by-one path retries and reports */ } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      done += b.length;
      process.stderr.write(`packed ${done}/${todo.length}\n`);
    }
  });
}

async function fetchPackage(p, dirs) {
  if (deniedName(p.name)) throw new Error(`DENIED package ${p.name} (hard exclusion)`);
  const tgz = path.join(dirs.cache, tgzName(p.name, p.version));
  if (!fs.existsSync(tgz)) {
    const tmp = fs.mkdtempSync(path.join(dirs.cache, '.pack-'));
    try {
      const out = await sh('npm', ['pack', `${p.name}@${p.version}`, '--json', '--pack-destination', tmp,
        '--ignore-scripts', '--loglevel=error', '--no-audit', '--no-fund'], { cwd: tmp });
      const j = JSON.parse(out);
      const f = path.join(tmp, j[0].filename);
      fs.renameSync(f, tgz);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const dest = path.join(dirs.src, safeDir(p.name, p.version));
  const done = path.join(dest, '.extracted');
  if (!fs.existsSync(done)) {
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(dest, { recursive: true });
    await sh('tar', ['-xzf', tgz, '-C', dest, '--no-same-owner', '--no-same-permissions', '--strip-components=1']);
    await sh('chmod', ['-R', 'u+rwX', dest]);
    fs.writeFileSync(done, '');
  }
  return dest;
}

function walk(dir, rel = '', out = []) {
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(dir, r, out);
    else if (e.isFile()) out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------- per-file classifiers
const GENERATED_RE = /(auto-?generated|\bgenerated\b|do not edit|don't edit|do not modify)/i;
const BUNDLER_RE = [
  /__webpack_require__/, /^\/\*{6}\/ /m, /System\.register\(/, /\bparcelRequire\b/,
  /"use strict";\s*Object\.defineProperty\(exports/, // both on one line
  /^var __defProp = Object\.defineProperty;/m, /\b__toESM\(/, /\b__toCommonJS\(/, /\b__commonJS\(/,
  /^\(function \(global, factory\) \{/m, /^!function\([a-z],[a-z]\)\{/m,
  /^\/\/#region /m, // rolldown / tsdown
  /^\/\/ (?:src|lib|source)\/[\w./@-]+\.[cm]?[jt]sx?$/m, // esbuild module markers
];
const COMPILED_RE = [
  /Object\.defineProperty\(exports, ["']__esModule["'], \{ value: true \}\)/,
  /^exports\.[\w$]+ = (?:exports\.[\w$]+ = )*void 0;/m,
  /\b__awaiter\(this/, /\bvar __(?:awaiter|generator|createBinding|importDefault|importStar|exportStar|decorate|metadata|rest|assign|extends|spreadArray|classPrivateFieldGet) = /,
  /\b_interopRequireDefault\(/, /\b_interopRequireWildcard\(/, /\b_classCallCheck\(this/, /\bregeneratorRuntime\b\.mark/,
  /\bfunction _asyncToGenerator\(/, /\b_createClass\(/,
  /\bfrom ["']tslib["']|\brequire\(["']tslib["']\)/, // tsc importHelpers output
];

function leadingComment(text) {
  // the comment block(s) before the first line of code, capped at 1500 chars
  const head = text.slice(0, 1500);
  const m = head.match(/^(?:\s*(?:#![^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/|['"]use strict['"];?))*/);
  return m ? m[0] : '';
}

function minifiedReason(text, relPath) {
  if (/\.min\.[cm]?js$/.test(relPath) || /[.-]min\.[cm]?js$/.test(relPath)) return 'minified';
  const lines = text.split('\n');
  let maxLen = 0;
  for (const l of lines) if (l.length > maxLen) maxLen = l.length;
  if (maxLen > MAX_LINE) return 'minified';
  if (text.length / lines.length > MAX_MEAN_LINE) return 'minified';
  const ws = (text.match(/\s/g) || []).length;
  if (ws / text.length < MIN_WS_RATIO) return 'minified';
  return null;
}

function topDir(rel) {
  const i = rel.indexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
const stem = (rel) => path.basename(rel).replace(/\.(d\.)?[cm]?[jt]sx?$/, '').replace(/\.(min|esm|cjs|mjs|umd|prod|development|production)$/, '');
// last two path segments below the top-level dir, extension-free: lib/doc/workbook.js and
// dist/es5/doc/workbook.js and dist/types/doc/workbook.d.ts all map to "doc/workbook"
function twinKey(rel) {
  const segs = rel.split('/');
  if (segs.length > 1) segs.shift();
  segs[segs.length - 1] = stem(rel);
  return segs.slice(-2).join('/');
}
const isDts = (rel) => /\.d\.[cm]?tsx?$/i.test(rel) || /\.d\.[^/]*\.ts$/i.test(rel);
const isVendored = (rel) => rel.split('/').slice(0, -1).some((s) => VENDOR_DIRS.has(s.toLowerCase()));
// content-hashed chunk names emitted by bundlers: chunk-2Q5K7J3B.mjs, abap-BxE6jMvt.js
const HASHED_CHUNK_RE = /(?:^|[-.])(?=[A-Za-z0-9_]{8}\.[cm]?jsx?$)(?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Z])[A-Za-z0-9_]{8}\.[cm]?jsx?$/;
// JSDoc type annotations: hand-written, type-checked JS (tsc output does not carry these)
const JSDOC_TYPES_RE = /@(?:param|type|returns?|typedef|template|property|callback)\s+\{/;
function fourSpaceStyle(text) {
  // tsc re-prints code with 4-space indentation; hand-written 2-space code has indents = 2 mod 4.
  // Tolerates a few odd lines (template literals); files with almost no indentation count as 4-space.
  let n = 0;
  let odd = 0;
  for (const m of text.matchAll(/^( +)(\S)/gm)) {
    if (m[2] === '*') continue; // JSDoc continuation lines
    n++;
    if (m[1].length % 4 === 2) odd++;
  }
  return n < 3 ? odd === 0 : odd <= 0.05 * n;
}

// Resolve a source-map `sources` entry to a package-relative path (or null).
function resolveMapSource(mapRel, sourceRoot, s) {
  if (typeof s !== 'string' || !s) return null;
  s = s.replace(/[?#].*$/, '');
  let abs = false;
  let m;
  if ((m = /^webpack:\/\/[^/]*\/(.*)$/.exec(s))) s = m[1];
  else if (/^[a-z][a-z0-9+.-]*:/i.test(s)) { s = s.replace(/^[a-z][a-z0-9+.-]*:\/*/i, ''); abs = true; }
  else if (s.startsWith('/')) { s = s.slice(1); abs = true; }
  let p;
  if (abs) {
    // absolute build-machine path: keep from the last src/ (or lib/) segment
    const segs = s.split('/');
    const i = Math.max(segs.lastIndexOf('src'), segs.lastIndexOf('lib'));
    if (i < 0) return null;
    p = segs.slice(i).join('/');
  } else {
    const root = sourceRoot && !/^[a-z][a-z0-9+.-]*:/i.test(sourceRoot) ? sourceRoot : '';
    p = path.posix.join(path.posix.dirname(mapRel), root, s);
  }
  p = path.posix.normalize(p);
  while (p.startsWith('../')) p = p.slice(3);
  p = p.replace(/^\.\//, '');
  p = p.replace(/^(?:[^/]*\/)*?(?:bazel-out\/)?[\w]+-(?:fastbuild|opt|dbg)[\w-]*\/bin\//, ''); // bazel output roots
  if (!p || p === '.' || p.startsWith('/')) return null;
  return p;
}

const MAX_MAP_BYTES = 50 * 1024 * 1024;

function classifyPackage(dir, files) {
  // returns { cand: [{rel, lang, text}], drops: {reason: n}, fromMaps: n }
  const drops = {};
  const drop = (r) => (drops[r] = (drops[r] || 0) + 1);
  files = files.slice().sort(cmp);
  const fileSet = new Set(files);
  const dtsStems = new Set(); // dir/stem of every shipped .d.ts
  const src = [];
  for (const rel of files) {
    if (isDts(rel)) dtsStems.add(twinKey(rel));
    const lang = SOURCE_EXT.get(path.extname(rel).toLowerCase());
    if (!lang) continue;
    if (isDts(rel)) { drop('dts'); continue; }
    if (isVendored(rel)) { drop('vendored'); continue; }
    if (DENY_PATH.test(rel)) { drop('excluded'); continue; }
    src.push({ rel, lang });
  }
  // original sources embedded in shipped source maps (sourcesContent): the hand-written
  // TS/JS that the shipped dist/ was compiled from. Used only for paths the tarball lacks.
  let fromMaps = 0;
  const recovered = new Set();
  for (const rel of files) {
    if (!/\.[cm]?jsx?\.map$/.test(rel) || isVendored(rel)) continue;
    const abs = path.join(dir, rel);
    if (fs.statSync(abs).size > MAX_MAP_BYTES) continue;
    let m;
    try { m = JSON.parse(fs.readFileSync(abs, 'utf8')); } catch { continue; }
    if (!m || !Array.isArray(m.sources) || !Array.isArray(m.sourcesContent)) continue;
    m.sources.forEach((s, i) => {
      const text = m.sourcesContent[i];
      if (typeof text !== 'string' || !text) return;
      const p = resolveMapSource(rel, m.sourceRoot, s);
      if (!p) return;
      const lang = SOURCE_EXT.get(path.extname(p).toLowerCase());
      if (!lang || isDts(p) || fileSet.has(p) || recovered.has(p)) return;
      recovered.add(p);
      if (isVendored(p)) { drop('vendored'); return; }
      if (DENY_PATH.test(p)) { drop('excluded'); return; }
      src.push({ rel: p, lang, text });
      fromMaps++;
    });
  }
  src.sort((a, b) => cmp(a.rel, b.rel));
  // does the package ship src/ code? which stems, which dirs hold TS?
  const srcStems = new Set();
  let hasSrc = false;
  const tsStemsByDir = new Map(); // dir -> set of stems of .ts files (for sibling compiled .js)
  for (const f of src) {
    if (f.rel.split('/').slice(0, -1).includes('src')) { hasSrc = true; srcStems.add(stem(f.rel)); }
    if (f.lang === 'typescript') {
      const d = path.dirname(f.rel);
      if (!tsStemsByDir.has(d)) tsStemsByDir.set(d, new Set());
      tsStemsByDir.get(d).add(stem(f.rel));
    }
  }
  // build dirs (top-level) that mirror src/ -> compiled output of the same code
  const buildDirDrop = new Set();
  if (hasSrc) {
    const byTop = new Map();
    for (const f of src) {
      const t = topDir(f.rel);
      if (!BUILD_DIRS.has(t)) continue;
      if (!byTop.has(t)) byTop.set(t, []);
      byTop.get(t).push(f);
    }
    for (const [t, fs_] of byTop) {
      const overlap = fs_.filter((f) => srcStems.has(stem(f.rel)) && stem(f.rel) !== 'index').length;
      if (fs_.length <= 3 || overlap / fs_.length >= 0.2) buildDirDrop.add(t);
    }
  }
  {
    // mirrored trees: a build dir whose files mostly re-appear in a preferred dir is a build of it
    const keysByTop = new Map();
    for (const f of src) {
      const t = topDir(f.rel);
      if (!t) continue;
      if (!keysByTop.has(t)) keysByTop.set(t, new Set());
      keysByTop.get(t).add(twinKey(f.rel));
    }
    for (const [d, kd] of keysByTop) {
      if (!BUILD_DIRS.has(d) || kd.size < 3 || buildDirDrop.has(d)) continue;
      for (const [e, ke] of keysByTop) {
        if (e === d || dirRank(e) >= dirRank(d)) continue;
        let n = 0;
        for (const k of kd) if (ke.has(k)) n++;
        if (n / kd.size >= 0.5) { buildDirDrop.add(d); break; }
      }
    }
  }
  const hasAnyTs = tsStemsByDir.size > 0;
  const cand = [];
  for (const f of src) {
    let text;
    if (f.text !== undefined) {
      text = f.text;
    } else {
      const abs = path.join(dir, f.rel);
      const size = fs.statSync(abs).size;
      if (size < MIN_BYTES) { drop('too_small'); continue; }
      if (size > MAX_BYTES) { drop('too_large'); continue; }
      text = fs.readFileSync(abs).toString('utf8');
    }
    const size = Buffer.byteLength(text);
    if (size < MIN_BYTES) { drop('too_small'); continue; }
    if (size > MAX_BYTES) { drop('too_large'); continue; }
    if (buildDirDrop.has(topDir(f.rel))) { drop('build_dir'); continue; }
    if (text.includes('\u0000') || text.includes('\ufffd')) { drop('binary'); continue; }
    text = text.replace(/^\ufeff/, '').replace(/\r\n?/g, '\n');
    if (DENY_TEXT.test(text)) { drop('excluded'); continue; }
    const mr = minifiedReason(text, f.rel);
    if (mr) { drop(mr); continue; }
    if (GENERATED_RE.test(leadingComment(text))) { drop('generated'); continue; }
    if (HASHED_CHUNK_RE.test(path.basename(f.rel)) || BUNDLER_RE.some((re) => re.test(text))) { drop('bundled'); continue; }
    if (COMPILED_RE.some((re) => re.test(text))) { drop('compiled'); continue; }
    if (f.lang === 'javascript' && f.text === undefined) {
      // foo.js next to foo.ts: compiled output shipped beside its source
      const sib = tsStemsByDir.get(path.dirname(f.rel));
      if (sib && sib.has(stem(f.rel))) { drop('compiled'); continue; }
      // foo.js with a foo.d.ts twin (same dir or a types/ tree), tsc-style 4-space layout, no JSDoc types: tsc output
      if (dtsStems.has(twinKey(f.rel)) && !JSDOC_TYPES_RE.test(text) && fourSpaceStyle(text)) {
        drop('compiled'); continue;
      }
    }
    const smu = f.text === undefined && /^\/\/[#@] sourceMappingURL=(\S+)\s*$/m.exec(text);
    if (smu) {
      // weak signal on its own; strong when the map says the file came from other sources
      const mapRel = smu[1].startsWith('data:') ? null : path.posix.join(path.posix.dirname(f.rel), smu[1]);
      let verdict = null;
      if (smu[1].startsWith('data:')) verdict = 'compiled';
      else if (mapRel && fs.existsSync(path.join(dir, mapRel))) {
        try {
          const m = JSON.parse(fs.readFileSync(path.join(dir, mapRel), 'utf8'));
          const srcs = Array.isArray(m.sources) ? m.sources : [];
          if (srcs.length > 1) verdict = 'bundled';
          else if (srcs.some((s) => !/\.[cm]?jsx?$/.test(s) || path.basename(s) !== path.basename(f.rel))) verdict = 'compiled';
        } catch { /* unreadable map: keep judging by content */ }
      } else if (hasAnyTs || dtsStems.has(twinKey(f.rel))) verdict = 'compiled';
      if (verdict) { drop(verdict); continue; }
    }
    cand.push({ rel: f.rel, lang: f.lang, text, fromMap: f.text !== undefined });
  }
  return { cand, drops, fromMaps };
}

// ---------------------------------------------------------------- dedup
function normalizeForHash(text) {
  return text.split('\n').map((l) => l.replace(/\s+$/, '')).join('\n').trim();
}

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const SEEDS = (() => {
  // deterministic per-permutation seeds (splitmix32)
  const s = new Uint32Array(NPERM);
  let x = 0x9e3779b9;
  for (let i = 0; i < NPERM; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    s[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return s;
})();

const TOKEN_RE = /[A-Za-z_$][\w$]*|\d[\w.]*|\S/g;
function minhash(text) {
  const toks = text.match(TOKEN_RE) || [];
  const th = new Uint32Array(toks.length);
  for (let i = 0; i < toks.length; i++) th[i] = fnv1a(toks[i]);
  const shingles = new Set();
  const n = Math.max(1, toks.length - SHINGLE + 1);
  for (let i = 0; i < n; i++) {
    let h = 0x811c9dc5;
    for (let k = 0; k < SHINGLE && i + k < toks.length; k++) {
      h = Math.imul(h ^ th[i + k], 0x01000193);
      h ^= h >>> 15;
    }
    shingles.add(h >>> 0);
  }
  const sig = new Uint32Array(NPERM).fill(0xffffffff);
  for (const x of shingles) {
    for (let p = 0; p < NPERM; p++) {
      let z = (x ^ SEEDS[p]) >>> 0;
      z = Math.imul(z ^ (z >>> 16), 0x7feb352d);
      z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
      z = (z ^ (z >>> 16)) >>> 0;
      if (z < sig[p]) sig[p] = z;
    }
  }
  return sig;
}
function sigSim(a, b) {
  let eq = 0;
  for (let i = 0; i < NPERM; i++) if (a[i] === b[i]) eq++;
  return eq / NPERM;
}

/**
 * A MinHash LSH index of near-duplicate texts (MinHash signatures in BANDS bands of ROWS rows; a candidate pair is a
 * duplicate when the signatures agree on at least NEAR_DUP_JACCARD of their NPERM values: Broder 1997, Leskovec et al.,
 * "Mining of Massive Datasets" ch. 3). `add(text)`: the index of an earlier added text it duplicates (the text is not
 * added), or -1 (the text is added, as the next index). The first copy in the caller's order stays.
 */
function nearDupIndex() {
  const buckets = Array.from({ length: BANDS }, () => new Map());
  const sigs = [];
  return {
    add(text) {
      const sig = minhash(text);
      const keys = [];
      for (let b = 0; b < BANDS; b++) {
        let k = '';
        for (let r = 0; r < ROWS; r++) k += sig[b * ROWS + r].toString(36) + ',';
        keys.push(k);
        const lst = buckets[b].get(k);
        if (lst) for (const j of lst) if (sigSim(sig, sigs[j]) >= NEAR_DUP_JACCARD) return j;
      }
      const idx = sigs.length;
      sigs.push(sig);
      for (let b = 0; b < BANDS; b++) {
        const lst = buckets[b].get(keys[b]);
        if (lst) lst.push(idx); else buckets[b].set(keys[b], [idx]);
      }
      return -1;
    },
  };
}

// ---------------------------------------------------------------- main
/** A package list (select-npm.mjs's JSON), gunzipped first when the name ends in .gz (the tiers v3 on are stored so). */
function readPackageList(file) {
  const raw = fs.readFileSync(file);
  return JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const list = readPackageList(opt.list);
  const capBytes = list.perPackageCapBytes || Infinity;
  const pkgs = list.packages.slice().sort((a, b) => cmp(a.name, b.name));
  const seen = new Set();
  for (const p of pkgs) {
    if (deniedName(p.name)) throw new Error(`package list contains hard-excluded package ${p.name}`);
    if (seen.has(p.name)) throw new Error(`duplicate package ${p.name}`);
    seen.add(p.name);
    if (!/^\d+\.\d+\.\d+/.test(p.version)) throw new Error(`${p.name}: version must be pinned exactly`);
    if (!['train', 'dev', 'aside'].includes(p.split)) throw new Error(`${p.name}: bad split ${p.split}`);
  }
  const dirs = { cache: path.join(opt.work, 'npm-cache'), src: path.join(opt.work, 'npm-src') };
  fs.mkdirSync(dirs.cache, { recursive: true });
  fs.mkdirSync(dirs.src, { recursive: true });

  // 1. fetch + extract (parallel)
  await prefetchBatches(pkgs, dirs, Math.min(opt.jobs, 4));
  let nDone = 0;
  const fetched = await pool(pkgs, opt.jobs, async (p) => {
    try {
      const dir = await fetchPackage(p, dirs);
      return { dir };
    } catch (e) {
      return { error: String(e.message || e).split('\n')[0] };
    } finally {
      nDone++;
      if (nDone % 25 === 0 || nDone === pkgs.length) process.stderr.write(`fetched ${nDone}/${pkgs.length}\n`);
    }
  });

  if (opt.fetchOnly) {
    const failed = fetched.filter((f) => f.error).length;
    console.log(`fetched ${pkgs.length - failed} of ${pkgs.length} packages into ${dirs.cache} (${failed} failed); --fetch-only: stopping here`);
    return;
  }

  // 2. licence check + per-file filters (sequential, deterministic)
  const report = [];
  const all = []; // candidate files
  for (let i = 0; i < pkgs.length; i++) {
    const p = pkgs[i];
    const r = { name: p.name, version: p.version, license: p.license, split: p.split, status: 'ok',
      filesKept: 0, bytesKept: 0, filesKeptTs: 0, filesKeptJs: 0, filesKeptFromSourceMaps: 0, dropped: {} };
    report.push(r);
    if (fetched[i].error) { r.status = `fetch failed: ${fetched[i].error}`; continue; }
    const dir = fetched[i].dir;
    let pj;
    try { pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')); } catch { pj = {}; }
    const lic = pkgLicense(pj);
    r.tarballLicense = lic;
    if (pj.name !== p.name || pj.version !== p.version) { r.status = `skipped: tarball is ${pj.name}@${pj.version}`; continue; }
    if (!licenseAllowed(lic)) { r.status = `skipped: licence not allowed (${lic || 'none'})`; continue; }
    // v2 list (select-npm.mjs): "license": null = take the tarball's (already checked to be allowed above)
    if (p.license === null) r.license = lic;
    else if (lic !== p.license) { r.status = `skipped: licence mismatch (list ${p.license}, tarball ${lic})`; continue; }
    const { cand, drops } = classifyPackage(dir, walk(dir));
    r.dropped = drops;
    for (const c of cand) all.push({ pkg: p, rep: r, ...c });
  }
  const tFilter = Date.now();

  // 3. exact + near dedup across the whole corpus; train first so dev loses ties
  const splitRank = { train: 0, dev: 1, aside: 2 };
  all.sort((a, b) => splitRank[a.pkg.split] - splitRank[b.pkg.split] || cmp(a.pkg.name, b.pkg.name) || cmp(a.rel, b.rel));
  const exact = new Set();
  const near = nearDupIndex();
  const kept = [];
  const bump = (r, reason) => (r.dropped[reason] = (r.dropped[reason] || 0) + 1);
  for (const f of all) {
    const h = sha256(normalizeForHash(f.text));
    if (exact.has(h)) { bump(f.rep, 'dup_exact'); continue; }
    exact.add(h);
    if (near.add(f.text) >= 0) { bump(f.rep, 'dup_near'); continue; }
    kept.push(f);
  }
  const tDedup = Date.now();

  // 4. per-package byte cap (primary code before tests/examples/fixtures, then path order)
  const AUX = /(^|\/)(tests?|__tests__|spec|specs|examples?|fixtures?|__fixtures__|benchmarks?|bench|demo|docs?)(\/|$)/i;
  const byPkg = new Map();
  for (const f of kept) {
    if (!byPkg.has(f.pkg.name)) byPkg.set(f.pkg.name, []);
    byPkg.get(f.pkg.name).push(f);
  }
  const final = [];
  for (const [, fs_] of byPkg) {
    fs_.sort((a, b) => (AUX.test(a.rel) ? 1 : 0) - (AUX.test(b.rel) ? 1 : 0) || cmp(a.rel, b.rel));
    let bytes = 0;
    for (const f of fs_) {
      const n = Buffer.byteLength(f.text);
      if (bytes + n > capBytes) { bump(f.rep, 'cap'); f.rep.capped = true; continue; }
      bytes += n;
      final.push(f);
    }
  }

  // 5. output (sorted), with the exclusion rule re-checked on every record
  final.sort((a, b) => cmp(a.pkg.name, b.pkg.name) || cmp(a.rel, b.rel));
  const SPLITS = ['train', 'dev', 'aside'];
  const outs = Object.fromEntries(SPLITS.map((s) => [s, path.join(opt.work, `npm-${s}.jsonl`)]));
  const fds = Object.fromEntries(SPLITS.map((s) => [s, fs.openSync(outs[s] + '.tmp', 'w')]));
  const tot = Object.fromEntries(SPLITS.map((s) => [s, { packages: 0, files: 0, bytes: 0, ts: 0, js: 0, fromMaps: 0 }]));
  for (const f of final) {
    if (deniedName(f.pkg.name) || DENY_TEXT.test(f.text) || DENY_PATH.test(f.rel)) throw new Error(`exclusion violated at output: ${f.pkg.name} ${f.rel}`);
    const rec = { pkg: `${f.pkg.name}@${f.pkg.version}`, path: f.rel, lang: f.lang, text: f.text };
    fs.writeSync(fds[f.pkg.split], JSON.stringify(rec) + '\n');
    const n = Buffer.byteLength(f.text);
    const t = tot[f.pkg.split];
    f.rep.filesKept++; f.rep.bytesKept += n;
    if (f.lang === 'typescript') f.rep.filesKeptTs++; else f.rep.filesKeptJs++;
    if (f.fromMap) { f.rep.filesKeptFromSourceMaps++; t.fromMaps++; }
    t.files++; t.bytes += n; if (f.lang === 'typescript') t.ts++; else t.js++;
  }
  for (const s of SPLITS) { fs.closeSync(fds[s]); fs.renameSync(outs[s] + '.tmp', outs[s]); }
  for (const r of report) {
    if (r.status === 'ok' && r.filesKept === 0) r.status = 'no usable source (all files filtered)';
    if (r.status === 'ok') tot[r.split].packages++;
    r.dropped = Object.fromEntries(Object.entries(r.dropped).sort((a, b) => cmp(a[0], b[0])));
  }
  const dropTotals = {};
  for (const r of report) for (const [k, v] of Object.entries(r.dropped)) dropTotals[k] = (dropTotals[k] || 0) + v;

  // 6. compress
  const compressed = {};
  if (opt.xz) {
    for (const s of ['train', 'dev']) {
      fs.rmSync(outs[s] + '.xz', { force: true });
      await sh('xz', ['-T2', '-9', '-k', '-f', outs[s]]);
      compressed[s] = fs.statSync(outs[s] + '.xz').size;
    }
  }

  const manifest = {
    generatedBy: 'native/corpus/fetch-npm.mjs',
    packageList: path.relative(ROOT, opt.list),
    filters: {
      allowedLicenses: [...ALLOWED_LICENSES],
      extensions: [...SOURCE_EXT.keys()],
      minBytes: MIN_BYTES, maxBytes: MAX_BYTES,
      maxMeanLineLength: MAX_MEAN_LINE, maxLineLength: MAX_LINE, minWhitespaceRatio: MIN_WS_RATIO,
      vendorDirs: [...VENDOR_DIRS], buildDirs: [...BUILD_DIRS],
      nearDup: { shingleTokens: SHINGLE, permutations: NPERM, bands: BANDS, rows: ROWS, jaccard: NEAR_DUP_JACCARD },
      perPackageCapBytes: Number.isFinite(capBytes) ? capBytes : null,
      denyNames: DENY_NAME.map(String), denyText: String(DENY_TEXT), denyPath: String(DENY_PATH),
    },
    totals: {
      train: tot.train, dev: tot.dev, aside: tot.aside,
      droppedByReason: Object.fromEntries(Object.entries(dropTotals).sort((a, b) => cmp(a[0], b[0]))),
      compressedBytes: compressed,
      cappedPackages: report.filter((r) => r.capped).map((r) => r.name),
      capNote: Number.isFinite(capBytes) ? `per-package cap of ${capBytes} bytes (primary code first, then tests/examples) keeps npm-train.jsonl.xz under 22 MiB` : null,
      unusable: report.filter((r) => r.status !== 'ok').map((r) => `${r.name}@${r.version}: ${r.status}`),
    },
    packages: report,
  };
  fs.mkdirSync(path.dirname(opt.manifest), { recursive: true }); // e.g. .work/v5/manifests/: not there before the first tier
  fs.writeFileSync(opt.manifest, JSON.stringify(manifest, null, 1) + '\n');

  const MB = (n) => (n / 1e6).toFixed(1);
  console.log(`packages: train ${tot.train.packages}, dev ${tot.dev.packages} (of ${pkgs.length} listed)`);
  for (const s of ['train', 'dev'])
    console.log(`${s}: ${tot[s].files} files (${tot[s].ts} ts, ${tot[s].js} js; ${tot[s].fromMaps} from sourcesContent), ${MB(tot[s].bytes)} MB raw` +
      (compressed[s] !== undefined ? `, ${(compressed[s] / 2 ** 20).toFixed(2)} MiB xz` : ''));
  console.log('dropped:', JSON.stringify(manifest.totals.droppedByReason));
  for (const u of manifest.totals.unusable) console.log('unusable:', u);
  console.log(`time: filter ${((tFilter - t0) / 1e3).toFixed(0)}s, dedup ${((tDedup - tFilter) / 1e3).toFixed(0)}s, total ${((Date.now() - t0) / 1e3).toFixed(0)}s`);
  if (compressed.train > 22 * 2 ** 20) {
    console.error(`ERROR: npm-train.jsonl.xz is ${(compressed.train / 2 ** 20).toFixed(2)} MiB > 22 MiB cap`);
    process.exit(2);
  }
}

// the per-file filters are also the repository-adaptation command's (native/tools/repo-files.mjs)
export { classifyPackage, deniedName };
// the package-list reader of select-npm.mjs and node-deb.mjs too
export { readPackageList };
// corpus v3's Debian node-* builder (node-deb.mjs) uses the same licence rule, walk, hashes and MinHash
export { pkgLicense, licenseAllowed, walk, normalizeForHash, sha256, minhash, sigSim, nearDupIndex, BANDS, ROWS, NEAR_DUP_JACCARD, DENY_TEXT, DENY_PATH };
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main().catch((e) => { console.error(e); process.exit(1); });
