// model-host/: the model in one long-lived worker thread (client.ts ↔ worker.ts over protocol.ts). The in-thread twin
// with the same ModelHost interface is engine/model-side.ts createModelSide.
export { createWorkerHost, workerScriptPath, type WorkerHost } from './client.js';
export type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
