/**
 * Area resampling (OpenCV's INTER_AREA), the interpolation the published
 * MTCNN ports use for the image pyramid and the RNet / ONet crops (facenet
 * and the `mtcnn` package call `cv2.resize(..., INTER_AREA)`; the original
 * MATLAB code's `imResample` also averages when shrinking). Shrinking averages
 * every source pixel a destination pixel covers, weighted by the covered
 * fraction; enlarging is OpenCV's area-mode linear blend.
 *
 * Plain TypeScript: separable, float32 accumulation, one horizontal pass per
 * source row. Crops read pixels outside the image as 0, like the crop kernel.
 *
 * @example
 * ```ts
 * const level = resizeAreaU8(img.data, 640, 480, 384, 288);
 * const crops = cropResizeAreaU8ToF32(img.data, 640, 480, new Int32Array([10, 20, 60, 60]), 24, 127.5, 1 / 128);
 * ```
 */

/** The taps of one axis, grouped by destination index: taps `start[d]..start[d+1]` make pixel `d`. */
export interface AxisTaps {
  start: Int32Array;
  src: Int32Array;
  weight: Float64Array;
}

/**
 * The taps of OpenCV's INTER_AREA along one axis of `srcLen` pixels resized to
 * `dstLen` (shrinking: box weights of the covered fractions; enlarging: the
 * area-mode linear taps, clamped at the borders).
 *
 * @example
 * ```ts
 * areaTaps(3, 2); // pixel 0 = 2/3·s0 + 1/3·s1, pixel 1 = 1/3·s1 + 2/3·s2
 * ```
 */
export function areaTaps(srcLen: number, dstLen: number): AxisTaps {
  const start = [0], src: number[] = [], weight: number[] = [];
  const push = (s: number, w: number) => {
    src.push(s);
    weight.push(w);
  };
  // as cv::resize: the scale is 1 / (dst / src)
  const scale = 1 / (dstLen / srcLen);
  for (let d = 0; d < dstLen; d++) {
    if (dstLen <= srcLen) {
      const f1 = d * scale, f2 = f1 + scale;
      const cellWidth = Math.min(scale, srcLen - f1);
      const s2 = Math.min(Math.floor(f2), srcLen - 1);
      const s1 = Math.min(Math.ceil(f1), s2);
      if (s1 - f1 > 1e-3) push(s1 - 1, (s1 - f1) / cellWidth);
      for (let s = s1; s < s2; s++) push(s, 1 / cellWidth);
      if (f2 - s2 > 1e-3) push(s2, Math.min(f2 - s2, 1, cellWidth) / cellWidth);
    } else {
      let s = Math.floor(d * scale);
      let f = d + 1 - (s + 1) * (dstLen / srcLen);
      f = f <= 0 ? 0 : f - Math.floor(f);
      if (s >= srcLen - 1) {
        f = 0;
        s = srcLen - 1;
      }
      push(s, 1 - f);
      if (f > 0) push(s + 1, f);
    }
    start.push(src.length);
  }
  return {
    start: Int32Array.from(start),
    src: Int32Array.from(src),
    weight: Float64Array.from(weight),
  };
}

/** Where {@linkcode resampleWindow} writes: bytes, or normalised floats `(v - mean) * scale`. */
type Sink =
  | { kind: "u8"; out: Uint8Array; offset: number }
  | { kind: "f32"; out: Float32Array; offset: number; mean: number; scale: number };

/** Scratch rows reused across calls: two cached horizontal passes and one accumulator. */
class Rows {
  rows: Float64Array[];
  keys = [-1, -1];
  next = 0;
  acc: Float64Array;
  constructor(len: number) {
    this.rows = [new Float64Array(len), new Float64Array(len)];
    this.acc = new Float64Array(len);
  }
  reset() {
    this.keys[0] = this.keys[1] = -1;
  }
}

/**
 * Resamples the window at (`x0`, `y0`) of an RGB image that the taps
 * describe (pixels outside the image read as 0) and writes it, rounded to
 * bytes, to `sink`. Each destination row sums the horizontal passes of its
 * source rows; the last two passes are kept, so shared rows are done once.
 */
