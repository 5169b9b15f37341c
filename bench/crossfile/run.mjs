// Cross-file context evaluation on held-out dev packages (native/corpus/manifest-npm.json, split "dev"): single-line
// tasks whose middle uses a symbol imported from another file of the same package, completed on models/default
// without and with cross-file context (context/CrossFileContextProvider over the package directory as the workspace
// root, the same code the LSP server runs). Writes bench/results/NAME.{json,md} (--name, default cross-file).
//
// Usage: node bench/crossfile/run.mjs [--per-package 10] [--packages a,b] [--model DIR] [--cache DIR] [--name NAME]
//        node bench/crossfile/run.mjs --report-only   (re-renders cross-file.md from cross-file.json)
// Needs a built server (npm run build) and the npm registry (`npm pack` of the pinned versions into --cache, default
// $TMPDIR/infill-ls-crossfile; nothing is written into the repository except bench/results/).
//
// Task: in a file of the package, an occurrence of an imported binding X used as `X.member…` (cursor after `X.`) or
// `X(…` / `new X(…` (cursor after `(`), at least 6 lines below the imports; the reference is the rest of that line.
// Kept only when the symbol's definition exists in the imported file (extractDefinitions finds it) — so the middle
// does use a symbol defined in another file. Deterministic (seeded) sample per package.
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { editSimilarity } from '../lib/similarity.mjs';
import { DEFAULT_PACKAGES, devPackages, fetchPackage, repo, tasksOf } from './tasks.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const perPackage = Number(args['per-package'] ?? 10);
const cacheDir = path.resolve(args.cache ?? path.join(os.tmpdir(), 'infill-ls-crossfile'));
const dist = (p) => pathToFileURL(path.join(repo, 'server/dist', p)).href;
const { CrossFileContextProvider } = await import(dist('context/index.js'));
const { createEngine } = await import(dist('engine/engine.js'));
const packages = devPackages(args.packages ? args.packages.split(',') : DEFAULT_PACKAGES);

// The variants: [name, cross-file format | null, engine].
const VARIANTS = [
  ['none', null, 'full'],
  ['comment', 'comment', 'full'],
  ['repo', 'repo', 'full'],
  ['comment, prefix 512', 'comment', 'short'],
];
const CONTEXT_TOKENS = Number(args['context-tokens'] ?? 256);

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const NAME = args.name ?? 'cross-file';
const resultsJson = path.join(repo, `bench/results/${NAME}.json`);
const reportOnly = process.argv.includes('--report-only');
const previous = reportOnly ? JSON.parse(readFileSync(resultsJson, 'utf8')) : null;
const started = previous?.started ?? { at: new Date().toISOString(), uptime: uptime() };
const all = [];
const perPackageCounts = previous?.packages ?? {};
for (const p of reportOnly ? [] : packages) {
  const root = fetchPackage(p, cacheDir);
  const { tasks, candidates } = tasksOf(p.name, root, 1000 + all.length, perPackage);
  perPackageCounts[p.name] = { version: p.version, candidates, tasks: tasks.length };
  all.push(...tasks);
  process.stderr.write(`${p.name}@${p.version}: ${candidates} candidate uses, ${tasks.length} tasks\n`);
}

const modelDir = args.model ? path.resolve(args.model) : undefined;
const common = { timeBudgetMs: 600_000, ...(modelDir ? { modelDir } : {}), log: () => {} };
const engines = reportOnly ? {} : { full: createEngine({ ...common }), short: createEngine({ ...common, maxPrefixTokens: 512 }) };
await Promise.all(Object.values(engines).map((e) => e.loaded));
for (const e of Object.values(engines)) if (e.status().state !== 'ready') throw new Error(`engine not ready: ${e.status().message}`);

