// Does cross-file context keep the per-file KV prefix cache hitting while the user types? Types the first characters
// of each cross-file task's reference one at a time (a request after each, same document, as an editor would send them)
// without and with cross-file context (the provider persists across keystrokes, as in the LSP server) and counts the
// prompt tokens prefilled per keystroke. Writes bench/results/cross-file-typing.{json,md}.
// Usage: node bench/crossfile/typing.mjs [--per-package 2] [--chars 6] [--cache DIR]
//        node bench/crossfile/typing.mjs --report-only   (re-renders the .md from the .json)
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { devPackages, fetchPackage, repo, tasksOf } from './tasks.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const perPackage = Number(args['per-package'] ?? 2);
const chars = Number(args.chars ?? 6);
const cacheDir = path.resolve(args.cache ?? path.join(os.tmpdir(), 'infill-ls-crossfile'));
const dist = (p) => pathToFileURL(path.join(repo, 'server/dist', p)).href;
const { CrossFileContextProvider } = await import(dist('context/index.js'));
const { createEngine } = await import(dist('engine/engine.js'));
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

const resultsJson = path.join(repo, 'bench/results/cross-file-typing.json');
const previous = process.argv.includes('--report-only') ? JSON.parse(readFileSync(resultsJson, 'utf8')) : null;
const started = previous?.started ?? uptime();
const tasks = [];
if (!previous) for (const p of devPackages()) tasks.push(...tasksOf(p.name, fetchPackage(p, cacheDir), 1000 + tasks.length, perPackage).tasks);
const engine = previous ? null : createEngine({ timeBudgetMs: 600_000, log: () => {} });
await engine?.loaded;
if (engine && engine.status().state !== 'ready') throw new Error(engine.status().message);

const rows = previous?.rows ?? [];
let n = 0;
for (const task of tasks) {
  const uri = pathToFileURL(task.file).href;
  const order = n++ % 2 ? ['comment', 'none'] : ['none', 'comment'];
  for (const variant of order) {
    const provider = new CrossFileContextProvider({ roots: [task.root], format: 'comment' });
    let previous;
    for (let k = 0; k <= Math.min(chars, task.reference.length); k++) {
      const prefix = task.prefix + task.reference.slice(0, k);
      const text = prefix + task.suffix;
      let crossFile;
      if (variant === 'comment') {
        provider.noteDocument(uri, text, prefix.split('\n').length - 1);
        crossFile = await provider.contextFor({ uri, languageId: task.language, text }, prefix.length);
      }
      const context = { documentKey: `typing:${task.id}:${variant}`, version: k + 1, languageId: task.language, prefix, suffix: task.suffix, trigger: 'automatic', lineMode: 'single', ...(crossFile ? { crossFile } : {}) };
      const t0 = performance.now();
      const r = await engine.complete(context, new AbortController().signal);
      rows.push({
        id: task.id,
        variant,
        step: k,
        ms: Math.round((performance.now() - t0) * 10) / 10,
        promptTokens: r.kind === 'ok' ? r.timings.promptTokens : 0,
        prefillTokens: r.kind === 'ok' ? r.timings.prefillTokens : 0,
        cache: r.kind === 'ok' ? (r.cache ?? '') : r.kind,
        contextChanged: k > 0 && variant === 'comment' ? crossFile !== previous : false,
      });
      previous = crossFile;
    }
  }
}
await engine?.dispose();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
/** Whether the document's cross-file context changed at this step or since its previous model run. */
function changedSinceLastRun(row) {
  const doc = rows.filter((r) => r.id === row.id && r.variant === row.variant && r.step <= row.step).sort((a, b) => a.step - b.step);
  for (let i = doc.length - 1; i >= 0; i--) {
    if (doc[i].contextChanged) return true;
    if (i < doc.length - 1 && !doc[i].cache.startsWith('completion-reuse')) return false;
  }
  return false;
}
const summary = ['none', 'comment'].map((variant) => {
  const first = rows.filter((r) => r.variant === variant && r.step === 0);
  const keys = rows.filter((r) => r.variant === variant && r.step > 0);
  const modelRuns = keys.filter((r) => !r.cache.startsWith('completion-reuse'));
  return {
    variant,
    tasks: first.length,
    firstPromptTokens: mean(first.map((r) => r.promptTokens)),
    firstPrefillTokens: mean(first.map((r) => r.prefillTokens)),
    firstP50Ms: median(first.map((r) => r.ms)),
    keystrokes: keys.length,
    keystrokesAnsweredFromCompletionCache: keys.length - modelRuns.length,
    keystrokePrefillTokensMean: mean(modelRuns.map((r) => r.prefillTokens)),
    keystrokePrefillTokensP50: median(modelRuns.map((r) => r.prefillTokens)),
    keystrokeP50Ms: median(keys.map((r) => r.ms)),
    contextChanges: keys.filter((r) => r.contextChanged).length,
    // Model runs that re-prefilled more than 100 tokens, and how many of them came after a context change of that
    // document (since its previous model run).
    bigPrefills: modelRuns.filter((r) => r.prefillTokens > 100).length,
    bigPrefillsAfterContextChange: modelRuns.filter((r) => r.prefillTokens > 100 && changedSinceLastRun(r)).length,
  };
});
const finished = previous?.finished ?? uptime();
const command = previous?.command ?? `node bench/crossfile/typing.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
const taskCount = previous ? new Set(rows.map((r) => r.id)).size : tasks.length;
const typed = previous?.chars ?? chars;
mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
writeFileSync(resultsJson, JSON.stringify({ command, started, finished, chars: typed, summary, rows }, null, 1) + '\n');
const md = [
  '# Cross-file context and the KV prefix cache while typing (models/default)',
  '',
  `Command: \`${command}\`. ${taskCount} cross-file tasks (bench/crossfile/tasks.mjs); the first ${typed} characters of each reference typed one at a time, an automatic single-line request after each, one document per task and variant; 'comment' = cross-file context in the comment form from a provider kept across keystrokes (LSP server behaviour).`,
  `Load: ${started} at the start; ${finished} at the end (2 shared cores).`,
  '',
  '| variant | tasks | first request: prompt / prefilled tokens | first request p50 ms | keystroke requests | answered from the completion cache | prefilled tokens per keystroke that ran the model (mean / p50) | keystroke p50 ms | context changes while typing | model runs re-prefilling > 100 tokens (after a context change) |',
  '|---|---:|---|---:|---:|---:|---|---:|---:|---|',
  ...summary.map((s) => `| ${s.variant} | ${s.tasks} | ${s.firstPromptTokens.toFixed(0)} / ${s.firstPrefillTokens.toFixed(0)} | ${s.firstP50Ms.toFixed(0)} | ${s.keystrokes} | ${s.keystrokesAnsweredFromCompletionCache} | ${s.keystrokePrefillTokensMean.toFixed(1)} / ${s.keystrokePrefillTokensP50} | ${s.keystrokeP50Ms.toFixed(0)} | ${s.contextChanges} | ${s.bigPrefills} (${s.bigPrefillsAfterContextChange}) |`),
  '',
  'Re-prefills not caused by a context change come from sticky prefix trimming moving its first kept line (cache/sticky-trim.ts), in both variants.',
  '',
].join('\n');
writeFileSync(path.join(repo, 'bench/results/cross-file-typing.md'), md);
process.stdout.write(md);
