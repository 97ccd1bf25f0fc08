import { progress, type Task } from "../src/cli/mod.ts";
import { readAnnotations } from "../src/data/mod.ts";
import { generatePnetDataset } from "../src/sampling/generate.ts";
import { DEFAULT_PNET_SAMPLING } from "../src/sampling/pnet.ts";

const d = DEFAULT_PNET_SAMPLING;

const task: Task = {
  name: "gen-pnet",
  description:
    "Sample PNet training crops (positive / part / negative, 12 px) into a shard dataset",
  flags: {
    mode: { type: "string", choices: ["train", "val"], default: "train", help: "which split" },
    root: {
      type: "string",
      default: "data/WIDER",
      meta: "DIR",
      help:
        "WIDER-layout root (WIDER_<mode>/images, wider_face_split/); the defaults below derive from it",
    },
    images: {
      type: "string",
      meta: "DIR",
      help: "images folder [default: <root>/WIDER_<mode>/images]",
    },
    annotations: {
      type: "string",
      meta: "FILE",
      help:
        "WIDER bbx_gt text or private-format file [default: <root>/wider_face_split/wider_face_<mode>_bbx_gt.txt]",
    },
    out: { type: "string", meta: "DIR", help: "output dataset folder [default: data/pnet/<mode>]" },
    seed: {
      type: "integer",
      default: 1,
      help: "random seed (same seed, same bytes, any --workers)",
    },
    workers: {
      type: "integer",
      default: navigator.hardwareConcurrency,
      help: "worker threads (0: inline)",
    },
    limit: { type: "integer", meta: "N", help: "use only the first N images" },
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
    const mode = flags.mode as string;
    const root = flags.root as string;
    const images = (flags.images as string | undefined) ?? `${root}/WIDER_${mode}/images`;
    const annotations = (flags.annotations as string | undefined) ??
      `${root}/wider_face_split/wider_face_${mode}_bbx_gt.txt`;
    const out = (flags.out as string | undefined) ?? `data/pnet/${mode}`;
    for (const key of ["workers", "limit", "size"]) {
      if (flags[key] !== undefined && (flags[key] as number) < (key === "workers" ? 0 : 1)) {
        throw new RangeError(
          `--${key} must be ${key === "workers" ? ">= 0" : ">= 1"}, got ${flags[key]}`,
        );
      }
    }
    let list = await readAnnotations(annotations);
    if (list.length === 0) throw new TypeError(`Cannot read "${annotations}": no images listed`);
    if (flags.limit !== undefined) list = list.slice(0, flags.limit as number);
    const bar = progress("gen-pnet", list.length, "img");
    const summary = await generatePnetDataset({
      images: list,
      imagesDir: images,
      out,
      seed: flags.seed as number,
      size: flags.size as number,
      workers: flags.workers as number,
      overwrite: flags.overwrite as boolean,
      source: { annotations, images, mode, limit: flags.limit ?? null },
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
    const c = summary.manifest.counts;
    if (summary.skipped) console.log(`resumed after ${summary.skipped} images already in ${out}`);
    console.log(
      `${out}: ${summary.images} images in ${summary.seconds.toFixed(1)} s ` +
        `(${(summary.images / summary.seconds).toFixed(1)} img/s, ${
          (summary.crops / summary.seconds).toFixed(0)
        } crops/s); ` +
        `totals pos ${c.pos}, part ${c.part}, neg ${c.neg}`,
    );
    if (summary.failed) {
      console.log(`skipped ${summary.failed} unreadable image(s):`);
      for (const f of summary.failures) console.log(`  ${f}`);
    }
  },
};
export default task;
