/**
 * Plain TypeScript twins of every WebAssembly kernel in kernels/mod.ts, with
 * the same signatures and the same shape checks. They define what the
 * kernels compute: the parity tests hold the kernels to them (u8 outputs
 * bit-exact, float outputs within 1e-5) and the benches compare against them.
 *
 * Resize semantics are OpenCV's INTER_LINEAR: half-pixel centres,
 * `sx = (dx + 0.5) * (srcW / dstW) - 0.5`, positions clamped to the border,
 * no area averaging when shrinking. The u8 path is OpenCV's fixed point:
 * 11-bit weights `round_half_even(frac * 2048)`, exact integer blending and
 * `(v + 2^21) >> 22` (OpenCV's scalar rounding; its SIMD row code can round
 * some pixels one lower).
 *
 * @example
 * ```ts
 * import { resizeBilinearU8 } from "./reference.ts";
 * const ramp = resizeBilinearU8(new Uint8Array([0, 100]), 2, 1, 1, 4, 1); // [0, 25, 75, 100]
 * ```
 */

const fround = Math.fround;

/** Fixed-point weight 1.0 of the u8 path (11 bits, as OpenCV). */
export const COEF_ONE = 2048;
const BLEND_SHIFT = 22;
const BLEND_ROUND = 1 << 21;

// ---------------------------------------------------------------------------
// Shape checks, shared with kernels/mod.ts so that twin and kernel reject the
// same inputs with the same one-line RangeError.

