/**
 * Quantisation-aware training (QAT): fine-tuning a float net through the
 * int8 quantisation it will be deployed with, so that the weights learn to
 * live with it.
 *
 * - Weights: int8, symmetric, per output channel, exactly as post-training
 *   quantisation does them ({@linkcode quantizeWeight}); fake-quantised on the
 *   host before each upload. The float weights stay the optimiser's master
 *   copy and receive the gradient of the fake-quantised ones (straight-through
 *   estimator: the max-|w| scale never clips a weight).
 * - Activations: uint8, asymmetric, per tensor, at the points PTQ quantises
 *   ({@linkcode quantBlocks}: the normalised input and each compute layer's
 *   output after its activation and pooling), fake-quantised inside the
 *   training graph (`TrainGraph.setFakeQuant`) with the int8 kernels' rounding
 *   ({@linkcode quantizeValue}); the gradient passes where the code did not
 *   saturate. Ranges start at the PTQ min/max calibration and follow an
 *   exponential moving average of each batch's min and max; they are frozen
 *   for the last epoch(s), so that the weights settle on the ranges that ship.
 * - PReLU is kept, or replaced by ReLU (`act: "relu"`) and fine-tuned: ReLU
 *   outputs are never negative, so their ranges start at 0 and all 256 codes
 *   cover the positive side.
 * - Every epoch is validated with the fake-quantised graph; the epoch with the
 *   lowest validation loss wins, epoch 0 (the PTQ start) included, so QAT
 *   never returns a net worse on validation than the one it started from.
 *
 * The result is an int8 NetData like {@linkcode quantizeNet}'s (`quant`: int8
 * weights, activation scales and zero points; `params`: the dequantised
 * weights), which the int8 engine (src/deploy/engine_int8.ts) and the
 * exporters run, and {@linkcode forwardSim} simulates.
 *
 * @example
 * ```ts
 * await initTrainingBackend("wasm");
 * const cfg = resolveQatConfig({ net: "pnet", trainData: ["d/train"], valData: ["d/val"] });
 * const r = await qat(await loadNetData("w/best_pnet.mtcnn"), cfg);
 * await saveNet("weights/qat/qat_pnet.mtcnn", r.net);
 * ```
 */
import type { Layer, NetArch } from "../nets/arch.ts";
import { planArch } from "../nets/arch.ts";
import type { ActQuant, NetData, NetQuant } from "../nets/net.ts";
import { readBatches } from "../data/shards.ts";
import { evaluateStage, type StageMetrics } from "../eval/stage.ts";
import { writeFileAtomic, writeJsonAtomic, writeTextFileAtomic } from "../io/mod.ts";
import { encodeWeights } from "../nets/weights_io.ts";
import { Rng } from "../util/random.ts";
import { type ActFakeQuant, packParams, paramLayout, TrainGraph } from "../train/backprop.ts";
import { augmentBatch, type AugmentConfig, resolveAugment } from "../train/augment.ts";
import { computeLoss, type LossConfig, resolveLossConfig } from "../train/losses.ts";
import {
  addStep,
  emptyTrainSums,
  type EvalMetrics,
  MetricsAccumulator,
  type TrainMetrics,
  trainMetrics,
} from "../train/metrics.ts";
import { Adam } from "../train/optimizer.ts";
import {
  actQuant,
  dequantizeWeight,
  quantBlocks,
  quantizeNet,
  quantizeWeight,
  readSamples,
  weightBytes,
} from "./quantize.ts";

/** The three MTCNN nets. */
export type QatNet = "pnet" | "rnet" | "onet";

