#!/usr/bin/env node
// Lists one repository's training files as corpus records, with the training corpus's own filters, for the
// repository-adaptation command (native/adapt-repo.sh).
//   node native/tools/repo-files.mjs REPO_DIR [--name NAME] > records.jsonl
// Output: one JSON line per kept file, {"pkg", "path", "lang", "text"} (the corpus format of native/corpus/):
// - TS/JS: classifyPackage of native/corpus/fetch-npm.mjs (sizes, minified/generated/bundled/compiled output,
//   .d.ts, vendored dirs, hard exclusions; sources recovered from shipped source maps);
// - Python: every .py file of 200 B..200 KiB, raw; native/py/adapt_repo.py applies corpus_py.drop_reason to them.
// Reads only inside REPO_DIR: symbolic links are not followed, dot-directories and node_modules are not entered.
// Writes nothing. Prints a summary (kept, dropped by reason) on stderr. Exit 2 on a missing REPO_DIR.
import '../../bench/lib/help.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { classifyPackage, deniedName } from '../corpus/fetch-npm.mjs';

const argv = process.argv.slice(2);
const dir = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--name');
const ni = argv.indexOf('--name');
if (!dir || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
  console.error(`repo-files: not a directory: ${dir ?? '(none given)'}\nusage: node native/tools/repo-files.mjs REPO_DIR [--name NAME]`);
  process.exit(2);
}
const root = fs.realpathSync(dir);
let name = ni >= 0 ? argv[ni + 1] : undefined;
if (!name) {
  try { name = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name; } catch { /* no package.json */ }
}
name = String(name || path.basename(root));
if (deniedName(name)) {
  console.error(`repo-files: ${name} is excluded from training (native/corpus/README.md "Hard exclusion")`);
  process.exit(2);
}

const SKIP_DIRS = new Set(['node_modules', '__pycache__', 'site-packages']);
function walk(rel = '', out = []) {
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (!e.name.startsWith('.') && !SKIP_DIRS.has(e.name)) walk(r, out);
    } else if (e.isFile()) out.push(r); // links are neither files nor directories here: not followed
  }
  return out;
}

const files = walk();
const { cand, drops } = classifyPackage(root, files);
let kept = 0;
for (const c of cand) {
  process.stdout.write(JSON.stringify({ pkg: name, path: c.rel, lang: c.lang, text: c.text }) + '\n');
  kept++;
}
for (const rel of files) {
  if (!rel.endsWith('.py')) continue;
  const size = fs.statSync(path.join(root, rel)).size;
  if (size < 200 || size > 200 * 1024) { drops.py_size = (drops.py_size || 0) + 1; continue; }
  process.stdout.write(JSON.stringify({ pkg: name, path: rel, lang: 'python', text: fs.readFileSync(path.join(root, rel), 'utf8') }) + '\n');
  kept++;
}
console.error(`repo-files: ${name}: ${kept} files kept of ${files.length}; dropped ${JSON.stringify(drops)}`);
