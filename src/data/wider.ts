/**
 * WIDER FACE annotations: the official `.mat` files (`wider_face_{train,val}.mat`,
 * and the evaluation kit's `wider_{easy,medium,hard}_val.mat`) and the text
 * files `wider_face_{train,val}_bbx_gt.txt`.
 *
 * The text format, per image:
 *
 * ```
 * 0--Parade/0_Parade_marchingband_1_849.jpg
 * 1
 * 449 330 122 149 0 0 0 0 0 0
 * ```
 *
 * a path line, a face-count line, then one line per face:
 * `x1 y1 w h blur expression illumination invalid occlusion pose`.
 * An image with no faces has count `0` followed by one dummy row of ten zeros
 * (as the official files have); it is read back as zero faces.
 *
 * @example
 * ```ts
 * import { formatWiderGt, readWiderMat } from "./wider.ts";
 * const { images } = await readWiderMat("data/WIDER/wider_face_split/wider_face_val.mat");
 * await Deno.writeTextFile("gt.txt", formatWiderGt(images));
 * ```
 *
 * @module
 */
import { readFileChecked } from "../io/mod.ts";
import {
  describeMat,
  type MatArray,
  type MatFile,
  matString,
  matVariable,
  readMat,
} from "./mat.ts";
import type { FaceBox, ImageAnnotation, WiderAttributes } from "./types.ts";

/** The WIDER attribute names, in the order of the text format's columns 5–10. */
export const WIDER_ATTRIBUTES: readonly (keyof WiderAttributes)[] = [
  "blur",
  "expression",
  "illumination",
  "invalid",
  "occlusion",
  "pose",
];

/** The contents of `wider_face_{train,val}.mat`. */
export interface WiderMat {
  /** Event folder names (`0--Parade`, ...), in file order. */
  events: string[];
  /** Every image, event by event; `path` is `<event>/<file>.jpg`. */
  images: ImageAnnotation[];
  /** For each image, the index of its event in `events`. */
  eventOfImage: number[];
}

/** One image of a `wider_{easy,medium,hard}_val.mat` file. */
export interface WiderGtEntry {
  /** `<event>/<file>.jpg`, as in {@linkcode WiderMat}. */
  path: string;
  /** 1-based indices of the faces (in `face_bbx_list` order) that the setting counts. */
  keep: number[];
}

/** The `gt_list` of one evaluation setting (easy, medium or hard). */
export interface WiderGtList {
  events: string[];
  /** Every image, in the same order as {@linkcode WiderMat.images}. */
  images: WiderGtEntry[];
}

const LABEL_VARIABLES = WIDER_ATTRIBUTES.map((a) => `${a}_label_list`);

/**
 * Reads `wider_face_{train,val}.mat` (or an easy/medium/hard file, which has
 * the same variables): every image with its faces and their attributes.
 * The attribute lists are optional as a whole; a file without
 * `face_bbx_list` is refused (`Cannot read "x.mat": no variable "face_bbx_list"`).
 *
 * @example
 * ```ts
 * const { events, images } = await readWiderMat("wider_face_val.mat");
 * images.length;   // 3226
 * ```
 */
export async function readWiderMat(path: string): Promise<WiderMat> {
  const mat = await readMat(path, {
    only: ["event_list", "file_list", "face_bbx_list", ...LABEL_VARIABLES],
  });
  return widerFromMat(mat);
}

/** {@linkcode readWiderMat} on an already parsed file. */
export function widerFromMat(mat: MatFile): WiderMat {
  const v = new MatChecker(mat);
  const { events, files } = v.eventsAndFiles();
  const bbx = v.perImage("face_bbx_list", files);
  const present = LABEL_VARIABLES.filter((n) => mat.variables.has(n));
  if (present.length > 0 && present.length < LABEL_VARIABLES.length) {
    matVariable(mat, LABEL_VARIABLES.find((n) => !mat.variables.has(n))!);
  }
  const labels = present.length ? LABEL_VARIABLES.map((n) => v.perImage(n, files)) : [];
  const images: ImageAnnotation[] = [];
  const eventOfImage: number[] = [];
  for (let e = 0; e < events.length; e++) {
    for (let i = 0; i < files[e].length; i++) {
      const boxes = bbx[e][i];
      const k = v.boxCount(boxes, "face_bbx_list", e, i);
      const d = v.values(boxes);
      const attrs = labels.map((list, a) => v.vector(list[e][i], LABEL_VARIABLES[a], e, i, k));
      const faces: FaceBox[] = new Array(k);
      for (let f = 0; f < k; f++) {
        const x = d[f], y = d[f + k], w = d[f + 2 * k], h = d[f + 3 * k];
        const face: FaceBox = attrs.length
          ? {
            x,
            y,
            w,
            h,
            attributes: {
              blur: attrs[0][f],
              expression: attrs[1][f],
              illumination: attrs[2][f],
              invalid: attrs[3][f],
              occlusion: attrs[4][f],
              pose: attrs[5][f],
            },
          }
          : { x, y, w, h };
        faces[f] = face;
      }
      images.push({ path: `${events[e]}/${files[e][i]}.jpg`, faces });
      eventOfImage.push(e);
    }
  }
  return { events, images, eventOfImage };
}

