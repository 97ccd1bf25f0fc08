/** The shared body of gen-rnet and gen-onet (not a task itself). */
import type { Task } from "../src/cli/mod.ts";
import { printSummary, readSplit, splitFlags } from "./gen_common.ts";
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
        } (or a training run's best_*.mtcnn) or comma-separated files in cascade order`,
      },
      ...splitFlags(`data/${net}/<mode>`, "recorded seed (the mining itself is deterministic)"),
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
      const thresholds = (flags.thresholds as string[]).map(Number);
      if (thresholds.length !== 3 || thresholds.some((t) => !(t >= 0 && t <= 1))) {
        throw new RangeError(
          `--thresholds must be three numbers in [0, 1], got "${
            (flags.thresholds as string[]).join(",")
          }"`,
        );
      }
      const weights = await resolveWeightPaths(flags.weights as string, stage);
      const { images, out, list, bar, source } = await readSplit(
        flags,
        `gen-${net}`,
        `data/${net}`,
      );
      const summary = await generateHardDataset({
        net,
        weights,
        images: list,
        imagesDir: images,
        out,
        seed: flags.seed as number,
        workers: flags.workers as number,
        overwrite: flags.overwrite as boolean,
        source,
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
      printSummary(out, summary, `${summary.candidates} candidates, ${summary.crops} kept`);
    },
  };
}
