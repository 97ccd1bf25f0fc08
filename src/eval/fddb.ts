/**
 * FDDB (Face Detection Data Set and Benchmark) evaluation: the discrete and continuous ROC
 * of the benchmark's `evaluate` tool, over all folds together.
 *
 * Files:
 * - annotations `FDDB-fold-XX-ellipseList.txt`: per image, its name
 *   (`2002/08/11/big/img_591`), a face count, then `major_radius minor_radius angle cx cy 1`;
 * - fold lists `FDDB-fold-XX.txt`: the image names of the fold, one per line;
 * - detections (the benchmark's output format): per image, its name, a count, then
 *   `x y w h score` lines (left, top, width, height, confidence).
 *
 * The protocol, as `evaluate.cpp` computes it: for each image and each distinct detection
 * score s, the detections scoring >= s are matched one-to-one to the faces by a
 * maximum-weight bipartite matching (Hungarian) on the overlap |E ∩ R| / |E ∪ R| of the
 * rasterised ellipse and rectangle masks (see fddb_raster.ts). Matched pairs with overlap
 * > 0.5 are true positives for the discrete score; the continuous score adds the overlaps of
 * all matched pairs; the other detections are false positives. The per-image curves are
 * merged over every distinct score of the whole set: at threshold s each image contributes
 * its detections scoring >= s; an image without detections adds a point at the largest
 * double. Detection rate = true positives / annotated faces.
 *
 * One deliberate difference: the matching here is an exact maximum-weight assignment, as the
 * protocol defines it. The official binary uses Gerkey's 2003 `libhungarian`, which returns a
 * non-maximal assignment for some non-square matrices (2-10 % of random 2x3 to 4x6 weight
 * matrices, measured), so in images with several faces it can pair a detection with the
 * wrong face. With that solver replaced by an exact one, the official `evaluate` (built
 * against OpenCV 4.6) and this module wrote the same DiscROC/ContROC files on a synthetic
 * 2845-image set; with its own solver, its discrete rates were lower by up to 1 face in
 * 4310 (0.05 %) at some thresholds and its continuous rates by up to 0.6 %.
 *
 * @example
 * ```ts
 * import { evaluateFddb, readFddbDetections, readFddbFolds } from "./fddb.ts";
 * const images = await readFddbFolds("data/FDDB/FDDB-folds");
 * const dets = await readFddbDetections("out/fddb_dets.txt");
 * const roc = evaluateFddb(images, dets);
 * fddbRateAt(roc, 1000);   // { discrete, continuous }: detection rates at 1000 false positives
 * ```
 * @module
 */
import { readFileChecked } from "../io/mod.ts";
import {
  ellipseRegion,
  type FddbEllipse,
  type ImageSize,
  rectangleRegion,
  regionIoU,
} from "./fddb_raster.ts";
import { maxWeightAssignment } from "./hungarian.ts";
import type { ScoredBox } from "./wider.ts";

export type { FddbEllipse } from "./fddb_raster.ts";

/** The annotations of one image. */
export interface FddbImage {
  /** `2002/08/11/big/img_591` (no extension), as in the lists. */
  name: string;
  /** 1..10, the fold the image belongs to (0 when read from a bare list). */
  fold: number;
  faces: FddbEllipse[];
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Splits text into trimmed lines, dropping one final empty line. */
function splitLines(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "").trim());
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * Parses the image/count/rows layout shared by the ellipse lists and the detection files.
 * `minNumbers` is the least numbers a row must hold; blank lines between images are skipped.
 */
function parseBlocks(
  text: string,
  file: string,
  minNumbers: number,
  what: string,
): { name: string; line: number; rows: number[][] }[] {
  const lines = splitLines(text);
  const fail = (line: number, msg: string): never => {
    throw new TypeError(`Cannot read "${file}": line ${line}: ${msg}`);
  };
  const out: { name: string; line: number; rows: number[][] }[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i] === "") {
      i++;
      continue;
    }
    const name = lines[i];
    const nameLine = ++i;
    if (NUMBER_RE.test(name)) fail(nameLine, `expected an image name, got the number ${name}`);
    if (i >= lines.length) {
      fail(i + 1, `expected the ${what} count of "${name}", got the end of the file`);
    }
    if (!/^\d+$/.test(lines[i])) {
      fail(i + 1, `expected the ${what} count of "${name}", got "${lines[i]}"`);
    }
    const count = Number(lines[i++]);
    const rows: number[][] = [];
    for (let k = 0; k < count; k++, i++) {
      if (i >= lines.length) {
        fail(i + 1, `expected ${what} ${k + 1} of ${count} of "${name}", got the end of the file`);
      }
      const parts = lines[i].split(/\s+/).filter((p) => p !== "");
      if (parts.length < minNumbers) {
        fail(i + 1, `expected ${minNumbers} numbers, got ${parts.length}`);
      }
      const row = parts.slice(0, minNumbers).map((p) => {
        const v = Number(p);
        if (!NUMBER_RE.test(p) || !Number.isFinite(v)) fail(i + 1, `"${p}" is not a finite number`);
        return v;
      });
      rows.push(row);
    }
    out.push({ name, line: nameLine, rows });
  }
  return out;
}

