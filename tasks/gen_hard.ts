/** The shared body of gen-rnet and gen-onet (not a task itself). */
import { progress, type Task } from "../src/cli/mod.ts";
import { readAnnotations } from "../src/data/mod.ts";
import { generateHardDataset } from "../src/sampling/generate.ts";
import { DEFAULT_ONET_MINING, DEFAULT_RNET_MINING } from "../src/sampling/hard.ts";
import { resolveWeightPaths } from "../src/detect/load.ts";
import { DEFAULT_DETECTOR_CONFIG } from "../src/detect/config.ts";

/** Builds the gen-rnet (PNet's candidates, 24 px) or gen-onet (PNet + RNet's, 48 px) task. */
export function hardExampleTask(net: "rnet" | "onet"): Task {
  const d = net === "rnet" ? DEFAULT_RNET_MINING : DEFAULT_ONET_MINING;
  const size = net === "rnet" ? 24 : 48;
  const stage = net === "rnet" ? "pnet" : "rnet";
  const cascade = net === "rnet" ? "PNet" : "PNet + RNet";
  return {
    name: `gen-${net}`,
    description: `Mine ${
      net === "rnet" ? "RNet" : "ONet"
    } training crops (${size} px) with the trained ${cascade} into a shard dataset`,
    flags: {
      weights: {
        type: "string",
        required: true,
        meta: "DIR|FILES",
        help: `the trained ${cascade}: a folder with ${
          net === "rnet" ? "pnet.mtcnn" : "pnet.mtcnn and rnet.mtcnn"
        } or comma-separated files in cascade order`,
      },
      mode: { type: "string", choices: ["train", "val"], default: "train", help: "which split" },
      root: {
        type: "string",
        default: "data/WIDER",
        meta: "DIR",
        help: "WIDER-layout root; the defaults below derive from it",
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
      out: {
        type: "string",
        meta: "DIR",
        help: `output dataset folder [default: data/${net}/<mode>]`,
      },
      seed: {
        type: "integer",
        default: 1,
        help: "recorded seed (the mining itself is deterministic)",
      },
      workers: {
        type: "integer",
        default: navigator.hardwareConcurrency,
        help: "worker threads (0: inline)",
      },
      limit: { type: "integer", meta: "N", help: "use only the first N images" },
      "min-face": {
        type: "integer",
        default: DEFAULT_DETECTOR_CONFIG.minFaceSize,
        help: "the detector's smallest face",
      },
      thresholds: {
        type: "list",
        default: DEFAULT_DETECTOR_CONFIG.thresholds.map(String),
        help: "the detector's face-probability thresholds (PNet,RNet,ONet)",
      },
      engine: {
        type: "string",
        choices: ["as", "tfjs"],
        default: DEFAULT_DETECTOR_CONFIG.engine,
        help: "where the detector's nets run (AssemblyScript engine or tfjs)",
      },
      "min-size": {
        type: "integer",
        default: d.minSize,
        help: "candidates narrower than this are skipped",
      },
      "neg-iou": {
        type: "number",
        default: d.negativeIou,
        help: "negatives have IoU below this (the seed used 0.2)",
      },
      "pos-iou": {
        type: "number",
        default: d.positiveIou,
        help: "positives have IoU at least this",
      },
      "part-iou": { type: "number", default: d.partIou, help: "parts have IoU at least this" },
      "neg-cap": {
        type: "number",
        default: d.negativeCap,
        help: "keep negatives while negatives < cap * positives + 1",
      },
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
      const out = (flags.out as string | undefined) ?? `data/${net}/${mode}`;
      if ((flags.workers as number) < 0) {
        throw new RangeError(`--workers must be >= 0, got ${flags.workers}`);
      }
      const thresholds = (flags.thresholds as string[]).map(Number);
      if (thresholds.length !== 3 || thresholds.some((t) => !(t >= 0 && t <= 1))) {
        throw new RangeError(
          `--thresholds must be three numbers in [0, 1], got "${
            (flags.thresholds as string[]).join(",")
          }"`,
        );
      }
      const weights = await resolveWeightPaths(flags.weights as string, stage);
      let list = await readAnnotations(annotations);
      if (list.length === 0) throw new TypeError(`Cannot read "${annotations}": no images listed`);
      if (flags.limit !== undefined) list = list.slice(0, flags.limit as number);
      const bar = progress(`gen-${net}`, list.length, "img");
      const summary = await generateHardDataset({
        net,
        weights,
        images: list,
        imagesDir: images,
        out,
        seed: flags.seed as number,
        workers: flags.workers as number,
        overwrite: flags.overwrite as boolean,
        source: { annotations, images, mode, limit: flags.limit ?? null },
        detector: {
          minFaceSize: flags["min-face"] as number,
          thresholds: thresholds as [number, number, number],
          engine: flags.engine as "as" | "tfjs",
        },
        config: {
          minSize: flags["min-size"] as number,
          negativeIou: flags["neg-iou"] as number,
          positiveIou: flags["pos-iou"] as number,
          partIou: flags["part-iou"] as number,
          negativeCap: flags["neg-cap"] as number,
          partCap: flags["part-cap"] as number,
        },
        onImage: () => bar.tick(),
      });
      bar.done();
      const c = summary.manifest.counts;
      if (summary.skipped) console.log(`resumed after ${summary.skipped} images already in ${out}`);
      console.log(
        `${out}: ${summary.images} images in ${summary.seconds.toFixed(1)} s ` +
          `(${
            (summary.images / summary.seconds).toFixed(1)
          } img/s), ${summary.candidates} candidates, ` +
          `${summary.crops} kept; totals pos ${c.pos}, part ${c.part}, neg ${c.neg}`,
      );
      if (summary.failed) {
        console.log(`skipped ${summary.failed} unreadable image(s):`);
        for (const f of summary.failures) console.log(`  ${f}`);
      }
    },
  };
}
