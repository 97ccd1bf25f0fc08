/**
 * The MTCNN trainer: the whole loop in one place (nanoGPT style), config as
 * data saved with the weights.
 *
 * Per epoch: shuffled batches resampled to the label ratio (src/data/shards.ts
 * `readBatches`), augmentation (src/train/augment.ts), the forward pass on the
 * workers (src/train/parallel.ts), the multi-task loss with online hard
 * example mining over the whole batch (src/train/losses.ts), the backward
 * pass, the summed gradients into Adam (src/train/optimizer.ts) at the
 * epoch's learning rate; then validation on every validation sample once (no
 * OHEM, no augmentation). The run folder keeps:
 *
 * | file | what |
 * | --- | --- |
 * | `best_<net>.mtcnn` | the weights of the epoch with the lowest validation loss; header: resolved config (`training`) and that epoch's metrics |
 * | `last_<net>.mtcnn` | the weights after the last finished epoch (or the interruption) |
 * | `checkpoint_<net>.ckpt` | weights, Adam state, epoch, step, history: what `resume` continues from |
 * | `metrics.json` | per net: best epoch, metrics, per-epoch history with times, the seed's table |
 * | `curve_<net>.png` | learning curves: loss and accuracy, train and validation, per epoch |
 *
 * With a `distill` block the loss mixes the ground truth with a teacher's
 * outputs (src/train/losses.ts `distillLoss`): the teacher (any weights file
 * of the same net and input size, e.g. the imported original MTCNN, a larger
 * or an unpruned net) runs inference only, on the same augmented pixels as the
 * student, split over the same number of workers. Validation and the best
 * epoch stay on the ground-truth loss, so runs with and without a teacher
 * compare directly.
 *
 * Randomness: initial weights from `seed`, batch order from (seed, epoch),
 * augmentation from (seed, epoch, step); the same seed and worker count give
 * the same bytes, and a resumed run the bytes of an uninterrupted one.
 *
 * @example
 * ```ts
 * const cfg = resolveTrainConfig({ net: "pnet", trainData: ["data/pnet/train"], valData: ["data/pnet/val"] });
 * const result = await train(cfg, { out: "weights/run1", workers: 2 });
 * console.log(result.best?.val.clsAcc);
 * ```
 */
import { type NetArch, onetArch, pnetArch, rnetArch, validateArch } from "../nets/arch.ts";
import type { BackendName } from "../nets/backend.ts";
import { type NetData, randomNetData } from "../nets/net.ts";
import { encodeWeights, loadNetData } from "../nets/weights_io.ts";
import {
  type Batch,
  epochPlan,
  openDatasets,
  readBatches,
  type ReadOptions,
} from "../data/shards.ts";
import { exists, writeFileAtomic, writeJsonAtomic } from "../io/mod.ts";
import { Rng } from "../util/random.ts";
import { type AugmentConfig, augmentTargets, planAugment, resolveAugment } from "./augment.ts";
import { packParams, unpackParams } from "./backprop.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import {
  checkDistillLoss,
  computeLoss,
  distillLoss,
  type LossConfig,
  type LossResult,
  resolveLossConfig,
} from "./losses.ts";
import {
  addStep,
  emptyTrainSums,
  type EvalMetrics,
  MetricsAccumulator,
  seedTable,
  type TrainMetrics,
  trainMetrics,
  type TrainSums,
} from "./metrics.ts";
import { Adam, type AdamConfig, DEFAULT_ADAM, defaultMilestones, lrAt } from "./optimizer.ts";
import { DataParallel } from "./parallel.ts";
import { BatchReader } from "./reader.ts";

/** The three MTCNN nets. */
export type NetName = "pnet" | "rnet" | "onet";

/** Everything that defines a training run's result (saved in the weights' header). */
export interface TrainConfig {
  net: NetName;
  arch: NetArch;
  trainData: string[];
  valData: string[];
  /** Label ratio pos : neg : part : landmark of the training batches. */
  ratio: [number, number, number, number];
  /** Samples per epoch (null: as many as the scarcest ratio label allows). */
  epochSize: number | null;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Epochs (0-based) at which the learning rate is multiplied by `lrGamma`. */
  lrSteps: number[];
  lrGamma: number;
  adam: AdamConfig;
  loss: LossConfig;
  augment: AugmentConfig;
  seed: number;
  /** Weights file the run starts from (null: random weights from `seed`). */
  init: string | null;
  /** Knowledge distillation from a teacher (absent: ground truth only). */
  distill?: DistillConfig;
}

