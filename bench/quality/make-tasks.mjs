// Builds the quality-evaluation task files (infill-ls eval format: {"id","language","prefix","suffix"} plus
// "reference" and "kind" for scoring) from held-out dev files and from HumanEval infilling.
// Usage: node bench/quality/make-tasks.mjs --npm-dev F.jsonl[.xz] --py-dev F.jsonl[.xz] --out bench/quality/tasks [--per-lang 400]
// Deterministic (seeded). Single-line task: a random non-blank line, a random cursor column inside it
// (at or after its indentation), the reference = the rest of that line. Multi-line task: the cursor at
// the start of a non-blank line's code (after its indentation), the reference = that line's code and
// the next 1-5 lines (through the end of the last line, without its newline).
import '../lib/help.mjs';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonl, rng } from '../lib/data.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const here = dirname(fileURLToPath(import.meta.url));
const out = args.out ?? join(here, 'tasks');
const perLang = Number(args['per-lang'] ?? 400);
mkdirSync(out, { recursive: true });



function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

// Keep task files small: the engine trims to its token budgets anyway (see prompt/), so whole files
// are not needed. Cut at line boundaries, keeping the text nearest the cursor.
const KEEP_PREFIX_CHARS = 8000;
const KEEP_SUFFIX_CHARS = 4000;
function clip(prefix, suffix) {
  let p = prefix;
  if (p.length > KEEP_PREFIX_CHARS) {
    const cut = p.indexOf('\n', p.length - KEEP_PREFIX_CHARS);
    p = cut < 0 ? p.slice(-KEEP_PREFIX_CHARS) : p.slice(cut + 1);
  }
  let s = suffix;
  if (s.length > KEEP_SUFFIX_CHARS) {
    const cut = s.lastIndexOf('\n', KEEP_SUFFIX_CHARS);
    s = s.slice(0, cut < 0 ? KEEP_SUFFIX_CHARS : cut + 1);
  }
  return { prefix: p, suffix: s };
}

function devTasks(files, language, tag, seed) {
  const r = rng(seed);
  const single = [];
  const multi = [];
  const pool = files.filter((f) => f.text.length > 500);
  let guard = 0;
  while ((single.length < perLang || multi.length < perLang) && guard++ < perLang * 50) {
    const f = pool[Math.floor(r() * pool.length)];
    const text = f.text.replace(/\r\n/g, '\n');
    const starts = lineStarts(text);
    const li = Math.floor(r() * starts.length);
    const ls = starts[li];
    const le = li + 1 < starts.length ? starts[li + 1] - 1 : text.length;
    const line = text.slice(ls, le);
    const indent = line.length - line.trimStart().length;
    if (line.trim().length < 4) continue;
    if (single.length < perLang) {
      const col = indent + Math.floor(r() * (line.length - indent));
      const reference = line.slice(col).trimEnd();
      if (reference.length > 0) {
        single.push({ id: `${tag}-single-${single.length}`, language, kind: 'single', ...clip(text.slice(0, ls + col), text.slice(le)), reference, source: `${f.pkg}/${f.path}:${li + 1}` });
      }
    }
    if (multi.length < perLang) {
      const k = 1 + Math.floor(r() * 5);
      const lastLine = Math.min(starts.length - 1, li + k);
      const end = lastLine + 1 < starts.length ? starts[lastLine + 1] - 1 : text.length;
      const reference = text.slice(ls + indent, end);
      if (reference.split('\n').length >= 2 && reference.trim().length >= 10) {
        multi.push({ id: `${tag}-multi-${multi.length}`, language, kind: 'multi', ...clip(text.slice(0, ls + indent), text.slice(end)), reference, source: `${f.pkg}/${f.path}:${li + 1}` });
      }
    }
  }
  return { single, multi };
}

function write(name, tasks) {
  writeFileSync(join(out, name), tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
  console.log(`${name}: ${tasks.length} tasks`);
}

if (args['npm-dev']) {
  const files = readJsonl(args['npm-dev']);
  const ts = devTasks(files.filter((f) => f.lang === 'typescript'), 'typescript', 'ts', 11);
  write('dev-ts-single.jsonl', ts.single);
  write('dev-ts-multi.jsonl', ts.multi);
}
if (args['py-dev']) {
  const py = devTasks(readJsonl(args['py-dev']), 'python', 'py', 22);
  write('dev-py-single.jsonl', py.single);
  write('dev-py-multi.jsonl', py.multi);
}
const he = args.humaneval ?? join(here, '../../../shared/bench/humaneval-infilling');
for (const [file, name, kind, limit] of [
  ['HumanEval-SingleLineInfilling.jsonl.gz', 'humaneval-single.jsonl', 'single', Infinity],
  ['HumanEval-MultiLineInfilling.jsonl.gz', 'humaneval-multi.jsonl', 'multi', Number(args['he-multi'] ?? 600)],
]) {
  let rows;
  try {
    rows = readJsonl(join(he, file));
  } catch {
    console.log(`skip ${file} (not found under ${he})`);
    continue;
  }
  if (rows.length > limit) {
    // a deterministic, evenly spread subset (every k-th task) keeps the CPU run short
    const step = rows.length / limit;
    rows = Array.from({ length: limit }, (_, i) => rows[Math.floor(i * step)]);
  }
  write(name, rows.map((r) => ({ id: r.task_id, language: 'python', kind, prefix: r.prompt, suffix: r.suffix, reference: r.canonical_solution, test: r.test, entry_point: r.entry_point })));
}
