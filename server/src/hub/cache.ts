// The Hugging Face Hub cache on disk: repo references (`org/name[@rev]`), the cache folder, and offline snapshot lookup.
//
// Layout (the one huggingface_hub writes, so files other HF tools pulled are reused):
//   $HF_HUB_CACHE/models--{org}--{name}/
//     blobs/<etag>                 file contents, named by the Hub's ETag (sha256 for LFS files, git blob sha1 otherwise)
//     snapshots/<commit>/<file>    relative symlinks into blobs/ (copies where symlinks are not allowed)
//     refs/<revision>              the commit a branch or tag pointed to when it was last pulled
// Source: huggingface_hub src/huggingface_hub/file_download.py and constants.py (read, not copied).
// Never touches the network: this is what model loading uses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelLoadError } from '../util/errors.js';

/** A model repository on the Hub at a revision (branch, tag or 40-hex commit). */
export interface RepoRef {
  /** `org/name`. */
  repoId: string;
  /** Branch, tag or commit; 'main' when the reference names none. */
  revision: string;
  /** Whether the reference named a revision (`@rev`). */
  pinned: boolean;
}

export class HubError extends Error {
  override readonly name = 'HubError';
}

/** A full commit id, the form snapshot folders are named by. */
export const COMMIT_RE = /^[0-9a-f]{40}$/;

// The Hub's repo name rules: letters, digits, '-', '_', '.'; no '--' or '..'; no leading/trailing '-' or '.'; 96 chars.
const NAME_PART = /^(?![-.])(?!.*--)(?!.*\.\.)[A-Za-z0-9_.-]{1,96}(?<![-.])$/;

/** Whether `revision` is safe as a path under refs/ (no '..' or empty segments, no absolute or backslash path). */
export function isSafeRevision(revision: string): boolean {
  if (revision.length === 0 || revision.length > 255 || /[\\\0\s:]/.test(revision)) return false;
  return revision.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/**
 * Parses `org/name` or `org/name@revision`; null when `spec` is not of that form (a path, say).
 * Throws HubError when the form is right but the revision is unsafe as a path (`org/name@../x`).
 */
export function parseRepoRef(spec: string): RepoRef | null {
  const at = spec.indexOf('@');
  const id = at === -1 ? spec : spec.slice(0, at);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME_PART.test(p))) return null;
  if (at === -1) return { repoId: id, revision: 'main', pinned: false };
  const revision = spec.slice(at + 1);
  if (!isSafeRevision(revision)) throw new HubError(`${JSON.stringify(revision)} is not a usable revision (a branch, tag or commit id) in ${JSON.stringify(spec)}`);
  return { repoId: id, revision, pinned: true };
}

/** `org/name@rev` (without `@main` when no revision was named). */
export function formatRepoRef(ref: RepoRef): string {
  return ref.pinned ? `${ref.repoId}@${ref.revision}` : ref.repoId;
}

function envTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.trim().toUpperCase());
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1/on/yes/true, as huggingface_hub reads it. */
export function hubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return envTrue(env['HF_HUB_OFFLINE'] || env['TRANSFORMERS_OFFLINE']);
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** The hub cache folder: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub (HF_HOME defaults to $XDG_CACHE_HOME/huggingface, ~/.cache/huggingface). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'];
  if (explicit) return path.resolve(expandHome(explicit));
  const home = env['HF_HOME'] ? expandHome(env['HF_HOME']) : path.join(env['XDG_CACHE_HOME'] ? expandHome(env['XDG_CACHE_HOME']) : path.join(os.homedir(), '.cache'), 'huggingface');
  return path.resolve(home, 'hub');
}

/** `models--{org}--{name}`: the repo's folder under the hub cache. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** The cache folder of one repository. */
export function repoStorageDir(cacheDir: string, repoId: string): string {
  return path.join(cacheDir, repoFolderName(repoId));
}

/**
 * Whether a Hub file name (`siblings[].rfilename`, '/'-separated) stays inside the folder it is joined to:
 * no absolute, drive or UNC path, no backslash, no '.', '..' or empty segment, no NUL.
 */
export function isSafeRepoFilename(name: string): boolean {
  if (name.length === 0 || name.length > 1024 || /[\\\0]/.test(name) || name.startsWith('/') || /^[A-Za-z]:/.test(name)) return false;
  return name.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..' && !/^[A-Za-z]:/.test(seg));
}

/** The local path of Hub file `name` under `dir`; throws HubError when the name would escape `dir`. */
export function joinRepoFilename(dir: string, name: string): string {
  if (!isSafeRepoFilename(name)) throw new HubError(`refusing the file name ${JSON.stringify(name)}: it would be written outside ${dir}`);
  const p = path.join(dir, ...name.split('/'));
  const rel = path.relative(dir, p);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) throw new HubError(`refusing the file name ${JSON.stringify(name)}: it would be written outside ${dir}`);
  return p;
}

/** The commit a revision names in the cache: itself when it is a commit id, else the content of refs/<revision>. */
export function cachedCommit(storageDir: string, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return revision;
  if (!isSafeRevision(revision)) return undefined;
  try {
    const commit = fs.readFileSync(path.join(storageDir, 'refs', ...revision.split('/')), 'utf8').trim();
    return COMMIT_RE.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The snapshot folder of `ref` in the hub cache, without any network access.
 * Throws ModelLoadError('missing-file') saying to run `infill-ls models pull` when the revision is not cached.
 */
export function resolveCachedSnapshot(ref: RepoRef, env: NodeJS.ProcessEnv = process.env): string {
  const storage = repoStorageDir(hubCacheDir(env), ref.repoId);
  const commit = cachedCommit(storage, ref.revision);
  const dir = commit === undefined ? undefined : path.join(storage, 'snapshots', commit);
  if (dir === undefined || !fs.existsSync(dir)) {
    const spec = formatRepoRef(ref);
    throw new ModelLoadError('missing-file', spec, `no such directory, and not in the Hugging Face cache (${storage}); to use the Hub model ${spec}, download it first with: infill-ls models pull ${spec}`);
  }
  return dir;
}

/**
 * What a `modelDir` setting or `--model` value names: an existing directory (resolved against `baseDir`) wins;
 * otherwise a repo reference `org/name[@rev]` stays as given (resolved in the cache when the model loads);
 * otherwise the resolved path (which then fails to load with "model directory not found").
 */
export function modelDirOrRepo(spec: string, baseDir: string): string {
  const local = path.resolve(baseDir, spec);
  if (fs.existsSync(local)) return local;
  try {
    return parseRepoRef(spec) ? spec : local;
  } catch {
    return spec; // an unsafe revision: the loader reports it
  }
}

/**
 * The model directory to load for `spec`: an existing path as is, a repo reference's cached snapshot folder
 * (offline), else `spec` unchanged. Throws ModelLoadError for a repo reference that is not cached or unsafe.
 */
export function resolveModelDir(spec: string, env: NodeJS.ProcessEnv = process.env): string {
  if (fs.existsSync(spec)) return spec;
  let ref: RepoRef | null;
  try {
    ref = parseRepoRef(spec);
  } catch (e) {
    throw new ModelLoadError('missing-file', spec, (e as Error).message);
  }
  return ref ? resolveCachedSnapshot(ref, env) : spec;
}
