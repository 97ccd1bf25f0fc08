/**
 * Drawing on an {@linkcode RgbImage} in place: rectangles, discs, lines, bitmap text, and the
 * crop / paste / tile helpers that contact sheets (grids of small crops) are made of.
 *
 * Everything is clipped to the image: shapes partly or wholly outside never throw and never
 * write outside the buffer. Coordinates may be fractional; they are rounded to the nearest
 * pixel. Rectangle corners are inclusive pixel coordinates, as in OpenCV's `rectangle()`.
 *
 * @example
 * ```ts
 * import { createImage, drawRect, drawText } from "./draw.ts";
 * const img = createImage(64, 48, [255, 255, 255]);
 * drawRect(img, 10, 8, 40, 30, [255, 0, 0]);
 * drawText(img, 11, 33, "0.97", [0, 0, 0]);
 * ```
 * @module
 */
import type { Rgb, RgbImage } from "./types.ts";

/**
 * A new image filled with `color` (black by default).
 *
 * @example
 * ```ts
 * const sheet = createImage(640, 480, [32, 32, 32]);
 * ```
 */
export function createImage(width: number, height: number, color: Rgb = [0, 0, 0]): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`createImage: bad size ${width}x${height}`);
  }
  const img = { width, height, data: new Uint8Array(width * height * 3) };
  if (color[0] !== 0 || color[1] !== 0 || color[2] !== 0) {
    fillRect(img, 0, 0, width - 1, height - 1, color);
  }
  return img;
}

/**
 * Fills the rectangle with corners (x1, y1) and (x2, y2), both inclusive, clipped to the image.
 *
 * @example
 * ```ts
 * fillRect(img, 0, 0, 9, 9, [0, 255, 0]); // a 10x10 green square at the top left
 * ```
 */
export function fillRect(
  img: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: Rgb,
): void {
  checkImage(img, "fillRect");
  let ax = Math.round(Math.min(x1, x2)), bx = Math.round(Math.max(x1, x2));
  let ay = Math.round(Math.min(y1, y2)), by = Math.round(Math.max(y1, y2));
  if (!(ax < img.width && bx >= 0 && ay < img.height && by >= 0)) return; // outside, or NaN
  ax = Math.max(ax, 0);
  ay = Math.max(ay, 0);
  bx = Math.min(bx, img.width - 1);
  by = Math.min(by, img.height - 1);
  const [r, g, b] = color;
  const d = img.data;
  for (let y = ay; y <= by; y++) {
    const row = y * img.width;
    for (let i = (row + ax) * 3, end = (row + bx) * 3; i <= end; i += 3) {
      d[i] = r;
      d[i + 1] = g;
      d[i + 2] = b;
    }
  }
}

/**
 * Draws the outline of the rectangle with corners (x1, y1) and (x2, y2), inclusive. The
 * outline grows inward, so the box's outer edge is exactly its corners; a box thinner than
 * twice `thickness` is filled. Edges outside the image are not drawn.
 *
 * @example
 * ```ts
 * const b = face; // { x, y, w, h }
 * drawRect(img, b.x, b.y, b.x + b.w - 1, b.y + b.h - 1, [0, 255, 0], 2);
 * ```
 */
export function drawRect(
  img: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: Rgb,
  thickness = 2,
): void {
  checkImage(img, "drawRect");
  const t = checkThickness(thickness, "drawRect");
  const ax = Math.round(Math.min(x1, x2)), bx = Math.round(Math.max(x1, x2));
  const ay = Math.round(Math.min(y1, y2)), by = Math.round(Math.max(y1, y2));
  if (!(bx - ax + 1 > 2 * t && by - ay + 1 > 2 * t)) {
    fillRect(img, ax, ay, bx, by, color); // too small for a hole (or NaN: draws nothing)
    return;
  }
  fillRect(img, ax, ay, bx, ay + t - 1, color); // top
  fillRect(img, ax, by - t + 1, bx, by, color); // bottom
  fillRect(img, ax, ay + t, ax + t - 1, by - t, color); // left
  fillRect(img, bx - t + 1, ay + t, bx, by - t, color); // right
}

