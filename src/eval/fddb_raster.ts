/**
 * The pixel masks the FDDB evaluation (`evaluate`, Jain & Learned-Miller's FDDB tools)
 * compares: an annotated face is an ellipse and a detection a rectangle, each drawn filled
 * with OpenCV onto a mask of the image's size, and their overlap is counted in pixels.
 *
 * The drawing is reproduced arithmetic for arithmetic, from OpenCV 4's `cv::ellipse` and
 * `cv::rectangle` with thickness -1 and 8-connected lines: the centre is rounded from float
 * (`cvPointFrom32f`), the radii truncated to integers (`cvSize((int)ra, (int)rb)`), the
 * angle rounded to whole degrees; `ellipse2Poly` samples the outline every 5° (fewer for
 * small ellipses) with OpenCV's 7-digit sine table into 16.16 fixed point; `FillConvexPoly`
 * then draws the polygon's edges (`Line2`, clipped by `clipLine`) and fills it scanline by
 * scanline. The result matched OpenCV 4.6's `cv2.ellipse` / `cv2.rectangle` pixel for pixel
 * on random ellipses (see tests/fddb_test.ts).
 *
 * A region is stored as spans per row, clipped to the image (when its size is known; if not,
 * to x, y >= 0 and below {@linkcode UNBOUNDED}).
 *
 * @example
 * ```ts
 * import { ellipseRegion, rectangleRegion, regionIoU } from "./fddb_raster.ts";
 * const face = ellipseRegion({ majorRadius: 40, minorRadius: 30, angle: 1.4, cx: 100, cy: 90 });
 * const det = rectangleRegion({ x: 70, y: 50, w: 62, h: 82 });
 * regionIoU(face, det);   // ~0.7
 * ```
 * @module
 */

/** An FDDB face annotation: an ellipse with radii in pixels and angle in radians. */
export interface FddbEllipse {
  majorRadius: number;
  minorRadius: number;
  /** Angle of the major axis with the x axis, radians (image coordinates, y down). */
  angle: number;
  cx: number;
  cy: number;
}

/** A pixel region: for each row `y0 + r`, sorted inclusive spans `[x0, x1]`. */
export interface Region {
  y0: number;
  /** `rowStart[r]..rowStart[r+1]` index the spans of row `y0 + r` (in pairs). */
  rowStart: Int32Array;
  /** Span ends `x0, x1` (inclusive), two numbers per span. */
  spans: Int32Array;
  /** Pixels in the region. */
  area: number;
}

/** Image size used when the real one is unknown. */
export const UNBOUNDED = 1 << 15;

const XY_SHIFT = 16, XY_ONE = 1 << XY_SHIFT, HALF = XY_ONE >> 1;

/** OpenCV's `SinTable`: sines of whole degrees 0..450 to 7 decimals, as float32. */
const SIN_TABLE = (() => {
  const t = new Float64Array(451);
  for (let d = 0; d <= 450; d++) {
    const s = Math.round(Math.sin((d * Math.PI) / 180) * 1e7) / 1e7;
    t[d] = Math.fround(s === 0 ? 0 : s);
  }
  return t;
})();

/** `cvRound`: round half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `>>` on a (possibly negative) integer held in a double. */
function shr(v: number, k: number): number {
  return Math.floor(v / 2 ** k);
}

/** C integer division (truncation toward zero). */
function idiv(a: number, b: number): number {
  return Math.trunc(a / b);
}

/** A bitmap over the image area `[bx, bx + bw) x [by, by + bh)` of an image `width x height`. */
class Mask {
  data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    readonly bx: number,
    readonly by: number,
    readonly bw: number,
    readonly bh: number,
  ) {
    this.data = new Uint8Array(Math.max(0, bw) * Math.max(0, bh));
  }
  put(x: number, y: number) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const lx = x - this.bx, ly = y - this.by;
    if (lx < 0 || ly < 0 || lx >= this.bw || ly >= this.bh) return;
    this.data[ly * this.bw + lx] = 1;
  }
  hline(y: number, x1: number, x2: number) {
    for (let x = x1; x <= x2; x++) this.put(x, y);
  }
  toRegion(): Region {
    const rowStart = new Int32Array(this.bh + 1);
    const spans: number[] = [];
    let area = 0;
    for (let r = 0; r < this.bh; r++) {
      rowStart[r] = spans.length / 2;
      const row = r * this.bw;
      for (let x = 0; x < this.bw; x++) {
        if (!this.data[row + x]) continue;
        const s = x;
        while (x + 1 < this.bw && this.data[row + x + 1]) x++;
        spans.push(this.bx + s, this.bx + x);
        area += x - s + 1;
      }
    }
    rowStart[this.bh] = spans.length / 2;
    return { y0: this.by, rowStart, spans: Int32Array.from(spans), area };
  }
}

