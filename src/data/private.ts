/**
 * The plain "private data" annotation format, and {@linkcode readAnnotations},
 * which reads any annotation file the toolkit knows by its contents.
 *
 * One image per line: the image path, then its faces, separated by spaces or tabs.
 *
 * ```
 * # comment lines and blank lines are ignored
 * party/img_001.jpg 10,20,110,140 200,40,260,120;215,70,245,70,230,90,220,105,242,105
 * "holiday 2019/beach 1.jpg" 5,5,50,60
 * party/no_faces.jpg
 * ```
 *
 * - A box is `x1,y1,x2,y2` in pixels: the top-left corner and the bottom-right
 *   corner, `x2 = x1 + width`, `y2 = y1 + height` (no +1).
 * - Five landmarks may follow a box after a `;`: `lx1,ly1,...,lx5,ly5` for the
 *   left eye, right eye, nose, left and right mouth corners (left/right as seen
 *   in the image).
 * - A path with spaces or tabs (or starting with `"` or `#`) is written as a
 *   double-quoted JSON string (`\"`, `\\` escapes); other paths are written as is.
 * - A path alone is an image with no faces. Lines whose first non-blank
 *   character is `#` are comments. UTF-8; LF or CRLF.
 *
 * @example
 * ```ts
 * import { formatPrivateAnnotations, parsePrivateAnnotations } from "./private.ts";
 * const images = parsePrivateAnnotations('"a b.jpg" 1,2,11,22\n', "faces.txt");
 * formatPrivateAnnotations(images);   // '"a b.jpg" 1,2,11,22\n'
 * ```
 *
 * @module
 */
import { readFileChecked } from "../io/mod.ts";
import { parseCelebA, parseLfwLandmarks } from "./landmarks.ts";
import type { FaceBox, ImageAnnotation } from "./types.ts";
import { parseWiderGt, readWiderMat } from "./wider.ts";

/**
 * Parses the private annotation format. `name` names the file in errors
 * (`Cannot read "faces.txt": line 4: box 2 "10,20,30": expected 4 numbers x1,y1,x2,y2, got 3`).
 *
 * @example
 * ```ts
 * parsePrivateAnnotations("a.jpg 10,20,50,80\n", "faces.txt");
 * // [{ path: "a.jpg", faces: [{ x: 10, y: 20, w: 40, h: 60 }] }]
 * ```
 */
export function parsePrivateAnnotations(text: string, name: string): ImageAnnotation[] {
  const images: ImageAnnotation[] = [];
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "" || line.startsWith("#")) continue;
    const fail = (msg: string): never => {
      throw new TypeError(`Cannot read "${name}": line ${li + 1}: ${msg}`);
    };
    let path: string;
    let rest: string;
    if (line.startsWith('"')) {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(line);
      if (!m) return fail("the quoted path has no closing quote");
      try {
        path = JSON.parse(m[0]);
      } catch {
        return fail(`bad escape in the quoted path ${m[0]}`);
      }
      rest = line.slice(m[0].length);
      if (rest !== "" && !/^\s/.test(rest)) fail("expected a space or tab after the quoted path");
    } else {
      const m = /^\S+/.exec(line)!;
      path = m[0];
      rest = line.slice(path.length);
    }
    if (path === "") fail("the image path is empty");
    const faces: FaceBox[] = [];
    const fields = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
    fields.forEach((field, b) => faces.push(parseBox(field, b + 1, fail)));
    images.push({ path, faces });
  }
  return images;
}

