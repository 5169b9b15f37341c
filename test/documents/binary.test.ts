// Binary-content detection (documents/binary.ts) on real bytes: an ELF executable, a PNG header, invalid UTF-8, and
// source text that must stay text (accents, CJK, emoji, tabs, form feeds, a Latin-1 file with a few accents).

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { binaryContentReason } from '../../server/src/documents/index.js';

/** What Node (and an editor) makes of the bytes when it decodes them as UTF-8. */
const decoded = (bytes: Buffer | Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('binaryContentReason', () => {
  it('finds an executable binary (this Node binary, 4 KiB) by its NUL bytes', () => {
    const fd = fs.openSync(process.execPath, 'r');
    const head = Buffer.alloc(4096);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    expect(binaryContentReason(decoded(head))).toMatch(/NUL character.*binary data/);
  });

  it('finds bytes that are not UTF-8 and control bytes even without a NUL', () => {
    const noNul = Buffer.from(Array.from({ length: 2000 }, (_, i) => 0x80 + ((i * 37) % 0x7f)));
    expect(binaryContentReason(decoded(noNul))).toMatch(/not valid UTF-8/);
    const controls = Buffer.from(Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? 0x01 + (i % 5) : 0x41)));
    expect(binaryContentReason(decoded(controls))).toMatch(/control characters/);
    expect(binaryContentReason('%PDF-1.7\n1 0 obj\n')).toMatch(/binary/);
  });

  it('keeps source text as text: empty, unicode, tabs, form feed, ANSI escapes, a few invalid bytes', () => {
    expect(binaryContentReason('')).toBeUndefined();
    expect(binaryContentReason('def größe():\n\treturn "日本語 😀"\n\f\n')).toBeUndefined();
    expect(binaryContentReason('print("\u001b[31mred\u001b[0m")\n'.repeat(20))).toBeUndefined();
    const latin1 = Buffer.from('# caf\xe9 na\xefve r\xe9sum\xe9\n' + 'x = 1\n'.repeat(100), 'latin1');
    expect(binaryContentReason(decoded(latin1))).toBeUndefined();
    // A NUL far past the first 8000 characters is not looked at (git's rule), so a long file is scanned in bounded time.
    expect(binaryContentReason('a'.repeat(9000) + '\u0000')).toBeUndefined();
  });
});