/** OpenCV's `clipLine` on a scaled size (16.16 fixed point); BigInt, as products pass 2^53. */
function clipLine(
  w: number,
  h: number,
  p: [number, number, number, number],
): boolean {
  const right = BigInt(w) - 1n, bottom = BigInt(h) - 1n;
  if (w <= 0 || h <= 0) return false;
  let [x1, y1, x2, y2] = p.map(BigInt);
  const code = (x: bigint, y: bigint) =>
    (x < 0n ? 1 : 0) + (x > right ? 2 : 0) + (y < 0n ? 4 : 0) + (y > bottom ? 8 : 0);
  let c1 = code(x1, y1), c2 = code(x2, y2);
  if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
    let a: bigint;
    if (c1 & 12) {
      a = c1 < 8 ? 0n : bottom;
      x1 += ((a - y1) * (x2 - x1)) / (y2 - y1);
      y1 = a;
      c1 = (x1 < 0n ? 1 : 0) + (x1 > right ? 2 : 0);
    }
    if (c2 & 12) {
      a = c2 < 8 ? 0n : bottom;
      x2 += ((a - y2) * (x2 - x1)) / (y2 - y1);
      y2 = a;
      c2 = (x2 < 0n ? 1 : 0) + (x2 > right ? 2 : 0);
    }
    if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
      if (c1) {
        a = c1 === 1 ? 0n : right;
        y1 += ((a - x1) * (y2 - y1)) / (x2 - x1);
        x1 = a;
        c1 = 0;
      }
      if (c2) {
        a = c2 === 1 ? 0n : right;
        y2 += ((a - x2) * (y2 - y1)) / (x2 - x1);
        x2 = a;
        c2 = 0;
      }
    }
  }
  p[0] = Number(x1), p[1] = Number(y1), p[2] = Number(x2), p[3] = Number(y2);
  return (c1 | c2) === 0;
}

/** OpenCV's `Line2`: an 8-connected line between 16.16 fixed-point points. */
function line2(mask: Mask, ax: number, ay: number, bx: number, by: number): void {
  const sw = mask.width * XY_ONE, sh = mask.height * XY_ONE;
  const p: [number, number, number, number] = [ax, ay, bx, by];
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x <= sw - 1 && y <= sh - 1;
  if (!(inside(ax, ay) && inside(bx, by)) && !clipLine(sw, sh, p)) return;
  let [x1, y1, x2, y2] = p;
  const dx0 = x2 - x1, dy0 = y2 - y1;
  let dx: number, dy: number;
  const ax_ = Math.abs(dx0), ay_ = Math.abs(dy0);
  let xStep = XY_ONE, yStep = XY_ONE, ecount: number;
  if (ax_ > ay_) {
    if (dx0 < 0) [x1, y1, x2, y2] = [x2, y2, x1, y1];
    dy = y2 - y1;
    yStep = idiv(dy * XY_ONE, orOne(ax_));
    ecount = shr(x2 - x1, XY_SHIFT);
  } else {
    if (dy0 < 0) [x1, y1, x2, y2] = [x2, y2, x1, y1];
    dx = x2 - x1;
    xStep = idiv(dx * XY_ONE, orOne(ay_));
    ecount = shr(y2 - y1, XY_SHIFT);
  }
  x1 += HALF;
  y1 += HALF;
  mask.put(shr(x2 + HALF, XY_SHIFT), shr(y2 + HALF, XY_SHIFT));
  if (ax_ > ay_) {
    let x = shr(x1, XY_SHIFT);
    while (ecount >= 0) {
      mask.put(x, shr(y1, XY_SHIFT));
      x++;
      y1 += yStep;
      ecount--;
    }
  } else {
    let y = shr(y1, XY_SHIFT);
    while (ecount >= 0) {
      mask.put(shr(x1, XY_SHIFT), y);
      x1 += xStep;
      y++;
      ecount--;
    }
  }
}

/** `v | 1` on a non-negative integer that may pass 2^31. */
function orOne(v: number): number {
  return v % 2 === 0 ? v + 1 : v;
}

