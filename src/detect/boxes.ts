/**
 * The box arithmetic of the MTCNN cascade, as plain functions over a
 * {@linkcode BoxList}: candidate boxes of many images in flat typed arrays,
 * each box with the index of its image beside it.
 *
 * Coordinates inside the cascade are the original release's
 * (`detect_face.m`): 1-based pixel indexes, x2/y2 inclusive, so that every
 * step below reads like the reference (the `+ 1` widths of its `bbreg` and
 * `pad`, the truncation toward zero of its `fix`). {@linkcode toFaces}
 * converts to 0-based at the very end.
 *
 * @example
 * ```ts
 * const list = generateBoxes(prob, reg, mapW, mapH, 0.6, 0.6, 0);
 * const kept = nmsPerImage(list, 0.5, "union");
 * const rects = padToImage(truncateBoxes(squareBoxes(calibrateBoxes(kept, false))));
 * ```
 */
import { nms, type NmsMode } from "../../kernels/mod.ts";

/** Candidate boxes of one or many images, sorted by image. */
export interface BoxList {
  /** Number of boxes. */
  n: number;
  /** Image index of each box, non-decreasing. */
  image: Int32Array;
  /** x1, y1, x2, y2 per box (1-based inclusive pixel coordinates inside the cascade). */
  boxes: Float32Array;
  /** Face probability of each box from the last net that saw it. */
  scores: Float32Array;
  /** Box regression (dx1, dy1, dx2, dy2, in box sides) of each box from the last net. */
  reg: Float32Array;
  /** Five landmarks (x1, y1, ..., x5, y5, image pixels) per box, after a landmark head. */
  landmarks?: Float32Array;
}

/** A list with room for `n` boxes (zero-filled). */
export function emptyBoxList(n = 0, landmarks = false): BoxList {
  return {
    n,
    image: new Int32Array(n),
    boxes: new Float32Array(4 * n),
    scores: new Float32Array(n),
    reg: new Float32Array(4 * n),
    ...(landmarks ? { landmarks: new Float32Array(10 * n) } : {}),
  };
}

/**
 * The scales of the image pyramid, as the original: `m = cell / minFaceSize`,
 * then `m * factor^k` while the shorter side at that scale is at least one
 * PNet cell (`minSide * m * factor^k >= cell`).
 *
 * @example
 * ```ts
 * pyramidScales(640, 480, 20, 0.709).length; // 10
 * ```
 */
export function pyramidScales(
  width: number,
  height: number,
  minFaceSize: number,
  factor: number,
  cell = 12,
): number[] {
  const m = cell / minFaceSize;
  let minSide = Math.min(width, height) * m;
  const scales: number[] = [];
  for (let k = 0; minSide >= cell; k++) {
    scales.push(m * factor ** k);
    minSide *= factor;
  }
  return scales;
}

/**
 * Turns one PNet output map into candidate boxes: every cell whose face
 * probability is at least `threshold` becomes the window it saw in the
 * image, `x1 = fix((stride * col + 1) / scale)`, `x2 = fix((stride * col +
 * cell) / scale)` (and the same for rows), carrying its score and
 * regression. `prob` is [mapH, mapW], `reg` [mapH, mapW, 4], both row-major.
 *
 * @example
 * ```ts
 * const list = generateBoxes(prob, reg, 315, 235, 1, 0.6, 0); // PNet on 640x480 at scale 1
 * ```
 */
export function generateBoxes(
  prob: Float32Array,
  reg: Float32Array,
  mapW: number,
  mapH: number,
  scale: number,
  threshold: number,
  image: number,
  stride = 2,
  cell = 12,
): BoxList {
  if (prob.length !== mapW * mapH || reg.length !== 4 * mapW * mapH) {
    throw new RangeError(
      `generateBoxes: want ${mapW * mapH} scores and ${
        4 * mapW * mapH
      } offsets, got ${prob.length} and ${reg.length}`,
    );
  }
  let n = 0;
  for (let i = 0; i < prob.length; i++) if (prob[i] >= threshold) n++;
  const out = emptyBoxList(n);
  out.image.fill(image);
  let k = 0;
  for (let i = 0; i < prob.length && k < n; i++) {
    if (!(prob[i] >= threshold)) continue;
    const row = Math.floor(i / mapW), col = i - row * mapW;
    out.boxes[4 * k] = Math.trunc((stride * col + 1) / scale);
    out.boxes[4 * k + 1] = Math.trunc((stride * row + 1) / scale);
    out.boxes[4 * k + 2] = Math.trunc((stride * col + cell) / scale);
    out.boxes[4 * k + 3] = Math.trunc((stride * row + cell) / scale);
    out.scores[k] = prob[i];
    out.reg.set(reg.subarray(4 * i, 4 * i + 4), 4 * k);
    k++;
  }
  return out;
}

