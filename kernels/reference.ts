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

// ---------------------------------------------------------------------------
// Boxes

/** How {@linkcode nms} measures overlap: IoU, or intersection over the smaller area. */
export type NmsMode = "union" | "min";

/** Checks a box array of `n*4` values (x1, y1, x2, y2 per box); returns n. */
export function checkBoxes(fn: string, boxes: ArrayLike<number>, name = "boxes"): number {
  if (boxes.length % 4 !== 0) {
    throw new RangeError(`${fn}: ${name}.length ${boxes.length} is not a multiple of 4`);
  }
  return boxes.length / 4;
}

/** Checks the arguments of nms; returns the number of boxes. */
export function checkNms(
  boxes: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
  mode: string,
): number {
  const n = scores.length;
  if (boxes.length !== 4 * n) {
    throw new RangeError(`nms: boxes.length ${boxes.length} != 4*${n} (scores.length)`);
  }
  if (mode !== "union" && mode !== "min") {
    throw new RangeError(`nms: mode must be "union" or "min", got "${mode}"`);
  }
  if (!Number.isFinite(threshold)) {
    throw new RangeError(`nms: threshold must be finite, got ${threshold}`);
  }
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new RangeError(`nms: scores[${i}] is NaN`);
  }
  return n;
}

/** Box area in float32: ((x2 - x1) + p) * ((y2 - y1) + p). */
function boxArea(x1: number, y1: number, x2: number, y2: number, p: number): number {
  return fround(fround(fround(x2 - x1) + p) * fround(fround(y2 - y1) + p));
}

/** Overlap of box a and box b in float32, as the kernel computes it. */
function overlap(
  a: ArrayLike<number>,
  ai: number,
  aArea: number,
  b: ArrayLike<number>,
  bi: number,
  bArea: number,
  p: number,
  minMode: boolean,
): number {
  const iw = Math.max(
    0,
    fround(fround(Math.min(a[ai + 2], b[bi + 2]) - Math.max(a[ai], b[bi])) + p),
  );
  const ih = Math.max(
    0,
    fround(fround(Math.min(a[ai + 3], b[bi + 3]) - Math.max(a[ai + 1], b[bi + 1])) + p),
  );
  const inter = fround(iw * ih);
  const den = minMode ? Math.min(aArea, bArea) : fround(fround(aArea + bArea) - inter);
  return den > 0 ? fround(inter / den) : 0;
}

/**
 * IoU of one box (x1, y1, x2, y2) with each of `boxes` (n*4, x1, y1, x2, y2
 * per box), in float32. `plusOne` measures sides as `x2 - x1 + 1` (pixel
 * counts, as the MTCNN code); otherwise `x2 - x1`. A pair whose union is not
 * positive has IoU 0.
 *
 * @example
 * ```ts
 * iouOneToMany([0, 0, 9, 9], new Float32Array([0, 0, 9, 9, 5, 0, 14, 9]), true); // [1, 0.333...]
 * ```
 */
export function iouOneToMany(
  box: ArrayLike<number>,
  boxes: Float32Array,
  plusOne: boolean,
): Float32Array {
  if (box.length !== 4) throw new RangeError(`iouOneToMany: box.length ${box.length} != 4`);
  const n = checkBoxes("iouOneToMany", boxes);
  const p = plusOne ? 1 : 0;
  const a = Float32Array.from(box);
  const aArea = boxArea(a[0], a[1], a[2], a[3], p);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const j = 4 * i;
    const bArea = boxArea(boxes[j], boxes[j + 1], boxes[j + 2], boxes[j + 3], p);
    out[i] = overlap(a, 0, aArea, boxes, j, bArea, p, false);
  }
  return out;
}

/**
 * Greedy non-maximum suppression, as MTCNN's `nms`: visits boxes by
 * descending score (ties: lower index first), keeps a box unless an already
 * kept box overlaps it by strictly more than `threshold` ("union": IoU,
 * "min": intersection over the smaller area; overlaps computed in float32).
 * Returns the kept indexes in visiting order. Throws RangeError on NaN scores.
 *
 * @example
 * ```ts
 * const boxes = new Float32Array([0, 0, 9, 9, 1, 1, 10, 10, 50, 50, 59, 59]);
 * nms(boxes, new Float32Array([0.8, 0.9, 0.7]), 0.5, "union"); // Int32Array [1, 2]
 * ```
 */
export function nms(
  boxes: Float32Array,
  scores: Float32Array,
  threshold: number,
  mode: NmsMode,
  plusOne = true,
): Int32Array {
  const n = checkNms(boxes, scores, threshold, mode);
  const p = plusOne ? 1 : 0;
  const thr = fround(threshold);
  const minMode = mode === "min";
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const areas = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    areas[i] = boxArea(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3], p);
  }
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (suppressed[i]) continue;
    keep.push(i);
    for (let s = r + 1; s < n; s++) {
      const j = order[s];
      if (suppressed[j]) continue;
      if (overlap(boxes, 4 * i, areas[i], boxes, 4 * j, areas[j], p, minMode) > thr) {
        suppressed[j] = 1;
      }
    }
  }
  return Int32Array.from(keep);
}

// ---------------------------------------------------------------------------
// Crops

/** Checks the arguments of a crop-and-resize; returns the number of boxes and the widest box. */
export function checkCrops(
  fn: string,
  src: ArrayLike<number>,
  srcW: number,
  srcH: number,
  channels: number,
  boxes: Int32Array,
  size: number,
): { n: number; maxW: number } {
  checkImage(fn, src, srcW, srcH, channels);
  checkPositive(fn, "size", size);
  const n = checkBoxes(fn, boxes);
  let maxW = 0;
  for (let i = 0; i < n; i++) {
    const [x, y, w, h] = boxes.subarray(4 * i, 4 * i + 4);
    if (w < 1 || h < 1) {
      throw new RangeError(`${fn}: box ${i} (${x}, ${y}, ${w}, ${h}) has a side < 1`);
    }
    if (x + w > 2 ** 31 - 1 || y + h > 2 ** 31 - 1) {
      throw new RangeError(`${fn}: box ${i} (${x}, ${y}, ${w}, ${h}) reaches past 2^31`);
    }
    if (w > maxW) maxW = w;
  }
  return { n, maxW };
}

