// The statement-break rule (server/src/postprocess/statement-break.ts) on held-out dev documents, no model:
//   node bench/quality/statement-break.mjs stress TASKS.jsonl...
//     cuts every code line of the tasks' documents (prefix + reference + suffix, deduplicated) after each space, `(`
//     or `=`, takes the rest of the line as the completion — the text that was really there — and counts how often
//     the rule would drop it (a false drop), among the cuts whose rest starts with a statement keyword. Prints one
//     JSON line, then up to 30 false drops with their syntax check.
//   node bench/quality/statement-break.mjs midline --out OUT.jsonl [--per N] TASKS.jsonl...
//     writes eval tasks (kind single) whose cursor stands mid-line in an unfinished statement
//     (SyntaxCheck.unfinished), the rest of the line as the reference: every 7th cut after a space of each document,
//     taken round-robin over the documents, N per task file (default 150). These are the places the rule is for;
//     run `infill-ls eval` on them with two builds and compare with bench/quality/score.mjs.
// Needs a built server (npm run build). Session 13: TASKS = .work/tasks/dev-{py,ts}-single.jsonl.
import '../lib/help.mjs';
import fs from 'node:fs';

const { dropStatementBreak, startsStatement } = await import(new URL('../../server/dist/postprocess/index.js', import.meta.url).href);
const { syntaxChecker } = await import(new URL('../../server/dist/syntax/index.js', import.meta.url).href);

const [command, ...rest] = process.argv.slice(2);
const flags = {};
const files = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--out' || rest[i] === '--per') flags[rest[i].slice(2)] = rest[++i];
  else files.push(rest[i]);
}
if (!['stress', 'midline'].includes(command) || files.length === 0 || (command === 'midline' && !flags.out)) {
  process.stderr.write('usage: node bench/quality/statement-break.mjs stress TASKS.jsonl... | midline --out OUT.jsonl [--per N] TASKS.jsonl...\n');
  process.exit(2);
}

/** The distinct documents of a task file: {task, doc}. */
function documents(file) {
  const seen = new Set();
  const out = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const task = JSON.parse(line);
    const doc = task.prefix + task.reference + task.suffix;
    const key = doc.slice(0, 3000);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ task, doc });
  }
  return out;
}

/** Cuts inside the code of each line: [cursor offset, line end offset], after a character `after` accepts. */
function cuts(doc, after) {
  const out = [];
  let at = 0;
  for (const line of doc.split('\n')) {
    const start = at;
    at += line.length + 1;
    const indent = line.match(/^\s*/)[0].length;
    for (let i = indent + 1; i < line.length; i++) if (after(line[i - 1]) && /\S/.test(line.slice(i))) out.push([start + i, start + line.length]);
  }
  return out;
}

if (command === 'stress') {
  let total = 0;
  let keyword = 0;
  const drops = [];
  for (const file of files) {
    for (const { task, doc } of documents(file)) {
      for (const [c, e] of cuts(doc, (ch) => ch === ' ' || ch === '(' || ch === '=')) {
        total++;
        const text = doc.slice(c, e);
        if (!startsStatement(text, task.language)) continue;
        keyword++;
        const ctx = { prefix: doc.slice(0, c), suffix: doc.slice(e), languageId: task.language };
        if (dropStatementBreak(text, ctx) === '') drops.push({ id: task.id, line: doc.slice(doc.lastIndexOf('\n', c - 1) + 1, c), text, check: syntaxChecker(ctx.prefix, ctx.suffix, ctx.languageId)(text) });
      }
    }
  }
  console.log(JSON.stringify({ files, cuts: total, keywordStarts: keyword, falseDrops: drops.length }));
  for (const d of drops.slice(0, 30)) console.log(JSON.stringify(d));
} else {
  const per = Number(flags.per ?? 150);
  const out = [];
  for (const file of files) {
    const docs = documents(file).map(({ task, doc }) => ({ task, doc, cuts: cuts(doc, (ch) => ch === ' ').filter((_, k) => k % 7 === 0), next: 0 }));
    const language = docs[0]?.task.language ?? 'x';
    const tag = `${{ python: 'py', typescript: 'ts', javascript: 'js' }[language] ?? language}-midline`;
    let taken = 0;
    let round = 0;
    while (taken < per && docs.some((d) => d.next < d.cuts.length)) {
      for (const d of docs) {
        if (taken >= per) break;
        while (d.next < d.cuts.length) {
          const [c, e] = d.cuts[d.next];
          d.next += 7 + (round % 5);
          const prefix = d.doc.slice(0, c);
          const suffix = d.doc.slice(e);
          if (!syntaxChecker(prefix, suffix, d.task.language)('').unfinished) continue;
          out.push({ id: `${tag}-${taken}`, language: d.task.language, kind: 'single', prefix, suffix, reference: d.doc.slice(c, e), source: d.task.source ?? d.task.id });
          taken++;
          break;
        }
      }
      round++;
    }
  }
  fs.writeFileSync(flags.out, out.map((x) => JSON.stringify(x)).join('\n') + '\n');
  console.log(JSON.stringify({ out: flags.out, tasks: out.length }));
}
