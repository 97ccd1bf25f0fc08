/**
 * Training batches read ahead on their own Deno Worker: `readBatches` of
 * src/data/shards.ts (shard reads, shuffle buffer, label resampling) costs
 * about 0.5 ms per 256 PNet samples with the shards in the page cache (a
 * tenth of a PNet step) and a disk read per 16 MB shard otherwise; on a
 * reader worker both overlap with the steps, which keep the main thread busy.
 * The batches are the same, in the same order, as `readBatches` gives on the
 * calling thread.
 *
 * @example
 * ```ts
 * const reader = await BatchReader.start();
 * for await (const b of reader.batches(["data/pnet/train"], { batchSize: 256, seed: 1, epoch: 0 })) { ... }
 * reader.close();
 * ```
 */
import type { Batch, ReadOptions } from "../data/shards.ts";

/** Messages to the reader worker. */
export type ReaderRequest =
  | { type: "open"; dirs: string[]; opts: ReadOptions }
  | { type: "next" }
  | { type: "close" };

/** Replies: one per `open` and per `next`, in order. */
export type ReaderReply = { batch?: Batch; done?: boolean; error?: string };

/** A reader worker; one epoch's batches at a time. */
export class BatchReader {
  #worker: Worker;
  #waiting: { resolve: (r: ReaderReply) => void; reject: (e: Error) => void }[] = [];
  #failure?: Error;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent) => {
      const w = this.#waiting.shift();
      if (!w) return;
      const r = e.data as ReaderReply;
      if (r.error !== undefined) w.reject(new Error(r.error));
      else w.resolve(r);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#failure = new Error(`batch reader failed: ${e.message}`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
    };
  }

  /** Starts the reader worker. */
  static async start(): Promise<BatchReader> {
    const worker = new Worker(new URL("./reader_worker.ts", import.meta.url), { type: "module" });
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        if (e.data?.type === "ready") resolve();
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`batch reader failed to start: ${e.message}`));
      };
    });
    return new BatchReader(worker);
  }

  #ask(msg: ReaderRequest): Promise<ReaderReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#worker.postMessage(msg);
    });
  }

  /**
   * The batches of `readBatches(dirs, opts)`, with up to `ahead` (default 2)
   * read in advance. Stopping early (break, return) is fine.
   */
  async *batches(dirs: string[], opts: ReadOptions, ahead = 2): AsyncGenerator<Batch> {
    await this.#ask({ type: "open", dirs, opts });
    const pending: Promise<ReaderReply>[] = [];
    let done = false;
    try {
      for (let i = 0; i < Math.max(1, ahead); i++) pending.push(this.#ask({ type: "next" }));
      while (pending.length) {
        const r = await pending.shift()!;
        if (r.done) {
          done = true;
          break;
        }
        pending.push(this.#ask({ type: "next" }));
        yield r.batch!;
      }
    } finally {
      // let the replies already asked for arrive, so the next epoch's start in order
      await Promise.allSettled(pending);
      if (!done) await this.#ask({ type: "close" }).catch(() => {});
    }
  }

  /** Stops the worker. */
  close(): void {
    this.#worker.terminate();
  }
}
