/**
 * `deno task eval:wider`: WIDER FACE validation AP (easy, medium, hard) of a prediction
 * folder in the official layout, computed as the official MATLAB eval tools compute it.
 *
 * ```
 * deno task eval:wider --pred out/wider_pred
 * deno task eval:wider --gt ../shared/wider --pred out/wider_pred --json out/ap.json --plot out/pr.png
 * ```
 *
 * Missing prediction files count as no detections (a warning, as the official tool prints);
 * files for unknown images are listed and ignored; a malformed file is an error naming file
 * and line, unless `--lenient`, which drops that image's predictions as `read_pred.m` does.
 *
 * (Running the detector on WIDER_val/images first is `writeWiderPredictions` in
 * src/eval/wider_predict.ts, to be wired here with an `--images` flag once src/detect exists.)
 */
import { progress, type Task, UsageError } from "../src/cli/mod.ts";
import { readAnnotations } from "../src/data/mod.ts";
import { widerGroundTruthFromAnnotations } from "../src/eval/wider_text_gt.ts";
import { predictWider } from "../src/eval/wider_predict.ts";
import { resolveDetectorConfig } from "../src/detect/config.ts";
import { resolveWeightPaths } from "../src/detect/load.ts";
import { ensureOriginalWeights } from "../src/nets/original.ts";
import {
  evaluateWider,
  readWiderGroundTruth,
  readWiderPredictions,
  type WiderEvaluation,
  type WiderPredictionSet,
} from "../src/eval/wider.ts";
import { writeJsonAtomic } from "../src/io/mod.ts";

/** A few items of a list, for a one-line warning. */
function sample(list: string[], n = 3): string {
  return list.slice(0, n).join(", ") + (list.length > n ? ", ..." : "");
}

/** The JSON summary (NaN precisions become null). */
export function widerSummary(
  r: WiderEvaluation,
  set: WiderPredictionSet,
  meta: { name: string; gt: string; pred: string },
): Record<string, unknown> {
  const list = (a: Float64Array) => Array.from(a, (v) => (Number.isFinite(v) ? v : null));
  return {
    protocol: "WIDER FACE val AP, as the official MATLAB eval_tools (wider_eval.m) compute it",
    name: meta.name,
    gt: meta.gt,
    pred: meta.pred,
    ap: Object.fromEntries(r.settings.map((s) => [s.name, s.ap])),
    faces: Object.fromEntries(r.settings.map((s) => [s.name, s.faces])),
    predictions: r.predictions,
    images_with_predictions: r.imagesWithPredictions,
    score_range: r.scoreRange,
    missing: set.missing,
    unknown: set.unknown,
    invalid: set.invalid,
    curves: Object.fromEntries(r.settings.map((s) => [s.name, {
      threshold: list(s.thresholds),
      precision: list(s.precision),
      recall: list(s.recall),
    }])),
  };
}