/**
 * The boxes at `indices` (in that order), a new list. Indices must keep the
 * image order non-decreasing.
 */
export function selectBoxes(list: BoxList, indices: ArrayLike<number>): BoxList {
  const n = indices.length;
  const out = emptyBoxList(n, list.landmarks !== undefined);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    out.image[k] = list.image[i];
    out.scores[k] = list.scores[i];
    out.boxes.set(list.boxes.subarray(4 * i, 4 * i + 4), 4 * k);
    out.reg.set(list.reg.subarray(4 * i, 4 * i + 4), 4 * k);
    if (out.landmarks) out.landmarks.set(list.landmarks!.subarray(10 * i, 10 * i + 10), 10 * k);
  }
  return out;
}

/** The lists one after the other (they must be in image order). */
export function concatBoxes(lists: readonly BoxList[]): BoxList {
  const n = lists.reduce((s, l) => s + l.n, 0);
  const lm = lists.length > 0 && lists.every((l) => l.landmarks !== undefined);
  const out = emptyBoxList(n, lm);
  let k = 0;
  for (const l of lists) {
    out.image.set(l.image, k);
    out.scores.set(l.scores, k);
    out.boxes.set(l.boxes, 4 * k);
    out.reg.set(l.reg, 4 * k);
    if (lm) out.landmarks!.set(l.landmarks!, 10 * k);
    k += l.n;
  }
  return out;
}

/** `[start, end)` of each run of boxes of one image. */
export function imageRuns(list: BoxList): [number, number][] {
  const runs: [number, number][] = [];
  for (let s = 0; s < list.n;) {
    let e = s + 1;
    while (e < list.n && list.image[e] === list.image[s]) e++;
    runs.push([s, e]);
    s = e;
  }
  return runs;
}

/**
 * Greedy NMS (the original's: areas with `+ 1`, suppress when the overlap is
 * strictly above `threshold`) within each image; boxes of different images
 * never suppress each other. Keeps each image's survivors by descending score.
 *
 * @example
 * ```ts
 * const kept = nmsPerImage(list, 0.7, "union");
 * ```
 */
export function nmsPerImage(list: BoxList, threshold: number, mode: NmsMode): BoxList {
  const keep: number[] = [];
  for (const [s, e] of imageRuns(list)) {
    const picked = nms(
      list.boxes.subarray(4 * s, 4 * e),
      list.scores.subarray(s, e),
      threshold,
      mode,
      true,
    );
    for (const i of picked) keep.push(s + i);
  }
  return selectBoxes(list, keep);
}

/**
 * Applies each box's regression: `x1 + dx1 * w`, `y1 + dy1 * h`, `x2 + dx2 *
 * w`, `y2 + dy2 * h`. The original measures `w = x2 - x1 + 1` after RNet and
 * ONet (`bbreg`) but `w = x2 - x1` after PNet: pass `plusOne` accordingly.
 * Landmarks, if any, are left alone.
 *
 * @example
 * ```ts
 * const refined = calibrateBoxes(afterRnet, true);
 * ```
 */
export function calibrateBoxes(list: BoxList, plusOne: boolean): BoxList {
  const out = { ...list, boxes: new Float32Array(list.boxes) };
  const p = plusOne ? 1 : 0;
  const b = out.boxes, r = list.reg;
  for (let i = 0; i < 4 * list.n; i += 4) {
    const w = b[i + 2] - b[i] + p, h = b[i + 3] - b[i + 1] + p;
    b[i] += r[i] * w;
    b[i + 1] += r[i + 1] * h;
    b[i + 2] += r[i + 2] * w;
    b[i + 3] += r[i + 3] * h;
  }
  return out;
}

/**
 * Turns ONet's landmarks from crop units into image pixels, as the original:
 * `x = w * lx + x1 - 1`, `y = h * ly + y1 - 1` with `w = x2 - x1 + 1` of the
 * (integer) box that was cropped. Returns a new list; without landmarks, the list.
 *
 * @example
 * ```ts
 * const placed = placeLandmarks(afterOnet); // before calibrateBoxes moves the boxes
 * ```
 */
export function placeLandmarks(list: BoxList): BoxList {
  if (!list.landmarks) return list;
  const b = list.boxes, lm = new Float32Array(list.landmarks);
  for (let i = 0; i < list.n; i++) {
    const w = b[4 * i + 2] - b[4 * i] + 1, h = b[4 * i + 3] - b[4 * i + 1] + 1;
    for (let p = 10 * i; p < 10 * i + 10; p += 2) {
      lm[p] = w * lm[p] + b[4 * i] - 1;
      lm[p + 1] = h * lm[p + 1] + b[4 * i + 1] - 1;
    }
  }
  return { ...list, landmarks: lm };
}

