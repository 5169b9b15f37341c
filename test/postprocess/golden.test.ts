// Golden tests for every post-processing filter and the whole chain: test/fixtures/postprocess/<filter>/*.txt.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FILTERS, fitCandidate, postprocess, type Filter, type PostprocessContext } from '../../server/src/postprocess/index.js';
import { documentEol, lfOnly } from '../../server/src/documents/index.js';
import { loadFixtures, splitAtCursor } from './fixture.js';

const ROOT = join(import.meta.dirname, '../fixtures/postprocess');
const byName = new Map<string, Filter>(FILTERS.map((f) => [f.name, f.filter]));
byName.set('chain', postprocess);
// The edges' fit (postprocess/fit.ts) as a transport runs it: the engine's context is LF, the item gets the document's
// line ends.
byName.set('fit', (text, ctx) => fitCandidate(text, { prefix: lfOnly(ctx.prefix), suffix: lfOnly(ctx.suffix), languageId: ctx.languageId, eol: documentEol(ctx.prefix + ctx.suffix) }));

const crlf = (s: string) => s.replace(/\n/g, '\r\n');

for (const dir of readdirSync(ROOT).sort()) {
  const filter = byName.get(dir);
  describe(dir, () => {
    test('names a filter of the chain', () => expect(filter, `no filter named ${dir}`).toBeDefined());
    for (const fx of loadFixtures(join(ROOT, dir))) {
      test(fx.file.slice(ROOT.length + 1), () => {
        const { document, completion, expected } = fx.sections;
        if (document === undefined || completion === undefined || expected === undefined) throw new Error(`${fx.file}: needs document, completion and expected`);
        const isCrlf = fx.header.eol === 'crlf';
        const { prefix, suffix } = splitAtCursor(fx.file, isCrlf ? crlf(document) : document);
        const ctx: PostprocessContext = { prefix, suffix, languageId: fx.header.language ?? 'typescript' };
        if (fx.header.lineMode === 'single' || fx.header.lineMode === 'multi') ctx.lineMode = fx.header.lineMode;
        const raw = fx.header.completionEol === 'crlf' ? crlf(completion) : completion;
        expect(filter!(raw, ctx)).toBe(isCrlf ? crlf(expected) : expected);
      });
    }
  });
}