/** Throws RangeError unless `value` is an integer >= 1. */
export function checkPositive(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${fn}: ${name} must be a positive integer, got ${value}`);
  }
}

/** Checks the sizes of an interleaved image and the length of its data. */
export function checkImage(
  fn: string,
  src: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
): void {
  checkPositive(fn, "srcW", width);
  checkPositive(fn, "srcH", height);
  checkPositive(fn, "channels", channels);
  if (src.length !== width * height * channels) {
    throw new RangeError(`${fn}: src.length ${src.length} != ${width}*${height}*${channels}`);
  }
}

/** Checks the arguments of a resize. */
export function checkResize(
  fn: string,
  src: ArrayLike<number>,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
): void {
  checkImage(fn, src, srcW, srcH, channels);
  checkPositive(fn, "dstW", dstW);
  checkPositive(fn, "dstH", dstH);
}

// ---------------------------------------------------------------------------
// Resize

/** Taps of one axis: source indexes lo/hi and the f32 weight of hi, per destination index. */
interface AxisTaps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

/** OpenCV INTER_LINEAR taps for an axis of `n` source samples resized to `m`. */
function axisTaps(n: number, m: number): AxisTaps {
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  const frac = new Float32Array(m);
  const scale = 1 / (m / n);
  for (let d = 0; d < m; d++) {
    const f = fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    let fr = fround(f - s);
    let s1 = s + 1;
    if (s < 0) {
      s = 0;
      s1 = 0;
      fr = 0;
    }
    if (s >= n - 1) {
      s = n - 1;
      s1 = n - 1;
      fr = 0;
    }
    lo[d] = s;
    hi[d] = s1;
    frac[d] = fr;
  }
  return { lo, hi, frac };
}

/** Round half to even (IEEE `nearest`), as OpenCV's cvRound. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The fixed-point weights (of hi) of an axis. */
function fixedWeights(frac: Float32Array): Int32Array {
  return Int32Array.from(frac, (f) => roundHalfEven(f * COEF_ONE));
}

/** Calls `put(index, value)` for every output element with its u8 value. */
function resizeU8Each(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  cn: number,
  dstW: number,
  dstH: number,
  put: (index: number, value: number) => void,
): void {
  const xt = axisTaps(srcW, dstW);
  const yt = axisTaps(srcH, dstH);
  const xw = fixedWeights(xt.frac);
  const yw = fixedWeights(yt.frac);
  let o = 0;
  for (let dy = 0; dy < dstH; dy++) {
    const r0 = yt.lo[dy] * srcW * cn;
    const r1 = yt.hi[dy] * srcW * cn;
    const wy1 = yw[dy];
    const wy0 = COEF_ONE - wy1;
    for (let dx = 0; dx < dstW; dx++) {
      const c0 = xt.lo[dx] * cn;
      const c1 = xt.hi[dx] * cn;
      const wx1 = xw[dx];
      const wx0 = COEF_ONE - wx1;
      for (let c = 0; c < cn; c++) {
        // Columns first, as OpenCV; exact integers, so the order does not matter.
        const h0 = src[r0 + c0 + c] * wx0 + src[r0 + c1 + c] * wx1;
        const h1 = src[r1 + c0 + c] * wx0 + src[r1 + c1 + c] * wx1;
        put(o++, (h0 * wy0 + h1 * wy1 + BLEND_ROUND) >> BLEND_SHIFT);
      }
    }
  }
}

/**
 * Bilinear resize (OpenCV INTER_LINEAR) of a u8 image with `channels`
 * interleaved channels; fixed-point weights, rounded to nearest.
 *
 * @example
 * ```ts
 * const small = resizeBilinearU8(rgb, 640, 480, 3, 454, 340);
 * ```
 */
export function resizeBilinearU8(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
): Uint8Array {
  checkResize("resizeBilinearU8", src, srcW, srcH, channels, dstW, dstH);
  const dst = new Uint8Array(dstW * dstH * channels);
  resizeU8Each(src, srcW, srcH, channels, dstW, dstH, (i, v) => (dst[i] = v));
  return dst;
}

/**
 * Bilinear resize of a u8 image straight to normalised float32:
 * `(v - mean) * scale` (in float32) where `v` is exactly the byte
 * {@linkcode resizeBilinearU8} gives, as MTCNN does with cv2.resize then
 * `(x - 127.5) * 0.0078125`.
 *
 * @example
 * ```ts
 * const input = resizeBilinearU8ToF32(rgb, 640, 480, 3, 320, 240, 127.5, 0.0078125);
 * ```
 */
export function resizeBilinearU8ToF32(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
  mean: number,
  scale: number,
): Float32Array {
  checkResize("resizeBilinearU8ToF32", src, srcW, srcH, channels, dstW, dstH);
  const dst = new Float32Array(dstW * dstH * channels);
  const m = fround(mean);
  const s = fround(scale);
  resizeU8Each(src, srcW, srcH, channels, dstW, dstH, (i, v) => (dst[i] = fround(v - m) * s));
  return dst;
}

/**
 * Bilinear resize (OpenCV INTER_LINEAR) of a float32 image; rows are
 * blended first, every product and sum rounded to float32.
 *
 * @example
 * ```ts
 * const up = resizeBilinearF32(heat, 13, 7, 1, 26, 14);
 * ```
 */
export function resizeBilinearF32(
  src: Float32Array,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
): Float32Array {
  checkResize("resizeBilinearF32", src, srcW, srcH, channels, dstW, dstH);
  const cn = channels;
  const dst = new Float32Array(dstW * dstH * cn);
  const xt = axisTaps(srcW, dstW);
  const yt = axisTaps(srcH, dstH);
  let o = 0;
  for (let dy = 0; dy < dstH; dy++) {
    const r0 = yt.lo[dy] * srcW * cn;
    const r1 = yt.hi[dy] * srcW * cn;
    const wy1 = yt.frac[dy];
    const wy0 = fround(1 - wy1);
    for (let dx = 0; dx < dstW; dx++) {
      const c0 = xt.lo[dx] * cn;
      const c1 = xt.hi[dx] * cn;
      const wx1 = xt.frac[dx];
      const wx0 = fround(1 - wx1);
      for (let c = 0; c < cn; c++) {
        const t0 = fround(fround(src[r0 + c0 + c] * wy0) + fround(src[r1 + c0 + c] * wy1));
        const t1 = fround(fround(src[r0 + c1 + c] * wy0) + fround(src[r1 + c1 + c] * wy1));
        dst[o++] = fround(t0 * wx0) + fround(t1 * wx1);
      }
    }
  }
  return dst;
}
