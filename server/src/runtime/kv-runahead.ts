// KV-Runahead (issue 17; Cho et al., "KV-Runahead: Scalable Causal LLM Inference by Parallel Key-Value Cache
// Generation", arXiv 2405.05329): one prefill split over context partitions, each computed by its own worker thread
// (kv-runahead-worker.ts) that owns sessions for the model's layer groups (native/py/kv_runahead.py). The worker of
// partition i runs layer group g once partition i-1's presents for group g arrive (they hold every position before its
// partition), and hands its own, grown, presents to partition i+1; the last partition's presents are the whole KV
// cache, in the plain graph's layout, so the per-file prefix cache extends it exactly as a plain prefill's.
// Partitions are balanced for the causal cost (later partitions attend to more past, so they get fewer tokens).
// This module: the group files' discovery, the partition rule, and the pool of workers (main side).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { readMetadataJson } from './proto-wire.js';
import { createTensor, type Tensor } from './ort.js';
import type { KvSlot } from './layout.js';
import type { KvCache } from './kv-cache.js';
import { externalDataOf, type ModelFiles } from './model-files.js';

/** The metadata_props key native/py/onnx_builder.py writes into a layer group (JSON {layers: [lo, hi], num_layers}). */
export const KV_RUNAHEAD_KEY = 'infill_ls.kv_runahead';

/** One layer group graph: layers lo..hi-1 of the model (hi exclusive). */
export interface KvRunaheadGroup {
  file: string;
  externalDataPath: string | undefined;
  layers: [number, number];
}

/**
 * The group recorded in an ONNX file's metadata_props (field 14) under KV_RUNAHEAD_KEY, or undefined when absent.
 * Throws (Error with the reason) on an unreadable file or an entry that is not {layers: [lo, hi], num_layers}.
 */
export function readKvRunaheadGroup(file: string): { layers: [number, number]; numLayers: number } | undefined {
  const raw = readMetadataJson(fs.readFileSync(file), KV_RUNAHEAD_KEY);
  if (raw === undefined) return undefined;
  const v = (raw !== null && typeof raw === 'object' ? raw : {}) as { layers?: unknown; num_layers?: unknown };
  const [lo, hi] = Array.isArray(v.layers) ? (v.layers as unknown[]) : [];
  const n = v.num_layers;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (!ok(lo) || !ok(hi) || !ok(n) || lo >= hi || hi > n) throw new Error(`${KV_RUNAHEAD_KEY} is not {layers: [lo, hi], num_layers}: ${JSON.stringify(raw)}`);
  return { layers: [lo, hi], numLayers: n };
}

/**
 * The layer groups written next to `onnxPath` (onnx/model{suffix}_runahead{k}of{n}.onnx, native/py/onnx_builder.py
 * `group_path`): the complete set with the most groups whose recorded layers cover 0..numLayers in order, or a reason.
 */
