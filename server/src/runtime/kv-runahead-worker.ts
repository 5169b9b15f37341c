// One KV-Runahead worker thread (kv-runahead.ts; arXiv 2405.05329): opens a session per layer group on the CPU, then
// runs jobs. A job is one context partition: for each layer group g in order, take the past K/V of group g (worker 0:
// the cache's, or empty; the others: what the previous partition's worker hands forward, every position before this
// partition), run the partition through the group in runs of `chunk` tokens (the plain chunked prefill's runs), keep
// the hidden states for group g+1, and hand the grown presents forward (the last partition: to the main thread, where
// they become the KV cache). Errors are reported to the main thread and forwarded down the chain, so no worker waits
// forever on a failed one.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { createTensor, type Session, type Tensor } from './ort.js';
import { openCpuGraph } from './model.js';
import { LOGITS_POSITIONS } from './layout.js';
import type { FromRunaheadWorker, KvParcel, KvRunaheadWorkerInit, ToRunaheadWorker } from './kv-runahead.js';

if (!parentPort) throw new Error('runtime/kv-runahead-worker.js runs as a worker thread');
const port = parentPort;
const init = workerData as KvRunaheadWorkerInit;
const post = (m: FromRunaheadWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const NEG_INF_BIAS = -1e9;
const HIDDEN_IN = 'hidden_states_in';
const HIDDEN_OUT = 'hidden_states_out';

interface Group {
  session: Session;
  /** present name → past name, the group's own layers */
  kv: { present: string; past: string; emptyDims: number[] }[];
  last: boolean;
}

let groups: Group[] = [];
let busy: Promise<void> = Promise.resolve();
let disposing = false;

async function open(): Promise<void> {
  const opts = {
    modelDir: init.files.dir,
    intraOpNumThreads: init.intraOpNumThreads,
    ...(init.allowSpinning !== undefined ? { allowSpinning: init.allowSpinning } : {}),
    ...(init.foldAtLoad !== undefined ? { foldAtLoad: init.foldAtLoad } : {}),
    ...(init.lastLogitsOnly !== undefined ? { lastLogitsOnly: init.lastLogitsOnly } : {}),
  };
  for (const [k, g] of init.groups.entries()) {
    const session = await openCpuGraph({ ...init.files, onnxPath: g.file, externalDataPath: g.externalDataPath }, opts);
    const kv = init.slots
      .filter((s) => s.layer >= g.layers[0] && s.layer < g.layers[1])
      .map((s) => ({ present: s.presentName, past: s.pastName, emptyDims: s.emptyDims }));
    for (const s of kv) {
      if (!session.inputNames.includes(s.past) || !session.outputNames.includes(s.present)) throw new Error(`${g.file} lacks ${s.past} / ${s.present}`);
    }
    groups.push({ session, kv, last: k === init.groups.length - 1 });
  }
}

/** Messages from the previous partition's worker, in group order. */
function inbox(prev: MessagePort): (group: number) => Promise<KvParcel> {
  const queue: ({ group: number; kv: KvParcel } | { error: string })[] = [];
  let waiter: (() => void) | null = null;
  prev.on('message', (m: { group: number; kv: KvParcel } | { error: string }) => {
    queue.push(m);
    waiter?.();
  });
  return async (group) => {
    while (queue.length === 0) await new Promise<void>((r) => (waiter = r));
    waiter = null;
    const m = queue.shift()!;
    if ('error' in m) throw new Error(m.error);
    if (m.group !== group) throw new Error(`KV-Runahead: group ${m.group} arrived, expected ${group}`);
    return m.kv;
  };
}

function buffersOf(parcel: KvParcel): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const { data } of Object.values(parcel)) {
    // transfer whole, unshared buffers; views of a larger or shared one are copied by structured clone
    if (data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !out.includes(data.buffer)) out.push(data.buffer);
  }
  return out;
}

