/**
 * Hard examples for RNet and ONet: the seed's `gen_Rnet_data.py` /
 * `gen_Onet_data.py` labelling, as a pure function of the candidate boxes the
 * cascade trained so far proposes for one image and the image's faces.
 *
 * A candidate (x1, y1, x2, y2 inclusive, rounded) narrower than `minSize` or
 * not wholly inside the image is skipped. Its best IoU with the faces (`+1`
 * pixel convention) labels it: negative below `negativeIou`, positive at
 * `positiveIou`, part at `partIou`; offsets are relative to the candidate's
 * width and height, `(fx1 - x1) / w, (fy1 - y1) / h, (fx2 - x2) / w, (fy2 - y2) / h`
 * against the best-matching face. Running caps over the dataset
 * ({@linkcode RunningCaps}) keep the label mix in check.
 *
 * @example
 * ```ts
 * const crops = labelCandidates(boxes, faces, 640, 480, DEFAULT_RNET_MINING, iouOneToMany);
 * ```
 */
import type { FaceBox } from "../data/types.ts";
import { Label } from "../data/shards.ts";
import type { IouFn } from "./pnet.ts";

/** Hard-example labelling numbers. */
export interface MiningConfig {
  /** Candidates narrower than this (pixels) are skipped. */
  minSize: number;
  negativeIou: number;
  positiveIou: number;
  partIou: number;
  /** Negatives kept while negatives < negativeCap * positives + 1 (Infinity: no cap). */
  negativeCap: number;
  /** Parts kept while parts < partCap * positives + 1 (Infinity: no cap). */
  partCap: number;
}

/** RNet: the paper's negative IoU 0.3 (the seed used 0.2), the seed's caps. */
export const DEFAULT_RNET_MINING: MiningConfig = {
  minSize: 20,
  negativeIou: 0.3,
  positiveIou: 0.65,
  partIou: 0.4,
  negativeCap: 3,
  partCap: 1,
};

/** ONet: as RNet, negatives capped at the positives. */
export const DEFAULT_ONET_MINING: MiningConfig = { ...DEFAULT_RNET_MINING, negativeCap: 1 };

/** Fills defaults and rejects unknown keys or bad values (RangeError naming the key). */
export function resolveMiningConfig(
  base: MiningConfig,
  partial: Partial<MiningConfig> = {},
): MiningConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in base)) throw new RangeError(`unknown mining option "${key}"`);
  }
  const cfg = { ...base, ...partial };
  for (const key of ["negativeIou", "positiveIou", "partIou"] as const) {
    if (!(cfg[key] >= 0 && cfg[key] <= 1)) {
      throw new RangeError(`mining option "${key}" must be in [0, 1], got ${cfg[key]}`);
    }
  }
  if (!(cfg.partIou <= cfg.positiveIou)) {
    throw new RangeError(`mining option "partIou" must be <= "positiveIou"`);
  }
  for (const key of ["minSize", "negativeCap", "partCap"] as const) {
    if (!(cfg[key] >= 0)) {
      throw new RangeError(`mining option "${key}" must be >= 0, got ${cfg[key]}`);
    }
  }
  return cfg;
}

/** One labelled candidate: the integer pixel region and its targets. */
export interface MinedCrop {
  label: Label;
  x: number;
  y: number;
  w: number;
  h: number;
  offsets?: [number, number, number, number];
}

/**
 * Labels the candidates of one image (boxes as n*4 x1, y1, x2, y2). The caps
 * are not applied here: they run over the whole dataset in image order.
 */
export function labelCandidates(
  candidates: Float32Array,
  faces: FaceBox[],
  width: number,
  height: number,
  cfg: MiningConfig,
  iou: IouFn,
): MinedCrop[] {
  const gt = new Float32Array(faces.length * 4);
  faces.forEach((f, i) => gt.set([f.x, f.y, f.x + f.w - 1, f.y + f.h - 1], i * 4));
  const out: MinedCrop[] = [];
  const box = new Float32Array(4);
  for (let i = 0; i < candidates.length / 4; i++) {
    const x1 = Math.round(candidates[i * 4]), y1 = Math.round(candidates[i * 4 + 1]);
    const x2 = Math.round(candidates[i * 4 + 2]), y2 = Math.round(candidates[i * 4 + 3]);
    const w = x2 - x1 + 1, h = y2 - y1 + 1;
    if (!(w >= cfg.minSize) || h < 1 || x1 < 0 || y1 < 0 || x2 > width - 1 || y2 > height - 1) {
      continue;
    }
    let best = 0, bestIndex = -1;
    if (faces.length) {
      box.set([x1, y1, x2, y2]);
      const overlaps = iou(box, gt, true);
      for (let k = 0; k < overlaps.length; k++) {
        if (overlaps[k] > best) {
          best = overlaps[k];
          bestIndex = k;
        }
      }
    }
    if (best < cfg.negativeIou) {
      out.push({ label: Label.Negative, x: x1, y: y1, w, h });
      continue;
    }
    const label = best >= cfg.positiveIou
      ? Label.Positive
      : best >= cfg.partIou
      ? Label.Part
      : undefined;
    if (label === undefined) continue;
    const g = gt.subarray(bestIndex * 4, bestIndex * 4 + 4);
    out.push({
      label,
      x: x1,
      y: y1,
      w,
      h,
      offsets: [(g[0] - x1) / w, (g[1] - y1) / h, (g[2] - x2) / w, (g[3] - y2) / h],
    });
  }
  return out;
}

/**
 * The seed's running caps, relative to the positives so far: a negative is
 * kept while `negatives < negativeCap * positives + 1`, a part while
 * `parts < partCap * positives + 1`. Counts carry over a resumed run.
 */
export class RunningCaps {
  counts = [0, 0, 0, 0];
  constructor(readonly negativeCap: number, readonly partCap: number) {}
  keep(label: Label): boolean {
    const pos = this.counts[Label.Positive];
    const cap = label === Label.Negative
      ? this.negativeCap
      : label === Label.Part
      ? this.partCap
      : Infinity;
    const ok = cap === Infinity || this.counts[label] < cap * pos + 1;
    if (ok) this.counts[label]++;
    return ok;
  }
}
