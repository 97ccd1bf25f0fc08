/**
 * `deno task eval:fddb`: the FDDB discrete and continuous ROC of a detection file (FDDB's
 * output format), over all ten folds together, as FDDB's `evaluate` computes it.
 *
 * ```
 * deno task eval:fddb --ellipses data/FDDB/FDDB-folds --pred out/fddb_dets.txt
 * deno task eval:fddb --pred out/fddb --images data/FDDB/originalPics --roc-prefix out/fddb/mtcnn
 * ```
 *
 * `--pred` is one file or a folder of `.txt` files (e.g. `fold-01-out.txt` ... ). With
 * `--images`, masks are clipped to each image as FDDB draws them; without, they are not
 * (boxes reaching past the right or bottom edge then overlap a little differently).
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import {
  evaluateFddb,
  type FddbEvaluation,
  fddbRateAt,
  formatFddbRoc,
  readFddbDetections,
  readFddbFolds,
} from "../src/eval/fddb.ts";
import { probeImage } from "../src/image/decode.ts";
import { readFileChecked, writeJsonAtomic, writeTextFileAtomic } from "../src/io/mod.ts";

/** The JSON summary. */
export function fddbSummary(
  roc: FddbEvaluation,
  at: number[],
  meta: { name: string; ellipses: string; pred: string; clipped: boolean },
): Record<string, unknown> {
  return {
    protocol: "FDDB ROC over all folds, as FDDB's evaluate computes it (rectangle detections)",
    ...meta,
    faces: roc.faces,
    images: roc.images,
    detections: roc.detections,
    rates: Object.fromEntries(at.map((fp) => [String(fp), fddbRateAt(roc, fp)])),
    missing: roc.missing,
    unknown: roc.unknown,
    points: roc.points.map((p) => ({
      threshold: p.threshold,
      false_positives: p.falsePositives,
      true_positives: p.truePositives,
      continuous_true_positives: p.continuousTruePositives,
    })),
  };
}

const task: Task = {
  name: "eval:fddb",
  description: "FDDB discrete and continuous ROC of a detection file, over all ten folds",
  flags: {
    ellipses: {
      type: "string",
      meta: "DIR",
      default: "data/FDDB/FDDB-folds",
      help: "folder with FDDB-fold-XX-ellipseList.txt (and FDDB-fold-XX.txt)",
    },
    pred: {
      type: "string",
      meta: "PATH",
      required: true,
      help: "detections in FDDB's format: a file, or a folder of .txt files",
    },
    images: {
      type: "string",
      meta: "DIR",
      help: "originalPics folder: clip masks to each image's size, as FDDB does",
    },
    json: {
      type: "string",
      meta: "FILE",
      help: "JSON summary [default: beside --pred, fddb_roc.json]",
    },
    plot: {
      type: "string",
      meta: "FILE",
      help: 'ROC PNG, or "none" [default: beside --pred, fddb_roc.png]',
    },
    "roc-prefix": {
      type: "string",
      meta: "PREFIX",
      help: "also write <PREFIX>DiscROC.txt and <PREFIX>ContROC.txt (FDDB's own files)",
    },
    at: {
      type: "list",
      default: ["500", "1000", "2000"],
      help: "false-positive counts to report the detection rates at",
    },
    "max-fp": { type: "number", default: 2000, help: "x range of the ROC plot" },
    name: { type: "string", help: "method name for the plot [default: the --pred name]" },
  },
  async run({ flags }) {
    const ellipses = flags.ellipses as string;
    const pred = (flags.pred as string).replace(/\/+$/, "") || "/";
    const at = (flags.at as string[]).map((s) => {
      const v = Number(s);
      if (!Number.isFinite(v) || v < 0) {
        throw new UsageError(`eval:fddb: --at: "${s}" is not a count`);
      }
      return v;
    });
    const maxFp = flags["max-fp"] as number;
    if (!(maxFp > 0)) throw new UsageError("eval:fddb: --max-fp must be positive");
    const images = await readFddbFolds(ellipses);
    const detections = await readFddbDetections(pred);
    const isDir = (await Deno.stat(pred)).isDirectory;
    const outDir = isDir ? pred : pred.includes("/") ? pred.slice(0, pred.lastIndexOf("/")) : ".";
    const base = pred.slice(pred.lastIndexOf("/") + 1);
    const name = (flags.name as string | undefined) ??
      (isDir ? base : base.replace(/\.[^.]*$/, ""));
    let sizes: Map<string, { width: number; height: number }> | undefined;
    if (flags.images !== undefined) {
      sizes = new Map();
      for (const im of images) {
        const path = `${flags.images}/${im.name}.jpg`;
        const h = probeImage(await readFileChecked(path), path);
        sizes.set(im.name, { width: h.width, height: h.height });
      }
    }
    const roc = evaluateFddb(images, detections, { sizes });
    if (roc.missing.length) {
      console.error(
        `warning: ${roc.missing.length} annotated images have no detection entry (counted as none): ` +
          roc.missing.slice(0, 3).join(", ") + (roc.missing.length > 3 ? ", ..." : ""),
      );
    }
    if (roc.unknown.length) {
      console.error(
        `warning: ${roc.unknown.length} detection entries are for unannotated images (ignored)`,
      );
    }
    console.log(
      `${name}: ${roc.detections} detections on ${roc.images} images, ${roc.faces} faces` +
        (sizes ? "" : " (masks not clipped: no --images)"),
    );
    for (const fp of at) {
      const r = fddbRateAt(roc, fp);
      console.log(
        `discrete ${r.discrete.toFixed(4)}  continuous ${
          r.continuous.toFixed(4)
        }  at ${fp} false positives`,
      );
    }
    const written: string[] = [];
    const json = (flags.json as string | undefined) ?? `${outDir}/fddb_roc.json`;
    await writeJsonAtomic(json, fddbSummary(roc, at, { name, ellipses, pred, clipped: !!sizes }));
    written.push(json);
    if (flags["roc-prefix"] !== undefined) {
      const { disc, cont } = formatFddbRoc(roc);
      await writeTextFileAtomic(`${flags["roc-prefix"]}DiscROC.txt`, disc);
      await writeTextFileAtomic(`${flags["roc-prefix"]}ContROC.txt`, cont);
      written.push(`${flags["roc-prefix"]}{Disc,Cont}ROC.txt`);
    }
    const plot = (flags.plot as string | undefined) ?? `${outDir}/fddb_roc.png`;
    if (plot !== "none") {
      if (!/\.(png|jpe?g)$/i.test(plot)) {
        throw new UsageError(`eval:fddb: --plot must end in .png or .jpg, or be "none"`);
      }
      const { writeLineChart } = await import("../src/plot/chart.ts");
      const pts = [...roc.points].reverse(); // fewest false positives first
      const fps = pts.map((p) => p.falsePositives);
      const n = Math.max(roc.faces, 1);
      await writeLineChart(plot, {
        title: `FDDB: ${name}`,
        xLabel: "False positives",
        yLabel: "True positive rate",
        xRange: [0, maxFp],
        yRange: [0, 1],
        legend: "lower right",
        series: [
          { name: "discrete", xs: fps, ys: pts.map((p) => p.truePositives / n), markers: false },
          {
            name: "continuous",
            xs: fps,
            ys: pts.map((p) => p.continuousTruePositives / n),
            markers: false,
            dashed: true,
          },
        ],
      });
      written.push(plot);
    }
    console.log(`wrote ${written.join(", ")}`);
  },
};

export default task;