/**
 * Parses an `FDDB-fold-XX-ellipseList.txt`. `file` names the file in errors.
 *
 * @example
 * ```ts
 * const images = parseFddbEllipses("2002/08/11/big/img_591\n1\n123.58 85.55 1.27 269.69 161.78  1\n", "x.txt");
 * images[0].faces[0];   // { majorRadius: 123.58, minorRadius: 85.55, angle: 1.27, cx: 269.69, cy: 161.78 }
 * ```
 */
export function parseFddbEllipses(text: string, file: string, fold = 0): FddbImage[] {
  return parseBlocks(text, file, 5, "face").map((b) => ({
    name: b.name,
    fold,
    faces: b.rows.map(([majorRadius, minorRadius, angle, cx, cy]) => ({
      majorRadius,
      minorRadius,
      angle,
      cx,
      cy,
    })),
  }));
}

/** Parses a fold list `FDDB-fold-XX.txt`: one image name per line. */
export function parseFddbFoldList(text: string): string[] {
  return splitLines(text).filter((l) => l !== "");
}

/**
 * Reads every `FDDB-fold-XX-ellipseList.txt` in `dir` (fold order), checking each against
 * its `FDDB-fold-XX.txt` when that file is there (same images, same order). Throws when no
 * ellipse list is found or an image appears twice.
 *
 * @example
 * ```ts
 * const images = await readFddbFolds("data/FDDB/FDDB-folds");
 * images.length;   // 2845
 * ```
 */
export async function readFddbFolds(dir: string): Promise<FddbImage[]> {
  const lists: { fold: number; name: string }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = e.name.match(/^FDDB-fold-(\d+)-ellipseList\.txt$/);
      if (m && e.isFile) lists.push({ fold: Number(m[1]), name: e.name });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TypeError(`Cannot read FDDB folds from "${dir}": no such directory`);
    }
    throw e;
  }
  if (lists.length === 0) {
    throw new TypeError(`Cannot read FDDB folds from "${dir}": no FDDB-fold-XX-ellipseList.txt`);
  }
  lists.sort((a, b) => a.fold - b.fold);
  const images: FddbImage[] = [];
  const seen = new Map<string, string>();
  const decoder = new TextDecoder();
  for (const l of lists) {
    const path = `${dir}/${l.name}`;
    const fold = parseFddbEllipses(decoder.decode(await readFileChecked(path)), path, l.fold);
    const listPath = `${dir}/${l.name.replace("-ellipseList", "")}`;
    let names: string[] | undefined;
    try {
      names = parseFddbFoldList(await Deno.readTextFile(listPath));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (names) {
      const got = fold.map((im) => im.name);
      const k = names.findIndex((n, i) => n !== got[i]);
      if (k >= 0 || names.length !== got.length) {
        const at = k >= 0 ? k : Math.min(names.length, got.length);
        throw new TypeError(
          `Cannot read "${path}": image ${at + 1} is "${got[at] ?? "(none)"}", ` +
            `"${listPath}" lists "${names[at] ?? "(none)"}"`,
        );
      }
    }
    for (const im of fold) {
      const before = seen.get(im.name);
      if (before) throw new TypeError(`Cannot read "${path}": "${im.name}" is also in "${before}"`);
      seen.set(im.name, path);
      images.push(im);
    }
  }
  return images;
}

/**
 * Parses a detection file in FDDB's output format: per image a name line, a count line and
 * `x y w h score` lines. Throws on a name seen twice.
 *
 * @example
 * ```ts
 * parseFddbDetections("2002/08/11/big/img_591\n1\n180 60 170 210 0.99\n", "dets.txt");
 * // Map { "2002/08/11/big/img_591" => [{ x: 180, y: 60, w: 170, h: 210, score: 0.99 }] }
 * ```
 */
