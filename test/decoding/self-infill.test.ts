// Self-infilling and plain FIM on a pure-JS fake model with a character tokenizer: interruption by tau, the suffix
// prompt, the middle, looping with its degeneration fallback, cuts at low confidence, suffix scoring and cancellation.
import { describe, expect, test } from 'vitest';
import { Generator } from '../../server/src/decoding/index.js';
import {
  RETRY_FIRSTS,
  decodeFim,
  fimLayout,
  isDegenerateSuffix,
  lowConfidenceCuts,
  selfInfill,
  suffixLead,
  type InfillTokenizer,
  type SelfInfillRequest,
} from '../../server/src/decoding/self-infill.js';
import { decodeSpan } from '../../server/src/decoding/span.js';
import { FakeLm } from './helpers/fake-lm.js';

// Ids: 0 EOS, 1 <fim_prefix>, 2 <fim_middle>, 3 <fim_suffix>; 10 '\n'; 32..126 printable ASCII.
const EOS = 0;
const PRE = 1;
const MID = 2;
const SUF = 3;
const VOCAB = 128;
const chars: InfillTokenizer = {
  encode: (text) => [...text].map((c) => c.charCodeAt(0)),
  createStreamDecoder: () => ({ push: (id) => (id >= 10 ? String.fromCharCode(id) : ''), flush: () => '' }),
};
const enc = chars.encode;
const txt = (ids: readonly number[]) => ids.map((i) => (i >= 10 ? String.fromCharCode(i) : `<${i}>`)).join('');
const layout = fimLayout({ mode: 'spm', prefixId: PRE, suffixId: SUF, middleId: MID, bosId: null });

/** A logits row: `best` one-hot, or (p < 1) `best` with probability p and the rest split between '}' and '~'. */
function row(best: number, p = 1): Float32Array {
  const r = new Float32Array(VOCAB);
  if (p >= 1) r[best] = 10;
  else {
    for (let i = 0; i < VOCAB; i++) r[i] = -30;
    r[125] = Math.log((1 - p) / 2);
    r[126] = Math.log((1 - p) / 2);
    r[best] = Math.log(p);
  }
  return r;
}

/** Writes `script` after the last occurrence of `after` in the sequence (then EOS); `unsure` marks low-confidence chars by index. */
function writes(seq: readonly number[], after: readonly number[], script: string, unsure: ReadonlySet<number> = new Set()): Float32Array | null {
  for (let at = seq.length - after.length; at >= 0; at--) {
    if (after.every((id, j) => seq[at + j] === id)) {
      const done = seq.length - at - after.length;
      const s = enc(script);
      // Only while what follows `after` is the script so far.
      if (!s.slice(0, done).every((id, j) => seq[at + after.length + j] === id)) return null;
      if (done >= s.length) return row(EOS);
      return row(s[done]!, unsure.has(done) ? 0.4 : 1);
    }
  }
  return null;
}

function request(prefix: string, suffix: string, extra: Partial<SelfInfillRequest> = {}): SelfInfillRequest {
  const prefixIds = enc(prefix);
  const suffixIds = enc(suffix);
  return {
    promptIds: layout.infill(prefixIds, suffixIds),
    stopIds: [EOS],
    maskIds: [],
    l2rMaskIds: [PRE, MID, SUF],
    l2rStopIds: [EOS],
    lineMode: 'multi',
    stopAt: () => null,
    maxNewTokens: 64,
    maxCandidates: 1,
    layout,
    prefixIds,
    suffixIds,
    cursorLine: prefix.slice(prefix.lastIndexOf('\n') + 1),
    tau: 0.25,
    loops: 0,
    suffixPrompt: null,
    suffixStopAt: afterReturnLine,
    suffixScoreIds: [],
    ...extra,
  };
}

const PREFIX = 'def f(x):\n';

/**
 * The fake model, by what the sequence holds (with an empty real suffix, SPM's left-to-right prompt is the base prompt):
 * after the self-written suffix prompt `    return` it writes ` y`; as a middle before a suffix holding `return` it writes
 * ` = x + 1` after `    y`, else `    y = x + 1`; left to right after `    y = x + 1` it writes the suffix again
 * (`regen`); otherwise it writes `    y = x` with low confidence (0.4) at its 5th char.
 */