/** Boxes farther than this from the origin are dropped by {@linkcode squareBoxes}. */
const MAX_COORD = 2 ** 28;

/**
 * Makes every box square around its centre with side `l = max(x2 - x1, y2 -
 * y1)` (the original's `rerec`: `x2 = x1 + l`). Boxes a net turned inside out
 * (`l < 0`), non-finite or absurdly far away are dropped, so later crops are
 * always well formed.
 *
 * @example
 * ```ts
 * const squares = squareBoxes(calibrateBoxes(list, false));
 * ```
 */
export function squareBoxes(list: BoxList): BoxList {
  const keep: number[] = [];
  const b = list.boxes;
  for (let i = 0; i < list.n; i++) {
    const w = b[4 * i + 2] - b[4 * i], h = b[4 * i + 3] - b[4 * i + 1];
    const l = Math.max(w, h);
    const far = Math.max(Math.abs(b[4 * i]), Math.abs(b[4 * i + 1])) + l;
    if (l >= 0 && far < MAX_COORD) keep.push(i);
  }
  const out = selectBoxes(list, keep);
  const o = out.boxes;
  for (let i = 0; i < 4 * out.n; i += 4) {
    const w = o[i + 2] - o[i], h = o[i + 3] - o[i + 1];
    const l = Math.max(w, h);
    o[i] = o[i] + w * 0.5 - l * 0.5;
    o[i + 1] = o[i + 1] + h * 0.5 - l * 0.5;
    o[i + 2] = o[i] + l;
    o[i + 3] = o[i + 1] + l;
  }
  return out;
}

/** Truncates every coordinate toward zero (the original's `fix` before cropping). */
export function truncateBoxes(list: BoxList): BoxList {
  return { ...list, boxes: list.boxes.map(Math.trunc) };
}

/**
 * The crop rectangle of each (integer) box as `x, y, w, h` with 0-based `x,
 * y` and `w = x2 - x1 + 1`: what the original's `pad` copies, with the parts
 * outside the image left as zeros — the crop kernel reads pixels outside the
 * image as 0, so the rectangle is passed whole.
 *
 * @example
 * ```ts
 * const crops = cropResizeU8ToF32(img.data, img.width, img.height, 3, padToImage(list), 24, 127.5, 1 / 128);
 * ```
 */
export function padToImage(list: BoxList): Int32Array {
  const rects = new Int32Array(4 * list.n);
  const b = list.boxes;
  for (let i = 0; i < 4 * list.n; i += 4) {
    rects[i] = b[i] - 1;
    rects[i + 1] = b[i + 1] - 1;
    rects[i + 2] = Math.max(1, b[i + 2] - b[i] + 1);
    rects[i + 3] = Math.max(1, b[i + 3] - b[i + 1] + 1);
  }
  return rects;
}

/** A face found by the detector (0-based pixel coordinates). */
export interface DetectedFace {
  /**
   * x1, y1, x2, y2: 0-based pixel indexes of the box's first and last
   * column and row, as MTCNN measures boxes (width `x2 - x1 + 1`); floats.
   */
  box: [number, number, number, number];
  /** Face probability from the last stage that ran. */
  score: number;
  /** Five points x1, y1, ..., x5, y5 (left eye, right eye, nose, left and right mouth corners), when ONet has a landmark head. */
  landmarks?: number[];
}

/**
 * Splits a list into faces per image (`count` images), converting the
 * cascade's 1-based coordinates to 0-based.
 */
export function toFaces(list: BoxList, count: number): DetectedFace[][] {
  const out: DetectedFace[][] = Array.from({ length: count }, () => []);
  const b = list.boxes;
  for (let i = 0; i < list.n; i++) {
    const face: DetectedFace = {
      box: [b[4 * i] - 1, b[4 * i + 1] - 1, b[4 * i + 2] - 1, b[4 * i + 3] - 1],
      score: list.scores[i],
    };
    if (list.landmarks) {
      face.landmarks = Array.from(list.landmarks.subarray(10 * i, 10 * i + 10), (v) => v - 1);
    }
    out[list.image[i]].push(face);
  }
  return out;
}

/**
 * A face as the WIDER FACE tools want it: `x, y, w, h` with `w = x2 - x1 + 1`.
 *
 * @example
 * ```ts
 * const lines = faces.map(toScoredBox); // for formatWiderPrediction
 * ```
 */
export function toScoredBox(
  face: DetectedFace,
): { x: number; y: number; w: number; h: number; score: number } {
  const [x1, y1, x2, y2] = face.box;
  return { x: x1, y: y1, w: x2 - x1 + 1, h: y2 - y1 + 1, score: face.score };
}