/** Everything that defines a QAT run's result (saved in the output's header). */
export interface QatConfig {
  net: QatNet;
  trainData: string[];
  valData: string[];
  /** Fine-tuning epochs; the last `freezeEpochs` of them keep the activation ranges fixed. */
  epochs: number;
  freezeEpochs: number;
  lr: number;
  batchSize: number;
  /** Samples per epoch (null: as many as the scarcest ratio label allows). */
  epochSize: number | null;
  /** Label ratio pos : neg : part : landmark of the training batches. */
  ratio: [number, number, number, number];
  /** Weight of the old range in the moving average of batch min/max (0: last batch only). */
  ema: number;
  /** Keep PReLU, or replace it by ReLU and fine-tune. */
  act: "prelu" | "relu";
  /** Activation code width: 8 (default) or 7 (the int8 engine's i8 dot kernels). */
  bits: 7 | 8;
  /** Training samples the starting ranges (PTQ min/max) are calibrated on. */
  calibSamples: number;
  loss: LossConfig;
  augment: AugmentConfig;
  seed: number;
}

/** What {@linkcode resolveQatConfig} accepts. */
export interface QatConfigInput {
  net: QatNet;
  trainData: string[];
  valData: string[];
  epochs?: number;
  freezeEpochs?: number;
  lr?: number;
  batchSize?: number;
  epochSize?: number | null;
  ratio?: [number, number, number, number];
  ema?: number;
  act?: "prelu" | "relu";
  bits?: 7 | 8;
  calibSamples?: number;
  augment?: Partial<AugmentConfig>;
  seed?: number;
}

/** Defaults: a short fine-tune at a low learning rate. */
export const DEFAULT_QAT = {
  epochs: 3,
  freezeEpochs: 1,
  lr: 1e-4,
  batchSize: 256,
  ratio: [1, 3, 1, 2] as [number, number, number, number],
  ema: 0.9,
  calibSamples: 1024,
  seed: 1,
};

/**
 * Fills the defaults and checks every field (one-line RangeError naming it).
 *
 * @example
 * ```ts
 * resolveQatConfig({ net: "rnet", trainData: ["d/train"], valData: ["d/val"], epochs: 4 });
 * ```
 */
export function resolveQatConfig(input: QatConfigInput): QatConfig {
  const net = input.net;
  if (net !== "pnet" && net !== "rnet" && net !== "onet") {
    throw new RangeError(`qat: net must be pnet, rnet or onet, got "${net}"`);
  }
  const dirs = (v: string[] | undefined, what: string) => {
    if (!Array.isArray(v) || v.length === 0) throw new RangeError(`qat: no ${what} folder given`);
    return v.slice();
  };
  const int = (v: number, what: string, min: number) => {
    if (!Number.isInteger(v) || v < min) {
      throw new RangeError(`qat: ${what} must be an integer >= ${min}, got ${v}`);
    }
    return v;
  };
  const epochs = int(input.epochs ?? DEFAULT_QAT.epochs, "epochs", 1);
  const freezeEpochs = int(input.freezeEpochs ?? DEFAULT_QAT.freezeEpochs, "freeze epochs", 0);
  if (freezeEpochs > epochs) {
    throw new RangeError(`qat: freeze epochs (${freezeEpochs}) exceed epochs (${epochs})`);
  }
  const lr = input.lr ?? DEFAULT_QAT.lr;
  if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`qat: lr must be > 0, got ${lr}`);
  const ema = input.ema ?? DEFAULT_QAT.ema;
  if (!(ema >= 0 && ema < 1)) throw new RangeError(`qat: ema must be in [0, 1), got ${ema}`);
  const act = input.act ?? "prelu";
  if (act !== "prelu" && act !== "relu") {
    throw new RangeError(`qat: act must be prelu or relu, got "${act}"`);
  }
  const bits = input.bits ?? 8;
  if (bits !== 7 && bits !== 8) throw new RangeError(`qat: bits must be 7 or 8, got ${bits}`);
  const ratio = input.ratio ?? DEFAULT_QAT.ratio;
  if (
    ratio.length !== 4 || ratio.some((r) => !(r >= 0 && Number.isFinite(r))) ||
    ratio.every((r) => r === 0)
  ) {
    throw new RangeError(`qat: ratio must be 4 numbers >= 0, got ${ratio.join(",")}`);
  }
  const epochSize = input.epochSize ?? null;
  if (epochSize !== null) int(epochSize, "epoch size", 1);
  const seed = input.seed ?? DEFAULT_QAT.seed;
  if (!Number.isInteger(seed)) throw new RangeError(`qat: seed must be an integer, got ${seed}`);
  return {
    net,
    trainData: dirs(input.trainData, "training data"),
    valData: dirs(input.valData, "validation data"),
    epochs,
    freezeEpochs,
    lr,
    batchSize: int(input.batchSize ?? DEFAULT_QAT.batchSize, "batch size", 1),
    epochSize,
    ratio: [...ratio] as [number, number, number, number],
    ema,
    act,
    bits,
    calibSamples: int(input.calibSamples ?? DEFAULT_QAT.calibSamples, "calibration samples", 1),
    loss: resolveLossConfig(net, {}),
    augment: resolveAugment(input.augment ?? {}),
    seed,
  };
}

