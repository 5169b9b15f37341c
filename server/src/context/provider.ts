// Cross-file context for a cursor: definitions of imported symbols used near the cursor (resolved to an open document
// or a file under a workspace root) and the most similar chunks of recently edited/viewed documents. Runs on the main
// thread of a transport; the result is plain data (engine/types.ts CrossFileContext) that prompt building consumes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import type { CrossFileChunk, CrossFileContext } from '../engine/types.js';
import { grammarFor, type GrammarName } from '../syntax/index.js';
import { ChunkRing, jaccard, type ChunkRingOptions } from './ring.js';
import { extractDefinitions, identifierSet, identifiersNear, importsOf, type Definition, type ImportInfo } from './symbols.js';
import { WorkspaceFiles, moduleCandidates, type WorkspaceFilesOptions } from './workspace.js';

export interface OpenDocument {
  uri: string;
  languageId: string;
  text: string;
}

export interface CrossFileOptions extends WorkspaceFilesOptions, ChunkRingOptions {
  /** Workspace roots: absolute directories (LSP workspaceFolders / rootUri as paths). Nothing outside is read from disk. */
  roots: readonly string[];
  /** The documents the client has open (their text is used before the file on disk). */
  documents?: () => Iterable<OpenDocument>;
  /** Definitions per request (default 6) and recent chunks per request (default 2). */
  maxDefinitions?: number;
  maxRecent?: number;
  /** Token budget passed on to prompt building (default 256) and the format (default 'comment'). */
  maxTokens?: number;
  format?: 'repo' | 'comment';
  /** Lines of a definition kept whole (longer ones become signatures; default 12). */
  maxDefinitionLines?: number;
}

/** A file: URI's path, or undefined for other schemes and malformed URIs. */
export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

function chunkKey(c: CrossFileChunk): string {
  return `${c.kind}\u0000${c.path}\u0000${c.text}`;
}

export class CrossFileContextProvider {
  private readonly files: WorkspaceFiles;
  private readonly ring: ChunkRing;
  private readonly options: CrossFileOptions;
  private readonly importsCache = new Map<string, { text: string; imports: ImportInfo[] }>();
  private readonly definitionsCache = new LRUCache<string, { text: string; defs: Definition[] }>({ max: 128 });
  /** The last context given per document: kept while the wanted set does not change materially (KV prefix reuse). */
  private readonly sticky = new Map<string, { defKeys: Set<string>; recentKeys: Set<string>; context: CrossFileContext }>();

  constructor(options: CrossFileOptions) {
    this.options = options;
    this.files = new WorkspaceFiles(options.roots, options);
    this.ring = new ChunkRing(options);
  }

  get roots(): readonly string[] {
    return this.files.roots;
  }

  private relPath(uri: string): string {
    const p = uriToPath(uri);
    const rel = p !== undefined ? this.files.relative(p) : undefined;
    return rel ?? (p !== undefined ? path.basename(p) : uri.replace(/^.*[/\\]/, ''));
  }

  /** Records the lines around an edit or a viewed position (0-based line) of a document in the ring. */
  noteDocument(uri: string, text: string, line: number): void {
    this.ring.add(uri, this.relPath(uri), text, line);
  }

  /** Forgets per-document state (the ring keeps its chunks: a closed file was recently viewed). */
  documentClosed(uri: string): void {
    this.importsCache.delete(uri);
    this.sticky.delete(uri);
  }

  private importsOf(uri: string, text: string, grammar: GrammarName): ImportInfo[] {
    // Only the text through the last line that mentions import/require/from is parsed (top-level imports live there),
    // and it is cached: typing below the imports re-parses nothing.
    let end = 0;
    for (const m of text.matchAll(/^.*\b(?:import|require|from)\b.*$/gm)) end = m.index + m[0].length;
    const head = text.slice(0, end);
    const hit = this.importsCache.get(uri);
    if (hit && hit.text === head) return hit.imports;
    const imports = end === 0 ? [] : importsOf(head, grammar);
    this.importsCache.set(uri, { text: head, imports });
    if (this.importsCache.size > 64) this.importsCache.delete(this.importsCache.keys().next().value!);
    return imports;
  }

  /** The text of a file: the open document's when the client has it open, else the file under a root, else undefined. */
  private async textOf(file: string): Promise<{ text: string; languageId?: string } | undefined> {
    for (const d of this.options.documents?.() ?? []) {
      const p = uriToPath(d.uri);
      if (p !== undefined && path.resolve(p) === file) return { text: d.text, languageId: d.languageId };
    }
    const text = await this.files.read(file);
    return text === undefined ? undefined : { text };
  }

