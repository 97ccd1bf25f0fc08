/**
 * Training-time augmentation of sample batches: horizontal flips that carry
 * the box offsets and landmarks along, and brightness/contrast jitter. Each
 * sample draws from its own seeded stream (`Rng.derive(seed, index)`), so a
 * batch augments the same way however it is split over workers.
 *
 * Flip geometry is the datasets' own (src/sampling/landmarks.ts, which also
 * writes mirrored landmark crops): box offsets are
 * `x1 = (X1 − wx1) / side`, `x2 = (X2 − wx2) / side` with inclusive face
 * pixels `X1..X2` and `wx2 = wx1 + side`; mirroring column j to side − 1 − j
 * makes the new left edge the mirror of the old right edge:
 * `x1' = −x2 − 1/side`, `x2' = −x1 − 1/side`, y offsets unchanged. Landmarks
 * (left eye, right eye, nose, left mouth corner, right mouth corner, in window
 * units) get `x' = 1 − x` and swap left with right, so point 1 stays the eye
 * on the image's left.
 *
 * @example
 * ```ts
 * const aug = augmentBatch(batch, DEFAULT_AUGMENT, Rng.derive(seed, step).nextUint32());
 * ```
 */
import type { Batch } from "../data/shards.ts";
import { Rng } from "../util/random.ts";
import { flipLandmarks, flipOffsets, flipSamplesHorizontal } from "../sampling/landmarks.ts";

/** What {@linkcode augmentBatch} does. */
export interface AugmentConfig {
  /** Mirror each sample with probability 1/2. */
  flip: boolean;
  /** Brightness shift drawn uniformly from ±brightness · 255. */
  brightness: number;
  /** Contrast factor drawn uniformly from 1 ± contrast, around the sample's mean. */
  contrast: number;
}

/** Defaults: flips, ±10 % brightness, ±20 % contrast. */
export const DEFAULT_AUGMENT: AugmentConfig = { flip: true, brightness: 0.1, contrast: 0.2 };

/** No augmentation. */
export const NO_AUGMENT: AugmentConfig = { flip: false, brightness: 0, contrast: 0 };

/** Checks an augmentation config (one-line RangeError). */
export function resolveAugment(partial: Partial<AugmentConfig> = {}): AugmentConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_AUGMENT)) throw new RangeError(`unknown augmentation option "${key}"`);
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const cfg = { ...DEFAULT_AUGMENT, ...defined } as AugmentConfig;
  if (typeof cfg.flip !== "boolean") {
    throw new RangeError(`augmentation "flip" must be true or false`);
  }
  if (!(cfg.brightness >= 0 && cfg.brightness <= 1)) {
    throw new RangeError(`augmentation "brightness" must be in [0, 1], got ${cfg.brightness}`);
  }
  if (!(cfg.contrast >= 0 && cfg.contrast < 1)) {
    throw new RangeError(`augmentation "contrast" must be in [0, 1), got ${cfg.contrast}`);
  }
  return cfg;
}

/**
 * Contrast `c` around the sample's mean, then brightness `b` (in 0..255
 * levels), rounded and clamped, in place.
 */
export function jitterPixels(px: Uint8Array, c: number, b: number): void {
  let sum = 0;
  for (let i = 0; i < px.length; i++) sum += px[i];
  const mean = sum / px.length;
  for (let i = 0; i < px.length; i++) {
    const v = Math.round((px[i] - mean) * c + mean + b);
    px[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/**
 * A new batch with every sample augmented (the input is left as it is).
 * Sample `i` draws from `Rng.derive(seed, i)`: flip, contrast, brightness, in that order.
 */
export function augmentBatch(batch: Batch, cfg: AugmentConfig, seed: number): Batch {
  const { count, size, channels } = batch;
  const sb = size * size * channels;
  const out: Batch = {
    ...batch,
    pixels: batch.pixels.slice(0, count * sb),
    boxes: batch.boxes.slice(0, count * 4),
    landmarks: batch.landmarks.slice(0, count * 10),
    labels: batch.labels.slice(0, count),
  };
  for (let i = 0; i < count; i++) {
    const rng = Rng.derive(seed, i);
    const flip = rng.next() < 0.5;
    const c = 1 + rng.uniform(-cfg.contrast, cfg.contrast);
    const b = rng.uniform(-cfg.brightness, cfg.brightness) * 255;
    const px = out.pixels.subarray(i * sb, (i + 1) * sb);
    if (cfg.flip && flip) {
      flipSamplesHorizontal(px, size, channels, 1);
      out.boxes.set(flipOffsets(out.boxes.subarray(4 * i, 4 * i + 4), size), 4 * i);
      out.landmarks.set(flipLandmarks(out.landmarks.subarray(10 * i, 10 * i + 10)), 10 * i);
    }
    if (cfg.contrast > 0 || cfg.brightness > 0) jitterPixels(px, c, b);
  }
  return out;
}
