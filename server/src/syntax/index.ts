// The syntax layer's public surface: tree-sitter parsing over grammars/, cursor analysis and syntax-error comparison.

export { analyzeCursor, type CursorAnalysis } from './cursor.js';
export { addsSyntaxErrors, errorWindow, syntaxChecker, syntaxErrorCount, syntaxErrorDelta, type ErrorCheckOptions, type SyntaxCheck } from './errors.js';
export { GRAMMAR_NAMES, grammarFor, grammarSettings, type GrammarName, type GrammarSettings } from './grammars.js';
export { detectIndentUnit, leadingWhitespace } from './indent.js';
export { GENERIC_RULES, initialScanState, scan, structuralCost, type LexicalRules, type ScanState } from './lexer.js';
export { parseText, type SyntaxNode, type Tree } from './parsers.js';
export { SyntaxTrees, coveringEdit, type TreeUpdate } from './trees.js';
