// The cross-file provider on a real temp workspace: definitions from disk and from open documents, the recent ring,
// stickiness (the context stays the same object while nothing material changes), containment.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { CrossFileContextProvider, type OpenDocument } from '../../server/src/context/index.js';

const base = mkdtempSync(path.join(tmpdir(), 'infill-ls-xf-'));
const root = path.join(base, 'shop');
const outside = path.join(base, 'outside');
mkdirSync(path.join(root, 'src'), { recursive: true });
mkdirSync(outside);
writeFileSync(path.join(root, 'src', 'price.ts'), 'export function netPrice(gross: number, vatRate: number): number {\n  return gross / (1 + vatRate);\n}\nexport const unused = 1;\n');
writeFileSync(path.join(outside, 'leak.ts'), 'export function leaked(secret: string): string {\n  return secret;\n}\n');
symlinkSync(path.join(outside, 'leak.ts'), path.join(root, 'src', 'leak.ts'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const uri = (rel: string) => pathToFileURL(path.join(root, rel)).href;
const MAIN = "import { netPrice } from './price';\nimport { leaked } from './leak';\n\nexport function total(items: number[]) {\n  return items.map((x) => netPrice(x, ";

describe('CrossFileContextProvider', () => {
  test('definition of an imported symbol used near the cursor, from disk under the root; symlinks out are not followed', async () => {
    const p = new CrossFileContextProvider({ roots: [root] });
    const doc: OpenDocument = { uri: uri('src/main.ts'), languageId: 'typescript', text: MAIN + 'leaked(x)));\n}\n' };
    const ctx = await p.contextFor(doc, MAIN.length);
    expect(ctx).toBeDefined();
    expect(ctx!.repoName).toBe('shop');
    expect(ctx!.path).toBe('src/main.ts');
    expect(ctx!.chunks).toEqual([{ path: 'src/price.ts', kind: 'definition', text: 'export function netPrice(gross: number, vatRate: number): number {\n  return gross / (1 + vatRate);\n}' }]);
    expect(JSON.stringify(ctx)).not.toContain('secret');
  });

  test('an open document is used before the file on disk', async () => {
    const open: OpenDocument = { uri: uri('src/price.ts'), languageId: 'typescript', text: 'export function netPrice(gross: number, rate: number, round = true): number {\n  return 0;\n}\n' };
    const p = new CrossFileContextProvider({ roots: [root], documents: () => [open] });
    const ctx = await p.contextFor({ uri: uri('src/main.ts'), languageId: 'typescript', text: MAIN }, MAIN.length);
    expect(ctx!.chunks[0]!.text).toContain('round = true');
  });

  test('no roots: only open documents serve; nothing from disk', async () => {
    const p = new CrossFileContextProvider({ roots: [] });
    expect(await p.contextFor({ uri: uri('src/main.ts'), languageId: 'typescript', text: MAIN }, MAIN.length)).toBeUndefined();
  });

  test('recent chunks of other documents, ranked by similarity, after the definitions', async () => {
    const p = new CrossFileContextProvider({ roots: [root], maxRecent: 1 });
    p.noteDocument(uri('src/cart.ts'), 'export function cartTotal(items: number[]) {\n  return items.reduce((s, x) => s + netPrice(x, 0.2), 0);\n}\n', 1);
    p.noteDocument(uri('src/other.ts'), 'export const colour = "red";\nexport const size = 3;\n', 0);
    const ctx = await p.contextFor({ uri: uri('src/main.ts'), languageId: 'typescript', text: MAIN }, MAIN.length);
    expect(ctx!.chunks.map((c) => [c.kind, c.path])).toEqual([
      ['definition', 'src/price.ts'],
      ['recent', 'src/cart.ts'],
    ]);
  });

  test('sticky: the same context object while nothing material changes, a new one when a new definition is wanted', async () => {
    writeFileSync(path.join(root, 'src', 'fmt.ts'), 'export const fmt = (n: number) => n.toFixed(2);\n');
    const p = new CrossFileContextProvider({ roots: [root] });
    const text = "import { netPrice } from './price';\nimport { fmt } from './fmt';\n" + '\n'.repeat(20) + 'const a = netPrice(1, 0.2);\n';
    const doc = (t: string): OpenDocument => ({ uri: uri('src/main.ts'), languageId: 'typescript', text: t });
    const first = await p.contextFor(doc(text), text.length);
    const typed = text + 'const b = a + 1;\n';
    expect(await p.contextFor(doc(typed), typed.length)).toBe(first);
    const uses = typed + 'console.log(fmt(';
    const next = await p.contextFor(doc(uses), uses.length);
    expect(next).not.toBe(first);
    expect(next!.chunks.map((c) => c.path)).toEqual(['src/fmt.ts', 'src/price.ts']);
  });

  test('Python: from-import of a sibling module', async () => {
    mkdirSync(path.join(root, 'pkg'));
    writeFileSync(path.join(root, 'pkg', '__init__.py'), '');
    writeFileSync(path.join(root, 'pkg', 'geo.py'), 'def haversine(lat1, lon1, lat2, lon2):\n    return 0.0\n');
    const text = 'from .geo import haversine\n\ndef dist(a, b):\n    return haversine(';
    const p = new CrossFileContextProvider({ roots: [root] });
    const ctx = await p.contextFor({ uri: pathToFileURL(path.join(root, 'pkg', 'main.py')).href, languageId: 'python', text }, text.length);
    expect(ctx!.chunks).toEqual([{ path: 'pkg/geo.py', kind: 'definition', text: 'def haversine(lat1, lon1, lat2, lon2):\n    return 0.0' }]);
  });
});
