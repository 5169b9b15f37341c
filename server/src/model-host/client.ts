// The main thread's side of the model worker: a ModelHost (engine/model-side.ts's interface) whose model runs in one
// long-lived worker thread (model-host/worker.ts). The servers (LSP, WebSocket API) use it so the message loop never
// waits for the model; the CLI and tests may use the in-thread twin (engine/model-side.ts createModelSide).
//
// - Cancellation: each job gets an Int32 flag in a SharedArrayBuffer; aborting the signal sets it (Atomics.store),
//   posts a `cancel` to wake an idle worker, and answers {kind:'cancelled'} at once. The worker reads the flag between
//   prefill chunks and decode steps; its late answer is dropped.
// - stdout: the worker's stdout and stderr are piped here (`stdout: true, stderr: true`) and written to stderr: in
//   `--stdio` mode process stdout carries the LSP stream.
// - Crash: an uncaught error or an exit that was not asked for answers the pending jobs (`degraded` / 'failed'), sets
//   the status to degraded with the reason, and the next request starts a new worker (`revive`).
// - Exit: the worker is unref'd while it has no job and is not loading, so it never keeps a finished process alive.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CompletionContext, EngineStatus } from '../engine/types.js';
import type { EngineCacheStats, ModelHooks, ModelHost, ModelOptions, ModelRequest, ModelResult, WarmOutcome } from '../engine/model-side.js';
import { createCancelFlag, setCancelFlag } from '../util/cancel-flag.js';
import { errorText } from '../util/errors.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

/** The compiled worker entry (server/dist/model-host/worker.js); from the TypeScript sources (tests), the built one. */
export function workerScriptPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return fileURLToPath(new URL('./worker.js', import.meta.url));
  const built = here.replace(/([\\/])server\1src\1model-host\1client\.ts$/, '$1server$1dist$1model-host$1worker.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build (the model worker runs the compiled code)`);
  return built;
}

/**
 * Resolves when the last worker this module started has exited: a new worker starts only then (one model worker per
 * process at a time: several workers with sessions run fine, but onnxruntime-node aborts the process when a worker is
 * terminated or the process exits while a run is in flight (bench/results/accelerators-workers-probe.txt), and the
 * old worker may still be finishing one; an engine recreated for new settings starts its worker after the old one is gone).
 */
let previousWorkerGone: Promise<void> = Promise.resolve();

type Pending =
  | { kind: 'complete'; resolve: (r: ModelResult) => void; onPartial?: (text: string) => void }
  | { kind: 'warm'; resolve: (o: WarmOutcome) => void };

export interface WorkerHost extends ModelHost {
  /** The worker's thread id (null when none runs): tests see a restart. */
  threadId(): number | null;
  /** Makes the worker throw an uncaught error, as a bug in it would (tests of crash recovery). */
  crashForTest(): void;
}