/**
 * Draws a filled disc: every pixel whose distance to the rounded centre is at most `radius`.
 * Radius 0 sets one pixel.
 *
 * @example
 * ```ts
 * for (let i = 0; i < 5; i++) drawPoint(img, lm[2 * i], lm[2 * i + 1], [255, 255, 0]);
 * ```
 */
export function drawPoint(img: RgbImage, x: number, y: number, color: Rgb, radius = 2): void {
  checkImage(img, "drawPoint");
  if (!(radius >= 0)) throw new RangeError(`drawPoint: radius must be >= 0, got ${radius}`);
  const cx = Math.round(x), cy = Math.round(y), r = Math.floor(radius), r2 = radius * radius;
  if (!(cx + r >= 0 && cx - r < img.width && cy + r >= 0 && cy - r < img.height)) return;
  const [cr, cg, cb] = color;
  const d = img.data;
  const y0 = Math.max(cy - r, 0), y1 = Math.min(cy + r, img.height - 1);
  const x0 = Math.max(cx - r, 0), x1 = Math.min(cx + r, img.width - 1);
  for (let py = y0; py <= y1; py++) {
    const dy = py - cy;
    for (let px = x0; px <= x1; px++) {
      const dx = px - cx;
      if (dx * dx + dy * dy > r2) continue;
      const i = (py * img.width + px) * 3;
      d[i] = cr;
      d[i + 1] = cg;
      d[i + 2] = cb;
    }
  }
}

/**
 * Draws a straight line from (x1, y1) to (x2, y2), both ends included (Bresenham). Thickness 1
 * sets one pixel per step; thicker lines stamp a disc of diameter `thickness` along it. The
 * segment is clipped to the image first, so far-away endpoints cost nothing.
 *
 * @example
 * ```ts
 * drawLine(img, 0, 0, img.width - 1, img.height - 1, [255, 0, 0], 3);
 * ```
 */