/** The region [x, x+w) x [y, y+h) of an image, zero outside it. */
function paddedCrop(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  cn: number,
  x: number,
  y: number,
  w: number,
  h: number,
): Uint8Array {
  const crop = new Uint8Array(w * h * cn);
  for (let cy = 0; cy < h; cy++) {
    const sy = y + cy;
    if (sy < 0 || sy >= srcH) continue;
    for (let cx = 0; cx < w; cx++) {
      const sx = x + cx;
      if (sx < 0 || sx >= srcW) continue;
      for (let c = 0; c < cn; c++) crop[(cy * w + cx) * cn + c] = src[(sy * srcW + sx) * cn + c];
    }
  }
  return crop;
}

/**
 * Crops every box (x, y, w, h in integer pixels; n*4 values) of an image and
 * resizes it to `size` x `size`: pixels outside the image read as 0 (zero
 * padding, as MTCNN pads crops), and the padded crop is resized exactly as
 * {@linkcode resizeBilinearU8} would. Returns n*size*size*channels bytes,
 * box after box.
 *
 * @example
 * ```ts
 * const faces = cropResizeU8(rgb, 640, 480, 3, new Int32Array([10, 20, 48, 48, -5, 0, 30, 30]), 24);
 * ```
 */
export function cropResizeU8(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  channels: number,
  boxes: Int32Array,
  size: number,
): Uint8Array {
  const { n } = checkCrops("cropResizeU8", src, srcW, srcH, channels, boxes, size);
  const step = size * size * channels;
  const dst = new Uint8Array(n * step);
  for (let i = 0; i < n; i++) {
    const [x, y, w, h] = boxes.subarray(4 * i, 4 * i + 4);
    const crop = paddedCrop(src, srcW, srcH, channels, x, y, w, h);
    dst.set(resizeBilinearU8(crop, w, h, channels, size, size), i * step);
  }
  return dst;
}

/**
 * {@linkcode cropResizeU8} straight to normalised float32 NHWC:
 * `(v - mean) * scale` in float32, `v` the byte cropResizeU8 gives.
 *
 * @example
 * ```ts
 * const batch = cropResizeU8ToF32(rgb, 640, 480, 3, boxes, 24, 127.5, 0.0078125);
 * ```
 */
export function cropResizeU8ToF32(
  src: Uint8Array,
  srcW: number,
  srcH: number,
  channels: number,
  boxes: Int32Array,
  size: number,
  mean: number,
  scale: number,
): Float32Array {
  checkCrops("cropResizeU8ToF32", src, srcW, srcH, channels, boxes, size);
  const bytes = cropResizeU8(src, srcW, srcH, channels, boxes, size);
  const m = fround(mean);
  const s = fround(scale);
  return Float32Array.from(bytes, (v) => fround(v - m) * s);
}

// ---------------------------------------------------------------------------
// Gradients (training on the tfjs wasm backend; see kernels/assembly/grad.ts)

/**
 * The geometry of a 2-D window operation (convolution or pooling) on NHWC
 * float32 tensors: input [batch, inHeight, inWidth, channels], output
 * [batch, outHeight, outWidth, ·]; the window of output (oy, ox) covers rows
 * oy·strideHeight − padTop + [0, filterHeight) and likewise columns. Taps
 * outside the input count as absent (zero for convolutions, skipped by max
 * pooling).
 */
export interface WindowGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  /** Input channels (also the output channels of pooling and depthwise convolutions). */
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Checks a window geometry: positive sizes, pads in [0, filter side), every
 * window starting inside the input; with `valid`, no padding and every
 * window wholly inside. Returns the input size (elements).
 */
export function checkWindow(fn: string, g: WindowGeometry, valid = false): number {
  for (
    const k of [
      "batch",
      "inHeight",
      "inWidth",
      "channels",
      "outHeight",
      "outWidth",
      "filterHeight",
      "filterWidth",
      "strideHeight",
      "strideWidth",
    ] as const
  ) checkPositive(fn, k, g[k]);
  for (const [k, side] of [["padTop", g.filterHeight], ["padLeft", g.filterWidth]] as const) {
    const v = g[k];
    if (!Number.isInteger(v) || v < 0 || v >= side || (valid && v !== 0)) {
      throw new RangeError(
        `${fn}: ${k} must be ${valid ? "0 (valid padding)" : `in [0, ${side})`}, got ${v}`,
      );
    }
  }
  const lastRow = (g.outHeight - 1) * g.strideHeight - g.padTop;
  const lastCol = (g.outWidth - 1) * g.strideWidth - g.padLeft;
  if (lastRow >= g.inHeight || lastCol >= g.inWidth) {
    throw new RangeError(
      `${fn}: a ${g.outHeight}x${g.outWidth} output starts windows outside the ${g.inHeight}x${g.inWidth} input`,
    );
  }
  if (valid && (lastRow + g.filterHeight > g.inHeight || lastCol + g.filterWidth > g.inWidth)) {
    throw new RangeError(
      `${fn}: ${g.filterHeight}x${g.filterWidth} windows of a ${g.outHeight}x${g.outWidth} output overrun the ${g.inHeight}x${g.inWidth} input (valid padding)`,
    );
  }
  return g.batch * g.inHeight * g.inWidth * g.channels;
}

/** Throws RangeError unless `a.length === n`. */
export function checkLength(fn: string, name: string, a: ArrayLike<number>, n: number): void {
  if (a.length !== n) throw new RangeError(`${fn}: ${name}.length ${a.length} != ${n}`);
}

/** Checks the arguments of {@linkcode conv2dFilterGrad}. */
export function checkConv2dFilterGrad(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  g: WindowGeometry,
  outChannels: number,
): void {
  const fn = "conv2dFilterGrad";
  checkLength(fn, "x", x, checkWindow(fn, g, true));
  checkPositive(fn, "outChannels", outChannels);
  checkLength(fn, "dy", dy, g.batch * g.outHeight * g.outWidth * outChannels);
}

/**
 * Gradient of a valid-padded NHWC convolution with respect to its HWIO
 * filter: dw[ky, kx, ci, co] = Σ over n, oy, ox of
 * x[n, oy·sh + ky, ox·sw + kx, ci] · dy[n, oy, ox, co]. Accumulates in
 * float64.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 3, inWidth: 3, channels: 1, outHeight: 2, outWidth: 2,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * conv2dFilterGrad(new Float32Array(9).fill(1), new Float32Array(4).fill(1), g, 1); // [4, 4, 4, 4]
 * ```
 */
