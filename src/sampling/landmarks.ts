/**
 * Landmark training samples (ONet's landmark head, label `landmark`): the
 * seed's `gen_Onet_landmark.py` as a pure function of (image size, face,
 * random stream, config) returning the crops to take, plus the horizontal
 * flip that the seed meant to add (its flip path is broken) done right.
 *
 * Per face (one LFW / CelebA entry with 5 landmarks), `cropsPerFace` square
 * crops are jittered around the face as the seed does — side
 * `randint(int(min(w, h) * 0.8), ceil(1.25 * max(w, h)))`, centre shift
 * `randint(-0.2 w, 0.2 w)`, `randint(-0.2 h, 0.2 h)` — and kept when their
 * IoU with the face is above 0.65 (strictly, as the seed). Two departures:
 *
 * - the crop's corner is rounded down to whole pixels *before* the offsets and
 *   landmarks are computed, so they describe exactly the pixels taken (the
 *   seed cuts at `int(nx1)` but measures from the fractional `nx1`);
 * - by default a crop is dropped when a landmark falls outside it, so every
 *   landmark target lies in [0, 1] (the original MTCNN landmark generator's rule).
 *
 * The landmarks go in the landmark field, in `(x1, y1, ..., x5, y5)` order,
 * relative to the crop: `((lx - nx1) / size, (ly - ny1) / size)`. The seed
 * wrote them into its box fields and reordered them `x1..x5, y1..y5`.
 *
 * Box conventions are gen-pnet's (src/sampling/pnet.ts): face pixels
 * `x1 .. x2 = x1 + w - 1` inclusive, IoU counting pixels (`+1`), offsets
 * `(x1 - nx1) / size, (y1 - ny1) / size, (x2 - nx2) / size, (y2 - ny2) / size`
 * with `nx2 = nx1 + size`.
 *
 * @example
 * ```ts
 * const crops = sampleLandmarkFace(640, 480, face, Rng.derive(1, 0), DEFAULT_LANDMARK_SAMPLING, iouOneToMany);
 * for (const c of crops) console.log(c.x, c.y, c.size, c.landmarks);
 * ```
 *
 * @module
 */
import type { FaceBox } from "../data/types.ts";
import type { Rng } from "../util/random.ts";
import type { IouFn } from "./pnet.ts";

/** The sampling numbers; defaults are the seed's except `cropsPerFace` (seed: 15). */
export interface LandmarkSamplingConfig {
  /** Jittered crops tried per face. */
  cropsPerFace: number;
  /** Faces with max(w, h) below this get no samples. */
  minFace: number;
  /** A crop is kept when its IoU with the face is above this (strictly). */
  minIou: number;
  /** Crop side range, as fractions of min(w, h) and max(w, h). */
  cropScale: [number, number];
  /** Maximum shift of the crop centre, as a fraction of the face's w and h. */
  shift: number;
  /** Also store each kept crop mirrored (left and right points swapped). */
  flip: boolean;
  /** Drop crops with a landmark outside [0, 1] of the crop. */
  landmarksInside: boolean;
}

export const DEFAULT_LANDMARK_SAMPLING: LandmarkSamplingConfig = {
  cropsPerFace: 10,
  minFace: 40,
  minIou: 0.65,
  cropScale: [0.8, 1.25],
  shift: 0.2,
  flip: true,
  landmarksInside: true,
};

/** Fills defaults and rejects unknown keys or bad values (RangeError naming the key). */
export function resolveLandmarkConfig(
  partial: Partial<LandmarkSamplingConfig> = {},
): LandmarkSamplingConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_LANDMARK_SAMPLING)) {
      throw new RangeError(`unknown landmark sampling option "${key}"`);
    }
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const cfg = { ...DEFAULT_LANDMARK_SAMPLING, ...defined } as LandmarkSamplingConfig;
  for (const key of ["cropsPerFace", "minFace"] as const) {
    if (!Number.isInteger(cfg[key]) || cfg[key] < 0) {
      throw new RangeError(
        `landmark sampling option "${key}" must be an integer >= 0, got ${cfg[key]}`,
      );
    }
  }
  if (!(cfg.minIou >= 0 && cfg.minIou <= 1)) {
    throw new RangeError(`landmark sampling option "minIou" must be in [0, 1], got ${cfg.minIou}`);
  }
  if (!(cfg.cropScale[0] > 0 && cfg.cropScale[1] >= cfg.cropScale[0])) {
    throw new RangeError(`landmark sampling option "cropScale" must be 0 < lo <= hi`);
  }
  if (!(cfg.shift >= 0)) throw new RangeError(`landmark sampling option "shift" must be >= 0`);
  return cfg;
}

