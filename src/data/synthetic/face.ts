/**
 * The synthetic face: its random parameters, its exact geometry (box and five
 * landmarks) and its rendering onto a {@linkcode Canvas}.
 *
 * Geometry lives in a face frame `(u, v)` measured in head half-widths: the
 * head outline is the ellipse `u² + (v / hr)² = 1` (so the chin is at
 * `v = hr`), `v` grows downwards, the eyes sit near `v = 0`. A feature at
 * frontal position `(X, v)` lies on a head of depth
 * `Z = sqrt(w(v)² − X²)` with `w(v) = sqrt(1 − (v / hr)²)`; yaw turns the
 * head about its vertical axis, so the feature is drawn at
 * `u = X cos(yaw) + Z sin(yaw)` (the outline does not move, the features
 * shift sideways and foreshorten). Roll then rotates the frame in the image:
 * `x = cx + a (u cos(roll) − v sin(roll))`, `y = cy + a (u sin(roll) + v cos(roll))`.
 *
 * **Box rule.** The face region is the head ellipse cut at the forehead line
 * `v = eyeY − 0.8` (about 0.55 head half-widths above the brows): from the
 * forehead to the chin, and from one side of the head outline (where the
 * ears attach) to the other; about 2.0 × 2.1 head half-widths, square-ish
 * like WIDER boxes. The box is the axis-aligned bounding box of that region after
 * roll, computed analytically, rounded outwards to whole pixels
 * (`x = floor(minX)`, `w = ceil(maxX) − x`).
 *
 * **Landmarks** are the exact rendered positions: the eye centres (iris
 * centres), the nose tip, the mouth corners, in image coordinates where pixel
 * `(i, j)` covers `[i, i+1) × [j, j+1)`.
 *
 * @module
 */
import type { FaceBox, WiderAttributes } from "../types.ts";
import type { Rng } from "../../util/random.ts";
import {
  bezier,
  type Canvas,
  circle,
  ellipse,
  halfPlane,
  intersect,
  mix,
  type Paint,
  type PaintFn,
  polygon,
  type Rgb,
  scale,
  type Shape,
  stroke,
  subtract,
} from "./raster.ts";

/** Hair styles. */
export type HairStyle = "short" | "long" | "bald" | "hat";

/** An occluder in the face frame, drawn over the face. */
export interface Occluder {
  kind: "bar" | "block" | "disc";
  /** Centre, face frame. */
  u: number;
  v: number;
  /** Half-length / half-thickness (bar), radii (disc); for a block the half-plane normal is `(cos angle, sin angle)` and `u, v` a point on its edge. */
  rx: number;
  ry: number;
  angle: number;
  color: Rgb;
  color2: Rgb;
}

/** Every random choice of one face. */
export interface FaceSpec {
  /** Head centre (image pixels) and head half-width in pixels. */
  cx: number;
  cy: number;
  a: number;
  /** Head half-height in head half-widths (1.22..1.38). */
  hr: number;
  /** In-plane rotation and yaw, radians. */
  roll: number;
  yaw: number;
  eyeX: number;
  eyeY: number;
  eyeW: number;
  eyeH: number;
  eyeTilt: number;
  irisR: number;
  blink: boolean;
  browY: number;
  browR: number;
  noseY: number;
  mouthX: number;
  mouthY: number;
  smile: number;
  lipUp: number;
  lipLow: number;
  hairline: number;
  skin: Rgb;
  hair: Rgb;
  hairStyle: HairStyle;
  hat: Rgb;
  eyeColor: Rgb;
  lip: Rgb;
  clothes: Rgb;
  body: boolean;
  ears: boolean;
  glasses: boolean;
  glassesColor: Rgb;
  blush: number;
  /** Lighting of the face: gain × (1 + contrast · (p − centre) · dir / a). */
  lightGain: number;
  lightContrast: number;
  lightDirX: number;
  lightDirY: number;
  /** Gaussian blur of the face's neighbourhood, pixels. */
  blurSigma: number;
  occluder: Occluder | null;
}

/** How far (head half-widths) a face's drawing may reach from its centre, body aside. */
export const FACE_REACH = 1.75;

/** The forehead line of the face region, relative to the eye line. */
const FOREHEAD_ABOVE_EYES = 0.8;

const SKIN_TONES: Rgb[] = [
  [0.99, 0.88, 0.78],
  [0.95, 0.78, 0.66],
  [0.9, 0.7, 0.56],
  [0.8, 0.58, 0.42],
  [0.66, 0.45, 0.31],
  [0.5, 0.33, 0.22],
  [0.36, 0.23, 0.15],
];
const HAIR_COLORS: Rgb[] = [
  [0.05, 0.04, 0.04],
  [0.1, 0.07, 0.05],
  [0.2, 0.12, 0.07],
  [0.36, 0.22, 0.12],
  [0.5, 0.24, 0.1],
  [0.78, 0.63, 0.4],
  [0.55, 0.53, 0.5],
  [0.86, 0.85, 0.82],
];
const EYE_COLORS: Rgb[] = [
  [0.28, 0.16, 0.07],
  [0.14, 0.09, 0.05],
  [0.3, 0.45, 0.62],
  [0.32, 0.45, 0.3],
  [0.45, 0.35, 0.18],
];

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[rng.int(0, list.length)];
}

