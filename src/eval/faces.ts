/**
 * Recall and precision of a detector on a small annotated photo set in dlib's
 * imglab XML (`<image file='a.jpg'><box top left width height/></image>`),
 * such as ../shared/faces/training.xml: detections are matched one-to-one to
 * annotated faces, greedily in descending score order, at an IoU threshold
 * (0.5), with inclusive-pixel boxes (`x2 − x1 + 1` wide) as MTCNN and dlib
 * measure them. A detection is correct when it matches a face; a face is
 * found when some detection matches it.
 *
 * @example
 * ```ts
 * const sets = await readDlibFaces("../shared/faces/training.xml");
 * const m = matchFaces(detections, sets[0].boxes, 0.5); // { found, correct, detections, ious }
 * ```
 */
import { readFileChecked } from "../io/mod.ts";
import { readImage } from "../image/mod.ts";
import { detectFacesBatch, type Detector } from "../detect/mod.ts";

/** One annotated image: its file (relative to the XML's folder) and face boxes. */
export interface AnnotatedFaces {
  file: string;
  /** Inclusive pixel boxes `[x1, y1, x2, y2]`. */
  boxes: [number, number, number, number][];
}

/**
 * Parses dlib's imglab XML (boxes marked `ignore='1'` are left out). Throws a
 * one-line TypeError naming the file and what is wrong.
 *
 * @example
 * ```ts
 * parseDlibFaces("<image file='a.jpg'><box top='1' left='2' width='3' height='4'/></image>", "x.xml");
 * // [{ file: "a.jpg", boxes: [[2, 1, 4, 4]] }]
 * ```
 */