/**
 * The net with every PReLU replaced by ReLU (the slopes dropped): the start
 * of `act: "relu"` fine-tuning.
 *
 * @example
 * ```ts
 * const r = toRelu(await loadNetData("w/best_pnet.mtcnn"));
 * ```
 */
export function toRelu(data: NetData): NetData {
  if (data.quant) throw new RangeError(`toRelu(${data.arch.name}): the net is already int8`);
  const arch: NetArch = {
    ...data.arch,
    layers: data.arch.layers.map((l): Layer => (l.kind === "prelu" ? { kind: "relu" } : l)),
  };
  const names = new Set(planArch(arch).params.map((p) => p.name));
  const params = Object.fromEntries(Object.entries(data.params).filter(([k]) => names.has(k)));
  return { arch, params, meta: data.meta };
}

/** Names and quantisation axes of the weights that go int8 (compute layers and heads). */
function int8Weights(arch: NetArch): { name: string; shape: number[]; axis: number }[] {
  const shapes = Object.fromEntries(planArch(arch).params.map((p) => [p.name, p.shape]));
  const { blocks, heads } = quantBlocks(arch);
  return [...blocks.map((b) => b.layer), ...heads].map((l) => {
    const name = `${l.name}.weight`;
    const shape = shapes[name];
    return { name, shape, axis: l.kind === "depthwise" ? 2 : shape.length - 1 };
  });
}

/**
 * The flat parameters (`paramLayout` order) with every int8 weight replaced
 * by its quantised-then-dequantised value, as {@linkcode quantizeNet} stores
 * them; biases and PReLU slopes unchanged.
 *
 * @example
 * ```ts
 * graph.setParams(fakeQuantWeights(arch, params));
 * ```
 */
export function fakeQuantWeights(arch: NetArch, flat: Float32Array): Float32Array {
  const layout = paramLayout(arch);
  const out = flat.slice();
  for (const w of int8Weights(arch)) {
    const s = layout.slots.find((x) => x.name === w.name)!;
    const q = quantizeWeight(flat.subarray(s.offset, s.offset + s.size), w.shape, w.axis);
    out.set(dequantizeWeight(q, w.shape), s.offset);
  }
  return out;
}

/** Activation ranges by quantisation point ("input" and each compute layer's name). */
export type PointRanges = Record<string, ActQuant>;

/** The quantisation points of {@linkcode NetQuant.activations}, by point. */
export function pointRanges(arch: NetArch, acts: NetQuant["activations"]): PointRanges {
  const { blocks } = quantBlocks(arch);
  const out: PointRanges = { input: acts[blocks[0].layer.name].input };
  for (const b of blocks) {
    const o = acts[b.layer.name]?.output;
    if (!o) throw new RangeError(`${arch.name}: no activation range for ${b.layer.name}`);
    out[b.layer.name] = o;
  }
  return out;
}

/**
 * The int8 net of float weights `data` at activation ranges `ranges`: int8
 * weights per output channel, `NetQuant.activations` (each layer's input is
 * the previous point's range, the heads' the last one's), dequantised params.
 *
 * @example
 * ```ts
 * const q = int8Net(data, pointRanges(data.arch, ptqNet.quant!.activations), { method: "qat" });
 * ```
 */
