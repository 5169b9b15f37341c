// The tree-sitter parsers, one per grammar, created on first use and reused for every parse (full or incremental).

import { createRequire } from 'node:module';
import type TreeSitter from 'tree-sitter';
import type { GrammarName } from './grammars.js';

export type Tree = TreeSitter.Tree;
export type SyntaxNode = TreeSitter.SyntaxNode;

// tree-sitter and its grammars are CommonJS native addons; load them through require from this ESM module.
const require = createRequire(import.meta.url);

const parsers = new Map<GrammarName, TreeSitter>();
const errorQueries = new Map<GrammarName, TreeSitter.Query>();

function loadLanguage(name: GrammarName): TreeSitter.Language {
  switch (name) {
    case 'typescript':
      return (require('tree-sitter-typescript') as { typescript: TreeSitter.Language }).typescript;
    case 'tsx':
      return (require('tree-sitter-typescript') as { tsx: TreeSitter.Language }).tsx;
    case 'javascript':
      return require('tree-sitter-javascript') as TreeSitter.Language;
    case 'python':
      return require('tree-sitter-python') as TreeSitter.Language;
  }
}

function parserFor(name: GrammarName): TreeSitter {
  let parser = parsers.get(name);
  if (!parser) {
    const Parser = require('tree-sitter') as typeof TreeSitter;
    parser = new Parser();
    parser.setLanguage(loadLanguage(name));
    parsers.set(name, parser);
  }
  return parser;
}

/** A query capturing every ERROR and MISSING node (native matching: much cheaper than walking nodes from JS). */
export function errorQuery(name: GrammarName): TreeSitter.Query {
  let query = errorQueries.get(name);
  if (!query) {
    const Parser = require('tree-sitter') as typeof TreeSitter;
    query = new Parser.Query(loadLanguage(name), '(ERROR) @error (MISSING) @missing');
    errorQueries.set(name, query);
  }
  return query;
}

// The node binding reads a string input in chunks of this many UTF-16 units; larger chunks mean fewer JS↔native calls.
const BUFFER_SIZE = 64 * 1024;

/**
 * Parses `text` from scratch. Node offsets (startIndex/endIndex) are UTF-16 code-unit offsets into `text`.
 * Returns undefined instead of throwing if the native parser fails (broken code never does; it yields ERROR nodes).
 */
export function parseText(name: GrammarName, text: string): Tree | undefined {
  try {
    const parser = parserFor(name);
    // A previous failed parse would otherwise be resumed: start fresh every time.
    parser.reset();
    return parser.parse(text, null, { bufferSize: BUFFER_SIZE });
  } catch {
    return undefined;
  }
}

/**
 * Re-parses `text` reusing `oldTree`, which the caller has already `edit`ed to match `text` (tree-sitter's incremental
 * parse: only the edited region is re-parsed). Edits take UTF-16 offsets and UTF-16 columns in this binding.
 */
export function reparseText(name: GrammarName, text: string, oldTree: Tree): Tree | undefined {
  try {
    return parserFor(name).parse(text, oldTree, { bufferSize: BUFFER_SIZE });
  } catch {
    return undefined;
  }
}
