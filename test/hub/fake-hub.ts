// A local HTTP server that serves model repositories the way the Hugging Face Hub does, for tests without network.
//
// Hub side: GET /api/models/{repo}/revision/{rev} (sha + siblings); HEAD/GET /{repo}/resolve/{rev}/{file}: small files
// answer 200 with ETag = git blob sha1; LFS files (*.onnx*) answer 302 with X-Linked-Etag = sha256, X-Linked-Size
// and an absolute Location on a second server (the "CDN", another origin), which serves the bytes with Range support.
// Knobs: a token to require, byte-level interruption and corruption of CDN answers, a request log.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface FakeRepo {
  /** revision (branch/tag) → commit */
  refs: Record<string, string>;
  /** commit → file name → content */
  commits: Record<string, Record<string, Buffer>>;
}

export const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const isLfs = (name: string): boolean => /\.onnx(?:_data|\.data)?$/.test(name);

/** Reads a fixture folder into { relative '/'-path → bytes }. */
export function readTree(dir: string, prefix = ''): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, readTree(path.join(dir, e.name), rel));
    else out[rel] = fs.readFileSync(path.join(dir, e.name));
  }
  return out;
}

/** A deterministic 40-hex commit id from a label. */
export const commitId = (label: string): string => createHash('sha1').update(label).digest('hex');

export class FakeHub {
  readonly log: LoggedRequest[] = [];
  readonly repos = new Map<string, FakeRepo>();
  /** When set, the Hub answers 401 without "Authorization: Bearer <token>". */
  requiredToken: string | undefined;
  /** CDN GETs to break: each entry sends that many bytes of the answer, then closes the connection (consumed in order). */
  cutAfterBytes: number[] = [];
  /** sha256 of LFS contents whose CDN bytes are served with one byte flipped. */
  corrupt = new Set<string>();
  /** Extra siblings listed (not served), to test file-name checks. */
  extraSiblings: string[] = [];
  /** When set, the CDN writes bodies in pieces of this many bytes, one per event-loop turn. */
  chunkBytes: number | undefined;
  /** Renamed repositories (old id → new id): their URLs answer 307 with a relative Location, as the Hub does. */
  renamed = new Map<string, string>();
  /** When set, HEAD of LFS files answers this X-Linked-Etag instead of the sha256. */
  etagOverride: string | undefined;
  private hub!: http.Server;
  private cdn!: http.Server;
  private blobs = new Map<string, Buffer>();
  hubUrl = '';
  cdnUrl = '';

  addRepo(repoId: string, repo: FakeRepo): void {
    this.repos.set(repoId, repo);
    for (const files of Object.values(repo.commits)) for (const b of Object.values(files)) this.blobs.set(sha256(b), b);
  }

  async start(): Promise<void> {
    this.hub = http.createServer((req, res) => this.onHub(req, res));
    this.cdn = http.createServer((req, res) => this.onCdn(req, res));
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    // Another origin (localhost vs 127.0.0.1), as a CDN is: the token must not follow the redirect there.
    this.cdnUrl = `http://localhost:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  }

  requests(server?: 'hub' | 'cdn', method?: string): LoggedRequest[] {
    return this.log.filter((r) => (server === undefined || r.server === server) && (method === undefined || r.method === method));
  }

  private onHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log.push({ server: 'hub', method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const fail = (status: number, code: string) => {
      res.writeHead(status, { 'X-Error-Code': code, 'X-Error-Message': `${code} (fake hub)` });
      res.end();
    };
    if (this.requiredToken !== undefined && req.headers.authorization !== `Bearer ${this.requiredToken}`) return fail(401, 'RepoNotFound');
    const url = new URL(req.url ?? '/', this.hubUrl);
    for (const [from, to] of this.renamed) {
      if (url.pathname.startsWith(`/${from}/`) || url.pathname.startsWith(`/api/models/${from}/`)) {
        res.writeHead(307, { Location: url.pathname.replace(`/${from}/`, `/${to}/`) + url.search });
        res.end();
        return;
      }
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const repo = this.repos.get(api[1]!);
      if (!repo) return fail(404, 'RepoNotFound');
      const commit = this.commitOf(repo, decodeURIComponent(api[2]!));
      if (!commit) return fail(404, 'RevisionNotFound');
      const siblings = [...Object.keys(repo.commits[commit]!), ...this.extraSiblings].map((rfilename) => ({ rfilename }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: api[1], modelId: api[1], sha: commit, siblings }));
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const repo = this.repos.get(resolve[1]!);
      if (!repo) return fail(404, 'RepoNotFound');
      const commit = this.commitOf(repo, decodeURIComponent(resolve[2]!));
      if (!commit) return fail(404, 'RevisionNotFound');
      const name = resolve[3]!.split('/').map(decodeURIComponent).join('/');
      const body = repo.commits[commit]![name];
      if (!body) return fail(404, 'EntryNotFound');
      if (isLfs(name)) {
        const oid = sha256(body);
        res.writeHead(302, {
          Location: `${this.cdnUrl}/cdn/${oid}`,
          'X-Repo-Commit': commit,
          'X-Linked-Etag': `"${this.etagOverride ?? oid}"`,
          'X-Linked-Size': String(body.length),
          ETag: `"${gitSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${body.length}\n`))}"`,
        });
        res.end();
        return;
      }
      res.writeHead(200, { 'X-Repo-Commit': commit, ETag: `"${gitSha1(body)}"`, 'Content-Length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    fail(404, 'EntryNotFound');
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log.push({ server: 'cdn', method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const m = /^\/cdn\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const blob = m ? this.blobs.get(m[1]!) : undefined;
    if (!blob) {
      res.writeHead(404);
      res.end();
      return;
    }
    let body = blob;
    if (this.corrupt.has(m![1]!)) {
      body = Buffer.from(blob);
      body[body.length >> 1] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`, 'Content-Length': String(body.length - start), 'Accept-Ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes' });
    }
    const part = body.subarray(start);
    const cut = req.method === 'GET' ? this.cutAfterBytes.shift() : undefined;
    if (cut !== undefined && cut < part.length) {
      // Close after the bytes (FIN): the body ends early.
      res.write(part.subarray(0, cut), () => setTimeout(() => res.socket?.end(), 50));
      return;
    }
    if (req.method === 'HEAD') return void res.end();
    const piece = this.chunkBytes;
    if (piece === undefined) return void res.end(part);
    let at = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (at >= part.length) return void res.end();
      res.write(part.subarray(at, at + piece), () => setImmediate(next));
      at += piece;
    };
    next();
  }

  private commitOf(repo: FakeRepo, rev: string): string | undefined {
    if (repo.commits[rev]) return rev;
    return repo.refs[rev];
  }
}