export function int8Net(
  data: NetData,
  ranges: PointRanges,
  opts: { bits?: 7 | 8; method?: string; meta?: NetData["meta"] } = {},
): NetData {
  const { blocks, heads } = quantBlocks(data.arch);
  const activations: NetQuant["activations"] = {};
  let prev = "input";
  for (const b of blocks) {
    activations[b.layer.name] = { input: ranges[prev], output: ranges[b.layer.name] };
    prev = b.layer.name;
  }
  for (const h of heads) activations[h.name] = { input: ranges[prev] };
  for (const [k, v] of Object.entries(activations)) {
    if (!v.input || (v.output === undefined && blocks.some((b) => b.layer.name === k))) {
      throw new RangeError(`int8Net(${data.arch.name}): no activation range at ${k}`);
    }
  }
  const weights: NetQuant["weights"] = {};
  const params = { ...data.params };
  for (const w of int8Weights(data.arch)) {
    weights[w.name] = quantizeWeight(data.params[w.name], w.shape, w.axis);
    params[w.name] = dequantizeWeight(weights[w.name], w.shape);
  }
  return {
    arch: data.arch,
    params,
    meta: opts.meta ?? data.meta,
    quant: {
      weights,
      activations,
      method: opts.method ?? "qat",
      ...(opts.bits === 7 ? { bits: 7 as const } : {}),
    },
  };
}

/**
 * Activation ranges that follow a moving average of each batch's min and max
 * (while `observe` is on), as the training graph's fake-quant hook.
 */
export class EmaRanges implements ActFakeQuant {
  readonly maxCode: number;
  observe = true;
  #lo = new Map<string, number>();
  #hi = new Map<string, number>();
  #cur = new Map<string, ActQuant>();

  /** Starts at `start` (e.g. the PTQ calibration); `ema` weighs the old range. */
  constructor(start: PointRanges, readonly ema: number, bits: 7 | 8 = 8) {
    this.maxCode = bits === 7 ? 127 : 255;
    for (const [name, q] of Object.entries(start)) {
      this.#lo.set(name, -q.zeroPoint * q.scale);
      this.#hi.set(name, (this.maxCode - q.zeroPoint) * q.scale);
      this.#cur.set(name, { ...q });
    }
  }

  range(name: string, batch?: { lo: number; hi: number }): ActQuant | undefined {
    if (batch && this.observe) {
      const m = this.ema;
      const lo = this.#lo.has(name) ? m * this.#lo.get(name)! + (1 - m) * batch.lo : batch.lo;
      const hi = this.#hi.has(name) ? m * this.#hi.get(name)! + (1 - m) * batch.hi : batch.hi;
      this.#lo.set(name, lo);
      this.#hi.set(name, hi);
      this.#cur.set(name, actQuant(lo, hi, this.maxCode));
    }
    return this.#cur.get(name);
  }

