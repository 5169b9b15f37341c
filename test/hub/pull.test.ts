// `models pull` against a local server that answers as the Hugging Face Hub does: cache layout, reuse, resume,
// integrity, --include, HF_TOKEN, HF_HUB_OFFLINE, revisions, refused paths; and repo ids resolved offline.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { hubCacheDir, isSafeRepoFilename, modelDirOrRepo, parseRepoRef, resolveModelDir } from '../../server/src/hub/cache.js';
import { pullModel, selectFiles, type PullEvent } from '../../server/src/hub/pull.js';
import { runModels } from '../../server/src/cli/models.js';
import { ModelLoadError } from '../../server/src/util/errors.js';
import { FakeHub, commitId, gitSha1, readTree, sha256 } from './fake-hub.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const llama = readTree(path.join(ROOT, 'test', 'fixtures', 'models', 'llama'));
const C1 = commitId('first');
const C2 = commitId('second');
// Commit 2 adds a 4-bit variant with external data and a README; its model.onnx is the same blob as commit 1's.
const q4 = Buffer.from(llama['onnx/model.onnx']!).reverse();
const q4Data = Buffer.alloc(3000, 7);
const files2: Record<string, Buffer> = { ...llama, 'onnx/model_q4.onnx': q4, 'onnx/model_q4.onnx_data': q4Data, 'README.md': Buffer.from('# tiny\n') };

const hub = new FakeHub();
let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  hub.addRepo('org/tiny', { refs: { main: C2, v1: C1 }, commits: { [C1]: llama, [C2]: files2 } });
  await hub.start();
});
afterAll(() => hub.stop());
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-hub-'));
  env = { HF_HOME: home, HF_ENDPOINT: hub.hubUrl };
  hub.log.length = 0;
  hub.requiredToken = undefined;
  hub.cutAfterBytes = [];
  hub.corrupt.clear();
  hub.extraSiblings = [];
  hub.etagOverride = undefined;
  hub.chunkBytes = undefined;
  hub.renamed.clear();
});

afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

const storage = () => path.join(home, 'hub', 'models--org--tiny');
const ref = (spec: string) => parseRepoRef(spec)!;
const noDelay = () => 0;

/** Every file under `dir` (relative, '/'-separated), symlinks listed as such. */
function tree(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? tree(path.join(dir, e.name), rel) : [rel];
  });
}

describe('repo references and file names', () => {
  test('org/name[@rev] parses; paths and malformed ids do not; unsafe revisions are refused', () => {
    expect(parseRepoRef('Qwen/Qwen2.5-Coder-0.5B')).toEqual({ repoId: 'Qwen/Qwen2.5-Coder-0.5B', revision: 'main', pinned: false });
    expect(parseRepoRef('onnx-community/x_y.z@refs/pr/3')).toEqual({ repoId: 'onnx-community/x_y.z', revision: 'refs/pr/3', pinned: true });
    for (const notRepo of ['/abs/path', './a/b', 'a/b/c', 'models', 'a--b/c', 'a/-b', 'C:\\models\\x', '../x', 'a/b.']) expect(parseRepoRef(notRepo)).toBeNull();
    for (const bad of ['a/b@', 'a/b@../x', 'a/b@/etc', 'a/b@x\\y']) expect(() => parseRepoRef(bad)).toThrow(/not a usable revision/);
  });

  test('file names that would leave the snapshot are unsafe', () => {
    for (const ok of ['config.json', 'onnx/model.onnx', '..foo', 'a/..b/c']) expect(isSafeRepoFilename(ok)).toBe(true);
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'C:/x', 'a\\..\\x', 'a//b', './a', 'a/', '', 'x\0y']) expect(isSafeRepoFilename(bad)).toBe(false);
  });

  test('an existing directory wins over a repo id of the same spelling; other paths resolve against the base', () => {
    expect(modelDirOrRepo('test/fixtures', ROOT)).toBe(path.join(ROOT, 'test', 'fixtures'));
    expect(modelDirOrRepo('org/tiny', ROOT)).toBe('org/tiny');
    expect(modelDirOrRepo('org/tiny@v1', ROOT)).toBe('org/tiny@v1');
    expect(modelDirOrRepo('no-such-dir', ROOT)).toBe(path.join(ROOT, 'no-such-dir'));
    expect(modelDirOrRepo('./models/x', ROOT)).toBe(path.join(ROOT, 'models', 'x'));
    expect(modelDirOrRepo('/abs/models/x', ROOT)).toBe(path.resolve('/abs/models/x'));
  });

  test('selectFiles takes the matched variant, its external data and the config/tokenizer files', () => {
    const names = ['config.json', 'tokenizer.json', 'README.md', 'onnx/model.onnx', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'cpu/int4/model.onnx', 'cpu/int4/model.onnx.data', 'cpu/int4/genai_config.json', 'gpu/genai_config.json'];
    expect(selectFiles(names, [])).toEqual(names);
    expect(selectFiles(names, ['onnx/model_q4.onnx'])).toEqual(['config.json', 'tokenizer.json', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data']);
    expect(selectFiles(names, ['cpu/int4/'])).toEqual(['config.json', 'tokenizer.json', 'cpu/int4/model.onnx', 'cpu/int4/model.onnx.data', 'cpu/int4/genai_config.json']);
    expect(selectFiles(names, ['*.md'])).toEqual(['config.json', 'tokenizer.json', 'README.md']);
    expect(selectFiles(names, ['nothing*'])).toEqual([]);
  });
});