export function conv2dFilterGrad(
  x: Float32Array,
  dy: Float32Array,
  g: WindowGeometry,
  outChannels: number,
): Float32Array {
  checkConv2dFilterGrad(x, dy, g, outChannels);
  const { inHeight: h, inWidth: w, channels: ci, outHeight: oh, outWidth: ow } = g;
  const co = outChannels;
  const acc = new Float64Array(g.filterHeight * g.filterWidth * ci * co);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const d = ((b * oh + oy) * ow + ox) * co;
        for (let ky = 0; ky < g.filterHeight; ky++) {
          for (let kx = 0; kx < g.filterWidth; kx++) {
            const xp = ((b * h + oy * g.strideHeight + ky) * w + ox * g.strideWidth + kx) * ci;
            const wp = (ky * g.filterWidth + kx) * ci * co;
            for (let i = 0; i < ci; i++) {
              const xv = x[xp + i];
              for (let o = 0; o < co; o++) acc[wp + i * co + o] += xv * dy[d + o];
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/** Checks the arguments of {@linkcode conv2dInputGrad}. */
export function checkConv2dInputGrad(
  dy: ArrayLike<number>,
  filter: ArrayLike<number>,
  g: WindowGeometry,
  outChannels: number,
): number {
  const fn = "conv2dInputGrad";
  const size = checkWindow(fn, g, true);
  checkPositive(fn, "outChannels", outChannels);
  checkLength(fn, "dy", dy, g.batch * g.outHeight * g.outWidth * outChannels);
  checkLength(fn, "filter", filter, g.filterHeight * g.filterWidth * g.channels * outChannels);
  return size;
}

/**
 * Gradient of a valid-padded NHWC convolution with respect to its input:
 * dx[n, iy, ix, ci] = Σ of dy[n, oy, ox, co] · f[ky, kx, ci, co] over
 * co and the windows (oy, ox) whose tap (ky, kx) lands on (iy, ix), with
 * f HWIO. Accumulates in float64.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * conv2dInputGrad(new Float32Array([2]), new Float32Array([1, 2, 3, 4]), g, 1); // [2, 4, 6, 8]
 * ```
 */
export function conv2dInputGrad(
  dy: Float32Array,
  filter: Float32Array,
  g: WindowGeometry,
  outChannels: number,
): Float32Array {
  const size = checkConv2dInputGrad(dy, filter, g, outChannels);
  const { inHeight: h, inWidth: w, channels: ci, outHeight: oh, outWidth: ow } = g;
  const co = outChannels;
  const acc = new Float64Array(size);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const d = ((b * oh + oy) * ow + ox) * co;
        for (let ky = 0; ky < g.filterHeight; ky++) {
          for (let kx = 0; kx < g.filterWidth; kx++) {
            const xp = ((b * h + oy * g.strideHeight + ky) * w + ox * g.strideWidth + kx) * ci;
            const fp = (ky * g.filterWidth + kx) * ci * co;
            for (let i = 0; i < ci; i++) {
              let s = 0;
              for (let o = 0; o < co; o++) s += dy[d + o] * filter[fp + i * co + o];
              acc[xp + i] += s;
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/** Checks the arguments of {@linkcode maxPoolGrad}. */
export function checkMaxPoolGrad(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  dy: ArrayLike<number>,
  g: WindowGeometry,
): void {
  const fn = "maxPoolGrad";
  checkLength(fn, "x", x, checkWindow(fn, g));
  const n = g.batch * g.outHeight * g.outWidth * g.channels;
  checkLength(fn, "y", y, n);
  checkLength(fn, "dy", dy, n);
}

/**
 * Gradient of NHWC max pooling: each window's dy goes to the first input
 * (row-major within the window, taps outside the input skipped) equal to
 * the window's maximum y; sums where windows overlap (float32, window order).
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 1, inWidth: 3, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 1, filterWidth: 3, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * maxPoolGrad(new Float32Array([1, 5, 5]), new Float32Array([5]), new Float32Array([2]), g); // [0, 2, 0]
 * ```
 */
export function maxPoolGrad(
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  g: WindowGeometry,
): Float32Array {
  checkMaxPoolGrad(x, y, dy, g);
  const { inHeight: h, inWidth: w, channels: c, outHeight: oh, outWidth: ow } = g;
  const dx = new Float32Array(x.length);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const o = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          search: for (let ky = 0; ky < g.filterHeight; ky++) {
            const iy = oy * g.strideHeight - g.padTop + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < g.filterWidth; kx++) {
              const ix = ox * g.strideWidth - g.padLeft + kx;
              if (ix < 0 || ix >= w) continue;
              const p = ((b * h + iy) * w + ix) * c + ch;
              if (x[p] === y[o + ch]) {
                dx[p] += dy[o + ch];
                break search;
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/** Checks the arguments of {@linkcode preluGrad}; returns the number of rows. */
export function checkPreluGrad(
  x: ArrayLike<number>,
  alpha: ArrayLike<number>,
  dy: ArrayLike<number>,
): number {
  const fn = "preluGrad";
  checkPositive(fn, "alpha.length", alpha.length);
  if (x.length % alpha.length !== 0) {
    throw new RangeError(
      `${fn}: x.length ${x.length} is not a multiple of alpha.length ${alpha.length}`,
    );
  }
  checkLength(fn, "dy", dy, x.length);
  return x.length / alpha.length;
}

/**
 * Gradient of PReLU with one alpha per channel (x [rows, c], alpha [c]):
 * dx = x > 0 ? dy : alpha · dy (float32) and dalpha[j] = Σ over rows with
 * x ≤ 0 of dy · x (float64 sum).
 *
 * @example
 * ```ts
 * preluGrad(new Float32Array([2, -3]), new Float32Array([0.25]), new Float32Array([1, 1]));
 * // { dx: [1, 0.25], dalpha: [-3] }
 * ```
 */
export function preluGrad(
  x: Float32Array,
  alpha: Float32Array,
  dy: Float32Array,
): { dx: Float32Array; dalpha: Float32Array } {
  const rows = checkPreluGrad(x, alpha, dy);
  const c = alpha.length;
  const dx = new Float32Array(x.length);
  const acc = new Float64Array(c);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < c; j++) {
      const i = r * c + j;
      if (x[i] > 0) dx[i] = dy[i];
      else {
        dx[i] = fround(dy[i] * alpha[j]);
        acc[j] += fround(dy[i] * x[i]);
      }
    }
  }
  return { dx, dalpha: Float32Array.from(acc) };
}

/** Checks the arguments of {@linkcode sumRows}. */
export function checkSumRows(x: ArrayLike<number>, rows: number, cols: number): void {
  checkPositive("sumRows", "rows", rows);
  checkPositive("sumRows", "cols", cols);
  checkLength("sumRows", "x", x, rows * cols);
}

/**
 * Column sums of a [rows, cols] matrix (a bias gradient: dy summed over
 * every axis but the last), in float64.
 *
 * @example
 * ```ts
 * sumRows(new Float32Array([1, 2, 3, 4]), 2, 2); // [4, 6]
 * ```
 */
export function sumRows(x: Float32Array, rows: number, cols: number): Float32Array {
  checkSumRows(x, rows, cols);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) acc[j] += x[r * cols + j];
  return Float32Array.from(acc);
}

/** Checks the arguments of the depthwise gradients (`a` is x or dy, `b` dy or the filter). */
export function checkDepthwiseGrad(
  fn: string,
  names: [string, string],
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  g: WindowGeometry,
): void {
  const inSize = checkWindow(fn, g);
  const outSize = g.batch * g.outHeight * g.outWidth * g.channels;
  const filterSize = g.filterHeight * g.filterWidth * g.channels;
  const want = names[0] === "x" ? [inSize, outSize] : [outSize, filterSize];
  checkLength(fn, names[0], a, want[0]);
  checkLength(fn, names[1], b, want[1]);
}

/**
 * Gradient of an NHWC depthwise convolution (channel multiplier 1) with
 * respect to its [kh, kw, c, 1] filter: dw[ky, kx, ch] = Σ over n, oy, ox of
 * x[n, oy·sh − padTop + ky, ox·sw − padLeft + kx, ch] · dy[n, oy, ox, ch],
 * taps outside x counting 0. Float64 sums.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * depthwiseFilterGrad(new Float32Array([1, 2, 3, 4]), new Float32Array([2]), g); // [2, 4, 6, 8]
 * ```
 */
export function depthwiseFilterGrad(
  x: Float32Array,
  dy: Float32Array,
  g: WindowGeometry,
): Float32Array {
  checkDepthwiseGrad("depthwiseFilterGrad", ["x", "dy"], x, dy, g);
  const { inHeight: h, inWidth: w, channels: c, outHeight: oh, outWidth: ow } = g;
  const acc = new Float64Array(g.filterHeight * g.filterWidth * c);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const d = ((b * oh + oy) * ow + ox) * c;
        for (let ky = 0; ky < g.filterHeight; ky++) {
          const iy = oy * g.strideHeight - g.padTop + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < g.filterWidth; kx++) {
            const ix = ox * g.strideWidth - g.padLeft + kx;
            if (ix < 0 || ix >= w) continue;
            const xp = ((b * h + iy) * w + ix) * c;
            const wp = (ky * g.filterWidth + kx) * c;
            for (let ch = 0; ch < c; ch++) acc[wp + ch] += x[xp + ch] * dy[d + ch];
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/**
 * Gradient of an NHWC depthwise convolution (channel multiplier 1) with
 * respect to its input: dx[n, iy, ix, ch] = Σ of dy[n, oy, ox, ch] · f[ky, kx, ch]
 * over the windows whose tap (ky, kx) lands on (iy, ix). Float64 sums.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * depthwiseInputGrad(new Float32Array([2]), new Float32Array([1, 2, 3, 4]), g); // [2, 4, 6, 8]
 * ```
 */
export function depthwiseInputGrad(
  dy: Float32Array,
  filter: Float32Array,
  g: WindowGeometry,
): Float32Array {
  checkDepthwiseGrad("depthwiseInputGrad", ["dy", "filter"], dy, filter, g);
  const { inHeight: h, inWidth: w, channels: c, outHeight: oh, outWidth: ow } = g;
  const acc = new Float64Array(g.batch * h * w * c);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const d = ((b * oh + oy) * ow + ox) * c;
        for (let ky = 0; ky < g.filterHeight; ky++) {
          const iy = oy * g.strideHeight - g.padTop + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < g.filterWidth; kx++) {
            const ix = ox * g.strideWidth - g.padLeft + kx;
            if (ix < 0 || ix >= w) continue;
            const xp = ((b * h + iy) * w + ix) * c;
            const fp = (ky * g.filterWidth + kx) * c;
            for (let ch = 0; ch < c; ch++) acc[xp + ch] += dy[d + ch] * filter[fp + ch];
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/** Checks the arguments of {@linkcode unsortedSegmentSum}; returns the number of rows. */
export function checkSegmentSum(
  x: ArrayLike<number>,
  ids: Int32Array,
  inner: number,
  segments: number,
): number {
  const fn = "unsortedSegmentSum";
  checkPositive(fn, "inner", inner);
  checkPositive(fn, "segments", segments);
  checkLength(fn, "x", x, ids.length * inner);
  return ids.length;
}

/**
 * Sums the rows of x [ids.length, inner] by segment: out[s] = Σ of x[r] over
 * rows with ids[r] = s, for s in [0, segments); other ids are dropped (as
 * TensorFlow's UnsortedSegmentSum, the gradient of gather). Float64 sums.
 *
 * @example
 * ```ts
 * unsortedSegmentSum(new Float32Array([1, 2, 3]), new Int32Array([1, 1, 0]), 1, 2); // [3, 3]
 * ```
 */
export function unsortedSegmentSum(
  x: Float32Array,
  ids: Int32Array,
  inner: number,
  segments: number,
): Float32Array {
  const rows = checkSegmentSum(x, ids, inner, segments);
  const acc = new Float64Array(segments * inner);
  for (let r = 0; r < rows; r++) {
    const s = ids[r];
    if (s < 0 || s >= segments) continue;
    for (let j = 0; j < inner; j++) acc[s * inner + j] += x[r * inner + j];
  }
  return Float32Array.from(acc);
}

// ---------------------------------------------------------------------------
// Inference engine (kernels/assembly/engine.ts, bound in src/deploy/engine.ts):
// NHWC float32 layers of MTCNN-shaped nets. Sums are taken in float32 in the
// kernel's order (bias first, then (ky, kx, ic)); the SIMD build matches bit
// for bit, the relaxed-SIMD build (fused multiply-add) within 1e-5.

/** Checks an NHWC batch [n, h, w, c] and a valid kh x kw window with `stride`; returns the output side. */
export function checkEngineWindow(
  fn: string,
  x: ArrayLike<number>,
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  stride: number,
): { oh: number; ow: number } {
  for (const [name, v] of [["n", n], ["h", h], ["w", w], ["c", c], ["kh", kh], ["kw", kw]]) {
    checkPositive(fn, name as string, v as number);
  }
  checkPositive(fn, "stride", stride);
  if (x.length !== n * h * w * c) {
    throw new RangeError(`${fn}: x.length ${x.length} != ${n}*${h}*${w}*${c}`);
  }
  if (h < kh || w < kw) {
    throw new RangeError(`${fn}: input ${h}x${w} is smaller than the ${kh}x${kw} window`);
  }
  return { oh: Math.floor((h - kh) / stride) + 1, ow: Math.floor((w - kw) / stride) + 1 };
}

/** Checks weight (HWIO [kh, kw, c, oc], oc = bias.length) and alpha (oc values or undefined). */
export function checkEngineParams(
  fn: string,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  alpha: ArrayLike<number> | undefined,
  k: number,
): number {
  const oc = bias.length;
  if (oc < 1) throw new RangeError(`${fn}: bias is empty`);
  if (weight.length !== k * oc) {
    throw new RangeError(`${fn}: weight.length ${weight.length} != ${k}*${oc} (kh*kw*c*oc)`);
  }
  if (alpha && alpha.length !== oc) {
    throw new RangeError(`${fn}: alpha.length ${alpha.length} != ${oc} (bias.length)`);
  }
  return oc;
}

/** PReLU in float32: x where x > 0, alpha * x elsewhere (no alpha: x). */
function preluValue(v: number, alpha: ArrayLike<number> | undefined, i: number): number {
  return alpha === undefined || v > 0 ? v : fround(v * alpha[i]);
}

/**
 * Valid convolution of `x` (NHWC [n, h, w, c]) with HWIO weights
 * [kh, kw, c, oc], the given stride, plus bias [oc], then PReLU with one
 * alpha per output channel (none when `alpha` is undefined; ReLU is alpha
 * 0). Returns [n, oh, ow, oc]. A dense layer over flattened HWC inputs is
 * this with h = w = kh = kw = 1 and c the input length.
 *
 * @example
 * ```ts
 * const y = convPreluF32(x, 1, 12, 12, 3, w, b, a, 3, 3, 1); // [1, 10, 10, oc]
 * ```
 */
export function convPreluF32(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  kh: number,
  kw: number,
  stride: number,
): Float32Array {
  const fn = "convPreluF32";
  const { oh, ow } = checkEngineWindow(fn, x, n, h, w, c, kh, kw, stride);
  const oc = checkEngineParams(fn, weight, bias, alpha, kh * kw * c);
  const y = new Float32Array(n * oh * ow * oc);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let f = 0; f < oc; f++) {
          let acc = bias[f];
          let k = 0;
          for (let ky = 0; ky < kh; ky++) {
            const row = ((i * h + oy * stride + ky) * w + ox * stride) * c;
            for (let j = 0; j < kw * c; j++, k++) {
              acc = fround(acc + fround(x[row + j] * weight[k * oc + f]));
            }
          }
          y[o++] = preluValue(acc, alpha, f);
        }
      }
    }
  }
  return y;
}

/**
 * Valid depthwise convolution (channel multiplier 1) of `x` (NHWC) with
 * weights [kh, kw, c, 1], bias [c] and PReLU alpha [c] (or none). Returns
 * [n, oh, ow, c].
 *
 * @example
 * ```ts
 * const y = depthwisePreluF32(x, 1, 9, 9, 16, w, b, undefined, 3, 3, 2); // [1, 4, 4, 16]
 * ```
 */
export function depthwisePreluF32(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  kh: number,
  kw: number,
  stride: number,
): Float32Array {
  const fn = "depthwisePreluF32";
  const { oh, ow } = checkEngineWindow(fn, x, n, h, w, c, kh, kw, stride);
  if (bias.length !== c) throw new RangeError(`${fn}: bias.length ${bias.length} != ${c} (c)`);
  checkEngineParams(fn, weight, bias, alpha, kh * kw);
  const y = new Float32Array(n * oh * ow * c);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let acc = bias[ch];
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const v = x[((i * h + oy * stride + ky) * w + ox * stride + kx) * c + ch];
              acc = fround(acc + fround(v * weight[(ky * kw + kx) * c + ch]));
            }
          }
          y[o++] = preluValue(acc, alpha, ch);
        }
      }
    }
  }
  return y;
}

/** Output side of a size/stride pooling window over `n` with ceil (Caffe) or floor rounding. */
export function poolOutSide(
  n: number,
  size: number,
  stride: number,
  rounding: "ceil" | "floor",
): number {
  const r = (n - size) / stride;
  return (rounding === "ceil" ? Math.ceil(r) : Math.floor(r)) + 1;
}

/**
 * Max pooling of `x` (NHWC) with size x size windows, the given stride and
 * Caffe's ceil rounding (windows hanging over the bottom/right edge see only
 * the pixels inside) or floor rounding. Returns [n, ph, pw, c]. The max is
 * the pseudo-max `m < v ? v : m` (one instruction in the kernel): with NaN
 * or both signs of zero in a window the result depends on the order of the
 * taps, which the kernel does not promise to share.
 *
 * @example
 * ```ts
 * const y = maxPoolF32(x, 1, 13, 13, 10, 3, 2, "ceil"); // [1, 6, 6, 10]
 * ```
 */
export function maxPoolF32(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  size: number,
  stride: number,
  rounding: "ceil" | "floor",
): Float32Array {
  const fn = "maxPoolF32";
  checkEngineWindow(fn, x, n, h, w, c, size, size, stride);
  if (rounding !== "ceil" && rounding !== "floor") {
    throw new RangeError(`${fn}: rounding must be "ceil" or "floor", got "${rounding}"`);
  }
  const ph = poolOutSide(h, size, stride, rounding);
  const pw = poolOutSide(w, size, stride, rounding);
  const y = new Float32Array(n * ph * pw * c);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < ph; oy++) {
      for (let ox = 0; ox < pw; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let m = x[((i * h + oy * stride) * w + ox * stride) * c + ch];
          for (let y0 = oy * stride; y0 < Math.min(oy * stride + size, h); y0++) {
            for (let x0 = ox * stride; x0 < Math.min(ox * stride + size, w); x0++) {
              const v = x[((i * h + y0) * w + x0) * c + ch];
              if (m < v) m = v; // the kernel's f32x4.pmax
            }
          }
          y[o++] = m;
        }
      }
    }
  }
  return y;
}