/** The `distill` block of a {@linkcode TrainConfig}. */
export interface DistillConfig {
  /** The teacher's weights file (.mtcnn, float): same net and input size as the student. */
  teacher: string;
  /** Softmax temperature of the face probabilities. */
  temperature: number;
  /** Weight of the distillation terms (the ground truth gets 1 − alpha). */
  alpha: number;
}

/** Defaults of the `distill` block: T = 2, alpha = 0.5. */
export const DEFAULT_DISTILL = { temperature: 2, alpha: 0.5 };

/** What {@linkcode resolveTrainConfig} accepts. */
export interface TrainConfigInput {
  net: NetName;
  trainData: string[];
  valData: string[];
  /** The architecture (default: the net's standard one, or `channels` / `landmarks`). */
  arch?: NetArch;
  /** Channel counts of the standard arch's convolutions (PNet/RNet 3, ONet 4). */
  channels?: number[];
  /** ONet's landmark head (default true). */
  landmarks?: boolean;
  ratio?: [number, number, number, number];
  epochSize?: number | null;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  lrSteps?: number[];
  lrGamma?: number;
  adam?: Partial<AdamConfig>;
  loss?: Parameters<typeof resolveLossConfig>[1];
  augment?: Partial<AugmentConfig>;
  seed?: number;
  init?: string | null;
  /** Distil from this teacher (temperature and alpha default to {@linkcode DEFAULT_DISTILL}). */
  distill?: { teacher: string; temperature?: number; alpha?: number } | null;
}

/** Defaults of the run-shape fields. */
export const DEFAULT_TRAIN = {
  ratio: [1, 3, 1, 2] as [number, number, number, number],
  epochs: 10,
  batchSize: 256,
  lr: 1e-3,
  lrGamma: 0.1,
  seed: 1,
};

/** The standard arch of a net with optional channel counts. */
export function standardArch(net: NetName, channels?: number[], landmarks = true): NetArch {
  const want = net === "onet" ? 4 : 3;
  if (channels && channels.length !== want) {
    throw new RangeError(`${net} takes ${want} channel counts, got ${channels.length}`);
  }
  if (channels?.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new RangeError(`channel counts must be positive integers, got ${channels.join(",")}`);
  }
  if (net === "pnet") return pnetArch({ channels: channels as [number, number, number] });
  if (net === "rnet") return rnetArch({ channels: channels as [number, number, number] });
  return onetArch({ channels: channels as [number, number, number, number], landmarks });
}

/**
 * Fills the defaults and checks every field (one-line RangeError naming it).
 *
 * @example
 * ```ts
 * resolveTrainConfig({ net: "rnet", trainData: ["d/train"], valData: ["d/val"], epochs: 20 });
 * ```
 */
