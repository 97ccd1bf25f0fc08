/**
 * deno task eval:faces: recall and precision at IoU 0.5 of one or more
 * cascades on an annotated photo set in dlib's XML (default
 * ../shared/faces/training.xml: real photos, 18 faces), plus what PNet alone
 * and PNet + RNet pass on (their calibrated boxes after NMS, at their
 * thresholds): how many and how many faces they still cover. Each
 * positional is a weights spec as `deno task detect --weights` takes it: a
 * folder, or pnet,rnet,onet files (default: the original MTCNN), optionally
 * named for the table as `name=spec`.
 *
 * ```
 * deno task eval:faces weights/original \
 *   weights/pruned_original/pruned_pnet.mtcnn,weights/original/rnet.mtcnn,weights/original/onet.mtcnn \
 *   --out weights/pruned_original/faces.json
 * ```
 */
import { fail, type Task } from "../src/cli/mod.ts";
import { loadDetector, resolveWeightPaths } from "../src/detect/mod.ts";
import { evaluateFaceSet, type FaceScore } from "../src/eval/faces.ts";
import { writeJsonAtomic, writeTextFileAtomic } from "../src/io/mod.ts";
import { paramCount } from "../src/nets/arch.ts";
import { ensureOriginalWeights, loadNetData } from "../src/nets/mod.ts";
import { archFlops, filterCounts } from "../src/optimize/prune.ts";

/** One evaluated cascade. */
interface Row {
  name: string;
  weights: string;
  /** Filters of each stage's prunable convolutions, e.g. "10/16/32". */
  filters: Record<string, string>;
  params: Record<string, number>;
  /** PNet FLOPs at 12×12. */
  pnetFlops: number;
  cascade: FaceScore;
  /** PNet alone and PNet + RNet: their calibrated boxes after NMS, at their thresholds. */
  pnet: FaceScore;
  rnet: FaceScore;
}

const task: Task = {
  name: "eval:faces",
  description: "Recall and precision at IoU 0.5 of cascades on annotated photos (dlib XML)",
  positionals: "[[name=]weights ...]",
  positionalCount: [0, 32],
  flags: {
    faces: {
      type: "string",
      default: "../shared/faces/training.xml",
      meta: "XML",
      help: "dlib imglab XML; image paths relative to its folder",
    },
    iou: { type: "number", default: 0.5, help: "IoU a detection needs to match a face" },
    "min-face": { type: "integer", default: 20, help: "smallest face side searched, pixels" },
    out: {
      type: "string",
      meta: "FILE",
      help: "write the table as JSON here and as Markdown beside it",
    },
  },
  async run({ flags, positionals }) {
    const specs = positionals.length
      ? positionals
      : [(await ensureOriginalWeights()).pnet.replace(/\/pnet\.mtcnn$/, "")];
    const iou = flags.iou as number;
    if (!(iou > 0 && iou <= 1)) fail(`--iou must be in (0, 1], got ${iou}`);
    const xml = flags.faces as string;
    const rows: Row[] = [];
    for (const arg of specs) {
      const eq = arg.indexOf("=");
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const spec = eq > 0 ? arg.slice(eq + 1) : arg;
      const paths = await resolveWeightPaths(spec);
      const filters: Row["filters"] = {};
      const params: Row["params"] = {};
      let pnetFlops = 0;
      for (const [stage, p] of Object.entries(paths)) {
        const d = await loadNetData(p!);
        filters[stage] = Object.values(filterCounts(d.arch)).join("/");
        params[stage] = paramCount(d.arch);
        if (stage === "pnet") pnetFlops = archFlops(d.arch);
      }
      const minFaceSize = flags["min-face"] as number;
      const cascade = await evaluateFaceSet(await loadDetector(spec, { minFaceSize }), xml, iou);
      const pnet = await evaluateFaceSet(
        await loadDetector(spec, { minFaceSize, stage: "pnet" }),
        xml,
        iou,
      );
      const rnet = await evaluateFaceSet(
        await loadDetector(spec, { minFaceSize, stage: "rnet" }),
        xml,
        iou,
      );
      const { perImage: _a, ...c } = cascade;
      const { perImage: _b, ...p } = pnet;
      const { perImage: _c, ...r } = rnet;
      rows.push({ name, weights: spec, filters, params, pnetFlops, cascade: c, pnet: p, rnet: r });
    }
    const md = facesTable(rows, xml, iou);
    console.log(md);
    if (flags.out) {
      const out = flags.out as string;
      await writeJsonAtomic(out, { faces: xml, iou, rows });
      await writeTextFileAtomic(out.replace(/\.json$/, "") + ".md", md + "\n");
      console.log(`\ntables: ${out}, ${out.replace(/\.json$/, "")}.md`);
    }
  },
};

function facesTable(rows: Row[], xml: string, iou: number): string {
  const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) + "%" : "-");
  const lines = [
    "| cascade | filters P / R / O | PNet params | PNet FLOPs | recall | precision | median IoU | PNet boxes | PNet recall | RNet boxes | RNet recall |",
    "| :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const c = r.cascade;
    lines.push(
      `| ${r.name} | ${r.filters.pnet} · ${r.filters.rnet} · ${r.filters.onet} | ${r.params.pnet} | ${r.pnetFlops} | ` +
        `${c.found}/${c.faces} (${pct(c.recall)}) | ${c.correct}/${c.detections} (${
          pct(c.precision)
        }) | ` +
        `${
          c.medianIoU.toFixed(2)
        } | ${r.pnet.detections} | ${r.pnet.found}/${r.pnet.faces} | ${r.rnet.detections} | ${r.rnet.found}/${r.rnet.faces} |`,
    );
  }
  lines.push(
    "",
    `${
      rows[0]?.cascade.images ?? 0
    } real photos of ${xml}, IoU >= ${iou}, greedy one-to-one matching by score; ` +
      "the default cascade config (thresholds 0.6 / 0.7 / 0.7, min face as given).",
  );
  return lines.join("\n");
}

export default task;
