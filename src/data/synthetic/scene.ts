/**
 * One synthetic image: a cluttered background, face-like distractors that are
 * not faces, a few faces (see `face.ts`), then image-wide illumination, blur
 * and sensor noise. Every random choice comes from the `Rng` passed in, in a
 * fixed order, so the image depends only on that generator's seed.
 *
 * @module
 */
import type { FaceBox } from "../types.ts";
import type { RgbImage } from "../../image/types.ts";
import { Rng } from "../../util/random.ts";
import {
  Canvas,
  circle,
  ellipse,
  intersect,
  linearGradient,
  mix,
  type Paint,
  type PaintFn,
  polygon,
  type Rgb,
  scale,
  stroke,
  subtract,
  valueNoise,
} from "./raster.ts";
import {
  drawBody,
  drawHead,
  FACE_REACH,
  faceAnnotation,
  faceExtent,
  type FaceSpec,
  type ImageConditions,
  randomColor,
  randomFace,
  randomHair,
  randomSkin,
} from "./face.ts";

/** The kinds of scene, named like WIDER events (`<index>--<Name>`). */
export const SCENE_EVENTS = ["0--Portrait", "1--Group", "2--Crowd", "3--Street"] as const;

/** Options of one image. */
export interface SceneOptions {
  /** Fixed size; when absent each image draws 320..640 × 240..480. */
  width?: number;
  height?: number;
  /** Leave the faces (and their bodies) out, everything else identical (for tests). */
  omitFaces?: boolean;
}

/** A rendered image with its exact ground truth. */
export interface SceneImage {
  image: RgbImage;
  /** WIDER event folder, e.g. `2--Crowd`. */
  event: string;
  /** JPEG quality chosen for this image. */
  quality: number;
  /** WIDER boxes with attributes and landmarks, in drawing order. */
  faces: FaceBox[];
  /** The parameters each face was drawn from (same order as `faces`). */
  specs: FaceSpec[];
}

/** Minimum distance between face centres, in units of (a1 + a2): faces never overlap. */
const FACE_SPACING = 1.95;

/**
 * Renders one image from `rng`.
 *
 * @example
 * ```ts
 * const img = renderScene(Rng.derive(1, 0), { width: 320, height: 240 });
 * console.log(img.faces.length, img.image.data.length); // e.g. 3 230400
 * ```
 */
