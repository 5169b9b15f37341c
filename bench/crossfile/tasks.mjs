// Cross-file tasks from held-out dev packages (shared by run.mjs and typing.mjs): the pinned versions of
// native/corpus/manifest-npm.json (split "dev") fetched with `npm pack` into a cache folder outside the repository,
// and single-line tasks whose middle uses a symbol imported from another file of the package (see run.mjs).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rng } from '../lib/data.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
const dist = (p) => pathToFileURL(path.join(repo, 'server/dist', p)).href;
const { importsOf, extractDefinitions, moduleCandidates } = await import(dist('context/index.js'));

// Held-out dev packages whose sources ship in the tarball (JS, or TS sources under src/).
const manifest = JSON.parse(readFileSync(path.join(repo, 'native/corpus/manifest-npm.json'), 'utf8'));
export const DEFAULT_PACKAGES = ['chevrotain', 'crocks', 'mnemonist', 'moleculer', 'objection', 'ohm-js', 'peggy', 'stylus', 'wonka'];
/** The manifest entries of the wanted dev packages. */
export function devPackages(wanted = DEFAULT_PACKAGES) {
  return manifest.packages.filter((p) => p.split === 'dev' && wanted.includes(p.name));
}

/** The unpacked package folder (npm pack into cacheDir on first use). */
export function fetchPackage(p, cacheDir) {
  const dir = path.join(cacheDir, `${p.name.replace('/', '+')}-${p.version}`);
  if (existsSync(path.join(dir, 'package', 'package.json'))) return path.join(dir, 'package');
  mkdirSync(dir, { recursive: true });
  const out = execFileSync('npm', ['pack', `${p.name}@${p.version}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['xzf', path.join(dir, out), '-C', dir]);
  return path.join(dir, 'package');
}

const SKIP_DIRS = new Set(['node_modules', 'dist', 'test', 'tests', '__tests__', 'umd', 'esm', 'cjs', 'bundle', 'build']);
function sourceFiles(root) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(f);
      } else if (/\.(ts|js|mjs|cjs)$/.test(e.name) && !/\.d\.ts$|\.min\.js$/.test(e.name) && statSync(f).size < 200_000) out.push(f);
    }
  };
  walk(root);
  const ts = out.filter((f) => f.endsWith('.ts'));
  const files = ts.length >= 5 ? ts : out.filter((f) => !f.endsWith('.ts'));
  // Corpus filters: no minified / generated-looking files.
  return files.filter((f) => {
    const text = readFileSync(f, 'utf8');
    const lines = text.split('\n');
    return text.length > 300 && text.length / lines.length <= 100;
  });
}

const grammarOf = (f) => (f.endsWith('.ts') ? 'typescript' : 'javascript');
const languageOf = (f) => (f.endsWith('.ts') ? 'typescript' : 'javascript');

/** Up to `perPackage` tasks of one package folder (seeded). */
export function tasksOf(pkgName, root, seed, perPackage) {
  const r = rng(seed);
  const candidates = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
    const grammar = grammarOf(file);
    const imports = importsOf(text, grammar).filter((i) => i.source.startsWith('.'));
    if (imports.length === 0) continue;
    const lines = text.split('\n');
    const lastImport = lines.reduce((last, l, i) => (/^\s*import\b|\brequire\s*\(/.test(l) ? i : last), -1);
    let offset = 0;
    const starts = lines.map((l) => ((offset += l.length + 1), offset - l.length - 1));
    for (const imp of imports) {
      const target = moduleCandidates(file, imp.source, grammar, [root]).find((c) => existsSync(c) && statSync(c).isFile());
      if (!target || path.resolve(target) === path.resolve(file)) continue;
      const targetText = readFileSync(target, 'utf8');
      for (const b of imp.bindings) {
        const re = new RegExp(`(?<![\\w$.])${b.local.replace(/\$/g, '\\$')}(\\.([A-Za-z_$][\\w$]*)|\\()`, 'g');
        for (let li = lastImport + 6; li < lines.length; li++) {
          const line = lines[li];
          if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue;
          for (const m of line.matchAll(re)) {
            const member = m[2];
            const name = member ? (b.imported === '*' ? member : `${b.imported}.${member}`) : b.imported === '*' ? 'default' : b.imported;
            const col = m.index + b.local.length + 1; // after "X." or "X("
            const reference = line.slice(col).trimEnd();
            if (reference.length < 2 || reference.length > 80) continue;
            candidates.push({ file, text, li, col, reference, name, targetText, grammar, kind: member ? 'member' : 'call', lineStart: starts[li] });
          }
        }
      }
    }
  }
  // Keep occurrences whose symbol is defined in the imported file; sample without replacement, one per line.
  const picked = [];
  const usedLines = new Set();
  const pool = [...candidates];
  while (picked.length < perPackage && pool.length) {
    const c = pool.splice(Math.floor(r() * pool.length), 1)[0];
    const key = `${c.file}:${c.li}`;
    if (usedLines.has(key)) continue;
    if (extractDefinitions(c.targetText, c.grammar, [c.name]).length === 0) continue;
    usedLines.add(key);
    const at = c.lineStart + c.col;
    const lineEnd = c.lineStart + c.text.split('\n')[c.li].length;
    picked.push({
      id: `${pkgName}-${picked.length}`,
      package: pkgName,
      root,
      file: c.file,
      source: `${path.relative(root, c.file)}:${c.li + 1}`,
      language: languageOf(c.file),
      kind: c.kind,
      symbol: c.name,
      prefix: c.text.slice(0, at),
      suffix: c.text.slice(lineEnd),
      reference: c.reference,
    });
  }
  return { tasks: picked, candidates: candidates.length };
}

