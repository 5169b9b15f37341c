// Full vs incremental tree-sitter parse per keystroke (server/dist's syntax layer): types a statement character by
// character into the middle of a ~2000-line TypeScript file (this repository's server sources, concatenated) and
// times SyntaxTrees.update (incremental) against parseText (from scratch) on every keystroke.
//   npm run build && node bench/syntax/parse.mjs   → bench/results/syntax-parse.{json,md}
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const syntax = await import(pathToFileURL(path.join(root, 'server/dist/syntax/index.js')).href);
const files = ['engine/engine.ts', 'lsp/server.ts', 'runtime/model.ts', 'api/session.ts', 'config/settings.ts', 'documents/store.ts', 'tokenizer/tokenizer.ts', 'decoding/generator.ts', 'syntax/errors.ts', 'syntax/lexer.ts', 'prompt/templates.ts'];
let base = '';
for (const f of files) base += fs.readFileSync(path.join(root, 'server/src', f), 'utf8') + '\n';
const lines = base.split('\n').length;
const at = base.indexOf('\n', Math.floor(base.length / 2)) + 1;
const statement = '  const total = items.reduce((sum, item) => sum + item.price * item.count, 0);\n';
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const full = [], inc = [];
for (let rep = 0; rep < 3; rep++) {
  const trees = new syntax.SyntaxTrees();
  trees.update('doc', 'typescript', base);
  for (let n = 1; n <= statement.length; n++) {
    const text = base.slice(0, at) + statement.slice(0, n) + base.slice(at);
    let t = performance.now();
    syntax.parseText('typescript', text);
    full.push(performance.now() - t);
    t = performance.now();
    trees.update('doc', 'typescript', text);
    inc.push(performance.now() - t);
  }
}
const r2 = (x) => Math.round(x * 100) / 100;
const out = {
  date: new Date().toISOString().slice(0, 10), machine: `${os.cpus()[0]?.model} x${os.cpus().length}`, load1: r2(os.loadavg()[0]),
  file: { lines, chars: base.length }, keystrokes: full.length,
  fullParseMs: { p50: r2(median(full)), p95: r2(pct(full, 0.95)) },
  incrementalMs: { p50: r2(median(inc)), p95: r2(pct(inc, 0.95)) },
};
out.speedup = r2(out.fullParseMs.p50 / out.incrementalMs.p50);
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/syntax-parse.json'), JSON.stringify(out, null, 1) + '\n');
const md = `# Parse per keystroke: full vs incremental (\`node bench/syntax/parse.mjs\`, ${out.date}, ${out.machine}, load ${out.load1})

${lines}-line TypeScript file, ${out.keystrokes} keystrokes (a statement typed into the middle, 3 times):

| | p50 | p95 |
|---|---|---|
| full parse (parseText) | ${out.fullParseMs.p50} ms | ${out.fullParseMs.p95} ms |
| incremental (SyntaxTrees.update: diff + edit + re-parse) | ${out.incrementalMs.p50} ms | ${out.incrementalMs.p95} ms |

Speed-up at the median: ${out.speedup}x.
`;
fs.writeFileSync(path.join(root, 'bench/results/syntax-parse.md'), md);
process.stdout.write(md);