export function renderScene(rng: Rng, opts: SceneOptions = {}): SceneImage {
  const width = opts.width ?? rng.int(320, 641);
  const height = opts.height ?? rng.int(240, 481);
  const minDim = Math.min(width, height);
  const sceneKind = pickIndex(rng, [0.2, 0.3, 0.2, 0.3]);
  const empty = rng.next() < 0.04;
  let n: number, lo: number, hi: number;
  switch (sceneKind) {
    case 0:
      n = rng.next() < 0.3 ? 2 : 1;
      lo = 0.22 * minDim;
      hi = 0.5 * minDim;
      break;
    case 1:
      n = rng.int(2, 6);
      lo = Math.max(16, 0.09 * minDim);
      hi = 0.22 * minDim;
      break;
    case 2:
      n = rng.int(4, 9);
      lo = 10.5;
      hi = Math.max(16, 0.1 * minDim);
      break;
    default:
      n = rng.int(1, 5);
      lo = 10.5;
      hi = 0.3 * minDim;
  }
  if (empty) n = 0;

  // Plan the faces: parameters first, then a free spot (or drop the face).
  const specs: FaceSpec[] = [];
  for (let i = 0; i < n; i++) {
    const side = Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
    const spec = randomFace(rng, { cx: 0, cy: 0, a: side / 2 });
    const [x0, y0, x1, y1] = faceExtent(spec);
    const left = -x0, top = -y0, right = x1, bottom = y1;
    if (left + right >= width - 2 || top + bottom >= height - 2) continue;
    for (let attempt = 0; attempt < 40; attempt++) {
      const cx = rng.uniform(left + 1, width - right - 1);
      const cy = rng.uniform(top + 1, height - bottom - 1);
      const clear = specs.every((o) =>
        Math.hypot(o.cx - cx, o.cy - cy) >= FACE_SPACING * (o.a + spec.a)
      );
      if (clear) {
        spec.cx = cx;
        spec.cy = cy;
        specs.push(spec);
        break;
      }
    }
  }

  const canvas = new Canvas(width, height);
  drawBackground(canvas, rng, sceneKind === 3 ? 1 : rng.uniform(0.2, 0.8));
  const distractors = sceneKind === 3 ? rng.int(2, 7) : rng.int(0, 4);
  for (let i = 0; i < distractors; i++) drawDistractor(canvas, rng, specs);

  // Global conditions, drawn before the faces are rendered.
  const dark = rng.next() < 0.1;
  const g0 = dark ? rng.uniform(0.4, 0.6) : rng.uniform(0.85, 1.12);
  const gc = rng.uniform(0, 0.35);
  const ga = rng.uniform(0, 2 * Math.PI);
  const gdx = Math.cos(ga), gdy = Math.sin(ga);
  const halfDiag = Math.hypot(width, height) / 2;
  const globalGain = (x: number, y: number) =>
    g0 * Math.max(0.1, 1 + (gc * ((x - width / 2) * gdx + (y - height / 2) * gdy)) / halfDiag);
  const globalBlur = rng.next() < 0.15 ? rng.uniform(0.4, 1.3) : 0;
  const noiseSigma = rng.uniform(0, dark ? 0.035 : 0.022);
  const quality = rng.int(72, 96);
  const noiseSeed = rng.nextUint32();
  const cond: ImageConditions = { globalBlur, globalGain };

  if (!opts.omitFaces) {
    const byDepth = [...specs].sort((p, q) => p.cy - q.cy);
    for (const s of byDepth) drawBody(canvas, s);
    for (const s of specs) drawHead(canvas, s);
  }
  if (globalBlur > 0) canvas.blur(0, 0, Infinity, globalBlur);
  const image = finish(
    canvas,
    g0,
    (gc * gdx) / halfDiag,
    (gc * gdy) / halfDiag,
    noiseSigma,
    noiseSeed,
  );
  return {
    image,
    event: SCENE_EVENTS[sceneKind],
    quality,
    faces: opts.omitFaces ? [] : specs.map((s) => faceAnnotation(s, cond)),
    specs: opts.omitFaces ? [] : specs,
  };
}

let NORMAL_TABLE: Float32Array | null = null;
/** 1024 standard normal variates from a fixed seed (cheap sensor noise). */
function normalTable(): Float32Array {
  if (!NORMAL_TABLE) {
    const r = new Rng(0x5eed);
    NORMAL_TABLE = new Float32Array(1024);
    for (let i = 0; i < 1024; i++) NORMAL_TABLE[i] = r.normal();
  }
  return NORMAL_TABLE;
}

/**
 * The last pass: the global illumination field
 * `g0 · max(0.1, 1 + kx (x − W/2) + ky (y − H/2))`, Gaussian sensor noise of
 * `sigma` (three 10-bit table draws per pixel from `Rng(noiseSeed)`), and
 * conversion to 8 bits.
 */
function finish(
  c: Canvas,
  g0: number,
  kx: number,
  ky: number,
  sigma: number,
  noiseSeed: number,
): RgbImage {
  const { width: W, height: H, data: d } = c;
  const out = new Uint8ClampedArray(d.length);
  const table = normalTable();
  const nr = new Rng(noiseSeed);
  const s = sigma > 0.002 ? sigma * 255 : 0;
  const n = W * H;
  for (let k = 0, x = 0, y = 0; k < n; k++) {
    let g = 1 + kx * (x + 0.5 - W / 2) + ky * (y + 0.5 - H / 2);
    g = 255 * g0 * (g < 0.1 ? 0.1 : g);
    const i = 3 * k;
    if (s > 0) {
      const bits = nr.nextUint32();
      out[i] = d[i] * g + table[bits & 1023] * s;
      out[i + 1] = d[i + 1] * g + table[(bits >>> 10) & 1023] * s;
      out[i + 2] = d[i + 2] * g + table[(bits >>> 20) & 1023] * s;
    } else {
      out[i] = d[i] * g;
      out[i + 1] = d[i + 1] * g;
      out[i + 2] = d[i + 2] * g;
    }
    if (++x === W) {
      x = 0;
      y++;
    }
  }
  return { width: W, height: H, data: new Uint8Array(out.buffer) };
}

