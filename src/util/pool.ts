/**
 * An ordered parallel map over Deno Workers: jobs go out to N workers, results
 * come back in job order, so whatever consumes them (a shard writer, a
 * prediction writer) produces the same bytes for any number of workers.
 *
 * A worker module says `{ type: "ready" }`, handles `{ type: "init", init }`
 * once, then `{ type: "job", id, job }` messages, answering each with `{ id, result }` or `{ id, error }`
 * (see {@linkcode serveWorker}).
 *
 * @example
 * ```ts
 * for await (const r of orderedMap(jobs, { workerUrl, init: {}, workers: 2 })) console.log(r);
 * ```
 */

/** Options of {@linkcode orderedMap}. */
export interface PoolOptions<I> {
  /** URL of a module that calls {@linkcode serveWorker}. */
  workerUrl: URL;
  /** Sent once to each worker before any job. */
  init: I;
  /** Number of workers (>= 1). */
  workers: number;
  /** Jobs in flight per worker (default 2). */
  depth?: number;
}

/** A result of one job: its value, or the error message the worker reported. */
export type PoolResult<R> = { index: number; result: R; error?: undefined } | {
  index: number;
  result?: undefined;
  error: string;
};

/**
 * Runs `jobs` on workers and yields their results in the jobs' order.
 * A job that throws in its worker yields `{ error }`; a worker that dies
 * ends the map with an Error.
 */
export async function* orderedMap<J, R, I>(
  jobs: Iterable<J>,
  opts: PoolOptions<I>,
): AsyncGenerator<PoolResult<R>> {
  const n = Math.max(1, Math.floor(opts.workers));
  const depth = Math.max(1, opts.depth ?? 2);
  const window = n * depth * 4;
  const workers: Worker[] = [];
  const inflight = new Array<number>(n).fill(0);
  // A worker whose module graph has top-level awaits may drop messages sent
  // before its handler exists: it says "ready" first.
  const ready = new Array<boolean>(n).fill(false);
  const done = new Map<number, PoolResult<R>>();
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const iterator = jobs[Symbol.iterator]();
  let nextId = 0;
  let nextOut = 0;
  let exhausted = false;

  // Workers start one after another: the next is created when the previous
  // says "ready". Deno type-checks a worker module when it starts under
  // `deno test`, and two workers checking at once were seen to hang.
  const spawn = (w: number) => {
    const worker = new Worker(opts.workerUrl, { type: "module" });
    worker.onmessage = (e: MessageEvent) => {
      if (e.data?.type === "ready") {
        ready[w] = true;
        worker.postMessage({ type: "init", init: opts.init });
        if (w + 1 < n) spawn(w + 1);
        feed();
        wake?.();
        return;
      }
      const { id, result, error } = e.data;
      inflight[w]--;
      done.set(id, error !== undefined ? { index: id, error } : { index: id, result });
      // Keep every worker busy even while an earlier job is still out,
      // within a bounded window of results waiting for their turn.
      feed();
      wake?.();
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      failure = new Error(`worker failed: ${e.message}`);
      wake?.();
    };
    workers.push(worker);
  };
  const feed = () => {
    for (let w = 0; w < workers.length && !exhausted; w++) {
      while (ready[w] && inflight[w] < depth && !exhausted && nextId - nextOut < window) {
        const it = iterator.next();
        if (it.done) {
          exhausted = true;
          break;
        }
        inflight[w]++;
        workers[w].postMessage({ type: "job", id: nextId++, job: it.value });
      }
    }
  };
  try {
    spawn(0);
    while (!exhausted || nextOut < nextId) {
      if (failure) throw failure;
      const r = done.get(nextOut);
      if (r) {
        done.delete(nextOut++);
        feed();
        yield r;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    for (const w of workers) w.terminate();
  }
}

/**
 * The worker side: `setup(init)` once, then `handle(job, state)` per job.
 * Return `{ value, transfer }` to move buffers instead of copying them.
 */
export function serveWorker<I, S, J, R>(
  setup: (init: I) => S | Promise<S>,
  handle: (job: J, state: S) => Promise<{ value: R; transfer?: Transferable[] }> | {
    value: R;
    transfer?: Transferable[];
  },
): void {
  let state: Promise<S> | undefined;
  // deno-lint-ignore no-explicit-any
  const scope = self as any;
  queueMicrotask(() => scope.postMessage({ type: "ready" }));
  scope.onmessage = async (e: MessageEvent) => {
    const msg = e.data;
    if (msg.type === "init") {
      state = Promise.resolve(setup(msg.init));
      return;
    }
    try {
      const s = await state!;
      const { value, transfer } = await handle(msg.job, s);
      scope.postMessage({ id: msg.id, result: value }, transfer ?? []);
    } catch (err) {
      scope.postMessage({
        id: msg.id,
        error: err instanceof Error ? err.message.split("\n")[0] : String(err),
      });
    }
  };
}