function jitter(rng: Rng, c: Rgb, amount: number): Rgb {
  return [
    clamp01(c[0] + rng.uniform(-amount, amount)),
    clamp01(c[1] + rng.uniform(-amount, amount)),
    clamp01(c[2] + rng.uniform(-amount, amount)),
  ];
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** A random skin tone (light to dark). */
export function randomSkin(rng: Rng): Rgb {
  const t = rng.uniform(0, SKIN_TONES.length - 1);
  const i = Math.min(SKIN_TONES.length - 2, Math.floor(t));
  return jitter(rng, mix(SKIN_TONES[i], SKIN_TONES[i + 1], t - i), 0.025);
}

/** A random hair colour. */
export function randomHair(rng: Rng): Rgb {
  return jitter(rng, pick(rng, HAIR_COLORS), 0.03);
}

/** A random colour of moderate saturation (clothes, objects). */
export function randomColor(rng: Rng, minV = 0.1, maxV = 0.95): Rgb {
  const h = rng.uniform(0, 6), s = rng.uniform(0, 0.85), v = rng.uniform(minV, maxV);
  const i = Math.floor(h), f = h - i;
  const p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/** What the caller wants of a face; everything else is drawn from `rng`. */
export interface FaceRequest {
  cx: number;
  cy: number;
  a: number;
  /** Force "extreme" or "normal" lighting, occlusion level, blur level; random when undefined. */
  illumination?: 0 | 1;
  occlusion?: 0 | 1 | 2;
  blur?: 0 | 1 | 2;
}

/** Draws the random parameters of one face. */
export function randomFace(rng: Rng, req: FaceRequest): FaceSpec {
  const skin = randomSkin(rng);
  const hair = randomHair(rng);
  const styleRoll = rng.next();
  const hairStyle: HairStyle = styleRoll < 0.5
    ? "short"
    : styleRoll < 0.75
    ? "long"
    : styleRoll < 0.88
    ? "bald"
    : "hat";
  const poseRoll = rng.next();
  // Mostly near-frontal; some strong roll or yaw ("atypical pose").
  const roll = poseRoll < 0.8 ? rng.normal(0, 0.12) : rng.uniform(-0.8, 0.8);
  const yaw = rng.next() < 0.75 ? rng.normal(0, 0.2) : rng.uniform(-0.78, 0.78);
  const eyeY = rng.uniform(-0.06, 0.06);
  const lipMix = rng.uniform(0.3, 0.55);
  const illum = req.illumination ?? (rng.next() < 0.15 ? 1 : 0);
  let lightGain = rng.uniform(0.82, 1.18), lightContrast = rng.uniform(0, 0.35);
  if (illum === 1) {
    const kind = rng.int(0, 3);
    if (kind === 0) lightGain = rng.uniform(0.22, 0.38);
    else if (kind === 1) lightGain = rng.uniform(1.7, 1.95);
    else lightContrast = rng.uniform(0.7, 0.92);
  }
  const lightAngle = rng.uniform(0, 2 * Math.PI);
  const blurLevel = req.blur ?? pickWeighted(rng, [0.6, 0.25, 0.15]);
  const boxSide = 2 * req.a;
  const blurSigma = blurLevel === 0
    ? 0
    : blurLevel === 1
    ? rng.uniform(0.026, 0.045) * boxSide
    : rng.uniform(0.065, 0.11) * boxSide;
  const spec: FaceSpec = {
    cx: req.cx,
    cy: req.cy,
    a: req.a,
    hr: rng.uniform(1.22, 1.38),
    roll: Math.max(-0.8, Math.min(0.8, roll)),
    yaw: Math.max(-0.78, Math.min(0.78, yaw)),
    eyeX: rng.uniform(0.36, 0.42),
    eyeY,
    eyeW: rng.uniform(0.14, 0.17),
    eyeH: rng.uniform(0.065, 0.085),
    eyeTilt: rng.uniform(-0.01, 0.03),
    irisR: rng.uniform(0.058, 0.072),
    blink: rng.next() < 0.05,
    browY: eyeY - rng.uniform(0.2, 0.27),
    browR: rng.uniform(0.022, 0.04),
    noseY: eyeY + rng.uniform(0.4, 0.47),
    mouthX: rng.uniform(0.25, 0.33),
    mouthY: eyeY + rng.uniform(0.74, 0.84),
    smile: rng.uniform(-0.2, 1),
    lipUp: rng.uniform(0.04, 0.06),
    lipLow: rng.uniform(0.055, 0.085),
    hairline: eyeY - rng.uniform(0.55, 0.8),
    skin,
    hair,
    hairStyle,
    hat: randomColor(rng),
    eyeColor: jitter(rng, pick(rng, EYE_COLORS), 0.03),
    lip: mix(scale(skin, 0.85), [0.72, 0.28, 0.3], lipMix),
    clothes: randomColor(rng),
    body: rng.next() < 0.8,
    ears: rng.next() < 0.85,
    glasses: rng.next() < 0.12,
    glassesColor: rng.next() < 0.5 ? [0.08, 0.07, 0.07] : randomColor(rng, 0.2, 0.7),
    blush: rng.uniform(0, 0.25),
    lightGain,
    lightContrast,
    lightDirX: Math.cos(lightAngle),
    lightDirY: Math.sin(lightAngle),
    blurSigma,
    occluder: null,
  };
  const occ = req.occlusion ?? pickWeighted(rng, [0.7, 0.2, 0.1]);
  if (occ > 0) spec.occluder = randomOccluder(rng, spec, occ as 1 | 2);
  return spec;
}

function pickWeighted(rng: Rng, weights: number[]): 0 | 1 | 2 {
  let r = rng.next() * weights.reduce((s, w) => s + w, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i as 0 | 1 | 2;
  }
  return (weights.length - 1) as 0 | 1 | 2;
}

/** Tries occluders until one covers a fraction of the face in the wanted WIDER range. */
function randomOccluder(rng: Rng, spec: FaceSpec, level: 1 | 2): Occluder | null {
  const [lo, hi] = level === 1 ? [0.06, 0.3] : [0.34, 0.62];
  for (let attempt = 0; attempt < 24; attempt++) {
    const kind = pick(rng, ["bar", "block", "disc"] as const);
    const color = randomColor(rng, 0.1, 0.9);
    const color2 = mix(color, randomColor(rng), 0.5);
    let o: Occluder;
    if (kind === "bar") {
      const vertical = rng.next() < 0.3;
      o = {
        kind,
        u: vertical ? rng.uniform(-0.9, 0.9) : rng.uniform(-0.2, 0.2),
        v: vertical ? rng.uniform(0, 0.6) : rng.uniform(-0.3, 1.1),
        rx: 1.6,
        ry: level === 1 ? rng.uniform(0.08, 0.25) : rng.uniform(0.25, 0.5),
        angle: (vertical ? Math.PI / 2 : 0) + rng.uniform(-0.35, 0.35),
        color,
        color2,
      };
    } else if (kind === "block") {
      const angle = rng.uniform(0, 2 * Math.PI);
      const depth = level === 1 ? rng.uniform(0.5, 0.9) : rng.uniform(0.05, 0.5);
      o = {
        kind,
        u: Math.cos(angle) * depth,
        v: 0.25 + Math.sin(angle) * depth * 1.2,
        rx: 0,
        ry: 0,
        angle: angle + Math.PI,
        color,
        color2,
      };
    } else {
      const r = level === 1 ? rng.uniform(0.2, 0.45) : rng.uniform(0.45, 0.75);
      o = {
        kind,
        u: rng.uniform(-0.9, 0.9),
        v: rng.uniform(-0.5, 1.2),
        rx: r * rng.uniform(0.8, 1.25),
        ry: r,
        angle: rng.uniform(0, Math.PI),
        color: rng.next() < 0.3 ? randomSkin(rng) : color,
        color2,
      };
    }
    const f = occludedFraction({ ...spec, occluder: o });
    if (f >= lo && f <= hi) return o;
  }
  return null;
}

/** Maps the face frame to the image. */
export class FaceFrame {
  readonly cr: number;
  readonly sr: number;
  readonly cyaw: number;
  readonly syaw: number;

  constructor(readonly s: FaceSpec) {
    this.cr = Math.cos(s.roll);
    this.sr = Math.sin(s.roll);
    this.cyaw = Math.cos(s.yaw);
    this.syaw = Math.sin(s.yaw);
  }

  /** Image x of face-frame `(u, v)`. */
  x(u: number, v: number): number {
    return this.s.cx + this.s.a * (u * this.cr - v * this.sr);
  }

  /** Image y of face-frame `(u, v)`. */
  y(u: number, v: number): number {
    return this.s.cy + this.s.a * (u * this.sr + v * this.cr);
  }

  /** Depth of the head surface under frontal position `(X, v)`, plus `bump`. */
  depth(X: number, v: number, bump = 0): number {
    const t = v / this.s.hr;
    const w2 = Math.max(0, 1 - t * t);
    return Math.sqrt(Math.max(0, w2 - X * X)) * 0.95 + bump;
  }

  /** The drawn `u` of a feature at frontal `(X, v)` after yaw. */
  projU(X: number, v: number, bump = 0): number {
    return X * this.cyaw + this.depth(X, v, bump) * this.syaw;
  }

  /** Foreshortening of a feature at frontal `(X, v)` (1 when facing the camera). */
  foreshorten(X: number, v: number): number {
    const t = v / this.s.hr;
    const w = Math.sqrt(Math.max(1e-6, 1 - t * t));
    const phi = Math.asin(Math.max(-1, Math.min(1, X / w)));
    return Math.max(0.12, Math.cos(phi + this.s.yaw));
  }

  /** Image point of the feature at frontal `(X, v)`. */
  point(X: number, v: number, bump = 0): [number, number] {
    const u = this.projU(X, v, bump);
    return [this.x(u, v), this.y(u, v)];
  }

  /** Image polygon of frontal points `[X0, v0, X1, v1, ...]` (projected). */
  projPoints(pts: readonly number[], bump = 0): number[] {
    const out: number[] = [];
    for (let i = 0; i < pts.length; i += 2) {
      const u = this.projU(pts[i], pts[i + 1], bump);
      out.push(this.x(u, pts[i + 1]), this.y(u, pts[i + 1]));
    }
    return out;
  }

  /** Image polygon of face-frame points (no projection). */
  framePoints(pts: readonly number[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < pts.length; i += 2) {
      out.push(this.x(pts[i], pts[i + 1]), this.y(pts[i], pts[i + 1]));
    }
    return out;
  }

  /** An ellipse given in the face frame. */
  ellipse(u: number, v: number, rx: number, ry: number, angle = 0): Shape {
    const a = this.s.a;
    return ellipse(this.x(u, v), this.y(u, v), rx * a, ry * a, angle + this.s.roll);
  }

  /** The half-plane `(p − (u, v)) · (nx, ny) <= 0` given in the face frame. */
  halfPlane(u: number, v: number, nx: number, ny: number): Shape {
    return halfPlane(
      this.x(u, v),
      this.y(u, v),
      nx * this.cr - ny * this.sr,
      nx * this.sr + ny * this.cr,
    );
  }
}

/** The five landmarks `[x1, y1, ..., x5, y5]`: left eye, right eye, nose, left and right mouth corner. */
export function faceLandmarks(spec: FaceSpec): number[] {
  const f = new FaceFrame(spec);
  const out: number[] = [];
  for (
    const p of [
      f.point(-spec.eyeX, spec.eyeY),
      f.point(spec.eyeX, spec.eyeY),
      f.point(0, spec.noseY, NOSE_BUMP),
      f.point(-spec.mouthX, spec.mouthY, LIP_BUMP),
      f.point(spec.mouthX, spec.mouthY, LIP_BUMP),
    ]
  ) out.push(p[0], p[1]);
  return out;
}

const NOSE_BUMP = 0.22;
const LIP_BUMP = 0.03;

/** The face region's exact axis-aligned extent `[minX, minY, maxX, maxY]` (see the module doc). */
export function faceExtent(spec: FaceSpec): [number, number, number, number] {
  const { cx, cy, a, hr } = spec;
  const cr = Math.cos(spec.roll), sr = Math.sin(spec.roll);
  const minSin = (spec.eyeY - FOREHEAD_ABOVE_EYES) / hr;
  const t1 = Math.asin(minSin);
  const candidates = [
    t1,
    Math.PI - t1,
    Math.atan2(-hr * sr, cr),
    Math.atan2(-hr * sr, cr) + Math.PI,
    Math.atan2(hr * cr, sr),
    Math.atan2(hr * cr, sr) + Math.PI,
  ];
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const t of candidates) {
    if (Math.sin(t) < minSin - 1e-12) continue;
    const u = Math.cos(t), v = hr * Math.sin(t);
    const x = cx + a * (u * cr - v * sr), y = cy + a * (u * sr + v * cr);
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return [minX, minY, maxX, maxY];
}

/** True when face-frame `(u, v)` is in the face region (head ellipse below the forehead line). */
function inFaceRegion(spec: FaceSpec, u: number, v: number): boolean {
  return v >= spec.eyeY - FOREHEAD_ABOVE_EYES && u * u + (v / spec.hr) ** 2 <= 1;
}

/** The occluder as an image-space shape (clipped to the face's reach). */
function occluderShape(f: FaceFrame, o: Occluder): Shape {
  const reach = f.ellipse(0, 0.1, 1.5, 1.5);
  if (o.kind === "bar") {
    const c = Math.cos(o.angle), s = Math.sin(o.angle);
    const pts = [
      o.u - c * o.rx + s * o.ry,
      o.v - s * o.rx - c * o.ry,
      o.u + c * o.rx + s * o.ry,
      o.v + s * o.rx - c * o.ry,
      o.u + c * o.rx - s * o.ry,
      o.v + s * o.rx + c * o.ry,
      o.u - c * o.rx - s * o.ry,
      o.v - s * o.rx + c * o.ry,
    ];
    return intersect(polygon(f.framePoints(pts)), reach);
  }
  if (o.kind === "block") {
    return intersect(
      reach,
      f.halfPlane(o.u, o.v, Math.cos(o.angle + Math.PI), Math.sin(o.angle + Math.PI)),
    );
  }
  return f.ellipse(o.u, o.v, o.rx, o.ry, o.angle);
}

/** Fraction of the face region the occluder covers (sampled on a fixed 48×48 grid). */
export function occludedFraction(spec: FaceSpec): number {
  if (!spec.occluder) return 0;
  const f = new FaceFrame(spec);
  const shape = occluderShape(f, spec.occluder);
  const top = spec.eyeY - FOREHEAD_ABOVE_EYES;
  const N = 48;
  let inFace = 0, covered = 0;
  for (let j = 0; j < N; j++) {
    const v = top + ((j + 0.5) / N) * (spec.hr - top);
    for (let i = 0; i < N; i++) {
      const u = -1 + ((i + 0.5) / N) * 2;
      if (!inFaceRegion(spec, u, v)) continue;
      inFace++;
      if (shape.inside(f.x(u, v), f.y(u, v))) covered++;
    }
  }
  return inFace ? covered / inFace : 0;
}

/** Conditions of the whole image that change a face's attributes. */
export interface ImageConditions {
  /** Gaussian blur over the whole image, pixels. */
  globalBlur: number;
  /** Global illumination gain at a point. */
  globalGain(x: number, y: number): number;
}

/**
 * The WIDER box of a rendered face: integer `x, y, w, h` (see the module
 * doc), landmarks, and attributes that reflect what was drawn:
 * blur 0/1/2 from the effective blur sigma relative to the box side
 * (< 0.02, < 0.05, beyond); illumination 1 when the effective gain is below
 * 0.45 or above 1.6 or one side of the face is lit ≥ 5× the other;
 * occlusion 0/1/2 for covered fractions < 1 %, ≤ 30 %, beyond; pose 1 when
 * |roll| > 30° or |yaw| > 35°; expression 0; invalid 0.
 */
export function faceAnnotation(spec: FaceSpec, cond: ImageConditions): FaceBox {
  const [minX, minY, maxX, maxY] = faceExtent(spec);
  const x = Math.floor(minX), y = Math.floor(minY);
  const w = Math.ceil(maxX) - x, h = Math.ceil(maxY) - y;
  const sigma = Math.hypot(spec.blurSigma, cond.globalBlur);
  const rel = sigma / Math.min(w, h);
  const gain = spec.lightGain * cond.globalGain(spec.cx, spec.cy);
  const frac = occludedFraction(spec);
  const attributes: WiderAttributes = {
    blur: rel < 0.02 ? 0 : rel < 0.05 ? 1 : 2,
    expression: 0,
    illumination: gain < 0.45 || gain > 1.6 || spec.lightContrast >= 0.65 ? 1 : 0,
    invalid: 0,
    occlusion: frac < 0.01 ? 0 : frac <= 0.3 ? 1 : 2,
    pose: Math.abs(spec.roll) > Math.PI / 6 || Math.abs(spec.yaw) > (35 * Math.PI) / 180 ? 1 : 0,
  };
  return { x, y, w, h, attributes, landmarks: faceLandmarks(spec) };
}

/** Wraps a paint with the face's lighting. */
function lighting(spec: FaceSpec): (p: Paint) => PaintFn {
  const { cx, cy, a, lightGain, lightContrast, lightDirX, lightDirY } = spec;
  const k = lightContrast / a;
  return (p) => {
    const base = typeof p === "function" ? p : null;
    const solid = typeof p === "function" ? null : p;
    return (x, y, out) => {
      if (base) base(x, y, out);
      else {
        out[0] = solid![0];
        out[1] = solid![1];
        out[2] = solid![2];
      }
      let g = 1 + k * ((x - cx) * lightDirX + (y - cy) * lightDirY);
      g = lightGain * (g < 0.06 ? 0.06 : g);
      out[0] *= g;
      out[1] *= g;
      out[2] *= g;
    };
  };
}

/** Draws the neck and shoulders (drawn for all faces before any head); the torso stays upright. */
export function drawBody(c: Canvas, spec: FaceSpec): void {
  if (!spec.body) return;
  const f = new FaceFrame(spec);
  const lit = lighting(spec);
  const { hr, a } = spec;
  const bx = f.x(0, hr + 0.3), by = f.y(0, hr + 0.3);
  const torsoTop = by + 0.2 * a;
  const dx = 0.25 * Math.sin(spec.yaw) * a;
  const L = (k: number) => bx + dx + k * a;
  const shoulders = [
    ...bezier(L(-0.5), torsoTop, L(-1.75), torsoTop + 0.05 * a, L(-2.05), torsoTop + 0.9 * a, 8),
    L(-2.4),
    torsoTop + 8 * a,
    L(2.4),
    torsoTop + 8 * a,
    ...bezier(L(2.05), torsoTop + 0.9 * a, L(1.75), torsoTop + 0.05 * a, L(0.5), torsoTop, 8),
  ];
  c.fill(
    polygon(shoulders),
    lit(gradient(bx, torsoTop, bx, torsoTop + 2.5 * a, spec.clothes, scale(spec.clothes, 0.5))),
  );
  const neckShade = scale(spec.skin, 0.75);
  const top = f.framePoints([0.4, 0.3, -0.4, 0.3]);
  c.fill(
    polygon([...top, bx - 0.44 * a, torsoTop + 0.35 * a, bx + 0.44 * a, torsoTop + 0.35 * a]),
    lit(gradient(bx, by - 0.3 * a, bx, torsoTop, scale(neckShade, 0.65), neckShade)),
  );
}

function gradient(x0: number, y0: number, x1: number, y1: number, a: Rgb, b: Rgb): PaintFn {
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

/** Draws the head with all its features, then the occluder, then applies the face's blur. */
export function drawHead(c: Canvas, spec: FaceSpec): void {
  const f = new FaceFrame(spec);
  const lit = lighting(spec);
  const { hr, skin, hair, yaw } = spec;
  const sy = Math.sin(yaw);
  // Light direction in the face frame, for sphere shading.
  const ldx = spec.lightDirX * f.cr + spec.lightDirY * f.sr;
  const ldy = -spec.lightDirX * f.sr + spec.lightDirY * f.cr;
  const lz = 1.4;
  const ln = Math.hypot(ldx, ldy, lz);
  const Lx = ldx / ln, Ly = ldy / ln, Lz = lz / ln;
  const { cx, cy, a: scalePx } = spec;
  const ia = 1 / scalePx, cr = f.cr, sr = f.sr;
  const sphere = (
    col: Rgb,
    u0: number,
    v0: number,
    rx: number,
    ry: number,
    amb = 0.62,
  ): PaintFn => {
    return (x, y, out) => {
      const dx = (x - cx) * ia, dy = (y - cy) * ia;
      const u = dx * cr + dy * sr, v = -dx * sr + dy * cr;
      const nu = (u - u0) / rx, nv = (v - v0) / ry;
      const nz = Math.sqrt(Math.max(0, 1 - nu * nu - nv * nv));
      const lam = Math.max(0, nu * Lx + nv * Ly + nz * Lz);
      const k = amb + (1 - amb) * lam * 1.1;
      out[0] = col[0] * k;
      out[1] = col[1] * k;
      out[2] = col[2] * k;
    };
  };
  // Hair: strands radiating from the crown, a soft sheen on the lit side.
  const hairShade = (col: Rgb): PaintFn => {
    return (x, y, out) => {
      const dx = (x - cx) * ia, dy = (y - cy) * ia;
      const u = dx * cr + dy * sr, v = -dx * sr + dy * cr;
      const phi = Math.atan2(u, v + 0.35 * hr);
      const strands = 0.94 + 0.035 * Math.sin(phi * 61) + 0.03 * Math.sin(phi * 137 + 1.3);
      const su = u - 0.3 * Lx, sv = v + 0.8 * hr;
      const sheen = 1 + 0.22 * Math.max(0, 1 - Math.sqrt(su * su + sv * sv) * 1.8);
      const k = strands * sheen;
      out[0] = col[0] * k;
      out[1] = col[1] * k;
      out[2] = col[2] * k;
    };
  };
  // Long hair falls behind the head.
  if (spec.hairStyle === "long") {
    c.fill(
      intersect(f.ellipse(0, 0.3, 1.2, hr + 0.35), f.halfPlane(0, hr + 0.4, 0, 1)),
      lit(hairShade(scale(hair, 0.8))),
    );
  }
  // Ears behind the head; a strongly turned head shows its near ear on the cheek instead.
  const earV = spec.eyeY + 0.12;
  const earCol = scale(skin, 0.9);
  const nearEarSide = yaw > 0.25 ? -1 : yaw < -0.25 ? 1 : 0;
  if (spec.ears && nearEarSide === 0) {
    for (const side of [-1, 1]) {
      c.fill(
        f.ellipse(side * 0.97 + 0.2 * sy, earV, 0.14, 0.27, side * 0.15),
        lit(sphere(earCol, side, earV, 0.2, 0.3, 0.7)),
      );
    }
  }
  // Head.
  c.fill(f.ellipse(0, 0, 1, hr), lit(sphere(skin, 0, 0, 1, hr)));
  // Near ear of a turned head.
  if (spec.ears && nearEarSide !== 0) {
    const u = nearEarSide * Math.cos(yaw) * 0.96;
    const rx = 0.05 + 0.1 * Math.abs(sy);
    c.fill(f.ellipse(u, earV, rx, 0.26), lit(earCol));
    c.fill(
      f.ellipse(u + nearEarSide * 0.01, earV, rx * 0.5, 0.17),
      lit(scale(skin, 0.68)),
      0.6,
      0.04 * spec.a,
    );
  }
  // Jaw shadow and cheeks.
  if (spec.blush > 0.02) {
    for (const side of [-1, 1]) {
      const [x, y] = f.point(side * 0.5, spec.eyeY + 0.45);
      c.fill(
        ellipse(
          x,
          y,
          0.2 * spec.a * f.foreshorten(side * 0.5, spec.eyeY + 0.45),
          0.13 * spec.a,
          spec.roll,
        ),
        lit([0.85, 0.4, 0.4]),
        spec.blush,
        0.08 * spec.a,
      );
    }
  }
  // Hair: the hair ellipse minus a "window" ellipse whose top is the hairline.
  {
    const windowRy = 1.3;
    const window = f.ellipse(0.35 * sy, spec.hairline + windowRy, 0.93, windowRy);
    let cap = subtract(f.ellipse(0, -0.08, 1.07, hr + 0.04), window);
    if (spec.hairStyle === "bald") cap = intersect(cap, f.halfPlane(0, -0.55, 0, -1));
    if (spec.hairStyle === "hat") cap = intersect(cap, f.halfPlane(0, -0.9, 0, -1));
    c.fill(cap, lit(hairShade(hair)));
  }
  if (spec.hairStyle === "hat") {
    const brimV = spec.hairline - 0.05;
    const crown = intersect(f.ellipse(0, brimV, 1.05, 0.85), f.halfPlane(0, brimV, 0, 1));
    c.fill(crown, lit(sphere(spec.hat, 0, brimV, 1.05, 0.85, 0.6)));
    c.fill(f.ellipse(0.1 * sy, brimV, 1.32, 0.14), lit(scale(spec.hat, 0.8)));
  }

  const a = spec.a;
  const socket = scale(skin, 0.72);
  for (const side of [-1, 1]) {
    const X = side * spec.eyeX;
    const fs = f.foreshorten(X, spec.eyeY);
    const [ex, ey] = f.point(X, spec.eyeY);
    // Eye socket shadow.
    c.fill(
      ellipse(ex, ey - 0.01 * a, 0.22 * a * fs, 0.12 * a, spec.roll),
      lit(socket),
      0.55,
      0.06 * a + 0.3,
    );
    // Eye (almond).
    const top: number[] = [], bottom: number[] = [];
    const N = 10;
    for (let i = 0; i <= N; i++) {
      const s = -1 + (2 * i) / N;
      const Xs = X + s * spec.eyeW;
      const tilt = -spec.eyeTilt * s * side;
      const up = spec.eyeH * Math.pow(1 - s * s, 0.6) * (1 + 0.15 * s * side);
      const down = spec.eyeH * 0.75 * Math.pow(1 - s * s, 0.85);
      top.push(Xs, spec.eyeY + tilt - up);
      bottom.push(Xs, spec.eyeY + tilt + down);
    }
    const lidCol = mix(scale(hair, 0.5), [0.08, 0.05, 0.04], 0.6);
    if (spec.blink) {
      c.fill(stroke(f.projPoints(bottom), Math.max(0.02 * a, 0.25)), lit(lidCol), 0.85);
    } else {
      const outline = [...top];
      for (let i = bottom.length - 2; i >= 0; i -= 2) outline.push(bottom[i], bottom[i + 1]);
      const sclera = polygon(f.projPoints(outline));
      c.fill(sclera, lit([0.88, 0.85, 0.81]));
      const r = spec.irisR * a;
      c.fill(intersect(ellipse(ex, ey, r * fs, r, spec.roll), sclera), lit(spec.eyeColor));
      c.fill(
        intersect(ellipse(ex, ey, 0.48 * r * fs, 0.48 * r, spec.roll), sclera),
        lit([0.03, 0.02, 0.02]),
      );
      c.fill(circle(ex + 0.3 * r, ey - 0.35 * r, 0.22 * r), [1, 1, 1], 0.8);
      c.fill(stroke(f.projPoints(top), Math.max(0.028 * a, 0.2)), lit(lidCol), 0.9);
    }
    // Brow.
    const bx0 = side * 0.13, bx1 = side * 0.6;
    const browPts = bezier(
      bx0,
      spec.browY + 0.03,
      side * 0.36,
      spec.browY - 0.08,
      bx1,
      spec.browY + 0.04,
      8,
    );
    const browCol = mix(hair, [0.12, 0.08, 0.06], 0.45);
    c.fill(stroke(f.projPoints(browPts), spec.browR * a), lit(browCol), 0.85);
  }
  // Nose: side shadow, shadow under the tip, nostrils, tip highlight.
  const shadowSide = ldx >= 0 ? -1 : 1;
  const noseCol = scale(skin, 0.6);
  c.fill(
    stroke(
      f.projPoints([shadowSide * 0.07, spec.eyeY + 0.1, shadowSide * 0.1, spec.noseY - 0.06], 0.15),
      0.035 * a,
    ),
    lit(noseCol),
    0.3,
    0.04 * a + 0.3,
  );
  {
    const [nx, ny] = f.point(0, spec.noseY + 0.05, NOSE_BUMP * 0.8);
    c.fill(
      ellipse(nx, ny, 0.14 * a * f.foreshorten(0, spec.noseY), 0.055 * a, spec.roll),
      lit(noseCol),
      0.35,
      0.04 * a + 0.3,
    );
    for (const side of [-1, 1]) {
      const [px, py] = f.point(side * 0.065, spec.noseY + 0.055, 0.16);
      c.fill(
        ellipse(px, py, 0.035 * a * f.foreshorten(side * 0.065, spec.noseY), 0.022 * a, spec.roll),
        lit(scale(skin, 0.3)),
        0.85,
      );
    }
    const [hx, hy] = f.point(0, spec.noseY - 0.05, NOSE_BUMP);
    c.fill(
      ellipse(hx, hy, 0.05 * a, 0.05 * a, 0),
      lit(mix(skin, [1, 1, 1], 0.35)),
      0.3,
      0.03 * a + 0.3,
    );
  }
  // Mouth.
  {
    const M = 14;
    const line: number[] = [], upper: number[] = [], lower: number[] = [];
    for (let i = 0; i <= M; i++) {
      const s = -1 + (2 * i) / M;
      const X = s * spec.mouthX;
      const lv = spec.mouthY + spec.smile * 0.05 * (1 - s * s);
      line.push(X, lv);
      const bow = 1 - 0.3 * Math.exp(-((s / 0.18) ** 2));
      upper.push(X, lv - spec.lipUp * Math.pow(1 - s * s, 0.6) * bow);
      lower.push(X, lv + spec.lipLow * Math.pow(1 - s * s, 0.8));
    }
    const rev = (p: number[]) => {
      const out: number[] = [];
      for (let i = p.length - 2; i >= 0; i -= 2) out.push(p[i], p[i + 1]);
      return out;
    };
    c.fill(polygon(f.projPoints([...upper, ...rev(line)], LIP_BUMP)), lit(scale(spec.lip, 0.82)));
    c.fill(polygon(f.projPoints([...line, ...rev(lower)], LIP_BUMP)), lit(spec.lip));
    c.fill(
      stroke(f.projPoints(line, LIP_BUMP), Math.max(0.012 * a, 0.15)),
      lit(scale(spec.lip, 0.35)),
      0.9,
    );
    // Shadow under the lower lip.
    const [lx, ly] = f.point(0, spec.mouthY + spec.lipLow + 0.07, LIP_BUMP);
    c.fill(
      ellipse(lx, ly, 0.16 * a * f.foreshorten(0, spec.mouthY), 0.04 * a, spec.roll),
      lit(scale(skin, 0.7)),
      0.3,
      0.03 * a + 0.3,
    );
  }
  // Glasses.
  if (spec.glasses) {
    const r = 0.035;
    const inner: number[] = [];
    for (const side of [-1, 1]) {
      const X = side * spec.eyeX;
      const fs = f.foreshorten(X, spec.eyeY);
      const [ex, ey] = f.point(X, spec.eyeY, 0.1);
      const outer = ellipse(ex, ey, 0.22 * a * fs, 0.17 * a, spec.roll);
      c.fill(outer, [0.85, 0.9, 0.95], 0.12);
      c.fill(
        subtract(outer, ellipse(ex, ey, (0.22 - r) * a * fs, (0.17 - r) * a, spec.roll)),
        lit(spec.glassesColor),
      );
      inner.push(X - side * 0.22, spec.eyeY - 0.02);
    }
    c.fill(stroke(f.projPoints(inner, 0.15), 0.018 * a), lit(spec.glassesColor));
  }
  // Occluder.
  if (spec.occluder) {
    const o = spec.occluder;
    const shape = occluderShape(f, o);
    const paint = gradient(shape.x0, shape.y0, shape.x1, shape.y1, o.color, o.color2);
    c.fill(shape, o.kind === "disc" ? lit(sphere(o.color, o.u, o.v, o.rx, o.ry, 0.55)) : paint);
  }
  if (spec.blurSigma > 0) c.blur(spec.cx, spec.cy, FACE_REACH * spec.a, spec.blurSigma);
}
