// Shared by the benchmark scripts: reading JSONL (plain, .gz or .xz) and a small seeded PRNG.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** Rows of a JSONL file; .xz is read through `xz -dc`, .gz through zlib. */
export function readJsonl(path) {
  const raw = path.endsWith('.xz') ? execFileSync('xz', ['-dc', path], { maxBuffer: 1 << 30 }) : path.endsWith('.gz') ? gunzipSync(readFileSync(path)) : readFileSync(path);
  return raw.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** mulberry32: a small seeded PRNG in [0, 1), so task files and replays are reproducible. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
