// Same-file far context through a remote backend (backend/far-text.ts), side by side in one run: the llama-server
// backend (server/dist/backend/llama-server.js, what `backend: {"kind": "llama-server"}` runs) with far context off
// and on, task by task alternately, against one running llama-server. Writes each variant's predictions in
// `infill-ls eval`'s format and scores them with bench/quality/score.mjs (single-line exact match on the first line,
// multi-line edit similarity), plus the paired counts (tasks only one variant gets right) with a sign test.
//
// Usage: node bench/quality/remote-far.mjs --url http://127.0.0.1:18012 --tasks .work/tasks/dev-py-single.jsonl
//        [--prefix-chars 3000] [--suffix-chars 1000] [--far-chars 1536] [--limit N] [--name remote-far]
//   A llama-server for it (bash .ci/llama-server.sh, README "Remote backend"):
//   ~/.cache/infill-ls/llama-server-3.22.1/bin/llama-server -m "$(bash .ci/llama-server.sh --gguf models/default)" \
//     --port 18012 --spm-infill -np 2 -c 4096
// The windows default to the backend's (3,000 / 1,000 characters); models/default was trained on 1,024-token windows,
// so `--prefix-chars 1300 --suffix-chars 900` (about the engine's 384 + 256 tokens) is its like-for-like setting.
// Greedy; t_max_predict_ms 30,000 so that load does not cut answers. Writes bench/results/NAME.{json,md} and the
// predictions to $TMPDIR/infill-ls-remote-far/.
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readJsonl } from '../lib/data.mjs';
import { signTestP } from '../lib/stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    tasks: { type: 'string' },
    'prefix-chars': { type: 'string', default: '3000' },
    'suffix-chars': { type: 'string', default: '1000' },
    'far-chars': { type: 'string', default: '1536' },
    limit: { type: 'string' },
    name: { type: 'string', default: 'remote-far' },
  },
});
if (!args.url || !args.tasks) {
  console.error('usage: node bench/quality/remote-far.mjs --url URL --tasks FILE [--prefix-chars 3000] [--suffix-chars 1000] [--far-chars 1536] [--limit N] [--name NAME]');
  process.exit(2);
}
const { createLlamaServerEngine } = await import(path.join(root, 'server/dist/backend/llama-server.js'));
const { evalDocumentKey } = await import(path.join(root, 'server/dist/cli/eval.js'));
let tasks = readJsonl(args.tasks);
if (args.limit) tasks = tasks.slice(0, Number(args.limit));
const common = { url: args.url, maxNewTokens: 64, tMaxPredictMs: 30_000, timeoutMs: 120_000, maxPrefixChars: Number(args['prefix-chars']), maxSuffixChars: Number(args['suffix-chars']), slots: 'server' };
const variants = [
  { name: 'off', engine: createLlamaServerEngine({ ...common, farContextChars: 0 }) },
  { name: 'on', engine: createLlamaServerEngine({ ...common, farContextChars: Number(args['far-chars']) }) },
];
const dir = path.join(os.tmpdir(), 'infill-ls-remote-far');
fs.mkdirSync(dir, { recursive: true });
const preds = Object.fromEntries(variants.map((v) => [v.name, []]));
const uptimeStart = execFileSync('uptime').toString().trim();
for (const [i, task] of tasks.entries()) {
  const order = i % 2 ? [...variants].reverse() : variants;
  for (const v of order) {
    const lineMode = task.kind === 'single' || task.kind === 'multi' ? task.kind : undefined;
    const r = await v.engine.complete(
      { documentKey: evalDocumentKey(task), version: 1, languageId: task.language, prefix: task.prefix, suffix: task.suffix, trigger: 'manual', ...(lineMode ? { lineMode } : {}) },
      new AbortController().signal,
    );
    preds[v.name].push({ id: task.id, completion: r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '', raw: r.kind === 'ok' ? (r.raw ?? r.candidates[0]?.text ?? '') : '', ...(r.kind !== 'ok' ? { error: r.reason ?? r.kind } : {}) });
  }
  if ((i + 1) % 50 === 0) process.stderr.write(`remote-far: ${i + 1}/${tasks.length}\n`);
}
for (const v of variants) v.engine.dispose?.();
const uptimeEnd = execFileSync('uptime').toString().trim();
const score = (name, field) => {
  const file = path.join(dir, `${args.name}-${name}.jsonl`);
  fs.writeFileSync(file, preds[name].map((p) => JSON.stringify(p)).join('\n') + '\n');
  const perTaskFile = `${file}.${field}.right.jsonl`;
  const out = execFileSync(process.execPath, [path.join(root, 'bench/quality/score.mjs'), '--tasks', args.tasks, '--pred', file, '--field', field, '--per-task', perTaskFile], { encoding: 'utf8' });
  const res = JSON.parse(out.trim().split('\n').at(-1));
  return { exactMatch: res.exact_match, editSimilarity: res.edit_similarity, perTask: readJsonl(perTaskFile) };
};
const result = { date: new Date().toISOString(), tasks: args.tasks, n: tasks.length, settings: { ...common, farChars: Number(args['far-chars']) }, uptimeStart, uptimeEnd, variants: {} };
for (const field of ['raw', 'completion']) {
  const s = Object.fromEntries(variants.map((v) => [v.name, score(v.name, field)]));
  const right = (name) => new Map(s[name].perTask.map((t) => [t.id, t.right]));
  const off = right('off'), on = right('on');
  let onlyOn = 0, onlyOff = 0;
  for (const [id, r] of on) {
    if (r && !off.get(id)) onlyOn++;
    if (!r && off.get(id)) onlyOff++;
  }
  result.variants[field] = { off: { em: s.off.exactMatch, es: s.off.editSimilarity }, on: { em: s.on.exactMatch, es: s.on.editSimilarity }, onlyOn, onlyOff, signTestP: signTestP(onlyOn, onlyOff), errors: { off: preds.off.filter((p) => p.error).length, on: preds.on.filter((p) => p.error).length } };
}
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results', `${args.name}.json`), JSON.stringify(result, null, 1) + '\n');
const pct = (x) => (x === undefined || x === null ? '-' : `${(100 * x).toFixed(1)}%`);
const md = [
  `# Far context through the llama-server backend (${path.basename(args.tasks)}, ${tasks.length} tasks)`,
  '',
  `- date ${result.date}; command: \`node bench/quality/remote-far.mjs ${process.argv.slice(2).join(' ')}\``,
  `- load: start \`${uptimeStart}\`; end \`${uptimeEnd}\``,
  `- windows: prefix ${common.maxPrefixChars} / suffix ${common.maxSuffixChars} characters; far context ${args['far-chars']} characters (on) or 0 (off); greedy, t_max_predict_ms 30,000`,
  '',
  '| text | off: exact match / edit similarity | on | only on right / only off right (sign test p) | failed requests off / on |',
  '|---|---|---|---|---|',
  ...['raw', 'completion'].map((f) => {
    const v = result.variants[f];
    return `| ${f === 'raw' ? 'raw model text' : 'post-processed'} | ${pct(v.off.em)} / ${v.off.es?.toFixed(3)} | ${pct(v.on.em)} / ${v.on.es?.toFixed(3)} | ${v.onlyOn} / ${v.onlyOff} (${v.signTestP.toFixed(3)}) | ${v.errors.off} / ${v.errors.on} |`;
  }),
];
fs.writeFileSync(path.join(root, 'bench/results', `${args.name}.md`), md.join('\n') + '\n');
console.log(md.join('\n'));
