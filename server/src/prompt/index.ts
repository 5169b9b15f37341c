// prompt/: FIM templates, token budgets, token healing and repository-level context. Pure: no I/O, never throws on odd input.
export { detectTemplate, configFimMode, type FimTemplate, type FimFamily, type FimMode, type TemplateOverride, type SpecialTokenLookup } from './templates.js';
export { buildFimPrompt, healPrefix, type FimPrompt, type PromptOptions, type PromptTokenizer } from './build.js';
export { trimPrefix, trimSuffix, MAX_CHARS_PER_TOKEN, type Encode, type Trimmed } from './trim.js';
export { buildContextPrompt, lineComment, DEFAULT_CONTEXT_TOKENS, type ContextPrompt, type RepoContextInput } from './repo.js';
export { FAR_CONTEXT_STICKY_LINES, farSnippets, identifierSet, jaccard, lineCount, stickyFarTexts, type FarChoice, type FarChoices, type FarContextOptions, type FarSnippet } from './far-context.js';