export function resolveTrainConfig(input: TrainConfigInput): TrainConfig {
  const net = input.net;
  if (net !== "pnet" && net !== "rnet" && net !== "onet") {
    throw new RangeError(`net must be pnet, rnet or onet, got "${net}"`);
  }
  const arch = input.arch
    ? validateArch(input.arch)
    : standardArch(net, input.channels, input.landmarks);
  const list = (v: string[] | undefined, field: string) => {
    if (!Array.isArray(v) || v.length === 0) {
      throw new RangeError(`${field}: no dataset folder given`);
    }
    return v.slice();
  };
  const epochs = input.epochs ?? DEFAULT_TRAIN.epochs;
  const posInt = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${field} must be an integer >= 1, got ${v}`);
    }
    return v;
  };
  posInt(epochs, "epochs");
  const batchSize = posInt(input.batchSize ?? DEFAULT_TRAIN.batchSize, "batch size");
  const ratio = input.ratio ?? DEFAULT_TRAIN.ratio;
  if (
    ratio.length !== 4 || ratio.some((r) => !(r >= 0 && Number.isFinite(r))) ||
    ratio.every((r) => r === 0)
  ) {
    throw new RangeError(
      `ratio must be 4 numbers >= 0 (pos,neg,part,landmark), got ${ratio.join(",")}`,
    );
  }
  const epochSize = input.epochSize ?? null;
  if (epochSize !== null) posInt(epochSize, "epoch size");
  const lr = input.lr ?? DEFAULT_TRAIN.lr;
  if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`lr must be > 0, got ${lr}`);
  const lrSteps = input.lrSteps ?? defaultMilestones(epochs);
  if (lrSteps.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new RangeError(`lr steps must be epochs >= 1, got ${lrSteps.join(",")}`);
  }
  const lrGamma = input.lrGamma ?? DEFAULT_TRAIN.lrGamma;
  if (!(lrGamma > 0 && Number.isFinite(lrGamma))) {
    throw new RangeError(`lr gamma must be > 0, got ${lrGamma}`);
  }
  const adam = { ...DEFAULT_ADAM, ...(input.adam ?? {}) };
  for (const [k, v] of Object.entries(adam)) {
    if (!(k in DEFAULT_ADAM)) throw new RangeError(`unknown Adam option "${k}"`);
    if (!(typeof v === "number" && v >= 0 && Number.isFinite(v))) {
      throw new RangeError(`Adam option "${k}" must be a number >= 0, got ${v}`);
    }
  }
  if (adam.beta1 >= 1 || adam.beta2 >= 1) throw new RangeError(`Adam betas must be < 1`);
  const seed = input.seed ?? DEFAULT_TRAIN.seed;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  let distill: DistillConfig | undefined;
  if (input.distill) {
    for (const key of Object.keys(input.distill)) {
      if (!["teacher", "temperature", "alpha"].includes(key)) {
        throw new RangeError(`unknown distillation option "${key}"`);
      }
    }
    const teacher = input.distill.teacher;
    if (typeof teacher !== "string" || teacher === "") {
      throw new RangeError(`distillation teacher must be a weights file, got "${teacher}"`);
    }
    const d = {
      temperature: input.distill.temperature ?? DEFAULT_DISTILL.temperature,
      alpha: input.distill.alpha ?? DEFAULT_DISTILL.alpha,
    };
    checkDistillLoss(d);
    distill = { teacher, ...d };
  }
  return {
    net,
    arch,
    trainData: list(input.trainData, "train data"),
    valData: list(input.valData, "validation data"),
    ratio: [...ratio] as [number, number, number, number],
    epochSize,
    epochs,
    batchSize,
    lr,
    lrSteps: [...lrSteps].sort((a, b) => a - b),
    lrGamma,
    adam,
    loss: resolveLossConfig(net, input.loss ?? {}),
    augment: resolveAugment(input.augment ?? {}),
    seed,
    init: input.init ?? null,
    // absent rather than null: configs (and checkpoints) of runs without a teacher stay as they were
    ...(distill ? { distill } : {}),
  };
}

/** Live progress of a training step. */
export interface StepProgress {
  /** 0-based epoch and the number of steps done in it. */
  epoch: number;
  epochs: number;
  step: number;
  /** Planned steps per epoch. */
  steps: number;
  lr: number;
  /** This step's loss and the epoch's running means. */
  loss: number;
  meanLoss: number;
  meanAcc: number;
  samples: number;
}

/** One finished epoch. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  lr: number;
  train: TrainMetrics;
  val: EvalMetrics;
}

/** Options of {@linkcode train} that do not change the result. */
export interface TrainOptions {
  /** Run folder, e.g. `weights/run1`. */
  out: string;
  /** Workers (default 1: inline). */
  workers?: number;
  backend?: BackendName;
  /** Continue from `checkpoint_<net>.ckpt` in `out`. */
  resume?: boolean;
  /** Start afresh even if `out` holds a checkpoint of this net. */
  overwrite?: boolean;
  /** Stops the run after the current step with a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (r: EpochRecord & { seconds: number; best: boolean }) => void;
  /** Write the learning-curve PNG every epoch (default true). */
  plot?: boolean;
  /** Read batches ahead on a worker (src/train/reader.ts; default true; false: on the calling thread). */
  reader?: boolean;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  status: "done" | "interrupted";
  /** Epochs finished (1-based count) and steps done in the unfinished one. */
  epochsDone: number;
  stepsDone: number;
  best: { epoch: number; val: EvalMetrics; train: TrainMetrics } | null;
  history: EpochRecord[];
  files: { best: string; last: string; checkpoint: string; metrics: string; curve: string };
}

/** The paths of a run's files for a net. */
export function runFiles(out: string, net: string): TrainResult["files"] {
  return {
    best: `${out}/best_${net}.mtcnn`,
    last: `${out}/last_${net}.mtcnn`,
    checkpoint: `${out}/checkpoint_${net}.ckpt`,
    metrics: `${out}/metrics.json`,
    curve: `${out}/curve_${net}.png`,
  };
}

/** Thrown when the loss or the weights stop being finite. */
export class TrainingDivergedError extends RangeError {
  override name = "TrainingDivergedError";
}

interface RunState {
  config: TrainConfig;
  history: EpochRecord[];
  best: TrainResult["best"];
  sums: TrainSums;
  seconds: number[];
}

const AUGMENT_KEY = 0x41554721;

/**
 * Trains a net (see the module comment). Resolves when the run finishes or
 * stops on `signal`; throws {@linkcode TrainingDivergedError} on a NaN loss
 * (nothing written for that epoch: the last checkpoint stays good).
 */
export async function train(config: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const cfg = config;
  const files = runFiles(opts.out, cfg.net);
  const { counts, size } = await openDatasets(cfg.trainData);
  if (size !== cfg.arch.input.size) {
    throw new RangeError(
      `Cannot train ${cfg.net} (${cfg.arch.input.size} px) on "${
        cfg.trainData[0]
      }": its samples are ${size} px`,
    );
  }
  const val = await openDatasets(cfg.valData);
  if (val.size !== cfg.arch.input.size) {
    throw new RangeError(
      `Cannot validate ${cfg.net} (${cfg.arch.input.size} px) on "${
        cfg.valData[0]
      }": its samples are ${val.size} px`,
    );
  }
  const plan = epochPlan(counts, cfg.ratio, cfg.epochSize ?? undefined);
  const perEpoch = plan.reduce((a, b) => a + b, 0);
  if (perEpoch === 0) {
    throw new RangeError(
      `Cannot train ${cfg.net}: "${
        cfg.trainData.join(",")
      }" has no samples of the labels in ratio ${cfg.ratio.join(":")}`,
    );
  }
  const steps = Math.ceil(perEpoch / cfg.batchSize);

  // initial state: a checkpoint, or fresh weights
  let params: Float32Array;
  let adam: Adam;
  let epoch0 = 0;
  let step0 = 0;
  let state: RunState;
  if (opts.resume) {
    if (!(await exists(files.checkpoint))) {
      throw new TypeError(`Cannot resume: "${files.checkpoint}" does not exist`);
    }
    const ck = await loadCheckpoint(files.checkpoint);
    const saved = ck.state as unknown as RunState;
    const diff = firstDifference(saved.config, cfg);
    if (diff) {
      throw new RangeError(
        `Cannot resume "${files.checkpoint}": ${diff}; pass the run's original settings or start another run`,
      );
    }
    params = ck.params;
    adam = new Adam(params.length, cfg.adam);
    adam.load({ t: ck.adamT, m: ck.m, v: ck.v });
    epoch0 = ck.epoch;
    step0 = ck.step;
    state = { ...saved, config: cfg };
  } else {
    if (!opts.overwrite && (await exists(files.checkpoint))) {
      throw new TypeError(
        `"${opts.out}" already holds a ${cfg.net} run (${files.checkpoint}); pass --resume to continue it, --overwrite to start again, or another --run`,
      );
    }
    let init;
    if (cfg.init) {
      init = await loadNetData(cfg.init);
      if (JSON.stringify(init.arch) !== JSON.stringify(cfg.arch)) {
        throw new RangeError(`--init "${cfg.init}": its arch differs from the arch being trained`);
      }
    } else init = randomNetData(cfg.arch, cfg.seed);
    params = packParams(cfg.arch, init.params);
    adam = new Adam(params.length, cfg.adam);
    state = { config: cfg, history: [], best: null, sums: emptyTrainSums(), seconds: [] };
  }

  const teacherData = cfg.distill ? await loadTeacher(cfg) : undefined;
  const license = cfg.init ? await inheritedLicense(cfg.init) : {};
  const dp = await DataParallel.create(cfg.arch, {
    workers: opts.workers ?? 1,
    backend: opts.backend ?? "wasm",
  });
  let reader: BatchReader | undefined;
  let teacher: DataParallel | undefined;
  try {
    if (teacherData) {
      teacher = await DataParallel.create(teacherData.arch, {
        workers: opts.workers ?? 1,
        backend: opts.backend ?? "wasm",
      });
      teacher.setParams(packParams(teacherData.arch, teacherData.params));
    }
    if (opts.reader ?? true) reader = await BatchReader.start();
  } catch (e) {
    dp.close();
    teacher?.close();
    throw e;
  }
  const read = (dirs: string[], o: ReadOptions) =>
    reader ? reader.batches(dirs, o) : readBatches(dirs, o);
  const hasLandmarks = cfg.arch.layers.some((l) => l.kind === "landmarks");
  const schedule = { lr: cfg.lr, milestones: cfg.lrSteps, gamma: cfg.lrGamma };
  const save = async (epoch: number, step: number) => {
    await saveWeights(files.last, cfg, params, undefined, license);
    await saveCheckpoint(files.checkpoint, {
      epoch,
      step,
      adamT: adam.t,
      params,
      m: adam.m,
      v: adam.v,
      state: state as unknown as Record<string, unknown>,
    });
  };
  const result = (
    status: TrainResult["status"],
    epochsDone: number,
    stepsDone: number,
  ): TrainResult => ({
    status,
    epochsDone,
    stepsDone,
    best: state.best,
    history: state.history,
    files,
  });

  let lastYield = performance.now();
  try {
    dp.setParams(params);
    for (let epoch = epoch0; epoch < cfg.epochs; epoch++) {
      const lr = lrAt(schedule, epoch);
      const started = performance.now();
      const augSeed = Rng.derive((cfg.seed ^ AUGMENT_KEY) >>> 0, epoch).nextUint32();
      const skip = epoch === epoch0 ? step0 : 0;
      if (skip === 0) state.sums = emptyTrainSums();
      let step = 0;
      const batches = read(cfg.trainData, {
        batchSize: cfg.batchSize,
        seed: cfg.seed,
        epoch,
        ratio: cfg.ratio,
        epochSize: cfg.epochSize ?? undefined,
      });
      // one batch read ahead while the workers compute
      let next = batches.next();
      while (true) {
        const it = await next;
        if (it.done) break;
        next = batches.next();
        if (step < skip) {
          step++;
          continue;
        }
        // the plan's flips apply to the targets here, to the pixels on the workers
        const plan = planAugment(
          it.value.count,
          cfg.augment,
          Rng.derive(augSeed, step).nextUint32(),
        );
        const batch = augmentTargets(it.value, plan);
        // the teacher sees the same augmented pixels (inference only), then the student
        const soft = teacher
          ? await teacher.forward(batch.pixels, batch.count, false, plan)
          : undefined;
        const out = await dp.forward(batch.pixels, batch.count, true, plan);
        const r: LossResult = soft
          ? distillLoss(out, batch, soft, cfg.loss, cfg.distill!)
          : computeLoss(out, batch, cfg.loss);
        if (!Number.isFinite(r.total)) {
          throw diverged(cfg, files, state, epoch, step, lr, `the loss is ${r.total}`);
        }
        const grads = await dp.backward(r);
        adam.step(params, grads, lr);
        if (!allFinite(params)) {
          throw diverged(cfg, files, state, epoch, step, lr, "a weight became NaN or infinite");
        }
        dp.setParams(params);
        addStep(state.sums, r, batch.count);
        step++;
        if (opts.onStep) {
          const m = trainMetrics(state.sums);
          opts.onStep({
            epoch,
            epochs: cfg.epochs,
            step,
            steps,
            lr,
            loss: r.total,
            meanLoss: m.loss,
            meanAcc: m.clsAcc,
            samples: batch.count,
          });
        }
        // let signal handlers (Ctrl-C) run: an inline worker never yields otherwise
        if (performance.now() - lastYield > 100) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          lastYield = performance.now();
        }
        if (opts.signal?.aborted) {
          await batches.return(undefined);
          await save(epoch, step);
          return result("interrupted", epoch, step);
        }
      }
      const valMetrics = await evaluate(
        dp,
        read(cfg.valData, { batchSize: cfg.batchSize, seed: 0, shuffle: false }),
        cfg.loss,
        hasLandmarks,
      );
      const record: EpochRecord = {
        epoch: epoch + 1,
        lr,
        train: trainMetrics(state.sums),
        val: valMetrics,
      };
      state.history.push(record);
      state.seconds.push((performance.now() - started) / 1000);
      const isBest = !state.best || valMetrics.loss < state.best.val.loss;
      if (isBest) {
        state.best = { epoch: epoch + 1, val: valMetrics, train: record.train };
        await saveWeights(files.best, cfg, params, state.best, license);
      }
      state.sums = emptyTrainSums();
      await save(epoch + 1, 0);
      await writeRunMetrics(files.metrics, cfg, state, opts);
      if (opts.plot ?? true) await writeCurve(files.curve, cfg.net, state.history);
      opts.onEpoch?.({ ...record, seconds: state.seconds[state.seconds.length - 1], best: isBest });
      if (opts.signal?.aborted && epoch + 1 < cfg.epochs) {
        return result("interrupted", epoch + 1, 0);
      }
    }
    return result("done", cfg.epochs, 0);
  } finally {
    dp.close();
    teacher?.close();
    reader?.close();
  }
}