  /**
   * Definitions of imported names: those used within a few lines of the cursor first, then the file's other uses of
   * imported names (most used first), at most `maxDefinitions` names: [{path, text, kind: 'definition'}], in file
   * order per source file. Relative imports only (bare package names are not resolved).
   */
  async definitions(doc: OpenDocument, offset: number): Promise<CrossFileChunk[]> {
    const grammar = grammarFor(doc.languageId);
    const file = uriToPath(doc.uri);
    if (!grammar || file === undefined) return [];
    const imports = this.importsOf(doc.uri, doc.text, grammar);
    if (imports.length === 0) return [];
    // Imported names used near the cursor first, then the file's other uses of imported names, most used first (the
    // symbol about to be typed is often not near yet; a file's few imports are a small, stable set).
    const near = identifiersNear(doc.text.slice(0, offset), doc.text.slice(offset));
    const locals = new Set(imports.flatMap((i) => i.bindings.map((b) => b.local)));
    const counts = new Map<string, number>();
    const body = doc.text.split('\n').filter((l) => !/^\s*(import|from)\b|\brequire\s*\(/.test(l)).join('\n');
    for (const m of body.matchAll(/([A-Za-z_$][\w$]*)(?:\s*\.\s*([A-Za-z_$][\w$]*))?/g)) {
      if (!locals.has(m[1]!)) continue;
      const name = m[2] ? `${m[1]}.${m[2]}` : m[1]!;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const nearSet = new Set(near);
    const rest = [...counts].filter(([n]) => !nearSet.has(n)).sort((a, b) => b[1] - a[1]).map(([n]) => n);
    const bySource = new Map<string, string[]>();
    let wantedCount = 0;
    const maxDefs = this.options.maxDefinitions ?? 6;
    for (const ident of [...near, ...rest]) {
      if (wantedCount >= maxDefs) break;
      const [head, member] = ident.split('.') as [string, string | undefined];
      for (const imp of imports) {
        const b = imp.bindings.find((x) => x.local === head);
        if (!b) continue;
        let name: string | undefined;
        if (member === undefined) name = b.imported === '*' ? (grammar === 'python' ? undefined : 'default') : b.imported;
        else name = b.imported === '*' ? member : `${b.imported}.${member}`;
        if (name === undefined) continue;
        const list = bySource.get(imp.source) ?? [];
        if (!list.includes(name)) {
          list.push(name);
          wantedCount++;
        }
        bySource.set(imp.source, list);
      }
    }
    const out: CrossFileChunk[] = [];
    for (const [source, names] of bySource) {
      for (const candidate of moduleCandidates(file, source, grammar, this.files.roots)) {
        const target = path.resolve(candidate);
        if (target === path.resolve(file)) continue;
        const found = await this.textOf(target);
        if (!found) continue;
        const g = grammarFor(found.languageId ?? '') ?? grammarOfPath(target) ?? grammar;
        const key = `${target}\u0000${names.join(',')}`;
        const cached = this.definitionsCache.get(key);
        const defs = cached && cached.text === found.text ? cached.defs : extractDefinitions(found.text, g, names, this.options.maxDefinitionLines ?? 12);
        if (!cached || cached.defs !== defs) this.definitionsCache.set(key, { text: found.text, defs });
        // Members found under 'A.b' also carry A's own definition when it was asked for; keep each text once.
        const seen = new Set<string>();
        const rel = this.files.relative(target) ?? path.basename(target);
        for (const d of defs) {
          if (seen.has(d.text)) continue;
          seen.add(d.text);
          out.push({ path: rel, text: d.text, kind: 'definition' });
        }
        break;
      }
    }
    return out;
  }

  /**
   * The cross-file context of a cursor (UTF-16 offset into doc.text), or undefined when there is nothing to add.
   * Chunks: definitions first (sorted by path, stable while the same symbols are in use), then recent chunks of other
   * documents most similar to the 30 lines around the cursor. The previous context of the document is returned
   * unchanged while no new definition is wanted and the recent chunks mostly agree (Jaccard of their keys ≥ 0.5), so
   * the prompt's leading tokens stay the same and the per-file KV prefix cache keeps hitting.
   */
  async contextFor(doc: OpenDocument, offset: number): Promise<CrossFileContext | undefined> {
    const at = Math.max(0, Math.min(doc.text.length, Math.floor(offset)));
    const defs = await this.definitions(doc, at);
    defs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const before = doc.text.slice(0, at).split('\n').slice(-20).join('\n');
    const after = doc.text.slice(at).split('\n').slice(0, 10).join('\n');
    const query = identifierSet(`${before}\n${after}`);
    const recent = this.ring
      .rank(query, doc.uri, this.options.maxRecent ?? 2)
      .filter((c) => !defs.some((d) => d.path === c.path && c.text.includes(d.text)))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.startLine - b.startLine))
      .map((c): CrossFileChunk => ({ path: c.path, text: c.text, kind: 'recent' }));
    const defKeys = new Set(defs.map((d) => `${d.path}\u0000${d.text.split('\n')[0]}`));
    const recentKeys = new Set(recent.map(chunkKey));
    const prev = this.sticky.get(doc.uri);
    if (prev && [...defKeys].every((k) => prev.defKeys.has(k)) && (recentKeys.size === 0 || jaccard(recentKeys, prev.recentKeys) >= 0.5)) {
      return prev.context.chunks.length ? prev.context : undefined;
    }
    const context: CrossFileContext = {
      repoName: this.repoName(doc.uri),
      path: this.relPath(doc.uri),
      chunks: [...defs, ...recent],
      ...(this.options.maxTokens !== undefined ? { maxTokens: this.options.maxTokens } : {}),
      ...(this.options.format !== undefined ? { format: this.options.format } : {}),
    };
    this.sticky.set(doc.uri, { defKeys, recentKeys, context });
    if (this.sticky.size > 256) this.sticky.delete(this.sticky.keys().next().value!);
    return context.chunks.length ? context : undefined;
  }

  private repoName(uri: string): string {
    const p = uriToPath(uri);
    const root = p !== undefined ? this.files.rootOf(p) : this.files.roots[0];
    return root ? path.basename(root) : '';
  }
}

function grammarOfPath(file: string): GrammarName | undefined {
  const ext = path.extname(file);
  if (ext === '.py') return 'python';
  if (ext === '.tsx') return 'tsx';
  if (ext === '.ts' || ext === '.mts' || ext === '.cts') return 'typescript';
  if (['.js', '.jsx', '.mjs', '.cjs'].includes(ext)) return 'javascript';
  return undefined;
}
