/**
 * A tiny anti-aliased rasteriser for the synthetic dataset: a float RGB
 * canvas, shapes given by an exact inside test plus an approximate signed
 * distance, and alpha compositing with coverage-based anti-aliasing.
 *
 * Coverage rule: pixel `(x, y)` is the square `[x, x+1) × [y, y+1)`. A pixel
 * whose centre lies farther than the shape's `margin` from the boundary is
 * fully in or out; any other pixel is sampled on a 4×4 grid with the exact
 * inside test. So shapes far below one pixel still leave a proportionate
 * trace, which keeps 12-pixel faces looking like faces. Soft shapes (shadows,
 * blush) instead ramp linearly over `2 * soft` pixels of signed distance.
 *
 * @example
 * ```ts
 * const c = new Canvas(64, 48);
 * c.fill(rect(0, 0, 64, 48), [0.2, 0.3, 0.4]);
 * c.fill(ellipse(32, 24, 10, 14, 0.2), [0.9, 0.7, 0.6]);
 * const img = c.toRgbImage();
 * ```
 *
 * @module
 */
import type { RgbImage } from "../../image/types.ts";

/** A colour with channels in [0, 1]. */
export type Rgb = readonly [number, number, number];

/** A colour that depends on the position: writes the colour at `(x, y)` into `out[0..2]`. */
export type PaintFn = (x: number, y: number, out: Float32Array) => void;

/** A solid colour or a position-dependent one. */
export type Paint = Rgb | PaintFn;

/** A shape in continuous image coordinates (pixel `(i, j)` covers `[i, i+1) × [j, j+1)`). */
export interface Shape {
  /** Bounding box (may be infinite for half-planes, which are only used in intersections). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /**
   * Distance from the boundary below which a pixel is sampled (≥ 0.71); it
   * covers the error of `sd` near the boundary.
   */
  margin: number;
  /** Approximate signed distance to the boundary in pixels, negative inside. */
  sd(x: number, y: number): number;
  /**
   * A conservative signed distance: its magnitude never exceeds the true
   * distance to the boundary (used to skip or fill whole tiles).
   */
  bound(x: number, y: number): number;
  /** Exact inside test. */
  inside(x: number, y: number): boolean;
}

const SS = 4;
const TILE = 8;

/** A float RGB canvas (channels in [0, 1], interleaved, row-major). */
export class Canvas {
  readonly data: Float32Array;
  #color = new Float32Array(3);

