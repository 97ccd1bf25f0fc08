/**
 * PNet training samples from annotated images: the seed's `gen_Pnet_data.py`,
 * as a pure function of (image size, faces, random stream, config) that
 * returns the crops to take. Cropping and resizing happen elsewhere, in one
 * kernel call per image.
 *
 * Conventions follow the seed (and the original MTCNN release): faces are
 * `x1, y1, x2 = x1 + w - 1, y2 = y1 + h - 1`; IoU counts pixels (`+1`);
 * candidate crops are squares `[nx1, nx1 + size]`; box offsets are
 * `(x1 - nx1) / size, (y1 - ny1) / size, (x2 - nx2) / size, (y2 - ny2) / size`.
 *
 * @example
 * ```ts
 * const crops = sampleImage(640, 480, faces, new Rng(1), DEFAULT_PNET_SAMPLING, iouOneToMany);
 * ```
 */
import type { FaceBox } from "../data/types.ts";
import { Label } from "../data/shards.ts";
import type { Rng } from "../util/random.ts";

/** The sampling numbers, with the seed's values as defaults. */
export interface PnetSamplingConfig {
  /** Random negatives per image (square crops anywhere, IoU < negativeIou with every face). */
  negatives: number;
  /** Tries per image for the random negatives before giving up (the seed loops forever). */
  negativeAttempts: number;
  /** Negatives near each kept face. */
  negativesPerFace: number;
  /** Shifted crops per kept face, labelled positive or part by IoU. */
  cropsPerFace: number;
  /** Faces with max(w, h) below this get no samples (they still count for IoU). */
  minFace: number;
  /** Smallest crop side for negatives. */
  minCrop: number;
  negativeIou: number;
  positiveIou: number;
  partIou: number;
  /** Parts are kept while parts < partCap * positives + 1 (running totals). */
  partCap: number;
  /** Crop side range around a face, as fractions of min(w, h) and max(w, h). */
  cropScale: [number, number];
  /** Maximum shift of the crop centre, as a fraction of the face's w and h. */
  shift: number;
}

export const DEFAULT_PNET_SAMPLING: PnetSamplingConfig = {
  negatives: 35,
  negativeAttempts: 5000,
  negativesPerFace: 5,
  cropsPerFace: 20,
  minFace: 40,
  minCrop: 12,
  negativeIou: 0.3,
  positiveIou: 0.65,
  partIou: 0.4,
  partCap: 1.2,
  cropScale: [0.8, 1.25],
  shift: 0.2,
};

/** Fills defaults and rejects unknown keys or bad values (RangeError naming the key). */
export function resolveSamplingConfig(
  partial: Partial<PnetSamplingConfig> = {},
): PnetSamplingConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_PNET_SAMPLING)) throw new RangeError(`unknown sampling option "${key}"`);
  }
  const cfg = { ...DEFAULT_PNET_SAMPLING, ...partial };
  for (
    const key of [
      "negatives",
      "negativeAttempts",
      "negativesPerFace",
      "cropsPerFace",
      "minFace",
      "minCrop",
    ] as const
  ) {
    if (!Number.isInteger(cfg[key]) || cfg[key] < 0) {
      throw new RangeError(`sampling option "${key}" must be an integer >= 0, got ${cfg[key]}`);
    }
  }
  for (const key of ["negativeIou", "positiveIou", "partIou"] as const) {
    if (!(cfg[key] >= 0 && cfg[key] <= 1)) {
      throw new RangeError(`sampling option "${key}" must be in [0, 1], got ${cfg[key]}`);
    }
  }
  if (!(cfg.partIou <= cfg.positiveIou)) {
    throw new RangeError(`sampling option "partIou" must be <= "positiveIou"`);
  }
  if (!(cfg.cropScale[0] > 0 && cfg.cropScale[1] >= cfg.cropScale[0])) {
    throw new RangeError(`sampling option "cropScale" must be 0 < lo <= hi`);
  }
  if (!(cfg.shift >= 0)) throw new RangeError(`sampling option "shift" must be >= 0`);
  return cfg;
}

/** One crop to take: the integer pixel square, its label and its box offsets. */
export interface CropSample {
  label: Label;
  /** Pixel region [x, x + size) x [y, y + size); always inside the image. */
  x: number;
  y: number;
  size: number;
  /** Box offsets (positives and parts only). */
  offsets?: [number, number, number, number];
}

/** IoU of one box against many, boxes as x1, y1, x2, y2 (the kernel's signature). */
export type IouFn = (box: ArrayLike<number>, boxes: Float32Array, plusOne: boolean) => Float32Array;

/** numpy's `randint(lo, hi)` with float bounds truncated toward zero, as the seed calls it. */
function randint(rng: Rng, lo: number, hi: number): number {
  return rng.int(Math.trunc(lo), Math.trunc(hi));
}

function maxOf(a: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return a.length ? m : 0;
}

