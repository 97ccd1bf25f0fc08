/**
 * Knowledge distillation as an experiment: a teacher, the student trained on
 * the ground truth alone, and the same student (same arch, data, epochs, seed,
 * initial weights) trained with the teacher's softened face probabilities and
 * its box and landmark outputs mixed in (src/train/losses.ts `distillLoss`,
 * the trainer's `distill` block). All three are measured on the same
 * validation data with the seed's metrics (cls loss, offset loss, cls acc, no
 * OHEM, no augmentation); the students by their best epoch (lowest
 * ground-truth validation loss, as every training run).
 *
 * @example
 * ```ts
 * const r = await compareDistillation({
 *   teacher: "weights/original/pnet.mtcnn", student: archFor("pnet", "slim"),
 *   trainData: ["data/pnet/train"], valData: ["data/pnet/val"], out: "weights/distill",
 * });
 * console.log(distillTableMarkdown(r));
 * ```
 */
import type { NetArch } from "../nets/arch.ts";
import { paramCount } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import { loadNetData } from "../nets/weights_io.ts";
import { readBatches } from "../data/shards.ts";
import { writeJsonAtomic, writeTextFileAtomic } from "../io/mod.ts";
import { packParams, TrainGraph } from "../train/backprop.ts";
import { type LossConfig, resolveLossConfig } from "../train/losses.ts";
import { type EvalMetrics, MetricsAccumulator } from "../train/metrics.ts";
import {
  DEFAULT_DISTILL,
  type EpochRecord,
  type NetName,
  resolveTrainConfig,
  train,
  type TrainConfigInput,
} from "../train/trainer.ts";
import { archFlops } from "./prune.ts";

/** Options of {@linkcode compareDistillation}. */
export interface DistillOptions {
  /** The teacher's weights file (float .mtcnn). */
  teacher: string;
  /** The student: an arch trained from `seed`'s random weights, or a weights file both runs start from. */
  student: NetArch | string;
  trainData: string[];
  valData: string[];
  /** Output folder: `plain/` and `distilled/` runs, `distill_<net>.json` and `.md`. */
  out: string;
  temperature?: number;
  alpha?: number;
  /** Training settings shared by both runs (defaults as `deno task train`). */
  train?: Omit<TrainConfigInput, "net" | "arch" | "trainData" | "valData" | "init" | "distill">;
  /** Workers of each run (results equal for any count within float noise). */
  workers?: number;
  /** Start the runs afresh over earlier ones in `out`. */
  overwrite?: boolean;
  /** A note on the data printed with the table (e.g. "synthetic demo sample"). */
  note?: string;
  onEpoch?: (run: "plain" | "distilled", r: EpochRecord & { seconds: number }) => void;
}

/** One row of the comparison. */
export interface DistillRow {
  model: string;
  role: "teacher" | "student" | "distilled";
  file: string;
  params: number;
  flops: number;
  /** Best epoch (students). */
  epoch?: number;
  val: EvalMetrics;
}

/** What {@linkcode compareDistillation} returns (and writes as JSON). */
export interface DistillReport {
  net: NetName;
  teacher: string;
  temperature: number;
  alpha: number;
  epochs: number;
  seed: number;
  trainData: string[];
  valData: string[];
  note?: string;
  rows: DistillRow[];
  files: { json: string; markdown: string };
}

/**
 * Validation metrics of a net over dataset folders (every sample once, no
 * OHEM): the numbers the trainer reports for its best epoch. Needs an
 * initialised training backend.
 *
 * @example
 * ```ts
 * const m = await evaluateNet(await loadNetData("weights/original/pnet.mtcnn"), ["data/pnet/val"]);
 * ```
 */
export async function evaluateNet(
  data: NetData,
  valData: string[],
  loss?: LossConfig,
  batchSize = 256,
): Promise<EvalMetrics> {
  const net = data.arch.name as NetName;
  const cfg = loss ?? resolveLossConfig(net, {});
  const g = new TrainGraph(data.arch);
  const acc = new MetricsAccumulator(cfg, data.arch.layers.some((l) => l.kind === "landmarks"));
  try {
    g.setParams(packParams(data.arch, data.params));
    for await (const b of readBatches(valData, { batchSize, seed: 0, shuffle: false })) {
      acc.add(g.forward(b.pixels, b.count, false), b);
    }
  } finally {
    g.dispose();
  }
  return acc.result();
}

/**
 * Trains the student twice, without and with the teacher, and measures all
 * three (see the module comment). Needs an initialised training backend.
 * Throws like `train` (teacher of another net or input size: a one-line RangeError).
 */
