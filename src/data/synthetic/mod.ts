/**
 * The synthetic sample dataset: small, deterministic, in WIDER FACE layout,
 * with exact ground truth, so the whole pipeline runs (and its tests pass)
 * without downloading WIDER.
 *
 * ```
 * <out>/WIDER_train/images/<event>/<name>.jpg
 * <out>/WIDER_val/images/<event>/<name>.jpg
 * <out>/wider_face_split/wider_face_train_bbx_gt.txt   (and _val_)
 * <out>/landmarks/trainImageList.txt                   (LFW+Net format; paths relative to landmarks/)
 * <out>/manifest.json                                  (seed, counts, generator version)
 * ```
 *
 * Each image is drawn from `Rng.derive(seed, key)` with `key` = image index
 * (train) or `VAL_KEY_OFFSET` + index (val), so an image depends only on the
 * seed, its split and its index: the same seed gives byte-identical files
 * whatever the number of workers or images.
 *
 * What is drawn (see `face.ts` for the face model and the box rule, `scene.ts`
 * for scenes): faces from ~12 px to about half the image with varied skin,
 * hair, roll and yaw, blur, lighting and occluders, on cluttered backgrounds
 * with face-like distractors (featureless skin ellipses, backs of heads, two-dot
 * patterns, balls, clocks, wheels, hands) that are not annotated.
 *
 * @example
 * ```ts
 * import { renderSyntheticImage, writeSyntheticDataset } from "./mod.ts";
 * const one = renderSyntheticImage(7, "train", 0);       // pixels + boxes in memory
 * await writeSyntheticDataset("data/sample", { seed: 7, train: 300, val: 100 });
 * ```
 *
 * @module
 */
import type { FaceBox, ImageAnnotation } from "../types.ts";
import type { RgbImage } from "../../image/types.ts";
import { encodeJpeg } from "../../image/encode.ts";
import { formatWiderGt } from "../wider.ts";
import { writeFileAtomic, writeJsonAtomic, writeTextFileAtomic } from "../../io/mod.ts";
import { Rng } from "../../util/random.ts";
import { renderScene, SCENE_EVENTS } from "./scene.ts";

export { renderScene, SCENE_EVENTS, type SceneImage, type SceneOptions } from "./scene.ts";
export {
  faceAnnotation,
  faceExtent,
  faceLandmarks,
  type FaceSpec,
  occludedFraction,
} from "./face.ts";

/** Version of the generator; bump it whenever the same seed would give different files. */
export const SYNTHETIC_VERSION = 1;

/** Val image `i` is drawn from key `VAL_KEY_OFFSET + i` (train image `i` from key `i`). */
export const VAL_KEY_OFFSET = 1 << 24;

/** A dataset split. */
export type Split = "train" | "val";

/** Options of {@linkcode writeSyntheticDataset}. */
export interface SyntheticOptions {
  seed: number;
  /** Number of train / val images (default 300 / 100). */
  train?: number;
  val?: number;
  /** Fixed image size; each image draws 320..640 × 240..480 when absent. */
  width?: number;
  height?: number;
  /** Parallel workers (default 1: in this thread). The files do not depend on it. */
  workers?: number;
  /** Called after each image is written. */
  onImage?: () => void;
}

/** One rendered image with its place in the dataset. */
export interface SyntheticImage {
  split: Split;
  index: number;
  /** Path relative to `WIDER_<split>/images/`, e.g. `2--Crowd/2_Crowd_train_000017.jpg`. */
  path: string;
  image: RgbImage;
  /** JPEG quality this image is saved with (part of the randomness). */
  quality: number;
  faces: FaceBox[];
}

/** Counts written to the manifest for one split. */
export interface SplitSummary {
  images: number;
  faces: number;
  emptyImages: number;
  /** Histograms of the WIDER attributes over the split's faces. */
  blur: [number, number, number];
  illumination: [number, number];
  occlusion: [number, number, number];
  pose: [number, number];
  /** Smallest and largest box side (max of w, h) in pixels. */
  boxSide: [number, number];
}

/** The content of `manifest.json`. */
export interface SyntheticManifest {
  generator: string;
  version: number;
  seed: number;
  size: { width: number | null; height: number | null };
  splits: Record<Split, SplitSummary & { images_dir: string; gt: string }>;
  landmarks: { file: string; faces: number; pathsRelativeTo: string };
}

function checkCount(what: string, n: number, max: number) {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(`synthetic: ${what} must be an integer in 0..${max}, got ${n}`);
  }
}

function checkSize(what: string, n: number | undefined) {
  if (n !== undefined && (!Number.isInteger(n) || n < 64 || n > 4096)) {
    throw new RangeError(`synthetic: ${what} must be an integer in 64..4096, got ${n}`);
  }
}

