// engine/: the façade transports use (createEngine), the model side behind it (createModelSide: also the in-thread
// ModelHost; model-host/ runs it in a worker) and the shared contract (types.ts).
export { createEngine, isSingleLine, type Engine, type EngineOptions } from './engine.js';
export { createModelSide, type ModelHost, type ModelOptions, type ModelResult, type WarmOutcome, type EngineCacheStats } from './model-side.js';
export { loadBundle, checkVocab, type LoadedBundle } from './load.js';
export type * from './types.js';