/**
 * {@linkcode convPreluF32} then {@linkcode maxPoolF32}: what the kernel's
 * fused conv + pool computes without writing the whole convolution output.
 *
 * @example
 * ```ts
 * const y = convPreluPoolF32(x, 1, 12, 12, 3, w, b, a, 3, 3, 1, 2, 2, "ceil"); // [1, 5, 5, oc]
 * ```
 */
export function convPreluPoolF32(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  kh: number,
  kw: number,
  stride: number,
  size: number,
  poolStride: number,
  rounding: "ceil" | "floor",
): Float32Array {
  const y = convPreluF32(x, n, h, w, c, weight, bias, alpha, kh, kw, stride);
  const oh = Math.floor((h - kh) / stride) + 1;
  const ow = Math.floor((w - kw) / stride) + 1;
  return maxPoolF32(y, n, oh, ow, bias.length, size, poolStride, rounding);
}

/**
 * {@linkcode convPreluF32} then a 1x1 convolution of its output (weights2
 * [1, 1, oc, units], bias2, alpha2): what the kernel's fused last
 * convolution + heads computes without writing the first output.
 *
 * @example
 * ```ts
 * const heads = convPreluThen1x1F32(x, 1, 16, 16, 16, w, b, a, 3, 3, 1, hw, hb, undefined);
 * ```
 */
