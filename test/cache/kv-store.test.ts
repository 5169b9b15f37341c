// The byte-bounded LRU of per-document KV entries: ownership (take/put), eviction disposes, the budget holds.
import { describe, expect, test } from 'vitest';
import { KvStore } from '../../server/src/cache/index.js';

class Fake {
  disposed = false;
  constructor(public bytes: number) {}
  dispose(): void {
    if (this.disposed) throw new Error('disposed twice');
    this.disposed = true;
  }
}

const store = (budgetBytes: number) => new KvStore<Fake>({ budgetBytes, sizeOf: (v) => v.bytes });

describe('KvStore', () => {
  test('take hands the value over without disposing it; put gives it back', () => {
    const s = store(1000);
    const a = new Fake(100);
    s.put('a', a);
    expect(s.stats()).toMatchObject({ entries: 1, bytes: 100 });
    const got = s.take('a');
    expect(got).toBe(a);
    expect(a.disposed).toBe(false);
    expect(s.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 1 });
    expect(s.take('a')).toBeUndefined();
    expect(s.stats().misses).toBe(1);
    a.bytes = 300; // grew while in use
    s.put('a', a);
    expect(s.stats()).toMatchObject({ entries: 1, bytes: 300 });
  });

  test('evicts least recently used values (disposing them) to stay within the byte budget', () => {
    const s = store(1000);
    const vs = [400, 400, 400].map((b) => new Fake(b));
    vs.forEach((v, i) => s.put(`d${i}`, v));
    expect(vs[0]!.disposed).toBe(true);
    expect(vs[1]!.disposed || vs[2]!.disposed).toBe(false);
    expect(s.stats()).toMatchObject({ entries: 2, bytes: 800, evictions: 1 });
    // Using d1 makes d2 the oldest.
    s.put('d1', s.take('d1')!);
    s.put('d3', new Fake(300));
    expect(vs[2]!.disposed).toBe(true);
    expect(vs[1]!.disposed).toBe(false);
    expect(s.stats().bytes).toBeLessThanOrEqual(1000);
  });

  test('a value larger than the budget is disposed, not kept; budget 0 keeps nothing', () => {
    const s = store(1000);
    const big = new Fake(5000);
    s.put('big', big);
    expect(big.disposed).toBe(true);
    expect(s.stats().entries).toBe(0);
    const none = store(0);
    const v = new Fake(1);
    none.put('v', v);
    expect(v.disposed).toBe(true);
    expect(none.take('v')).toBeUndefined();
  });

  test('delete and clear dispose', () => {
    const s = store(1000);
    const a = new Fake(10);
    const b = new Fake(10);
    s.put('a', a);
    s.put('b', b);
    expect(s.delete('a')).toBe(true);
    expect(a.disposed).toBe(true);
    s.clear();
    expect(b.disposed).toBe(true);
    expect(s.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  test('100 documents: the byte total never exceeds the budget and every evicted value is disposed', () => {
    const s = store(10_000);
    const all: Fake[] = [];
    for (let i = 0; i < 100; i++) {
      const v = new Fake(500 + ((i * 37) % 900));
      all.push(v);
      s.put(`doc${i}`, v);
      expect(s.stats().bytes).toBeLessThanOrEqual(10_000);
    }
    const live = all.filter((v) => !v.disposed);
    expect(live.length).toBe(s.stats().entries);
    expect(live.reduce((a, v) => a + v.bytes, 0)).toBe(s.stats().bytes);
  });
});