/**
 * Reads the `gt_list` of `wider_{easy,medium,hard}_val.mat`: for each image the
 * 1-based indices of the faces that setting counts. Indices are checked
 * against `face_bbx_list` when the file has it.
 *
 * @example
 * ```ts
 * const hard = await readWiderGtList("wider_hard_val.mat");
 * hard.images.reduce((n, im) => n + im.keep.length, 0);   // 31958
 * ```
 */
export async function readWiderGtList(path: string): Promise<WiderGtList> {
  const mat = await readMat(path, {
    only: ["event_list", "file_list", "face_bbx_list", "gt_list"],
  });
  return widerGtListFromMat(mat);
}

/** {@linkcode readWiderGtList} on an already parsed file. */
export function widerGtListFromMat(mat: MatFile): WiderGtList {
  const v = new MatChecker(mat);
  const { events, files } = v.eventsAndFiles();
  const gt = v.perImage("gt_list", files);
  const bbx = mat.variables.has("face_bbx_list") ? v.perImage("face_bbx_list", files) : undefined;
  const images: WiderGtEntry[] = [];
  for (let e = 0; e < events.length; e++) {
    for (let i = 0; i < files[e].length; i++) {
      const keep = Array.from(v.vector(gt[e][i], "gt_list", e, i));
      const k = bbx ? v.boxCount(bbx[e][i], "face_bbx_list", e, i) : Infinity;
      for (const idx of keep) {
        if (!Number.isInteger(idx) || idx < 1 || idx > k) {
          v.fail(
            `gt_list{${e + 1}}{${i + 1}} holds face index ${idx}, but the image has ${k} faces`,
          );
        }
      }
      images.push({ path: `${events[e]}/${files[e][i]}.jpg`, keep });
    }
  }
  return { events, images };
}

function isNumeric(a: MatArray): boolean {
  return a.className !== "cell" && a.className !== "struct" && a.className !== "object" &&
    a.className !== "char";
}

/** Structure checks over a WIDER .mat file, with messages naming file and cell. */
class MatChecker {
  constructor(readonly mat: MatFile) {}

  fail(msg: string): never {
    throw new TypeError(`Cannot read "${this.mat.source}": ${msg}`);
  }

  expected(where: string, a: MatArray, what: string): never {
    return this.fail(`${where} is ${describeMat(a)}, expected ${what}`);
  }

  cell(a: MatArray, where: string, n?: number): MatArray[] {
    if (a.className !== "cell") this.expected(where, a, "a cell array");
    if (n !== undefined && a.data.length !== n) {
      this.expected(where, a, `a cell array of ${n} element${n === 1 ? "" : "s"}`);
    }
    return a.data;
  }

  text(a: MatArray, where: string): string {
    if (a.className !== "char") this.expected(where, a, "a char array");
    try {
      return matString(a);
    } catch {
      return this.expected(where, a, "a char row vector");
    }
  }

  eventsAndFiles(): { events: string[]; files: string[][] } {
    const eventList = this.cell(matVariable(this.mat, "event_list"), "event_list");
    const events = eventList.map((a, e) => this.text(a, `event_list{${e + 1}}`));
    const fileList = this.cell(matVariable(this.mat, "file_list"), "file_list", events.length);
    const files = fileList.map((c, e) =>
      this.cell(c, `file_list{${e + 1}}`).map((a, i) =>
        this.text(a, `file_list{${e + 1}}{${i + 1}}`)
      )
    );
    return { events, files };
  }

  /** A per-event cell of per-image cells, shaped like `files`. */
  perImage(name: string, files: string[][]): MatArray[][] {
    const outer = this.cell(matVariable(this.mat, name), name, files.length);
    return outer.map((c, e) => this.cell(c, `${name}{${e + 1}}`, files[e].length));
  }

  /** Number of boxes of the k×4 numeric matrix `name{e}{i}` (any empty array counts as 0). */
  boxCount(a: MatArray, name: string, e: number, i: number): number {
    if (!isNumeric(a)) this.expected(`${name}{${e + 1}}{${i + 1}}`, a, "a k×4 numeric matrix");
    if (a.data.length === 0) return 0;
    if (a.dims.length !== 2 || a.dims[1] !== 4) {
      this.expected(`${name}{${e + 1}}{${i + 1}}`, a, "a k×4 numeric matrix");
    }
    return a.dims[0];
  }

  /** The numbers of the numeric vector `name{e}{i}` (of `n` elements when given). */
  vector(a: MatArray, name: string, e: number, i: number, n?: number): ArrayLike<number> {
    const ok = isNumeric(a) &&
      (a.data.length === 0 || a.data.length === a.dims[0] || a.data.length === a.dims[1]) &&
      (n === undefined || a.data.length === n);
    if (!ok) {
      this.expected(
        `${name}{${e + 1}}{${i + 1}}`,
        a,
        n === undefined ? "a numeric vector" : `a numeric vector of ${n} values`,
      );
    }
    return this.values(a);
  }