export function findKvRunaheadGroups(onnxPath: string, numLayers: number): { groups: KvRunaheadGroup[] } | { reason: string } {
  const dir = path.dirname(onnxPath);
  const base = path.basename(onnxPath).replace(/\.onnx$/, '');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    return { reason: `${dir}: ${(e as Error).message}` };
  }
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_runahead(\\d+)of(\\d+)\\.onnx$`);
  const sets = new Map<number, Map<number, string>>();
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const k = Number(m[1]);
    const n = Number(m[2]);
    if (!sets.has(n)) sets.set(n, new Map());
    sets.get(n)!.set(k, path.join(dir, name));
  }
  const reasons: string[] = [];
  for (const n of [...sets.keys()].sort((a, b) => b - a)) {
    const files = sets.get(n)!;
    if (files.size !== n || [...files.keys()].some((k) => k >= n)) {
      reasons.push(`${n} groups: incomplete set`);
      continue;
    }
    const groups: KvRunaheadGroup[] = [];
    let next = 0;
    let bad: string | undefined;
    for (let k = 0; k < n; k++) {
      const file = files.get(k)!;
      let meta;
      try {
        meta = readKvRunaheadGroup(file);
      } catch (e) {
        bad = `${file}: ${(e as Error).message}`;
        break;
      }
      if (!meta) {
        bad = `${file} has no ${KV_RUNAHEAD_KEY} entry`;
        break;
      }
      if (meta.numLayers !== numLayers || meta.layers[0] !== next) {
        bad = `${file}: layers ${meta.layers[0]}..${meta.layers[1] - 1} of ${meta.numLayers} do not follow layer ${next - 1} of ${numLayers}`;
        break;
      }
      next = meta.layers[1];
      groups.push({ file, externalDataPath: externalDataOf(file), layers: meta.layers });
    }
    if (!bad && next !== numLayers) bad = `${n} groups end at layer ${next - 1}, the model has ${numLayers}`;
    if (!bad) return { groups };
    reasons.push(bad!);
  }
  return { reason: reasons.length ? reasons.join('; ') : `no layer groups ${base}_runahead{k}of{n}.onnx in ${dir} (native/py/kv_runahead.py writes them)` };
}

/**
 * Splits `tokens` new positions (after `past` cached ones) into at most `parts` contiguous partitions of equal causal
 * prefill cost, KV-Runahead's load balancing (arXiv 2405.05329 §4): a token at position p costs 1 + p / span, where
 * `span` is the past length at which attending to the past costs as much as the token's own matrix products (per
 * layer: the linear layers' weights / (2 · hidden) by FLOPs; measured on this CPU's graphs ~2,000–3,000 positions,
 * bench/results/accelerators.md section 4, default 2048). So later partitions are shorter. With two workers and G
 * layer groups handed forward, equal costs are also what minimises the time to the last worker's end (t0 + t1/G vs
 * t0/G + t1). Boundaries fall on multiples of `align` (the run length, so the runs are the plain chunked prefill's):
 * among those, the split whose costliest partition is cheapest (minimax over the runs; ties: the earlier boundary
 * sets), so the lengths never grow from one partition to the next by more than the rounding needs; a prompt of fewer
 * runs than `parts` gets one partition per run. Returns the partitions' lengths (sum = tokens).
 * Throws RangeError on tokens < 1, parts < 1, past < 0, span <= 0 or align < 1.
 */
export function partitionForCausalCost(tokens: number, parts: number, options: { past?: number; span?: number; align?: number } = {}): number[] {
  const past = options.past ?? 0;
  const span = options.span ?? 2048;
  const align0 = options.align ?? 1;
  if (!(tokens >= 1) || !(parts >= 1) || !(past >= 0) || !(span > 0) || !(align0 >= 1)) {
    throw new RangeError(`partitionForCausalCost(${tokens}, ${parts}, past ${past}, span ${span}, align ${align0})`);
  }
  // units of `align` positions (the last one may be shorter); at most 1,024 units (coarser units beyond: O(parts · units²))
  const align = Math.max(align0, align0 * Math.ceil(tokens / align0 / 1024));
  const units = Math.ceil(tokens / align);
  const k = Math.min(parts, units);
  // cumulative cost of the first x new positions: x + ((past + x)^2 - past^2) / (2 span)
  const cum = (u: number) => {
    const x = Math.min(tokens, u * align);
    return x + ((past + x) ** 2 - past ** 2) / (2 * span);
  };
  const c = Array.from({ length: units + 1 }, (_, u) => cum(u));
  // best[j][u]: the smallest possible max cost of splitting units [0, u) into j partitions; from[j][u]: its last boundary
  const best: number[][] = [c.map((_, u) => (u === 0 ? 0 : Infinity))];
  const from: number[][] = [c.map(() => 0)];
  for (let j = 1; j <= k; j++) {
    const b = c.map(() => Infinity);
    const f = c.map(() => 0);
    for (let u = j; u <= units; u++) {
      for (let i = j - 1; i < u; i++) {
        const v = Math.max(best[j - 1]![i]!, c[u]! - c[i]!);
        if (v < b[u]! - 1e-9) {
          b[u] = v;
          f[u] = i;
        }
      }
    }
    best.push(b);
    from.push(f);
  }
  const bounds: number[] = [units];
  for (let j = k; j > 0; j--) bounds.unshift(from[j]![bounds[0]!]!);
  const out: number[] = [];
  for (let j = 1; j < bounds.length; j++) out.push(Math.min(tokens, bounds[j]! * align) - bounds[j - 1]! * align);
  return out;
}

/** What a pool's workers need to open their sessions and to run a prefill (structured-clonable). */
export interface KvRunaheadWorkerInit {
  groups: KvRunaheadGroup[];
  /** The plain graph's files (dtype, ioNames, config): the groups are opened with the same load-time edits. */
  files: ModelFiles;
  intraOpNumThreads: number;
  /** undefined: the worker's session options read INFILL_LS_ORT_SPIN as the model's do (workers inherit the env). */
  allowSpinning: boolean | undefined;
  foldAtLoad: boolean | undefined;
  lastLogitsOnly: boolean | undefined;
  slots: KvSlot[];
  kind: 'standard' | 'packed';
}

/** One layer group's K/V as handed between threads: present name → data and dims (float32). */
export type KvParcel = Record<string, { data: Float32Array; dims: number[] }>;

/** Messages main → worker. */
export type ToRunaheadWorker =
  | {
      type: 'job';
      id: number;
      ids: Int32Array;
      /** Position id of the partition's first token. */
      position: number;
      /** Positions before the partition (the cache's past + earlier partitions): the past its group runs extend. */
      past: number;
      /** Worker 0 only: the cache's existing KV per group (null: an empty past). */
      initial: (KvParcel | null)[] | null;
      prev: MessagePort | null;
      next: MessagePort | null;
      chunk: number;
      wantLogits: boolean;
    }
  | { type: 'dispose' };

/** Messages worker → main (kv: the last partition's presents of one group; done: its logits when asked). */
export type FromRunaheadWorker =
  | { type: 'ready' }
  | { type: 'kv'; id: number; group: number; kv: KvParcel }
  | { type: 'done'; id: number; logits: Float32Array | null; ms: number; waitMs: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'fatal'; message: string };

/** The worker script: the compiled .js next to this module (tests run server/src through vitest: use server/dist). */
export function kvRunaheadWorkerPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return fileURLToPath(new URL('./kv-runahead-worker.js', import.meta.url));
  const built = here.replace(/([\\/])server\1src\1runtime\1kv-runahead\.ts$/, '$1server$1dist$1runtime$1kv-runahead-worker.js');
  if (!fs.existsSync(built)) throw new Error(`${built} is missing: run npm run build (KV-Runahead's workers run the compiled code)`);
  return built;
}