export function convPreluThen1x1F32(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  kh: number,
  kw: number,
  stride: number,
  weight2: Float32Array,
  bias2: Float32Array,
  alpha2: Float32Array | undefined,
): Float32Array {
  const y = convPreluF32(x, n, h, w, c, weight, bias, alpha, kh, kw, stride);
  const oh = Math.floor((h - kh) / stride) + 1;
  const ow = Math.floor((w - kw) / stride) + 1;
  return convPreluF32(y, n, oh, ow, bias.length, weight2, bias2, alpha2, 1, 1, 1);
}

/**
 * PReLU of `x` (pixels of c = alpha.length channels) in float32.
 *
 * @example
 * ```ts
 * preluF32(new Float32Array([-2, 3]), new Float32Array([0.25, 0.5])); // [-0.5, 3]
 * ```
 */
export function preluF32(x: Float32Array, alpha: Float32Array): Float32Array {
  const c = alpha.length;
  checkPositive("preluF32", "alpha.length", c);
  if (x.length % c !== 0) {
    throw new RangeError(`preluF32: x.length ${x.length} is not a multiple of ${c} (alpha.length)`);
  }
  return x.map((v, i) => preluValue(v, alpha, i % c));
}

/**
 * A net's input normalisation: `(v - mean[j]) * scale[j]` in float32 for
 * each channel j of pixels given RGB (u8 or float 0..255, c interleaved
 * channels); with `bgr`, channel j of the result reads channel c - 1 - j.
 *
 * @example
 * ```ts
 * normalizePixels(new Uint8Array([255, 0, 128]), 3, [127.5, 127.5, 127.5], [1 / 128, 1 / 128, 1 / 128], false);
 * // [0.99609375, -0.99609375, 0.00390625]
 * ```
 */
