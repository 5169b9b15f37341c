// Per-language syntax settings read from the top-level grammars/<name>.json files, and the editor language id → grammar mapping.

import { readFileSync } from 'node:fs';

/** The tree-sitter grammars the server bundles. */
export type GrammarName = 'typescript' | 'tsx' | 'javascript' | 'python';

export const GRAMMAR_NAMES: readonly GrammarName[] = ['typescript', 'tsx', 'javascript', 'python'];

/** One grammars/<name>.json file: node types for tree queries plus the lexical rules the bracket scanner needs. */
export interface GrammarSettings {
  name: GrammarName;
  /** Editor language ids served by this grammar. */
  languageIds: string[];
  commentTypes: string[];
  stringTypes: string[];
  statementTypes: string[];
  /**
   * A regular expression (source) matching the start of a completion that begins a new statement: the keywords that
   * never continue an expression (postprocess/statement-break.ts `startsStatement`).
   */
  statementStart: string;
  blockTypes: string[];
  /** 'braces': blocks are `{ … }`; 'indent': blocks are opened by `:` and closed by dedent (Python). */
  blockStyle: 'braces' | 'indent';
  lineComment: string | null;
  blockComment: [string, string] | null;
  quotes: string[];
  /** Quotes whose strings may span lines (JS template literals); other single quotes end at a newline. */
  multilineQuotes: string[];
  /** Python's ''' and """ strings. */
  tripleQuotes: boolean;
  brackets: [string, string][];
  /** Tokens that close a construct: a completion ending in them may duplicate the suffix. */
  closingTokens: string[];
  /** Indent unit used when the document has no indented line to learn from. */
  defaultIndent: string;
}

// grammars/ sits at the repository root: ../../../grammars from both server/src/syntax and server/dist/syntax.
const GRAMMARS_DIR = new URL('../../../grammars/', import.meta.url);

const loaded = new Map<GrammarName, GrammarSettings>();

/** The settings of one grammar; reads its JSON once. Throws only when the installation lacks the file (a packaging bug). */
export function grammarSettings(name: GrammarName): GrammarSettings {
  let settings = loaded.get(name);
  if (!settings) {
    const url = new URL(`${name}.json`, GRAMMARS_DIR);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`syntax: cannot read grammar settings ${url.pathname}: ${(err as Error).message}`);
    }
    settings = { ...(raw as unknown as GrammarSettings), name };
    loaded.set(name, settings);
  }
  return settings;
}

// A Map, not an object literal: a client's language id may be "constructor" or "__proto__" (issue 13, item 6).
const BY_LANGUAGE_ID: ReadonlyMap<string, GrammarName> = new Map([
  ['typescript', 'typescript'],
  ['typescriptreact', 'tsx'],
  ['javascript', 'javascript'],
  ['javascriptreact', 'javascript'],
  ['python', 'python'],
]);

/**
 * The grammar for an editor language id, or undefined for languages without one (callers then skip syntax checks
 * and treat the text as plain text). Any string is safe, including Object.prototype keys.
 */
export function grammarFor(languageId: string): GrammarName | undefined {
  return BY_LANGUAGE_ID.get(languageId);
}