/** One landmark crop: whole-pixel square, box offsets and landmarks in crop units. */
export interface LandmarkCrop {
  /** Pixel region [x, x + size) x [y, y + size); always inside the image. */
  x: number;
  y: number;
  size: number;
  offsets: [number, number, number, number];
  /** (x1, y1, ..., x5, y5): left eye, right eye, nose, left mouth, right mouth. */
  landmarks: number[];
}

/** numpy's `randint(lo, hi)` with float bounds truncated toward zero, as the seed calls it. */
function randint(rng: Rng, lo: number, hi: number): number {
  return rng.int(Math.trunc(lo), Math.trunc(hi));
}

/**
 * Why a face gets no samples, or undefined when it is usable: no 5 finite
 * landmarks, smaller than `minFace`, or not wholly inside the image.
 *
 * @example
 * ```ts
 * faceSkipReason({ x: 0, y: 0, w: 20, h: 20, landmarks }, 640, 480, 40); // "small"
 * ```
 */
export function faceSkipReason(
  face: FaceBox,
  width: number,
  height: number,
  minFace: number,
): "landmarks" | "small" | "outside" | undefined {
  const lm = face.landmarks;
  if (!lm || lm.length !== 10 || !lm.every(Number.isFinite)) return "landmarks";
  if (![face.x, face.y, face.w, face.h].every(Number.isFinite)) return "outside";
  const x1 = Math.trunc(face.x), y1 = Math.trunc(face.y);
  const w = Math.trunc(face.w), h = Math.trunc(face.h);
  if (w <= 0 || h <= 0 || Math.max(w, h) < minFace) return "small";
  if (x1 < 0 || y1 < 0 || x1 + w - 1 >= width || y1 + h - 1 >= height) return "outside";
  return undefined;
}

/**
 * The crops the seed's landmark generator would take around one face (in
 * its order), with whole-pixel corners and landmarks in crop units. Faces
 * that {@linkcode faceSkipReason} rejects give none. The random stream is
 * consumed the same way whatever is kept.
 */
export function sampleLandmarkFace(
  width: number,
  height: number,
  face: FaceBox,
  rng: Rng,
  cfg: LandmarkSamplingConfig,
  iou: IouFn,
): LandmarkCrop[] {
  const out: LandmarkCrop[] = [];
  if (faceSkipReason(face, width, height, cfg.minFace) !== undefined) return out;
  const lm = face.landmarks!;
  const x1 = Math.trunc(face.x), y1 = Math.trunc(face.y);
  const w = Math.trunc(face.w), h = Math.trunc(face.h);
  const x2 = x1 + w - 1, y2 = y1 + h - 1;
  const lo = Math.trunc(Math.min(w, h) * cfg.cropScale[0]);
  const hi = Math.ceil(cfg.cropScale[1] * Math.max(w, h));
  if (hi <= lo) return out;
  const faceBox = new Float32Array([x1, y1, x2, y2]);
  const crop = new Float32Array(4);
  const sx = w * cfg.shift, sy = h * cfg.shift;
  for (let i = 0; i < cfg.cropsPerFace; i++) {
    const size = randint(rng, lo, hi);
    const dx = Math.trunc(sx) > Math.trunc(-sx) ? randint(rng, -sx, sx) : 0;
    const dy = Math.trunc(sy) > Math.trunc(-sy) ? randint(rng, -sy, sy) : 0;
    const nx1 = Math.trunc(Math.max(x1 + w / 2 - size / 2 + dx, 0));
    const ny1 = Math.trunc(Math.max(y1 + h / 2 - size / 2 + dy, 0));
    const nx2 = nx1 + size, ny2 = ny1 + size;
    if (nx2 > width || ny2 > height) continue;
    crop[0] = nx1;
    crop[1] = ny1;
    crop[2] = nx2;
    crop[3] = ny2;
    if (!(iou(crop, faceBox, true)[0] > cfg.minIou)) continue;
    const landmarks = new Array<number>(10);
    let inside = true;
    for (let k = 0; k < 5; k++) {
      const u = (lm[2 * k] - nx1) / size, v = (lm[2 * k + 1] - ny1) / size;
      landmarks[2 * k] = u;
      landmarks[2 * k + 1] = v;
      if (!(u >= 0 && u <= 1 && v >= 0 && v <= 1)) inside = false;
    }
    if (cfg.landmarksInside && !inside) continue;
    out.push({
      x: nx1,
      y: ny1,
      size,
      offsets: [(x1 - nx1) / size, (y1 - ny1) / size, (x2 - nx2) / size, (y2 - ny2) / size],
      landmarks,
    });
  }
  return out;
}

