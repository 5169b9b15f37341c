// engine/: the façade transports use (createEngine) and the shared contract (types.ts).
export { createEngine, isSingleLine, type Engine, type EngineOptions } from './engine.js';
export { loadBundle, checkVocab, type LoadedBundle } from './load.js';
export type * from './types.js';