  constructor(readonly width: number, readonly height: number) {
    if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
      throw new RangeError(`Canvas: invalid size ${width}x${height}`);
    }
    this.data = new Float32Array(width * height * 3);
  }

  /**
   * Composites `paint` over the canvas where `shape` covers it, with opacity
   * `alpha`; `soft > 0` gives a blurred edge `2 * soft` pixels wide.
   */
  fill(shape: Shape, paint: Paint, alpha = 1, soft = 0): void {
    if (!(alpha > 0)) return;
    const pad = soft + 1;
    const x0 = Math.max(0, Math.floor(shape.x0 - pad));
    const y0 = Math.max(0, Math.floor(shape.y0 - pad));
    const x1 = Math.min(this.width, Math.ceil(shape.x1 + pad));
    const y1 = Math.min(this.height, Math.ceil(shape.y1 + pad));
    if (x1 <= x0 || y1 <= y0) return;
    const d = this.data;
    const solid = typeof paint !== "function";
    const col = this.#color;
    if (solid) {
      col[0] = paint[0];
      col[1] = paint[1];
      col[2] = paint[2];
    }
    const margin = shape.margin;
    const inv2soft = soft > 0 ? 1 / (2 * soft) : 0;
    const W = this.width;
    for (let ty = y0; ty < y1; ty += TILE) {
      const ty1 = Math.min(y1, ty + TILE);
      for (let tx = x0; tx < x1; tx += TILE) {
        const tx1 = Math.min(x1, tx + TILE);
        let mode = 0; // 0: per pixel, 1: all inside
        if (soft === 0) {
          const r = Math.hypot(tx1 - tx, ty1 - ty) / 2;
          const b = shape.bound((tx + tx1) / 2, (ty + ty1) / 2);
          if (b > r) continue;
          if (b < -r) mode = 1;
        }
        fillTile(
          d,
          W,
          shape,
          paint,
          solid,
          col,
          alpha,
          soft,
          inv2soft,
          margin,
          mode,
          tx,
          tx1,
          ty,
          ty1,
        );
      }
    }
  }

  /**
   * Gaussian-blurs the disc of radius `radius` around `(cx, cy)` with standard
   * deviation `sigma`, feathering the blend to zero over the outer 20 % of the
   * radius. `radius = Infinity` blurs the whole canvas.
   */
  blur(cx: number, cy: number, radius: number, sigma: number): void {
    if (!(sigma > 0.05)) return;
    const k = Math.max(1, Math.ceil(3 * sigma));
    const whole = !Number.isFinite(radius);
    const x0 = whole ? 0 : Math.max(0, Math.floor(cx - radius));
    const y0 = whole ? 0 : Math.max(0, Math.floor(cy - radius));
    const x1 = whole ? this.width : Math.min(this.width, Math.ceil(cx + radius));
    const y1 = whole ? this.height : Math.min(this.height, Math.ceil(cy + radius));
    if (x1 <= x0 || y1 <= y0) return;
    // Source window with the kernel's apron, clamped to the canvas.
    const sx0 = Math.max(0, x0 - k), sy0 = Math.max(0, y0 - k);
    const sx1 = Math.min(this.width, x1 + k), sy1 = Math.min(this.height, y1 + k);
    const sh = sy1 - sy0;
    const kernel = new Float32Array(2 * k + 1);
    let sum = 0;
    for (let t = -k; t <= k; t++) sum += kernel[t + k] = Math.exp(-(t * t) / (2 * sigma * sigma));
    for (let t = 0; t < kernel.length; t++) kernel[t] /= sum;
    const d = this.data;
    const W = this.width;
    // Horizontal pass over rows sy0..sy1, columns x0..x1 (clamped taps).
    const rw = x1 - x0;
    const tmp = new Float32Array(rw * sh * 3);
    for (let y = 0; y < sh; y++) {
      const row = (sy0 + y) * W;
      for (let x = 0; x < rw; x++) {
        let r = 0, g = 0, b = 0;
        for (let t = -k; t <= k; t++) {
          let xx = x0 + x + t;
          if (xx < sx0) xx = sx0;
          else if (xx >= sx1) xx = sx1 - 1;
          const w = kernel[t + k];
          const j = (row + xx) * 3;
          r += d[j] * w;
          g += d[j + 1] * w;
          b += d[j + 2] * w;
        }
        const o = (y * rw + x) * 3;
        tmp[o] = r;
        tmp[o + 1] = g;
        tmp[o + 2] = b;
      }
    }
    // Vertical pass, blended into the canvas with the disc mask.
    const inner = radius * 0.8;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        let m = 1;
        if (!whole) {
          const ddx = x + 0.5 - cx, ddy = y + 0.5 - cy;
          const dist = Math.sqrt(ddx * ddx + ddy * ddy);
          if (dist >= radius) continue;
          if (dist > inner) m = (radius - dist) / (radius - inner);
        }
        let r = 0, g = 0, b = 0;
        for (let t = -k; t <= k; t++) {
          let yy = y + t;
          if (yy < sy0) yy = sy0;
          else if (yy >= sy1) yy = sy1 - 1;
          const w = kernel[t + k];
          const j = ((yy - sy0) * rw + (x - x0)) * 3;
          r += tmp[j] * w;
          g += tmp[j + 1] * w;
          b += tmp[j + 2] * w;
        }
        const o = (y * W + x) * 3;
        d[o] += (r - d[o]) * m;
        d[o + 1] += (g - d[o + 1]) * m;
        d[o + 2] += (b - d[o + 2]) * m;
      }
    }
  }

  /** Converts to an 8-bit RGB image (clamped, rounded half to even). */
  toRgbImage(): RgbImage {
    const out = new Uint8ClampedArray(this.data.length);
    const d = this.data;
    for (let i = 0; i < d.length; i++) out[i] = d[i] * 255;
    return { width: this.width, height: this.height, data: new Uint8Array(out.buffer) };
  }
}