/** Which point each point becomes in a mirror image: the eyes swap, the mouth corners swap. */
export const MIRROR_POINTS = [1, 0, 2, 4, 3] as const;

/**
 * Landmarks (crop units, `x1, y1, ..., x5, y5`) of the horizontally mirrored
 * crop: `x -> 1 - x`, and left and right points swap roles (the old right eye
 * is the new left eye), so that point 1 stays the eye on the image's left.
 *
 * @example
 * ```ts
 * flipLandmarks([0.3, 0.4, 0.7, 0.4, 0.5, 0.6, 0.35, 0.8, 0.65, 0.8]);
 * // [0.3, 0.4, 0.7, 0.4, 0.5, 0.6, 0.35, 0.8, 0.65, 0.8] (a symmetric face maps to itself)
 * ```
 */
export function flipLandmarks(lm: ArrayLike<number>): number[] {
  const out = new Array<number>(10);
  for (let k = 0; k < 5; k++) {
    const from = MIRROR_POINTS[k];
    out[2 * k] = 1 - lm[2 * from];
    out[2 * k + 1] = lm[2 * from + 1];
  }
  return out;
}

/**
 * Box offsets of the horizontally mirrored crop of side `size`. With
 * inclusive face pixels the mirror of columns `a .. b` is `size-1-b .. size-1-a`,
 * hence `o1' = -o3 - 1/size`, `o3' = -o1 - 1/size`; the y offsets stay.
 *
 * @example
 * ```ts
 * flipOffsets([0.1, 0.05, -0.2, 0], 48); // [0.2 - 1/48, 0.05, -0.1 - 1/48, 0]
 * ```
 */
export function flipOffsets(o: ArrayLike<number>, size: number): [number, number, number, number] {
  return [-o[2] - 1 / size, o[1], -o[0] - 1 / size, o[3]];
}

/**
 * Mirrors `count` square samples of side `size` (HWC bytes, back to back)
 * left to right, in place.
 *
 * @example
 * ```ts
 * flipSamplesHorizontal(pixels, 48, 3, 10);
 * ```
 */
export function flipSamplesHorizontal(
  pixels: Uint8Array,
  size: number,
  channels: number,
  count: number,
): void {
  if (pixels.length < count * size * size * channels) {
    throw new RangeError(
      `flipSamplesHorizontal: ${pixels.length} bytes for ${count} samples of ${size}x${size}x${channels}`,
    );
  }
  const row = size * channels;
  for (let r = 0; r < count * size; r++) {
    const base = r * row;
    for (let a = 0, b = size - 1; a < b; a++, b--) {
      const pa = base + a * channels, pb = base + b * channels;
      for (let c = 0; c < channels; c++) {
        const t = pixels[pa + c];
        pixels[pa + c] = pixels[pb + c];
        pixels[pb + c] = t;
      }
    }
  }
}