function pickIndex(rng: Rng, weights: number[]): number {
  let r = rng.next() * weights.reduce((s, w) => s + w, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return weights.length - 1;
}

/** A random paint for a background shape: solid, gradient, stripes or mottled. */
function randomPaint(
  rng: Rng,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  width: number,
  height: number,
): Paint {
  const c1 = randomColor(rng);
  const kind = rng.int(0, 4);
  if (kind === 0) return c1;
  const c2 = rng.next() < 0.5 ? randomColor(rng) : scale(c1, rng.uniform(0.4, 0.8));
  if (kind === 1) return linearGradient(x0, y0, x1, y1, c1, c2);
  if (kind === 2) {
    const ang = rng.uniform(0, Math.PI), period = rng.uniform(3, 30), sharp = rng.uniform(1, 5);
    const ca = Math.cos(ang) * (2 * Math.PI) / period, sa = Math.sin(ang) * (2 * Math.PI) / period;
    const checker = rng.next() < 0.3;
    return (x, y, out) => {
      let t = Math.sin(x * ca + y * sa);
      if (checker) t *= Math.sin(-x * sa + y * ca);
      t = 0.5 + 0.5 * Math.max(-1, Math.min(1, t * sharp));
      out[0] = c1[0] + (c2[0] - c1[0]) * t;
      out[1] = c1[1] + (c2[1] - c1[1]) * t;
      out[2] = c1[2] + (c2[2] - c1[2]) * t;
    };
  }
  const noise = valueNoise(width, height, rng.uniform(2, 20), () => rng.next());
  return (x, y, out) => {
    const t = noise(x, y);
    out[0] = c1[0] + (c2[0] - c1[0]) * t;
    out[1] = c1[1] + (c2[1] - c1[1]) * t;
    out[2] = c1[2] + (c2[2] - c1[2]) * t;
  };
}

/**
 * The background base in one pass: a linear gradient, a wall and floor split
 * by a slanted horizon (anti-aliased), or a soft pool of light on a dark
 * ground; modulated by large-scale and fine value-noise texture.
 */
function drawBase(c: Canvas, rng: Rng): void {
  const W = c.width, H = c.height, d = c.data;
  const kind = rng.int(0, 3);
  const c1 = randomColor(rng, 0.15, 0.95), c2 = randomColor(rng, 0.1, 0.9);
  // Every kind is described by: a gradient parameter t(x, y) between two colours
  // a and b (kind 0); or two such gradients on either side of a line (kind 1);
  // or a soft ellipse of c1 over a dark ground (kind 2).
  const ang = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(ang) / W, gy = Math.sin(ang) / H;
  const horizon = rng.uniform(0.3, 0.8) * H, slope = (rng.uniform(-0.1, 0.1) * H) / W;
  const hn = 1 / Math.sqrt(1 + slope * slope);
  const ex = rng.uniform(0, W), ey = rng.uniform(0, H);
  const erx = W * rng.uniform(0.4, 0.9), ery = H * rng.uniform(0.4, 0.9);
  const soft = Math.min(W, H) * 0.3;
  const noise = valueNoise(W, H, rng.uniform(20, 120), () => rng.next());
  const fine = valueNoise(W, H, rng.uniform(2, 8), () => rng.next());
  const amp = rng.uniform(0.05, 0.35), fineAmp = rng.uniform(0, 0.15);
  const dark = scale(c2, 0.5), c1b = scale(c1, 0.75), c2b = scale(c2, 0.6);
  const rmin = Math.min(erx, ery);
  for (let y = 0; y < H; y++) {
    const py = y + 0.5;
    for (let x = 0; x < W; x++) {
      const px = x + 0.5;
      let r: number, g: number, b: number;
      if (kind === 0) {
        let t = 0.5 + (px - W / 2) * gx + (py - H / 2) * gy;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        r = c1[0] + (c2[0] - c1[0]) * t;
        g = c1[1] + (c2[1] - c1[1]) * t;
        b = c1[2] + (c2[2] - c1[2]) * t;
      } else if (kind === 1) {
        const t1 = Math.min(1, py / horizon);
        const t2 = Math.max(0, Math.min(1, (py - horizon) / (H - horizon)));
        // Signed distance to the horizon line y = horizon + slope · x (positive below).
        const sd = (py - horizon - slope * px) * hn;
        const cov = sd >= 0.5 ? 1 : sd <= -0.5 ? 0 : sd + 0.5;
        r = (c1[0] + (c1b[0] - c1[0]) * t1) * (1 - cov) + (c2[0] + (c2b[0] - c2[0]) * t2) * cov;
        g = (c1[1] + (c1b[1] - c1[1]) * t1) * (1 - cov) + (c2[1] + (c2b[1] - c2[1]) * t2) * cov;
        b = (c1[2] + (c1b[2] - c1[2]) * t1) * (1 - cov) + (c2[2] + (c2b[2] - c2[2]) * t2) * cov;
      } else {
        const u = (px - ex) / erx, v = (py - ey) / ery;
        const sd = (Math.sqrt(u * u + v * v) - 1) * rmin;
        let cov = 0.5 - sd / (2 * soft);
        cov = (cov < 0 ? 0 : cov > 1 ? 1 : cov) * 0.8;
        r = dark[0] + (c1[0] - dark[0]) * cov;
        g = dark[1] + (c1[1] - dark[1]) * cov;
        b = dark[2] + (c1[2] - dark[2]) * cov;
      }
      const k = 1 + amp * (noise(px, py) - 0.5) * 2 + fineAmp * (fine(px, py) - 0.5);
      const i = (y * W + x) * 3;
      d[i] = r * k;
      d[i + 1] = g * k;
      d[i + 2] = b * k;
    }
  }
}

/** Background: a base (gradient, wall and floor, or vignette), texture, then random shapes. */
function drawBackground(c: Canvas, rng: Rng, clutter: number): void {
  const W = c.width, H = c.height;
  drawBase(c, rng);
  // Shapes.
  const count = Math.round(3 + clutter * rng.uniform(6, 26));
  for (let i = 0; i < count; i++) {
    const kind = rng.int(0, 7);
    const x = rng.uniform(-0.1, 1.1) * W, y = rng.uniform(-0.1, 1.1) * H;
    const size = Math.exp(rng.uniform(Math.log(4), Math.log(0.45 * Math.max(W, H))));
    const alpha = rng.next() < 0.7 ? 1 : rng.uniform(0.3, 0.8);
    const ang = rng.uniform(0, Math.PI);
    if (kind === 0 || kind === 1) {
      // Rotated rectangle (boxes, buildings, windows), sometimes axis-aligned.
      const w = size, h = size * rng.uniform(0.2, 2);
      const a = kind === 0 ? 0 : ang;
      const ca = Math.cos(a), sa = Math.sin(a);
      const pts = [[-w, -h], [w, -h], [w, h], [-w, h]].flatMap(([px, py]) => [
        x + (px * ca - py * sa) / 2,
        y + (px * sa + py * ca) / 2,
      ]);
      const shape = polygon(pts);
      c.fill(shape, randomPaint(rng, shape.x0, shape.y0, shape.x1, shape.y1, W, H), alpha);
      if (rng.next() < 0.3 && w > 30 && h > 30) {
        // A grid of windows.
        const cols = rng.int(2, 6), rows = rng.int(2, 6);
        const wc = randomColor(rng);
        for (let r = 0; r < rows; r++) {
          for (let q = 0; q < cols; q++) {
            const u = ((q + 0.5) / cols - 0.5) * w * 0.8, v = ((r + 0.5) / rows - 0.5) * h * 0.8;
            const ww = (w * 0.8) / cols * 0.6, hh = (h * 0.8) / rows * 0.6;
            const cx = x + u * ca - v * sa, cy = y + u * sa + v * ca;
            const wpts = [[-ww, -hh], [ww, -hh], [ww, hh], [-ww, hh]].flatMap(([px, py]) => [
              cx + (px * ca - py * sa) / 2,
              cy + (px * sa + py * ca) / 2,
            ]);
            c.fill(polygon(wpts), wc, alpha);
          }
        }
      }
    } else if (kind === 2) {
      const shape = ellipse(x, y, size / 2, size / 2 * rng.uniform(0.3, 1.2), ang);
      c.fill(shape, randomPaint(rng, shape.x0, shape.y0, shape.x1, shape.y1, W, H), alpha);
    } else if (kind === 3) {
      // Irregular polygon.
      const k = rng.int(3, 7);
      const pts: number[] = [];
      for (let j = 0; j < k; j++) {
        const t = ang + (j / k) * 2 * Math.PI, r = (size / 2) * rng.uniform(0.5, 1);
        pts.push(x + r * Math.cos(t), y + r * Math.sin(t));
      }
      const shape = polygon(pts);
      c.fill(shape, randomPaint(rng, shape.x0, shape.y0, shape.x1, shape.y1, W, H), alpha);
    } else if (kind === 4) {
      // Lines: poles, wires, edges.
      const len = size * 2;
      const pts = [x, y, x + Math.cos(ang) * len, y + Math.sin(ang) * len];
      if (rng.next() < 0.5) {
        pts.push(pts[2] + rng.uniform(-len, len) * 0.5, pts[3] + rng.uniform(-len, len) * 0.5);
      }
      c.fill(stroke(pts, rng.uniform(0.3, 4)), randomColor(rng), alpha);
    } else if (kind === 5) {
      // A row of small blobs (text, leaves, pebbles).
      const col = randomColor(rng);
      const m = rng.int(3, 15), step = rng.uniform(3, 10), r = rng.uniform(0.8, 3);
      for (let j = 0; j < m; j++) {
        c.fill(
          ellipse(
            x + j * step * Math.cos(ang) + rng.uniform(-1, 1),
            y + j * step * Math.sin(ang) + rng.uniform(-1, 1),
            r * rng.uniform(0.6, 1.4),
            r * rng.uniform(0.6, 1.4),
            rng.uniform(0, Math.PI),
          ),
          col,
          alpha,
        );
      }
    } else {
      // A soft blob of light or shadow.
      c.fill(
        ellipse(x, y, size / 2, size / 3, ang),
        rng.next() < 0.5 ? [0, 0, 0] : [1, 1, 1],
        rng.uniform(0.1, 0.35),
        size / 6,
      );
    }
  }
}

/** Draws a face-like object that is not a face, away from every face. */
function drawDistractor(c: Canvas, rng: Rng, faces: FaceSpec[]): void {
  const kind = rng.int(0, 6);
  const minDim = Math.min(c.width, c.height);
  const r = Math.exp(rng.uniform(Math.log(5), Math.log(0.22 * minDim)));
  let x = 0, y = 0, ok = false;
  for (let attempt = 0; attempt < 20 && !ok; attempt++) {
    x = rng.uniform(r, c.width - r);
    y = rng.uniform(r, c.height - r);
    ok = faces.every((f) => Math.hypot(f.cx - x, f.cy - y) >= FACE_REACH * f.a + 1.3 * r);
  }
  if (!ok) return;
  const ang = rng.uniform(-0.5, 0.5);
  const sphere = (
    col: Rgb,
    cx: number,
    cy: number,
    rx: number,
    ry: number,
    amb: number,
  ): PaintFn => {
    const lx = rng.uniform(-0.6, 0.6), ly = rng.uniform(-0.8, 0), lz = 1;
    const ln = Math.hypot(lx, ly, lz);
    return (px, py, out) => {
      const nu = (px - cx) / rx, nv = (py - cy) / ry;
      const nz = Math.sqrt(Math.max(0, 1 - nu * nu - nv * nv));
      const k = amb + (1 - amb) * Math.max(0, (nu * lx + nv * ly + nz * lz) / ln) * 1.1;
      out[0] = col[0] * k;
      out[1] = col[1] * k;
      out[2] = col[2] * k;
    };
  };
  switch (kind) {
    case 0: {
      // Skin-coloured ellipse without features; sometimes the back of a head.
      const skin = randomSkin(rng);
      const rx = r * rng.uniform(0.6, 1), ry = r * rng.uniform(0.8, 1.3);
      c.fill(ellipse(x, y, rx, ry, ang), sphere(skin, x, y, rx, ry, 0.6));
      if (rng.next() < 0.5) {
        const hair = randomHair(rng);
        c.fill(
          intersect(
            ellipse(x, y - ry * 0.1, rx * 1.05, ry * 1.0, ang),
            ellipse(x, y - ry * 0.6, rx * 1.3, ry * 1.1, ang),
          ),
          hair,
        );
      }
      break;
    }
    case 1: {
      // Two dark dots side by side, sometimes on a plate (sockets, buttons, eyes of nothing).
      if (rng.next() < 0.6) {
        const plate = randomColor(rng, 0.5, 1);
        c.fill(ellipse(x, y, r, r * rng.uniform(0.6, 1), ang), plate);
      }
      const dot = rng.uniform(0.1, 0.22) * r, gap = rng.uniform(0.3, 0.55) * r;
      const col = randomColor(rng, 0, 0.3);
      for (const s of [-1, 1]) {
        c.fill(
          ellipse(
            x + s * gap * Math.cos(ang),
            y + s * gap * Math.sin(ang),
            dot,
            dot * rng.uniform(0.7, 1.5),
            ang,
          ),
          col,
        );
      }
      break;
    }
    case 2: {
      // A ball with shading and a highlight.
      const col = rng.next() < 0.4 ? randomSkin(rng) : randomColor(rng, 0.3, 1);
      c.fill(circle(x, y, r), sphere(col, x, y, r, r, 0.35));
      c.fill(circle(x - 0.35 * r, y - 0.4 * r, 0.18 * r), [1, 1, 1], 0.5, 0.12 * r);
      break;
    }
    case 3: {
      // A clock: face, rim, ticks, hands.
      c.fill(circle(x, y, r), randomColor(rng, 0.7, 1));
      c.fill(subtract(circle(x, y, r), circle(x, y, r * 0.9)), randomColor(rng, 0, 0.5));
      const tick = randomColor(rng, 0, 0.3);
      for (let k = 0; k < 12; k++) {
        const t = (k / 12) * 2 * Math.PI;
        c.fill(
          stroke([
            x + Math.cos(t) * r * 0.72,
            y + Math.sin(t) * r * 0.72,
            x + Math.cos(t) * r * 0.82,
            y + Math.sin(t) * r * 0.82,
          ], r * 0.025),
          tick,
        );
      }
      const h1 = rng.uniform(0, 2 * Math.PI), h2 = rng.uniform(0, 2 * Math.PI);
      c.fill(
        stroke([x, y, x + Math.cos(h1) * r * 0.45, y + Math.sin(h1) * r * 0.45], r * 0.04),
        tick,
      );
      c.fill(
        stroke([x, y, x + Math.cos(h2) * r * 0.7, y + Math.sin(h2) * r * 0.7], r * 0.025),
        tick,
      );
      break;
    }
    case 4: {
      // A wheel or ring.
      const col = randomColor(rng, 0, 0.4);
      c.fill(subtract(circle(x, y, r), circle(x, y, r * rng.uniform(0.55, 0.8))), col);
      c.fill(circle(x, y, r * 0.2), mix(col, [0.7, 0.7, 0.7], 0.5));
      break;
    }
    default: {
      // A hand: palm and fingers in skin colour.
      const skin = randomSkin(rng);
      const paint = sphere(skin, x, y, r * 0.6, r * 0.7, 0.65);
      c.fill(ellipse(x, y, r * 0.55, r * 0.65, ang), paint);
      for (let k = 0; k < 4; k++) {
        const t = ang - Math.PI / 2 + (k - 1.5) * 0.28;
        const bx = x + Math.cos(t) * r * 0.5, by = y + Math.sin(t) * r * 0.5;
        const len = r * rng.uniform(0.45, 0.7);
        c.fill(
          stroke([bx, by, bx + Math.cos(t) * len, by + Math.sin(t) * len], r * 0.11),
          scale(skin, 0.95),
        );
      }
      const t = ang + Math.PI * 0.9;
      c.fill(
        stroke([
          x + Math.cos(t) * r * 0.4,
          y + Math.sin(t) * r * 0.4,
          x + Math.cos(t - 0.5) * r * 0.9,
          y + Math.sin(t - 0.5) * r * 0.9,
        ], r * 0.12),
        scale(skin, 0.95),
      );
    }
  }
}