function model(opts: { regen?: string } = {}) {
  return new FakeLm(VOCAB, (seq) => {
    const last = seq.lastIndexOf(MID);
    const suffix = txt(seq.slice(seq.indexOf(SUF) + 1, seq.indexOf(PRE)));
    const prefixPart = txt(seq.slice(seq.indexOf(PRE) + 1, last));
    const after = txt(seq.slice(last + 1));
    if (after.includes('    return')) return writes(seq, enc('    return'), ' y\n') ?? row(EOS);
    if (suffix.includes('return')) {
      // A middle ends with a line break unless the suffix starts with one.
      const end = suffix.startsWith('\n') ? '' : '\n';
      return writes(seq, [MID], (prefixPart.endsWith('y') ? ' = x + 1' : '    y = x + 1') + end) ?? row(EOS);
    }
    if (prefixPart.endsWith('    y = x + 1')) return writes(seq, [MID], opts.regen ?? '\n    return y\n') ?? row(EOS);
    return writes(seq, [MID], '    y = x\n', new Set([5])) ?? row(EOS);
  });
}

/** The self-written or regenerated suffix ends after the line holding `return`. */
const afterReturnLine = (t: string) => {
  const r = t.indexOf('return');
  const nl = r < 0 ? -1 : t.indexOf('\n', r);
  return nl < 0 ? null : nl;
};