function parseBox(field: string, index: number, fail: (msg: string) => never): FaceBox {
  const [boxText, landmarkText, ...more] = field.split(";");
  const what = `box ${index} "${field}"`;
  if (more.length) fail(`${what}: more than one ";"`);
  const nums = (s: string, n: number, names: string): number[] => {
    const parts = s.split(",");
    if (parts.length !== n) fail(`${what}: expected ${n} numbers ${names}, got ${parts.length}`);
    return parts.map((p) => {
      const v = Number(p);
      if (p.trim() === "" || !Number.isFinite(v)) fail(`${what}: "${p}" is not a number`);
      return v;
    });
  };
  const [x1, y1, x2, y2] = nums(boxText, 4, "x1,y1,x2,y2");
  if (x2 < x1 || y2 < y1) fail(`${what}: x2,y2 must not be left of or above x1,y1`);
  const face: FaceBox = { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
  if (landmarkText !== undefined) {
    face.landmarks = nums(landmarkText, 10, "lx1,ly1,...,lx5,ly5 after ;");
  }
  return face;
}

/** True when `path` must be quoted in the private format. */
function needsQuotes(path: string): boolean {
  return /\s/.test(path) || path.startsWith('"') || path.startsWith("#");
}

/**
 * Formats images in the private format (quoting paths only when needed).
 * WIDER attributes are not part of the format and are dropped.
 *
 * @example
 * ```ts
 * formatPrivateAnnotations([{ path: "a.jpg", faces: [{ x: 10, y: 20, w: 40, h: 60 }] }]);
 * // "a.jpg 10,20,50,80\n"
 * ```
 */
export function formatPrivateAnnotations(images: readonly ImageAnnotation[]): string {
  let out = "";
  for (const im of images) {
    if (im.path === "" || /[\r\n]/.test(im.path)) {
      throw new RangeError(
        `formatPrivateAnnotations: image path ${
          JSON.stringify(im.path)
        } cannot be written on one line`,
      );
    }
    const fields = [needsQuotes(im.path) ? JSON.stringify(im.path) : im.path];
    for (const f of im.faces) {
      let box = [f.x, f.y, f.x + f.w, f.y + f.h].join(",");
      if (f.landmarks) {
        if (f.landmarks.length !== 10) {
          throw new RangeError(
            `formatPrivateAnnotations: ${im.path}: landmarks need 10 numbers, got ${f.landmarks.length}`,
          );
        }
        box += ";" + f.landmarks.join(",");
      }
      fields.push(box);
    }
    out += fields.join(" ") + "\n";
  }
  return out;
}

/** Reads a private-format annotation file (see {@linkcode parsePrivateAnnotations}). */
export async function readPrivateAnnotations(path: string): Promise<ImageAnnotation[]> {
  return parsePrivateAnnotations(new TextDecoder().decode(await readFileChecked(path)), path);
}

/** The annotation text formats {@linkcode readAnnotations} recognises. */
export type AnnotationFormat = "wider" | "private" | "lfw" | "celeba";

/**
 * Guesses the format of annotation text from its first lines:
 * `wider` (a path line, then a count line), `lfw` (a path and 14 numbers),
 * `celeba` (a count line, then a header starting with `lefteye_x`),
 * otherwise `private`.
 */
export function detectAnnotationFormat(text: string): AnnotationFormat {
  const head: string[] = [];
  for (const raw of text.split("\n", 200)) {
    const t = raw.trim();
    if (t === "") continue;
    if (head.length === 0 && t.startsWith("#")) return "private";
    head.push(t);
    if (head.length === 2) break;
  }
  if (head.length === 0) return "private";
  const [first, second] = head;
  if (/^\d+$/.test(first) && second?.startsWith("lefteye_x")) return "celeba";
  if (second !== undefined && /^\d+$/.test(second) && !/\s\S*,/.test(first)) return "wider";
  const fields = first.split(/\s+/);
  if (fields.length === 15 && fields.slice(1).every((f) => Number.isFinite(Number(f)))) {
    return "lfw";
  }
  return "private";
}

/**
 * Reads any annotation file the toolkit knows, by its contents: WIDER
 * `*_bbx_gt.txt`, a WIDER `.mat` (by extension), the private format, an
 * LFW+Net landmark list, or CelebA's `list_landmarks_celeba.txt` (whose
 * `list_bbox_celeba.txt` must sit beside it). For `--annotations` flags.
 *
 * @example
 * ```ts
 * const images = await readAnnotations("data/WIDER/wider_face_split/wider_face_train_bbx_gt.txt");
 * ```
 */
export async function readAnnotations(path: string): Promise<ImageAnnotation[]> {
  if (/\.mat$/i.test(path)) return (await readWiderMat(path)).images;
  const text = new TextDecoder().decode(await readFileChecked(path));
  switch (detectAnnotationFormat(text)) {
    case "wider":
      return parseWiderGt(text, path);
    case "lfw":
      return parseLfwLandmarks(text, path);
    case "celeba": {
      const slash = path.lastIndexOf("/");
      const bboxPath = `${slash >= 0 ? path.slice(0, slash + 1) : ""}list_bbox_celeba.txt`;
      const bbox = new TextDecoder().decode(await readFileChecked(bboxPath));
      return parseCelebA(text, bbox, path, bboxPath);
    }
    default:
      return parsePrivateAnnotations(text, path);
  }
}