  /** A copy of the current ranges. */
  snapshot(): PointRanges {
    return Object.fromEntries([...this.#cur].map(([k, v]) => [k, { ...v }]));
  }
}

/** One QAT epoch (epoch 0: the PTQ start, no training). */
export interface QatEpoch {
  epoch: number;
  /** Ranges held fixed during this epoch. */
  frozen: boolean;
  train: TrainMetrics | null;
  /** Validation metrics of the fake-quantised graph. */
  val: EvalMetrics;
  seconds: number;
}

/** What {@linkcode qat} returns. */
export interface QatResult {
  /** The int8 net of the best epoch. */
  net: NetData;
  /** The int8 net QAT started from (PTQ, min/max ranges on `calibSamples` training samples). */
  start: NetData;
  /** The float master weights of the best epoch (with `fakeQuant: false`: the float fine-tune). */
  float: NetData;
  bestEpoch: number;
  history: QatEpoch[];
}

/** Live progress of {@linkcode qat}. */
export interface QatProgress {
  epoch: number;
  epochs: number;
  step: number;
  loss: number;
  samples: number;
}

/** Options of {@linkcode qat} that do not change the result. */
export interface QatOptions {
  onStep?: (p: QatProgress) => void;
  onEpoch?: (e: QatEpoch & { best: boolean }) => void;
  /** The PTQ start when the caller already has it (must match `act` and `bits`). */
  start?: NetData;
  /**
   * False: the same fine-tuning without any fake quantisation (float graph,
   * float weights, float validation), the control QAT is compared with
   * (`float` of the result; `net` is then its int8 net at the start's ranges).
   */
  fakeQuant?: boolean;
}

const AUGMENT_KEY = 0x51415421;

/**
 * Quantisation-aware fine-tuning of float net `data` (see the module
 * comment) on the current tfjs backend (`initTrainingBackend`), on one
 * thread. Deterministic: the same config gives the same bytes.
 */
export async function qat(
  data: NetData,
  cfg: QatConfig,
  opts: QatOptions = {},
): Promise<QatResult> {
  if (data.quant) throw new RangeError(`qat(${data.arch.name}): the net is already int8`);
  if (data.arch.name !== cfg.net) {
    throw new RangeError(`qat: the weights hold ${data.arch.name}, the config says ${cfg.net}`);
  }
  const float = cfg.act === "relu" ? toRelu(data) : data;
  const arch = float.arch;
  const size = arch.input.size;
  let start = opts.start;
  if (!start) {
    const calib = await readSamples(cfg.trainData, cfg.calibSamples, cfg.seed);
    if (calib.size !== size) {
      throw new RangeError(
        `qat(${cfg.net}): "${
          cfg.trainData[0]
        }" has ${calib.size} px samples, the net takes ${size} px`,
      );
    }
    start = quantizeNet(float, calib, { method: "minmax", bits: cfg.bits });
  }
  if (JSON.stringify(start.arch) !== JSON.stringify(arch) || !start.quant) {
    throw new RangeError(`qat(${cfg.net}): the start net does not match the arch being trained`);
  }
  const ranges = new EmaRanges(pointRanges(arch, start.quant.activations), cfg.ema, cfg.bits);
  const params = packParams(arch, float.params);
  const adam = new Adam(params.length);
  const graph = new TrainGraph(arch);
  const fake = opts.fakeQuant ?? true;
  if (fake) graph.setFakeQuant(ranges);
  const upload = () => graph.setParams(fake ? fakeQuantWeights(arch, params) : params);
  const hasLandmarks = graph.hasLandmarks;
  const validate = async (): Promise<EvalMetrics> => {
    ranges.observe = false;
    upload();
    const acc = new MetricsAccumulator(cfg.loss, hasLandmarks);
    for await (
      const b of readBatches(cfg.valData, { batchSize: cfg.batchSize, seed: 0, shuffle: false })
    ) {
      if (b.size !== size) {
        throw new RangeError(
          `qat(${cfg.net}): "${cfg.valData[0]}" has ${b.size} px samples, the net takes ${size} px`,
        );
      }
      acc.add(graph.forward(b.pixels, b.count, false), b);
    }
    return acc.result();
  };
  const history: QatEpoch[] = [];
  let best = { epoch: 0, loss: Infinity, params: params.slice(), ranges: ranges.snapshot() };
  const record = (e: QatEpoch) => {
    history.push(e);
    const isBest = e.val.loss < best.loss;
    if (isBest) {
      best = {
        epoch: e.epoch,
        loss: e.val.loss,
        params: params.slice(),
        ranges: ranges.snapshot(),
      };
    }
    opts.onEpoch?.({ ...e, best: isBest });
  };
  try {
    let t0 = performance.now();
    record({
      epoch: 0,
      frozen: true,
      train: null,
      val: await validate(),
      seconds: (performance.now() - t0) / 1000,
    });
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      t0 = performance.now();
      const frozen = epoch >= cfg.epochs - cfg.freezeEpochs;
      const augSeed = Rng.derive((cfg.seed ^ AUGMENT_KEY) >>> 0, epoch).nextUint32();
      const sums = emptyTrainSums();
      let step = 0;
      for await (
        const b of readBatches(cfg.trainData, {
          batchSize: cfg.batchSize,
          seed: cfg.seed,
          epoch,
          ratio: cfg.ratio,
          epochSize: cfg.epochSize ?? undefined,
        })
      ) {
        if (b.size !== size) {
          throw new RangeError(
            `qat(${cfg.net}): "${
              cfg.trainData[0]
            }" has ${b.size} px samples, the net takes ${size} px`,
          );
        }
        const batch = augmentBatch(b, cfg.augment, Rng.derive(augSeed, step).nextUint32());
        ranges.observe = !frozen;
        upload();
        const out = graph.forward(batch.pixels, batch.count, true);
        const r = computeLoss(out, batch, cfg.loss);
        if (!Number.isFinite(r.total)) {
          throw new RangeError(
            `qat(${cfg.net}) stopped: the loss is ${r.total} at epoch ${epoch + 1} step ${
              step + 1
            } (lr ${cfg.lr})`,
          );
        }
        // straight-through for the weights: the gradient of the fake-quantised
        // weights updates the float ones
        adam.step(params, graph.backward(r), cfg.lr);
        addStep(sums, r, batch.count);
        step++;
        opts.onStep?.({
          epoch: epoch + 1,
          epochs: cfg.epochs,
          step,
          loss: r.total,
          samples: batch.count,
        });
      }
      const val = await validate();
      record({
        epoch: epoch + 1,
        frozen,
        train: trainMetrics(sums),
        val,
        seconds: (performance.now() - t0) / 1000,
      });
    }
  } finally {
    graph.dispose();
  }
  const trained: NetData = {
    arch,
    params: Object.fromEntries(
      paramLayout(arch).slots.map((s) => [s.name, best.params.slice(s.offset, s.offset + s.size)]),
    ),
    meta: data.meta,
  };
  const source = data.meta.provenance?.source ?? "unknown";
  const net = int8Net(trained, best.ranges, {
    bits: cfg.bits,
    method: cfg.act === "relu" ? "qat-relu" : "qat",
    meta: {
      provenance: {
        source: `quantisation-aware training (deno task qat --net ${cfg.net}), seed ${cfg.seed}`,
        notes: [
          `from ${source}`,
          `epoch ${best.epoch} of ${cfg.epochs}: the lowest fake-quantised validation loss` +
          (best.epoch === 0 ? " (the PTQ start)" : ""),
          ...(cfg.act === "relu" ? ["PReLU replaced by ReLU and fine-tuned"] : []),
        ],
      },
      training: { ...cfg, qat: true } as unknown as Record<string, unknown>,
      metrics: {
        epoch: best.epoch,
        val: history[best.epoch].val,
        // no timings: the same config gives the same bytes
        history: history.map(({ seconds: _, ...h }) => h),
      } as unknown as Record<string, unknown>,
    },
  });
  const floatMeta = {
    ...net.meta,
    training: { ...cfg, qat: fake } as unknown as Record<string, unknown>,
  };
  return { net, start, float: { ...trained, meta: floatMeta }, bestEpoch: best.epoch, history };
}

/** One column of the QAT table. */
export interface QatRow {
  /** e.g. `float`, `PTQ int8`, `QAT int8`, `QAT int8 (ReLU)`. */
  name: string;
  /** The file written for it (float: the input). */
  file: string | null;
  metrics: StageMetrics;
  /** Bytes of the encoded weights file, and of its parameter tensors alone. */
  fileBytes: number;
  weightBytes: number;
}

/** Options of {@linkcode qatReport}. */
export interface QatReportOptions extends Omit<QatOptions, "start"> {
  /** Output folder: `qat_<net>.mtcnn`, `qat_relu_<net>.mtcnn`, `qat_<net>.json`, `qat_<net>.md`. */
  out: string;
  /** The float weights' path (for the table and the provenance). */
  weights: string;
  /** QAT variants to run (default ["prelu"]). */
  acts?: ("prelu" | "relu")[];
  /** The stage threshold recall is reported at (default PNet 0.6, RNet / ONet 0.7). */
  threshold?: number;
  /** A line about the data, written into the Markdown (e.g. "synthetic sample"). */
  note?: string;
  /** The command that reproduces the run, for the Markdown. */
  command?: string;
  /**
   * Also run the control of each variant: the same fine-tuning without fake
   * quantisation, then PTQ of its result (columns "float fine-tuned" and
   * "fine-tuned + PTQ int8"), which tells what QAT adds beyond more training.
   */
  control?: boolean;
}

/** What {@linkcode qatReport} returns. */
export interface QatReport {
  rows: QatRow[];
  runs: { act: "prelu" | "relu"; control?: boolean; bestEpoch: number; history: QatEpoch[] }[];
  markdown: string;
  files: { json: string; markdown: string; models: string[] };
}

/** Stage thresholds of the published cascade. */
const THRESHOLDS: Record<QatNet, number> = { pnet: 0.6, rnet: 0.7, onet: 0.7 };

/**
 * The whole comparison for one net: float, post-training quantisation
 * (min/max on `calibSamples` training samples) and QAT (with PReLU and/or
 * ReLU), each measured on the AssemblyScript engine that deploys it (fp32 or
 * int8) over every validation sample: the seed's cls loss / offset loss /
 * cls acc, recall at the stage threshold, file size. Writes the QAT nets, a
 * JSON and a Markdown table to `opts.out`.
 *
 * @example
 * ```ts
 * const r = await qatReport(data, cfg, { out: "weights/qat", weights: "w/best_pnet.mtcnn", acts: ["prelu", "relu"] });
 * console.log(r.markdown);
 * ```
 */
export async function qatReport(
  data: NetData,
  cfg: QatConfig,
  opts: QatReportOptions,
): Promise<QatReport> {
  const net = cfg.net;
  const acts = opts.acts ?? ["prelu"];
  const threshold = opts.threshold ?? THRESHOLDS[net];
  const size = data.arch.input.size;
  const calib = await readSamples(cfg.trainData, cfg.calibSamples, cfg.seed);
  if (calib.size !== size) {
    throw new RangeError(
      `qat(${net}): "${cfg.trainData[0]}" has ${calib.size} px samples, the net takes ${size} px`,
    );
  }
  const measure = (d: NetData) => evaluateStage(d, cfg.valData, { threshold, net });
  const rows: QatRow[] = [];
  const row = async (name: string, d: NetData, file: string | null) => {
    rows.push({
      name,
      file,
      metrics: await measure(d),
      fileBytes: encodeWeights(d).length,
      weightBytes: weightBytes(d),
    });
  };
  await row("float", data, opts.weights);
  const runs: QatReport["runs"] = [];
  const models: string[] = [];
  await Deno.mkdir(opts.out, { recursive: true });
  for (const act of acts) {
    const c = { ...cfg, act };
    const float = act === "relu" ? toRelu(data) : data;
    const start = quantizeNet(float, calib, { method: "minmax", bits: cfg.bits });
    const suffix = act === "relu" ? " (ReLU)" : "";
    await row(`PTQ int8${suffix}`, start, null);
    const r = await qat(data, c, { ...opts, start });
    const file = `${opts.out}/qat_${act === "relu" ? "relu_" : ""}${net}.mtcnn`;
    await writeFileAtomic(file, encodeWeights(r.net));
    models.push(file);
    await row(`QAT int8${suffix}`, r.net, file);
    runs.push({ act, bestEpoch: r.bestEpoch, history: r.history });
    if (opts.control) {
      const rc = await qat(data, c, { ...opts, start, fakeQuant: false });
      await row(`float fine-tuned${suffix}`, rc.float, null);
      await row(
        `fine-tuned + PTQ int8${suffix}`,
        quantizeNet(rc.float, calib, { method: "minmax", bits: cfg.bits }),
        null,
      );
      runs.push({ act, control: true, bestEpoch: rc.bestEpoch, history: rc.history });
    }
  }
  const markdown = qatMarkdown(net, rows, runs, cfg, threshold, opts);
  const files = {
    json: `${opts.out}/qat_${net}.json`,
    markdown: `${opts.out}/qat_${net}.md`,
    models,
  };
  await writeJsonAtomic(files.json, {
    net,
    weights: opts.weights,
    threshold,
    config: cfg,
    rows,
    runs: runs.map((r) => ({ ...r, history: r.history.map(({ seconds: _, ...h }) => h) })),
  });
  await writeTextFileAtomic(files.markdown, markdown);
  return { rows, runs, markdown, files };
}

/** The seed-style table (variants as columns) of {@linkcode qatReport}'s rows. */
export function qatTable(net: string, rows: QatRow[], threshold: number): string {
  const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  const lines = [
    `| ${net} | ${rows.map((r) => r.name).join(" | ")} |`,
    `| :--- | ${rows.map(() => "---:").join(" | ")} |`,
    `| cls loss | ${rows.map((r) => f(r.metrics.clsLoss)).join(" | ")} |`,
    `| offset loss | ${rows.map((r) => f(r.metrics.offsetLoss)).join(" | ")} |`,
    `| cls acc | ${rows.map((r) => f(r.metrics.clsAcc)).join(" | ")} |`,
  ];
  if (rows.some((r) => Number.isFinite(r.metrics.landmarkLoss))) {
    lines.push(`| landmark loss | ${rows.map((r) => f(r.metrics.landmarkLoss)).join(" | ")} |`);
  }
  lines.push(
    `| recall at ${threshold} | ${rows.map((r) => f(r.metrics.recallAtThreshold)).join(" | ")} |`,
    `| file bytes | ${rows.map((r) => r.fileBytes).join(" | ")} |`,
    `| weight bytes | ${rows.map((r) => r.weightBytes).join(" | ")} |`,
  );
  return lines.join("\n");
}

function qatMarkdown(
  net: string,
  rows: QatRow[],
  runs: QatReport["runs"],
  cfg: QatConfig,
  threshold: number,
  opts: QatReportOptions,
): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "-");
  const out = [
    `# QAT: ${net}`,
    "",
    ...(opts.note ? [opts.note, ""] : []),
    `Float weights: \`${opts.weights}\`. Validation: \`${cfg.valData.join(",")}\` (${
      rows[0].metrics.samples
    } samples), every column measured on the AssemblyScript engine that runs it ` +
    `(fp32, or int8 with ${cfg.bits}-bit activations). PTQ: min/max ranges on ${cfg.calibSamples} ` +
    `training samples, no training. QAT: ${cfg.epochs} epoch(s) from the PTQ net at lr ${cfg.lr}, ` +
    `ranges by moving average (${cfg.ema}) frozen for the last ${cfg.freezeEpochs}; the epoch ` +
    `with the lowest fake-quantised validation loss is kept (epoch 0 = the PTQ start).`,
    "",
    qatTable(net, rows, threshold),
    "",
  ];
  for (const r of runs) {
    out.push(
      r.control
        ? `Control${
          r.act === "relu" ? " with ReLU" : ""
        }, the same fine-tuning without fake quantisation: per epoch (float graph, validation), kept: epoch ${r.bestEpoch}`
        : `QAT ${
          r.act === "relu" ? "with ReLU" : "with PReLU"
        }: per epoch (fake-quantised graph, validation), kept: epoch ${r.bestEpoch}`,
      "",
      "| epoch | ranges | train loss | val loss | val cls loss | val offset loss | val cls acc |",
      "| ---: | :--- | ---: | ---: | ---: | ---: | ---: |",
      ...r.history.map((h) =>
        `| ${h.epoch} | ${
          r.control ? "float" : h.epoch === 0 ? "PTQ" : h.frozen ? "frozen" : "moving"
        } | ${f(h.train?.loss ?? NaN)} | ${f(h.val.loss)} | ${f(h.val.clsLoss)} | ${
          f(h.val.offsetLoss)
        } | ${f(h.val.clsAcc)} |`
      ),
      "",
    );
  }
  if (opts.command) out.push("Reproduce:", "", "```", opts.command, "```", "");
  return out.join("\n");
}