/** The licence and its note of the weights a run starts from (none when they have none). */
async function inheritedLicense(path: string): Promise<{ license?: string; licenseNote?: string }> {
  const p = (await loadNetData(path)).meta.provenance;
  return {
    ...(p?.license ? { license: p.license } : {}),
    ...(p?.licenseNote ? { licenseNote: p.licenseNote } : {}),
  };
}

/** The teacher of a distillation run, checked against the student (one-line errors). */
async function loadTeacher(cfg: TrainConfig): Promise<NetData> {
  const path = cfg.distill!.teacher;
  if (!(await exists(path))) throw new TypeError(`Cannot read teacher "${path}": no such file`);
  const t = await loadNetData(path);
  if (t.quant) {
    throw new RangeError(`teacher "${path}" is an int8 net: distil from float weights`);
  }
  if (t.arch.name !== cfg.net) {
    throw new RangeError(`teacher "${path}" is a ${t.arch.name}, the student a ${cfg.net}`);
  }
  if (t.arch.input.size !== cfg.arch.input.size) {
    throw new RangeError(
      `teacher "${path}" takes ${t.arch.input.size} px, the student ${cfg.arch.input.size} px`,
    );
  }
  return t;
}

function diverged(
  cfg: TrainConfig,
  files: TrainResult["files"],
  state: RunState,
  epoch: number,
  step: number,
  lr: number,
  what: string,
): TrainingDivergedError {
  const kept = state.history.length
    ? `${files.checkpoint} keeps epoch ${state.history[state.history.length - 1].epoch}`
    : "no checkpoint was written";
  return new TrainingDivergedError(
    `training ${cfg.net} stopped: ${what} at epoch ${epoch + 1} step ${
      step + 1
    } (lr ${lr}); ${kept}`,
  );
}