export function normalizePixels(
  src: Uint8Array | Float32Array,
  c: number,
  mean: ArrayLike<number>,
  scale: ArrayLike<number>,
  bgr: boolean,
): Float32Array {
  const fn = "normalizePixels";
  checkPositive(fn, "c", c);
  if (mean.length !== c || scale.length !== c) {
    throw new RangeError(`${fn}: mean and scale need ${c} values each`);
  }
  if (src.length % c !== 0) {
    throw new RangeError(`${fn}: src.length ${src.length} is not a multiple of ${c}`);
  }
  const y = new Float32Array(src.length);
  for (let i = 0; i < src.length; i += c) {
    for (let j = 0; j < c; j++) {
      const v = fround(src[i + (bgr ? c - 1 - j : j)]);
      y[i + j] = fround(fround(v - fround(mean[j])) * fround(scale[j]));
    }
  }
  return y;
}

/** What {@linkcode splitHeads} returns: one face probability, 4 box values and (if present) 10 landmark values per row. */
export interface HeadOutputs {
  cls: Float32Array;
  box: Float32Array;
  landmarks?: Float32Array;
}

/**
 * Splits head rows of `units` values (6: cls logits l0, l1 then box; 16:
 * then 10 landmark values) into the face probability softmax(l)[1] =
 * 1 / (1 + exp(l0 - l1)), the boxes and the landmarks.
 *
 * @example
 * ```ts
 * splitHeads(new Float32Array([0, 0, 1, 2, 3, 4]), 6).cls; // [0.5]
 * ```
 */
