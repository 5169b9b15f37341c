// `--help` / `-h` for the scripts under bench/ and native/: prints the running script's header comment (what it does,
// its flags and outputs) and exits 0 before the script does anything else — no model loaded, no file written.
// Import it first, before the script's other imports: `import '../lib/help.mjs';` (ES modules evaluate their imports
// in order, so nothing after it runs).
import { readFileSync } from 'node:fs';

/** The leading comment of a script's source, without the comment markers (a `#!` line is skipped). */
export function headerComment(source) {
  const out = [];
  for (const [i, line] of source.split('\n').entries()) {
    if (i === 0 && line.startsWith('#!')) continue;
    if (!line.startsWith('//')) break;
    out.push(line.replace(/^\/\/ ?/, ''));
  }
  return out.join('\n');
}

const args = process.argv.slice(2);
if (process.argv[1] && (args.includes('--help') || args.includes('-h'))) {
  process.stdout.write(`${headerComment(readFileSync(process.argv[1], 'utf8'))}\n`);
  process.exit(0);
}