/** Per-prefill facts, for benchmarks and tests. */
export interface KvRunaheadRun {
  partitions: number[];
  /** Wall ms of each worker from its job to its last group, and how much of it it waited for the previous partition. */
  workerMs: number[];
  waitMs: number[];
}

/**
 * A pool of KV-Runahead workers, each owning one session per layer group (intra-op threads `intraOpNumThreads`).
 * One prefill at a time (calls queue). dispose() lets running jobs finish first: onnxruntime-node aborts the process
 * when a worker is terminated during a run (bench/results/accelerators-workers-probe.txt), so workers are asked to
 * release their sessions and exit, never terminated.
 */
export class KvRunaheadPool {
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private disposed = false;
  private failure: string | undefined;
  lastRun: KvRunaheadRun | undefined;

  private constructor(
    private readonly workers: Worker[],
    private readonly init: KvRunaheadWorkerInit,
  ) {
    for (const w of workers) {
      w.on('message', (m: FromRunaheadWorker) => {
        if (m.type === 'fatal') this.failure = m.message;
      });
      w.on('error', (e) => (this.failure = `KV-Runahead worker failed: ${e.message}`));
      w.on('exit', (code) => {
        if (!this.disposed) this.failure ??= `KV-Runahead worker exited (${code})`;
      });
    }
  }

