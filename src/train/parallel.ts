/**
 * Data-parallel training over Deno Workers, one tfjs wasm backend each (the
 * wasm backend has no threads under Deno). A batch is cut into contiguous
 * slices, one per worker; each worker runs the forward pass of its slice and
 * keeps its activations, the main thread computes the loss of the whole batch
 * (src/train/losses.ts: hard example mining over the whole batch), each worker
 * back-propagates its slice of the loss gradient, and the main thread sums the
 * workers' parameter gradients in worker order and applies the optimizer. The
 * result equals one worker's up to the order of floating-point sums.
 *
 * The first slice runs inline on the calling thread (which also computes
 * the loss and the update), the others on Deno Workers: `workers: 2` is the
 * main thread plus one Worker. Requests and their data go through shared
 * memory (src/train/channel.ts): a hand-over costs microseconds, which
 * matters for PNet, whose 12-px slices take about a millisecond.
 *
 * @example
 * ```ts
 * const dp = await DataParallel.create(pnetArch(), { workers: 2, backend: "wasm" });
 * dp.setParams(flat);
 * const out = await dp.forward(pixels, n, true);
 * const grads = await dp.backward(computeLoss(out, batch, cfg));
 * dp.close();
 * ```
 */
import type { NetArch } from "../nets/arch.ts";
import type { BackendName } from "../nets/backend.ts";
import { type BatchOutputs, type OutputGrads, paramLayout, TrainGraph } from "./backprop.ts";
import { initTrainingBackend } from "./setup.ts";
import { type AugmentPlan, augmentToInput, slicePlan } from "./augment.ts";
import { Channel, type ChannelLayout, channelLayout, DEFAULT_SPIN_MS } from "./channel.ts";

/** Options of {@linkcode DataParallel.create}. */
export interface DataParallelOptions {
  /** Number of workers; 1 runs inline on the calling thread. */
  workers: number;
  /** tfjs backend of every worker (default wasm, with the training kernels). */
  backend?: BackendName;
  /**
   * Run the first worker inline on the calling thread and the others as Deno
   * Workers (default true); false: every worker is a Deno Worker.
   */
  inline?: boolean;
  /**
   * How long each side of a hand-over polls before it sleeps, in ms (default
   * {@linkcode DEFAULT_SPIN_MS}; 0: sleep at once). See src/train/channel.ts.
   */
  spinMs?: number;
}

/** Sizes of `parts` contiguous slices of `n` items, as equal as possible, larger first. */
export function splitCounts(n: number, parts: number): number[] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Messages to a training worker (set-up only; requests go through the shared channel). */
export type WorkerRequest =
  | { type: "init"; arch: NetArch; backend: BackendName }
  | { type: "channel"; sab: SharedArrayBuffer; layout: ChannelLayout; spinMs: number };

/** One worker's part of a step: start (returns at once or computes inline), then finish. */
interface Runner {
  prepare(count: number): Promise<void> | void;
  startForward(
    params: Float32Array | undefined,
    pixels: Uint8Array,
    count: number,
    keep: boolean,
    plan?: AugmentPlan,
  ): void;
  finishForward(): BatchOutputs;
  startBackward(g: OutputGrads): void;
  finishBackward(): Float32Array;
  close(): void;
}

class InlineRunner implements Runner {
  #out?: BatchOutputs;
  #grads?: Float32Array;
  constructor(readonly graph: TrainGraph) {}
  prepare() {}
  startForward(
    params: Float32Array | undefined,
    pixels: Uint8Array,
    count: number,
    keep: boolean,
    plan?: AugmentPlan,
  ) {
    if (params) this.graph.setParams(params);
    this.#out = this.graph.forward(graphInput(this.graph, pixels, plan), count, keep);
  }
  finishForward() {
    return this.#out!;
  }
  startBackward(g: OutputGrads) {
    this.#grads = this.graph.backward(g);
  }
  finishBackward() {
    return this.#grads!;
  }
  close() {
    this.graph.dispose();
  }
}

/** A Deno Worker with its own TrainGraph, driven through a shared-memory {@linkcode Channel}. */
class WorkerRunner implements Runner {
  #worker: Worker;
  #channel?: Channel;
  #failure?: Error;
  #reply?: { resolve: (v: unknown) => void; reject: (e: Error) => void };