function resampleWindow(
  src: Uint8Array,
  width: number,
  height: number,
  x0: number,
  y0: number,
  xt: AxisTaps,
  yt: AxisTaps,
  sink: Sink,
  scratch: Rows,
): void {
  const dw = xt.start.length - 1, dh = yt.start.length - 1, rowLen = dw * 3;
  const { acc } = scratch;
  scratch.reset();
  // the window's columns all inside the image: no bounds test per tap
  const inside = x0 + xt.src[0] >= 0 && x0 + xt.src[xt.src.length - 1] < width;
  const horizontal = (sy: number): Float64Array => {
    if (scratch.keys[0] === sy) return scratch.rows[0];
    if (scratch.keys[1] === sy) return scratch.rows[1];
    const row = scratch.rows[scratch.next];
    scratch.keys[scratch.next] = sy;
    scratch.next ^= 1;
    const base = sy * width * 3;
    const { start, src: taps, weight } = xt;
    for (let d = 0, k = 0; d < dw; d++) {
      let r = 0, g = 0, b = 0;
      const end = start[d + 1];
      if (inside) {
        for (; k < end; k++) {
          const w = weight[k], p = base + (taps[k] + x0) * 3;
          r += src[p] * w;
          g += src[p + 1] * w;
          b += src[p + 2] * w;
        }
      } else {
        for (; k < end; k++) {
          const sx = taps[k] + x0;
          if (sx < 0 || sx >= width) continue;
          const w = weight[k], p = base + sx * 3;
          r += src[p] * w;
          g += src[p + 1] * w;
          b += src[p + 2] * w;
        }
      }
      row[3 * d] = r;
      row[3 * d + 1] = g;
      row[3 * d + 2] = b;
    }
    return row;
  };
  for (let dy = 0; dy < dh; dy++) {
    acc.fill(0, 0, rowLen);
    for (let k = yt.start[dy]; k < yt.start[dy + 1]; k++) {
      const sy = yt.src[k] + y0;
      if (sy < 0 || sy >= height) continue;
      const row = horizontal(sy), w = yt.weight[k];
      for (let i = 0; i < rowLen; i++) acc[i] += row[i] * w;
    }
    const o = sink.offset + dy * rowLen;
    if (sink.kind === "u8") {
      const out = sink.out;
      for (let i = 0; i < rowLen; i++) out[o + i] = Math.min(255, Math.round(acc[i]));
    } else {
      const { out, mean, scale } = sink;
      for (let i = 0; i < rowLen; i++) {
        out[o + i] = (Math.min(255, Math.round(acc[i])) - mean) * scale;
      }
    }
  }
}

/**
 * Resizes an RGB u8 image with OpenCV's INTER_AREA, rounded to bytes (within
 * 1 of `cv2.resize`: it rounds in float32 and enlarges in fixed point).
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
  checkSize("resizeAreaU8", src, width, height);
  if (!(dstW >= 1 && dstH >= 1 && Number.isInteger(dstW) && Number.isInteger(dstH))) {
    throw new RangeError(`resizeAreaU8: bad output size ${dstW}x${dstH}`);
  }
  const out = new Uint8Array(dstW * dstH * 3);
  const xt = areaTaps(width, dstW), yt = areaTaps(height, dstH);
  resampleWindow(
    src,
    width,
    height,
    0,
    0,
    xt,
    yt,
    { kind: "u8", out, offset: 0 },
    new Rows(dstW * 3),
  );
  return out;
}

/**
 * Crops every rectangle (x, y, w, h integers; outside the image reads 0) and
 * resizes it to `size`×`size` with INTER_AREA, rounded to bytes, then
 * normalised: `(v - mean) * scale`. Returns n·size·size·3 floats, crop after crop.
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
): Float32Array {
  checkSize("cropResizeAreaU8ToF32", src, width, height);
  const n = rects.length >> 2;
  const step = size * size * 3;
  const sink = { kind: "f32" as const, out: new Float32Array(n * step), offset: 0, mean, scale };
  const scratch = new Rows(size * 3);
  const taps = new Map<number, AxisTaps>();
  const tapsFor = (len: number) => {
    let t = taps.get(len);
    if (!t) taps.set(len, t = areaTaps(len, size));
    return t;
  };
  for (let i = 0; i < n; i++) {
    const x = rects[4 * i], y = rects[4 * i + 1], w = rects[4 * i + 2], h = rects[4 * i + 3];
    if (!(w >= 1 && h >= 1)) {
      throw new RangeError(
        `cropResizeAreaU8ToF32: box ${i} (${x}, ${y}, ${w}, ${h}) has a side < 1`,
      );
    }
    sink.offset = i * step;
    resampleWindow(src, width, height, x, y, tapsFor(w), tapsFor(h), sink, scratch);
  }
  return sink.out;
}

function checkSize(fn: string, src: Uint8Array, width: number, height: number) {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) {
    throw new RangeError(`${fn}: bad image size ${width}x${height}`);
  }
  if (src.length !== width * height * 3) {
    throw new RangeError(
      `${fn}: ${width}x${height} RGB needs ${width * height * 3} bytes, got ${src.length}`,
    );
  }
}