/** The pixels of one tile (a function of its own, so that V8 optimises it as a whole). */
function fillTile(
  d: Float32Array,
  W: number,
  shape: Shape,
  paint: Paint,
  solid: boolean,
  col: Float32Array,
  alpha: number,
  soft: number,
  inv2soft: number,
  margin: number,
  mode: number,
  tx: number,
  tx1: number,
  ty: number,
  ty1: number,
): void {
  for (let y = ty; y < ty1; y++) {
    const py = y + 0.5;
    for (let x = tx; x < tx1; x++) {
      const px = x + 0.5;
      let cov = 1;
      if (mode === 0) {
        const s = shape.sd(px, py);
        if (soft > 0) {
          cov = 0.5 - s * inv2soft;
          if (cov <= 0) continue;
          if (cov > 1) cov = 1;
        } else if (s >= margin) {
          continue;
        } else if (s > -margin) {
          cov = sampleCoverage(shape, x, y);
          if (cov === 0) continue;
        }
      }
      const a = alpha * cov;
      if (!solid) (paint as PaintFn)(px, py, col);
      const i = (y * W + x) * 3;
      d[i] += (col[0] - d[i]) * a;
      d[i + 1] += (col[1] - d[i + 1]) * a;
      d[i + 2] += (col[2] - d[i + 2]) * a;
    }
  }
}

function sampleCoverage(shape: Shape, x: number, y: number): number {
  let n = 0;
  for (let sy = 0; sy < SS; sy++) {
    const py = y + (sy + 0.5) / SS;
    for (let sx = 0; sx < SS; sx++) {
      if (shape.inside(x + (sx + 0.5) / SS, py)) n++;
    }
  }
  return n / (SS * SS);
}

/**
 * A filled ellipse with centre `(cx, cy)`, semi-axes `rx`, `ry` and rotation
 * `angle` (radians, clockwise on screen since y points down).
 */
export function ellipse(cx: number, cy: number, rx: number, ry: number, angle = 0): Shape {
  rx = Math.max(rx, 1e-6);
  ry = Math.max(ry, 1e-6);
  const c = Math.cos(angle), s = Math.sin(angle);
  // Half extents of the rotated ellipse's bounding box.
  const hx = Math.sqrt(rx * rx * c * c + ry * ry * s * s);
  const hy = Math.sqrt(rx * rx * s * s + ry * ry * c * c);
  const irx = 1 / rx, iry = 1 / ry, rmin = Math.min(rx, ry);
  return {
    x0: cx - hx,
    y0: cy - hy,
    x1: cx + hx,
    y1: cy + hy,
    margin: 1 + 0.25 * Math.min(8, Math.max(rx, ry) / rmin),
    sd(x, y) {
      const dx = x - cx, dy = y - cy;
      const u = (dx * c + dy * s) * irx;
      const v = (-dx * s + dy * c) * iry;
      const k = Math.sqrt(u * u + v * v);
      if (k < 1e-9) return -rmin;
      const gu = u * irx, gv = v * iry;
      return ((k - 1) * k) / Math.sqrt(gu * gu + gv * gv);
    },
    bound(x, y) {
      // The ellipse scaled by k passes through (x, y); homothetic ellipses are rmin·|k − 1| apart.
      const dx = x - cx, dy = y - cy;
      const u = (dx * c + dy * s) * irx;
      const v = (-dx * s + dy * c) * iry;
      return (Math.sqrt(u * u + v * v) - 1) * rmin;
    },
    inside(x, y) {
      const dx = x - cx, dy = y - cy;
      const u = (dx * c + dy * s) * irx;
      const v = (-dx * s + dy * c) * iry;
      return u * u + v * v <= 1;
    },
  };
}