export function splitHeads(rows: Float32Array, units: 6 | 16): HeadOutputs {
  if (units !== 6 && units !== 16) {
    throw new RangeError(`splitHeads: units must be 6 or 16, got ${units}`);
  }
  if (rows.length % units !== 0) {
    throw new RangeError(`splitHeads: rows.length ${rows.length} is not a multiple of ${units}`);
  }
  const n = rows.length / units;
  const out: HeadOutputs = { cls: new Float32Array(n), box: new Float32Array(4 * n) };
  if (units === 16) out.landmarks = new Float32Array(10 * n);
  for (let i = 0; i < n; i++) {
    const r = i * units;
    out.cls[i] = 1 / (1 + Math.exp(fround(rows[r] - rows[r + 1])));
    out.box.set(rows.subarray(r + 2, r + 6), 4 * i);
    out.landmarks?.set(rows.subarray(r + 6, r + 16), 10 * i);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Area resampling (OpenCV's INTER_AREA, what the published MTCNN ports use for
// the pyramid and the crops): kernels/assembly/area.ts. Shrinking averages
// every source pixel a destination pixel covers, weighted by the covered
// fraction; enlarging is OpenCV's area-mode linear blend. Both are computed
// exactly: along an axis of srcLen -> dstLen pixels every weight is an integer
// `units / den` with den = srcLen / gcd(srcLen, dstLen), so a window's
// weighted sum is an integer N over D = denX * denY and the byte is N / D
// rounded half up. Separable, columns first (one vertical sum per destination
// row, then the horizontal taps); crops read pixels outside the image as 0.
// Integer sums do not depend on the order of the additions: the kernel adds in
// SIMD lanes, the twin one by one, and they agree exactly.

/** Checks an RGB u8 image for the area kernels (one-line RangeError). */
export function checkAreaImage(fn: string, src: Uint8Array, width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) {
    throw new RangeError(`${fn}: bad image size ${width}x${height}`);
  }
  if (!(src instanceof Uint8Array) || src.length !== width * height * 3) {
    throw new RangeError(
      `${fn}: ${width}x${height} RGB needs ${width * height * 3} bytes, got ${src?.length}`,
    );
  }
}

/** Checks the arguments of {@linkcode resizeAreaU8}. */
export function checkAreaResize(
  src: Uint8Array,
  width: number,
  height: number,
  dstW: number,
  dstH: number,
): void {
  checkAreaImage("resizeAreaU8", src, width, height);
  if (!(dstW >= 1 && dstH >= 1 && Number.isInteger(dstW) && Number.isInteger(dstH))) {
    throw new RangeError(`resizeAreaU8: bad output size ${dstW}x${dstH}`);
  }
}

/** Checks the arguments of {@linkcode cropResizeAreaU8ToF32}; returns the box count and largest sides. */
export function checkAreaCrops(
  src: Uint8Array,
  width: number,
  height: number,
  rects: Int32Array,
  size: number,
  out?: Float32Array,
): { n: number; maxW: number; maxH: number } {
  const fn = "cropResizeAreaU8ToF32";
  checkAreaImage(fn, src, width, height);
  if (!(rects instanceof Int32Array) || rects.length % 4 !== 0) {
    throw new RangeError(`${fn}: rects must be an Int32Array of x, y, w, h quadruples`);
  }
  checkPositive(fn, "size", size);
  const n = rects.length >> 2;
  if (out !== undefined && (!(out instanceof Float32Array) || out.length !== n * size * size * 3)) {
    throw new RangeError(
      `${fn}: out must be a Float32Array of ${n * size * size * 3} floats, got ${
        out instanceof Float32Array ? out.length : typeof out
      }`,
    );
  }
  let maxW = 1, maxH = 1;
  for (let i = 0; i < n; i++) {
    const x = rects[4 * i], y = rects[4 * i + 1], w = rects[4 * i + 2], h = rects[4 * i + 3];
    if (!(w >= 1 && h >= 1)) {
      throw new RangeError(`${fn}: box ${i} (${x}, ${y}, ${w}, ${h}) has a side < 1`);
    }
    if (w > maxW) maxW = w;
    if (h > maxH) maxH = h;
  }
  return { n, maxW, maxH };
}

/**
 * The taps of one axis, grouped by destination index: taps `start[d]..start[d+1]`
 * make pixel `d`, source pixels `src[k]` (consecutive) with weights
 * `weight[k] = units[k] / den` (units integers, den = srcLen / gcd(srcLen, dstLen)).
 */
export interface AreaTaps {
  start: Int32Array;
  src: Int32Array;
  weight: Float64Array;
  units: Int32Array;
  den: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The taps of OpenCV's INTER_AREA along one axis of `srcLen` pixels resized to
 * `dstLen`, in exact integer arithmetic. Shrinking: destination pixel d covers
 * [d, d + 1) * srcLen / dstLen source pixels; each source pixel weighs its
 * covered length (partial ends of 1/1000 of a pixel or less are dropped, as
 * OpenCV does). Enlarging: OpenCV's area-mode linear taps, clamped at the
 * borders. In units of 1 / (srcLen * dstLen) the covered lengths are
 * integers, which `units` holds divided by gcd(srcLen, dstLen).
 *
 * @example
 * ```ts
 * areaTaps(3, 2); // pixel 0 = (2·s0 + 1·s1) / 3, pixel 1 = (1·s1 + 2·s2) / 3
 * ```
 */
export function areaTaps(srcLen: number, dstLen: number): AreaTaps {
  const g = gcd(srcLen, dstLen);
  const start = [0], src: number[] = [], units: number[] = [];
  const push = (s: number, u: number) => {
    src.push(s);
    units.push(u / g);
  };
  for (let d = 0; d < dstLen; d++) {
    if (dstLen <= srcLen) {
      // in units of 1/dstLen source pixels: the cell is [f1, f2), pixel s is [s, s + 1) * dstLen
      const f1 = d * srcLen, f2 = f1 + srcLen;
      const s2 = Math.min(Math.floor(f2 / dstLen), srcLen - 1);
      const s1 = Math.min(Math.ceil(f1 / dstLen), s2);
      const left = s1 * dstLen - f1, right = f2 - s2 * dstLen;
      if (1000 * left > dstLen) push(s1 - 1, left);
      for (let s = s1; s < s2; s++) push(s, dstLen);
      if (1000 * right > dstLen) push(s2, Math.min(right, dstLen));
    } else {
      // s = floor(d * srcLen / dstLen); the blend towards s + 1 is m / srcLen
      let s = Math.floor((d * srcLen) / dstLen);
      let m = (d + 1) * srcLen - (s + 1) * dstLen;
      if (s >= srcLen - 1) {
        s = srcLen - 1;
        m = 0;
      }
      if (m < 0) m = 0;
      push(s, srcLen - m);
      if (m > 0) push(s + 1, m);
    }
    start.push(src.length);
  }
  const den = srcLen / g;
  return {
    start: Int32Array.from(start),
    src: Int32Array.from(src),
    weight: Float64Array.from(units, (u) => u / den),
    units: Int32Array.from(units),
    den,
  };
}

/** Where {@linkcode resampleWindow} writes: bytes, or normalised floats `(v - mean) * scale`. */
type Sink =
  | { kind: "u8"; out: Uint8Array; offset: number }
  | { kind: "f32"; out: Float32Array; offset: number; mean: number; scale: number };

/**
 * Resamples the `winW` x `winH` window at (`x0`, `y0`) of an RGB image (pixels
 * outside the image read as 0) as the taps describe and writes it, rounded to
 * bytes, to `sink`. Per destination row: the vertical taps' weighted sum of
 * the window's rows into `v` (integers), then the horizontal taps over `v`:
 * the integer N of the pixel's N / (denX * denY), rounded half up.
 */
function resampleWindow(
  src: Uint8Array,
  width: number,
  height: number,
  x0: number,
  y0: number,
  winW: number,
  xt: AreaTaps,
  yt: AreaTaps,
  sink: Sink,
  v: Float64Array,
): void {
  const dw = xt.start.length - 1, dh = yt.start.length - 1, rowLen = dw * 3;
  const den = xt.den * yt.den;
  // the window's columns inside the image
  const c0 = Math.max(0, -x0), c1 = Math.min(winW, width - x0);
  for (let dy = 0; dy < dh; dy++) {
    v.fill(0, 0, winW * 3);
    for (let k = yt.start[dy]; k < yt.start[dy + 1]; k++) {
      const sy = yt.src[k] + y0;
      if (sy < 0 || sy >= height) continue;
      const u = yt.units[k], base = (sy * width + x0) * 3;
      for (let i = c0 * 3; i < c1 * 3; i++) v[i] += u * src[base + i];
    }
    const o = sink.offset + dy * rowLen;
    for (let d = 0; d < dw; d++) {
      for (let c = 0; c < 3; c++) {
        let n = 0;
        for (let k = xt.start[d]; k < xt.start[d + 1]; k++) n += xt.units[k] * v[xt.src[k] * 3 + c];
        const byte = Math.round(n / den);
        if (sink.kind === "u8") sink.out[o + 3 * d + c] = byte;
        else sink.out[o + 3 * d + c] = (byte - sink.mean) * sink.scale;
      }
    }
  }
}

/**
 * Resizes an RGB u8 image with OpenCV's INTER_AREA, exactly: each byte is the
 * exact weighted average rounded half up (within 1 of `cv2.resize`, which
 * rounds float32 sums and enlarges in fixed point).
 *
 * @example
 * ```ts
 * const half = resizeAreaU8(rgb, 640, 480, 320, 240);
 * ```
 */
export function resizeAreaU8(
  src: Uint8Array,
  width: number,
  height: number,
  dstW: number,
  dstH: number,
): Uint8Array {
  checkAreaResize(src, width, height, dstW, dstH);
  const out = new Uint8Array(dstW * dstH * 3);
  const xt = areaTaps(width, dstW), yt = areaTaps(height, dstH);
  const sink = { kind: "u8" as const, out, offset: 0 };
  resampleWindow(src, width, height, 0, 0, width, xt, yt, sink, new Float64Array(width * 3));
  return out;
}

/**
 * Crops every rectangle (x, y, w, h integers; outside the image reads 0) and
 * resizes it to `size`×`size` with INTER_AREA (as {@linkcode resizeAreaU8}),
 * rounded to bytes, then normalised: `(v - mean) * scale`. Returns
 * n·size·size·3 floats, crop after crop: a new array, or `out` (exactly that
 * long) filled.
 *
 * @example
 * ```ts
 * const batch = cropResizeAreaU8ToF32(rgb, 640, 480, rects, 24, 127.5, 0.0078125);
 * ```
 */
export function cropResizeAreaU8ToF32(
  src: Uint8Array,
  width: number,
  height: number,
  rects: Int32Array,
  size: number,
  mean: number,
  scale: number,
  out?: Float32Array,
): Float32Array {
  const { n, maxW } = checkAreaCrops(src, width, height, rects, size, out);
  const step = size * size * 3;
  const sink = {
    kind: "f32" as const,
    out: out ?? new Float32Array(n * step),
    offset: 0,
    mean,
    scale,
  };
  const v = new Float64Array(maxW * 3);
  const taps = new Map<number, AreaTaps>();
  const tapsFor = (len: number) => {
    let t = taps.get(len);
    if (!t) taps.set(len, t = areaTaps(len, size));
    return t;
  };
  for (let i = 0; i < n; i++) {
    const x = rects[4 * i], y = rects[4 * i + 1], w = rects[4 * i + 2], h = rects[4 * i + 3];
    sink.offset = i * step;
    resampleWindow(src, width, height, x, y, w, tapsFor(w), tapsFor(h), sink, v);
  }
  return sink.out;
}

/**
 * Twin of the SIMD peak probe `fmaPeak` (kernels/assembly/area.ts): `iters`
 * rounds of acc = acc * a + c (f32, unfused) on 8 accumulators of 4 lanes,
 * lane j of accumulator i starting at 4i + j; the sum of every lane, in the
 * kernel's order. With a * acc exact (a a power of two), fused and unfused
 * give the same value.
 *
 * @example
 * ```ts
 * fmaPeak(100, 0.5, 1); // 64: every lane converges to c / (1 - a) = 2
 * ```
 */
export function fmaPeak(iters: number, a: number, c: number): number {
  checkPositive("fmaPeak", "iters", iters);
  const af = fround(a), cf = fround(c);
  const acc = Float32Array.from({ length: 32 }, (_, i) => i);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < 32; i++) acc[i] = fround(fround(acc[i] * af) + cf);
  }
  const lane = (j: number) => {
    const v = (i: number) => acc[4 * i + j];
    const add = (x: number, y: number) => fround(x + y);
    return add(
      add(add(v(0), v(1)), add(v(2), v(3))),
      add(add(v(4), v(5)), add(v(6), v(7))),
    );
  };
  return fround(fround(fround(lane(0) + lane(1)) + lane(2)) + lane(3));
}

/**
 * Grouped 1×1 convolution + bias + PReLU with the channel shuffle fused
 * (the engine's `groupConvPrelu`): `pixels` pixels of `cin` channels,
 * weight [cin/g, oc] in the final output order (column o reads input
 * channels (o mod g)·cin/g + i), bias and alpha [oc]. Group k's j-th output
 * is channel j·g + k. Returns pixels × oc.
 *
 * @example
 * ```ts
 * const y = groupConvPreluF32(x, 35, 6, 3, w, b, undefined); // w: [2, oc]
 * ```
 */
export function groupConvPreluF32(
  x: Float32Array,
  pixels: number,
  cin: number,
  groups: number,
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
): Float32Array {
  const fn = "groupConvPreluF32";
  checkPositive(fn, "pixels", pixels);
  checkPositive(fn, "groups", groups);
  const oc = bias.length;
  const per = cin / groups;
  if (!Number.isInteger(per) || oc % groups !== 0) {
    throw new RangeError(
      `${fn}: ${cin} inputs and ${oc} outputs must be divisible by ${groups} groups`,
    );
  }
  checkLength(fn, "x", x, pixels * cin);
  checkLength(fn, "weight", weight, per * oc);
  if (alpha) checkLength(fn, "alpha", alpha, oc);
  const y = new Float32Array(pixels * oc);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < groups; k++) {
      for (let j = 0; j < oc / groups; j++) {
        const o = j * groups + k;
        let acc = bias[o];
        for (let i = 0; i < per; i++) {
          acc = fround(acc + fround(x[p * cin + k * per + i] * weight[i * oc + o]));
        }
        y[p * oc + o] = preluValue(acc, alpha, o);
      }
    }
  }
  return y;
}
