// A model's own log Σ exp of its logits rows (CausalLm.rowLse, issue 15) reaches every place decoding normalizes a row:
// decodeSpan's steps (log-probabilities, p_max, p(stop)), with masks and token healing too (their lse is over the full
// row either way), draft-and-verify's accepted rows, scoreContinuation and the sampler's path (Generator.nextToken).
// The fake model below reports the host value plus a known offset, so a test can tell which value was used; with the
// true value the results equal those of a model without rowLse (the host pass), to the float64 rounding of one
// subtraction. Without rowLse nothing changes.
import { describe, expect, test } from 'vitest';
import { Generator } from '../../server/src/decoding/generator.js';
import { decodeSpan, scoreContinuation, type SpanOptions } from '../../server/src/decoding/span.js';
import { Tokenizer, toByteString } from '../../server/src/tokenizer/index.js';
import { tinyTokenizer } from '../runtime/helpers/tiny-tokenizer.js';
import { FakeLm } from './helpers/fake-lm.js';
import { hostLse } from '../runtime/helpers/lse.js';

const tiny = tinyTokenizer();
const tok = Tokenizer.fromObjects(tiny.json, tiny.config);
const V = tok.vocabSize;

/** Dense rows that copy the token 3 back (drafts get accepted) and break the pattern every 5th position. */
const rule = (seq: readonly number[]) => {
  const row = new Float32Array(V);
  const len = seq.length;
  for (let i = 0; i < V; i++) row[i] = ((i * 7 + len * 3) % 11) / 4;
  const copy = len >= 3 ? seq[len - 3]! : 3;
  row[len % 5 === 0 ? (copy + 5) % V : copy] = 6;
  return row;
};

/** FakeLm whose rowLse reports each returned row's host log Σ exp plus `offset` (counting the arrays it answered). */
class LseLm extends FakeLm {
  answered = 0;
  private readonly lse = new WeakMap<Float32Array, Float32Array>();
  constructor(private readonly offset: number) {
    super(V, rule);
  }
  override async forward(ids: ArrayLike<number>, cache: Parameters<FakeLm['forward']>[1], options: Parameters<FakeLm['forward']>[2] = {}): Promise<Float32Array | null> {
    const out = await super.forward(ids, cache, options);
    if (out) {
      const rows = options.rows ?? 1;
      this.lse.set(out, Float32Array.from({ length: rows }, (_, r) => hostLse(out.subarray(r * V, (r + 1) * V)) + this.offset));
    }
    return out;
  }
  rowLse(logits: Float32Array): Float32Array | undefined {
    const v = this.lse.get(logits);
    if (v) this.answered++;
    return v;
  }
}

async function span(lm: FakeLm, draftTokens: number, options: Partial<SpanOptions> = {}) {
  const gen = new Generator(lm, { draftTokens });
  gen.appendTokens([1, 2, 3, 4, 5, 6, 7]);
  return { gen, span: await decodeSpan(gen, tok, { maxNewTokens: 12, ...options }) };
}

describe('the model’s log Σ exp in decoding', () => {
  for (const draftTokens of [0, 4]) {
    test(`decodeSpan uses it for every step (draftTokens ${draftTokens}), masks and healing included`, async () => {
      const stop = tok.tokenToId('N')!;
      for (const options of [{}, { maskTokenIds: [8, 9, 10] }, { forced: { bytes: toByteString('Us'), text: 'Us', tokenBytes: tok.tokenByteStrings() } }]) {
        const plain = await span(new FakeLm(V, rule), draftTokens, { stopTokenIds: [stop], ...options });
        const offset = 0.25;
        const lm = new LseLm(offset);
        const shifted = await span(lm, draftTokens, { stopTokenIds: [stop], ...options });
        expect(shifted.span.tokenIds).toEqual(plain.span.tokenIds);
        expect(shifted.span.steps.length).toBe(plain.span.steps.length);
        expect(lm.answered).toBeGreaterThan(0);
        plain.span.steps.forEach((p, i) => {
          const s = shifted.span.steps[i]!;
          // float32 rowLse: the offset shows up to float32 rounding of the lse (values O(10))
          expect(Math.abs(s.logprob - (p.logprob - offset))).toBeLessThan(1e-5);
          expect(Math.abs(Math.log(s.pMax) - (Math.log(p.pMax) - offset))).toBeLessThan(1e-5);
          expect(Math.abs(s.logpStop - (p.logpStop - offset))).toBeLessThan(1e-5);
        });
        // with the true value (offset 0) the steps are the host pass's, to float32 rounding of the value
        const exact = await span(new LseLm(0), draftTokens, { stopTokenIds: [stop], ...options });
        exact.span.steps.forEach((s, i) => expect(Math.abs(s.logprob - plain.span.steps[i]!.logprob)).toBeLessThan(1e-5));
        if (draftTokens) expect(shifted.gen.stats.accepted).toBeGreaterThan(0);
      }
    });
  }

  test('scoreContinuation and nextToken (the sampler path) use it; Generator.logitsLse is undefined once a token is pending', async () => {
    const plainGen = new Generator(new FakeLm(V, rule));
    plainGen.appendTokens([1, 2, 3]);
    const lm = new LseLm(0.5);
    const gen = new Generator(lm);
    gen.appendTokens([1, 2, 3]);
    const ids = [4, 5, 6];
    const a = (await scoreContinuation(plainGen, ids))!;
    const b = (await scoreContinuation(gen, ids))!;
    expect(Math.abs(b - (a - 0.5 * ids.length))).toBeLessThan(1e-4);
    const rowA = await plainGen.computeLogits();
    const rowB = await gen.computeLogits();
    expect(rowA).toBeInstanceOf(Float32Array);
    expect(gen.logitsLse).toBeDefined();
    expect(plainGen.logitsLse).toBeUndefined();
    const ca = await plainGen.nextToken();
    const cb = await gen.nextToken();
    expect('tokenId' in cb && 'tokenId' in ca && cb.tokenId === ca.tokenId).toBe(true);
    if ('logprob' in ca && 'logprob' in cb) expect(Math.abs(cb.logprob - (ca.logprob - 0.5))).toBeLessThan(1e-5);
    expect(rowB).toBeInstanceOf(Float32Array);
    expect(gen.logitsLse).toBeUndefined(); // the chosen token is pending
  });
});
