// Markdown summary of the AdaSkip / SCOPE / interference JSON files (adaskip-prefill.mjs, scope.mjs,
// interference.mjs), for bench/results/accelerators.md: one table per file, every number read from the file.
// Run: node bench/accelerators/cells-summary.mjs FILE.json [FILE.json ...]   (gpu-cells.sh prints it at its end)
import fs from 'node:fs';
import path from 'node:path';

const fmtS = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString('en-US')} ms`);
const load = (d) => `load ${d.loadavgStart?.[0]}→${d.loadavgEnd?.[0]}`;
for (const file of process.argv.slice(2)) {
  let d;
  try {
    d = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`\n${path.basename(file)}: not readable (${e.message})`);
    continue;
  }
  const name = path.basename(file);
  console.log(`\n**${name}** — \`${d.command}\`; ${d.cpu ?? ''}; ${load(d)}\n`);
  if (Array.isArray(d.rows) && d.rows[0]?.graphs) {
    const graphs = d.rows[0]?.graphs ?? [];
    console.log(`| prompt tokens (runs of ${d.chunk}) | samples | ${graphs.map((g) => `${g.graph}${g.skipped.length ? ` (${g.skipped.length} sublayers)` : ''}`).join(' | ')} |`);
    console.log(`|---|---|${graphs.map(() => '---|').join('')}`);
    for (const r of d.rows) {
      const dc = (g) => (g.decodeCpuMsPerToken != null ? `, CPU ${g.decodeCpuMsPerToken}` : '');
      const cells = r.graphs.map((g, i) => (i === 0 ? `${fmtS(g.ms)} (CPU ${fmtS(g.cpuMs)}); decode ${g.decodeMsPerToken}${dc(g)} ms/token` : `${fmtS(g.ms)} (**${g.speedup}x**; CPU ${g.cpuSpeedup}x); decode ${g.decodeMsPerToken}${dc(g)} ms/token (${g.decodeSpeedup}x${g.decodeCpuSpeedup != null ? `; CPU ${g.decodeCpuSpeedup}x` : ''})`));
      console.log(`| ${r.tokens.toLocaleString('en-US')} | ${r.samplesPerGraph} | ${cells.join(' | ')} |`);
    }
    for (const g of graphs.slice(1)) console.log(`\n${g.graph}: ${g.skipped.join(', ')}`);
  } else if (d.policy && Array.isArray(d.summary)) {
    const spans = Object.keys(d.runs?.[0]?.spans ?? {}).map(Number);
    console.log(`${d.files?.length} file(s), prompt ${d.prompt}, ${d.tokens} generated tokens, threads ${d.threads}\n`);
    const cpu = d.summary[0]?.[`cpuMsPerToken@${spans[0]}`] !== undefined;
    console.log(`| window | max KV length | ${spans.map((n) => `ms/token over ${n} (last 256)`).join(' | ')} |${cpu ? ` ${spans.map((n) => `CPU ms/token over ${n} (last 256)`).join(' | ')} |` : ''} ${spans.map((n) => `agreement @${n}`).join(' | ')} |`);
    console.log(`|---|---|${spans.map(() => '---|').join('')}${cpu ? spans.map(() => '---|').join('') : ''}${spans.map(() => '---|').join('')}`);
    for (const s of d.summary) {
      const c = cpu ? ` ${spans.map((n) => `${s[`cpuMsPerToken@${n}`]} (${s[`cpuMsPerTokenLast256@${n}`]})`).join(' | ')} |` : '';
      console.log(`| ${s.window} | ${s.maxCacheLength} | ${spans.map((n) => `${s[`msPerToken@${n}`]} (${s[`msPerTokenLast256@${n}`]})`).join(' | ')} |${c} ${spans.map((n) => s[`editSim@${n}`]).join(' | ')} |`);
    }
    console.log(`\nfirst differing token per file (vs unbounded): ${d.summary.map((s) => `${s.window}: ${s.firstDifferentToken.map((x) => x ?? '—').join(', ')}`).join('; ')}`);
  } else if (d.bPrefillAloneMs !== undefined) {
    console.log(`device ${d.device ?? 'cpu'}, chunk ${d.chunk ?? 256}, B cold ${d.cold} tokens (alone: ${fmtS(d.bPrefillAloneMs)}), A ${d.warmA} cached + 8, decodes ${d.decode}\n`);
    console.log('| rule | trials | A waits (median / max) | A first token (median) | A decode step p50 | B first token (median) | B longest run | B run tokens |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const s of d.summary) {
      console.log(`| ${s.rule} | ${s.trials ?? 0} | ${s.aWaitMsMedian} / ${s.aWaitMsMax} ms | ${s.aFirstTokenMsMedian} ms | ${s.aStepMsP50} ms | ${fmtS(s.bFirstTokenMsMedian)} | ${s.bRunMsMax} ms | ${s.bRunTokens} |`);
    }
  } else {
    console.log('(not an AdaSkip / SCOPE / interference file)');
  }
}
