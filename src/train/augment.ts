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
import type { InputSpec } from "../nets/arch.ts";
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

/** Per-sample augmentation draws for a batch (see {@linkcode planAugment}). */
export interface AugmentPlan {
  /** 1 where the sample is mirrored. */
  flip: Uint8Array;
  /** Contrast factor and brightness shift (0..255 levels) per sample. */
  contrast: Float64Array;
  brightness: Float64Array;
  /** Whether jitter applies at all (contrast or brightness range > 0). */
  jitter: boolean;
}

/**
 * The draws of every sample: sample `i` draws from `Rng.derive(seed, i)` a
 * flip, a contrast factor and a brightness shift, in that order.
 */
export function planAugment(count: number, cfg: AugmentConfig, seed: number): AugmentPlan {
  const plan: AugmentPlan = {
    flip: new Uint8Array(count),
    contrast: new Float64Array(count),
    brightness: new Float64Array(count),
    jitter: cfg.contrast > 0 || cfg.brightness > 0,
  };
  for (let i = 0; i < count; i++) {
    const rng = Rng.derive(seed, i);
    const flip = rng.next() < 0.5;
    plan.flip[i] = cfg.flip && flip ? 1 : 0;
    plan.contrast[i] = 1 + rng.uniform(-cfg.contrast, cfg.contrast);
    plan.brightness[i] = rng.uniform(-cfg.brightness, cfg.brightness) * 255;
  }
  return plan;
}

/** The plan of samples `[start, start + count)`. */
export function slicePlan(plan: AugmentPlan, start: number, count: number): AugmentPlan {
  return {
    flip: plan.flip.subarray(start, start + count),
    contrast: plan.contrast.subarray(start, start + count),
    brightness: plan.brightness.subarray(start, start + count),
    jitter: plan.jitter,
  };
}

/**
 * The batch with the plan's flips applied to its targets only (box offsets,
 * landmarks); the pixels are shared with the input, not augmented.
 */
export function augmentTargets(batch: Batch, plan: AugmentPlan): Batch {
  const n = batch.count;
  const out: Batch = {
    ...batch,
    boxes: batch.boxes.slice(0, n * 4),
    landmarks: batch.landmarks.slice(0, n * 10),
    labels: batch.labels.slice(0, n),
  };
  for (let i = 0; i < n; i++) {
    if (!plan.flip[i]) continue;
    out.boxes.set(flipOffsets(out.boxes.subarray(4 * i, 4 * i + 4), batch.size), 4 * i);
    out.landmarks.set(flipLandmarks(out.landmarks.subarray(10 * i, 10 * i + 10)), 10 * i);
  }
  return out;
}

/** Applies the plan's flips and jitter to `count` samples of pixels, in place. */
export function augmentPixels(
  pixels: Uint8Array,
  size: number,
  channels: number,
  plan: AugmentPlan,
): void {
  const sb = size * size * channels;
  for (let i = 0; i < plan.flip.length; i++) {
    const px = pixels.subarray(i * sb, (i + 1) * sb);
    if (plan.flip[i]) flipSamplesHorizontal(px, size, channels, 1);
    if (plan.jitter) jitterPixels(px, plan.contrast[i], plan.brightness[i]);
  }
}

/**
 * A new batch with every sample augmented (the input is left as it is):
 * {@linkcode planAugment}, then the flips on targets and pixels, then the jitter.
 */
export function augmentBatch(batch: Batch, cfg: AugmentConfig, seed: number): Batch {
  const plan = planAugment(batch.count, cfg, seed);
  const out = augmentTargets(batch, plan);
  out.pixels = batch.pixels.slice(0, batch.count * batch.size * batch.size * batch.channels);
  augmentPixels(out.pixels, batch.size, batch.channels, plan);
  return out;
}

/**
 * The net's normalised float input of `plan.flip.length` samples, augmented
 * by the plan on the way, in one pass per sample: the same values as
 * `normalizeInput` of {@linkcode augmentPixels}' result, without the copy.
 * Workers call it on their slice of a batch.
 */
export function augmentToInput(
  pixels: Uint8Array,
  input: InputSpec,
  plan: AugmentPlan,
): Float32Array {
  const size = input.size;
  const c = input.channels;
  const count = plan.flip.length;
  const sb = size * size * c;
  if (pixels.length < count * sb) {
    throw new RangeError(`augmentToInput: ${pixels.length} bytes for ${count} samples of ${sb}`);
  }
  const out = new Float32Array(count * sb);
  const bgr = input.channelOrder === "BGR";
  const { mean, scale } = input;
  // level v of channel k → normalised value, for the exact arithmetic of normalizeInput
  const lut = new Float32Array(256 * c);
  for (let k = 0; k < c; k++) {
    for (let v = 0; v < 256; v++) lut[k * 256 + v] = (v - mean[k]) * scale[k];
  }
  const level = new Uint8Array(256);
  for (let i = 0; i < count; i++) {
    const base = i * sb;
    // the jitter as a table over the 256 levels: the same rounding and clamping as jitterPixels
    if (plan.jitter) {
      let sum = 0;
      for (let j = 0; j < sb; j++) sum += pixels[base + j];
      const m = sum / sb;
      const ct = plan.contrast[i];
      const b = plan.brightness[i];
      for (let v = 0; v < 256; v++) {
        const r = Math.round((v - m) * ct + m + b);
        level[v] = r < 0 ? 0 : r > 255 ? 255 : r;
      }
    } else for (let v = 0; v < 256; v++) level[v] = v;
    const flip = plan.flip[i] === 1;
    for (let y = 0; y < size; y++) {
      const row = base + y * size * c;
      for (let x = 0; x < size; x++) {
        const src = row + (flip ? size - 1 - x : x) * c;
        const dst = row + x * c;
        for (let k = 0; k < c; k++) {
          out[dst + k] = lut[k * 256 + level[pixels[src + (bgr ? c - 1 - k : k)]]];
        }
      }
    }
  }
  return out;
}
