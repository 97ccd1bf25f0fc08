/**
 * A shared-memory request channel between the main thread and one training
 * worker: a SharedArrayBuffer holding a control block and the data of one
 * request (parameters, pixels, augmentation plan, outputs, output gradients,
 * parameter gradients), with `Atomics.wait` / `Atomics.notify` for the
 * hand-over. A round trip costs microseconds, where `postMessage` costs a few
 * hundred (the step of a 12-px PNet slice is about a millisecond).
 *
 * The worker blocks in {@linkcode serveChannel} until asked to leave (to get
 * a larger buffer, or at the end); the main thread blocks only when it waits
 * for a result it needs.
 *
 * @example
 * ```ts
 * const layout = channelLayout(128, 12 * 12 * 3, 6632);
 * const ch = new Channel(new SharedArrayBuffer(layout.bytes), layout);
 * ```
 */

/** Requests. */
export const OP_FORWARD = 1;
export const OP_BACKWARD = 2;
/** Leave the serving loop (answered before leaving). */
export const OP_LEAVE = 3;

// control block (Int32 indices)
const REQ = 0;
const DONE = 1;
const OP = 2;
const COUNT = 3;
const KEEP = 4;
const HAS_PARAMS = 5;
const HAS_PLAN = 6;
const JITTER = 7;
const STATUS = 8;
const ERR_LEN = 9;
const DY_MASK = 10;
const LANDMARKS = 11;
const CTRL_INTS = 16;

/**
 * Milliseconds each side polls the control block before it sleeps in
 * `Atomics.wait` (default of {@linkcode Channel}'s `spinMs`). Waking a
 * sleeping thread costs a futex wake and, on a virtual machine, waking a
 * halted vCPU; the hand-overs of a PNet step (batch 256, two threads, ~3 ms
 * a step) mostly come within a few hundred microseconds. Measured side by
 * side (``deno task bench:train --sleeping-too``, and spin 0 / 0.3 / 0.6 / 1 / 2 ms
 * interleaved in one run): polling gains 0–4 % on a quiet machine, and when
 * a third process competes for the two cores a long poll holds a core the
 * other thread needs (2 ms: 0.78× of sleeping in one loaded run). A short
 * window keeps the gain without that cost; a side that finds nothing to do
 * within it sleeps, so an idle worker costs no CPU.
 */
export const DEFAULT_SPIN_MS = 0.3;

/** Polls `ctrl[i]` until it equals `value`, for at most `ms`. */
function spinUntil(ctrl: Int32Array, i: number, value: number, ms: number): void {
  if (!(ms > 0)) return;
  const end = performance.now() + ms;
  for (let k = 0; Atomics.load(ctrl, i) !== value; k++) {
    if ((k & 63) === 63 && performance.now() > end) return;
  }
}

/** Polls `ctrl[i]` while it equals `value`, for at most `ms`. */
function spinWhile(ctrl: Int32Array, i: number, value: number, ms: number): void {
  if (!(ms > 0)) return;
  const end = performance.now() + ms;
  for (let k = 0; Atomics.load(ctrl, i) === value; k++) {
    if ((k & 63) === 63 && performance.now() > end) return;
  }
}
const ERR_BYTES = 1024;

/** Where each region sits in the buffer. */
export interface ChannelLayout {
  /** Samples a request may hold. */
  capacity: number;
  sampleBytes: number;
  paramCount: number;
  bytes: number;
  at: Record<
    | "params"
    | "grads"
    | "pixels"
    | "flip"
    | "contrast"
    | "brightness"
    | "logits"
    | "box"
    | "landmarks"
    | "dLogits"
    | "dBox"
    | "dLandmarks"
    | "err",
    number
  >;
}

/** The layout for `capacity` samples of `sampleBytes` and `paramCount` parameters. */
export function channelLayout(
  capacity: number,
  sampleBytes: number,
  paramCount: number,
): ChannelLayout {
  let o = CTRL_INTS * 4;
  const take = (bytes: number) => {
    const at = o;
    o = Math.ceil((o + bytes) / 8) * 8;
    return at;
  };
  const at = {
    params: take(4 * paramCount),
    grads: take(4 * paramCount),
    pixels: take(capacity * sampleBytes),
    flip: take(capacity),
    contrast: take(8 * capacity),
    brightness: take(8 * capacity),
    logits: take(4 * 2 * capacity),
    box: take(4 * 4 * capacity),
    landmarks: take(4 * 10 * capacity),
    dLogits: take(4 * 2 * capacity),
    dBox: take(4 * 4 * capacity),
    dLandmarks: take(4 * 10 * capacity),
    err: take(ERR_BYTES),
  };
  return { capacity, sampleBytes, paramCount, bytes: o, at };
}