/** OpenCV's `FillConvexPoly` with `shift` 16 and 8-connected edges. */
function fillConvexPoly(mask: Mask, vx: number[], vy: number[]): void {
  const n = vx.length;
  let imin = 0;
  let xmin = vx[0], xmax = vx[0], ymin = vy[0], ymax = vy[0];
  let p0x = vx[n - 1], p0y = vy[n - 1];
  for (let i = 0; i < n; i++) {
    if (vy[i] < ymin) {
      ymin = vy[i];
      imin = i;
    }
    ymax = Math.max(ymax, vy[i]);
    xmax = Math.max(xmax, vx[i]);
    xmin = Math.min(xmin, vx[i]);
    line2(mask, p0x, p0y, vx[i], vy[i]);
    p0x = vx[i];
    p0y = vy[i];
  }
  xmin = shr(xmin + HALF, XY_SHIFT);
  xmax = shr(xmax + HALF, XY_SHIFT);
  ymin = shr(ymin + HALF, XY_SHIFT);
  ymax = shr(ymax + HALF, XY_SHIFT);
  if (n < 3 || xmax < 0 || ymax < 0 || xmin >= mask.width || ymin >= mask.height) return;
  ymax = Math.min(ymax, mask.height - 1);
  const idx = [imin, imin], di = [1, n - 1], ye = [ymin, ymin];
  const ex = [-XY_ONE, -XY_ONE], edx = [0, 0];
  let y = ymin;
  let edges = n;
  do {
    for (let i = 0; i < 2; i++) {
      if (y < ye[i]) continue;
      let idx0 = idx[i];
      let k = idx0 + di[i];
      if (k >= n) k -= n;
      while (edges-- > 0) {
        const ty = shr(vy[k] + HALF, XY_SHIFT);
        if (ty > y) {
          const xs = vx[idx0], xe = vx[k];
          ye[i] = ty;
          edx[i] = idiv((xe - xs) * 2 + (ty - y), 2 * (ty - y));
          ex[i] = xs;
          idx[i] = k;
          break;
        }
        idx0 = k;
        k += di[i];
        if (k >= n) k -= n;
      }
    }
    if (edges < 0) break;
    if (y >= 0) {
      const [l, r] = ex[0] > ex[1] ? [1, 0] : [0, 1];
      let x1 = shr(ex[l] + HALF, XY_SHIFT), x2 = shr(ex[r] + HALF, XY_SHIFT);
      if (x2 >= 0 && x1 < mask.width) {
        if (x1 < 0) x1 = 0;
        if (x2 >= mask.width) x2 = mask.width - 1;
        mask.hline(y, x1, x2);
      }
    }
    ex[0] += edx[0];
    ex[1] += edx[1];
  } while (++y <= ymax);
}

/** An image size, or undefined for an unbounded mask. */
export type ImageSize = { width: number; height: number } | undefined;

/**
 * The mask FDDB draws for an annotated face: `cvEllipse(mask, cvPointFrom32f(cx, cy),
 * cvSize((int)ra, (int)rb), 180 - (π - angle)·180/π, 0, 360, color, CV_FILLED)`.
 *
 * @example
 * ```ts
 * ellipseRegion({ majorRadius: 20, minorRadius: 10, angle: 0, cx: 50, cy: 50 }).area;   // ~660
 * ```
 */