/** The image file name for `event`, split and index, WIDER style (`<k>_<Event>_<split>_<index>.jpg`). */
export function imageName(event: string, split: Split, index: number): string {
  const [k, name] = event.split("--");
  return `${event}/${k}_${name}_${split}_${String(index).padStart(6, "0")}.jpg`;
}

/**
 * Renders image `index` of `split` for `seed` (pixels and ground truth, no file).
 *
 * @example
 * ```ts
 * const im = renderSyntheticImage(1, "val", 3, { width: 320, height: 240 });
 * im.path;   // e.g. "1--Group/1_Group_val_000003.jpg"
 * ```
 */
export function renderSyntheticImage(
  seed: number,
  split: Split,
  index: number,
  size: { width?: number; height?: number } = {},
): SyntheticImage {
  checkCount("the image index", index, VAL_KEY_OFFSET - 1);
  checkSize("width", size.width);
  checkSize("height", size.height);
  const key = split === "train" ? index : VAL_KEY_OFFSET + index;
  const scene = renderScene(Rng.derive(seed, key), size);
  return {
    split,
    index,
    path: imageName(scene.event, split, index),
    image: scene.image,
    quality: scene.quality,
    faces: scene.faces,
  };
}

/** The encoded result of one image, as workers return it. */
export interface EncodedImage {
  split: Split;
  index: number;
  path: string;
  jpeg: Uint8Array;
  faces: FaceBox[];
}

/** A job of the dataset writer. */
export interface SyntheticJob {
  seed: number;
  split: Split;
  index: number;
  width?: number;
  height?: number;
}

/** Renders and JPEG-encodes one job (what each worker does). */
export function encodeSyntheticJob(job: SyntheticJob): EncodedImage {
  const im = renderSyntheticImage(job.seed, job.split, job.index, job);
  return {
    split: im.split,
    index: im.index,
    path: im.path,
    jpeg: encodeJpeg(im.image, im.quality),
    faces: im.faces,
  };
}

