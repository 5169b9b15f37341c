// Times onnxruntime-node's CPU MatMulNBits for 2 / 4 / 8-bit weights at the default model's MLP shapes, one token
// (decode), fp32 activations (accuracy_level 1, what models/default uses) and int8 activations (4), and checks each
// against a numpy reference (issue 16: more parameters per MiB). Rounds alternate the variants, median per variant.
//   /usr/bin/python3 bench/runtime/matmulnbits_bits.py /tmp/mnb && node bench/runtime/matmulnbits-bits.mjs /tmp/mnb
// Writes bench/results/matmulnbits-bits.md.
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import ort from 'onnxruntime-node';

const dir = process.argv[2];
if (!dir || !fs.existsSync(`${dir}/ref.json`)) {
  console.error('usage: node bench/runtime/matmulnbits-bits.mjs DIR (written by bench/runtime/matmulnbits_bits.py DIR)');
  process.exit(2);
}
const ref = JSON.parse(fs.readFileSync(`${dir}/ref.json`, 'utf8'));
const variants = [];
for (const shape of ['up', 'down']) for (const bits of [2, 4, 8]) for (const acc of [1, 4]) variants.push({ shape, bits, acc });
for (const v of variants) {
  const r = ref[`${v.shape}-${v.bits}`];
  v.session = await ort.InferenceSession.create(`${dir}/${v.shape}-b${v.bits}-acc${v.acc}.onnx`, { intraOpNumThreads: 1 });
  v.feeds = { A: new ort.Tensor('float32', Float32Array.from(r.a), [1, r.K]) };
  const y = (await v.session.run(v.feeds)).Y.data;
  const scale = Math.max(...r.y.map(Math.abs));
  v.maxErr = Math.max(...r.y.map((t, i) => Math.abs(t - y[i]))) / scale; // relative to the largest output
  v.times = [];
}
const load0 = os.loadavg()[0];
const ROUNDS = 9, CALLS = 40;
for (let round = 0; round < ROUNDS; round++) {
  for (const v of round % 2 ? [...variants].reverse() : variants) {
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) await v.session.run(v.feeds);
    v.times.push((performance.now() - t0) / CALLS);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rows = variants.map((v) => `| ${v.shape} (K ${ref[`${v.shape}-${v.bits}`].K}, N ${ref[`${v.shape}-${v.bits}`].N}) | ${v.bits} | ${v.acc} | ${med(v.times).toFixed(3)} | ${v.maxErr.toExponential(1)} |`);
const md = `# MatMulNBits by bits (issue 16: more parameters per MiB?)

\`/usr/bin/python3 bench/runtime/matmulnbits_bits.py DIR && node bench/runtime/matmulnbits-bits.mjs DIR\` — ${os.cpus()[0]?.model.trim()} ×${os.cpus().length}, onnxruntime-node ${ort.env.versions?.node ?? ''}, 1 thread, ${new Date().toISOString()}, load average ${load0.toFixed(2)} → ${os.loadavg()[0].toFixed(2)}; median of ${ROUNDS} rounds of ${CALLS} calls, variants alternating.

accuracy 1: fp32 activations (what models/default's 4-bit layers use, for the same results on every CPU class); 4: int8 activations. Error: max |y − numpy| / max |y| for one random input.

| layer | bits | accuracy level | ms per call (1 token) | error |
|---|---|---|---|---|
${rows.join('\n')}
`;
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync('bench/results/matmulnbits-bits.md', md);
process.stdout.write(md);
