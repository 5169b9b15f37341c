// Streaming UTF-8 decoding across byte-level tokens, forced-prefix constraints and stop-string helpers.
import { describe, expect, test } from 'vitest';
import { Tokenizer, toByteString } from '../../server/src/tokenizer/index.js';
import { ForcedPrefix, findStopString, pendingStopPrefix } from '../../server/src/decoding/index.js';
import { tinyTokenizer } from '../runtime/helpers/tiny-tokenizer.js';

const tiny = tinyTokenizer();
const tok = Tokenizer.fromObjects(tiny.json, tiny.config);

describe('streaming decoder', () => {
  test('a character split over byte tokens appears once, when complete', () => {
    // '😀' = F0 9F 98 80, 'é' = C3 A9: in this tokenizer ids 0-255 are raw bytes.
    const ids = [0x61, 0xf0, 0x9f, 0x98, 0x80, 0xc3, 0xa9, 0x62];
    const d = tok.createStreamDecoder();
    const pieces = ids.map((id) => d.push(id));
    expect(pieces).toEqual(['a', '', '', '', '😀', '', 'é', 'b']);
    expect(d.flush()).toBe('');
    expect(pieces.join('')).toBe(tok.decode(ids));
  });

  test('a merged token holding a whole character plus a partial one', () => {
    const ae = tok.tokenToId('aÃ')!; // 'a' + first byte of 'é'
    expect(ae).toBeDefined();
    const d = tok.createStreamDecoder();
    expect(d.push(ae)).toBe('a');
    expect(d.push(0xa9)).toBe('é');
  });

  test('special tokens produce no text; flush reports an unfinished character', () => {
    const d = tok.createStreamDecoder();
    expect(d.push(tok.tokenToId('<fim_pad>')!)).toBe('');
    expect(d.push(0xe2)).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });

  test('stream over a real encoding equals the text', () => {
    const text = 'const é = "😀"; return a + b\n  x';
    const d = tok.createStreamDecoder();
    expect(tok.encode(text).map((i) => d.push(i)).join('') + d.flush()).toBe(text);
  });
});

describe('ForcedPrefix', () => {
  test('allows tokens that extend or cover the remaining bytes, then lifts', () => {
    const bytes = tok.tokenByteStrings();
    const f = new ForcedPrefix(toByteString('Us'), bytes);
    const allow = f.filter()!;
    expect(allow(tok.tokenToId('U')!)).toBe(true); // prefix of the remainder
    expect(allow(tok.tokenToId('User')!)).toBe(true); // starts with the remainder
    expect(allow(tok.tokenToId('Us')!)).toBe(true);
    expect(allow(tok.tokenToId('Name')!)).toBe(false);
    expect(allow(tok.tokenToId('<fim_pad>')!)).toBe(false);
    f.accept(tok.tokenToId('U')!);
    expect(f.done).toBe(false);
    expect(f.filter()!(tok.tokenToId('s')!)).toBe(true);
    expect(f.filter()!(tok.tokenToId('U')!)).toBe(false);
    f.accept(tok.tokenToId('s')!);
    expect(f.done).toBe(true);
    expect(f.filter()).toBeNull();
  });
});

describe('stop strings', () => {
  test('finds the earliest stop string, including one straddling already-seen text', () => {
    expect(findStopString('abc\ndef', ['\n'], 0)).toEqual({ index: 3, stop: '\n' });
    expect(findStopString('ab\n\nx', ['\n\n', 'x'], 3)).toEqual({ index: 2, stop: '\n\n' });
    expect(findStopString('abc', ['\n'], 0)).toBeNull();
  });

  test('holds back a tail that may start a stop string', () => {
    expect(pendingStopPrefix('foo\n', ['\n\n'])).toBe(1);
    expect(pendingStopPrefix('foo', ['\n\n'])).toBe(0);
    expect(pendingStopPrefix('a </', ['</s>', '/'])).toBe(2);
  });
});
