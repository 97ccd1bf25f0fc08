/**
 * deno task train --net pnet|rnet|onet: trains a net on shard datasets and
 * keeps the best weights by validation loss in weights/<run>/best_<net>.mtcnn.
 *
 * ```
 * deno task train --net pnet --train-data data/pnet/train --val-data data/pnet/val --epochs 10
 * deno task train --net pnet --resume          # after Ctrl-C: continues from the checkpoint
 * deno task train --net pnet --arch slim --teacher original --temperature 2 --alpha 0.5
 * ```
 *
 * `--teacher` distils from another net of the same stage (`original`: the
 * imported original MTCNN net); see src/train/losses.ts `distillLoss`.
 */
import { fail, formatDuration, isInteractive, type Task } from "../src/cli/mod.ts";
import { loadNetData } from "../src/nets/weights_io.ts";
import { ARCH_VARIANTS, archFor, type ArchVariant } from "../src/nets/arch.ts";
import { BOX_LOSS_KINDS, type BoxLossKind } from "../src/train/losses.ts";
import { seedTable } from "../src/train/metrics.ts";
import { ensureOriginalWeights } from "../src/nets/original.ts";
import {
  DEFAULT_DISTILL,
  DEFAULT_TRAIN,
  type NetName,
  resolveTrainConfig,
  type StepProgress,
  train,
} from "../src/train/trainer.ts";
import { DEFAULT_AUGMENT } from "../src/train/augment.ts";

const numbers = (flag: string, v: string[] | undefined): number[] | undefined =>
  v?.map((s) => {
    const n = Number(s);
    if (s.trim() === "" || !Number.isFinite(n)) {
      throw new RangeError(`--${flag} expects numbers, got "${v.join(",")}"`);
    }
    return n;
  });

