// Downloads a model repository from the Hugging Face Hub into the hub cache, the way huggingface_hub does.
//
// Protocol (huggingface_hub src/huggingface_hub/hf_api.py model_info, file_download.py hf_hub_download; read, not copied):
//   GET  {endpoint}/api/models/{repo}/revision/{rev}          → { sha: commit, siblings: [{ rfilename }] }
//   HEAD {endpoint}/{repo}/resolve/{commit}/{file}            → ETag / X-Linked-Etag (sha256 of LFS files, git blob
//        sha1 of others), X-Linked-Size / Content-Length, X-Repo-Commit; LFS files answer 302 with the download
//        Location (relative redirects are followed, absolute ones are the download URL)
//   GET  {location} (Range: bytes=N- to resume blobs/<etag>.incomplete)
// Every file is verified (size; sha256 or git sha1 when the ETag is one) before it becomes blobs/<etag>; snapshot
// links and refs/<revision> are written only after every selected file is verified, so a failed pull leaves no
// partial snapshot. Writes only under the hub cache folder. Network only here: model loading never calls this.
import { spawnSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import {
  COMMIT_RE,
  HubError,
  cachedCommit,
  formatRepoRef,
  hubCacheDir,
  hubOffline,
  isSafeRepoFilename,
  joinRepoFilename,
  repoStorageDir,
  resolveCachedSnapshot,
  type RepoRef,
} from './cache.js';

/** Files a model needs besides its weights; always taken (at the root, or beside an included file). */
export const CONFIG_FILES: ReadonlySet<string> = new Set([
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'genai_config.json',
]);

export type FileSource = 'downloaded' | 'cached-blob' | 'cached-snapshot';

export type PullEvent =
  | { kind: 'listing'; commit: string; files: number; selected: number }
  | { kind: 'file-start'; file: string; sizeBytes: number | undefined; resumeFromBytes: number }
  | { kind: 'file-progress'; file: string; bytes: number; sizeBytes: number | undefined }
  | { kind: 'file-retry'; file: string; attempt: number; error: string }
  | { kind: 'file-done'; file: string; sizeBytes: number; source: FileSource };

export interface PullOptions {
  ref: RepoRef;
  /** Glob patterns (fnmatch-like: `*` also crosses '/'; a trailing '/' means everything below) of files to take; empty: all. */
  include?: readonly string[];
  /** HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HOME / HF_HUB_CACHE. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Resumed attempts per file after a broken transfer or a 5xx/429 answer (default 3). */
  retries?: number;
  /** Delay before retry n, ms (default 500 * n). */
  retryDelayMs?: (attempt: number) => number;
  onEvent?: (event: PullEvent) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  repoId: string;
  revision: string;
  commit: string;
  /** `snapshots/<commit>` in the hub cache: the model directory. */
  snapshotDir: string;
  /** True when HF_HUB_OFFLINE made it a cache lookup. */
  offline: boolean;
  files: Array<{ name: string; sizeBytes: number; source: FileSource }>;
  downloadedBytes: number;
}

/** The Hub endpoint: HF_ENDPOINT without a trailing '/', default https://huggingface.co. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const e = (env['HF_ENDPOINT'] || 'https://huggingface.co').trim().replace(/\/+$/, '');
  let u: URL;
  try {
    u = new URL(e);
  } catch {
    throw new HubError(`HF_ENDPOINT ${JSON.stringify(e)} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new HubError(`HF_ENDPOINT ${JSON.stringify(e)} is not an http(s) URL`);
  return e;
}

/**
 * The files to take of a listing: those matching `include` (all when empty), the ONNX external-data files of each
 * matched `.onnx` (`model.onnx_data`, `model.onnx.data`, numbered parts), and the config/tokenizer files at the root
 * or in a folder that holds or encloses a matched file. Matching follows huggingface_hub's allow_patterns (fnmatch).
 */
export function selectFiles(names: readonly string[], include: readonly string[]): string[] {
  if (include.length === 0) return [...names];
  const matchers = include.map((p) => picomatch(p.endsWith('/') ? `${p}*` : p, { dot: true, bash: true }));
  const matched = new Set(names.filter((n) => matchers.some((m) => m(n))));
  if (matched.size === 0) return []; // config files alone are no model: the caller reports the patterns
  for (const m of [...matched]) {
    if (!m.endsWith('.onnx')) continue;
    for (const n of names) if (n.startsWith(m) && /^(?:_data|\.data)(?:_?\d+)?$/.test(n.slice(m.length))) matched.add(n);
  }
  const dirs = new Set(['']);
  for (const m of matched) {
    const parts = m.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const n of names) {
    const slash = n.lastIndexOf('/');
    if (CONFIG_FILES.has(n.slice(slash + 1)) && dirs.has(slash === -1 ? '' : n.slice(0, slash))) matched.add(n);
  }
  return names.filter((n) => matched.has(n));
}

/** `W/"abc"` / `"abc"` → `abc` (huggingface_hub's _normalize_etag). */
export function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** An HTTP answer that is not worth retrying (4xx) vs one that is (5xx, 429, network). */
class HttpStatusError extends HubError {
  constructor(message: string, readonly status: number) {
    super(message);
  }
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

class TransferError extends HubError {}

interface FileMeta {
  etag: string;
  sizeBytes: number | undefined;
  location: string;
  /** The algorithm the etag is a digest of, if any. */
  digest: 'sha256' | 'git-sha1' | undefined;
}

/**
 * Pulls `options.ref` into the hub cache (huggingface_hub's snapshot_download, one file at a time); resolves with the
 * snapshot folder and what each file cost. Rejects with HubError (a message naming the repo, file and cause) or, when
 * `options.signal` aborts, with its reason; a broken or aborted download keeps `<blob>.incomplete` for the next pull.
 */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const env = options.env ?? process.env;
  const { ref } = options;
  const include = options.include ?? [];
  const emit = options.onEvent ?? (() => {});
  const cacheDir = hubCacheDir(env);
  const storage = repoStorageDir(cacheDir, ref.repoId);

  if (hubOffline(env)) return offlinePull(ref, include, env, storage);

  const endpoint = hubEndpoint(env);
  const endpointOrigin = new URL(endpoint).origin;
  const token = env['HF_TOKEN']?.trim() || undefined;
  const headersFor = (url: string, extra: Record<string, string> = {}): Record<string, string> => ({
    'User-Agent': 'infill-ls',
    ...(token && new URL(url).origin === endpointOrigin ? { Authorization: `Bearer ${token}` } : {}),
    ...extra,
  });
  const request = async (url: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetch(url, { ...init, signal: options.signal });
    } catch (e) {
      if (options.signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new TransferError(`cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
  };
  const statusError = (res: Response, what: string): HttpStatusError => {
    const code = res.headers.get('x-error-code');
    const hubMessage = res.headers.get('x-error-message');
    let hint = '';
    if (res.status === 401 || code === 'RepoNotFound') hint = token ? ' (HF_TOKEN was sent: check that it can read this repository)' : ' (it does not exist, or it is private or gated: set HF_TOKEN to a token that can read it)';
    else if (code === 'GatedRepo' || res.status === 403) hint = ' (gated or forbidden: accept its conditions on the model page and set HF_TOKEN)';
    else if (code === 'RevisionNotFound') hint = ` (no revision ${JSON.stringify(ref.revision)})`;
    else if (code === 'EntryNotFound') hint = ' (no such file at this revision)';
    return new HttpStatusError(`${what}: HTTP ${res.status}${code ? ` ${code}` : ''}${hint}${hubMessage ? `: ${hubMessage}` : ''}`, res.status);
  };

  // 1. The revision's commit and file list.
  const infoUrl = `${endpoint}/api/models/${ref.repoId}/revision/${encodeURIComponent(ref.revision)}`;
  let infoRes: Response;
  try {
    infoRes = await request(infoUrl, { headers: headersFor(infoUrl, { Accept: 'application/json' }) });
  } catch (e) {
    const cached = cachedCommit(storage, ref.revision);
    if (e instanceof TransferError && cached !== undefined && fs.existsSync(path.join(storage, 'snapshots', cached))) {
      throw new HubError(`${e.message}; ${formatRepoRef(ref)} is already in the cache (commit ${cached}) and loads without network`);
    }
    throw e;
  }
  if (!infoRes.ok) throw statusError(infoRes, `${formatRepoRef(ref)} on ${endpoint}`);
  let info: { sha?: unknown; siblings?: unknown };
  try {
    info = (await infoRes.json()) as typeof info;
  } catch (e) {
    throw new HubError(`${infoUrl}: the answer is not JSON (${(e as Error).message})`);
  }
  const commit = info.sha;
  if (typeof commit !== 'string' || !COMMIT_RE.test(commit)) throw new HubError(`${infoUrl}: the answer has no 40-hex commit "sha" (got ${JSON.stringify(commit)})`);
  if (!Array.isArray(info.siblings)) throw new HubError(`${infoUrl}: the answer has no "siblings" file list`);
  const names: string[] = [];
  for (const s of info.siblings as unknown[]) {
    const name = (s as { rfilename?: unknown } | null)?.rfilename;
    if (typeof name !== 'string') throw new HubError(`${infoUrl}: a sibling has no string "rfilename"`);
    // A listing that names a file outside the snapshot is refused whole: nothing is downloaded or written.
    if (!isSafeRepoFilename(name)) throw new HubError(`${formatRepoRef(ref)}: refusing the repository file name ${JSON.stringify(name)}: it would be written outside the snapshot folder`);
    names.push(name);
  }
  const selected = selectFiles(names, include);
  if (selected.length === 0) {
    const onnx = names.filter((n) => n.endsWith('.onnx'));
    throw new HubError(
      include.length > 0
        ? `no file of ${formatRepoRef(ref)} matches --include ${include.join(' ')}${onnx.length ? `; its ONNX files: ${onnx.join(', ')}` : ''}`
        : `${formatRepoRef(ref)} has no files`,
    );
  }
  emit({ kind: 'listing', commit, files: names.length, selected: selected.length });

  const snapshotDir = path.join(storage, 'snapshots', commit);
  const blobsDir = path.join(storage, 'blobs');
  const files: PullResult['files'] = [];
  const links: Array<{ pointer: string; blob: string }> = [];
  let downloadedBytes = 0;

  // 2. Each file: already in this snapshot, else its blob (maybe pulled by another tool or revision), else download.
  for (const name of selected) {
    const pointer = joinRepoFilename(snapshotDir, name);
    if (fs.existsSync(pointer)) {
      const sizeBytes = fs.statSync(pointer).size;
      files.push({ name, sizeBytes, source: 'cached-snapshot' });
      emit({ kind: 'file-done', file: name, sizeBytes, source: 'cached-snapshot' });
      continue;
    }
    const url = `${endpoint}/${ref.repoId}/resolve/${commit}/${name.split('/').map(encodeURIComponent).join('/')}`;
    const meta = await withRetries(options, name, emit, () => fileMeta(url, name));
    const blob = path.join(blobsDir, meta.etag);
    if (fs.existsSync(blob) && (meta.sizeBytes === undefined || fs.statSync(blob).size === meta.sizeBytes)) {
      links.push({ pointer, blob });
      const sizeBytes = fs.statSync(blob).size;
      files.push({ name, sizeBytes, source: 'cached-blob' });
      emit({ kind: 'file-done', file: name, sizeBytes, source: 'cached-blob' });
      continue;
    }
    fs.mkdirSync(blobsDir, { recursive: true });
    const release = acquireBlobLock(path.join(cacheDir, '.locks', path.basename(storage), `${meta.etag}.infill-ls.lock`), name);
    let sizeBytes: number;
    try {
      // Another process may have finished this blob while we waited for its metadata.
      sizeBytes = fs.existsSync(blob) && fs.statSync(blob).size === meta.sizeBytes ? fs.statSync(blob).size : await download(name, meta, blob);
    } finally {
      release();
    }
    downloadedBytes += sizeBytes;
    links.push({ pointer, blob });
    files.push({ name, sizeBytes, source: 'downloaded' });
    emit({ kind: 'file-done', file: name, sizeBytes, source: 'downloaded' });
  }

  // 3. Only now, with every blob verified: the snapshot's links, then the ref.
  for (const { pointer, blob } of links) linkPointer(blob, pointer);
  fs.mkdirSync(snapshotDir, { recursive: true });
  if (ref.revision !== commit) writeRef(storage, ref.revision, commit);
  return { repoId: ref.repoId, revision: ref.revision, commit, snapshotDir, offline: false, files, downloadedBytes };

  async function fileMeta(url: string, file: string): Promise<FileMeta> {
    let current = url;
    for (let hop = 0; hop < 5; hop++) {
      const res = await request(current, { method: 'HEAD', redirect: 'manual', headers: headersFor(current, { 'Accept-Encoding': 'identity' }) });
      const location = res.headers.get('location');
      const redirect = res.status >= 300 && res.status < 400 && location !== null;
      // A relative redirect (renamed repository) is followed; an absolute one is where LFS content lives.
      if (redirect && !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location)) {
        current = new URL(location, current).href;
        continue;
      }
      if (!redirect && !res.ok) throw statusError(res, `${formatRepoRef(ref)}: ${file}`);
      const rawEtag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
      if (rawEtag === undefined) throw new HubError(`${current}: the server sent no ETag, so the file cannot be cached`);
      // The etag names a file under blobs/: it must be a plain name.
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(rawEtag) || /^\.+$/.test(rawEtag)) throw new HubError(`${current}: refusing the ETag ${JSON.stringify(rawEtag)} as a blob name`);
      const sizeHeader = res.headers.get('x-linked-size') ?? (redirect ? null : res.headers.get('content-length'));
      const sizeBytes = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
      const digest = /^[0-9a-f]{64}$/.test(rawEtag) ? 'sha256' : /^[0-9a-f]{40}$/.test(rawEtag) ? 'git-sha1' : undefined;
      return { etag: rawEtag, sizeBytes, location: redirect ? new URL(location, current).href : current, digest };
    }
    throw new HubError(`${url}: too many redirects`);
  }

  /** Downloads one blob through `<blob>.incomplete` (resumed when present), verifies it, renames it into place. */
  async function download(file: string, meta: FileMeta, blob: string): Promise<number> {
    const partial = `${blob}.incomplete`;
    // Each retry resumes from what the broken attempt left in the .incomplete file.
    const streamed = await withRetries(options, file, emit, () => transfer(file, meta, partial));
    const sizeBytes = fs.statSync(partial).size;
    if (meta.sizeBytes !== undefined && sizeBytes !== meta.sizeBytes) {
      fs.rmSync(partial, { force: true });
      throw new HubError(`${formatRepoRef(ref)}: ${file}: expected ${meta.sizeBytes} bytes, got ${sizeBytes}; the partial file was removed, run the command again`);
    }
    if (meta.digest !== undefined) {
      const actual = streamed ?? (await digestOf(partial, meta.digest, sizeBytes));
      if (actual !== meta.etag) {
        fs.rmSync(partial, { force: true });
        throw new HubError(`${formatRepoRef(ref)}: ${file}: integrity check failed (${meta.digest} ${actual}, expected ${meta.etag}); the download was removed and nothing was added to the snapshot`);
      }
    }
    fs.renameSync(partial, blob);
    return sizeBytes;
  }

  /**
   * One attempt at `partial`: resumes from its size (Range), appends, and hashes as it writes (the kept prefix is
   * read once to seed the hash). Resolves with the digest of the whole file when it computed one.
   */
  async function transfer(file: string, meta: FileMeta, partial: string): Promise<string | undefined> {
    let have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
    if (meta.sizeBytes !== undefined && have > meta.sizeBytes) {
      fs.truncateSync(partial, 0);
      have = 0;
    }
    emit({ kind: 'file-start', file, sizeBytes: meta.sizeBytes, resumeFromBytes: have });
    if (meta.sizeBytes !== undefined && have === meta.sizeBytes) return undefined;
    const res = await request(meta.location, {
      headers: headersFor(meta.location, { 'Accept-Encoding': 'identity', ...(have > 0 ? { Range: `bytes=${have}-` } : {}) }),
      redirect: 'follow',
    });
    if (res.status === 416 && have > 0) {
      // The partial file is not a prefix the server can continue: start over.
      await res.body?.cancel();
      fs.truncateSync(partial, 0);
      throw new TransferError(`${file}: the server refused to resume (416)`);
    }
    if (!res.ok) throw statusError(res, `${formatRepoRef(ref)}: ${file}`);
    let flags = 'a';
    if (have > 0 && res.status !== 206) {
      have = 0; // the server ignored Range: the whole file follows
      flags = 'w';
    } else if (have > 0) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (start !== undefined && Number(start) !== have) {
        await res.body?.cancel();
        fs.truncateSync(partial, 0);
        throw new TransferError(`${file}: the server resumed at byte ${start}, not ${have}`);
      }
    }
    const hash = runningDigest(meta);
    if (hash && have > 0) for await (const chunk of fs.createReadStream(partial, { end: have - 1 })) hash.update(chunk as Buffer);
    const handle = await fs.promises.open(partial, flags);
    let bytes = have;
    try {
      if (res.body === null) return undefined;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          hash?.update(chunk);
          await handle.write(chunk);
          bytes += chunk.byteLength;
          emit({ kind: 'file-progress', file, bytes, sizeBytes: meta.sizeBytes });
        }
      } catch (e) {
        if (options.signal?.aborted) throw e;
        throw new TransferError(`${file}: the transfer broke after ${bytes} bytes (${(e as Error).message}); ${bytes} bytes are kept in ${partial} for resuming`);
      }
    } finally {
      await handle.close();
    }
    if (meta.sizeBytes !== undefined && bytes < meta.sizeBytes) throw new TransferError(`${file}: the transfer ended after ${bytes} of ${meta.sizeBytes} bytes`);
    return hash?.digest('hex');
  }
}

/** A hash in the form of the file's ETag (sha256, or git's blob sha1 when the size is known), else undefined. */
function runningDigest(meta: FileMeta): Hash | undefined {
  if (meta.digest === 'sha256') return createHash('sha256');
  if (meta.digest === 'git-sha1' && meta.sizeBytes !== undefined) return createHash('sha1').update(`blob ${meta.sizeBytes}\0`);
  return undefined;
}

/** Runs `fn`, retrying transfer errors and 5xx/429 answers `options.retries` times. */
async function withRetries<T>(options: PullOptions, file: string, emit: (e: PullEvent) => void, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const retryable = e instanceof TransferError || (e instanceof HttpStatusError && e.retryable);
      if (!retryable || attempt >= (options.retries ?? 3) || options.signal?.aborted) throw e;
      emit({ kind: 'file-retry', file, attempt: attempt + 1, error: (e as Error).message });
      await delay(options.retryDelayMs?.(attempt + 1) ?? 500 * (attempt + 1), options.signal);
    }
  }
}

/** sha256 of the file, or its git blob id (sha1 of `blob <size>\0` + content) for 'git-sha1'; when no attempt hashed it all. */
async function digestOf(file: string, digest: 'sha256' | 'git-sha1', sizeBytes: number): Promise<string> {
  let hash: Hash;
  if (digest === 'sha256') hash = createHash('sha256');
  else {
    hash = createHash('sha1');
    hash.update(`blob ${sizeBytes}\0`);
  }
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * One writer per `<blob>.incomplete` across infill-ls processes: an exclusive lock file holding the owner's pid.
 * A lock whose process is gone (killed mid-download) is taken over. Returns the release function.
 */
function acquireBlobLock(lockPath: string, file: string): () => void {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(fs.readFileSync(lockPath, 'utf8').trim());
      const alive = Number.isInteger(owner) && owner > 0 && owner !== process.pid && processRunning(owner);
      if (alive) throw new HubError(`${file} is being downloaded by another infill-ls process (pid ${owner}, lock ${lockPath}); wait for it to finish, or remove that lock file if no infill-ls runs with that pid`);
      fs.rmSync(lockPath, { force: true }); // stale: its process is gone
    }
  }
  throw new HubError(`${file}: could not take the download lock ${lockPath}`);
}

/**
 * Whether process `pid` still runs: signal 0 reaches it (EPERM: another user's, so it exists) and it is not a zombie —
 * a process that exited but that its parent has not reaped, which signal 0 still reaches: a `kill -9`ed pull in a
 * container whose PID 1 does not reap children would otherwise hold its lock for good. The state comes from
 * /proc/<pid>/stat (Linux, proc(5)), else from `ps -o stat=` (macOS); where neither answers, the process counts as running.
 */
function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (fs.existsSync('/proc/self/stat')) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2)); // the state follows the ')' ending the command name
    } catch {
      return false; // gone since the signal reached it
    }
  }
  const ps = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 });
  return !(ps.status === 0 && ps.stdout.trim().startsWith('Z'));
}

/** snapshots/<commit>/<file> → blobs/<etag> as a relative symlink (a copy where symlinks are not allowed). */
function linkPointer(blob: string, pointer: string): void {
  fs.mkdirSync(path.dirname(pointer), { recursive: true });
  fs.rmSync(pointer, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EACCES' && code !== 'EINVAL') throw e;
    fs.copyFileSync(blob, pointer);
  }
}

/** refs/<revision> = commit, written atomically. */
function writeRef(storage: string, revision: string, commit: string): void {
  const refPath = path.join(storage, 'refs', ...revision.split('/'));
  try {
    if (fs.readFileSync(refPath, 'utf8').trim() === commit) return;
  } catch {
    // not there yet
  }
  fs.mkdirSync(path.dirname(refPath), { recursive: true });
  const tmp = `${refPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, commit);
  fs.renameSync(tmp, refPath);
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, rel));
    else if (fs.existsSync(full)) out.push(rel);
  }
  return out;
}

/** HF_HUB_OFFLINE: the cached snapshot of the revision, with the files `include` selects; no network. */
function offlinePull(ref: RepoRef, include: readonly string[], env: NodeJS.ProcessEnv, storage: string): PullResult {
  let snapshotDir: string;
  try {
    snapshotDir = resolveCachedSnapshot(ref, env);
  } catch {
    throw new HubError(`HF_HUB_OFFLINE is set and ${formatRepoRef(ref)} is not in the Hugging Face cache (${storage}); unset HF_HUB_OFFLINE to download it`);
  }
  const present = listFiles(snapshotDir);
  const selected = selectFiles(present, include);
  if (include.length > 0 && !present.some((n) => include.some((p) => picomatch(p.endsWith('/') ? `${p}*` : p, { dot: true, bash: true })(n)))) {
    throw new HubError(`HF_HUB_OFFLINE is set and no cached file of ${formatRepoRef(ref)} matches --include ${include.join(' ')}; unset HF_HUB_OFFLINE to download it`);
  }
  const files = selected.map((n) => ({ name: n, sizeBytes: fs.statSync(path.join(snapshotDir, ...n.split('/'))).size, source: 'cached-snapshot' as const }));
  return { repoId: ref.repoId, revision: ref.revision, commit: path.basename(snapshotDir), snapshotDir, offline: true, files, downloadedBytes: 0 };
}
