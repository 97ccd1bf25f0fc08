/**
 * Training-speed measurements behind `deno task bench:train`: samples per
 * second of whole training steps (forward, loss with OHEM, backward, Adam) for
 * a net and batch size, for
 *
 * - the baseline: stock tfjs-backend-wasm driven the usual tfjs way
 *   (`tf.train.adam().minimize` over `forward(net, x, { fuse: false })` and
 *   {@linkcode lossTf}), with only the kernel it lacks, Conv2DBackpropFilter,
 *   shimmed naively ({@linkcode registerBaselineShim}: Transpose + Conv2D);
 * - the trainer: {@linkcode DataParallel} with the training kernels
 *   (src/train/grad_kernels.ts), the host loss and Adam, the augmentation of
 *   the real loop, on 1 or more workers.
 *
 * The baseline must run before the training kernels are enabled on the
 * calling thread (they replace kernels process-wide); workers have their own.
 *
 * @example
 * ```ts
 * await initBackend("wasm");
 * const undo = registerBaselineShim();
 * const base = await benchBaseline(pnetArch(), { batch: 256, steps: 20 });
 * undo();
 * const fast = await benchTrainer(pnetArch(), { batch: 256, steps: 20, workers: 1 });
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NetArch } from "../nets/arch.ts";
import { forward, randomNet, randomNetData } from "../nets/net.ts";
import { Label } from "../data/shards.ts";
import { Rng } from "../util/random.ts";
import { augmentTargets, DEFAULT_AUGMENT, planAugment } from "./augment.ts";
import { packParams } from "./backprop.ts";
import { computeLoss, lossTf, resolveLossConfig, tfTargets } from "./losses.ts";
import { Adam } from "./optimizer.ts";
import { DataParallel } from "./parallel.ts";

/** Options of the step benchmarks. */
export interface StepBenchOptions {
  batch: number;
  /** Timed steps per round. */
  steps: number;
  /** Rounds (the median is reported; default 3). */
  rounds?: number;
  /** Untimed steps first (default 3). */
  warmup?: number;
  seed?: number;
}

/** One measurement. */
export interface StepBenchResult {
  net: string;
  what: string;
  workers: number;
  batch: number;
  /** Median over rounds, and the slowest and fastest round. */
  samplesPerSecond: number;
  range: [number, number];
  msPerStep: number;
}

/** A random batch with the 1:3:1:2 label mix (landmarks only for nets with the head). */
export function benchBatch(arch: NetArch, n: number, seed = 1) {
  const rng = new Rng(seed);
  const s = arch.input.size;
  const lm = arch.layers.some((l) => l.kind === "landmarks");
  const mix = lm
    ? [
      Label.Positive,
      Label.Negative,
      Label.Negative,
      Label.Negative,
      Label.Part,
      Label.Landmark,
      Label.Landmark,
    ]
    : [Label.Positive, Label.Negative, Label.Negative, Label.Negative, Label.Part];
  return {
    count: n,
    size: s,
    channels: 3,
    pixels: new Uint8Array(n * s * s * 3).map(() => rng.int(0, 256)),
    labels: Uint8Array.from({ length: n }, (_, i) => mix[i % mix.length]),
    boxes: new Float32Array(n * 4).map(() => rng.uniform(-0.2, 0.2)),
    landmarks: new Float32Array(n * 10).map(() => rng.uniform(0, 1)),
  };
}

async function timeRounds(
  opts: StepBenchOptions,
  step: () => Promise<void> | void,
): Promise<{ perSecond: number[]; ms: number[] }> {
  for (let i = 0; i < (opts.warmup ?? 3); i++) await step();
  const perSecond: number[] = [];
  const ms: number[] = [];
  for (let r = 0; r < (opts.rounds ?? 3); r++) {
    const t0 = performance.now();
    for (let i = 0; i < opts.steps; i++) await step();
    const dt = (performance.now() - t0) / opts.steps;
    ms.push(dt);
    perSecond.push((opts.batch / dt) * 1000);
  }
  return { perSecond, ms };
}

function summarize(
  arch: NetArch,
  what: string,
  workers: number,
  opts: StepBenchOptions,
  t: { perSecond: number[]; ms: number[] },
): StepBenchResult {
  const median = (a: number[]) => {
    const s = a.slice().sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  };
  return {
    net: arch.name,
    what,
    workers,
    batch: opts.batch,
    samplesPerSecond: median(t.perSecond),
    range: [Math.min(...t.perSecond), Math.max(...t.perSecond)],
    msPerStep: median(t.ms),
  };
}

/**
 * Registers a naive Conv2DBackpropFilter on the wasm backend (the one kernel
 * training needs that tfjs-backend-wasm 4.22 lacks): with x as [ci, h, w, n]
 * and dy as a [oh, ow, n, co] filter, a Conv2D dilated by the stride gives the
 * filter gradient. Returns the function that unregisters it. Throws when a
 * Conv2DBackpropFilter is already registered (enable the training kernels after).
 */