/** A filled circle. */
export function circle(cx: number, cy: number, r: number): Shape {
  return {
    x0: cx - r,
    y0: cy - r,
    x1: cx + r,
    y1: cy + r,
    margin: 0.75,
    sd: (x, y) => Math.sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r,
    bound: (x, y) => Math.sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r,
    inside: (x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r,
  };
}

/** Squared distance from `(x, y)` to the segment `(ax, ay)–(bx, by)`. */
function segmentDistance2(x: number, y: number, ax: number, ay: number, bx: number, by: number) {
  const ex = bx - ax, ey = by - ay;
  const len2 = ex * ex + ey * ey;
  let t = len2 > 0 ? ((x - ax) * ex + (y - ay) * ey) / len2 : 0;
  if (t < 0) t = 0;
  else if (t > 1) t = 1;
  const qx = x - ax - t * ex, qy = y - ay - t * ey;
  return qx * qx + qy * qy;
}

/**
 * A filled simple polygon `[x0, y0, x1, y1, ...]` (any winding, even-odd
 * rule); its signed distance is exact.
 */
export function polygon(points: readonly number[]): Shape {
  const n = points.length >> 1;
  if (n < 3 || points.length % 2 !== 0) throw new RangeError(`polygon: needs at least 3 points`);
  const p = Float64Array.from(points);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, p[2 * i]);
    x1 = Math.max(x1, p[2 * i]);
    y0 = Math.min(y0, p[2 * i + 1]);
    y1 = Math.max(y1, p[2 * i + 1]);
  }
  const inside = (x: number, y: number) => {
    let c = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = p[2 * i], yi = p[2 * i + 1], xj = p[2 * j], yj = p[2 * j + 1];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
    }
    return c;
  };
  const sd = (x: number, y: number) => {
    let m = Infinity;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const dd = segmentDistance2(x, y, p[2 * j], p[2 * j + 1], p[2 * i], p[2 * i + 1]);
      if (dd < m) m = dd;
    }
    m = Math.sqrt(m);
    return inside(x, y) ? -m : m;
  };
  return { x0, y0, x1, y1, margin: 0.75, sd, bound: sd, inside };
}

/** An axis-aligned rectangle. */
export function rect(x: number, y: number, w: number, h: number): Shape {
  const sd = (px: number, py: number) => {
    const dx = Math.max(x - px, px - x - w), dy = Math.max(y - py, py - y - h);
    if (dx <= 0 && dy <= 0) return Math.max(dx, dy);
    const ex = Math.max(dx, 0), ey = Math.max(dy, 0);
    return Math.sqrt(ex * ex + ey * ey);
  };
  return {
    x0: x,
    y0: y,
    x1: x + w,
    y1: y + h,
    margin: 0.75,
    sd,
    bound: sd,
    inside: (px, py) => px >= x && px < x + w && py >= y && py < y + h,
  };
}

/**
 * A thick polyline `[x0, y0, x1, y1, ...]` with round caps and joins, of
 * half-width `r` (one shape, so joints are not painted twice).
 */
export function stroke(points: readonly number[], r: number): Shape {
  const n = points.length >> 1;
  if (n < 1) throw new RangeError("stroke: needs at least one point");
  const p = Float64Array.from(points);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, p[2 * i] - r);
    x1 = Math.max(x1, p[2 * i] + r);
    y0 = Math.min(y0, p[2 * i + 1] - r);
    y1 = Math.max(y1, p[2 * i + 1] + r);
  }
  const dist = (x: number, y: number) => {
    let m = n === 1 ? (x - p[0]) * (x - p[0]) + (y - p[1]) * (y - p[1]) : Infinity;
    for (let i = 1; i < n; i++) {
      const dd = segmentDistance2(x, y, p[2 * i - 2], p[2 * i - 1], p[2 * i], p[2 * i + 1]);
      if (dd < m) m = dd;
    }
    return Math.sqrt(m);
  };
  const sd = (x: number, y: number) => dist(x, y) - r;
  return { x0, y0, x1, y1, margin: 0.75, sd, bound: sd, inside: (x, y) => dist(x, y) <= r };
}

