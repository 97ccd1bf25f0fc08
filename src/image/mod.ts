/**
 * Images: decode JPEG / PNG to RGB, encode PNG / JPEG, draw boxes, points, lines and text,
 * and lay crops out in contact sheets. Everything here is synchronous except file I/O.
 *
 * - decode.ts: `decodeImageSync`, `decodeImage`, `readImage`, `probeImage`, `sniffImageFormat`
 * - encode.ts: `encodePng`, `encodeJpeg`, `encodeImage`, `writeImage`, `formatFromPath`
 * - draw.ts: `createImage`, `fillRect`, `drawRect`, `drawPoint`, `drawLine`, `drawText`,
 *   `drawLabel`, `measureText`, `cropImage`, `pasteImage`, `tileImages`
 *
 * @example
 * ```ts
 * import { drawRect, readImage, writeImage } from "./mod.ts";
 * const img = await readImage("photo.jpg");
 * drawRect(img, 40, 30, 120, 130, [0, 255, 0]);
 * await writeImage("out/boxed.png", img);
 * ```
 * @module
 */
export type { PixelBuffer, Rgb, RgbImage } from "./types.ts";
export {
  decodeImage,
  decodeImageSync,
  type ImageFormat,
  type ImageHeader,
  MAX_IMAGE_PIXELS,
  probeImage,
  readImage,
  sniffImageFormat,
} from "./decode.ts";
export {
  DEFAULT_JPEG_QUALITY,
  type EncodableImage,
  encodeImage,
  encodeJpeg,
  encodePng,
  formatFromPath,
  writeImage,
} from "./encode.ts";
export {
  CELL_HEIGHT,
  CELL_WIDTH,
  createImage,
  cropImage,
  drawLabel,
  drawLine,
  drawPoint,
  drawRect,
  drawText,
  fillRect,
  FONT,
  GLYPH_HEIGHT,
  GLYPH_WIDTH,
  measureText,
  pasteImage,
  tileImages,
  type TileOptions,
} from "./draw.ts";