  /** Starts `workers` threads and waits until each has opened every group. Throws with the first worker's error. */
  static async start(init: KvRunaheadWorkerInit, workers: number): Promise<KvRunaheadPool> {
    if (!(workers >= 2)) throw new RangeError(`KV-Runahead needs 2+ workers, got ${workers}`);
    const script = kvRunaheadWorkerPath();
    const list: Worker[] = [];
    const detach: (() => void)[] = [];
    try {
      for (let k = 0; k < workers; k++) list.push(new Worker(script, { workerData: init }));
      await Promise.all(
        list.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              const onMessage = (m: FromRunaheadWorker) => {
                if (m.type === 'ready') resolve();
                if (m.type === 'fatal') reject(new Error(m.message));
              };
              const onExit = (code: number) => reject(new Error(`KV-Runahead worker exited (${code}) while opening its sessions`));
              w.on('message', onMessage);
              w.on('error', reject);
              w.on('exit', onExit);
              // only our own listeners: removeAllListeners() would also drop the Worker's internal ones (its port's ref)
              detach.push(() => {
                w.off('message', onMessage);
                w.off('error', reject);
                w.off('exit', onExit);
              });
            }),
        ),
      );
    } catch (e) {
      for (const d of detach) d();
      await Promise.all(list.map((w) => stopWorker(w)));
      throw e;
    }
    for (const d of detach) d();
    return new KvRunaheadPool(list, init);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Why the pool cannot run any more (a worker died or exited), or undefined while it can. */
  get broken(): string | undefined {
    return this.failure;
  }

  /**
   * Appends `ids` to `cache` by KV-Runahead: partitions (partitionForCausalCost, aligned to `chunk`), one per worker,
   * each run in runs of `chunk` tokens per layer group; the cache ends holding exactly what a plain prefill leaves
   * (same tensors' names, dims and positions). Returns the last position's logits ([vocab] float32) or null.
   * CPU float32 KV only; throws if a worker fails (the cache is then unchanged).
   */
  async prefill(ids: ArrayLike<number>, cache: KvCache, options: { chunk: number; span?: number; wantLogits: boolean }): Promise<Float32Array | null> {
    const run = this.queue.then(() => this.prefillNow(ids, cache, options));
    this.queue = run.catch(() => {});
    return await run;
  }

  private async prefillNow(ids: ArrayLike<number>, cache: KvCache, options: { chunk: number; span?: number; wantLogits: boolean }): Promise<Float32Array | null> {
    if (this.disposed) throw new Error('KvRunaheadPool.prefill after dispose()');
    if (this.failure) throw new Error(this.failure);
    const past = cache.length;
    const position = past + cache.positionOffset;
    const parts = partitionForCausalCost(ids.length, this.workers.length, { past, span: options.span, align: options.chunk });
    const id = this.nextId++;
    // the cache's existing KV, per group, for the first partition (copied: the cache keeps its own)
    let initial: (KvParcel | null)[] | null = null;
    if (past > 0) {
      const feeds: Record<string, Tensor> = {};
      cache.fill(feeds);
      initial = this.init.groups.map((g) => {
        const parcel: KvParcel = {};
        for (const s of this.init.slots) {
          if (s.layer < g.layers[0] || s.layer >= g.layers[1]) continue;
          const t = feeds[s.pastName]!;
          if (t.location !== 'cpu' || t.type !== 'float32') throw new Error(`KV-Runahead: '${s.pastName}' is ${t.type} on ${t.location} (CPU float32 only)`);
          parcel[s.presentName] = { data: Float32Array.from(t.data as Float32Array), dims: [...t.dims] };
        }
        return parcel;
      });
    }
    const channels = parts.slice(1).map(() => new MessageChannel());
    const outputs: Record<string, Tensor> = {};
    const used = this.workers.slice(0, parts.length);
    const lastWorker = used[used.length - 1]!;
    let logits: Float32Array | null = null;
    const workerMs: number[] = [];
    const waitMs: number[] = [];
    const results = used.map(
      (w, i) =>
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: FromRunaheadWorker) => {
            if (m.type === 'fatal') return finish(new Error(m.message));
            if (!('id' in m) || m.id !== id) return;
            if (m.type === 'kv' && w === lastWorker) {
              for (const [name, { data, dims }] of Object.entries(m.kv)) outputs[name] = createTensor('float32', data, dims);
            } else if (m.type === 'done') {
              if (w === lastWorker) logits = m.logits;
              workerMs[i] = Math.round(m.ms);
              waitMs[i] = Math.round(m.waitMs);
              finish();
            } else if (m.type === 'error') finish(new Error(m.message));
          };
          const onExit = (code: number) => finish(new Error(`KV-Runahead worker ${i} exited (${code}) during a prefill`));
          const finish = (e?: Error) => {
            w.off('message', onMessage);
            w.off('exit', onExit);
            if (e) reject(e);
            else resolve();
          };
          w.on('message', onMessage);
          w.on('exit', onExit);
        }),
    );
    let start = 0;
    used.forEach((w, i) => {
      const n = parts[i]!;
      const slice = new Int32Array(n);
      for (let j = 0; j < n; j++) slice[j] = ids[start + j]!;
      const prev = i > 0 ? channels[i - 1]!.port2 : null;
      const next = i < used.length - 1 ? channels[i]!.port1 : null;
      const message: ToRunaheadWorker = {
        type: 'job', id, ids: slice, position: position + start, past: past + start, initial: i === 0 ? initial : null,
        prev, next, chunk: options.chunk, wantLogits: options.wantLogits && i === used.length - 1,
      };
      w.postMessage(message, [slice.buffer, ...(prev ? [prev] : []), ...(next ? [next] : [])]);
      start += n;
    });
    const settled = await Promise.allSettled(results);
    for (const ch of channels) {
      ch.port1.close();
      ch.port2.close();
    }
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    cache.replace(outputs, past + ids.length);
    this.lastRun = { partitions: parts, workerMs, waitMs };
    return logits;
  }

  /** Asks every worker to release its sessions and exit (after a running job), and waits for them. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await Promise.all(this.workers.map((w) => stopWorker(w)));
  }
}

/** Asks a worker to release its sessions and exit; never terminates it mid-run (that aborts the process). */
function stopWorker(w: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    if (w.threadId < 0) return resolve();
    w.once('exit', () => resolve());
    try {
      w.postMessage({ type: 'dispose' } satisfies ToRunaheadWorker);
    } catch {
      resolve();
    }
  });
}
