// The messages between the main thread (model-host/client.ts) and the model worker (model-host/worker.ts): one tagged
// union each way, plain data only (structured clone). Cancellation does not travel here first: each job carries an
// Int32 flag in a SharedArrayBuffer that the main thread sets with Atomics.store and the worker reads between model
// runs (util/cancel-flag.ts); the `cancel` message only wakes the worker when its event loop is idle.
import type { CompletionContext, EngineStatus } from '../engine/types.js';
import type { EngineCacheStats, ModelOptions, ModelResult, WarmOutcome } from '../engine/model-side.js';
import type { SchedulerEvent } from '../scheduler/index.js';

/** workerData of the worker: the model options and whether to forward scheduler events. */
export interface WorkerInit {
  options: ModelOptions;
  schedulerEvents: boolean;
  /** Forward the model side's debug log lines. */
  log: boolean;
}

/** Main thread → worker. */
export type ToWorker =
  | { type: 'complete'; id: number; context: CompletionContext; background: boolean; startedAt: number; flag: Int32Array }
  | { type: 'cancel'; id: number }
  | { type: 'warm'; id: number; context: CompletionContext }
  | { type: 'close'; documentKey: string }
  | { type: 'dispose' }
  /** Throws an uncaught error in the worker (tests of crash recovery). */
  | { type: 'crash' };

/** Worker → main thread. Every answer carries the cache counters, so cacheStats() is current when it resolves. */
export type FromWorker =
  | { type: 'status'; status: EngineStatus }
  | { type: 'log'; message: string }
  | { type: 'event'; event: SchedulerEvent }
  | { type: 'partial'; id: number; text: string }
  | { type: 'result'; id: number; result: ModelResult; stats: EngineCacheStats | null }
  | { type: 'warmed'; id: number; outcome: WarmOutcome; stats: EngineCacheStats | null }
  | { type: 'stats'; stats: EngineCacheStats | null }
  | { type: 'disposed' };
