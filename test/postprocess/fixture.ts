// Golden fixture files for post-processing and syntax tests: `key: value` header lines, then `--- name` sections; the
// document section marks the cursor with ║ (prefix║suffix).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CURSOR = '║';

export interface Fixture {
  file: string;
  header: Record<string, string>;
  sections: Record<string, string>;
}

/** Parses one fixture. A section's text is its lines joined with \n (the newline before the next `---` is not part of it). */
export function parseFixture(file: string, source: string): Fixture {
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const header: Record<string, string> = {};
  const sections: Record<string, string> = {};
  let current: string | null = null;
  let body: string[] = [];
  const flush = () => {
    if (current !== null) sections[current] = body.join('\n');
  };
  for (const line of lines) {
    const m = /^--- (\w+)$/.exec(line);
    if (m) {
      flush();
      current = m[1]!;
      body = [];
    } else if (current !== null) body.push(line);
    else if (line.trim() !== '' && !line.startsWith('#')) {
      const at = line.indexOf(':');
      if (at < 0) throw new Error(`${file}: header line without ':' — ${line}`);
      header[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
  }
  flush();
  return { file, header, sections };
}

export function loadFixtures(dir: string): Fixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => parseFixture(join(dir, f), readFileSync(join(dir, f), 'utf8')));
}

/** Splits a document at its single cursor marker. */
export function splitAtCursor(file: string, document: string): { prefix: string; suffix: string } {
  const at = document.indexOf(CURSOR);
  if (at < 0 || document.indexOf(CURSOR, at + 1) >= 0) throw new Error(`${file}: the document needs exactly one ${CURSOR}`);
  return { prefix: document.slice(0, at), suffix: document.slice(at + 1) };
}
