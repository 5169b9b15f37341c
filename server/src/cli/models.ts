// `infill-ls models pull <org/name>[@revision]`: downloads a Hugging Face Hub model repository into the hub cache.
import cliProgress from 'cli-progress';
import { HubError, formatRepoRef, hubCacheDir, parseRepoRef } from '../hub/cache.js';
import { pullModel, type PullEvent } from '../hub/pull.js';
import { UsageError, parse } from './args.js';

export const MODELS_USAGE = `usage: infill-ls models pull <org/name>[@revision] [--include PATTERN ...] [--quiet]

Downloads a model repository from the Hugging Face Hub into the Hugging Face cache
($HF_HUB_CACHE, else $HF_HOME/hub, default ~/.cache/huggingface/hub), where other HF tools find it
and files they pulled are reused. Afterwards the repo id works as a model directory:
  infill-ls complete file.py --line 3 --column 5 --model org/name
  infill-ls serve --stdio --model-dir org/name        ("infill-ls.modelDir": "org/name" in an editor)
Loading a model never uses the network; only this command does.

  --include PATTERN   take only matching files (repeatable; * also crosses '/'), e.g. "onnx/model_q4.onnx":
                      config and tokenizer files, and the .onnx_data of a matched .onnx, are always taken
  --quiet             no progress output; print only the snapshot folder

environment
  HF_ENDPOINT         the Hub (default https://huggingface.co)
  HF_TOKEN            sent as "Authorization: Bearer" to the Hub, for private or gated repositories
  HF_HUB_OFFLINE=1    no network: succeed only if the revision is already cached
  HF_HOME, HF_HUB_CACHE  where the cache lives`;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Progress on a TTY: one bar per downloading file (cli-progress); otherwise one line per file. */
function progressReporter(err: (s: string) => void, tty: boolean): { onEvent: (e: PullEvent) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const onEvent = (e: PullEvent) => {
    switch (e.kind) {
      case 'listing':
        err(`commit ${e.commit}: ${e.selected} of ${e.files} files\n`);
        break;
      case 'file-start':
        if (e.resumeFromBytes > 0) {
          stop();
          err(`resuming ${e.file} at ${formatBytes(e.resumeFromBytes)}\n`);
        }
        if (tty) {
          stop();
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: ' {bar} {percentage}% | {have}/{size} | {file}',
              hideCursor: true,
              fps: 10,
            },
            cliProgress.Presets.shades_classic,
          );
          const total = e.sizeBytes ?? 0;
          bar.start(total, e.resumeFromBytes, { file: e.file, have: formatBytes(e.resumeFromBytes), size: e.sizeBytes === undefined ? '?' : formatBytes(e.sizeBytes) });
        }
        break;
      case 'file-progress':
        bar?.update(e.bytes, { have: formatBytes(e.bytes) });
        break;
      case 'file-retry':
        stop();
        err(`retrying ${e.file} (attempt ${e.attempt}): ${e.error}\n`);
        break;
      case 'file-done':
        stop();
        err(`${e.source === 'downloaded' ? 'downloaded' : 'cached    '} ${e.file} (${formatBytes(e.sizeBytes)})\n`);
        break;
    }
  };
  return { onEvent, stop };
}

/** Runs `models <subcommand>`; resolves with the exit code (0 ok, 1 download or cache problem, 2 usage). */
export async function runModels(argv: readonly string[], io: { stdout?: (s: string) => void; stderr?: (s: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  let ref;
  let values;
  try {
    const args = parse(argv, { include: { type: 'string', multiple: true }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const, true);
    values = args.values;
    if (values.help) {
      out(`${MODELS_USAGE}\n`);
      return 0;
    }
    const [sub, spec, ...extra] = args.positionals;
    if (sub !== 'pull') throw new UsageError(sub === undefined ? 'give a subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
    if (spec === undefined) throw new UsageError('give a repository id such as Qwen/Qwen2.5-Coder-0.5B');
    if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra[0])}`);
    try {
      ref = parseRepoRef(spec);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (ref === null) throw new UsageError(`${JSON.stringify(spec)} is not a repository id of the form org/name or org/name@revision`);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`infill-ls models: ${e.message}\n\n${MODELS_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const quiet = values.quiet === true;
  const reporter = progressReporter(err, process.stderr.isTTY === true && io.stderr === undefined);
  try {
    const result = await pullModel({ ref, include: (values.include as string[] | undefined) ?? [], env, onEvent: quiet ? undefined : reporter.onEvent });
    reporter.stop();
    if (!quiet) {
      const downloaded = result.files.filter((f) => f.source === 'downloaded').length;
      err(
        result.offline
          ? `HF_HUB_OFFLINE: ${result.files.length} cached files of ${formatRepoRef(ref)}; nothing downloaded (offline, the repository's own file list cannot be read, so files never pulled are not known to be missing)\n`
          : `${formatRepoRef(ref)} at ${result.commit}: ${downloaded} files downloaded (${formatBytes(result.downloadedBytes)}), ${result.files.length - downloaded} already cached\n`,
      );
      err(`use it with --model ${formatRepoRef(ref)} (complete, eval), --model-dir ${formatRepoRef(ref)} (serve) or "infill-ls.modelDir": "${formatRepoRef(ref)}"\n`);
    }
    out(`${result.snapshotDir}\n`);
    return 0;
  } catch (e) {
    reporter.stop();
    if (e instanceof HubError) {
      err(`infill-ls models pull: ${e.message}\n(cache: ${hubCacheDir(env)})\n`);
      return 1;
    }
    throw e;
  }
}
