/**
 * Face-landmark lists used to train ONet's landmark head:
 *
 * - LFW+Net `trainImageList.txt` / `testImageList.txt` (Sun et al. 2013): one
 *   face per line, `path left right top bottom x1 y1 x2 y2 ... x5 y5`, paths
 *   possibly with backslashes (`lfw_5590\Aaron_Eckhart_0001.jpg`).
 * - CelebA `list_landmarks_celeba.txt` + `list_bbox_celeba.txt`: a count line,
 *   a header line, then `image_id` rows; joined by image id.
 *
 * Both give {@linkcode ImageAnnotation}s with one face each, whose
 * `landmarks` are `[x1, y1, ..., x5, y5]`: left eye, right eye, nose, left
 * mouth corner, right mouth corner.
 *
 * @example
 * ```ts
 * import { readCelebA, readLfwLandmarks } from "./landmarks.ts";
 * const lfw = await readLfwLandmarks("data/lfw/trainImageList.txt");
 * const celeba = await readCelebA("list_landmarks_celeba.txt", "list_bbox_celeba.txt");
 * ```
 *
 * @module
 */
import { readFileChecked } from "../io/mod.ts";
import type { ImageAnnotation } from "./types.ts";

/** Splits text into lines (LF or CRLF) with 1-based numbers, skipping blank lines. */
function contentLines(text: string): { no: number; text: string }[] {
  const out: { no: number; text: string }[] = [];
  text.split("\n").forEach((raw, i) => {
    const t = raw.trim();
    if (t !== "") out.push({ no: i + 1, text: t });
  });
  return out;
}

function numbersOf(
  fields: string[],
  fail: (msg: string) => never,
): number[] {
  return fields.map((f) => {
    const v = Number(f);
    if (f === "" || !Number.isFinite(v)) fail(`"${f}" is not a number`);
    return v;
  });
}

/**
 * Parses an LFW+Net landmark list (`trainImageList.txt`): per line an image
 * path, the box as `left right top bottom`, then 5 x/y landmark pairs.
 * Backslashes in paths become `/`.
 *
 * @example
 * ```ts
 * parseLfwLandmarks("lfw_5590\\a.jpg 84 161 92 169 106 107 146 112 125 142 105 157 139 161", "list.txt");
 * // [{ path: "lfw_5590/a.jpg", faces: [{ x: 84, y: 92, w: 77, h: 77, landmarks: [106, 107, ...] }] }]
 * ```
 */
export function parseLfwLandmarks(text: string, name: string): ImageAnnotation[] {
  const images: ImageAnnotation[] = [];
  for (const line of contentLines(text)) {
    const fail = (msg: string): never => {
      throw new TypeError(`Cannot read "${name}": line ${line.no}: ${msg}`);
    };
    const fields = line.text.split(/\s+/);
    if (fields.length !== 15) {
      fail(
        `expected 15 fields (path, left right top bottom, 5 landmark x y pairs), got ${fields.length}`,
      );
    }
    const [left, right, top, bottom, ...landmarks] = numbersOf(fields.slice(1), fail);
    if (right < left || bottom < top) {
      fail(`box left ${left} right ${right} top ${top} bottom ${bottom} has a negative size`);
    }
    images.push({
      path: fields[0].replaceAll("\\", "/"),
      faces: [{ x: left, y: top, w: right - left, h: bottom - top, landmarks }],
    });
  }
  return images;
}

/** Reads an LFW+Net landmark list file (see {@linkcode parseLfwLandmarks}). */
export async function readLfwLandmarks(path: string): Promise<ImageAnnotation[]> {
  return parseLfwLandmarks(new TextDecoder().decode(await readFileChecked(path)), path);
}

/** The rows of a CelebA list file: `count`, header, then `id v1 v2 ...`. */
function celebaRows(
  text: string,
  name: string,
  values: number,
): Map<string, { no: number; v: number[] }> {
  const lines = contentLines(text);
  const fail = (no: number, msg: string): never => {
    throw new TypeError(`Cannot read "${name}": line ${no}: ${msg}`);
  };
  if (lines.length === 0) throw new TypeError(`Cannot read "${name}": the file is empty`);
  const countLine = lines[0];
  if (!/^\d+$/.test(countLine.text)) {
    fail(countLine.no, `expected the image count, got "${countLine.text}"`);
  }
  const count = Number(countLine.text);
  if (lines.length < 2) fail(countLine.no + 1, "expected the header line, got the end of the file");
  const header = lines[1];
  if (header.text.split(/\s+/).every((f) => Number.isFinite(Number(f)))) {
    fail(header.no, "expected the header line (column names), got numbers");
  }
  const rows = new Map<string, { no: number; v: number[] }>();
  for (const line of lines.slice(2)) {
    const f = (msg: string): never => fail(line.no, msg);
    const fields = line.text.split(/\s+/);
    if (fields.length !== values + 1) {
      f(`expected ${values + 1} fields (image id and ${values} numbers), got ${fields.length}`);
    }
    const id = fields[0];
    const prev = rows.get(id);
    if (prev) f(`image "${id}" is listed again (first on line ${prev.no})`);
    rows.set(id, { no: line.no, v: numbersOf(fields.slice(1), f) });
  }
  if (rows.size !== count) {
    throw new TypeError(
      `Cannot read "${name}": line ${countLine.no} says ${count} images, the file lists ${rows.size}`,
    );
  }
  return rows;
}

/**
 * Joins CelebA's `list_landmarks_celeba.txt` (10 landmark numbers per image)
 * and `list_bbox_celeba.txt` (`x_1 y_1 width height`) by image id, in the
 * landmark file's order. The files must list the same images.
 *
 * @example
 * ```ts
 * const lm = "1\nlefteye_x ...\n000001.jpg 69 109 106 113 77 142 73 152 108 154\n";
 * const bb = "1\nimage_id x_1 y_1 width height\n000001.jpg 95 71 226 313\n";
 * parseCelebA(lm, bb, "list_landmarks_celeba.txt", "list_bbox_celeba.txt");
 * ```
 */
export function parseCelebA(
  landmarksText: string,
  bboxText: string,
  landmarksName: string,
  bboxName: string,
): ImageAnnotation[] {
  const marks = celebaRows(landmarksText, landmarksName, 10);
  const boxes = celebaRows(bboxText, bboxName, 4);
  if (marks.size !== boxes.size) {
    throw new TypeError(
      `Cannot read "${bboxName}": it lists ${boxes.size} images, "${landmarksName}" lists ${marks.size}`,
    );
  }
  const images: ImageAnnotation[] = [];
  for (const [id, m] of marks) {
    const b = boxes.get(id);
    if (!b) {
      throw new TypeError(
        `Cannot read "${bboxName}": no box for "${id}" (line ${m.no} of "${landmarksName}")`,
      );
    }
    const [x, y, w, h] = b.v;
    if (w < 0 || h < 0) {
      throw new TypeError(
        `Cannot read "${bboxName}": line ${b.no}: box of "${id}" has a negative size`,
      );
    }
    images.push({ path: id, faces: [{ x, y, w, h, landmarks: m.v }] });
  }
  return images;
}

/** Reads and joins CelebA's landmark and box lists (see {@linkcode parseCelebA}). */
export async function readCelebA(
  landmarksPath: string,
  bboxPath: string,
): Promise<ImageAnnotation[]> {
  const dec = new TextDecoder();
  const [lm, bb] = await Promise.all([readFileChecked(landmarksPath), readFileChecked(bboxPath)]);
  return parseCelebA(dec.decode(lm), dec.decode(bb), landmarksPath, bboxPath);
}
