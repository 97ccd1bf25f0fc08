/**
 * The hook between a detector and the WIDER evaluation: run a `detect` callback on every
 * validation image and write its boxes in the official prediction layout
 * (`<out>/<event>/<image>.txt`), which {@linkcode readWiderPredictions} and the official
 * MATLAB tools read.
 *
 * The run is resumable: each file is written atomically, and with `resume` (the default)
 * images whose file already exists are skipped, so an interrupted run continues where it
 * stopped. The detector itself lives elsewhere (src/detect); anything with the
 * {@linkcode DetectFn} shape plugs in.
 *
 * @example
 * ```ts
 * import { writeWiderPredictions } from "./wider_predict.ts";
 * await writeWiderPredictions({
 *   images: gt.images,
 *   imagesDir: "data/WIDER/WIDER_val/images",
 *   outDir: "out/wider_pred",
 *   detect: (img) => detector.detect(img),   // => [{ x, y, w, h, score }, ...]
 * });
 * ```
 * @module
 */
import { readImage } from "../image/decode.ts";
import type { RgbImage } from "../image/types.ts";
import { exists, writeTextFileAtomic } from "../io/mod.ts";
import { formatWiderPrediction, type ScoredBox, widerPredictionPath } from "./wider.ts";

/** A face detector as the evaluation sees it: an image in, scored `x, y, w, h` boxes out. */
export type DetectFn = (image: RgbImage, path: string) => ScoredBox[] | Promise<ScoredBox[]>;

/** Options of {@linkcode writeWiderPredictions}. */
export interface WriteWiderPredictionsOptions {
  /** Image paths `<event>/<file>.jpg`, relative to `imagesDir` (e.g. `WiderGroundTruth.images`). */
  images: readonly string[];
  /** The folder the paths are relative to (`WIDER_val/images`). */
  imagesDir: string;
  /** Where `<event>/<file>.txt` files go. */
  outDir: string;
  detect: DetectFn;
  /** Skip images whose prediction file exists (default true). */
  resume?: boolean;
  /** Called after each image (for progress). */
  onImage?: (done: number, total: number, path: string, skipped: boolean) => void;
  /** How images are read (default: `readImage` of src/image). */
  loadImage?: (path: string) => Promise<RgbImage>;
}

/**
 * Runs `detect` on every image and writes one prediction file per image in the official
 * layout (first line the image name without extension). Returns how many files were
 * written and how many were already there.
 *
 * @example
 * ```ts
 * const { written, skipped } = await writeWiderPredictions({ images, imagesDir, outDir, detect });
 * ```
 */
export async function writeWiderPredictions(
  options: WriteWiderPredictionsOptions,
): Promise<{ written: number; skipped: number }> {
  const { images, imagesDir, outDir, detect } = options;
  const resume = options.resume ?? true;
  const load = options.loadImage ?? readImage;
  let written = 0, skipped = 0;
  for (let i = 0; i < images.length; i++) {
    const path = images[i];
    const out = widerPredictionPath(outDir, path);
    if (resume && await exists(out)) {
      skipped++;
      options.onImage?.(i + 1, images.length, path, true);
      continue;
    }
    const image = await load(`${imagesDir}/${path}`);
    const boxes = await detect(image, path);
    const name = path.slice(path.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
    await writeTextFileAtomic(out, formatWiderPrediction(name, boxes));
    written++;
    options.onImage?.(i + 1, images.length, path, false);
  }
  return { written, skipped };
}

/** Options of {@linkcode predictWider}. */
export interface PredictWiderOptions {
  /** Image paths `<event>/<file>.jpg`, relative to `imagesDir`. */
  images: readonly string[];
  imagesDir: string;
  outDir: string;
  /** The cascade's weights (default: the imported original MTCNN). */
  weights?: import("../detect/mod.ts").WeightsSpec;
  config?: import("../detect/mod.ts").DetectorConfigInput;
  /** Deno Workers running the detector, one wasm backend each (default 1). */
  workers?: number;
  /** Called after each image. */
  onImage?: (done: number, total: number) => void;
}

/**
 * Runs the detector over the images on workers and writes predictions in the
 * official layout; images whose file exists are skipped (resumable). An
 * unreadable image is counted and written as no detections.
 */
export async function predictWider(
  opts: PredictWiderOptions,
): Promise<{ written: number; skipped: number; failed: string[] }> {
  const { orderedMap } = await import("../util/pool.ts");
  const { toScoredBox } = await import("../detect/boxes.ts");
  const todo: string[] = [];
  for (const p of opts.images) {
    if (!(await exists(widerPredictionPath(opts.outDir, p)))) todo.push(p);
  }
  const skipped = opts.images.length - todo.length;
  const failed: string[] = [];
  let done = skipped;
  const results = orderedMap<{ path: string }, import("../detect/mod.ts").DetectedFace[], unknown>(
    todo.map((p) => ({ path: `${opts.imagesDir}/${p}` })),
    {
      workerUrl: new URL("../detect/worker_main.ts", import.meta.url),
      init: { weights: opts.weights, config: opts.config ?? {} },
      workers: opts.workers ?? 1,
    },
  );
  for await (const r of results) {
    const path = todo[r.index];
    if (r.error !== undefined) failed.push(`${path}: ${r.error}`);
    const name = path.slice(path.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
    await writeTextFileAtomic(
      widerPredictionPath(opts.outDir, path),
      formatWiderPrediction(name, (r.result ?? []).map(toScoredBox)),
    );
    done++;
    opts.onImage?.(done, opts.images.length);
  }
  return { written: todo.length, skipped, failed };
}