export function drawLine(
  img: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: Rgb,
  thickness = 1,
): void {
  checkImage(img, "drawLine");
  const t = checkThickness(thickness, "drawLine");
  const radius = (t - 1) / 2;
  const m = Math.ceil(radius) + 1;
  const clipped = clipSegment(x1, y1, x2, y2, -m, -m, img.width - 1 + m, img.height - 1 + m);
  if (!clipped) return;
  let x = Math.round(clipped[0]), y = Math.round(clipped[1]);
  const ex = Math.round(clipped[2]), ey = Math.round(clipped[3]);
  const dx = Math.abs(ex - x), dy = -Math.abs(ey - y);
  const sx = x < ex ? 1 : -1, sy = y < ey ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    if (t === 1) {
      if (x >= 0 && y >= 0 && x < img.width && y < img.height) {
        const i = (y * img.width + x) * 3;
        img.data[i] = color[0];
        img.data[i + 1] = color[1];
        img.data[i + 2] = color[2];
      }
    } else {
      drawPoint(img, x, y, color, radius);
    }
    if (x === ex && y === ey) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/** Liang-Barsky: the part of the segment inside [xmin, xmax] x [ymin, ymax], or undefined. */
function clipSegment(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  xmin: number,
  ymin: number,
  xmax: number,
  ymax: number,
): [number, number, number, number] | undefined {
  if (![x1, y1, x2, y2].every(Number.isFinite)) return undefined;
  const dx = x2 - x1, dy = y2 - y1;
  let t0 = 0, t1 = 1;
  const p = [-dx, dx, -dy, dy];
  const q = [x1 - xmin, xmax - x1, y1 - ymin, ymax - y1];
  for (let i = 0; i < 4; i++) {
    if (p[i] === 0) {
      if (q[i] < 0) return undefined;
    } else {
      const r = q[i] / p[i];
      if (p[i] < 0) {
        if (r > t1) return undefined;
        if (r > t0) t0 = r;
      } else {
        if (r < t0) return undefined;
        if (r < t1) t1 = r;
      }
    }
  }
  return [x1 + t0 * dx, y1 + t0 * dy, x1 + t1 * dx, y1 + t1 * dy];
}

// ---------------------------------------------------------------------------------------------
// Text: a 5x7 bitmap font in 6x8 cells (one column and one row of spacing).

/** Glyph width and height in font pixels, and the cell (advance) size. */
export const GLYPH_WIDTH = 5, GLYPH_HEIGHT = 7, CELL_WIDTH = 6, CELL_HEIGHT = 8;

/* deno-fmt-ignore */
const GLYPH_ROWS: Record<string, string> = {
  "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
  "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
  "2": ".###. #...# ....# ...#. ..#.. .#... #####",
  "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
  "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
  "5": "##### #.... ####. ....# ....# #...# .###.",
  "6": "..##. .#... #.... ####. #...# #...# .###.",
  "7": "##### ....# ...#. ..#.. .#... .#... .#...",
  "8": ".###. #...# #...# .###. #...# #...# .###.",
  "9": ".###. #...# #...# .#### ....# ...#. .##..",
  "A": ".###. #...# #...# ##### #...# #...# #...#",
  "B": "####. #...# #...# ####. #...# #...# ####.",
  "C": ".###. #...# #.... #.... #.... #...# .###.",
  "D": "###.. #..#. #...# #...# #...# #..#. ###..",
  "E": "##### #.... #.... ####. #.... #.... #####",
  "F": "##### #.... #.... ####. #.... #.... #....",
  "G": ".###. #...# #.... #.### #...# #...# .####",
  "H": "#...# #...# #...# ##### #...# #...# #...#",
  "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
  "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
  "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
  "L": "#.... #.... #.... #.... #.... #.... #####",
  "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
  "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
  "O": ".###. #...# #...# #...# #...# #...# .###.",
  "P": "####. #...# #...# ####. #.... #.... #....",
  "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
  "R": "####. #...# #...# ####. #.#.. #..#. #...#",
  "S": ".#### #.... #.... .###. ....# ....# ####.",
  "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
  "U": "#...# #...# #...# #...# #...# #...# .###.",
  "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
  "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
  "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
  "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
  "Z": "##### ....# ...#. ..#.. .#... #.... #####",
  " ": "..... ..... ..... ..... ..... ..... .....",
  ".": "..... ..... ..... ..... ..... .##.. .##..",
  ",": "..... ..... ..... ..... .##.. ..#.. .#...",
  ":": "..... .##.. .##.. ..... .##.. .##.. .....",
  ";": "..... .##.. .##.. ..... .##.. ..#.. .#...",
  "-": "..... ..... ..... ##### ..... ..... .....",
  "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
  "=": "..... ..... ##### ..... ##### ..... .....",
  "_": "..... ..... ..... ..... ..... ..... #####",
  "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
  "/": "..... ....# ...#. ..#.. .#... #.... .....",
  "\\": "..... #.... .#... ..#.. ...#. ....# .....",
  "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
  ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
  "[": ".###. .#... .#... .#... .#... .#... .###.",
  "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
  "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
  "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
  "'": "..#.. ..#.. .#... ..... ..... ..... .....",
  '"': ".#.#. .#.#. .#.#. ..... ..... ..... .....",
  "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
  "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
  ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
  "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
};

/**
 * The built-in font: each glyph is 7 row bitmasks, bit 4 the leftmost column. Lower-case
 * letters are drawn with the upper-case glyphs; characters without a glyph draw as `?`.
 */
export const FONT: ReadonlyMap<string, Uint8Array> = new Map(
  Object.entries(GLYPH_ROWS).map(([ch, rows]) => {
    const bits = rows.split(" ").map((row) =>
      [...row].reduce((v, c) => (v << 1) | (c === "#" ? 1 : 0), 0)
    );
    if (bits.length !== GLYPH_HEIGHT) {
      throw new Error(`font: glyph "${ch}" has ${bits.length} rows`);
    }
    return [ch, Uint8Array.from(bits)];
  }),
);

function glyphOf(ch: string): Uint8Array {
  return FONT.get(ch) ?? FONT.get(ch.toUpperCase()) ?? FONT.get("?")!;
}

/**
 * The size in pixels of `text` drawn by {@linkcode drawText} at `scale` (lines split on "\n").
 *
 * @example
 * ```ts
 * measureText("0.97", 2); // { width: 46, height: 14 }
 * ```
 */
export function measureText(text: string, scale = 1): { width: number; height: number } {
  const s = checkScale(scale);
  const lines = text.split("\n");
  const longest = Math.max(...lines.map((l) => [...l].length));
  return {
    width: longest === 0 ? 0 : (longest * CELL_WIDTH - (CELL_WIDTH - GLYPH_WIDTH)) * s,
    height: (lines.length * CELL_HEIGHT - (CELL_HEIGHT - GLYPH_HEIGHT)) * s,
  };
}

/**
 * Draws `text` with the built-in 5x7 font, its top-left corner at (x, y), each font pixel a
 * `scale` x `scale` square. Only the glyph pixels are set (no background: see
 * {@linkcode drawLabel}). "\n" starts a new line.
 *
 * @example
 * ```ts
 * drawText(img, box.x1, box.y1 - 9, `${(score * 100).toFixed(1)}%`, [255, 255, 0]);
 * ```
 */
export function drawText(
  img: RgbImage,
  x: number,
  y: number,
  text: string,
  color: Rgb,
  scale = 1,
): void {
  checkImage(img, "drawText");
  const s = checkScale(scale);
  const x0 = Math.round(x);
  let cy = Math.round(y);
  for (const line of text.split("\n")) {
    let cx = x0;
    for (const ch of line) {
      if (ch !== " ") {
        const glyph = glyphOf(ch);
        for (let row = 0; row < GLYPH_HEIGHT; row++) {
          const bits = glyph[row];
          if (bits === 0) continue;
          for (let col = 0; col < GLYPH_WIDTH; col++) {
            if (bits & (1 << (GLYPH_WIDTH - 1 - col))) {
              const px = cx + col * s, py = cy + row * s;
              fillRect(img, px, py, px + s - 1, py + s - 1, color);
            }
          }
        }
      }
      cx += CELL_WIDTH * s;
    }
    cy += CELL_HEIGHT * s;
  }
}

/**
 * Draws `text` on a filled background box with a `padding`-pixel margin, top-left at (x, y):
 * a readable label over any picture. Returns the box drawn (inclusive corners).
 *
 * @example
 * ```ts
 * drawLabel(img, x1, y1 - 11, "0.98", [0, 0, 0], [0, 255, 0]);
 * ```
 */
export function drawLabel(
  img: RgbImage,
  x: number,
  y: number,
  text: string,
  color: Rgb,
  background: Rgb,
  scale = 1,
  padding = 1,
): { x1: number; y1: number; x2: number; y2: number } {
  const { width, height } = measureText(text, scale);
  const x1 = Math.round(x), y1 = Math.round(y);
  const box = { x1, y1, x2: x1 + width + 2 * padding - 1, y2: y1 + height + 2 * padding - 1 };
  fillRect(img, box.x1, box.y1, box.x2, box.y2, background);
  drawText(img, x1 + padding, y1 + padding, text, color, scale);
  return box;
}

// ---------------------------------------------------------------------------------------------
// Crop, paste, tile.

/**
 * Copies the `width` x `height` region whose top-left pixel is (x, y); the parts outside the
 * source are filled with `fill`.
 *
 * @example
 * ```ts
 * const face = cropImage(img, box.x, box.y, box.w, box.h);
 * ```
 */
export function cropImage(
  img: RgbImage,
  x: number,
  y: number,
  width: number,
  height: number,
  fill: Rgb = [0, 0, 0],
): RgbImage {
  checkImage(img, "cropImage");
  const w = Math.round(width), h = Math.round(height);
  if (!(w >= 1 && h >= 1)) throw new RangeError(`cropImage: bad size ${width}x${height}`);
  const out = createImage(w, h, fill);
  pasteImage(out, img, -Math.round(x), -Math.round(y));
  return out;
}

/**
 * Copies `src` into `dst` with its top-left pixel at (x, y), clipped to `dst`.
 *
 * @example
 * ```ts
 * pasteImage(sheet, thumbnail, 10, 20);
 * ```
 */
export function pasteImage(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  checkImage(dst, "pasteImage");
  checkImage(src, "pasteImage");
  const ox = Math.round(x), oy = Math.round(y);
  const sx0 = Math.max(0, -ox), sy0 = Math.max(0, -oy);
  const sx1 = Math.min(src.width, dst.width - ox), sy1 = Math.min(src.height, dst.height - oy);
  if (!(sx1 > sx0 && sy1 > sy0)) return;
  for (let sy = sy0; sy < sy1; sy++) {
    const from = (sy * src.width + sx0) * 3;
    dst.data.set(
      src.data.subarray(from, from + (sx1 - sx0) * 3),
      ((sy + oy) * dst.width + sx0 + ox) * 3,
    );
  }
}

/** Layout of {@linkcode tileImages}. */
export interface TileOptions {
  /** Cells per row; default `ceil(sqrt(n))`. */
  columns?: number;
  /** Pixels between cells and around the sheet; default 2. */
  gap?: number;
  /** Sheet colour; default dark grey. */
  background?: Rgb;
  /** Cell size; default the largest image's width and height. Larger images are cropped. */
  cellWidth?: number;
  cellHeight?: number;
}

/**
 * Lays images out in a grid (a contact sheet), row by row, each centred in its cell.
 * Returns the sheet and where each image's cell is.
 *
 * @example
 * ```ts
 * const crops = faces.map((b) => cropImage(img, b.x, b.y, b.w, b.h));
 * const { image } = tileImages(crops, { columns: 8 });
 * await writeImage("out/faces.png", image);
 * ```
 */
export function tileImages(
  images: readonly RgbImage[],
  options: TileOptions = {},
): { image: RgbImage; cells: { x: number; y: number; width: number; height: number }[] } {
  if (images.length === 0) throw new RangeError("tileImages: no images");
  for (const img of images) checkImage(img, "tileImages");
  const n = images.length;
  const columns = options.columns ?? Math.ceil(Math.sqrt(n));
  const gap = options.gap ?? 2;
  if (!Number.isInteger(columns) || columns < 1) {
    throw new RangeError(`tileImages: columns must be a positive integer, got ${columns}`);
  }
  if (!Number.isInteger(gap) || gap < 0) {
    throw new RangeError(`tileImages: gap must be a non-negative integer, got ${gap}`);
  }
  const cw = options.cellWidth ?? Math.max(...images.map((i) => i.width));
  const ch = options.cellHeight ?? Math.max(...images.map((i) => i.height));
  if (!(Number.isInteger(cw) && Number.isInteger(ch) && cw >= 1 && ch >= 1)) {
    throw new RangeError(`tileImages: bad cell size ${cw}x${ch}`);
  }
  const cols = Math.min(columns, n), rows = Math.ceil(n / columns);
  const sheet = createImage(
    cols * cw + (cols + 1) * gap,
    rows * ch + (rows + 1) * gap,
    options.background ?? [40, 40, 40],
  );
  const cells = images.map((img, k) => {
    const x = gap + (k % columns) * (cw + gap), y = gap + Math.floor(k / columns) * (ch + gap);
    const cell = { x, y, width: cw, height: ch };
    // An image larger than the cell keeps its centre; a smaller one sits centred on the background.
    const src = img.width > cw || img.height > ch
      ? cropImage(
        img,
        Math.max(0, (img.width - cw) >> 1),
        Math.max(0, (img.height - ch) >> 1),
        Math.min(cw, img.width),
        Math.min(ch, img.height),
      )
      : img;
    pasteImage(sheet, src, x + ((cw - src.width) >> 1), y + ((ch - src.height) >> 1));
    return cell;
  });
  return { image: sheet, cells };
}

// ---------------------------------------------------------------------------------------------

function checkImage(img: RgbImage, fn: string): void {
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(
      `${fn}: image data has ${img.data.length} bytes, ${img.width}x${img.height} RGB needs ${
        img.width * img.height * 3
      }`,
    );
  }
}

function checkThickness(thickness: number, fn: string): number {
  const t = Math.round(thickness);
  if (!(t >= 1)) throw new RangeError(`${fn}: thickness must be >= 1, got ${thickness}`);
  return t;
}

function checkScale(scale: number): number {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`drawText: scale must be a positive integer, got ${scale}`);
  }
  return scale;
}