async function runJob(job: Extract<ToRunaheadWorker, { type: 'job' }>): Promise<void> {
  const t0 = performance.now();
  let waitMs = 0;
  const receive = job.prev ? inbox(job.prev) : null;
  const n = job.ids.length;
  // the hidden states between groups, per run: [1, run, hidden] float32
  let hidden: Tensor[] = [];
  let logits: Float32Array | null = null;
  try {
    for (const [g, group] of groups.entries()) {
      let parcel: KvParcel | null;
      if (receive) {
        const w0 = performance.now();
        parcel = await receive(g);
        waitMs += performance.now() - w0;
      } else parcel = job.initial?.[g] ?? null;
      const past: Record<string, Tensor> = {};
      for (const s of group.kv) {
        const p = parcel?.[s.present];
        past[s.past] = p ? createTensor('float32', p.data, p.dims) : createTensor('float32', new Float32Array(0), s.emptyDims);
      }
      const nextHidden: Tensor[] = [];
      let length = job.past;
      for (let r = 0, start = 0; start < n; r++, start += job.chunk) {
        const seq = Math.min(job.chunk, n - start);
        const total = length + seq;
        const feeds: Record<string, Tensor> = { ...past };
        const names = group.session.inputNames;
        if (names.includes('input_ids')) {
          const ids = new BigInt64Array(seq);
          for (let i = 0; i < seq; i++) ids[i] = BigInt(job.ids[start + i]!);
          feeds['input_ids'] = createTensor('int64', ids, [1, seq]);
        } else feeds[HIDDEN_IN] = hidden[r]!;
        if (names.includes('attention_mask')) feeds['attention_mask'] = createTensor('int64', new BigInt64Array(total).fill(1n), [1, total]);
        if (names.includes('attention_bias')) {
          const bias = new Float32Array(seq * total);
          for (let i = 0; i < seq; i++) bias.fill(NEG_INF_BIAS, i * total + length + i + 1, (i + 1) * total);
          feeds['attention_bias'] = createTensor('float32', bias, [1, 1, seq, total]);
        }
        const pos = new BigInt64Array(seq);
        for (let i = 0; i < seq; i++) pos[i] = BigInt(job.position + start + i);
        if (names.includes('position_ids')) feeds['position_ids'] = createTensor('int64', pos, [1, seq]);
        if (names.includes('logits_index')) feeds['logits_index'] = createTensor('int64', BigInt64Array.of(BigInt(seq - 1)), [1]);
        // the positions input runtime/last-logits.ts gives the graphs it cuts: the last one
        if (names.includes(LOGITS_POSITIONS)) feeds[LOGITS_POSITIONS] = createTensor('int64', BigInt64Array.of(BigInt(seq - 1)), [1]);
        const lastRun = start + seq >= n;
        const fetches = group.kv.map((s) => s.present);
        if (!group.last) fetches.push(HIDDEN_OUT);
        else if (lastRun && job.wantLogits) fetches.push(init.files.ioNames?.logits ?? 'logits');
        const out = (await group.session.run(feeds, fetches)) as Record<string, Tensor>;
        for (const s of group.kv) past[s.past] = out[s.present]!;
        if (!group.last) nextHidden.push(out[HIDDEN_OUT]!);
        else if (lastRun && job.wantLogits) {
          const l = out[init.files.ioNames?.logits ?? 'logits']!;
          const vocab = l.dims[l.dims.length - 1]!;
          const data = l.data as Float32Array;
          logits = data.slice(data.length - vocab);
        }
        length = total;
      }
      hidden = nextHidden;
      const handed: KvParcel = {};
      for (const s of group.kv) {
        const t = past[s.past]!;
        handed[s.present] = { data: t.data as Float32Array, dims: [...t.dims] };
      }
      if (job.next) job.next.postMessage({ group: g, kv: handed }, buffersOf(handed));
      else post({ type: 'kv', id: job.id, group: g, kv: handed }, buffersOf(handed));
    }
    post({ type: 'done', id: job.id, logits, ms: performance.now() - t0, waitMs }, logits ? [logits.buffer as ArrayBuffer] : []);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    job.next?.postMessage({ error: message });
    post({ type: 'error', id: job.id, message });
  } finally {
    job.prev?.close();
    job.next?.close();
  }
}

async function release(): Promise<void> {
  for (const g of groups) await g.session.release().catch(() => {});
  groups = [];
  port.close();
}

const opened = open().then(
  () => post({ type: 'ready' }),
  (e: unknown) => post({ type: 'fatal', message: `KV-Runahead worker: ${e instanceof Error ? e.message : String(e)}` }),
);

port.on('message', (m: ToRunaheadWorker) => {
  if (m.type === 'dispose') {
    disposing = true;
    // after the sessions are open and the running job is done: a session torn down mid-run aborts the process
    void opened.then(() => busy).then(release);
    return;
  }
  if (disposing) return;
  busy = busy.then(() => opened).then(() => runJob(m));
});
