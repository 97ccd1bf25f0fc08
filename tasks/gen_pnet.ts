import type { Task } from "../src/cli/mod.ts";
import { printSummary, readSplit, splitFlags } from "./gen_common.ts";
import { generatePnetDataset } from "../src/sampling/generate.ts";
import { DEFAULT_PNET_SAMPLING } from "../src/sampling/pnet.ts";

const d = DEFAULT_PNET_SAMPLING;

const task: Task = {
  name: "gen-pnet",
  description:
    "Sample PNet training crops (positive / part / negative, 12 px) into a shard dataset",
  flags: {
    ...splitFlags("data/pnet/<mode>", "random seed (same seed, same bytes, any --workers)"),
    size: { type: "integer", default: 12, help: "sample side in pixels" },
    negatives: { type: "integer", default: d.negatives, help: "random negatives per image" },
    "negatives-per-face": {
      type: "integer",
      default: d.negativesPerFace,
      help: "negatives near each face",
    },
    "crops-per-face": {
      type: "integer",
      default: d.cropsPerFace,
      help: "shifted crops per face (positive or part)",
    },
    "min-face": {
      type: "integer",
      default: d.minFace,
      help: "faces smaller than this (max side) get no samples",
    },
    "neg-iou": {
      type: "number",
      default: d.negativeIou,
      help: "negatives have IoU below this with every face",
    },
    "pos-iou": { type: "number", default: d.positiveIou, help: "positives have IoU at least this" },
    "part-iou": { type: "number", default: d.partIou, help: "parts have IoU at least this" },
    "part-cap": {
      type: "number",
      default: d.partCap,
      help: "keep parts while parts < cap * positives + 1",
    },
    overwrite: { type: "boolean", default: false, help: "start afresh instead of resuming" },
  },
  async run({ flags }) {
    if ((flags.size as number) < 1) throw new RangeError(`--size must be >= 1, got ${flags.size}`);
    const { images, out, list, bar, source } = await readSplit(flags, "gen-pnet", "data/pnet");
    const summary = await generatePnetDataset({
      images: list,
      imagesDir: images,
      out,
      seed: flags.seed as number,
      size: flags.size as number,
      workers: flags.workers as number,
      overwrite: flags.overwrite as boolean,
      source,
      config: {
        negatives: flags.negatives as number,
        negativesPerFace: flags["negatives-per-face"] as number,
        cropsPerFace: flags["crops-per-face"] as number,
        minFace: flags["min-face"] as number,
        negativeIou: flags["neg-iou"] as number,
        positiveIou: flags["pos-iou"] as number,
        partIou: flags["part-iou"] as number,
        partCap: flags["part-cap"] as number,
      },
      onImage: () => bar.tick(),
    });
    bar.done();
    printSummary(out, summary, `${(summary.crops / summary.seconds).toFixed(0)} crops/s`);
  },
};
export default task;