export function parseFddbDetections(
  text: string,
  file: string,
  into = new Map<string, ScoredBox[]>(),
): Map<string, ScoredBox[]> {
  for (const b of parseBlocks(text, file, 5, "detection")) {
    if (into.has(b.name)) {
      throw new TypeError(`Cannot read "${file}": line ${b.line}: "${b.name}" appears twice`);
    }
    into.set(b.name, b.rows.map(([x, y, w, h, score]) => ({ x, y, w, h, score })));
  }
  return into;
}

/**
 * Reads detections from a file, or from every `.txt` file of a directory (such as the ten
 * `fold-XX-out.txt` of a method), into one map by image name.
 *
 * @example
 * ```ts
 * const dets = await readFddbDetections("out/fddb");   // fold-01-out.txt ... fold-10-out.txt
 * ```
 */
export async function readFddbDetections(path: string): Promise<Map<string, ScoredBox[]>> {
  let files = [path];
  let stat;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TypeError(`Cannot read "${path}": no such file`);
    }
    throw e;
  }
  if (stat.isDirectory) {
    files = [];
    for await (const e of Deno.readDir(path)) {
      if (e.isFile && e.name.endsWith(".txt")) files.push(`${path}/${e.name}`);
    }
    files.sort();
    if (files.length === 0) {
      throw new TypeError(`Cannot read detections from "${path}": no .txt files`);
    }
  }
  const out = new Map<string, ScoredBox[]>();
  const decoder = new TextDecoder();
  for (const f of files) parseFddbDetections(decoder.decode(await readFileChecked(f)), f, out);
  return out;
}

/** One point of the ROC: the detections scoring >= `threshold`. */
export interface FddbRocPoint {
  threshold: number;
  /** False positives (detections not matched with overlap > 0.5). */
  falsePositives: number;
  /** Faces matched with overlap > 0.5. */
  truePositives: number;
  /** Sum of the overlaps of all matched pairs. */
  continuousTruePositives: number;
}

/** The result of {@linkcode evaluateFddb}. */
export interface FddbEvaluation {
  /** Annotated faces (N). */
  faces: number;
  images: number;
  detections: number;
  /** The ROC, thresholds ascending (most detections first), as `evaluate` writes it. */
  points: FddbRocPoint[];
  /** Annotated images with no entry in the detections (counted as no detections). */
  missing: string[];
  /** Detection entries for images that are not annotated (ignored). */
  unknown: string[];
}

/** Options of {@linkcode evaluateFddb}. */
export interface FddbOptions {
  /** Image sizes by name: masks are clipped to the image, as FDDB draws them. */
  sizes?: Map<string, { width: number; height: number }>;
}

interface ImagePoint {
  threshold: number;
  fp: number;
  tp: number;
  tpCont: number;
}

/**
 * One image's curve: for each distinct score (ascending), the matching of the detections
 * scoring at least that much (`Matching::runHungarian` + `Results`).
 */
function imageCurve(faces: FddbEllipse[], dets: ScoredBox[], size: ImageSize): ImagePoint[] {
  if (dets.length === 0) return [{ threshold: Number.MAX_VALUE, fp: 0, tp: 0, tpCont: 0 }];
  const nA = faces.length, nD = dets.length;
  const fr = faces.map((f) => ellipseRegion(f, size));
  const dr = dets.map((d) => rectangleRegion(d, size));
  const score = new Float64Array(nA * nD);
  for (let a = 0; a < nA; a++) {
    for (let d = 0; d < nD; d++) score[a * nD + d] = regionIoU(fr[a], dr[d]);
  }
  const thresholds = [...new Set(dets.map((d) => d.score))].sort((a, b) => a - b);
  return thresholds.map((threshold) => {
    const valid = dets.map((d) => d.score >= threshold);
    // keep the faces and detections with some overlap among the valid detections
    const rows: number[] = [], cols: number[] = [];
    for (let a = 0; a < nA; a++) {
      let s = 0;
      for (let d = 0; d < nD; d++) if (valid[d]) s += score[a * nD + d];
      if (s !== 0) rows.push(a);
    }
    for (let d = 0; d < nD; d++) {
      if (!valid[d]) continue;
      let s = 0;
      for (let a = 0; a < nA; a++) s += score[a * nD + d];
      if (s !== 0) cols.push(d);
    }
    const w = rows.map((a) => cols.map((d) => score[a * nD + d]));
    const assign = maxWeightAssignment(w, rows.length, cols.length);
    let tp = 0, tpCont = 0;
    assign.forEach((c, r) => {
      if (c < 0) return;
      const s = w[r][c];
      if (s > 0) {
        tpCont += s;
        if (s > 0.5) tp++;
      }
    });
    const nValid = valid.filter(Boolean).length;
    return { threshold, fp: nValid - tp, tp, tpCont };
  });
}