export function registerBaselineShim(): () => void {
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    throw new Error("registerBaselineShim: wasm already has a Conv2DBackpropFilter kernel");
  }
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs }) => {
      const { x, dy } = inputs as unknown as { x: tf.Tensor4D; dy: tf.Tensor4D };
      const a = attrs as unknown as { strides: number | [number, number]; filterShape: number[] };
      const s = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
      const [kh, kw, ci, co] = a.filterShape;
      return tf.tidy(() => {
        const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
        const ft = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
        let r = tf.conv2d(xt, ft, 1, "valid", "NHWC", s as [number, number]);
        if (r.shape[1] !== kh || r.shape[2] !== kw) r = tf.slice(r, [0, 0, 0, 0], [ci, kh, kw, co]);
        return tf.transpose(r, [1, 2, 0, 3]);
      }) as unknown as tf.TensorInfo;
    },
  });
  return () => tf.unregisterKernel("Conv2DBackpropFilter", "wasm");
}

/**
 * Samples/s of the baseline training step on the current backend (see the
 * module comment); the backend's kernels are whatever is registered now.
 */
export async function benchBaseline(
  arch: NetArch,
  opts: StepBenchOptions,
): Promise<StepBenchResult> {
  const b = benchBatch(arch, opts.batch, opts.seed ?? 1);
  const cfg = resolveLossConfig(arch.name as "pnet");
  const net = randomNet(arch, opts.seed ?? 1);
  const vars = Object.fromEntries(
    Object.entries(net.params).map((
      [k, v],
    ) => [k, tf.variable(v, true, `bench_${arch.name}_${k}_${Math.random()}`)]),
  );
  const trainable = { ...net, params: vars as Record<string, tf.Tensor> };
  const x = tf.tensor4d(b.pixels, [b.count, b.size, b.size, 3], "int32");
  const t = tfTargets(b);
  const opt = tf.train.adam(1e-3);
  try {
    const timing = await timeRounds(opts, () => {
      const loss = opt.minimize(
        () => {
          const o = forward(trainable, x as tf.Tensor4D, { fuse: false });
          return lossTf({ logits: o.logits, box: o.box, landmarks: o.landmarks }, t, cfg);
        },
        true,
        Object.values(vars),
      );
      loss?.dataSync();
      loss?.dispose();
    });
    return summarize(arch, "stock tfjs-wasm, tf.grads, Conv2DBackpropFilter shim", 1, opts, timing);
  } finally {
    opt.dispose();
    tf.dispose([x, ...Object.values(vars), ...Object.values(net.params)]);
    tf.dispose(Object.values(t).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);
  }
}

/** {@linkcode StepBenchResult.what} of the trainer with sleeping hand-overs. */
export const SLEEPING = "trainer, sleeping hand-over";

/**
 * Samples/s of the trainer's step (augmentation, forward, host loss,
 * backward, Adam) on each of `workers` worker counts; their rounds are
 * interleaved so that a noisy machine slows them alike.
 */
export async function benchTrainers(
  arch: NetArch,
  opts: StepBenchOptions & {
    workers: number[];
    /**
     * Also time each multi-worker count with workers that sleep at once
     * between hand-overs (`spinMs: 0`, src/train/channel.ts), reported as
     * "trainer, sleeping hand-over": the polling's gain, side by side.
     */
    sleepingToo?: boolean;
  },
): Promise<StepBenchResult[]> {
  const b = benchBatch(arch, opts.batch, opts.seed ?? 1);
  const cfg = resolveLossConfig(arch.name as "pnet");
  const setups: { dp: DataParallel; params: Float32Array; adam: Adam; k: number }[] = [];
  const kinds = opts.workers.map((w) => ({
    workers: w,
    what: "trainer",
    spinMs: undefined as number | undefined,
  }));
  if (opts.sleepingToo) {
    for (const w of opts.workers) {
      if (w > 1) kinds.push({ workers: w, what: SLEEPING, spinMs: 0 });
    }
  }
  try {
    for (const { workers: w, spinMs } of kinds) {
      const params = packParams(arch, randomNetData(arch, opts.seed ?? 1).params);
      setups.push({
        dp: await DataParallel.create(arch, { workers: w, spinMs }),
        params,
        adam: new Adam(params.length),
        k: 0,
      });
    }
    const step = async (s: typeof setups[number]) => {
      const plan = planAugment(b.count, DEFAULT_AUGMENT, s.k++);
      const batch = augmentTargets(b, plan);
      s.dp.setParams(s.params);
      const r = computeLoss(await s.dp.forward(batch.pixels, batch.count, true, plan), batch, cfg);
      s.adam.step(s.params, await s.dp.backward(r), 1e-3);
    };
    for (const s of setups) for (let i = 0; i < (opts.warmup ?? 3); i++) await step(s);
    const timings = setups.map(() => ({ perSecond: [] as number[], ms: [] as number[] }));
    for (let r = 0; r < (opts.rounds ?? 3); r++) {
      for (const [i, s] of setups.entries()) {
        const t = await timeRounds({ ...opts, rounds: 1, warmup: 0 }, () => step(s));
        timings[i].perSecond.push(...t.perSecond);
        timings[i].ms.push(...t.ms);
      }
    }
    return setups.map((_, i) => summarize(arch, kinds[i].what, kinds[i].workers, opts, timings[i]));
  } finally {
    for (const s of setups) s.dp.close();
  }
}
