// Issue 12 in documents/: positions inside a surrogate pair (strict rejects, clamp snaps back), and the LF-only
// CompletionContext of CRLF and lone-CR documents.

import { describe, expect, it } from 'vitest';
import { DocumentStore, PositionError, completionContext, cursorOffsetAt, documentEol, lfOnly, offsetAt, computeLineStarts } from '../../server/src/documents/index.js';

const EMOJI_DOC = 'const icon = "📁";\nconst label = "📁 folder" + ;\n';

describe('positions inside a surrogate pair', () => {
  const starts = computeLineStarts(EMOJI_DOC);
  it('strict mode rejects {1, 16} (between the two code units of 📁) with the reason and the neighbours', () => {
    expect(() => cursorOffsetAt(EMOJI_DOC, starts, { line: 1, character: 16 }, 'strict')).toThrow(PositionError);
    expect(() => cursorOffsetAt(EMOJI_DOC, starts, { line: 1, character: 16 }, 'strict')).toThrow(/inside a surrogate pair.*use 15 or 17/);
  });
  it('clamp mode snaps to the start of the character; both boundaries stay as they are; edits may still split it', () => {
    const lineStart = EMOJI_DOC.indexOf('\n') + 1;
    expect(cursorOffsetAt(EMOJI_DOC, starts, { line: 1, character: 16 }, 'clamp')).toBe(lineStart + 15);
    expect(offsetAt(EMOJI_DOC, starts, { line: 1, character: 15 }, 'strict')).toBe(lineStart + 15);
    expect(cursorOffsetAt(EMOJI_DOC, starts, { line: 1, character: 17 }, 'strict')).toBe(lineStart + 17);
    expect(EMOJI_DOC.codePointAt(lineStart + 15)).toBe(0x1f4c1);
    expect(offsetAt(EMOJI_DOC, starts, { line: 1, character: 16 }, 'strict')).toBe(lineStart + 16);
  });
});

describe('LF-only completion contexts', () => {
  it('normalises CRLF and lone CR to LF and reports the document line end', () => {
    expect(lfOnly('a\r\nb\rc\n')).toBe('a\nb\nc\n');
    expect(documentEol('a\r\nb\r\n')).toBe('\r\n');
    expect(documentEol('a\rb\rc')).toBe('\r');
    expect(documentEol('a\nb\r\nc\n')).toBe('\n');
    expect(documentEol('no line break')).toBe('\n');
  });
  it('a CRLF document gives the same context as its LF twin', () => {
    const lf = 'class Stack:\n    def push(self, item):\n        \n\n    def size(self):\n        return 0\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    const store = new DocumentStore();
    const a = store.open('file:///lf.py', 'python', 1, lf);
    const b = store.open('file:///crlf.py', 'python', 1, crlf);
    const at = { line: 2, character: 8 };
    const ca = completionContext(a, a.offsetAt(at), 'automatic');
    const cb = completionContext(b, b.offsetAt(at), 'automatic');
    expect(cb.prefix).toBe(ca.prefix);
    expect(cb.suffix).toBe(ca.suffix);
    expect(cb.prefix + cb.suffix).not.toContain('\r');
  });
});
