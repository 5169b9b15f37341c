// Draws the training loss curve (from a checkpoint's ckpt.json history) as a small SVG for the model card.
// Usage: node native/tools/loss-curve.mjs CKPT_JSON OUT_SVG
import { readFileSync, writeFileSync } from 'node:fs';

const usage = 'usage: node native/tools/loss-curve.mjs CKPT_JSON OUT_SVG';
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(usage);
  process.exit(0);
}
const [src, dst] = argv;
if (!src || !dst) {
  console.error(usage);
  process.exit(2);
}
const runs = JSON.parse(readFileSync(src, 'utf8')).history.runs;
const W = 640, H = 320, L = 50, R = 20, T = 20, B = 40;
const pts = runs.flatMap((r, i) => r.log.filter((p) => p.step > 1).map((p) => ({ x: p.tokens / 1e6, y: p.loss, run: i })));
const xmax = Math.max(...pts.map((p) => p.x));
const ymin = 1, ymax = 5;
const X = (x) => L + (x / xmax) * (W - L - R);
const Y = (y) => T + (1 - (Math.min(ymax, y) - ymin) / (ymax - ymin)) * (H - T - B);
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n`;
for (let y = ymin; y <= ymax; y += 0.5) svg += `<line x1="${L}" x2="${W - R}" y1="${Y(y)}" y2="${Y(y)}" stroke="#eee"/><text x="${L - 6}" y="${Y(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>\n`;
for (let x = 0; x <= xmax; x += 200) svg += `<text x="${X(x)}" y="${H - B + 16}" text-anchor="middle">${x}M</text>\n`;
svg += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">tokens seen (training loss, FIM-transformed stream; dots: held-out dev loss)</text>\n`;
runs.forEach((r, i) => {
  const p = pts.filter((q) => q.run === i);
  svg += `<polyline fill="none" stroke="${colors[i % 4]}" stroke-width="1.5" points="${p.map((q) => `${X(q.x).toFixed(1)},${Y(q.y).toFixed(1)}`).join(' ')}"/>\n`;
  const x0 = (r.tokens_total - r.tokens) / 1e6, x1 = r.tokens_total / 1e6;
  if (i > 0) svg += `<circle cx="${X(x0)}" cy="${Y(r.dev_loss_start)}" r="4" fill="${colors[i % 4]}"/>\n`;
  svg += `<circle cx="${X(x1)}" cy="${Y(r.dev_loss_end)}" r="4" fill="${colors[i % 4]}"/>\n`;
  // a run that resumed the full training state (train.py --state: weights + AdamW moments) continues one schedule
  const how = r.train_s_before > 0 ? 'resumed state, schedule continues' : r.resumed ? `re-warm to ${r.peak_lr}` : `warm-up to ${r.peak_lr}`;
  const qat = r.qat_steps ? `, QAT ${r.qat_steps} steps` : '';
  svg += `<text x="${L + 8 + 260 * (i % 2)}" y="${T + 14 + 14 * Math.floor(i / 2)}" fill="${colors[i % 4]}">slot ${i + 1}: ${how}, ${(r.tokens / 1e6).toFixed(0)}M tokens${qat}, dev ${r.dev_loss_start} → ${r.dev_loss_end}</text>\n`;
});
// held-out curves where the run logged them (train.py --eval-streams): plain (solid) and 4-bit fake-quantized (dashed)
const curveColors = { dev_ts: '#ff7f0e', dev_py: '#8c564b', dev_deb: '#7f7f7f' };
let legend = 0;
for (const [name, color] of Object.entries(curveColors)) {
  for (const q of ['', '_q4']) {
    const c = runs.flatMap((r) => (r.eval_curves?.[name + q] ?? []).filter((p) => p.step > 0 || p.tokens > 0));
    if (!c.length) continue;
    svg += `<polyline fill="none" stroke="${color}" stroke-width="1.2"${q ? ' stroke-dasharray="4 3"' : ''} points="${c.map((p) => `${X(p.tokens / 1e6).toFixed(1)},${Y(p.loss).toFixed(1)}`).join(' ')}"/>\n`;
    if (!q) svg += `<text x="${W - R - 4}" y="${T + 14 * (3 + legend++)}" text-anchor="end" fill="${color}">${name} held-out (dashed: 4-bit)</text>\n`;
  }
}
svg += '</svg>\n';
writeFileSync(dst, svg);
