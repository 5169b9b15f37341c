// decodeSpan's step (one pass for max/argmax, one for Σ exp, token healing's allowed ids looked up once per remainder)
// against a reference written the plain way: a filter called on every id, the sampler's greedy argmax and log-sum-exp.
import { describe, expect, test } from 'vitest';
import { ForcedPrefix, Generator } from '../../server/src/decoding/index.js';
import { decodeSpan } from '../../server/src/decoding/span.js';
import { Tokenizer, toByteString } from '../../server/src/tokenizer/index.js';
import { createRng } from '../../server/src/util/rng.js';
import { tinyTokenizer } from '../runtime/helpers/tiny-tokenizer.js';
import { FakeLm } from './helpers/fake-lm.js';

const tiny = tinyTokenizer();
const tok = Tokenizer.fromObjects(tiny.json, tiny.config);
const bytes = tok.tokenByteStrings();

describe('ForcedPrefix.allowedIds', () => {
  test('is the filter’s set, ascending, for each remainder; null once satisfied', () => {
    for (const text of ['Us', 'Name', 'a', 'é']) {
      const f = new ForcedPrefix(toByteString(text), bytes);
      const allow = f.filter()!;
      const expected = bytes.map((_, id) => id).filter((id) => allow(id));
      expect(expected.length).toBeGreaterThan(0);
      expect(Array.from(f.allowedIds()!)).toEqual(expected);
      // A second lookup of the same remainder (the memo) answers the same ids.
      expect(Array.from(new ForcedPrefix(toByteString(text), bytes).allowedIds()!)).toEqual(expected);
    }
    const f = new ForcedPrefix(toByteString('Us'), bytes);
    f.accept(tok.tokenToId('Us')!);
    expect(f.allowedIds()).toBeNull();
  });
});

/** The step rule of decodeSpan written the plain way (one filter call per id). */
function reference(logits: Float32Array, allow: (id: number) => boolean) {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  let best = -1;
  for (let i = 0; i < logits.length; i++) if (allow(i) && (best < 0 || logits[i]! > logits[best]!)) best = i;
  return { tokenId: best, logprob: logits[best]! - lse, pMax: Math.exp(logits[best]! - lse) };
}

describe('decodeSpan steps', () => {
  test('greedy choices, log-probabilities and confidences equal the plain rule, with healing and masked ids, ties included', async () => {
    const V = tok.vocabSize;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const rng = createRng(seed);
      // Integer logits in a narrow range: many ties, which go to the lowest allowed id.
      const rows = new Map<number, Float32Array>();
      const rowFor = (len: number) => {
        if (!rows.has(len)) rows.set(len, Float32Array.from({ length: V }, () => Math.floor(rng.next() * 6)));
        return rows.get(len)!;
      };
      const lm = new FakeLm(V, (seq) => rowFor(seq.length));
      const masked = [tok.tokenToId('Us')!, tok.tokenToId('User')!, tok.tokenToId('N')!, 5 + seed, 40 + seed];
      const forcedText = seed % 2 ? 'Us' : 'Na';
      const gen = new Generator(lm);
      gen.appendTokens([1, 2, 3]);
      const span = await decodeSpan(gen, tok, { maxNewTokens: 6, maskTokenIds: masked, forced: { bytes: toByteString(forcedText), text: forcedText, tokenBytes: bytes } });
      expect(span.stopReason).toBe('max-tokens');
      expect(span.tokenIds.length).toBe(6);
      // Replay the same rows with the plain rule.
      const forced = new ForcedPrefix(toByteString(forcedText), bytes);
      let len = 3;
      for (let i = 0; i < span.tokenIds.length; i++) {
        const heal = forced.filter();
        const r = reference(rowFor(len), (id) => !masked.includes(id) && (!heal || heal(id)));
        expect(span.tokenIds[i]).toBe(r.tokenId);
        expect(span.steps[i]!.logprob).toBe(r.logprob);
        expect(span.steps[i]!.pMax).toBeCloseTo(r.pMax, 12);
        forced.accept(r.tokenId);
        len++;
      }
    }
  });
});