/** A forward request as the worker sees it. */
export interface ForwardRequest {
  count: number;
  keep: boolean;
  params?: Float32Array;
  pixels: Uint8Array;
  plan?: { flip: Uint8Array; contrast: Float64Array; brightness: Float64Array; jitter: boolean };
}

/** Typed views of a channel buffer. */
export class Channel {
  readonly ctrl: Int32Array;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly pixels: Uint8Array;
  readonly flip: Uint8Array;
  readonly contrast: Float64Array;
  readonly brightness: Float64Array;
  readonly logits: Float32Array;
  readonly box: Float32Array;
  readonly landmarks: Float32Array;
  readonly dLogits: Float32Array;
  readonly dBox: Float32Array;
  readonly dLandmarks: Float32Array;
  readonly err: Uint8Array;
  #seq = 0;

  /**
   * `spinMs`: how long each side polls before sleeping ({@linkcode DEFAULT_SPIN_MS};
   * 0 sleeps at once).
   */
  constructor(
    readonly sab: SharedArrayBuffer,
    readonly layout: ChannelLayout,
    readonly spinMs = DEFAULT_SPIN_MS,
  ) {
    const { at, capacity: n, paramCount: p } = layout;
    this.ctrl = new Int32Array(sab, 0, CTRL_INTS);
    this.params = new Float32Array(sab, at.params, p);
    this.grads = new Float32Array(sab, at.grads, p);
    this.pixels = new Uint8Array(sab, at.pixels, n * layout.sampleBytes);
    this.flip = new Uint8Array(sab, at.flip, n);
    this.contrast = new Float64Array(sab, at.contrast, n);
    this.brightness = new Float64Array(sab, at.brightness, n);
    this.logits = new Float32Array(sab, at.logits, 2 * n);
    this.box = new Float32Array(sab, at.box, 4 * n);
    this.landmarks = new Float32Array(sab, at.landmarks, 10 * n);
    this.dLogits = new Float32Array(sab, at.dLogits, 2 * n);
    this.dBox = new Float32Array(sab, at.dBox, 4 * n);
    this.dLandmarks = new Float32Array(sab, at.dLandmarks, 10 * n);
    this.err = new Uint8Array(sab, at.err, ERR_BYTES);
    this.#seq = Atomics.load(this.ctrl, REQ);
  }

  // --- main thread side ---------------------------------------------------

  /** Posts a forward request (returns at once). */
  postForward(r: ForwardRequest): void {
    const c = this.ctrl;
    if (r.count > this.layout.capacity) {
      throw new RangeError(`Channel: ${r.count} samples, capacity ${this.layout.capacity}`);
    }
    c[COUNT] = r.count;
    c[KEEP] = r.keep ? 1 : 0;
    c[HAS_PARAMS] = r.params ? 1 : 0;
    if (r.params) this.params.set(r.params);
    this.pixels.set(r.pixels.subarray(0, r.count * this.layout.sampleBytes));
    c[HAS_PLAN] = r.plan ? 1 : 0;
    if (r.plan) {
      this.flip.set(r.plan.flip);
      this.contrast.set(r.plan.contrast);
      this.brightness.set(r.plan.brightness);
      c[JITTER] = r.plan.jitter ? 1 : 0;
    }
    this.#post(OP_FORWARD);
  }

  /** Posts a backward request with the gradients of the last forward pass's outputs. */
  postBackward(
    g: { dLogits?: Float32Array; dBox?: Float32Array; dLandmarks?: Float32Array },
  ): void {
    let mask = 0;
    if (g.dLogits) (this.dLogits.set(g.dLogits), mask |= 1);
    if (g.dBox) (this.dBox.set(g.dBox), mask |= 2);
    if (g.dLandmarks) (this.dLandmarks.set(g.dLandmarks), mask |= 4);
    this.ctrl[DY_MASK] = mask;
    this.#post(OP_BACKWARD);
  }