/** Formats a number with at most 3 decimals (no trailing zeros). */
function num(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

/**
 * Formats faces as an LFW+Net landmark list: one face per line,
 * `path left right top bottom x1 y1 ... x5 y5` (faces without landmarks are skipped).
 *
 * @example
 * ```ts
 * formatLandmarkList([{ path: "a.jpg", faces: [{ x: 1, y: 2, w: 10, h: 12, landmarks: [3, 5, 8, 5, 5.5, 8, 4, 10, 7, 10] }] }]);
 * // "a.jpg 1 11 2 14 3 5 8 5 5.5 8 4 10 7 10\n"
 * ```
 */
export function formatLandmarkList(images: readonly ImageAnnotation[]): string {
  const out: string[] = [];
  for (const im of images) {
    if (/\s/.test(im.path)) {
      throw new RangeError(
        `formatLandmarkList: image path ${JSON.stringify(im.path)} contains whitespace`,
      );
    }
    for (const f of im.faces) {
      if (!f.landmarks) continue;
      if (f.landmarks.length !== 10) {
        throw new RangeError(
          `formatLandmarkList: "${im.path}": expected 10 landmark values, got ${f.landmarks.length}`,
        );
      }
      out.push([im.path, f.x, f.x + f.w, f.y, f.y + f.h, ...f.landmarks.map(num)].join(" "));
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}

function summarize(images: readonly ImageAnnotation[]): SplitSummary {
  const s: SplitSummary = {
    images: images.length,
    faces: 0,
    emptyImages: 0,
    blur: [0, 0, 0],
    illumination: [0, 0],
    occlusion: [0, 0, 0],
    pose: [0, 0],
    boxSide: [0, 0],
  };
  let lo = Infinity, hi = 0;
  for (const im of images) {
    if (im.faces.length === 0) s.emptyImages++;
    for (const f of im.faces) {
      s.faces++;
      const a = f.attributes!;
      s.blur[a.blur]++;
      s.illumination[a.illumination]++;
      s.occlusion[a.occlusion]++;
      s.pose[a.pose]++;
      lo = Math.min(lo, Math.max(f.w, f.h));
      hi = Math.max(hi, Math.max(f.w, f.h));
    }
  }
  s.boxSide = s.faces ? [lo, hi] : [0, 0];
  return s;
}

/** Runs the jobs in this thread, in order. */
async function* inProcess(jobs: SyntheticJob[]): AsyncGenerator<EncodedImage> {
  for (const job of jobs) yield encodeSyntheticJob(job);
}

/** Runs the jobs on `n` workers, yielding results in job order. */
async function* onWorkers(jobs: SyntheticJob[], n: number): AsyncGenerator<EncodedImage> {
  const workers: Worker[] = [];
  const done = new Map<number, EncodedImage>();
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let next = 0, out = 0;
  const inflight = new Array<number>(n).fill(0);
  const feed = (w: number) => {
    while (inflight[w] < 2 && next < jobs.length) {
      inflight[w]++;
      workers[w].postMessage({ id: next, job: jobs[next] });
      next++;
    }
  };
  for (let w = 0; w < n; w++) {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent) => {
      const { id, result, error } = e.data;
      inflight[w]--;
      if (error !== undefined) failure ??= new Error(error);
      else done.set(id, result);
      feed(w);
      wake?.();
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      failure ??= new Error(`synthetic worker failed: ${e.message}`);
      wake?.();
    };
    workers.push(worker);
  }
  try {
    for (let w = 0; w < n; w++) feed(w);
    while (out < jobs.length) {
      if (failure) throw failure;
      const r = done.get(out);
      if (r) {
        done.delete(out++);
        yield r;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    for (const w of workers) w.terminate();
  }
}

/** Matches the names {@linkcode imageName} gives, to clean up files of an earlier, larger run. */
const OWN_NAME = /^\d+_[A-Za-z]+_(train|val)_\d{6}\.jpg$/;

/**
 * Writes the whole dataset under `out` (see the module doc for the layout)
 * and returns the manifest it wrote. Files are written atomically; images of
 * an earlier run that are not part of this one (same naming scheme, same
 * event folders) are removed so the folders match the ground truth.
 *
 * @example
 * ```ts
 * const m = await writeSyntheticDataset("data/sample", { seed: 1, train: 20, val: 5 });
 * m.splits.train.faces;   // number of train faces
 * ```
 */
export async function writeSyntheticDataset(
  out: string,
  opts: SyntheticOptions,
): Promise<SyntheticManifest> {
  const train = opts.train ?? 300, val = opts.val ?? 100;
  if (!Number.isInteger(opts.seed)) {
    throw new RangeError(`synthetic: seed must be an integer, got ${opts.seed}`);
  }
  checkCount("train", train, VAL_KEY_OFFSET);
  checkCount("val", val, VAL_KEY_OFFSET);
  checkSize("width", opts.width);
  checkSize("height", opts.height);
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`synthetic: workers must be a positive integer, got ${workers}`);
  }
  const jobs: SyntheticJob[] = [];
  const base = { seed: opts.seed, width: opts.width, height: opts.height };
  for (let i = 0; i < train; i++) jobs.push({ ...base, split: "train", index: i });
  for (let i = 0; i < val; i++) jobs.push({ ...base, split: "val", index: i });

  const annotations: Record<Split, ImageAnnotation[]> = { train: [], val: [] };
  const results = workers > 1 && jobs.length > 1
    ? onWorkers(jobs, Math.min(workers, jobs.length))
    : inProcess(jobs);
  for await (const r of results) {
    await writeFileAtomic(`${out}/WIDER_${r.split}/images/${r.path}`, r.jpeg);
    annotations[r.split].push({ path: r.path, faces: r.faces });
    opts.onImage?.();
  }
  for (const split of ["train", "val"] as const) {
    await removeStale(
      `${out}/WIDER_${split}/images`,
      new Set(annotations[split].map((a) => a.path)),
    );
    await writeTextFileAtomic(
      `${out}/wider_face_split/wider_face_${split}_bbx_gt.txt`,
      formatWiderGt(annotations[split]),
    );
  }
  const lfw = annotations.train.map((a) => ({
    path: `../WIDER_train/images/${a.path}`,
    faces: a.faces,
  }));
  await writeTextFileAtomic(`${out}/landmarks/trainImageList.txt`, formatLandmarkList(lfw));
  const manifest: SyntheticManifest = {
    generator: "mtcnn-toolkit synthetic faces (src/data/synthetic)",
    version: SYNTHETIC_VERSION,
    seed: opts.seed,
    size: { width: opts.width ?? null, height: opts.height ?? null },
    splits: {
      train: {
        images_dir: "WIDER_train/images",
        gt: "wider_face_split/wider_face_train_bbx_gt.txt",
        ...summarize(annotations.train),
      },
      val: {
        images_dir: "WIDER_val/images",
        gt: "wider_face_split/wider_face_val_bbx_gt.txt",
        ...summarize(annotations.val),
      },
    },
    landmarks: {
      file: "landmarks/trainImageList.txt",
      faces: annotations.train.reduce((n, a) => n + a.faces.length, 0),
      pathsRelativeTo: "landmarks/",
    },
  };
  await writeJsonAtomic(`${out}/manifest.json`, manifest);
  return manifest;
}

async function removeStale(imagesDir: string, keep: Set<string>): Promise<void> {
  for (const event of SCENE_EVENTS) {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(`${imagesDir}/${event}`));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const e of entries) {
      if (e.isFile && OWN_NAME.test(e.name) && !keep.has(`${event}/${e.name}`)) {
        await Deno.remove(`${imagesDir}/${event}/${e.name}`);
      }
    }
  }
}
