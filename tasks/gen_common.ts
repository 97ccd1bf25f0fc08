/** Flags, input resolution and the summary line shared by gen-pnet, gen-rnet and gen-onet (not a task). */
import { type FlagSpec, type FlagValues, type Progress, progress } from "../src/cli/mod.ts";
import { readAnnotations } from "../src/data/mod.ts";
import type { ImageAnnotation } from "../src/data/types.ts";
import type { GenerateSummary } from "../src/sampling/generate.ts";

/** The split flags (`--mode --root --images --annotations --out --seed --workers --limit`). */
export function splitFlags(outDefault: string, seedHelp: string): Record<string, FlagSpec> {
  return {
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
    out: { type: "string", meta: "DIR", help: `output dataset folder [default: ${outDefault}]` },
    seed: { type: "integer", default: 1, help: seedHelp },
    workers: {
      type: "integer",
      default: navigator.hardwareConcurrency,
      help: "worker threads (0: inline)",
    },
    limit: { type: "integer", meta: "N", help: "use only the first N images" },
  };
}

/** The resolved split: paths, the annotated images (after --limit) and a progress line. */
export interface Split {
  mode: string;
  images: string;
  annotations: string;
  out: string;
  list: ImageAnnotation[];
  bar: Progress;
  source: Record<string, unknown>;
}

/** Resolves the split flags, checks them, and reads the annotations (one-line errors). */
export async function readSplit(flags: FlagValues, name: string, outDir: string): Promise<Split> {
  const mode = flags.mode as string;
  const root = flags.root as string;
  const images = (flags.images as string | undefined) ?? `${root}/WIDER_${mode}/images`;
  const annotations = (flags.annotations as string | undefined) ??
    `${root}/wider_face_split/wider_face_${mode}_bbx_gt.txt`;
  const out = (flags.out as string | undefined) ?? `${outDir}/${mode}`;
  if ((flags.workers as number) < 0) {
    throw new RangeError(`--workers must be >= 0, got ${flags.workers}`);
  }
  if (flags.limit !== undefined && (flags.limit as number) < 1) {
    throw new RangeError(`--limit must be >= 1, got ${flags.limit}`);
  }
  let list = await readAnnotations(annotations);
  if (list.length === 0) throw new TypeError(`Cannot read "${annotations}": no images listed`);
  if (flags.limit !== undefined) list = list.slice(0, flags.limit as number);
  return {
    mode,
    images,
    annotations,
    out,
    list,
    bar: progress(name, list.length, "img"),
    source: { annotations, images, mode, limit: flags.limit ?? null },
  };
}

/** Prints what a run produced: rates, `detail`, totals, and the unreadable images. */
export function printSummary(out: string, summary: GenerateSummary, detail: string): void {
  const c = summary.manifest.counts;
  if (summary.skipped) console.log(`resumed after ${summary.skipped} images already in ${out}`);
  console.log(
    `${out}: ${summary.images} images in ${summary.seconds.toFixed(1)} s ` +
      `(${(summary.images / summary.seconds).toFixed(1)} img/s, ${detail}); ` +
      `totals pos ${c.pos}, part ${c.part}, neg ${c.neg}`,
  );
  if (summary.failed) {
    console.log(`skipped ${summary.failed} unreadable image(s):`);
    for (const f of summary.failures) console.log(`  ${f}`);
  }
}