const rows = previous?.rows ?? [];
let n = 0;
for (const task of all) {
  const providerFor = (format) => new CrossFileContextProvider({ roots: [task.root], maxTokens: CONTEXT_TOKENS, format });
  const uri = pathToFileURL(task.file).href;
  const docText = task.prefix + task.suffix;
  // Rotate the variant order per task so that load changes hit every variant alike.
  const order = VARIANTS.map((_, i) => VARIANTS[(i + n) % VARIANTS.length]);
  n++;
  for (const [variant, format, engineName] of order) {
    let crossFile;
    let contextMs = 0;
    if (format) {
      const t0 = performance.now();
      crossFile = await providerFor(format).contextFor({ uri, languageId: task.language, text: docText }, task.prefix.length);
      contextMs = performance.now() - t0;
    }
    const context = { documentKey: `xf:${task.id}:${variant}`, version: 1, languageId: task.language, prefix: task.prefix, suffix: task.suffix, trigger: 'manual', lineMode: 'single', ...(crossFile ? { crossFile } : {}) };
    const t0 = performance.now();
    const r = await engines[engineName].complete(context, new AbortController().signal);
    const ms = performance.now() - t0;
    const completion = r.kind === 'ok' ? (r.candidates[0]?.text ?? '').split('\n')[0] : '';
    rows.push({
      id: task.id,
      variant,
      kind: task.kind,
      chunks: crossFile?.chunks.length ?? 0,
      hasSymbol: crossFile ? crossFile.chunks.some((c) => c.kind === 'definition') : false,
      promptTokens: r.kind === 'ok' ? r.timings.promptTokens : 0,
      ms: Math.round(ms * 10) / 10,
      contextMs: Math.round(contextMs * 10) / 10,
      exact: completion.trim() === task.reference.trim(),
      es: editSimilarity(completion.trim(), task.reference.trim()),
      completion,
    });
  }
  if (n % 10 === 0) process.stderr.write(`${n}/${all.length} tasks\n`);
}
for (const e of Object.values(engines)) await e.dispose();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const base = new Map(rows.filter((r) => r.variant === 'none').map((r) => [r.id, r]));
const summary = VARIANTS.map(([variant]) => {
  const rs = rows.filter((r) => r.variant === variant);
  const withCtx = rs.filter((r) => r.chunks > 0);
  return {
    variant,
    n: rs.length,
    withContext: withCtx.length,
    exactMatch: mean(rs.map((r) => (r.exact ? 1 : 0))),
    editSimilarity: mean(rs.map((r) => r.es)),
    promptTokens: mean(rs.map((r) => r.promptTokens)),
    extraPromptTokens: mean(rs.map((r) => r.promptTokens - (base.get(r.id)?.promptTokens ?? 0))),
    p50Ms: median(rs.map((r) => r.ms)),
    meanMs: mean(rs.map((r) => r.ms)),
    contextP50Ms: median(rs.map((r) => r.contextMs)),
    // On the tasks where the provider found context: this variant against 'none' on the same tasks.
    onContextTasks: {
      n: withCtx.length,
      exactMatch: mean(withCtx.map((r) => (r.exact ? 1 : 0))),
      exactMatchNone: mean(withCtx.map((r) => (base.get(r.id)?.exact ? 1 : 0))),
      editSimilarity: mean(withCtx.map((r) => r.es)),
      editSimilarityNone: mean(withCtx.map((r) => base.get(r.id)?.es ?? 0)),
    },
    // Paired against 'none' on the same task: edit similarity higher / lower / equal.
    paired: {
      better: rs.filter((r) => r.es > (base.get(r.id)?.es ?? 0) + 1e-9).length,
      worse: rs.filter((r) => r.es < (base.get(r.id)?.es ?? 0) - 1e-9).length,
      same: rs.filter((r) => Math.abs(r.es - (base.get(r.id)?.es ?? 0)) <= 1e-9).length,
    },
    byKind: Object.fromEntries(['member', 'call'].map((k) => [k, { n: rs.filter((r) => r.kind === k).length, exactMatch: mean(rs.filter((r) => r.kind === k).map((r) => (r.exact ? 1 : 0))), editSimilarity: mean(rs.filter((r) => r.kind === k).map((r) => r.es)) }])),
  };
});
const finished = previous?.finished ?? { at: new Date().toISOString(), uptime: uptime() };
const result = previous
  ? { ...previous, summary }
  : { command: `node bench/crossfile/run.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`, contextTokens: CONTEXT_TOKENS, started, finished, packages: perPackageCounts, tasks: all.length, summary, tasksDetail: all.map((t) => ({ id: t.id, source: `${t.package}/${t.source}`, kind: t.kind, symbol: t.symbol, reference: t.reference })), rows };
mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
writeFileSync(resultsJson, JSON.stringify(result, null, 1) + '\n');

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const md = [
  '# Cross-file context on held-out dev packages (models/default)',
  '',
  `Command: \`${result.command}\` (needs \`npm run build\` and the npm registry for \`npm pack\`).`,
  `Tasks: ${result.tasks} single-line tasks from ${Object.keys(perPackageCounts).length} dev packages (${Object.entries(perPackageCounts).map(([k, v]) => `${k}@${v.version}: ${v.tasks}`).join(', ')}); each middle uses a symbol imported from another file of its package (\`X.member\`: cursor after \`X.\`; \`X(\`: cursor after \`(\`), reference = the rest of the line.`,
  `Context budget ${CONTEXT_TOKENS} tokens; definitions only (no edit history in an offline task, so the recent-chunks ring is empty). Default engine budgets: prefix 768, suffix 256 tokens.`,
  `Load: ${started.uptime} at the start; ${finished.uptime} at the end (2 cores shared with other jobs: latencies are noisy; variants are interleaved per task).`,
  '',
  '| variant | N | with context | exact match | edit similarity | prompt tokens (mean) | extra prompt tokens (mean) | latency p50 ms | context build p50 ms |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...summary.map((s) => `| ${s.variant} | ${s.n} | ${s.withContext} | ${pct(s.exactMatch)} | ${s.editSimilarity.toFixed(3)} | ${s.promptTokens.toFixed(0)} | ${s.extraPromptTokens.toFixed(0)} | ${s.p50Ms.toFixed(0)} | ${s.contextP50Ms.toFixed(1)} |`),
  '',
  'On the tasks where the provider found context (same tasks, without context in parentheses):',
  '',
  '| variant | N | exact match | edit similarity | edit similarity vs none: better / worse / same |',
  '|---|---:|---:|---:|---|',
  ...summary.filter((s) => s.variant !== 'none').map((s) => `| ${s.variant} | ${s.onContextTasks.n} | ${pct(s.onContextTasks.exactMatch)} (${pct(s.onContextTasks.exactMatchNone)}) | ${s.onContextTasks.editSimilarity.toFixed(3)} (${s.onContextTasks.editSimilarityNone.toFixed(3)}) | ${s.paired.better} / ${s.paired.worse} / ${s.paired.same} |`),
  '',
  'By task kind (exact match / edit similarity):',
  '',
  '| variant | member (N) | call (N) |',
  '|---|---|---|',
  ...summary.map((s) => `| ${s.variant} | ${pct(s.byKind.member.exactMatch)} / ${s.byKind.member.editSimilarity.toFixed(3)} (${s.byKind.member.n}) | ${pct(s.byKind.call.exactMatch)} / ${s.byKind.call.editSimilarity.toFixed(3)} (${s.byKind.call.n}) |`),
  '',
  "Context build: a fresh provider per task and variant (cold: file reads and tree-sitter parses on the loaded machine); the steady cost while typing is in cross-file-cost.md (`node bench/crossfile/cost.mjs`).",
  '',
  "Variants: 'none' = current file only; 'comment' = definitions as line comments at the top of the prefix; 'repo' = StarCoder2's `<repo_name>`/`<file_sep>` sequence before the FIM prompt (the v1 default model had the tokens but was not trained on such sequences; the v2 model, shipped since issue 16, was, on 0.8% of its training tokens); 'comment, prefix 512' = comment form with the prefix budget cut to 512 tokens so the whole prompt stays within the 1,024-token training context.",
  '',
].join('\n');
writeFileSync(path.join(repo, `bench/results/${NAME}.md`), md);
process.stdout.write(md);
