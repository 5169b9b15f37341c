// The model worker's entry: one long-lived worker thread that owns the model side (engine/model-side.ts: runtime
// sessions, KV caches, scheduler, decoding, tokenizer, syntax plans). It answers model-host/protocol.ts messages.
// Cancellation: each job's shared Int32 flag is polled between prefill chunks (scheduler poll hook) and before each
// decode step (the job's signal polls on read), so a cancel never waits behind a running job's message queue.
import { parentPort, workerData } from 'node:worker_threads';
import { createModelSide } from '../engine/model-side.js';
import { isCancelFlagSet, pollOnRead } from '../util/cancel-flag.js';
import { errorText } from '../util/errors.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

if (!parentPort) throw new Error('model-host/worker.js runs as a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (message: FromWorker) => port.postMessage(message);

/** Live jobs' flags and the controllers their signals come from. */
const jobs = new Map<number, { flag: Int32Array; controller: AbortController }>();
function poll(): void {
  for (const job of jobs.values()) if (!job.controller.signal.aborted && isCancelFlagSet(job.flag)) job.controller.abort();
}

const side = createModelSide(init.options, {
  log: init.log ? (message) => post({ type: 'log', message }) : undefined,
  onSchedulerEvent: init.schedulerEvents ? (event) => post({ type: 'event', event }) : undefined,
  poll,
});
side.onStatus((status) => post({ type: 'status', status }));
post({ type: 'status', status: side.status() });

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'complete': {
      const controller = new AbortController();
      jobs.set(m.id, { flag: m.flag, controller });
      const signal = pollOnRead(controller.signal, poll);
      poll();
      side
        .complete({ context: m.context, background: m.background, startedAt: m.startedAt }, signal, (text) => post({ type: 'partial', id: m.id, text }))
        .catch((e): { kind: 'degraded'; reason: string } => ({ kind: 'degraded', reason: `completion failed: ${errorText(e)}` }))
        .then((result) => {
          jobs.delete(m.id);
          post({ type: 'result', id: m.id, result, stats: side.cacheStats() });
        });
      return;
    }
    case 'cancel':
      poll();
      return;
    case 'warm':
      void side
        .warm(m.context)
        .catch(() => 'failed' as const)
        .then((outcome) => post({ type: 'warmed', id: m.id, outcome, stats: side.cacheStats() }));
      return;
    case 'close':
      side.closeDocument(m.documentKey);
      post({ type: 'stats', stats: side.cacheStats() });
      return;
    case 'dispose':
      void side.dispose().then(() => {
        post({ type: 'disposed' });
        port.close();
      });
      return;
    case 'crash':
      // A stray stdout write first, as a library in the worker might do: the host pipes it to stderr (tests check).
      console.log('model worker: crash requested');
      setImmediate(() => {
        throw new Error('model worker crash requested');
      });
      return;
  }
});
