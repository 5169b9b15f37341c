// What building cross-file context costs per request while typing (context/CrossFileContextProvider, as the LSP
// server calls it): a 2,500-line TypeScript file importing 20 functions from a 300-function module under a temp
// workspace root; the first request (cold: parser load, file read) and 50 keystrokes below the imports.
// Usage: node bench/crossfile/cost.mjs   → bench/results/cross-file-cost.md
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repo } from './tasks.mjs';

const { CrossFileContextProvider } = await import(pathToFileURL(path.join(repo, 'server/dist/context/index.js')).href);
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const root = mkdtempSync(path.join(os.tmpdir(), 'infill-ls-xf-cost-'));
try {
  writeFileSync(path.join(root, 'lib.ts'), Array.from({ length: 300 }, (_, i) => `export function f${i}(a: number): number {\n  return a + ${i};\n}`).join('\n'));
  const body = Array.from({ length: 2500 }, (_, i) => `const v${i} = f${i % 20}(v${i ? i - 1 : 0});`).join('\n');
  const text = `import { ${Array.from({ length: 20 }, (_, i) => `f${i}`).join(', ')} } from './lib';\n${body}\nconst z = f3(`;
  const provider = new CrossFileContextProvider({ roots: [root] });
  const uri = pathToFileURL(path.join(root, 'main.ts')).href;
  const started = uptime();
  let t = performance.now();
  const first = await provider.contextFor({ uri, languageId: 'typescript', text }, text.length);
  const firstMs = performance.now() - t;
  const times = [];
  let current = text;
  for (let i = 0; i < 50; i++) {
    current += i % 2 ? ', ' : 'v1';
    provider.noteDocument(uri, current, 2501);
    t = performance.now();
    await provider.contextFor({ uri, languageId: 'typescript', text: current }, current.length);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const md = [
    '# Cost of building cross-file context per request',
    '',
    `Command: \`node bench/crossfile/cost.mjs\`. A 2,500-line TypeScript file importing 20 functions from a 300-function module (temp workspace root); ${first?.chunks.length ?? 0} definition chunks.`,
    `Load: ${started} (2 shared cores).`,
    '',
    '| request | ms |',
    '|---|---:|',
    `| first (cold: parser load, file read, parse) | ${firstMs.toFixed(1)} |`,
    `| 50 keystrokes below the imports: p50 | ${times[25].toFixed(1)} |`,
    `| 50 keystrokes below the imports: p95 | ${times[47].toFixed(1)} |`,
    '',
  ].join('\n');
  writeFileSync(path.join(repo, 'bench/results/cross-file-cost.md'), md);
  process.stdout.write(md);
} finally {
  rmSync(root, { recursive: true, force: true });
}
