/**
 * Showing detections: one readable line per face, and boxes, landmarks and
 * scores drawn onto the picture.
 *
 * @example
 * ```ts
 * const faces = detectFaces(detector, img);
 * faces.forEach((f, i) => console.log(formatFace(f, i)));
 * drawFaces(img, faces);
 * await writeImage("out/faces.png", img);
 * ```
 */
import { drawLabel, drawPoint, drawRect, measureText } from "../image/draw.ts";
import type { Rgb, RgbImage } from "../image/types.ts";
import type { DetectedFace } from "./boxes.ts";

/** Names of the five landmarks, in order. */
export const LANDMARK_NAMES = [
  "left eye",
  "right eye",
  "nose",
  "left mouth",
  "right mouth",
] as const;

/**
 * One line for a face: rank, score, box corners and size, landmarks.
 *
 * @example
 * ```ts
 * formatFace(face, 0);
 * // "  1  score 0.9997  box (199.9, 89.9)-(228.4, 128.6) 29.5x39.7  eyes (206.4, 104.3) (219.2, 103.9)  nose (212.0, 112.0)  mouth (207.1, 119.9) (218.6, 119.5)"
 * ```
 */
export function formatFace(face: DetectedFace, index: number): string {
  const [x1, y1, x2, y2] = face.box;
  const p = (x: number, y: number) => `(${x.toFixed(1)}, ${y.toFixed(1)})`;
  let line = `${String(index + 1).padStart(3)}  score ${face.score.toFixed(4)}  box ${p(x1, y1)}-${
    p(x2, y2)
  } ${(x2 - x1 + 1).toFixed(1)}x${(y2 - y1 + 1).toFixed(1)}`;
  const l = face.landmarks;
  if (l) {
    line += `  eyes ${p(l[0], l[1])} ${p(l[2], l[3])}  nose ${p(l[4], l[5])}  mouth ${
      p(l[6], l[7])
    } ${p(l[8], l[9])}`;
  }
  return line;
}

/** Colours and sizes of {@linkcode drawFaces}. */
export interface DrawFacesOptions {
  box?: Rgb;
  landmarks?: Rgb;
  labelText?: Rgb;
  /** Box line thickness (default: 2, or 1 on boxes under 24 px). */
  thickness?: number;
}

/**
 * Draws each face's box, its five landmarks and its score (a label above the
 * box, or inside it at the top edge of the picture) onto `img`, in place.
 *
 * @example
 * ```ts
 * drawFaces(img, detectFaces(detector, img));
 * ```
 */
export function drawFaces(
  img: RgbImage,
  faces: readonly DetectedFace[],
  opts: DrawFacesOptions = {},
): void {
  const boxColor = opts.box ?? [0, 255, 0];
  const pointColor = opts.landmarks ?? [255, 0, 0];
  const textColor = opts.labelText ?? [0, 0, 0];
  for (const f of faces) {
    const [x1, y1, x2, y2] = f.box;
    const t = opts.thickness ?? (Math.min(x2 - x1, y2 - y1) < 24 ? 1 : 2);
    drawRect(img, x1, y1, x2, y2, boxColor, t);
    const l = f.landmarks;
    if (l) {
      const r = Math.max(1, Math.min(3, Math.round((x2 - x1) / 30)));
      for (let i = 0; i < 5; i++) drawPoint(img, l[2 * i], l[2 * i + 1], pointColor, r);
    }
    const text = f.score.toFixed(2);
    const h = measureText(text).height + 2;
    const y = y1 - h >= 0 ? y1 - h : y1;
    drawLabel(img, x1, y, text, textColor, boxColor);
  }
}