  /** Asks the worker to leave its serving loop. */
  postLeave(): void {
    this.#post(OP_LEAVE);
  }

  #post(op: number): void {
    const c = this.ctrl;
    c[OP] = op;
    c[STATUS] = 0;
    this.#seq = (this.#seq + 1) | 0;
    Atomics.store(c, REQ, this.#seq);
    Atomics.notify(c, REQ);
  }

  /**
   * Blocks until the worker answered the last request; throws its one-line
   * error, or after `timeoutMs` without an answer.
   */
  wait(timeoutMs = 600_000): void {
    const c = this.ctrl;
    const start = performance.now();
    spinUntil(c, DONE, this.#seq, this.spinMs);
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done === this.#seq) break;
      Atomics.wait(c, DONE, done, 1000);
      if (performance.now() - start > timeoutMs) {
        throw new Error(`training worker did not answer within ${timeoutMs / 1000} s`);
      }
    }
    if (c[STATUS] !== 0) {
      throw new Error(new TextDecoder().decode(this.err.slice(0, c[ERR_LEN])));
    }
  }

  /** The outputs of the last forward request (copies). */
  outputs(): { logits: Float32Array; box: Float32Array; landmarks?: Float32Array } {
    const n = this.ctrl[COUNT];
    return {
      logits: this.logits.slice(0, 2 * n),
      box: this.box.slice(0, 4 * n),
      landmarks: this.ctrl[LANDMARKS] ? this.landmarks.slice(0, 10 * n) : undefined,
    };
  }

  // --- worker side --------------------------------------------------------

  /**
   * Serves requests until {@linkcode OP_LEAVE}: blocks between them. `forward`
   * and `backward` do the work; errors are reported to the waiting side.
   */
  serve(handlers: {
    forward(
      r: ForwardRequest,
    ): { logits: Float32Array; box: Float32Array; landmarks?: Float32Array };
    backward(
      g: { dLogits?: Float32Array; dBox?: Float32Array; dLandmarks?: Float32Array },
    ): Float32Array;
  }): void {
    const c = this.ctrl;
    let seq = Atomics.load(c, DONE);
    for (;;) {
      spinWhile(c, REQ, seq, this.spinMs);
      Atomics.wait(c, REQ, seq);
      seq = Atomics.load(c, REQ);
      const op = c[OP];
      try {
        if (op === OP_FORWARD) {
          const n = c[COUNT];
          const out = handlers.forward({
            count: n,
            keep: c[KEEP] === 1,
            params: c[HAS_PARAMS] ? this.params : undefined,
            pixels: this.pixels.subarray(0, n * this.layout.sampleBytes),
            plan: c[HAS_PLAN]
              ? {
                flip: this.flip.subarray(0, n),
                contrast: this.contrast.subarray(0, n),
                brightness: this.brightness.subarray(0, n),
                jitter: c[JITTER] === 1,
              }
              : undefined,
          });
          this.logits.set(out.logits);
          this.box.set(out.box);
          c[LANDMARKS] = out.landmarks ? 1 : 0;
          if (out.landmarks) this.landmarks.set(out.landmarks);
        } else if (op === OP_BACKWARD) {
          const n = c[COUNT];
          const m = c[DY_MASK];
          const grads = handlers.backward({
            dLogits: m & 1 ? this.dLogits.subarray(0, 2 * n) : undefined,
            dBox: m & 2 ? this.dBox.subarray(0, 4 * n) : undefined,
            dLandmarks: m & 4 ? this.dLandmarks.subarray(0, 10 * n) : undefined,
          });
          this.grads.set(grads);
        }
      } catch (e) {
        const msg = new TextEncoder().encode(
          (e instanceof Error ? e.message : String(e)).split("\n")[0],
        ).subarray(0, ERR_BYTES);
        this.err.set(msg);
        c[ERR_LEN] = msg.length;
        c[STATUS] = 1;
      }
      Atomics.store(c, DONE, seq);
      Atomics.notify(c, DONE);
      if (op === OP_LEAVE) return;
    }
  }
}
