// context/: cross-file context (definitions of imported symbols, recently edited/viewed chunks) for the prompt.
export { CrossFileContextProvider, uriToPath, type CrossFileOptions, type OpenDocument } from './provider.js';
export { ChunkRing, jaccard, type RingChunk, type ChunkRingOptions } from './ring.js';
export { extractDefinitions, identifierSet, identifiersNear, importsOf, type Definition, type ImportBinding, type ImportInfo } from './symbols.js';
export { WorkspaceFiles, isWithin, moduleCandidates, type WorkspaceFilesOptions } from './workspace.js';