/** Starts the model worker with these options; `hooks` run on this thread (log lines and scheduler events are forwarded). */
export function createWorkerHost(options: ModelOptions = {}, hooks: Pick<ModelHooks, 'log' | 'onSchedulerEvent'> = {}): WorkerHost {
  const log = hooks.log ?? (() => {});
  const listeners = new Set<(s: EngineStatus) => void>();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | null = null;
  /** Waiting for the previous worker to exit; messages sent meanwhile wait in `outbox`. */
  let starting = false;
  const outbox: ToWorker[] = [];
  let status: EngineStatus = { state: 'loading', model: options.modelDir };
  let stats: EngineCacheStats | null = null;
  let disposing = false;
  let crashed = false;
  let loaded: Promise<void> = Promise.resolve();
  let markLoaded = () => {};
  let disposedAck = () => {};

  const setStatus = (next: EngineStatus) => {
    status = next;
    if (status.state !== 'loading') markLoaded();
    refresh();
    for (const l of listeners) {
      try {
        l(status);
      } catch {
        // a listener's failure is not the host's
      }
    }
  };

  /** Keeps the process alive only while the worker has something to do. */
  function refresh(): void {
    if (!worker) return;
    if (pending.size > 0 || status.state === 'loading' || disposing) worker.ref();
    else worker.unref();
  }

  const send = (message: ToWorker) => {
    if (worker) worker.postMessage(message);
    else if (starting) outbox.push(message);
  };

  function spawn(): void {
    crashed = false;
    stats = null;
    loaded = new Promise<void>((resolve) => (markLoaded = resolve));
    starting = true;
    const gate = previousWorkerGone;
    let gone!: () => void;
    previousWorkerGone = new Promise<void>((resolve) => (gone = resolve));
    setStatus({ state: 'loading', model: options.modelDir, message: 'starting the model worker' });
    void gate.then(() => {
      starting = false;
      if (disposing) {
        gone();
        return;
      }
      try {
        start(gone);
      } catch (e) {
        // The worker could not be created (e.g. server/dist missing): degraded, like a crash; retried on the next request.
        gone();
        outbox.length = 0;
        fail(`model worker could not start: ${errorText(e)}`);
        return;
      }
      for (const m of outbox.splice(0)) worker!.postMessage(m);
    });
  }

  function start(gone: () => void): void {
    const init: WorkerInit = { options, schedulerEvents: hooks.onSchedulerEvent !== undefined, log: hooks.log !== undefined };
    // (Flags the parent took that a worker refuses, like `node --input-type=module -e`, are left out.)
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const w = new Worker(workerScriptPath(), { workerData: init, stdout: true, stderr: true, execArgv });
    worker = w;
    refresh();
    // Never to process stdout: it may be the LSP stream.
    w.stdout.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    w.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    let failure: string | null = null;
    w.on('message', (m: FromWorker) => onMessage(m));
    w.on('error', (e) => {
      failure = errorText(e);
      log(`model worker failed: ${failure}`);
    });
    w.on('exit', (code) => {
      gone();
      if (worker !== w) return;
      worker = null;
      if (disposing) {
        disposedAck();
        return;
      }
      fail(`model worker stopped (${failure ?? `exit code ${code}`}); it restarts on the next request`);
    });
  }

  /** No worker (crashed, or it could not start): pending jobs answer, status degraded; `revive` tries again. */
  function fail(reason: string): void {
    crashed = true;
    log(reason);
    for (const [id, p] of pending) {
      pending.delete(id);
      if (p.kind === 'complete') p.resolve({ kind: 'degraded', reason });
      else p.resolve('failed');
    }
    setStatus({ ...status, state: 'degraded', message: reason });
  }

  function onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'status':
        setStatus(m.status);
        return;
      case 'log':
        log(m.message);
        return;
      case 'event':
        hooks.onSchedulerEvent?.(m.event);
        return;
      case 'partial': {
        const p = pending.get(m.id);
        if (p?.kind === 'complete') p.onPartial?.(m.text);
        return;
      }
      case 'result': {
        stats = m.stats;
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (p?.kind === 'complete') p.resolve(m.result);
        refresh();
        return;
      }
      case 'warmed': {
        stats = m.stats;
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (p?.kind === 'warm') p.resolve(m.outcome);
        refresh();
        return;
      }
      case 'stats':
        stats = m.stats;
        return;
      case 'disposed':
        disposedAck();
        return;
    }
  }

  spawn();

  return {
    get loaded() {
      return loaded;
    },
    status: () => status,
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    complete(request: ModelRequest, signal: AbortSignal, onPartial?: (text: string) => void): Promise<ModelResult> {
      if (signal.aborted) return Promise.resolve({ kind: 'cancelled' });
      if ((!worker && !starting) || disposing) return Promise.resolve({ kind: 'degraded', reason: disposing ? 'engine disposed' : (status.message ?? 'model worker not running') });
      const id = nextId++;
      const flag = createCancelFlag();
      return new Promise<ModelResult>((resolve) => {
        const onAbort = () => {
          // The worker sees the flag at its next chunk boundary or decode step; the request answers now.
          setCancelFlag(flag);
          send({ type: 'cancel', id });
          pending.delete(id);
          refresh();
          resolve({ kind: 'cancelled' });
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.set(id, {
          kind: 'complete',
          onPartial,
          resolve: (r) => {
            signal.removeEventListener('abort', onAbort);
            resolve(r);
          },
        });
        refresh();
        send({ type: 'complete', id, context: request.context, background: request.background, startedAt: request.startedAt, flag });
      });
    },
    warm(context: CompletionContext): Promise<WarmOutcome> {
      if ((!worker && !starting) || disposing) return Promise.resolve('unavailable');
      const id = nextId++;
      return new Promise<WarmOutcome>((resolve) => {
        pending.set(id, { kind: 'warm', resolve });
        refresh();
        send({ type: 'warm', id, context });
      });
    },
    closeDocument(documentKey: string) {
      send({ type: 'close', documentKey });
    },
    cacheStats: () => stats,
    revive() {
      if (worker || starting || disposing || !crashed) return false;
      log('restarting the model worker');
      spawn();
      return true;
    },
    threadId: () => worker?.threadId ?? null,
    crashForTest() {
      send({ type: 'crash' });
    },
    async dispose() {
      if (disposing) return;
      disposing = true;
      const w = worker;
      if (w) {
        refresh();
        const acked = new Promise<void>((resolve) => (disposedAck = resolve));
        send({ type: 'dispose' });
        // The worker disposes its sessions and says so; it is ended either way after a grace period.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([acked, new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
        clearTimeout(timer);
        worker = null;
        await w.terminate();
      }
      for (const [id, p] of pending) {
        pending.delete(id);
        if (p.kind === 'complete') p.resolve({ kind: 'degraded', reason: 'engine disposed' });
        else p.resolve('unavailable');
      }
      setStatus({ ...status, state: 'degraded', message: 'disposed' });
      listeners.clear();
    },
  };
}