export async function compareDistillation(opts: DistillOptions): Promise<DistillReport> {
  const teacher = await loadNetData(opts.teacher);
  const init = typeof opts.student === "string" ? opts.student : null;
  const arch = init ? (await loadNetData(init)).arch : opts.student as NetArch;
  const net = arch.name as NetName;
  if (teacher.arch.name !== net) {
    throw new RangeError(
      `teacher "${opts.teacher}" is a ${teacher.arch.name}, the student a ${net}`,
    );
  }
  const temperature = opts.temperature ?? DEFAULT_DISTILL.temperature;
  const alpha = opts.alpha ?? DEFAULT_DISTILL.alpha;
  const base: TrainConfigInput = {
    ...(opts.train ?? {}),
    net,
    arch,
    trainData: opts.trainData,
    valData: opts.valData,
    init,
  };
  const plainCfg = resolveTrainConfig(base);
  const distCfg = resolveTrainConfig({
    ...base,
    distill: { teacher: opts.teacher, temperature, alpha },
  });
  const teacherVal = await evaluateNet(teacher, opts.valData, plainCfg.loss, plainCfg.batchSize);
  const run = async (name: "plain" | "distilled", cfg: typeof plainCfg) => {
    const r = await train(cfg, {
      out: `${opts.out}/${name}`,
      workers: opts.workers ?? 1,
      overwrite: opts.overwrite,
      plot: false,
      onEpoch: (e) => opts.onEpoch?.(name, e),
    });
    if (!r.best) throw new RangeError(`distillation: the ${name} run finished no epoch`);
    return { file: r.files.best, epoch: r.best.epoch, val: r.best.val };
  };
  const plain = await run("plain", plainCfg);
  const distilled = await run("distilled", distCfg);
  const size = (a: NetArch) => ({ params: paramCount(a), flops: archFlops(a) });
  // "pnet 10/16/32", "pnet slim 12/24/32": the filters of the convolutions (and dense units)
  const label = (a: NetArch) => {
    const widths = a.layers.flatMap((l) =>
      l.kind === "conv" || l.kind === "gconv" ? [l.filters] : l.kind === "dense" ? [l.units] : []
    );
    const slim = a.layers.some((l) => l.kind === "gconv")
      ? " shuffle"
      : a.layers.some((l) => l.kind === "depthwise")
      ? " slim"
      : "";
    return `${a.name}${slim} ${widths.join("/")}`;
  };
  const rows: DistillRow[] = [
    {
      model: `teacher: ${label(teacher.arch)}`,
      role: "teacher",
      file: opts.teacher,
      ...size(teacher.arch),
      val: teacherVal,
    },
    {
      model: `student ${label(arch)}, ground truth only`,
      role: "student",
      file: plain.file,
      ...size(arch),
      epoch: plain.epoch,
      val: plain.val,
    },
    {
      model: `student ${label(arch)}, distilled (T ${temperature}, alpha ${alpha})`,
      role: "distilled",
      file: distilled.file,
      ...size(arch),
      epoch: distilled.epoch,
      val: distilled.val,
    },
  ];
  const files = {
    json: `${opts.out}/distill_${net}.json`,
    markdown: `${opts.out}/distill_${net}.md`,
  };
  const report: DistillReport = {
    net,
    teacher: opts.teacher,
    temperature,
    alpha,
    epochs: plainCfg.epochs,
    seed: plainCfg.seed,
    trainData: opts.trainData,
    valData: opts.valData,
    ...(opts.note ? { note: opts.note } : {}),
    rows,
    files,
  };
  await Deno.mkdir(opts.out, { recursive: true });
  await writeJsonAtomic(files.json, report);
  await writeTextFileAtomic(files.markdown, distillTableMarkdown(report) + "\n");
  return report;
}

/**
 * The comparison as Markdown: one row per model with its size and the seed's
 * validation metrics, the settings and data underneath.
 *
 * @example
 * ```ts
 * console.log(distillTableMarkdown(report));
 * // | model | params | FLOPs | best epoch | cls loss | offset loss | cls acc | ...
 * ```
 */
export function distillTableMarkdown(r: Omit<DistillReport, "files">): string {
  const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : "-");
  const lm = r.rows.some((x) => Number.isFinite(x.val.landmarkLoss));
  const lines = [
    `| model | params | FLOPs | best epoch | cls loss | offset loss | cls acc | pos acc | neg acc${
      lm ? " | landmark loss" : ""
    } |`,
    `| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:${lm ? " | ---:" : ""} |`,
  ];
  for (const x of r.rows) {
    const v = x.val;
    lines.push(
      `| ${x.model} | ${x.params} | ${x.flops} | ${x.epoch ?? "-"} | ${fmt(v.clsLoss)} | ${
        fmt(v.offsetLoss)
      } | ${fmt(v.clsAcc)} | ${fmt(v.posAcc)} | ${fmt(v.negAcc)}${
        lm ? ` | ${fmt(v.landmarkLoss)}` : ""
      } |`,
    );
  }
  lines.push(
    "",
    `Validation on ${r.valData.join(", ")} (${
      r.rows[0].val.samples
    } samples, no OHEM, no augmentation); students trained on ${
      r.trainData.join(", ")
    } for ${r.epochs} epochs, seed ${r.seed}, same data and initial weights` +
      (r.note ? `. Data: ${r.note}.` : "."),
  );
  return lines.join("\n");
}
