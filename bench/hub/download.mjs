// Download throughput of `models pull` (node's fetch, streamed and hashed into <blob>.incomplete) against
// curl on the same loopback server, ABBA-interleaved. Writes bench/results/hub-download.{json,md}.
// Usage: npm run build && node bench/hub/download.mjs [--mib 256] [--rounds 2]
// The server answers as the Hugging Face Hub does (api listing, HEAD with X-Linked-Etag, 302 to a blob URL).
import '../lib/help.mjs';
import { execFile, execFileSync, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { pullModel } = await import(path.join(root, 'server/dist/hub/pull.js'));
const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, rounds: { type: 'string', default: '2' }, serve: { type: 'boolean' } } });
const mib = Number(values.mib);
const rounds = Number(values.rounds);

const blobBytes = mib << 20;

if (values.serve) {
  // The server, in its own process: the pulling process must not also serve.
  const blob = randomBytes(blobBytes);
  const oid = createHash('sha256').update(blob).digest('hex');
  const config = Buffer.from('{"model_type":"llama"}');
  const configSha1 = createHash('sha1').update(`blob ${config.length}\0`).update(config).digest('hex');
  const commit = createHash('sha1').update('bench').digest('hex');
  let port = 0;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/api/models/bench/model/revision/')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ sha: commit, siblings: [{ rfilename: 'config.json' }, { rfilename: 'onnx/model.onnx' }] }));
    }
    if (url === `/bench/model/resolve/${commit}/config.json`) {
      res.writeHead(200, { ETag: `"${configSha1}"`, 'Content-Length': String(config.length), 'X-Repo-Commit': commit });
      return void res.end(req.method === 'HEAD' ? undefined : config);
    }
    if (url === `/bench/model/resolve/${commit}/onnx/model.onnx`) {
      res.writeHead(302, { Location: `http://127.0.0.1:${port}/blob`, 'X-Linked-Etag': `"${oid}"`, 'X-Linked-Size': String(blob.length), 'X-Repo-Commit': commit });
      return void res.end();
    }
    if (url === '/blob') {
      res.writeHead(200, { 'Content-Length': String(blob.length) });
      return void res.end(req.method === 'HEAD' ? undefined : blob);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  process.stdout.write(`${port}\n`);
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
const child = fork(fileURLToPath(import.meta.url), ['--serve', '--mib', String(mib)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
const port = await new Promise((resolve, reject) => {
  child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
  child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
});
const configLength = Buffer.from('{"model_type":"llama"}').length;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-bench-hub-'));

async function pullOnce() {
  const home = fs.mkdtempSync(path.join(scratch, 'home-'));
  const t0 = performance.now();
  const r = await pullModel({ ref: { repoId: 'bench/model', revision: 'main', pinned: false }, env: { HF_HOME: home, HF_ENDPOINT: `http://127.0.0.1:${port}` } });
  const ms = performance.now() - t0;
  if (r.downloadedBytes !== blobBytes + configLength) throw new Error(`downloaded ${r.downloadedBytes} bytes`);
  fs.rmSync(home, { recursive: true, force: true });
  return ms;
}

/** curl as a child process (async, so this process keeps serving). */
function curlOnce() {
  const out = path.join(scratch, 'curl.bin');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-o', out, `http://127.0.0.1:${port}/blob`], (err) => {
      if (err) return reject(err);
      const ms = performance.now() - t0;
      if (fs.statSync(out).size !== blobBytes) return reject(new Error('curl size mismatch'));
      fs.rmSync(out);
      resolve(ms);
    });
  });
}

const samples = { pull: [], curl: [] };
await pullOnce(); // warm-up (page cache, JIT)
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? ['pull', 'curl', 'curl', 'pull'] : ['curl', 'pull', 'pull', 'curl'];
  for (const which of order) samples[which].push(which === 'pull' ? await pullOnce() : await curlOnce());
}
child.disconnect();
fs.rmSync(scratch, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibPerS = (ms) => (mib / (ms / 1000)).toFixed(0);
const load = fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
const cpu = os.cpus()[0]?.model ?? 'unknown';
const result = { mib, rounds, cpu, cores: os.cpus().length, loadavg: load, node: process.version, curl: execFileSync('curl', ['--version']).toString().split('\n')[0], samplesMs: samples };
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/hub-download.json'), `${JSON.stringify(result, null, 2)}\n`);
const md = `# models pull download throughput (loopback)

\`node bench/hub/download.mjs --mib ${mib} --rounds ${rounds}\` — ${cpu}, ${os.cpus().length} cores, load average ${load} at the end, node ${process.version}.
One ${mib} MiB LFS file (302 to a blob URL, X-Linked-Etag) plus config.json, into a fresh HF_HOME each time.
The server runs in its own process. \`pull\` includes the listing, HEADs, the streamed write (sha256 computed as it writes) to \`.incomplete\`, the check and the snapshot link.
curl writes the same blob to a file. ABBA order, ${rounds * 2} samples each.

| client | median ms | MiB/s | samples ms |
|---|---|---|---|
| infill-ls models pull (fetch) | ${median(samples.pull).toFixed(0)} | ${mibPerS(median(samples.pull))} | ${samples.pull.map((x) => x.toFixed(0)).join(', ')} |
| curl | ${median(samples.curl).toFixed(0)} | ${mibPerS(median(samples.curl))} | ${samples.curl.map((x) => x.toFixed(0)).join(', ')} |
`;
fs.writeFileSync(path.join(root, 'bench/results/hub-download.md'), md);
process.stdout.write(md);
}