describe('self-infilling on a fake model', () => {
  test('tau = 0 never interrupts and equals plain greedy FIM', async () => {
    const req = request(PREFIX, '', { tau: 0, suffixPrompt: '    return', loops: 2 });
    const si = await selfInfill(new Generator(model()), chars, req);
    const fim = await decodeFim(new Generator(model()), chars, req);
    expect(si.trace.interruptedAt).toBeNull();
    expect(si.candidates.map((c) => c.text)).toEqual(['    y = x\n']);
    expect(si.candidates.map((c) => c.text)).toEqual(fim.candidates.map((c) => c.text));
  });

  test('tau = 1 interrupts before the first token: suffix prompt, suffix, then the middle before it', async () => {
    const lm = model();
    const r = await selfInfill(new Generator(lm), chars, request(PREFIX, '', { tau: 1, suffixPrompt: '    return', loops: 0 }));
    expect(r.trace.interruptedAt).toBe(0);
    // The suffix pass ran left to right from the prefix, then the middle pass had the self-written suffix.
    const runs = lm.calls.map((c) => txt(c.ids));
    expect(runs.some((t) => t.includes('    return'))).toBe(true);
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0]!.source).toBe('interrupt');
    expect(r.candidates[0]!.text).toBe('    y = x + 1\n    return y');
  });

  test('p_max < tau mid-line interrupts there; the result is m + middle + suffix', async () => {
    const r = await selfInfill(new Generator(model()), chars, request(PREFIX, '', { tau: 0.5, suffixPrompt: '    return', loops: 0 }));
    expect(r.trace.interruptedAt).toBe(5);
    // m = '    y'; suffix = lead '\n    return' + ' y' (cut at the next line break); middle between them.
    expect(r.candidates[0]!.text.startsWith('    y')).toBe(true);
    expect(r.candidates[0]!.text).toContain('\n    return y');
  });

  test('a loop regenerates the suffix and re-infills the middle', async () => {
    const r = await selfInfill(new Generator(model()), chars, request(PREFIX, '', { tau: 0.5, suffixPrompt: '    return', loops: 1 }));
    expect(r.trace).toMatchObject({ interruptedAt: 5, loopsRun: 1, loopsRejected: 0 });
    expect(r.candidates[0]!.source).toBe('loop');
    expect(r.candidates[0]!.text).toBe('    y = x + 1\n    return y');
  });

  test('looping falls back on degenerate output (the regenerated suffix lacks the suffix prompt)', async () => {
    const interruptOnly = await selfInfill(new Generator(model({ regen: '\n    print(y)\n' })), chars, request(PREFIX, '', { tau: 0.5, suffixPrompt: '    return', loops: 0 }));
    const looped = await selfInfill(new Generator(model({ regen: '\n    print(y)\n' })), chars, request(PREFIX, '', { tau: 0.5, suffixPrompt: '    return', loops: 2 }));
    expect(looped.trace).toMatchObject({ loopsRun: 1, loopsRejected: 1 });
    expect(looped.candidates[0]!.source).toBe('interrupt');
    expect(looped.candidates[0]!.text).toBe(interruptOnly.candidates[0]!.text);
  });

  test('with a real suffix there is no interruption: loops = 0 cuts at the first low-confidence line', async () => {
    const lm = new FakeLm(VOCAB, (seq) => writes(seq, [MID], 'a = 1\nb = 2\nc = 3\n', new Set([6])) ?? row(EOS));
    const base = await selfInfill(new Generator(lm), chars, request('x\n', 'print(c)\n', { tau: 0.5, suffixPrompt: null, loops: 0 }));
    expect(base.trace.interruptedAt).toBeNull();
    expect(base.trace.cuts).toBe(1);
    expect(base.candidates.map((c) => c.text)).toEqual(['a = 1']);
    // tau = 0: no cut, the whole middle.
    const whole = await selfInfill(new Generator(lm), chars, request('x\n', 'print(c)\n', { tau: 0, loops: 0 }));
    expect(whole.candidates.map((c) => c.text)).toEqual(['a = 1\nb = 2\nc = 3\n']);
  });

  test('loops ≥ 1 with a real suffix rank the cut against the full middle by sequence likelihood', async () => {
    // After 'a = 1\n' the model goes on with 'b' (0.46) but nearly stopped (0.44), and is unsure of every later char
    // (0.4 each): ending at the cut is the likelier sequence.
    const stopRow = (seq: readonly number[]) => {
      const r = writes(seq, [MID], 'a = 1\nb = 2\n', new Set([7, 8, 9, 10]));
      if (r && seq.length - seq.lastIndexOf(MID) - 1 === 6) {
        r.fill(-30);
        r[enc('b')[0]!] = Math.log(0.46);
        r[EOS] = Math.log(0.44);
        r[32] = Math.log(0.1);
      }
      return r ?? row(EOS);
    };
    const r = await selfInfill(new Generator(new FakeLm(VOCAB, stopRow)), chars, request('x\n', 'print(b)\n', { tau: 0.6, loops: 1 }));
    expect(r.trace.scored).toBe(2);
    expect(r.candidates.map((c) => c.text)).toEqual(['a = 1', 'a = 1\nb = 2\n']);
    expect(r.candidates[0]!.score).toBeGreaterThan(r.candidates[1]!.score);
  });

  test('PSM layouts also score the real suffix left to right after each candidate', async () => {
    const psm = fimLayout({ mode: 'psm', prefixId: PRE, suffixId: SUF, middleId: MID, bosId: null });
    const lm = new FakeLm(VOCAB, (seq) => writes(seq, [MID], 'a = 1\nb = 2\n', new Set([6])) ?? row(EOS));
    const req = request('x\n', 'print(b)\n', { layout: psm, promptIds: psm.infill(enc('x\n'), enc('print(b)\n')), tau: 0.5, loops: 1, suffixScoreIds: enc('print') });
    const r = await selfInfill(new Generator(lm), chars, req);
    expect(r.trace.scored).toBe(2);
    // Left to right: <fim_prefix>x\n (reused: past 3) + a candidate in one run, then the suffix head token by token.
    expect(lm.calls.some((c) => c.past === 3 && txt(c.ids) === 'a = 1\nb = 2\n')).toBe(true);
    expect(lm.calls.filter((c) => c.ids.length === 1 && 'print'.includes(txt(c.ids))).length).toBeGreaterThanOrEqual(2 * 4);
  });

  test('cancellation between decode steps and between passes returns cancelled, never throws', async () => {
    for (const after of [3, 12, 20]) {
      const lm = model();
      const ac = new AbortController();
      let n = 0;
      lm.onForward = () => {
        if (++n === after) ac.abort();
      };
      const r = await selfInfill(new Generator(lm), chars, request(PREFIX, '', { tau: 0.5, suffixPrompt: '    return', loops: 2, signal: ac.signal }));
      expect(r.cancelled).toBe(true);
      // Nothing runs after the abort but the forward pass already under way.
      expect(n).toBe(after);
    }
  });

  test('several candidates: alternative first tokens, each decoded greedily', async () => {
    const lm = new FakeLm(VOCAB, (seq) => {
      const at = seq.lastIndexOf(MID);
      const done = seq.length - at - 1;
      if (done === 0) {
        const r = row(enc('a')[0]!, 0.6);
        r[enc('b')[0]!] = Math.log(0.3);
        return r;
      }
      return done < 3 ? row(seq[seq.length - 1]!) : row(EOS);
    });
    const r = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), maxCandidates: 2 });
    expect(r.candidates.map((c) => c.text)).toEqual(['aaa', 'bbb']);
    expect(r.candidates[0]!.score).toBeGreaterThan(r.candidates[1]!.score);
  });

  test('one candidate and a rejected greedy text: other first tokens in rank order until one is not rejected', async () => {
    // First token a (0.4) > b (0.3) > c (0.2) > d (0.1); then each letter twice more.
    const lm = new FakeLm(VOCAB, (seq) => {
      const at = seq.lastIndexOf(MID);
      const done = seq.length - at - 1;
      if (done === 0) {
        const r = new Float32Array(VOCAB).fill(-30);
        [['a', 0.4], ['b', 0.3], ['c', 0.2], ['d', 0.1]].forEach(([ch, p]) => (r[enc(ch as string)[0]!] = Math.log(p as number)));
        return r;
      }
      return done < 3 ? row(seq[seq.length - 1]!) : row(EOS);
    });
    const asked: string[] = [];
    const reject = (text: string) => (asked.push(text), text.startsWith('a') || text.startsWith('b'));
    const r = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), reject });
    // The greedy text stays first (the raw answer); post-processing drops it, so the answer is the first accepted one.
    expect(r.candidates.map((c) => c.text)).toEqual(['aaa', 'bbb', 'ccc']);
    expect(asked).toEqual(['aaa', 'bbb', 'ccc']);
    // Nothing rejected: no retry, one decode.
    const runs = lm.calls.length;
    const once = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), reject: () => false });
    expect(once.candidates.map((c) => c.text)).toEqual(['aaa']);
    // Everything rejected: at most RETRY_FIRSTS retries.
    const all = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), reject: () => true });
    expect(all.candidates.map((c) => c.text)).toEqual(['aaa', 'bbb', 'ccc', 'ddd'].slice(0, 1 + RETRY_FIRSTS));
    // Several candidates asked, both rejected: the next first tokens make up for them until two are accepted; the list
    // is ranked by score as before.
    asked.length = 0;
    const two = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), maxCandidates: 2, reject });
    expect(two.candidates.map((c) => c.text)).toEqual(['aaa', 'bbb', 'ccc', 'ddd']);
    expect(asked).toEqual(['aaa', 'bbb', 'ccc', 'ddd']);
    // One of two rejected: one more, and it stops there.
    const one = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), maxCandidates: 2, reject: (t: string) => t.startsWith('a') });
    expect(one.candidates.map((c) => c.text)).toEqual(['aaa', 'bbb', 'ccc']);
    // None rejected: exactly as asked.
    const none = await decodeFim(new Generator(lm), chars, { ...request('x\n', ''), maxCandidates: 2, reject: () => false });
    expect(none.candidates.map((c) => c.text)).toEqual(['aaa', 'bbb']);
    expect(lm.calls.length).toBeGreaterThan(runs);
  });
});

