/**
 * `deno task qat`: quantisation-aware training of a float net into an int8
 * net (src/optimize/qat.ts), and the table float / PTQ int8 / QAT int8 (and
 * QAT with ReLU instead of PReLU) measured on the engines that run them.
 *
 *   deno task qat --net pnet --weights weights/demo/best_pnet.mtcnn \
 *     --train-data data/demo/pnet12/train --val-data data/demo/pnet12/val --act both
 *
 * Writes <out>/qat_<net>.mtcnn (int8: weights per output channel, activation
 * scales and zero points), <out>/qat_relu_<net>.mtcnn with --act relu|both,
 * and <out>/qat_<net>.json / .md.
 */
import { progress, type Task, UsageError } from "../src/cli/mod.ts";
import { exists } from "../src/io/mod.ts";
import { loadNetData } from "../src/nets/weights_io.ts";
import { type QatNet, qatReport, qatTable, resolveQatConfig } from "../src/optimize/qat.ts";
import { initTrainingBackend } from "../src/train/setup.ts";

const task: Task = {
  name: "qat",
  description:
    "Quantisation-aware training of a net into int8 (fake quant, STE); table float / PTQ / QAT",
  flags: {
    net: { type: "string", choices: ["pnet", "rnet", "onet"], required: true, help: "which net" },
    weights: { type: "string", required: true, meta: "FILE", help: "float .mtcnn to start from" },
    "train-data": {
      type: "list",
      meta: "DIR[,DIR..]",
      help: "training shard datasets [default: data/<net>/train]",
    },
    "val-data": {
      type: "list",
      meta: "DIR[,DIR..]",
      help: "validation shard datasets [default: data/<net>/val]",
    },
    out: { type: "string", default: "weights/qat", meta: "DIR", help: "output folder" },
    act: {
      type: "string",
      choices: ["prelu", "relu", "both"],
      default: "prelu",
      help: "keep PReLU, replace it by ReLU and fine-tune, or run both",
    },
    epochs: { type: "integer", default: 3, help: "fine-tuning epochs" },
    "freeze-epochs": {
      type: "integer",
      default: 1,
      help: "last epochs with the activation ranges frozen",
    },
    lr: { type: "number", default: 1e-4, help: "learning rate (Adam)" },
    "batch-size": { type: "integer", default: 256, help: "samples per step" },
    "epoch-size": { type: "integer", meta: "N", help: "samples per epoch [default: by ratio]" },
    ema: {
      type: "number",
      default: 0.9,
      help: "moving-average weight of the old activation range",
    },
    bits: { type: "integer", default: 8, help: "activation codes: 8, or 7 (i8 dot kernels)" },
    "calib-samples": {
      type: "integer",
      default: 1024,
      help: "training samples for the PTQ min/max start",
    },
    threshold: {
      type: "number",
      help: "stage threshold for the recall row [default: PNet 0.6, RNet/ONet 0.7]",
    },
    control: {
      type: "boolean",
      default: false,
      help: "also fine-tune without fake quantisation, then PTQ (what QAT adds beyond training)",
    },
    note: { type: "string", help: "a line about the data for the Markdown" },
    seed: { type: "integer", default: 1, help: "random seed (batches, augmentation)" },
  },
  async run({ flags }) {
    const net = flags.net as QatNet;
    const weights = flags.weights as string;
    if (!weights.endsWith(".mtcnn")) {
      throw new UsageError(`qat: --weights "${weights}" is not a .mtcnn file`);
    }
    if (!(await exists(weights))) {
      throw new UsageError(`qat: --weights "${weights}" does not exist`);
    }
    const bits = flags.bits as number;
    if (bits !== 7 && bits !== 8) throw new UsageError(`qat: --bits must be 7 or 8, got ${bits}`);
    const trainData = (flags["train-data"] as string[] | undefined) ?? [`data/${net}/train`];
    const valData = (flags["val-data"] as string[] | undefined) ?? [`data/${net}/val`];
    for (const d of [...trainData, ...valData]) {
      if (!(await exists(`${d}/manifest.json`))) {
        throw new UsageError(`qat: "${d}" is not a shard dataset (no manifest.json)`);
      }
    }
    const threshold = flags.threshold as number | undefined;
    if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
      throw new UsageError(`qat: --threshold must be in [0, 1], got ${threshold}`);
    }
    let cfg;
    try {
      cfg = resolveQatConfig({
        net,
        trainData,
        valData,
        epochs: flags.epochs as number,
        freezeEpochs: flags["freeze-epochs"] as number,
        lr: flags.lr as number,
        batchSize: flags["batch-size"] as number,
        epochSize: (flags["epoch-size"] as number | undefined) ?? null,
        ema: flags.ema as number,
        bits: bits as 7 | 8,
        calibSamples: flags["calib-samples"] as number,
        seed: flags.seed as number,
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const data = await loadNetData(weights);
    if (data.quant) throw new UsageError(`qat: "${weights}" is already int8`);
    if (data.arch.name !== net) {
      throw new UsageError(`qat: "${weights}" holds ${data.arch.name}, not ${net}`);
    }
    const act = flags.act as string;
    const acts = act === "both" ? ["prelu", "relu"] as const : [act as "prelu" | "relu"];
    await initTrainingBackend("wasm");
    const quote = (a: string) => (/^[\w.,/=:+-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);
    const args = Deno.args[0] === "qat" ? Deno.args.slice(1) : Deno.args;
    const command = ["deno task qat", ...args.map(quote)].join(" ");
    let bar: ReturnType<typeof progress> | undefined;
    const r = await qatReport(data, cfg, {
      out: flags.out as string,
      weights,
      acts: [...acts],
      threshold,
      note: flags.note as string | undefined,
      command,
      control: flags.control as boolean,
      onStep: (p) => {
        if (p.step === 1) {
          bar = progress(`${net} QAT epoch ${p.epoch}/${p.epochs}`, undefined, "steps");
        }
        bar?.tick();
      },
      onEpoch: (e) => {
        bar?.done();
        bar = undefined;
        const f = (x: number) => x.toFixed(4);
        console.log(
          `${net} epoch ${e.epoch}${
            e.epoch === 0 ? " (start)" : e.frozen ? " (frozen ranges)" : ""
          }: ` +
            `val loss ${f(e.val.loss)} cls acc ${f(e.val.clsAcc)}` +
            (e.train ? ` train loss ${f(e.train.loss)}` : "") +
            ` (${e.seconds.toFixed(1)} s)${e.best ? " *" : ""}`,
        );
      },
    });
    console.log(`\n${qatTable(net, r.rows, r.rows[0].metrics.threshold)}\n`);
    console.log(`wrote ${[...r.files.models, r.files.json, r.files.markdown].join(", ")}`);
  },
};

export default task;