const task: Task = {
  name: "eval:wider",
  description: "WIDER FACE val AP (easy/medium/hard) of a prediction folder, as the official tool",
  flags: {
    gt: {
      type: "string",
      meta: "DIR",
      default: "data/WIDER/eval_tools/ground_truth",
      help:
        "folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat, or a bbx_gt / private-format text file (settings by face size, see README)",
    },
    images: {
      type: "string",
      meta: "DIR",
      help:
        "first run the detector over these images (WIDER_val/images), writing --pred (resumable)",
    },
    weights: {
      type: "string",
      meta: "DIR|FILES",
      help: "the cascade for --images [default: the original MTCNN]",
    },
    "min-face": {
      type: "integer",
      default: 20,
      help: "the detector's smallest face, for --images",
    },
    thresholds: {
      type: "list",
      default: ["0.6", "0.7", "0.7"],
      help: "the detector's thresholds, for --images",
    },
    engine: {
      type: "string",
      choices: ["as", "tfjs"],
      default: "as",
      help: "where the detector's nets run (AssemblyScript engine or tfjs), for --images",
    },
    workers: {
      type: "integer",
      default: navigator.hardwareConcurrency,
      help: "detector workers, for --images",
    },
    pred: {
      type: "string",
      meta: "DIR",
      required: true,
      help: "predictions, official layout: <event>/<image>.txt",
    },
    json: { type: "string", meta: "FILE", help: "JSON summary [default: <pred>/wider_ap.json]" },
    plot: {
      type: "string",
      meta: "FILE",
      help: 'PR-curve PNG, or "none" [default: <pred>/wider_pr.png]',
    },
    name: { type: "string", help: "method name for the plot [default: the --pred folder name]" },
    lenient: {
      type: "boolean",
      help: "drop malformed prediction files (as the official tool) instead of failing",
    },
  },
  async run({ flags }) {
    const gtDir = flags.gt as string;
    const pred = (flags.pred as string).replace(/\/+$/, "") || "/";
    const json = (flags.json as string | undefined) ?? `${pred}/wider_ap.json`;
    const plot = (flags.plot as string | undefined) ?? `${pred}/wider_pr.png`;
    if (plot !== "none" && !/\.(png|jpe?g)$/i.test(plot)) {
      throw new UsageError(`eval:wider: --plot must end in .png or .jpg, or be "none"`);
    }
    const name = (flags.name as string | undefined) ?? pred.slice(pred.lastIndexOf("/") + 1);
    const gt = /\.txt$/i.test(gtDir)
      ? widerGroundTruthFromAnnotations(await readAnnotations(gtDir))
      : await readWiderGroundTruth(gtDir);
    if (flags.images !== undefined) {
      const thresholds = (flags.thresholds as string[]).map(Number) as [number, number, number];
      const config = {
        minFaceSize: flags["min-face"] as number,
        thresholds,
        engine: flags.engine as "as" | "tfjs",
      };
      resolveDetectorConfig(config);
      const weights = (flags.weights as string | undefined) ?? await ensureOriginalWeights();
      await resolveWeightPaths(weights);
      const bar = progress("detect", gt.images.length, "img");
      const r = await predictWider({
        images: gt.images,
        imagesDir: flags.images as string,
        outDir: pred,
        weights,
        config,
        workers: Math.max(1, flags.workers as number),
        onImage: () => bar.tick(),
      });
      bar.done();
      console.log(
        `${pred}: predictions for ${r.written} images written, ${r.skipped} already there`,
      );
      if (r.failed.length) {
        console.error(
          `warning: ${r.failed.length} unreadable image(s), written as no detections: ${
            r.failed.slice(0, 3).join("; ")
          }`,
        );
      }
    }
    const set = await readWiderPredictions(pred, gt.images, { lenient: flags.lenient === true });
    if (set.missing.length) {
      console.error(
        `warning: ${set.missing.length} of ${gt.images.length} images have no prediction file ` +
          `(counted as no detections): ${sample(set.missing)}`,
      );
    }
    if (set.unknown.length) {
      console.error(
        `warning: ${set.unknown.length} prediction files are for images not in the ground truth ` +
          `(ignored): ${sample(set.unknown)}`,
      );
    }
    for (const bad of set.invalid.slice(0, 3)) console.error(`warning: dropped: ${bad.message}`);
    if (set.invalid.length > 3) {
      console.error(`warning: ${set.invalid.length} malformed files dropped in all`);
    }
    const r = evaluateWider(gt, set.predictions);
    console.log(
      `${name}: ${r.predictions} boxes on ${r.imagesWithPredictions} of ${gt.images.length} images`,
    );
    for (const s of r.settings) {
      console.log(
        `${(s.name[0].toUpperCase() + s.name.slice(1)).padEnd(6)} Val AP: ${s.ap.toFixed(6)}`,
      );
    }
    await writeJsonAtomic(json, widerSummary(r, set, { name, gt: gtDir, pred }));
    const written = [json];
    if (plot !== "none") {
      const { writeLineChart } = await import("../src/plot/chart.ts");
      await writeLineChart(plot, {
        title: `WIDER FACE val: ${name}`,
        xLabel: "Recall",
        yLabel: "Precision",
        xRange: [0, 1],
        yRange: [0, 1],
        series: r.settings.map((s) => ({
          name: `${s.name} AP ${s.ap.toFixed(4)}`,
          xs: s.recall,
          ys: s.precision,
        })),
      });
      written.push(plot);
    }
    console.log(`wrote ${written.join(", ")}`);
  },
};

export default task;
