// Reading files of the workspace for cross-file context: only regular files whose real path (symlinks resolved) lies
// under a workspace root's real path, at most `maxFileBytes` each, cached in a bounded LRU keyed by path + mtime.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import type { GrammarName } from '../syntax/index.js';

export interface WorkspaceFilesOptions {
  /** Largest file read (default 256 KiB); larger files are ignored. */
  maxFileBytes?: number;
  /** Files kept in the cache (default 64). */
  maxCachedFiles?: number;
}

/** `child` equals `root` or lies below it (both absolute, normalized). */
export function isWithin(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export class WorkspaceFiles {
  readonly roots: readonly string[];
  private realRoots: Promise<string[]> | undefined;
  private readonly maxFileBytes: number;
  private readonly cache: LRUCache<string, { mtimeMs: number; size: number; text: string }>;

  /** `roots`: absolute directories (workspace folders); relative or empty entries are ignored. */
  constructor(roots: readonly string[], options: WorkspaceFilesOptions = {}) {
    this.roots = roots.filter((r) => typeof r === 'string' && path.isAbsolute(r)).map((r) => path.resolve(r));
    this.maxFileBytes = options.maxFileBytes ?? 256 * 1024;
    this.cache = new LRUCache({ max: Math.max(1, options.maxCachedFiles ?? 64) });
  }

  private async reals(): Promise<string[]> {
    this.realRoots ??= Promise.all(this.roots.map((r) => fs.realpath(r).catch(() => null))).then((list) => list.filter((r): r is string => r !== null));
    return this.realRoots;
  }

  /** The root `file` lies under (lexically), or undefined. */
  rootOf(file: string): string | undefined {
    const abs = path.resolve(file);
    return this.roots.filter((r) => isWithin(r, abs)).sort((a, b) => b.length - a.length)[0];
  }

  /** `file` relative to its root with '/' separators, or undefined outside every root. */
  relative(file: string): string | undefined {
    const root = this.rootOf(file);
    return root === undefined ? undefined : path.relative(root, path.resolve(file)).split(path.sep).join('/');
  }

  /**
   * Reads `file` when it lies under a root both lexically and after resolving symlinks (realpath), is a regular file
   * and at most maxFileBytes; else undefined. Never throws (missing files, permissions, races give undefined).
   */
  async read(file: string): Promise<string | undefined> {
    const abs = path.resolve(file);
    if (this.rootOf(abs) === undefined) return undefined;
    try {
      const real = await fs.realpath(abs);
      const roots = await this.reals();
      if (!roots.some((r) => isWithin(r, real))) return undefined;
      const stat = await fs.stat(real);
      if (!stat.isFile() || stat.size > this.maxFileBytes) return undefined;
      const hit = this.cache.get(real);
      if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) return hit.text;
      const handle = await fs.open(real, 'r');
      try {
        const buf = Buffer.alloc(Math.min(stat.size, this.maxFileBytes));
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        const text = buf.subarray(0, bytesRead).toString('utf8');
        if (text.includes('\u0000')) return undefined; // binary
        this.cache.set(real, { mtimeMs: stat.mtimeMs, size: stat.size, text });
        return text;
      } finally {
        await handle.close();
      }
    } catch {
      return undefined;
    }
  }
}

const JS_EXTS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs'];

/**
 * Candidate files of an import specifier, most likely first (pure path arithmetic; the caller reads the first that
 * exists). JS/TS: relative specifiers only ('./x', '../x/y.js' → y.ts first, as TypeScript's ESM resolution maps it),
 * with extensions and index files. Python: relative modules ('.x', '..pkg.x') from the file's package, absolute
 * ('pkg.x') from each root, its 'src/' and the file's directory, as `x.py` or `x/__init__.py`. Bare npm packages → [].
 */
export function moduleCandidates(fromFile: string, source: string, grammar: GrammarName, roots: readonly string[]): string[] {
  const dir = path.dirname(fromFile);
  if (grammar === 'python') {
    const m = /^(\.*)([\w.]*)$/.exec(source);
    if (!m) return [];
    const dots = m[1]!.length;
    const parts = m[2] ? m[2].split('.').filter(Boolean) : [];
    const bases: string[] = [];
    if (dots > 0) {
      let base = dir;
      for (let i = 1; i < dots; i++) base = path.dirname(base);
      bases.push(path.join(base, ...parts));
    } else if (parts.length) {
      for (const r of roots) bases.push(path.join(r, ...parts), path.join(r, 'src', ...parts));
      bases.push(path.join(dir, ...parts));
    }
    return bases.flatMap((b) => (parts.length ? [`${b}.py`, path.join(b, '__init__.py')] : [path.join(b, '__init__.py')]));
  }
  if (!source.startsWith('./') && !source.startsWith('../') && source !== '.' && source !== '..') return [];
  const base = path.resolve(dir, source);
  const ext = path.extname(base);
  const out: string[] = [];
  if (JS_EXTS.includes(ext)) {
    const stem = base.slice(0, -ext.length);
    if (ext === '.js' || ext === '.jsx') out.push(`${stem}.ts`, `${stem}.tsx`);
    if (ext === '.mjs') out.push(`${stem}.mts`);
    if (ext === '.cjs') out.push(`${stem}.cts`);
    out.push(base);
  } else {
    out.push(...JS_EXTS.map((e) => base + e), ...JS_EXTS.slice(0, 5).map((e) => path.join(base, `index${e}`)));
  }
  return out;
}
