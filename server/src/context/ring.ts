// A ring buffer of chunks of recently edited or viewed documents, deduplicated and ranked by Jaccard similarity of
// identifier sets to the cursor's neighbourhood (llama.vim's extra-context ring; Copilot's "similar files"). Pure.
import { identifierSet, jaccard } from '../prompt/far-context.js';

export { jaccard };

export interface RingChunk {
  /** Document URI (the dedup key with the line range). */
  uri: string;
  /** Workspace-relative path for the prompt. */
  path: string;
  /** First line (0-based) and the text of the chunk's lines. */
  startLine: number;
  text: string;
  /** Identifier set of `text`. */
  ids: Set<string>;
  /** Monotonic insertion counter (newer is larger). */
  seq: number;
}

export interface ChunkRingOptions {
  /** Chunks kept (default 16, llama.vim's ring size). */
  capacity?: number;
  /** Lines per chunk (default 32). */
  chunkLines?: number;
  /** A new chunk whose identifier set is this similar to a kept one replaces it (default 0.9). */
  dedupJaccard?: number;
}

export class ChunkRing {
  private readonly chunks: RingChunk[] = [];
  private seq = 0;
  readonly capacity: number;
  readonly chunkLines: number;
  private readonly dedup: number;

  constructor(options: ChunkRingOptions = {}) {
    this.capacity = Math.max(1, Math.floor(options.capacity ?? 16));
    this.chunkLines = Math.max(1, Math.floor(options.chunkLines ?? 32));
    this.dedup = options.dedupJaccard ?? 0.9;
  }

  /**
   * Records the `chunkLines` lines of `text` centred on 0-based `line` (clamped). A kept chunk of the same document
   * whose lines overlap it, or any kept chunk with near-identical identifiers, is replaced; the oldest chunk goes
   * when the ring is full. Blank chunks are ignored. Returns the chunk kept, or undefined.
   */
  add(uri: string, path: string, text: string, line: number): RingChunk | undefined {
    const lines = text.split('\n');
    const half = Math.floor(this.chunkLines / 2);
    const start = Math.max(0, Math.min(Math.max(0, lines.length - this.chunkLines), Math.floor(line) - half));
    const body = lines.slice(start, start + this.chunkLines).join('\n');
    if (body.trim() === '') return undefined;
    const ids = identifierSet(body);
    const end = start + this.chunkLines;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      const sameRange = c.uri === uri && c.startLine < end && start < c.startLine + this.chunkLines;
      if (sameRange || jaccard(c.ids, ids) >= this.dedup) this.chunks.splice(i, 1);
    }
    const chunk: RingChunk = { uri, path, startLine: start, text: body, ids, seq: ++this.seq };
    this.chunks.push(chunk);
    while (this.chunks.length > this.capacity) this.chunks.shift();
    return chunk;
  }

  /** Forgets a document's chunks. */
  remove(uri: string): void {
    for (let i = this.chunks.length - 1; i >= 0; i--) if (this.chunks[i]!.uri === uri) this.chunks.splice(i, 1);
  }

  get size(): number {
    return this.chunks.length;
  }

  /**
   * The `k` chunks most similar to `query` (Jaccard over identifier sets; ties: newer first), leaving out chunks of
   * `excludeUri` and those below `minSimilarity` (default 0.1).
   */
  rank(query: ReadonlySet<string>, excludeUri: string | undefined, k: number, minSimilarity = 0.1): Array<RingChunk & { similarity: number }> {
    return this.chunks
      .filter((c) => c.uri !== excludeUri)
      .map((c) => ({ ...c, similarity: jaccard(query, c.ids) }))
      .filter((c) => c.similarity >= minSimilarity)
      .sort((a, b) => b.similarity - a.similarity || b.seq - a.seq)
      .slice(0, Math.max(0, k));
  }
}