/**
 * The crops the seed's gen-pnet would take from one image, in the seed's
 * order (random negatives, then per kept face: near negatives, then
 * positives and parts interleaved). The part cap is not applied here: it
 * depends on running totals over the whole dataset (RunningCaps in hard.ts).
 */
export function sampleImage(
  width: number,
  height: number,
  faces: FaceBox[],
  rng: Rng,
  cfg: PnetSamplingConfig,
  iou: IouFn,
): CropSample[] {
  const out: CropSample[] = [];
  // Faces as x1, y1, x2, y2 (inclusive), clipped to the image for the IoU tests.
  const all = new Float32Array(faces.length * 4);
  faces.forEach((f, i) => {
    all[i * 4] = Math.max(0, Math.min(width - 1, f.x));
    all[i * 4 + 1] = Math.max(0, Math.min(height - 1, f.y));
    all[i * 4 + 2] = Math.max(0, Math.min(width - 1, f.x + f.w - 1));
    all[i * 4 + 3] = Math.max(0, Math.min(height - 1, f.y + f.h - 1));
  });
  const crop = new Float32Array(4);
  const overlap = (x1: number, y1: number, size: number) => {
    crop[0] = x1;
    crop[1] = y1;
    crop[2] = x1 + size;
    crop[3] = y1 + size;
    return faces.length ? maxOf(iou(crop, all, true)) : 0;
  };

  const maxSide = Math.trunc(Math.min(width, height) / 2);
  if (maxSide > cfg.minCrop) {
    let accepted = 0;
    for (let attempt = 0; accepted < cfg.negatives && attempt < cfg.negativeAttempts; attempt++) {
      const size = randint(rng, cfg.minCrop, maxSide);
      const nx = randint(rng, 0, width - size);
      const ny = randint(rng, 0, height - size);
      if (overlap(nx, ny, size) < cfg.negativeIou) {
        out.push({ label: Label.Negative, x: nx, y: ny, size });
        accepted++;
      }
    }
  }

  for (const f of faces) {
    const x1 = Math.trunc(f.x), y1 = Math.trunc(f.y);
    const w = Math.trunc(f.w), h = Math.trunc(f.h);
    const x2 = x1 + w - 1, y2 = y1 + h - 1;
    if (
      !(Number.isFinite(f.x) && Number.isFinite(f.y) && Number.isFinite(f.w) &&
        Number.isFinite(f.h))
    ) continue;
    if (Math.max(w, h) < cfg.minFace || x1 < 0 || y1 < 0 || w <= 0 || h <= 0) continue;
    if (x2 >= width || y2 >= height) continue; // partly outside: skipped for sampling

    if (maxSide > cfg.minCrop) {
      for (let i = 0; i < cfg.negativesPerFace; i++) {
        const size = randint(rng, cfg.minCrop, maxSide);
        const dx = randint(rng, Math.max(-size, -x1), w);
        const dy = randint(rng, Math.max(-size, -y1), h);
        const nx1 = Math.max(0, x1 + dx);
        const ny1 = Math.max(0, y1 + dy);
        if (nx1 + size > width || ny1 + size > height) continue;
        if (overlap(nx1, ny1, size) < cfg.negativeIou) {
          out.push({ label: Label.Negative, x: nx1, y: ny1, size });
        }
      }
    }

    const lo = Math.trunc(Math.min(w, h) * cfg.cropScale[0]);
    const hi = Math.ceil(cfg.cropScale[1] * Math.max(w, h));
    const faceBox = new Float32Array([x1, y1, x2, y2]);
    for (let i = 0; i < cfg.cropsPerFace; i++) {
      if (hi <= lo) break;
      const size = randint(rng, lo, hi);
      const sx = w * cfg.shift, sy = h * cfg.shift;
      const dx = Math.trunc(sx) > Math.trunc(-sx) ? randint(rng, -sx, sx) : 0;
      const dy = Math.trunc(sy) > Math.trunc(-sy) ? randint(rng, -sy, sy) : 0;
      const nx1 = Math.max(x1 + w / 2 + dx - size / 2, 0);
      const ny1 = Math.max(y1 + h / 2 + dy - size / 2, 0);
      const nx2 = nx1 + size, ny2 = ny1 + size;
      if (nx2 > width || ny2 > height) continue;
      crop[0] = nx1;
      crop[1] = ny1;
      crop[2] = nx2;
      crop[3] = ny2;
      const v = iou(crop, faceBox, true)[0];
      const label = v >= cfg.positiveIou
        ? Label.Positive
        : v >= cfg.partIou
        ? Label.Part
        : undefined;
      if (label === undefined) continue;
      out.push({
        label,
        x: Math.trunc(nx1),
        y: Math.trunc(ny1),
        size,
        offsets: [(x1 - nx1) / size, (y1 - ny1) / size, (x2 - nx2) / size, (y2 - ny2) / size],
      });
    }
  }
  return out;
}