export function ellipseRegion(e: FddbEllipse, size?: ImageSize): Region {
  const width = size?.width ?? UNBOUNDED, height = size?.height ?? UNBOUNDED;
  const cx = roundHalfEven(Math.fround(e.cx)), cy = roundHalfEven(Math.fround(e.cy));
  const a = Math.abs(Math.trunc(e.majorRadius)), b = Math.abs(Math.trunc(e.minorRadius));
  const stored = ((Math.PI - e.angle) * 180) / Math.PI; // EllipsesSingleImage::read
  let angle = roundHalfEven(180 - stored); // cv::ellipse rounds the angle
  while (angle < 0) angle += 360;
  while (angle > 360) angle -= 360;
  // EllipseEx: centre and axes in 16.16 fixed point
  const fcx = cx * XY_ONE, fcy = cy * XY_ONE, fa = a * XY_ONE, fb = b * XY_ONE;
  const m = shr(Math.max(fa, fb) + HALF, XY_SHIFT);
  const delta = m < 3 ? 90 : m < 10 ? 30 : m < 15 ? 18 : 5;
  // ellipse2Poly (arc 0..360)
  const alpha = SIN_TABLE[450 - angle], beta = SIN_TABLE[angle];
  const vx: number[] = [], vy: number[] = [];
  for (let i = 0; i < 360 + delta; i += delta) {
    const t = Math.min(i, 360);
    const x = fa * SIN_TABLE[450 - t], y = fb * SIN_TABLE[t];
    const px = fcx + x * alpha - y * beta, py = fcy + x * beta + y * alpha;
    // back to 16.16 integers as EllipseEx does
    let qx = roundHalfEven(px / XY_ONE) * XY_ONE, qy = roundHalfEven(py / XY_ONE) * XY_ONE;
    qx += roundHalfEven(px - qx);
    qy += roundHalfEven(py - qy);
    if (vx.length && vx[vx.length - 1] === qx && vy[vy.length - 1] === qy) continue;
    vx.push(qx);
    vy.push(qy);
  }
  if (vx.length === 1) {
    vx[1] = vx[0] = fcx;
    vy[1] = vy[0] = fcy;
  }
  const pad = 2;
  const x0 = Math.max(0, shr(Math.min(...vx) + HALF, XY_SHIFT) - pad);
  const y0 = Math.max(0, shr(Math.min(...vy) + HALF, XY_SHIFT) - pad);
  const x1 = Math.min(width - 1, shr(Math.max(...vx) + HALF, XY_SHIFT) + pad);
  const y1 = Math.min(height - 1, shr(Math.max(...vy) + HALF, XY_SHIFT) + pad);
  if (!(x1 >= x0 && y1 >= y0)) return emptyRegion();
  const mask = new Mask(width, height, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  fillConvexPoly(mask, vx, vy);
  return mask.toRegion();
}

/**
 * The mask FDDB draws for a detection `x, y, w, h`: `cvRectangle(mask,
 * cvPointFrom32f(x, y), cvPointFrom32f(x + w, y + h), color, CV_FILLED)`, corners rounded
 * from float and both included.
 *
 * @example
 * ```ts
 * rectangleRegion({ x: 10, y: 10, w: 9, h: 4 }).area;   // 10 * 5 = 50
 * ```
 */
export function rectangleRegion(
  r: { x: number; y: number; w: number; h: number },
  size?: ImageSize,
): Region {
  const width = size?.width ?? UNBOUNDED, height = size?.height ?? UNBOUNDED;
  const ax = roundHalfEven(Math.fround(r.x)), ay = roundHalfEven(Math.fround(r.y));
  const bx = roundHalfEven(Math.fround(r.x + r.w)), by = roundHalfEven(Math.fround(r.y + r.h));
  const x0 = Math.max(0, Math.min(ax, bx)), x1 = Math.min(width - 1, Math.max(ax, bx));
  const y0 = Math.max(0, Math.min(ay, by)), y1 = Math.min(height - 1, Math.max(ay, by));
  if (!(x1 >= x0 && y1 >= y0)) return emptyRegion();
  const rows = y1 - y0 + 1;
  const rowStart = new Int32Array(rows + 1);
  const spans = new Int32Array(2 * rows);
  for (let r = 0; r < rows; r++) {
    rowStart[r] = r;
    spans[2 * r] = x0;
    spans[2 * r + 1] = x1;
  }
  rowStart[rows] = rows;
  return { y0, rowStart, spans, area: rows * (x1 - x0 + 1) };
}

function emptyRegion(): Region {
  return { y0: 0, rowStart: new Int32Array(1), spans: new Int32Array(0), area: 0 };
}

/** Pixels in both regions. */
export function regionIntersection(a: Region, b: Region): number {
  const ra = a.rowStart.length - 1, rb = b.rowStart.length - 1;
  const lo = Math.max(a.y0, b.y0), hi = Math.min(a.y0 + ra, b.y0 + rb);
  let n = 0;
  for (let y = lo; y < hi; y++) {
    let i = a.rowStart[y - a.y0], j = b.rowStart[y - b.y0];
    const ie = a.rowStart[y - a.y0 + 1], je = b.rowStart[y - b.y0 + 1];
    while (i < ie && j < je) {
      const s = Math.max(a.spans[2 * i], b.spans[2 * j]);
      const e = Math.min(a.spans[2 * i + 1], b.spans[2 * j + 1]);
      if (e >= s) n += e - s + 1;
      if (a.spans[2 * i + 1] < b.spans[2 * j + 1]) i++;
      else j++;
    }
  }
  return n;
}

/**
 * FDDB's overlap score: |A ∩ B| / |A ∪ B| in pixels (`Matching::computeScore`); 0 when both
 * regions are empty.
 *
 * @example
 * ```ts
 * regionIoU(rectangleRegion({ x: 0, y: 0, w: 9, h: 9 }), rectangleRegion({ x: 5, y: 0, w: 9, h: 9 }));   // 50 / 150
 * ```
 */
export function regionIoU(a: Region, b: Region): number {
  const inter = regionIntersection(a, b);
  const union = a.area + b.area - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * The region as a 0/1 mask of `width x height` (row-major), for tests and pictures.
 *
 * @example
 * ```ts
 * const m = regionMask(ellipseRegion(face, { width: 320, height: 240 }), 320, 240);
 * ```
 */
export function regionMask(region: Region, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let r = 0; r + 1 < region.rowStart.length; r++) {
    const y = region.y0 + r;
    if (y < 0 || y >= height) continue;
    for (let k = region.rowStart[r]; k < region.rowStart[r + 1]; k++) {
      for (
        let x = Math.max(0, region.spans[2 * k]);
        x <= Math.min(width - 1, region.spans[2 * k + 1]);
        x++
      ) {
        out[y * width + x] = 1;
      }
    }
  }
  return out;
}
