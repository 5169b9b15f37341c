// scheduler/: one model run at a time, chunked prefill with priorities, hand-over between a document's requests.
export { Scheduler, type Priority, type Lease, type JobStart, type PrefillOutcome, type RequestOptions, type SchedulerEvent, type SchedulerOptions } from './scheduler.js';