  /** Numeric data as numbers (int64 classes converted). */
  values(a: MatArray): ArrayLike<number> {
    const d = a.data as ArrayLike<number | bigint>;
    return d instanceof BigInt64Array || d instanceof BigUint64Array
      ? Array.from(d, Number)
      : d as ArrayLike<number>;
  }
}

// ---------------------------------------------------------------------------
// wider_face_*_bbx_gt.txt

/**
 * Parses the text of a `wider_face_*_bbx_gt.txt` file. `name` names the file
 * in errors (`Cannot read "gt.txt": line 17: expected 10 numbers, got 4`).
 * Trailing whitespace, CRLF line ends and blank lines between images are accepted.
 *
 * @example
 * ```ts
 * const images = parseWiderGt("a/1.jpg\n1\n10 20 30 40 0 0 0 0 0 0\n", "gt.txt");
 * images[0].faces[0];   // { x: 10, y: 20, w: 30, h: 40, attributes: { blur: 0, ... } }
 * ```
 */
export function parseWiderGt(text: string, name: string): ImageAnnotation[] {
  const lines = text.split("\n");
  const fail = (line: number, msg: string): never => {
    throw new TypeError(`Cannot read "${name}": line ${line}: ${msg}`);
  };
  const images: ImageAnnotation[] = [];
  let i = 0;
  const nextNonBlank = () => {
    while (i < lines.length && lines[i].trim() === "") i++;
    return i < lines.length;
  };
  const numbers = (lineNo: number, s: string): number[] => {
    const parts = s.trim().split(/\s+/);
    if (parts.length !== 10) fail(lineNo, `expected 10 numbers, got ${parts.length}`);
    return parts.map((p) => {
      const v = Number(p);
      if (!Number.isFinite(v)) fail(lineNo, `"${p}" is not a number`);
      return v;
    });
  };
  while (nextNonBlank()) {
    const path = lines[i].trim();
    const pathLine = ++i;
    if (/^\d+$/.test(path)) fail(pathLine, `expected an image path, got the number ${path}`);
    if (i >= lines.length || lines[i].trim() === "") {
      fail(
        pathLine + 1,
        `expected the face count of "${path}", got ${
          i >= lines.length ? "the end of the file" : "a blank line"
        }`,
      );
    }
    const countText = lines[i].trim();
    const countLine = ++i;
    if (!/^\d+$/.test(countText)) {
      fail(countLine, `expected the face count of "${path}", got "${countText}"`);
    }
    const count = Number(countText);
    const faces: FaceBox[] = [];
    for (let f = 0; f < count; f++) {
      if (i >= lines.length || lines[i].trim() === "") {
        fail(
          i + 1,
          `expected face ${f + 1} of ${count} of "${path}", got ${
            i >= lines.length ? "the end of the file" : "a blank line"
          }`,
        );
      }
      const v = numbers(i + 1, lines[i]);
      i++;
      faces.push({
        x: v[0],
        y: v[1],
        w: v[2],
        h: v[3],
        attributes: {
          blur: v[4],
          expression: v[5],
          illumination: v[6],
          invalid: v[7],
          occlusion: v[8],
          pose: v[9],
        },
      });
    }
    if (count === 0 && i < lines.length) {
      // The official files follow a zero count with a dummy row of ten zeros.
      const parts = lines[i].trim().split(/\s+/);
      if (parts.length === 10 && parts.every((p) => Number.isFinite(Number(p)))) i++;
    }
    images.push({ path, faces });
  }
  return images;
}

/**
 * Formats images as a `wider_face_*_bbx_gt.txt` file (the official layout:
 * each face row ends with a space; a face-less image gets count 0 and a row of
 * ten zeros). Faces without attributes get zeros.
 *
 * @example
 * ```ts
 * formatWiderGt([{ path: "a/1.jpg", faces: [{ x: 1, y: 2, w: 3, h: 4 }] }]);
 * // "a/1.jpg\n1\n1 2 3 4 0 0 0 0 0 0 \n"
 * ```
 */
export function formatWiderGt(images: readonly ImageAnnotation[]): string {
  const out: string[] = [];
  for (const im of images) {
    if (/[\r\n]/.test(im.path) || im.path.trim() !== im.path || im.path === "") {
      throw new RangeError(
        `formatWiderGt: image path ${JSON.stringify(im.path)} cannot be written on one line`,
      );
    }
    out.push(im.path, String(im.faces.length));
    if (im.faces.length === 0) out.push("0 0 0 0 0 0 0 0 0 0 ");
    for (const f of im.faces) {
      const a = f.attributes;
      const row = [f.x, f.y, f.w, f.h];
      for (const k of WIDER_ATTRIBUTES) row.push(a ? a[k] : 0);
      out.push(row.join(" ") + " ");
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}

/**
 * Reads a `wider_face_*_bbx_gt.txt` file.
 *
 * @example
 * ```ts
 * const images = await readWiderGt("data/WIDER/wider_face_split/wider_face_train_bbx_gt.txt");
 * ```
 */
export async function readWiderGt(path: string): Promise<ImageAnnotation[]> {
  const bytes = await readFileChecked(path);
  return parseWiderGt(new TextDecoder().decode(bytes), path);
}