function allFinite(a: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * 0;
  return s === 0;
}

/** The first field where two configs differ, as `lr 0.001 (run) vs 0.01 (now)`, or undefined. */
export function firstDifference(a: unknown, b: unknown, path = ""): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (typeof a === "object" && a && typeof b === "object" && b && !Array.isArray(a)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      );
      if (d) return d;
    }
  }
  return `${path || "config"} was ${JSON.stringify(a)}, now ${JSON.stringify(b)}`;
}

/**
 * Validation metrics of the current parameters over `batches` (the trainer
 * passes every validation sample once, in file order: no OHEM, no augmentation).
 *
 * @example
 * ```ts
 * const m = await evaluate(dp, readBatches(["data/pnet/val"], { batchSize: 256, seed: 0, shuffle: false }), lossCfg, false);
 * ```
 */
export async function evaluate(
  dp: DataParallel,
  batches: AsyncIterable<Batch>,
  loss: LossConfig,
  hasLandmarks: boolean,
): Promise<EvalMetrics> {
  const acc = new MetricsAccumulator(loss, hasLandmarks);
  for await (const b of batches) {
    acc.add(await dp.forward(b.pixels, b.count, false), b);
  }
  return acc.result();
}

async function saveWeights(
  path: string,
  cfg: TrainConfig,
  params: Float32Array,
  best: TrainResult["best"] | undefined,
  license: { license?: string; licenseNote?: string } = {},
): Promise<void> {
  const metrics = best ? { epoch: best.epoch, val: best.val, train: best.train } : undefined;
  const bytes = encodeWeights({
    arch: cfg.arch,
    params: unpackParams(cfg.arch, params),
    meta: {
      provenance: {
        source: `trained by the MTCNN toolkit (deno task train --net ${cfg.net}), seed ${cfg.seed}`,
        // weights fine-tuned from licensed ones (e.g. the original MTCNN) keep that licence
        ...license,
        notes: [
          ...(cfg.init ? [`fine-tuned from "${cfg.init}"`] : []),
          ...(best ? [`epoch ${best.epoch} of ${cfg.epochs}: the lowest validation loss`] : []),
          ...(cfg.distill
            ? [
              `distilled from "${cfg.distill.teacher}" (temperature ${cfg.distill.temperature}, alpha ${cfg.distill.alpha})`,
            ]
            : []),
        ],
      },
      training: cfg as unknown as Record<string, unknown>,
      metrics,
    },
  });
  await writeFileAtomic(path, bytes);
}

