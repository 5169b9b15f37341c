// A standalone check of the WebGPU path (gpu-buffer KV, rewind, auto device) for the GPU machine, where vitest is not installed.
// Usage (after `npm run build`): node test/runtime/device/webgpu-check.mjs  → prints one JSON report, exit 1 on a mismatch.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { loadModel } = await import(path.join(root, 'server/dist/runtime/index.js'));
const { Generator } = await import(path.join(root, 'server/dist/decoding/index.js'));

const report = { ok: true, cases: [] };
const trace = process.env.TRACE ? (...a) => console.error(...a) : () => {};
async function greedy(gen, steps) {
  gen.setSearch({ maxNewTokens: steps });
  const out = [];
  while (!gen.isDone()) {
    trace('step', gen.length, gen.computedLength);
    out.push((await gen.nextToken()).tokenId);
  }
  return out;
}
for (const device of ['webgpu', 'auto']) {
  for (const name of ['llama', 'qwen2', 'gpt_bigcode']) {
    const dir = path.join(root, 'test/fixtures/models', name);
    const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8'));
    const messages = [];
    const c = { device, name };
    trace('case', device, name);
    try {
      const model = await loadModel({ modelDir: dir, device, onStatus: (m) => messages.push(m) });
      c.used = model.device;
      c.fallback = model.fallbackReason;
      c.match = [];
      for (const g of golden) {
        const gen = new Generator(model, { prefillChunkSize: 5 });
        gen.appendTokens(g.input_ids);
        const t0 = performance.now();
        const got = await greedy(gen, g.greedy.length);
        c.ms = Math.round(performance.now() - t0);
        c.kvLocation = gen.cache.tensors ? [...gen.cache.tensors.values()][0].location : undefined;
        let same = JSON.stringify(got) === JSON.stringify(g.greedy);
        // Rewind into the generated part (gpu-buffer tensors are read back and sliced) and continue.
        trace('rewind');
        await gen.rewindTo(g.input_ids.length + 3);
        const again = await greedy(gen, g.greedy.length - 3);
        same = same && JSON.stringify(again) === JSON.stringify(g.greedy.slice(3));
        c.match.push(same);
        if (!same) {
          report.ok = false;
          c.got = got;
          c.want = g.greedy;
          c.again = again;
        }
        gen.dispose();
      }
      await model.dispose();
    } catch (e) {
      c.error = String(e && e.message);
      report.ok = false;
    }
    c.messages = messages;
    report.cases.push(c);
  }
}
console.log(JSON.stringify(report, null, 1));
process.exitCode = report.ok ? 0 : 1;
