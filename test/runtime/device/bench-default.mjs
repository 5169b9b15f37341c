// Times the default model (models/default) per device: prefill of 256 tokens and decode steps at 256 tokens of past.
// Usage (after `npm run build`): node test/runtime/device/bench-default.mjs [cpu|webgpu ...] → one JSON line per device.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { loadModel } = await import(path.join(root, 'server/dist/runtime/index.js'));
const devices = process.argv.slice(2).length ? process.argv.slice(2) : ['cpu', 'webgpu'];
const ids = Array.from({ length: 256 }, (_, i) => 10 + ((i * 7) % 500));
for (const device of devices) {
  const t0 = performance.now();
  const m = await loadModel({ modelDir: path.join(root, 'models/default'), device });
  const loadMs = performance.now() - t0;
  const rows = [];
  for (let rep = 0; rep < 3; rep++) {
    const c = m.createCache();
    let t = performance.now();
    await m.forward(ids, c);
    const prefillMs = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < 32; i++) await m.forward([42], c);
    rows.push({ prefillMs: +prefillMs.toFixed(1), decodeMs: +((performance.now() - t) / 32).toFixed(2) });
    c.dispose();
  }
  console.log(JSON.stringify({ device: m.device, dtype: m.files.dtype, loadMs: Math.round(loadMs), runs: rows }));
  await m.dispose();
}
