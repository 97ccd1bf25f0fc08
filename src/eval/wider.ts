/**
 * WIDER FACE validation AP, computed exactly as the official MATLAB `eval_tools`
 * (`wider_eval.m`: `read_pred`, `norm_score`, `evaluation`, `image_evaluation`,
 * `image_pr_info`, `dataset_pr_info`, `boxoverlap` and `plot/VOCap.m`) computes it.
 *
 * The protocol, step by step:
 *
 * 1. Predictions are read for every image of `wider_face_val.mat`
 *    (`<pred>/<event>/<image>.txt`: an image-name line, a count line, then `x y w h score`
 *    lines) and sorted by score, highest first (a stable sort, as MATLAB's `sort`).
 * 2. Scores are min-max normalised over the whole prediction set. MATLAB keeps the running
 *    minimum and maximum as `single` (they start at `realmax('single')` and
 *    `realmin('single')`), so the normalised scores are single-precision numbers:
 *    `(single(s) - min) / (max - min)` in float32 arithmetic. All scores equal gives 0/0 = NaN
 *    for every score, and then nothing passes any threshold (AP 0).
 * 3. Per setting (easy, medium, hard), per image with at least one face and one prediction,
 *    predictions are taken in order. Boxes become `x, y, x+w, y+h` and overlap is the IoU
 *    with the +1 pixel convention. A prediction goes to the face of highest IoU (the first
 *    such face on ties); when that IoU is >= 0.5: a face outside the setting's `gt_list`
 *    swallows the prediction (neither hit nor false alarm); a counted face not yet found
 *    becomes found; a counted face already found leaves the prediction a false alarm.
 *    Predictions on images without any face are not counted at all.
 * 4. For thresholds `1 - t/1000`, t = 1..1000: proposals (predictions not swallowed by an
 *    ignored face) and found faces among predictions with normalised score >= threshold,
 *    pooled over all images; precision = found / proposals, recall = found / faces of the
 *    setting (faces of every image, with or without predictions).
 * 5. AP = VOC area under the precision envelope (`VOCap`), with MATLAB's NaN-ignoring `max`.
 *
 * Checked against the official `.m` files run in GNU Octave 7.3 on jittered-ground-truth
 * prediction sets of 37k-119k boxes (sorted and unsorted, tied scores, scores outside [0, 1],
 * 3-decimal scores, malformed files with `lenient`): the same APs to all 17 printed digits.
 * With float64 instead of float32 normalisation, 3-decimal scores moved APs by up to 1.1e-4.
 *
 * @example
 * ```ts
 * import { evaluateWider, readWiderGroundTruth, readWiderPredictions } from "./wider.ts";
 * const gt = await readWiderGroundTruth("data/WIDER/eval_tools/ground_truth");
 * const { predictions } = await readWiderPredictions("out/pred", gt.images);
 * for (const s of evaluateWider(gt, predictions).settings) console.log(s.name, s.ap);
 * ```
 * @module
 */
import { readMat } from "../data/mat.ts";
import { widerFromMat, widerGtListFromMat } from "../data/wider.ts";
import { readFileChecked } from "../io/mod.ts";