export function parseDlibFaces(xml: string, name = "faces.xml"): AnnotatedFaces[] {
  const out: AnnotatedFaces[] = [];
  for (const m of xml.matchAll(/<image\s+file=['"]([^'"]+)['"][^>]*?(\/>|>([\s\S]*?)<\/image>)/g)) {
    const boxes: AnnotatedFaces["boxes"] = [];
    for (const b of (m[3] ?? "").matchAll(/<box\b([^>]*?)\/?>/g)) {
      const attr = (k: string) => {
        const v = new RegExp(`\\b${k}=['"](-?\\d+)['"]`).exec(b[1]);
        if (!v) {
          throw new TypeError(`Cannot read "${name}": a box of "${m[1]}" has no ${k} attribute`);
        }
        return Number(v[1]);
      };
      if (/\bignore=['"]1['"]/.test(b[1])) continue;
      const [t, l, w, h] = [attr("top"), attr("left"), attr("width"), attr("height")];
      if (w < 1 || h < 1) {
        throw new TypeError(`Cannot read "${name}": a box of "${m[1]}" is ${w}x${h}`);
      }
      boxes.push([l, t, l + w - 1, t + h - 1]);
    }
    out.push({ file: m[1], boxes });
  }
  if (out.length === 0) throw new TypeError(`Cannot read "${name}": no <image file=...> entries`);
  return out;
}

/** Reads and parses a dlib imglab XML file (see {@linkcode parseDlibFaces}). */
export async function readDlibFaces(path: string): Promise<AnnotatedFaces[]> {
  return parseDlibFaces(new TextDecoder().decode(await readFileChecked(path)), path);
}

/**
 * IoU of inclusive-pixel boxes `[x1, y1, x2, y2]`.
 *
 * @example
 * ```ts
 * inclusiveIoU([0, 0, 9, 9], [5, 0, 14, 9]); // 50 / 150
 * ```
 */
export function inclusiveIoU(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1;
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter /
    ((a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter);
}

/** What {@linkcode matchFaces} counts for one image. */
export interface FaceMatch {
  /** Annotated faces matched by a detection. */
  found: number;
  faces: number;
  /** Detections that matched a face. */
  correct: number;
  detections: number;
  /** Per annotated face: the best IoU of any detection (0 when none overlaps). */
  ious: number[];
}

/**
 * Greedy one-to-one matching of detections (taken in descending score
 * order) to annotated faces at IoU >= `threshold`; each detection takes the
 * unmatched face it overlaps most.
 *
 * @example
 * ```ts
 * matchFaces([{ box: [0, 0, 9, 9], score: 0.9 }], [[0, 0, 9, 9]]); // found 1, correct 1
 * ```
 */
export function matchFaces(
  detections: readonly { box: ArrayLike<number>; score: number }[],
  faces: readonly ArrayLike<number>[],
  threshold = 0.5,
): FaceMatch {
  const order = detections.map((_, i) => i).sort((a, b) =>
    detections[b].score - detections[a].score || a - b
  );
  const used = new Set<number>();
  let correct = 0;
  for (const i of order) {
    let best = -1;
    let bestIou = threshold;
    faces.forEach((g, j) => {
      const v = inclusiveIoU(detections[i].box, g);
      if (!used.has(j) && v >= bestIou) [best, bestIou] = [j, v];
    });
    if (best >= 0) {
      used.add(best);
      correct++;
    }
  }
  return {
    found: used.size,
    faces: faces.length,
    correct,
    detections: detections.length,
    ious: faces.map((g) => Math.max(0, ...detections.map((d) => inclusiveIoU(d.box, g)))),
  };
}

/** Totals of {@linkcode FaceMatch} over images, with recall, precision and IoU stats. */
export interface FaceScore {
  images: number;
  faces: number;
  found: number;
  detections: number;
  correct: number;
  /** found / faces; correct / detections (NaN without detections). */
  recall: number;
  precision: number;
  /** Median of the per-face best IoUs. */
  medianIoU: number;
}

/**
 * Sums per-image matches into recall and precision.
 *
 * @example
 * ```ts
 * const s = scoreFaces(sets.map((a, k) => matchFaces(found[k], a.boxes)));
 * console.log(s.recall, s.precision);
 * ```
 */
export function scoreFaces(matches: readonly FaceMatch[]): FaceScore {
  const sum = (f: (m: FaceMatch) => number) => matches.reduce((a, m) => a + f(m), 0);
  const faces = sum((m) => m.faces);
  const detections = sum((m) => m.detections);
  const found = sum((m) => m.found);
  const correct = sum((m) => m.correct);
  const ious = matches.flatMap((m) => m.ious).sort((a, b) => a - b);
  const median = ious.length === 0
    ? NaN
    : ious.length % 2
    ? ious[(ious.length - 1) / 2]
    : (ious[ious.length / 2 - 1] + ious[ious.length / 2]) / 2;
  return {
    images: matches.length,
    faces,
    found,
    detections,
    correct,
    recall: faces ? found / faces : NaN,
    precision: detections ? correct / detections : NaN,
    medianIoU: median,
  };
}

/**
 * Runs a detector on every image of a dlib XML (paths relative to the XML's
 * folder) and scores it at IoU `threshold` (default 0.5).
 *
 * @example
 * ```ts
 * const s = await evaluateFaceSet(await loadDetector(), "../shared/faces/training.xml");
 * console.log(`${s.found}/${s.faces} found, ${s.correct}/${s.detections} correct`);
 * ```
 */
export async function evaluateFaceSet(
  detector: Detector,
  xmlPath: string,
  threshold = 0.5,
): Promise<FaceScore & { perImage: (FaceMatch & { file: string })[] }> {
  const sets = await readDlibFaces(xmlPath);
  const dir = xmlPath.includes("/") ? xmlPath.slice(0, xmlPath.lastIndexOf("/") + 1) : "";
  const images = await Promise.all(sets.map((a) => readImage(`${dir}${a.file}`)));
  const found = detectFacesBatch(detector, images);
  const perImage = sets.map((a, k) => ({
    file: a.file,
    ...matchFaces(found[k], a.boxes, threshold),
  }));
  return { ...scoreFaces(perImage), perImage };
}
