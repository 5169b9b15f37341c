// Joins gpu/torch_bench.py's and gpu.mjs's JSON into bench/results/runtime-gpu.{json,md}.
//   node bench/runtime/gpu/report.mjs TORCH.json ORT.json OUT_BASENAME
import '../../lib/help.mjs';
import fs from 'node:fs';

const [torchPath, ortPath, outBase] = process.argv.slice(2);
const torch = JSON.parse(fs.readFileSync(torchPath, 'utf8'));
const ort = JSON.parse(fs.readFileSync(ortPath, 'utf8'));
const f = (x) => (x === undefined ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const ref = torch.variants.fp32?.greedy16 ?? [];
const agree = (g) => (g ? `${g.filter((t, i) => t === ref[i]).length}/16` : '–');
const rows = [];
for (const [name, v] of Object.entries(torch.variants)) {
  const form = name.endsWith('_cuda_graph') ? `${name.slice(0, -'_cuda_graph'.length)}, decode step as a CUDA graph` : `${name} eager`;
  rows.push({ runtime: `PyTorch ${torch.torch} ${form}`, ...v });
}
for (const r of ort.rows) {
  const label = `onnxruntime-node ${r.device === 'webgpu' ? 'WebGPU' : `CPU ${ort.cpus.split(' x').pop()} threads`} ${r.dtype === 'quantized' ? '8-bit (shipped)' : r.dtype}`;
  rows.push({ runtime: label, ...r });
}
const P = [256, 512, 1024];
const lines = [
  `| runtime | prefill 256 / 512 / 1024 (ms) | decode @256 / 512 / 1024 past (ms/token) | greedy = PyTorch fp32 |`,
  '|---|---|---|---|',
  ...rows.map((r) => r.error
    ? `| ${r.runtime} | failed: ${r.error.replace(/\|/g, '/').slice(0, 160)} | | |`
    : `| ${r.runtime} | ${P.map((p) => f(r.prefill_ms?.[p])).join(' / ')} | ${P.map((p) => f(r.decode_ms?.[p])).join(' / ')} | ${agree(r.greedy16)} |`),
];
const eager = torch.variants.fp16?.decode_ms ?? {};
const webgpu = ort.rows.filter((r) => r.device === 'webgpu' && !r.error);
const best = webgpu.length ? P.map((p) => Math.min(...webgpu.map((r) => r.decode_ms[p]))) : [];
const ratio = best.map((b, i) => b / eager[P[i]]);
const summary = best.length
  ? `Best WebGPU decode / PyTorch fp16 eager decode: ${ratio.map((x) => `${x.toFixed(2)}x`).join(' / ')} at 256 / 512 / 1024 past (target ≤ 3x).`
  : 'No WebGPU row ran.';
const md = [`# Runtime benchmark, GPU machine (${torch.gpu}; ${ort.cpus}; Node ${ort.node})`, '', ...lines, '', summary, ''].join('\n');
fs.writeFileSync(`${outBase}.md`, md);
fs.writeFileSync(`${outBase}.json`, JSON.stringify({ torch, ort, webgpuOverTorchFp16Eager: ratio }, null, 1) + '\n');
process.stdout.write(md);