describe('self-infilling helpers', () => {
  test('isDegenerateSuffix: empty, pass/return/closers only, missing prompt, repetitive', () => {
    expect(isDegenerateSuffix('', 'return')).toBe(true);
    expect(isDegenerateSuffix('  pass\n', 'return')).toBe(true);
    expect(isDegenerateSuffix('    print(x)\n', 'return')).toBe(true);
    expect(isDegenerateSuffix('x = 1\n' + 'return 0\n'.repeat(200), 'return')).toBe(true);
    expect(isDegenerateSuffix('    total += x\n    return total\n', 'return')).toBe(false);
    expect(isDegenerateSuffix('  }\n', '}')).toBe(false);
  });

  test('suffixLead: continue a whitespace-only line, otherwise start a new one', () => {
    expect(suffixLead('    ', '    return')).toBe('return');
    expect(suffixLead('', '    return')).toBe('    return');
    expect(suffixLead('    y = 1', '    return')).toBe('\n    return');
    expect(suffixLead('  ', '}')).toBe('\n}');
  });

  test('fimLayout: SPM infill and its left-to-right shape; PSM shares the prefix', () => {
    expect(layout.infill([7], [8])).toEqual([SUF, 8, PRE, 7, MID]);
    expect(layout.l2r([7])).toEqual([SUF, PRE, 7, MID]);
    const psm = fimLayout({ mode: 'psm', prefixId: PRE, suffixId: SUF, middleId: MID, bosId: 9 });
    expect(psm.infill([7], [8])).toEqual([9, PRE, 7, SUF, 8, MID]);
    expect(psm.l2r([7])).toEqual([9, PRE, 7]);
    expect(psm.l2rSharesPrefix).toBe(true);
  });

  test('lowConfidenceCuts: only line starts below tau', async () => {
    const lm = new FakeLm(VOCAB, (seq) => writes(seq, [MID], 'ab\ncd\nef', new Set([1, 3, 6])) ?? row(EOS));
    const gen = new Generator(lm);
    gen.appendTokens([MID]);
    const span = await decodeSpan(gen, chars, { maxNewTokens: 20, stopTokenIds: [EOS] });
    expect(span.text).toBe('ab\ncd\nef');
    expect(lowConfidenceCuts(span, 0.5).map((c) => span.text.slice(0, c.textEnd))).toEqual(['ab', 'ab\ncd']);
    expect(lowConfidenceCuts(span, 0.3)).toEqual([]);
  });
});