async function writeRunMetrics(
  path: string,
  cfg: TrainConfig,
  state: RunState,
  opts: TrainOptions,
): Promise<void> {
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(await Deno.readTextFile(path));
  } catch {
    all = {};
  }
  all[cfg.net] = {
    bestEpoch: state.best?.epoch ?? null,
    best: state.best,
    epochs: cfg.epochs,
    workers: opts.workers ?? 1,
    history: state.history.map((h, i) => ({ ...h, seconds: state.seconds[i] })),
    config: { ...cfg, arch: undefined },
  };
  const rows: Partial<Record<NetName, EvalMetrics>> = {};
  for (const n of ["pnet", "rnet", "onet"] as const) {
    const b = (all[n] as { best?: { val: EvalMetrics } } | undefined)?.best;
    if (b) rows[n] = b.val;
  }
  all.seedTable = seedTable(rows);
  await writeJsonAtomic(path, all);
}

async function writeCurve(path: string, net: string, history: EpochRecord[]): Promise<void> {
  const { lineChart } = await import("../plot/mod.ts");
  const { writeImage } = await import("../image/encode.ts");
  const xs = history.map((h) => h.epoch);
  const name = net[0].toUpperCase() + net.slice(1);
  const loss = lineChart({
    title: `${name} loss`,
    xLabel: "epoch",
    yLabel: "loss",
    width: 640,
    height: 480,
    series: [
      { name: "train", xs, ys: history.map((h) => h.train.loss) },
      { name: "validation", xs, ys: history.map((h) => h.val.loss), dashed: true },
    ],
  });
  const acc = lineChart({
    title: `${name} accuracy (face / non-face)`,
    xLabel: "epoch",
    yLabel: "accuracy",
    width: 640,
    height: 480,
    series: [
      { name: "train", xs, ys: history.map((h) => h.train.clsAcc) },
      { name: "validation", xs, ys: history.map((h) => h.val.clsAcc), dashed: true },
    ],
  });
  const w = loss.width + acc.width;
  const h = Math.max(loss.height, acc.height);
  const data = new Uint8Array(w * h * 3).fill(255);
  for (let y = 0; y < h; y++) {
    if (y < loss.height) {
      data.set(loss.data.subarray(y * loss.width * 3, (y + 1) * loss.width * 3), y * w * 3);
    }
    if (y < acc.height) {
      data.set(
        acc.data.subarray(y * acc.width * 3, (y + 1) * acc.width * 3),
        (y * w + loss.width) * 3,
      );
    }
  }
  await writeImage(path, { width: w, height: h, data });
}