/** The half-plane `(x - px) * nx + (y - py) * ny <= 0` (`(nx, ny)` need not be unit). */
export function halfPlane(px: number, py: number, nx: number, ny: number): Shape {
  const l = Math.hypot(nx, ny) || 1;
  const ux = nx / l, uy = ny / l;
  return {
    x0: -Infinity,
    y0: -Infinity,
    x1: Infinity,
    y1: Infinity,
    margin: 0.75,
    sd: (x, y) => (x - px) * ux + (y - py) * uy,
    bound: (x, y) => (x - px) * ux + (y - py) * uy,
    inside: (x, y) => (x - px) * ux + (y - py) * uy <= 0,
  };
}

/** The part of `a` inside `b`. */
export function intersect(a: Shape, b: Shape): Shape {
  return {
    x0: Math.max(a.x0, b.x0),
    y0: Math.max(a.y0, b.y0),
    x1: Math.min(a.x1, b.x1),
    y1: Math.min(a.y1, b.y1),
    margin: Math.max(a.margin, b.margin),
    sd: (x, y) => Math.max(a.sd(x, y), b.sd(x, y)),
    bound: (x, y) => Math.max(a.bound(x, y), b.bound(x, y)),
    inside: (x, y) => a.inside(x, y) && b.inside(x, y),
  };
}

/** The part of `a` outside `b`. */
export function subtract(a: Shape, b: Shape): Shape {
  return {
    x0: a.x0,
    y0: a.y0,
    x1: a.x1,
    y1: a.y1,
    margin: Math.max(a.margin, b.margin),
    sd: (x, y) => Math.max(a.sd(x, y), -b.sd(x, y)),
    bound: (x, y) => Math.max(a.bound(x, y), -b.bound(x, y)),
    inside: (x, y) => a.inside(x, y) && !b.inside(x, y),
  };
}

/** Points of the quadratic Bézier `p0 → p2` with control `p1`, `n + 1` points. */
export function bezier(
  p0x: number,
  p0y: number,
  p1x: number,
  p1y: number,
  p2x: number,
  p2y: number,
  n: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n, s = 1 - t;
    out.push(
      s * s * p0x + 2 * s * t * p1x + t * t * p2x,
      s * s * p0y + 2 * s * t * p1y + t * t * p2y,
    );
  }
  return out;
}

/** Linear interpolation between two colours. */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** `c` with every channel multiplied by `k`. */
export function scale(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

/** A linear gradient from `a` at `(x0, y0)` to `b` at `(x1, y1)`, clamped beyond. */
export function linearGradient(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  a: Rgb,
  b: Rgb,
): PaintFn {
  const dx = x1 - x0, dy = y1 - y0;
  const l2 = dx * dx + dy * dy || 1;
  return (x, y, out) => {
    let t = ((x - x0) * dx + (y - y0) * dy) / l2;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    out[0] = a[0] + (b[0] - a[0]) * t;
    out[1] = a[1] + (b[1] - a[1]) * t;
    out[2] = a[2] + (b[2] - a[2]) * t;
  };
}

/**
 * Smooth value noise in [0, 1] with features about `cell` pixels apart,
 * over a `width × height` area; `random()` draws the lattice values.
 */
export function valueNoise(
  width: number,
  height: number,
  cell: number,
  random: () => number,
): (x: number, y: number) => number {
  const gw = Math.ceil(width / cell) + 2, gh = Math.ceil(height / cell) + 2;
  const g = new Float32Array(gw * gh);
  for (let i = 0; i < g.length; i++) g[i] = random();
  return (x, y) => {
    let fx = x / cell, fy = y / cell;
    if (fx < 0) fx = 0;
    if (fy < 0) fy = 0;
    let ix = Math.floor(fx), iy = Math.floor(fy);
    if (ix > gw - 2) ix = gw - 2;
    if (iy > gh - 2) iy = gh - 2;
    let tx = fx - ix, ty = fy - iy;
    if (tx > 1) tx = 1;
    if (ty > 1) ty = 1;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const i = iy * gw + ix;
    const a = g[i] + (g[i + 1] - g[i]) * tx;
    const b = g[i + gw] + (g[i + gw + 1] - g[i + gw]) * tx;
    return a + (b - a) * ty;
  };
}