  private constructor(
    worker: Worker,
    readonly sampleBytes: number,
    readonly paramCount: number,
    readonly spinMs: number,
  ) {
    this.#worker = worker;
  }

  static start(arch: NetArch, backend: BackendName, spinMs: number): Promise<WorkerRunner> {
    const worker = new Worker(new URL("./train_worker.ts", import.meta.url), { type: "module" });
    const sb = arch.input.size * arch.input.size * arch.input.channels;
    const runner = new WorkerRunner(worker, sb, paramLayout(arch).total, spinMs);
    return new Promise((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        if (e.data?.type === "ready") {
          runner.#listen();
          runner.#call({ type: "init", arch, backend }).then(() => resolve(runner), reject);
        }
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`training worker failed to start: ${e.message}`));
      };
    });
  }

  #listen() {
    this.#worker.onmessage = (e: MessageEvent) => {
      const p = this.#reply;
      this.#reply = undefined;
      if (!p) return;
      if (e.data.error !== undefined) p.reject(new Error(e.data.error));
      else p.resolve(e.data.result);
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#failure = new Error(`training worker failed: ${e.message}`);
      this.#reply?.reject(this.#failure);
      this.#reply = undefined;
    };
  }

  #call(msg: WorkerRequest): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#reply = { resolve, reject };
      this.#worker.postMessage(msg);
    });
  }

  /** Makes sure the channel holds `count` samples (a new, larger buffer when not). */
  async prepare(count: number) {
    if (this.#channel && count <= this.#channel.layout.capacity) return;
    if (this.#channel) {
      this.#channel.postLeave();
      this.#channel.wait();
    }
    const layout = channelLayout(Math.max(count, 64), this.sampleBytes, this.paramCount);
    const sab = new SharedArrayBuffer(layout.bytes);
    this.#channel = new Channel(sab, layout, this.spinMs);
    await this.#call({ type: "channel", sab, layout, spinMs: this.spinMs });
  }

  startForward(
    params: Float32Array | undefined,
    pixels: Uint8Array,
    count: number,
    keep: boolean,
    plan?: AugmentPlan,
  ) {
    if (this.#failure) throw this.#failure;
    this.#channel!.postForward({ params, pixels, count, keep, plan });
  }

  finishForward() {
    this.#channel!.wait();
    return this.#channel!.outputs();
  }

  startBackward(g: OutputGrads) {
    this.#channel!.postBackward(g);
  }

  finishBackward() {
    this.#channel!.wait();
    return this.#channel!.grads.slice();
  }

  close() {
    if (this.#channel && !this.#failure) {
      try {
        this.#channel.postLeave();
        this.#channel.wait(10_000);
      } catch {
        // terminating anyway
      }
    }
    this.#worker.terminate();
  }
}

/** A graph's input: the pixels augmented by `plan` and normalised, or just normalised. */
export function graphInput(
  graph: TrainGraph,
  pixels: Uint8Array,
  plan?: AugmentPlan,
): Uint8Array | Float32Array {
  return plan ? augmentToInput(pixels, graph.arch.input, plan) : pixels;
}

function offsets(counts: number[]): number[] {
  const out: number[] = [];
  let s = 0;
  for (const c of counts) {
    out.push(s);
    s += c;
  }
  return out;
}

/** Slices of the outputs' rows `[start, start + count)`. */
function sliceGrads(g: OutputGrads, start: number, count: number): OutputGrads {
  const cut = (a: Float32Array | undefined, w: number) =>
    a ? a.slice(start * w, (start + count) * w) : undefined;
  return { dLogits: cut(g.dLogits, 2), dBox: cut(g.dBox, 4), dLandmarks: cut(g.dLandmarks, 10) };
}

/** A net's training graph replicated over workers (see the module comment). */
export class DataParallel {
  readonly arch: NetArch;
  readonly workers: number;
  #runners: Runner[];
  #params?: Float32Array;
  #sent: boolean[];
  #slices: number[] = [];
  #paramCount: number;

  private constructor(arch: NetArch, runners: Runner[]) {
    this.arch = arch;
    this.#runners = runners;
    this.workers = runners.length;
    this.#sent = runners.map(() => false);
    this.#paramCount = paramLayout(arch).total;
  }

  /**
   * Starts `workers` training workers (or the inline graph for one) on the
   * chosen backend. Throws when a worker cannot start.
   */
  static async create(arch: NetArch, opts: DataParallelOptions): Promise<DataParallel> {
    const n = Math.floor(opts.workers);
    if (!(n >= 1)) throw new RangeError(`workers must be >= 1, got ${opts.workers}`);
    const backend = opts.backend ?? "wasm";
    const inline = opts.inline ?? true;
    const workers = Promise.all(
      Array.from(
        { length: inline ? n - 1 : n },
        () => WorkerRunner.start(arch, backend, opts.spinMs ?? DEFAULT_SPIN_MS),
      ),
    );
    const local: Runner[] = [];
    if (inline) {
      await initTrainingBackend(backend);
      local.push(new InlineRunner(new TrainGraph(arch)));
    }
    return new DataParallel(arch, [...local, ...(await workers)]);
  }

  /** Sets the parameters (flat); they reach the workers with their next forward pass. */
  setParams(flat: Float32Array): void {
    if (flat.length !== this.#paramCount) {
      throw new RangeError(
        `DataParallel.setParams: ${flat.length} values, ${this.arch.name} has ${this.#paramCount}`,
      );
    }
    this.#params = flat;
    this.#sent.fill(false);
  }

  /**
   * Forward pass of `count` samples (pixels NHWC, 0..255) split over the
   * workers; with `keep` the workers keep their activations for
   * {@linkcode DataParallel.backward}. With `plan` each worker augments its
   * slice on the way in (src/train/augment.ts `augmentToInput`).
   */
  async forward(
    pixels: Uint8Array,
    count: number,
    keep: boolean,
    plan?: AugmentPlan,
  ): Promise<BatchOutputs> {
    if (!this.#params) throw new RangeError("DataParallel.forward: call setParams first");
    const sb = this.arch.input.size * this.arch.input.size * this.arch.input.channels;
    const counts = splitCounts(count, this.#runners.length);
    this.#slices = counts;
    const starts = offsets(counts);
    await Promise.all(this.#runners.map((r, w) => r.prepare(counts[w])));
    // workers first: an inline runner computes as soon as it is started
    for (let w = counts.length - 1; w >= 0; w--) {
      const s = starts[w];
      const c = counts[w];
      if (c === 0) continue;
      const params = this.#sent[w] ? undefined : this.#params;
      this.#sent[w] = true;
      this.#runners[w].startForward(
        params,
        pixels.subarray(s * sb, (s + c) * sb),
        c,
        keep,
        plan && slicePlan(plan, s, c),
      );
    }
    const parts = this.#runners.map((r, w) => (counts[w] ? r.finishForward() : undefined));
    const out: BatchOutputs = {
      logits: new Float32Array(2 * count),
      box: new Float32Array(4 * count),
    };
    const lm = parts.some((p) => p?.landmarks);
    if (lm) out.landmarks = new Float32Array(10 * count);
    parts.forEach((p, w) => {
      if (!p) return;
      out.logits.set(p.logits, 2 * starts[w]);
      out.box.set(p.box, 4 * starts[w]);
      if (lm) out.landmarks!.set(p.landmarks!, 10 * starts[w]);
    });
    return out;
  }

  /**
   * Backward pass of the last kept forward pass from the loss gradient of the
   * whole batch; returns the sum of the workers' parameter gradients.
   */
  backward(g: OutputGrads): Promise<Float32Array> {
    const starts = offsets(this.#slices);
    for (let w = this.#slices.length - 1; w >= 0; w--) {
      const c = this.#slices[w];
      if (c > 0) this.#runners[w].startBackward(sliceGrads(g, starts[w], c));
    }
    const parts = this.#runners
      .filter((_, w) => this.#slices[w] > 0)
      .map((r) => r.finishBackward());
    const sum = parts[0];
    for (let k = 1; k < parts.length; k++) {
      const p = parts[k];
      for (let i = 0; i < sum.length; i++) sum[i] += p[i];
    }
    return Promise.resolve(sum);
  }

  /** Stops the workers and frees the tensors. */
  close(): void {
    for (const r of this.#runners) r.close();
    this.#runners = [];
  }
}