/**
 * The FDDB ROC of `detections` (by image name) on the annotated `images`, over all of them
 * together. See the module documentation for the protocol.
 *
 * @example
 * ```ts
 * const roc = evaluateFddb(images, detections, { sizes });
 * roc.points.at(0);   // the lowest threshold: every detection counted
 * ```
 */
export function evaluateFddb(
  images: readonly FddbImage[],
  detections: ReadonlyMap<string, readonly ScoredBox[]>,
  options: FddbOptions = {},
): FddbEvaluation {
  const curves: ImagePoint[][] = [];
  const missing: string[] = [];
  const names = new Set<string>();
  let faces = 0, count = 0;
  for (const im of images) {
    names.add(im.name);
    faces += im.faces.length;
    const dets = detections.get(im.name);
    if (!dets) missing.push(im.name);
    count += dets?.length ?? 0;
    for (const d of dets ?? []) {
      if (![d.x, d.y, d.w, d.h, d.score].every(Number.isFinite)) {
        throw new RangeError(
          `evaluateFddb: "${im.name}": detection ${JSON.stringify(d)} is not finite`,
        );
      }
    }
    curves.push(imageCurve(im.faces, [...(dets ?? [])], options.sizes?.get(im.name)));
  }
  const unknown = [...detections.keys()].filter((n) => !names.has(n)).sort();
  // Merge: at each distinct threshold t, every image adds its first point with threshold >= t.
  const all = [...new Set(curves.flatMap((c) => c.map((p) => p.threshold)))].sort((a, b) => a - b);
  const index = new Map(all.map((t, i) => [t, i]));
  const dTp = new Float64Array(all.length + 1), dFp = new Float64Array(all.length + 1);
  // Continuous sums are added point by point (no running difference, so no cancellation).
  const cont = new Float64Array(all.length);
  for (const c of curves) {
    let from = 0;
    for (const p of c) {
      const to = index.get(p.threshold)!;
      dTp[from] += p.tp;
      dTp[to + 1] -= p.tp;
      dFp[from] += p.fp;
      dFp[to + 1] -= p.fp;
      if (p.tpCont !== 0) { for (let i = from; i <= to; i++) cont[i] += p.tpCont; }
      from = to + 1;
    }
  }
  const points: FddbRocPoint[] = [];
  let tp = 0, fp = 0;
  for (let i = 0; i < all.length; i++) {
    tp += dTp[i];
    fp += dFp[i];
    points.push({
      threshold: all[i],
      falsePositives: fp,
      truePositives: tp,
      continuousTruePositives: cont[i],
    });
  }
  return { faces, images: images.length, detections: count, points, missing, unknown };
}

/**
 * Detection rates (discrete and continuous) at a number of false positives: the best rate
 * among the ROC points with at most `falsePositives` false positives.
 *
 * @example
 * ```ts
 * fddbRateAt(roc, 1000);   // { discrete: 0.95, continuous: 0.71 }
 * ```
 */
export function fddbRateAt(
  roc: FddbEvaluation,
  falsePositives: number,
): { discrete: number; continuous: number } {
  let discrete = 0, continuous = 0;
  if (roc.faces === 0) return { discrete, continuous };
  for (const p of roc.points) {
    if (p.falsePositives > falsePositives) continue;
    discrete = Math.max(discrete, p.truePositives / roc.faces);
    continuous = Math.max(continuous, p.continuousTruePositives / roc.faces);
  }
  return { discrete, continuous };
}

/**
 * The ROC files `evaluate` writes: `DiscROC.txt` lines `rate fp threshold` and `ContROC.txt`
 * lines `rate fp`, thresholds ascending.
 *
 * @example
 * ```ts
 * const { disc, cont } = formatFddbRoc(roc);
 * await Deno.writeTextFile("out/tempDiscROC.txt", disc);
 * ```
 */
export function formatFddbRoc(roc: FddbEvaluation): { disc: string; cont: string } {
  const disc: string[] = [], cont: string[] = [];
  for (const p of roc.points) {
    if (roc.faces) {
      cont.push(`${p.continuousTruePositives / roc.faces} ${p.falsePositives}`);
      disc.push(`${p.truePositives / roc.faces} ${p.falsePositives} ${p.threshold}`);
    } else {
      cont.push("0 0");
      disc.push(`0 0 ${p.threshold}`);
    }
  }
  return { disc: disc.join("\n") + "\n", cont: cont.join("\n") + "\n" };
}