/** A detection: box `x, y, w, h` in pixels (WIDER convention) and its confidence. */
export interface ScoredBox {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

/** The number of score thresholds of the official protocol (`thresh_num`). */
export const WIDER_THRESHOLD_COUNT = 1000;
/** The IoU at or above which a prediction matches a face (`IoU_thresh`). */
export const WIDER_IOU_THRESHOLD = 0.5;
/** The three settings, in the official order. */
export const WIDER_SETTINGS = ["easy", "medium", "hard"] as const;

/** The ground truth of one setting, image by image (same order as {@linkcode WiderGroundTruth.images}). */
export interface WiderSetting {
  name: string;
  /** Per image: face boxes `x, y, w, h`, 4 numbers per face (the setting file's `face_bbx_list`). */
  boxes: Float64Array[];
  /** Per image: 1-based indices of the faces the setting counts (`gt_list`); the others are ignored. */
  keep: ArrayLike<number>[];
}

/** Everything the evaluation needs from the `ground_truth` folder of the eval tools. */
export interface WiderGroundTruth {
  /** Image paths `<event>/<file>.jpg`, in the order of `wider_face_val.mat`. */
  images: string[];
  settings: WiderSetting[];
}

/**
 * Predictions for the images of a {@linkcode WiderGroundTruth}, aligned with its `images`:
 * 5 numbers per box (`x, y, w, h, score`), or `undefined` for an image without predictions.
 */
export type WiderPredictions = (Float64Array | undefined)[];

/** The result of one setting. */
export interface WiderSettingResult {
  name: string;
  /** Average precision (VOC envelope), as `wider_plot.m` prints it. */
  ap: number;
  /** Faces the setting counts (`count_face`). */
  faces: number;
  /** The thresholds `1 - t/1000`, t = 1..1000 (normalised score). */
  thresholds: Float64Array;
  /** Precision at each threshold (NaN where nothing is proposed). */
  precision: Float64Array;
  /** Recall at each threshold. */
  recall: Float64Array;
  /** Proposals (predictions not swallowed by ignored faces) at each threshold. */
  proposals: Float64Array;
  /** Faces found at each threshold. */
  found: Float64Array;
}

/** The result of {@linkcode evaluateWider}. */
export interface WiderEvaluation {
  settings: WiderSettingResult[];
  /** Images that have at least one prediction. */
  imagesWithPredictions: number;
  /** Predictions in all. */
  predictions: number;
  /** The normalisation's minimum and maximum (float32 values, as MATLAB's `single`). */
  scoreRange: { min: number; max: number };
}

// ---------------------------------------------------------------------------
// Ground truth

/**
 * Reads the eval tools' `ground_truth` folder: `wider_face_val.mat` (the image list that
 * predictions are read for) and `wider_{easy,medium,hard}_val.mat` (each setting's boxes
 * and `gt_list`). The four files must list the same images in the same order (MATLAB pairs
 * them by position).
 *
 * @example
 * ```ts
 * const gt = await readWiderGroundTruth("../shared/wider");
 * gt.images.length;   // 3226
 * ```
 */
export async function readWiderGroundTruth(dir: string): Promise<WiderGroundTruth> {
  const valPath = `${dir}/wider_face_val.mat`;
  const val = widerFromMat(
    await readMat(valPath, { only: ["event_list", "file_list", "face_bbx_list"] }),
  );
  const images = val.images.map((im) => im.path);
  const settings: WiderSetting[] = [];
  for (const name of WIDER_SETTINGS) {
    const path = `${dir}/wider_${name}_val.mat`;
    const mat = await readMat(path, {
      only: ["event_list", "file_list", "face_bbx_list", "gt_list"],
    });
    const faces = widerFromMat(mat);
    const list = widerGtListFromMat(mat);
    if (faces.images.length !== images.length) {
      throw new TypeError(
        `Cannot read "${path}": it lists ${faces.images.length} images, "${valPath}" lists ${images.length}`,
      );
    }
    faces.images.forEach((im, i) => {
      if (im.path !== images[i]) {
        throw new TypeError(
          `Cannot read "${path}": image ${i + 1} is "${im.path}", "${valPath}" has "${images[i]}"`,
        );
      }
    });
    settings.push({
      name,
      boxes: faces.images.map((im) => {
        const b = new Float64Array(im.faces.length * 4);
        im.faces.forEach((f, k) => b.set([f.x, f.y, f.w, f.h], 4 * k));
        return b;
      }),
      keep: list.images.map((im) => im.keep),
    });
  }
  return { images, settings };
}

// ---------------------------------------------------------------------------
// Prediction files

/** Options of {@linkcode parseWiderPrediction} and {@linkcode readWiderPredictions}. */
export interface WiderReadOptions {
  /**
   * Tolerate what the official `read_pred.m` tolerates: a malformed file drops that image's
   * predictions (reported in `invalid`) instead of throwing; lines after the announced boxes
   * and a count written as a decimal (`3.0`) are accepted. Default false: any malformed line
   * throws `Cannot read "<file>": line N: ...`.
   */
  lenient?: boolean;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses one prediction file of the official layout: an image-name line (not checked, as
 * in the official tool), a box-count line, then one `x y w h score` line per box (spaces,
 * tabs or commas between numbers; numbers after the fifth are ignored, as `read_pred.m`
 * ignores them). Returns 5 numbers per box, in file order. `file` names the file in errors.
 * Lines after the announced boxes must be blank unless `lenient`.
 *
 * @example
 * ```ts
 * parseWiderPrediction("0_Parade_0_904\n1\n10 20 30 40 0.9\n", "a.txt");   // Float64Array [10, 20, 30, 40, 0.9]
 * ```
 */
export function parseWiderPrediction(
  text: string,
  file: string,
  options: WiderReadOptions = {},
): Float64Array {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const fail = (line: number, msg: string): never => {
    throw new TypeError(`Cannot read "${file}": line ${line}: ${msg}`);
  };
  const line = (i: number) => lines[i].replace(/\r$/, "").trim();
  if (lines.length === 0) fail(1, "empty file, expected the image name");
  if (line(0) === "") fail(1, "expected the image name, got a blank line");
  if (lines.length < 2) fail(2, "expected the number of boxes, got the end of the file");
  const countText = line(1);
  const countOk = /^\d+$/.test(countText) ||
    (options.lenient && NUMBER_RE.test(countText) && Number.isInteger(Number(countText)) &&
      Number(countText) >= 0);
  if (!countOk) fail(2, `expected the number of boxes, got "${countText}"`);
  const count = Number(countText);
  const out = new Float64Array(count * 5);
  for (let k = 0; k < count; k++) {
    const i = 2 + k;
    if (i >= lines.length) {
      fail(i + 1, `expected box ${k + 1} of ${count}, got the end of the file`);
    }
    const parts = line(i).split(/[\s,]+/).filter((p) => p !== "");
    if (parts.length < 5) {
      fail(i + 1, `expected 5 numbers (x y w h score), got ${parts.length}`);
    }
    for (let j = 0; j < 5; j++) {
      const v = Number(parts[j]);
      if (!NUMBER_RE.test(parts[j]) || !Number.isFinite(v)) {
        fail(i + 1, `"${parts[j]}" is not a finite number`);
      }
      out[5 * k + j] = v;
    }
  }
  if (!options.lenient) {
    for (let i = 2 + count; i < lines.length; i++) {
      if (line(i) !== "") {
        fail(i + 1, `more lines than the ${count} boxes announced on line 2`);
      }
    }
  }
  return out;
}

/**
 * Formats one prediction file in the official layout. `name` is the first line (the image
 * name; the official tool does not read it). Numbers are written in full (shortest
 * round-trip form), so reading the file back gives the same doubles.
 *
 * @example
 * ```ts
 * formatWiderPrediction("0_Parade_0_904", [{ x: 1, y: 2, w: 3, h: 4, score: 0.5 }]);
 * // "0_Parade_0_904\n1\n1 2 3 4 0.5\n"
 * ```
 */
export function formatWiderPrediction(name: string, boxes: readonly ScoredBox[]): string {
  if (/[\r\n]/.test(name) || name.trim() === "") {
    throw new RangeError(`formatWiderPrediction: bad image name ${JSON.stringify(name)}`);
  }
  const out = [name, String(boxes.length)];
  for (const b of boxes) {
    const v = [b.x, b.y, b.w, b.h, b.score];
    if (!v.every(Number.isFinite)) {
      throw new RangeError(
        `formatWiderPrediction: ${name}: box ${JSON.stringify(b)} is not finite`,
      );
    }
    out.push(v.join(" "));
  }
  return out.join("\n") + "\n";
}

/** The path of the prediction file of image `<event>/<file>.jpg` under `dir`. */
export function widerPredictionPath(dir: string, imagePath: string): string {
  return `${dir}/${imagePath.replace(/\.[^./]*$/, "")}.txt`;
}

/** What {@linkcode readWiderPredictions} found. */
export interface WiderPredictionSet {
  predictions: WiderPredictions;
  /** Images with no prediction file (the official tool prints a line and counts them as empty). */
  missing: string[];
  /** Prediction files for images that are not in the ground truth (the official tool never reads them). */
  unknown: string[];
  /** With `lenient`: malformed files whose predictions were dropped, as `read_pred.m` drops them. */
  invalid: { file: string; message: string }[];
  /** Boxes read. */
  boxes: number;
}

/**
 * Reads the prediction folder (`<dir>/<event>/<image>.txt`) for every image of the ground
 * truth. A missing file counts as no predictions (listed in `missing`); `.txt` files in
 * event folders for unknown images are listed in `unknown`; files at the top of `dir` (such
 * as this tool's own outputs) are not looked at. A malformed file throws (see
 * {@linkcode WiderReadOptions.lenient}).
 *
 * @example
 * ```ts
 * const { predictions, missing } = await readWiderPredictions("out/pred", gt.images);
 * ```
 */
export async function readWiderPredictions(
  dir: string,
  images: readonly string[],
  options: WiderReadOptions = {},
): Promise<WiderPredictionSet> {
  const root = dir.replace(/\/+$/, "") || "/";
  try {
    if (!(await Deno.stat(root)).isDirectory) {
      throw new TypeError(`Cannot read predictions from "${dir}": not a directory`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TypeError(`Cannot read predictions from "${dir}": no such directory`);
    }
    throw e;
  }
  const present = new Set<string>();
  for await (const ev of Deno.readDir(root)) {
    if (!ev.isDirectory) continue;
    for await (const f of Deno.readDir(`${root}/${ev.name}`)) {
      if (f.isFile && f.name.endsWith(".txt")) present.add(`${ev.name}/${f.name}`);
    }
  }
  const predictions: WiderPredictions = new Array(images.length).fill(undefined);
  const missing: string[] = [];
  const invalid: { file: string; message: string }[] = [];
  const expected = new Set<string>();
  let boxes = 0;
  let next = 0;
  const decoder = new TextDecoder();
  // Strict mode: stop handing out work at the first malformed file, let the files in flight
  // finish, and report the malformed file that comes first in image order.
  const errors: { index: number; error: unknown }[] = [];
  const worker = async () => {
    while (next < images.length && errors.length === 0) {
      const i = next++;
      const rel = widerPredictionPath("", images[i]).slice(1);
      expected.add(rel);
      if (!present.has(rel)) {
        missing.push(images[i]);
        continue;
      }
      const file = `${root}/${rel}`;
      const text = decoder.decode(await readFileChecked(file));
      try {
        const p = parseWiderPrediction(text, file, options);
        if (p.length > 0) predictions[i] = p;
        boxes += p.length / 5;
      } catch (e) {
        if (!options.lenient) errors.push({ index: i, error: e });
        else invalid.push({ file, message: (e as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  if (errors.length) throw errors.reduce((a, b) => (b.index < a.index ? b : a)).error;
  const unknown = [...present].filter((p) => !expected.has(p)).sort();
  missing.sort();
  invalid.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { predictions, missing, unknown, invalid, boxes };
}

// ---------------------------------------------------------------------------
// Evaluation

const REALMIN_SINGLE = 2 ** -126;
const REALMAX_SINGLE = (2 - 2 ** -23) * 2 ** 127;
const f32 = Math.fround;

/** The thresholds `1 - t/1000`, t = 1..1000, computed as MATLAB computes them. */
export function widerThresholds(count = WIDER_THRESHOLD_COUNT): Float64Array {
  const th = new Float64Array(count);
  for (let t = 1; t <= count; t++) th[t - 1] = 1 - t / count;
  return th;
}

/**
 * Sorts each image's predictions by score, highest first (stable, as MATLAB's `sort`), and
 * normalises the scores as `norm_score.m` does, in float32: `(s - min) / (max - min)` over
 * the whole set. Returns new arrays; the input is not changed.
 *
 * @example
 * ```ts
 * const { predictions } = normalizeWiderScores([new Float64Array([0, 0, 9, 9, 0.2, 5, 5, 9, 9, 0.8])]);
 * predictions[0];   // the 0.8 box first, with score 1; then the 0.2 box with score 0
 * ```
 */
export function normalizeWiderScores(
  predictions: WiderPredictions,
): { predictions: WiderPredictions; min: number; max: number } {
  let max = REALMIN_SINGLE, min = REALMAX_SINGLE;
  const sorted: WiderPredictions = predictions.map((p) => {
    if (!p || p.length === 0) return undefined;
    if (p.length % 5 !== 0) {
      throw new RangeError(`normalizeWiderScores: ${p.length} numbers is not 5 per box`);
    }
    const n = p.length / 5;
    const order = Array.from({ length: n }, (_, k) => k);
    order.sort((a, b) => {
      const d = p[5 * b + 4] - p[5 * a + 4];
      return d !== 0 ? d : a - b;
    });
    const q = new Float64Array(p.length);
    order.forEach((k, r) => q.set(p.subarray(5 * k, 5 * k + 5), 5 * r));
    for (let k = 0; k < n; k++) {
      const s = f32(q[5 * k + 4]);
      if (s > max) max = s;
      if (s < min) min = s;
    }
    return q;
  });
  const range = f32(max - min);
  for (const q of sorted) {
    if (!q) continue;
    for (let k = 4; k < q.length; k += 5) q[k] = f32(f32(f32(q[k]) - min) / range);
  }
  return { predictions: sorted, min, max };
}

/**
 * VOC average precision as `VOCap.m`: the area under the precision envelope, summed where
 * recall changes. NaN precisions are skipped by the envelope's `max`, as in MATLAB.
 *
 * @example
 * ```ts
 * vocAp([0.5, 1], [1, 0.5]);   // 0.5 * 1 + 0.5 * 0.5 = 0.75
 * ```
 */
export function vocAp(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  const n = recall.length;
  const mrec = new Float64Array(n + 2), mpre = new Float64Array(n + 2);
  mrec[n + 1] = 1;
  for (let i = 0; i < n; i++) {
    mrec[i + 1] = recall[i];
    mpre[i + 1] = precision[i];
  }
  for (let i = n; i >= 0; i--) mpre[i] = nanMax(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 1; i < n + 2; i++) {
    if (!(mrec[i] === mrec[i - 1])) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  }
  return ap;
}

/** MATLAB's two-argument `max`: NaN only when both are NaN. */
function nanMax(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return a >= b ? a : b;
}

/**
 * Index (0-based) of the first threshold a normalised score passes: the smallest t with
 * `score >= thresholds[t]`, or `thresholds.length` when it passes none (NaN, negative).
 */
function firstThreshold(score: number, th: Float64Array): number {
  const n = th.length;
  if (!(score >= th[n - 1])) return n;
  let t = Math.min(n - 1, Math.max(0, Math.ceil((1 - score) * n) - 1));
  while (t > 0 && score >= th[t - 1]) t--;
  while (score < th[t]) t++;
  return t;
}

/**
 * Evaluates predictions against the ground truth of every setting, as the official tool
 * does (see the module documentation). `predictions` is aligned with `gt.images`; it need
 * not be sorted and its scores need not be normalised.
 *
 * @example
 * ```ts
 * const result = evaluateWider(gt, predictions);
 * result.settings.map((s) => `${s.name} ${s.ap.toFixed(4)}`);
 * ```
 */
export function evaluateWider(
  gt: WiderGroundTruth,
  predictions: WiderPredictions,
): WiderEvaluation {
  if (predictions.length !== gt.images.length) {
    throw new RangeError(
      `evaluateWider: ${predictions.length} prediction lists for ${gt.images.length} images`,
    );
  }
  const norm = normalizeWiderScores(predictions);
  const preds = norm.predictions;
  const th = widerThresholds();
  const T = th.length;
  // Threshold index of every prediction, shared by the settings.
  const bucket = preds.map((p) => {
    if (!p) return undefined;
    const b = new Int32Array(p.length / 5);
    for (let k = 0; k < b.length; k++) b[k] = firstThreshold(p[5 * k + 4], th);
    return b;
  });
  const settings = gt.settings.map((setting) => {
    const proposedAt = new Float64Array(T + 1), foundAt = new Float64Array(T + 1);
    let faces = 0;
    for (let i = 0; i < gt.images.length; i++) {
      const keep = setting.keep[i];
      faces += keep.length;
      const boxes = setting.boxes[i], p = preds[i];
      if (boxes.length === 0 || !p) continue;
      const counted = new Uint8Array(boxes.length / 4);
      for (let k = 0; k < keep.length; k++) counted[keep[k] - 1] = 1;
      matchImage(p, boxes, counted, bucket[i]!, proposedAt, foundAt);
    }
    const proposals = new Float64Array(T), found = new Float64Array(T);
    const precision = new Float64Array(T), recall = new Float64Array(T);
    let cp = 0, cf = 0;
    for (let t = 0; t < T; t++) {
      cp += proposedAt[t];
      cf += foundAt[t];
      proposals[t] = cp;
      found[t] = cf;
      precision[t] = cf / cp;
      recall[t] = cf / faces;
    }
    return {
      name: setting.name,
      ap: vocAp(recall, precision),
      faces,
      thresholds: th,
      precision,
      recall,
      proposals,
      found,
    };
  });
  let imagesWithPredictions = 0, count = 0;
  for (const p of preds) {
    if (p) {
      imagesWithPredictions++;
      count += p.length / 5;
    }
  }
  return {
    settings,
    imagesWithPredictions,
    predictions: count,
    scoreRange: { min: norm.min, max: norm.max },
  };
}

/**
 * `image_evaluation` + `image_pr_info` of one image, accumulated into per-threshold
 * histograms: a prediction that stays a proposal adds 1 to `proposedAt[its threshold]`, one
 * that finds a new counted face adds 1 to `foundAt[its threshold]`.
 */
function matchImage(
  p: Float64Array,
  gt: Float64Array,
  counted: Uint8Array,
  bucket: Int32Array,
  proposedAt: Float64Array,
  foundAt: Float64Array,
): void {
  const m = gt.length / 4;
  const ax1 = new Float64Array(m), ay1 = new Float64Array(m);
  const ax2 = new Float64Array(m), ay2 = new Float64Array(m), aarea = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    ax1[j] = gt[4 * j];
    ay1[j] = gt[4 * j + 1];
    ax2[j] = gt[4 * j] + gt[4 * j + 2];
    ay2[j] = gt[4 * j + 1] + gt[4 * j + 3];
    aarea[j] = (ax2[j] - ax1[j] + 1) * (ay2[j] - ay1[j] + 1);
  }
  // 0: not found, 1: found (counted faces), -1: hit (ignored faces).
  const state = new Int8Array(m);
  const n = p.length / 5;
  for (let h = 0; h < n; h++) {
    const bx1 = p[5 * h], by1 = p[5 * h + 1];
    const bx2 = bx1 + p[5 * h + 2], by2 = by1 + p[5 * h + 3];
    const barea = (bx2 - bx1 + 1) * (by2 - by1 + 1);
    let best = 0, bestJ = 0;
    for (let j = 0; j < m; j++) {
      const w = (ax2[j] < bx2 ? ax2[j] : bx2) - (ax1[j] > bx1 ? ax1[j] : bx1) + 1;
      if (w <= 0) continue;
      const hh = (ay2[j] < by2 ? ay2[j] : by2) - (ay1[j] > by1 ? ay1[j] : by1) + 1;
      if (hh <= 0) continue;
      const inter = w * hh;
      const o = inter / (aarea[j] + barea - inter);
      if (o > best) {
        best = o;
        bestJ = j;
      }
    }
    let proposal = true;
    if (best >= WIDER_IOU_THRESHOLD) {
      if (counted[bestJ] === 0) {
        state[bestJ] = -1;
        proposal = false;
      } else if (state[bestJ] === 0) {
        state[bestJ] = 1;
        foundAt[bucket[h]]++;
      }
    }
    if (proposal) proposedAt[bucket[h]]++;
  }
}
