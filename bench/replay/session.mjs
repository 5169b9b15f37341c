// The replay's typing sessions, shared by replay.mjs (over LSP, timed), fim-tokens.mjs (prompt tokens only) and the in-thread side-by-side benches.
import path from 'node:path';
import { readJsonl, rng } from '../lib/data.mjs';

/** Real TypeScript dev files (held out from training), picked deterministically: the first `count` of 4-12k chars. */
export function replayFiles(root, count) {
  const files = [];
  for (const r of readJsonl(path.join(root, 'bench/quality/data/npm-dev.jsonl.xz'))) {
    if (r.lang === 'typescript' && r.text.length >= 4000 && r.text.length <= 12000 && !r.text.includes('\r')) files.push(r);
    if (files.length >= count) break;
  }
  return files;
}

/** Offset → LSP position (UTF-16, '\n' only). */
export function positionAt(text, offset) {
  let line = 0;
  let last = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i + 1;
  }
  return { line, character: offset - last };
}

/**
 * The session for one file: the editor opens the file with a stretch of `nchars` characters removed at a line start
 * in the middle, and the user types it back: characters at 80-200 ms, a typo fixed with backspace now and then, and
 * twice a jump elsewhere in the file (10 characters typed there, then removed) and back. Steps are per typed
 * character (index i); positions are computed when they are replayed (an accept types several characters at once).
 */
export function makeSession(file, rand, nchars) {
  const text = file.text;
  const mid = Math.floor(text.length * (0.4 + 0.2 * rand()));
  const start = text.lastIndexOf('\n', mid) + 1;
  const typed = text.slice(start, start + nchars);
  const initial = text.slice(0, start) + text.slice(start + nchars);
  const steps = []; // per typed index: {i, jump?: {atInitial, gaps[]}, typo?: {gaps: [g1, g2]}, gapMs}
  const gap = () => 80 + Math.floor(rand() * 120);
  const jumpsAt = new Set([Math.floor(nchars / 3), Math.floor((2 * nchars) / 3)]);
  for (let i = 0; i < typed.length; i++) {
    const step = { i };
    if (jumpsAt.has(i)) {
      const far = initial.length * rand();
      step.jump = { atInitial: initial.lastIndexOf('\n', far) + 1, gaps: Array.from({ length: 20 }, gap) };
    }
    if (rand() < 0.05 && /\w/.test(typed[i])) step.typo = { gaps: [gap(), 150 + Math.floor(rand() * 150)] };
    step.gapMs = gap();
    steps.push(step);
  }
  return { initial, start, typed, steps };
}

/** The document after each keystroke of a session typed without accepts (as replay.mjs --accept 0 sends them). */
export function* keystrokes(session) {
  const { initial, start, typed, steps } = session;
  let text = initial;
  let done = 0;
  const insert = (at, ch) => {
    text = text.slice(0, at) + ch + text.slice(at);
    return { text, cursor: at + ch.length };
  };
  const del = (at) => {
    text = text.slice(0, at) + text.slice(at + 1);
    return { text, cursor: at };
  };
  for (const step of steps) {
    if (step.jump) {
      const at = step.jump.atInitial > start ? step.jump.atInitial + done : step.jump.atInitial;
      const junk = '// note: x';
      for (let j = 0; j < junk.length; j++) yield insert(at + j, junk[j]);
      for (let j = junk.length; j > 0; j--) yield del(at + j - 1);
    }
    const cursor = start + done;
    if (step.typo) {
      yield insert(cursor, 'q');
      yield del(cursor);
    }
    yield insert(cursor, typed[step.i]);
    done++;
  }
}

/** `--name value` from the command line, else `dflt`. */
export function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
}

/** The session flags both replay scripts take: --files N --chars N --seed N (defaults 3, 120, 1). */
export function sessionArgs() {
  return { nfiles: Number(arg('files', 3)), nchars: Number(arg('chars', 120)), seed: Number(arg('seed', 1)) };
}

/**
 * The completion requests of typing sessions over the first `count` replay files (`nchars` typed each, seed 1 + file
 * index), as the in-thread side-by-side benches ask them (draft.mjs, host-cost.mjs): `{ file, context }`, the context
 * an automatic single-candidate request whose `version` counts 1..`limit` across the files.
 */
export function* replayRequests(root, count, nchars, limit) {
  let version = 0;
  for (const [file, f] of replayFiles(root, count).entries()) {
    const documentKey = `file:///d${file}.ts`;
    for (const { text, cursor } of keystrokes(makeSession(f, rng(1 + file), nchars))) {
      if (version >= limit) return;
      version++;
      yield { file, context: { documentKey, version, languageId: 'typescript', prefix: text.slice(0, cursor), suffix: text.slice(cursor), trigger: 'automatic', maxCandidates: 1 } };
    }
  }
}

/** Whether two variants answered a request alike: same outcome, candidate texts and raw model text. */
export function sameAnswer(a, b) {
  return a.kind === b.kind && JSON.stringify(a.texts) === JSON.stringify(b.texts) && a.raw === b.raw;
}