describe('pullModel', () => {
  test('pulls into the hub cache layout: blobs by ETag, snapshot symlinks, refs/main', async () => {
    const events: PullEvent[] = [];
    const r = await pullModel({ ref: ref('org/tiny@v1'), env, onEvent: (e) => events.push(e) });
    expect(hubCacheDir(env)).toBe(path.join(home, 'hub'));
    expect(r.commit).toBe(C1);
    expect(r.snapshotDir).toBe(path.join(storage(), 'snapshots', C1));
    expect(r.files.map((f) => f.source)).toEqual(Object.keys(llama).map(() => 'downloaded'));
    expect(r.downloadedBytes).toBe(Object.values(llama).reduce((n, b) => n + b.length, 0));
    for (const [name, bytes] of Object.entries(llama)) {
      const pointer = path.join(r.snapshotDir, ...name.split('/'));
      const blobName = name.endsWith('.onnx') ? sha256(bytes) : gitSha1(bytes);
      expect(fs.lstatSync(pointer).isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(pointer)).toBe(path.relative(path.dirname(pointer), path.join(storage(), 'blobs', blobName)));
      expect(fs.readFileSync(pointer).equals(bytes)).toBe(true);
    }
    expect(fs.readFileSync(path.join(storage(), 'refs', 'v1'), 'utf8')).toBe(C1);
    expect(tree(storage()).filter((f) => f.endsWith('.incomplete'))).toEqual([]);
    // The LFS file came from the CDN origin, without the token; size and ETag checks passed.
    expect(hub.requests('cdn', 'GET')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'file-done')).toHaveLength(Object.keys(llama).length);
    // Nothing outside HF_HOME was written.
    expect(fs.readdirSync(home)).toEqual(['hub']);
  });

  test('a second pull downloads nothing; a blob another revision (or HF tool) pulled is reused', async () => {
    await pullModel({ ref: ref('org/tiny@v1'), env });
    hub.log.length = 0;
    const again = await pullModel({ ref: ref('org/tiny@v1'), env });
    expect(again.files.every((f) => f.source === 'cached-snapshot')).toBe(true);
    expect(again.downloadedBytes).toBe(0);
    expect(hub.log.map((r) => `${r.method} ${r.url}`)).toEqual([`GET /api/models/org/tiny/revision/v1`]);

    hub.log.length = 0;
    const main = await pullModel({ ref: ref('org/tiny'), env });
    expect(main.commit).toBe(C2);
    const source = Object.fromEntries(main.files.map((f) => [f.name, f.source]));
    // Same bytes in both commits → the blob is linked, not downloaded again.
    expect(source['onnx/model.onnx']).toBe('cached-blob');
    expect(source['config.json']).toBe('cached-blob');
    expect(source['onnx/model_q4.onnx']).toBe('downloaded');
    expect(hub.requests('cdn', 'GET').map((r) => r.url).sort()).toEqual([`/cdn/${sha256(q4)}`, `/cdn/${sha256(q4Data)}`].sort());
    expect(fs.readFileSync(path.join(storage(), 'refs', 'main'), 'utf8')).toBe(C2);
  });

  test('an interrupted pull (aborted mid-file) leaves <blob>.incomplete and the next pull resumes it with Range', async () => {
    const model = llama['onnx/model.onnx']!;
    hub.chunkBytes = 16_384; // many small writes, so the abort lands mid-file
    const stop = new AbortController();
    const onEvent = (e: PullEvent) => {
      if (e.kind === 'file-progress' && e.bytes >= 100_000) stop.abort();
    };
    await expect(pullModel({ ref: ref('org/tiny@v1'), env, signal: stop.signal, onEvent })).rejects.toThrow();
    const partial = path.join(storage(), 'blobs', `${sha256(model)}.incomplete`);
    const kept = fs.statSync(partial).size;
    expect(kept).toBeGreaterThanOrEqual(100_000);
    expect(kept).toBeLessThan(model.length);
    expect(model.subarray(0, kept).equals(fs.readFileSync(partial))).toBe(true);
    expect(tree(path.join(storage(), 'snapshots'))).toEqual([]);
    expect(fs.existsSync(path.join(storage(), 'refs'))).toBe(false);

    hub.log.length = 0;
    const r = await pullModel({ ref: ref('org/tiny@v1'), env, retries: 0 });
    expect(hub.requests('cdn', 'GET').map((g) => g.headers.range)).toEqual([`bytes=${kept}-`]);
    expect(fs.readFileSync(path.join(r.snapshotDir, 'onnx', 'model.onnx')).equals(model)).toBe(true);
    expect(fs.existsSync(partial)).toBe(false);
  });

  test('a kept partial file that was altered fails the check after resuming, and the next pull starts over', async () => {
    const model = llama['onnx/model.onnx']!;
    hub.chunkBytes = 16_384;
    const stop = new AbortController();
    await expect(pullModel({ ref: ref('org/tiny@v1'), env, signal: stop.signal, onEvent: (e) => void (e.kind === 'file-progress' && e.bytes >= 100_000 && stop.abort()) })).rejects.toThrow();
    const partial = path.join(storage(), 'blobs', `${sha256(model)}.incomplete`);
    const kept = fs.readFileSync(partial);
    kept[10] ^= 0xff;
    fs.writeFileSync(partial, kept);
    await expect(pullModel({ ref: ref('org/tiny@v1'), env })).rejects.toThrow(/integrity check failed/);
    expect(fs.existsSync(partial)).toBe(false);
    hub.log.length = 0;
    const r = await pullModel({ ref: ref('org/tiny@v1'), env });
    expect(hub.requests('cdn', 'GET').map((g) => g.headers.range)).toEqual([undefined]);
    expect(fs.readFileSync(path.join(r.snapshotDir, 'onnx', 'model.onnx')).equals(model)).toBe(true);
  });

  test('a transfer that breaks twice is resumed within the same pull, each retry from the bytes kept', async () => {
    hub.cutAfterBytes = [50_000, 70_000];
    const starts: number[] = [];
    const r = await pullModel({ ref: ref('org/tiny@v1'), env, retryDelayMs: noDelay, onEvent: (e) => void (e.kind === 'file-start' && e.file === 'onnx/model.onnx' && starts.push(e.resumeFromBytes)) });
    // How many of the bytes sent before a cut reach the file depends on timing (a stream that errors drops what it
    // had queued), so the check is that every request resumed exactly where the .incomplete file ended.
    expect(starts).toHaveLength(3);
    expect(hub.requests('cdn', 'GET').map((g) => g.headers.range)).toEqual(starts.map((n) => (n > 0 ? `bytes=${n}-` : undefined)));
    expect(starts[2]).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(r.snapshotDir, 'onnx', 'model.onnx')).equals(llama['onnx/model.onnx']!)).toBe(true);
  });

  test('a download another live process holds is refused; a lock left by a dead process is taken over', async () => {
    const lock = path.join(home, 'hub', '.locks', 'models--org--tiny', `${sha256(llama['onnx/model.onnx']!)}.infill-ls.lock`);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      fs.writeFileSync(lock, String(holder.pid));
      await expect(pullModel({ ref: ref('org/tiny@v1'), env })).rejects.toThrow(new RegExp(`onnx/model\\.onnx is being downloaded by another infill-ls process \\(pid ${holder.pid}`));
    } finally {
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // The holder is gone now: its lock is stale.
    const r = await pullModel({ ref: ref('org/tiny@v1'), env });
    expect(fs.readFileSync(path.join(r.snapshotDir, 'onnx', 'model.onnx')).equals(llama['onnx/model.onnx']!)).toBe(true);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('a lock whose process exited but was never reaped (a zombie) is taken over', async () => {
    // `sh` starts `sleep 1`, prints its pid and execs `sleep 30`, which never waits for it: once `sleep 1` exits it
    // stays a zombie (signal 0 still reaches it) until the parent ends — as a `kill -9`ed pull does under a container
    // init that does not reap. (With `sleep 0` the child could exit before the exec and be reaped by sh itself: then
    // it never became a zombie, seen once on a loaded machine.)
    const lock = path.join(home, 'hub', '.locks', 'models--org--tiny', `${sha256(llama['onnx/model.onnx']!)}.infill-ls.lock`);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    const parent = spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      expect(Number.isInteger(pid) && pid > 0).toBe(true);
      const zombie = (): boolean => {
        const ps = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
        return ps.stdout.trim().startsWith('Z');
      };
      for (let i = 0; i < 100 && !zombie(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(zombie(), `pid ${pid} did not become a zombie`).toBe(true);
      expect(() => process.kill(pid, 0)).not.toThrow(); // signal 0 alone would call it alive
      fs.writeFileSync(lock, String(pid));
      const r = await pullModel({ ref: ref('org/tiny@v1'), env });
      expect(fs.readFileSync(path.join(r.snapshotDir, 'onnx', 'model.onnx')).equals(llama['onnx/model.onnx']!)).toBe(true);
      expect(fs.existsSync(lock)).toBe(false);
    } finally {
      parent.kill();
    }
  });

  test('corrupt bytes fail the integrity check: an error, no blob, nothing in snapshots, no ref', async () => {
    hub.corrupt.add(sha256(llama['onnx/model.onnx']!));
    await expect(pullModel({ ref: ref('org/tiny@v1'), env })).rejects.toThrow(/onnx\/model\.onnx: integrity check failed \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\)/);
    expect(tree(path.join(storage(), 'snapshots'))).toEqual([]);
    expect(tree(path.join(storage(), 'blobs')).filter((b) => b.startsWith(sha256(llama['onnx/model.onnx']!)))).toEqual([]);
    expect(fs.existsSync(path.join(storage(), 'refs'))).toBe(false);
    // Without the fault the same command succeeds.
    hub.corrupt.clear();
    await expect(pullModel({ ref: ref('org/tiny@v1'), env })).resolves.toMatchObject({ commit: C1 });
  });

  test('--include takes one ONNX variant with its external data, plus config and tokenizer files', async () => {
    const r = await pullModel({ ref: ref('org/tiny'), env, include: ['onnx/model_q4.onnx'] });
    expect(r.files.map((f) => f.name).sort()).toEqual(['config.json', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'tokenizer.json', 'tokenizer_config.json']);
    expect(tree(r.snapshotDir).sort()).toEqual(['config.json', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'tokenizer.json', 'tokenizer_config.json']);
    expect(hub.requests('cdn', 'GET').some((g) => g.url === `/cdn/${sha256(llama['onnx/model.onnx']!)}`)).toBe(false);
    await expect(pullModel({ ref: ref('org/tiny'), env, include: ['onnx/model_fp16.onnx'] })).rejects.toThrow(/no file of org\/tiny matches --include onnx\/model_fp16\.onnx; its ONNX files: onnx\/model\.onnx, onnx\/model_q4\.onnx/);
  });

  test('HF_TOKEN is sent to the Hub as a bearer token, never to the CDN; without it a private repo fails clearly', async () => {
    hub.requiredToken = 'hf_secret';
    await expect(pullModel({ ref: ref('org/tiny@v1'), env })).rejects.toThrow(/HTTP 401 RepoNotFound.*set HF_TOKEN/);
    await expect(pullModel({ ref: ref('org/tiny@v1'), env: { ...env, HF_TOKEN: 'hf_wrong' } })).rejects.toThrow(/HF_TOKEN was sent/);
    hub.log.length = 0;
    await pullModel({ ref: ref('org/tiny@v1'), env: { ...env, HF_TOKEN: 'hf_secret' } });
    expect(hub.requests('hub').length).toBeGreaterThan(1);
    for (const r of hub.requests('hub')) expect(r.headers.authorization).toBe('Bearer hf_secret');
    expect(hub.requests('cdn')).not.toHaveLength(0);
    for (const r of hub.requests('cdn')) expect(r.headers.authorization).toBeUndefined();
  });

  test('HF_HUB_OFFLINE: no request at all; fails clearly when not cached, succeeds from the cache', async () => {
    const offline = { ...env, HF_HUB_OFFLINE: '1' };
    await expect(pullModel({ ref: ref('org/tiny@v1'), env: offline })).rejects.toThrow(/HF_HUB_OFFLINE is set and org\/tiny@v1 is not in the Hugging Face cache/);
    expect(hub.log).toEqual([]);
    await pullModel({ ref: ref('org/tiny@v1'), env });
    hub.log.length = 0;
    const r = await pullModel({ ref: ref('org/tiny@v1'), env: offline });
    expect(r).toMatchObject({ offline: true, commit: C1, downloadedBytes: 0 });
    expect(r.files.map((f) => f.name).sort()).toEqual(Object.keys(llama).sort());
    await expect(pullModel({ ref: ref('org/tiny@v1'), env: offline, include: ['onnx/model_q4.onnx'] })).rejects.toThrow(/no cached file of org\/tiny@v1 matches/);
    expect(hub.log).toEqual([]);
  });

  test('an unreachable Hub is a clear error, which says when the model is already cached', async () => {
    // A port that was just free: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const down = { ...env, HF_ENDPOINT: `http://127.0.0.1:${port}` };
    await expect(pullModel({ ref: ref('org/tiny@v1'), env: down })).rejects.toThrow(new RegExp(`^cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
    await pullModel({ ref: ref('org/tiny@v1'), env });
    await expect(pullModel({ ref: ref('org/tiny@v1'), env: down })).rejects.toThrow(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED; org/tiny@v1 is already in the cache (commit ${C1}) and loads without network`);
  });

  test('a renamed repository is followed through relative redirects and cached under the name asked for', async () => {
    hub.renamed.set('old/tiny', 'org/tiny');
    const r = await pullModel({ ref: ref('old/tiny@v1'), env });
    expect(r.snapshotDir).toBe(path.join(home, 'hub', 'models--old--tiny', 'snapshots', C1));
    expect(fs.readFileSync(path.join(r.snapshotDir, 'onnx', 'model.onnx')).equals(llama['onnx/model.onnx']!)).toBe(true);
    expect(hub.requests('hub', 'HEAD').some((q) => q.url.startsWith('/old/tiny/resolve/'))).toBe(true);
    expect(hub.requests('hub', 'HEAD').some((q) => q.url.startsWith('/org/tiny/resolve/'))).toBe(true);
  });

  test('revisions: a tag and a commit id pin the snapshot; a commit id writes no ref', async () => {
    const byCommit = await pullModel({ ref: ref(`org/tiny@${C1}`), env });
    expect(byCommit.snapshotDir).toBe(path.join(storage(), 'snapshots', C1));
    expect(fs.existsSync(path.join(storage(), 'refs'))).toBe(false);
    const main = await pullModel({ ref: ref('org/tiny'), env, include: ['onnx/model_q4.onnx'] });
    expect(main.commit).toBe(C2);
    expect(fs.readFileSync(path.join(main.snapshotDir, 'onnx', 'model_q4.onnx')).equals(q4)).toBe(true);
    expect(fs.existsSync(path.join(byCommit.snapshotDir, 'onnx', 'model_q4.onnx'))).toBe(false);
    await expect(pullModel({ ref: ref('org/tiny@v9'), env })).rejects.toThrow(/HTTP 404 RevisionNotFound \(no revision "v9"\)/);
    await expect(pullModel({ ref: ref('org/nope'), env })).rejects.toThrow(/org\/nope on http:\/\/127\.0\.0\.1:\d+: HTTP 404 RepoNotFound/);
  });

  test('a listing with a file name that escapes the snapshot is refused before anything is written', async () => {
    for (const evil of ['../../../evil.json', '/tmp/evil.json', 'onnx\\..\\..\\evil.json']) {
      hub.extraSiblings = [evil];
      hub.log.length = 0;
      await expect(pullModel({ ref: ref('org/tiny@v1'), env })).rejects.toThrow(/refusing the repository file name/);
      expect(hub.log).toHaveLength(1); // only the listing
      expect(fs.existsSync(path.join(home, 'hub'))).toBe(false);
    }
  });

  test('an ETag that is not a plain name is refused as a blob name', async () => {
    hub.etagOverride = '../../../../evil';
    await expect(pullModel({ ref: ref('org/tiny@v1'), env })).rejects.toThrow(/refusing the ETag/);
    expect(tree(home).some((f) => f.includes('evil'))).toBe(false);
  });
});

describe('repo ids as model directories (offline)', () => {
  test('resolve to the cached snapshot of their revision; uncached ones say to run models pull', async () => {
    expect(() => resolveModelDir('org/tiny', env)).toThrow(ModelLoadError);
    expect(() => resolveModelDir('org/tiny', env)).toThrow(/^org\/tiny: no such directory, and not in the Hugging Face cache \(.*models--org--tiny\); to use the Hub model org\/tiny, download it first with: infill-ls models pull org\/tiny$/);
    await pullModel({ ref: ref('org/tiny@v1'), env });
    hub.log.length = 0;
    expect(resolveModelDir('org/tiny@v1', env)).toBe(path.join(storage(), 'snapshots', C1));
    expect(resolveModelDir(`org/tiny@${C1}`, env)).toBe(path.join(storage(), 'snapshots', C1));
    expect(() => resolveModelDir('org/tiny@main', env)).toThrow(/infill-ls models pull org\/tiny@main/);
    expect(resolveModelDir(path.join(ROOT, 'test'), env)).toBe(path.join(ROOT, 'test'));
    expect(() => resolveModelDir('org/tiny@../../x', env)).toThrow(/^org\/tiny@\.\.\/\.\.\/x: "\.\.\/\.\.\/x" is not a usable revision/);
    expect(hub.log).toEqual([]);
  });
});

describe('infill-ls models (the command as a function)', () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s), env }, out, err };
  }

  test('pull prints the snapshot folder; progress lines and the summary go to stderr', async () => {
    const c = capture();
    expect(await runModels(['pull', 'org/tiny@v1', '--include', 'onnx/model.onnx'], c.io)).toBe(0);
    expect(c.out.join('')).toBe(`${path.join(storage(), 'snapshots', C1)}\n`);
    const err = c.err.join('');
    expect(err).toMatch(/downloaded onnx\/model\.onnx \(\d+ KiB\)/);
    expect(err).toMatch(/4 files downloaded .*0 already cached/);
    expect(err).toMatch(/--model org\/tiny@v1/);
    // Offline after a partial (--include) pull: the files in the cache, and no claim that the repository is complete.
    const o = capture();
    o.io.env = { ...env, HF_HUB_OFFLINE: '1' };
    expect(await runModels(['pull', 'org/tiny@v1'], o.io)).toBe(0);
    expect(o.err.join('')).toMatch(/HF_HUB_OFFLINE: 4 cached files of org\/tiny@v1; nothing downloaded \(offline, the repository's own file list cannot be read/);
  });

  test('usage errors exit 2, download errors exit 1 with the message', async () => {
    let c = capture();
    expect(await runModels(['pull'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/give a repository id/);
    c = capture();
    expect(await runModels(['pull', './local/dir'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/not a repository id of the form org\/name/);
    c = capture();
    expect(await runModels(['fetch', 'org/tiny'], c.io)).toBe(2);
    c = capture();
    expect(await runModels(['pull', 'org/nope'], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/infill-ls models pull: org\/nope on .*404 RepoNotFound/);
    c = capture();
    expect(await runModels(['--help'], c.io)).toBe(0);
    expect(c.out.join('')).toMatch(/HF_HUB_OFFLINE/);
  });
});
