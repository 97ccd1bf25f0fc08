/**
 * deno task distill: knowledge distillation from a teacher net into a
 * student, measured against the same student trained on the ground truth
 * alone (same data, epochs, seed, initial weights). Prints the seed's table
 * for teacher, student and distilled student; writes
 * `<out>/distill_<net>.json` and `.md`, and the two runs in `<out>/plain/`
 * and `<out>/distilled/` (each a normal training run: best_<net>.mtcnn with
 * the config, including the `distill` block, in its header).
 *
 * ```
 * deno task distill --net pnet --teacher weights/original/pnet.mtcnn --arch slim \
 *   --train-data data/pnet/train --val-data data/pnet/val --epochs 4 --temperature 2 --alpha 0.5
 * deno task distill --net pnet --teacher big.mtcnn --student small_init.mtcnn --out weights/kd
 * ```
 */
import { fail, formatDuration, type Task } from "../src/cli/mod.ts";
import { ARCH_VARIANTS, archFor, type ArchVariant } from "../src/nets/arch.ts";
import { ensureOriginalWeights } from "../src/nets/original.ts";
import { compareDistillation, distillTableMarkdown } from "../src/optimize/distill.ts";
import { initTrainingBackend } from "../src/train/setup.ts";
import {
  DEFAULT_DISTILL,
  DEFAULT_TRAIN,
  type NetName,
  standardArch,
} from "../src/train/trainer.ts";

const task: Task = {
  name: "distill",
  description:
    "Knowledge distillation: train a student with and without a teacher, compare the three",
  flags: {
    net: { type: "string", choices: ["pnet", "rnet", "onet"], required: true, help: "which net" },
    teacher: {
      type: "string",
      required: true,
      meta: "FILE",
      help: 'teacher weights (.mtcnn); "original": the imported original MTCNN net',
    },
    student: {
      type: "string",
      meta: "FILE",
      help: "student weights both runs start from [default: --arch from random weights]",
    },
    arch: {
      type: "string",
      choices: [...ARCH_VARIANTS],
      default: "slim",
      help: "student architecture when no --student is given",
    },
    channels: {
      type: "list",
      meta: "C,C,..",
      help: "channel counts of the student (with --arch original)",
    },
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
    out: { type: "string", default: "weights/distill", meta: "DIR", help: "output folder" },
    temperature: {
      type: "number",
      default: DEFAULT_DISTILL.temperature,
      help: "softmax temperature of the face probabilities",
    },
    alpha: {
      type: "number",
      default: DEFAULT_DISTILL.alpha,
      help: "weight of the distillation terms (ground truth: 1 - alpha)",
    },
    epochs: { type: "integer", default: 4, help: "epochs of each student run" },
    "epoch-size": {
      type: "integer",
      meta: "N",
      help: "samples per epoch [default: as many as the scarcest label allows]",
    },
    "batch-size": { type: "integer", default: DEFAULT_TRAIN.batchSize, help: "samples per step" },
    lr: { type: "number", default: DEFAULT_TRAIN.lr, help: "Adam learning rate" },
    ratio: {
      type: "list",
      default: DEFAULT_TRAIN.ratio.map(String),
      meta: "P,N,PT,L",
      help: "label ratio pos,neg,part,landmark of training batches",
    },
    seed: { type: "integer", default: DEFAULT_TRAIN.seed, help: "random seed of both runs" },
    workers: { type: "integer", default: 1, help: "data-parallel workers (1: inline)" },
    note: { type: "string", meta: "TEXT", help: 'a note on the data for the table ("synthetic")' },
    overwrite: { type: "boolean", default: false, help: "start again over earlier runs in --out" },
  },
  async run({ flags }) {
    const net = flags.net as NetName;
    const variant = flags.arch as ArchVariant;
    const student = flags.student as string | undefined;
    const channels = (flags.channels as string[] | undefined)?.map(Number);
    if (channels?.some((c) => !Number.isInteger(c) || c < 1)) {
      fail(`--channels expects positive integers, got "${(flags.channels as string[]).join(",")}"`);
    }
    if (channels && variant !== "original") fail(`--channels works with --arch original only`);
    if (variant === "large" && net !== "pnet") fail(`--arch large exists only for --net pnet`);
    const ratio = (flags.ratio as string[]).map(Number);
    if (ratio.length !== 4 || ratio.some((r) => !Number.isFinite(r))) {
      fail(`--ratio takes 4 numbers (pos,neg,part,landmark), got "${flags.ratio}"`);
    }
    for (const key of ["epochs", "epoch-size", "batch-size", "workers"]) {
      const v = flags[key] as number | undefined;
      if (v !== undefined && v < 1) fail(`--${key} must be >= 1, got ${v}`);
    }
    let teacher = flags.teacher as string;
    if (teacher === "original") teacher = (await ensureOriginalWeights())[net];
    await initTrainingBackend("wasm");
    const started = performance.now();
    const r = await compareDistillation({
      teacher,
      student: student ??
        (channels ? standardArch(net, channels) : archFor(net, variant)),
      trainData: (flags["train-data"] as string[] | undefined) ?? [`data/${net}/train`],
      valData: (flags["val-data"] as string[] | undefined) ?? [`data/${net}/val`],
      out: flags.out as string,
      temperature: flags.temperature as number,
      alpha: flags.alpha as number,
      workers: flags.workers as number,
      overwrite: flags.overwrite as boolean,
      note: flags.note as string | undefined,
      train: {
        epochs: flags.epochs as number,
        epochSize: (flags["epoch-size"] as number | undefined) ?? null,
        batchSize: flags["batch-size"] as number,
        lr: flags.lr as number,
        ratio: ratio as [number, number, number, number],
        seed: flags.seed as number,
      },
      onEpoch: (run, e) =>
        console.log(
          `${run} ${net} epoch ${e.epoch}/${flags.epochs}  train loss ${
            e.train.loss.toFixed(4)
          }  |  val loss ${e.val.loss.toFixed(4)} acc ${e.val.clsAcc.toFixed(4)}  ${
            formatDuration(e.seconds)
          }`,
        ),
    });
    console.log(`\n${distillTableMarkdown(r)}\n`);
    console.log(
      `tables: ${r.files.markdown}, ${r.files.json}  (${
        formatDuration((performance.now() - started) / 1000)
      })`,
    );
  },
};

export default task;