const task: Task = {
  name: "train",
  description: "Train PNet, RNet or ONet on shard datasets (Adam, OHEM, workers, resumable)",
  flags: {
    net: { type: "string", choices: ["pnet", "rnet", "onet"], required: true, help: "which net" },
    "train-data": {
      type: "list",
      meta: "DIR[,DIR..]",
      help: "training dataset folders [default: data/<net>/train]",
    },
    "val-data": {
      type: "list",
      meta: "DIR[,DIR..]",
      help: "validation dataset folders [default: data/<net>/val]",
    },
    run: {
      type: "string",
      default: "trained",
      meta: "NAME",
      help: "run name: output in weights/<run>/",
    },
    out: { type: "string", meta: "DIR", help: "output folder [default: weights/<run>]" },
    epochs: { type: "integer", default: DEFAULT_TRAIN.epochs, help: "epochs" },
    "batch-size": { type: "integer", default: DEFAULT_TRAIN.batchSize, help: "samples per step" },
    lr: { type: "number", default: DEFAULT_TRAIN.lr, help: "Adam learning rate" },
    "lr-steps": {
      type: "list",
      meta: "E,E..",
      help: "epochs (0-based) where the learning rate drops [default: 60% and 85% of --epochs]",
    },
    "lr-gamma": {
      type: "number",
      default: DEFAULT_TRAIN.lrGamma,
      help: "learning-rate factor at each step",
    },
    "weight-decay": { type: "number", default: 0, help: "L2 weight decay (Adam)" },
    ratio: {
      type: "list",
      default: DEFAULT_TRAIN.ratio.map(String),
      meta: "P,N,PT,L",
      help: "label ratio pos,neg,part,landmark of training batches",
    },
    "epoch-size": {
      type: "integer",
      meta: "N",
      help: "samples per epoch [default: as many as the scarcest label of --ratio allows]",
    },
    "box-loss": {
      type: "string",
      choices: BOX_LOSS_KINDS as string[],
      default: "mse",
      help: "box regression loss",
    },
    ohem: {
      type: "number",
      default: 0.7,
      help: "fraction of classification samples kept (hardest)",
    },
    "loss-weights": {
      type: "list",
      meta: "C,B,L",
      help: "weights of cls, box, landmark losses [default: PNet/RNet 1,0.5,0.5; ONet 1,0.5,1]",
    },
    augment: { type: "boolean", default: true, help: "augmentation (--no-augment: none)" },
    flip: { type: "boolean", default: DEFAULT_AUGMENT.flip, help: "random horizontal flips" },
    brightness: {
      type: "number",
      default: DEFAULT_AUGMENT.brightness,
      help: "brightness jitter, fraction of 255",
    },
    contrast: {
      type: "number",
      default: DEFAULT_AUGMENT.contrast,
      help: "contrast jitter, fraction",
    },
    arch: {
      type: "string",
      choices: [...ARCH_VARIANTS],
      default: "original",
      help: "architecture: original, slim (depthwise-separable) or large (pnet only)",
    },
    channels: { type: "list", meta: "C,C,..", help: "channel counts of the convolutions" },
    landmarks: {
      type: "boolean",
      default: true,
      help: "ONet's landmark head (--no-landmarks: none)",
    },
    init: { type: "string", meta: "FILE", help: "start from these weights (its arch is trained)" },
    teacher: {
      type: "string",
      meta: "FILE",
      help: 'distil from this net ("original": the imported original MTCNN net)',
    },
    temperature: {
      type: "number",
      default: DEFAULT_DISTILL.temperature,
      help: "distillation temperature (with --teacher)",
    },
    alpha: {
      type: "number",
      default: DEFAULT_DISTILL.alpha,
      help: "weight of the distillation terms, ground truth 1 - alpha (with --teacher)",
    },
    seed: {
      type: "integer",
      default: DEFAULT_TRAIN.seed,
      help: "random seed (same seed, same bytes)",
    },
    workers: { type: "integer", default: 1, help: "data-parallel workers (1: inline)" },
    backend: { type: "string", choices: ["wasm", "cpu"], default: "wasm", help: "tfjs backend" },
    resume: { type: "boolean", default: false, help: "continue the run from its checkpoint" },
    overwrite: { type: "boolean", default: false, help: "start the run again over its files" },
  },
  async run({ flags }) {
    const net = flags.net as NetName;
    const init = flags.init as string | undefined;
    const weights = numbers("loss-weights", flags["loss-weights"] as string[] | undefined);
    if (weights && weights.length !== 3) fail(`--loss-weights takes 3 numbers (cls,box,landmarks)`);
    const ratio = numbers("ratio", flags.ratio as string[]);
    if (ratio!.length !== 4) fail(`--ratio takes 4 numbers (pos,neg,part,landmark)`);
    const augment = flags.augment as boolean;
    const teacherFlag = flags.teacher as string | undefined;
    const teacher = teacherFlag === "original" ? (await ensureOriginalWeights())[net] : teacherFlag;
    const variant = flags.arch as ArchVariant;
    if (variant === "large" && net !== "pnet") fail(`--arch large exists only for --net pnet`);
    if (variant !== "original" && flags.channels) {
      fail(`--channels works with --arch original only`);
    }
    const cfg = resolveTrainConfig({
      net,
      arch: init
        ? (await loadNetData(init)).arch
        : variant === "original"
        ? undefined
        : archFor(net, variant, { landmarks: flags.landmarks as boolean }),
      trainData: (flags["train-data"] as string[] | undefined) ?? [`data/${net}/train`],
      valData: (flags["val-data"] as string[] | undefined) ?? [`data/${net}/val`],
      channels: numbers("channels", flags.channels as string[] | undefined),
      landmarks: flags.landmarks as boolean,
      ratio: ratio as [number, number, number, number],
      epochSize: (flags["epoch-size"] as number | undefined) ?? null,
      epochs: flags.epochs as number,
      batchSize: flags["batch-size"] as number,
      lr: flags.lr as number,
      lrSteps: numbers("lr-steps", flags["lr-steps"] as string[] | undefined),
      lrGamma: flags["lr-gamma"] as number,
      adam: { weightDecay: flags["weight-decay"] as number },
      loss: {
        boxLoss: flags["box-loss"] as BoxLossKind,
        ohem: flags.ohem as number,
        weights: weights ? { cls: weights[0], box: weights[1], landmarks: weights[2] } : undefined,
      },
      augment: augment
        ? {
          flip: flags.flip as boolean,
          brightness: flags.brightness as number,
          contrast: flags.contrast as number,
        }
        : { flip: false, brightness: 0, contrast: 0 },
      seed: flags.seed as number,
      init: init ?? null,
      distill: teacher
        ? {
          teacher,
          temperature: flags.temperature as number,
          alpha: flags.alpha as number,
        }
        : null,
    });
    const out = (flags.out as string | undefined) ?? `weights/${flags.run}`;
    const workers = flags.workers as number;
    if (workers < 1) fail(`--workers must be >= 1, got ${workers}`);

    const controller = new AbortController();
    let presses = 0;
    const onSigint = () => {
      presses++;
      if (presses > 1) Deno.exit(130);
      controller.abort();
      console.error("\nstopping after this step to save a checkpoint (Ctrl-C again to quit now)");
    };
    Deno.addSignalListener("SIGINT", onSigint);
    const line = new StepLine(net);
    try {
      const result = await train(cfg, {
        out,
        workers,
        backend: flags.backend as "wasm" | "cpu",
        resume: flags.resume as boolean,
        overwrite: flags.overwrite as boolean,
        signal: controller.signal,
        onStep: (p) => line.step(p),
        onEpoch: (r) => {
          line.clear();
          const v = r.val;
          console.log(
            `${net} epoch ${r.epoch}/${cfg.epochs} lr ${r.lr.toExponential(0)}  ` +
              `train loss ${r.train.loss.toFixed(4)} acc ${r.train.clsAcc.toFixed(4)}  |  ` +
              `val loss ${v.loss.toFixed(4)} cls ${v.clsLoss.toFixed(4)} offset ${
                v.offsetLoss.toFixed(4)
              } acc ${v.clsAcc.toFixed(4)}${r.best ? "  [best]" : ""}  ` +
              `${formatDuration(r.seconds)}`,
          );
        },
      });
      line.clear();
      if (result.status === "interrupted") {
        const where = result.stepsDone
          ? `at epoch ${result.epochsDone + 1}, step ${result.stepsDone}`
          : `after epoch ${result.epochsDone}`;
        console.log(
          `interrupted ${where}: checkpoint in ${result.files.checkpoint}; ` +
            `continue with the same flags and --resume`,
        );
        return;
      }
      if (result.best) {
        console.log(
          `\nbest epoch ${result.best.epoch}: ${result.files.best}\n\n` +
            seedTable({ [net]: result.best.val }, "validation") + "\n",
        );
        console.log(`metrics: ${result.files.metrics}  curves: ${result.files.curve}`);
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
  },
};

/** The one-line progress of the running epoch (TTY only). */
class StepLine {
  #tty = isInteractive();
  #enc = new TextEncoder();
  #last = 0;
  #started = 0;
  #samples = 0;
  #shown = false;
  #firstStep = 0;
  constructor(readonly net: string) {}

  step(p: StepProgress) {
    // the rate counts the steps after the first one seen in this epoch
    if (this.#started === 0) {
      this.#started = performance.now();
      this.#samples = 0;
      this.#firstStep = p.step;
    } else this.#samples += p.samples;
    if (!this.#tty) return;
    const now = performance.now();
    if (now - this.#last < 100 && p.step !== p.steps) return;
    this.#last = now;
    const secs = (now - this.#started) / 1000;
    const rate = secs > 0 ? this.#samples / secs : 0;
    const width = 20;
    const done = Math.min(width, Math.round((width * p.step) / p.steps));
    const perStep = this.#samples / Math.max(1, p.step - this.#firstStep);
    const eta = rate > 0 ? formatDuration(((p.steps - p.step) * perStep) / rate) : "?";
    const text =
      `${this.net} ${p.epoch + 1}/${p.epochs} [${"#".repeat(done)}${
        "-".repeat(width - done)
      }] ${p.step}/${p.steps}  loss ${p.meanLoss.toFixed(4)}  acc ${p.meanAcc.toFixed(4)}  ` +
      `${rate > 0 ? rate.toFixed(0) : "-"} samples/s  ETA ${eta}`;
    Deno.stderr.writeSync(this.#enc.encode(`\r\x1b[2K${text}`));
    this.#shown = true;
  }

  clear() {
    if (this.#shown) Deno.stderr.writeSync(this.#enc.encode(`\r\x1b[2K`));
    this.#shown = false;
    this.#started = 0;
  }
}

export default task;
