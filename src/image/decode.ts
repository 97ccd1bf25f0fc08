/**
 * Image decoding: JPEG and PNG bytes to an 8-bit {@linkcode RgbImage}.
 *
 * The format is found from the magic bytes, never from the file name.
 *
 * - JPEG: mozjpeg compiled to WebAssembly (`@jsquash/jpeg`) for greyscale and YCbCr files;
 *   4-component files (Adobe CMYK and YCCK, inverted as Photoshop writes them) go to the
 *   pure-JS `jpeg-js`, which mozjpeg cannot convert to RGB. Greyscale becomes R = G = B.
 *   EXIF orientation is not applied: pixels come out in stored order, as the annotations of
 *   WIDER FACE and FDDB expect.
 * - PNG: the Rust `png` crate compiled to WebAssembly (`@jsquash/png`): every colour type and
 *   bit depth, palette and Adam7 interlacing. 16-bit samples are rounded to 8 bits
 *   (`round(v / 257)`). Alpha is dropped (the colour channels are kept as stored, not
 *   composited), as OpenCV's `imread(path, IMREAD_COLOR)` does.
 *
 * The WebAssembly codecs are read from the npm cache (no network; needs `--allow-read`) and
 * instantiated synchronously on first use, so decoding is available both as
 * {@linkcode decodeImageSync} and as the promise-returning {@linkcode decodeImage}.
 *
 * Errors are one-line `TypeError`s naming the input, e.g.
 * `Cannot decode "x.jpg": not a JPEG or PNG file`.
 *
 * @example
 * ```ts
 * import { readImage } from "./decode.ts";
 * const img = await readImage("photo.jpg");
 * console.log(img.width, img.height, img.data.length); // data is RGB, 3 bytes per pixel
 * ```
 * @module
 */
import mozjpegDecFactory from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import {
  decode as pngDecodeWasm,
  decode_rgba16 as pngDecode16Wasm,
  encode as pngEncodeWasm,
  initSync as pngInitSync,
} from "@jsquash/png/codec/pkg/squoosh_png.js";
import jpegJs from "jpeg-js";
import { readFileChecked } from "../io/mod.ts";
import type { RgbImage } from "./types.ts";

/** The formats {@linkcode decodeImage} reads. */
export type ImageFormat = "jpeg" | "png";

/** What the header of an image file says, without decoding its pixels. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** Channels as stored: JPEG components (1, 3 or 4); PNG 1 grey, 2 grey+alpha, 3 RGB or palette, 4 RGBA. */
  channels: number;
  /** Bits per sample (JPEG 8 or 12; PNG 1, 2, 4, 8 or 16). */
  bitDepth: number;
}

/** Images with more pixels than this are refused before any allocation (100 megapixels). */
export const MAX_IMAGE_PIXELS = 100_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The format of `bytes` from its magic bytes, or `undefined` when it is neither JPEG nor PNG.
 *
 * @example
 * ```ts
 * sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "jpeg"
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (bytes.length >= 8 && PNG_SIGNATURE.every((v, i) => bytes[i] === v)) return "png";
  return undefined;
}

/**
 * Reads the header of a JPEG or PNG file: format, size, channels, bit depth. Checks the
 * structure up to the image data (for PNG: every chunk, its CRC and the final IEND), so a
 * file that passes here is at most corrupt inside its compressed data.
 *
 * @example
 * ```ts
 * const { width, height } = probeImage(await Deno.readFile("a.png"), "a.png");
 * ```
 */
export function probeImage(bytes: Uint8Array, name = "image"): ImageHeader {
  const format = sniffImageFormat(bytes);
  if (format === "jpeg") return parseJpegHeader(bytes, name).header;
  if (format === "png") return parsePngHeader(bytes, name);
  throw new TypeError(
    `Cannot decode "${name}": ${bytes.length === 0 ? "empty file" : "not a JPEG or PNG file"}`,
  );
}

/**
 * Decodes JPEG or PNG bytes to RGB, synchronously. `name` (usually the path) is used in errors.
 *
 * @example
 * ```ts
 * const img = decodeImageSync(await Deno.readFile("face.jpg"), "face.jpg");
 * const [r, g, b] = img.data.subarray(0, 3); // top-left pixel
 * ```
 */
export function decodeImageSync(bytes: Uint8Array, name = "image"): RgbImage {
  const format = sniffImageFormat(bytes);
  if (format === "jpeg") return decodeJpeg(bytes, name);
  if (format === "png") return decodePng(bytes, name);
  throw new TypeError(
    `Cannot decode "${name}": ${bytes.length === 0 ? "empty file" : "not a JPEG or PNG file"}`,
  );
}

/**
 * Decodes JPEG or PNG bytes to RGB. The same work as {@linkcode decodeImageSync}, as a promise.
 *
 * @example
 * ```ts
 * const img = await decodeImage(bytes, "upload.png");
 * ```
 */
export function decodeImage(bytes: Uint8Array, name = "image"): Promise<RgbImage> {
  try {
    return Promise.resolve(decodeImageSync(bytes, name));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Reads and decodes a JPEG or PNG file. A missing file is a one-line `TypeError` too.
 *
 * @example
 * ```ts
 * const img = await readImage("data/faces/0001.jpg");
 * ```
 */
export async function readImage(path: string): Promise<RgbImage> {
  return decodeImageSync(await readFileChecked(path), path);
}

// ---------------------------------------------------------------------------------------------
// WebAssembly codecs, loaded from the npm cache and instantiated synchronously.

/** Compiles a `.wasm` file shipped inside an npm package (found next to its entry point). */
export function compilePackageWasm(
  pkg: string,
  entry: string,
  wasmPath: string,
): WebAssembly.Module {
  const url = new URL(wasmPath, import.meta.resolve(entry));
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Deno.readFileSync(url);
  } catch (e) {
    throw new TypeError(`Cannot load the ${pkg} codec: ${url.href}: ${(e as Error).message}`);
  }
  return new WebAssembly.Module(bytes);
}

/** An Emscripten module factory as the `@jsquash` codecs export it. */
type EmscriptenFactory = (options: Record<string, unknown>) => Promise<unknown>;

/**
 * Instantiates an Emscripten codec synchronously: Emscripten fills the options object with the
 * module's exports, and with a synchronous `instantiateWasm` it does so before returning.
 * `onMessage` receives what the C code prints (libjpeg's warnings and errors).
 */
export function instantiateEmscripten<T>(
  factory: unknown,
  wasm: WebAssembly.Module,
  exportName: string,
  onMessage: (line: string) => void,
): T {
  const options: Record<string, unknown> = {
    noInitialRun: true,
    print: onMessage,
    printErr: onMessage,
    instantiateWasm(
      imports: WebAssembly.Imports,
      done: (instance: WebAssembly.Instance) => void,
    ) {
      const instance = new WebAssembly.Instance(wasm, imports);
      done(instance);
      return instance.exports;
    },
  };
  (factory as EmscriptenFactory)(options).catch(() => {});
  if (typeof options[exportName] !== "function") {
    throw new TypeError(`Cannot load a codec: its WebAssembly module did not start synchronously`);
  }
  return options as T;
}

interface MozjpegDecoder {
  decode(data: Uint8Array, preserveOrientation: boolean): ImageDataLike | null;
}

interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

let jpegDecoder: MozjpegDecoder | undefined;
const jpegMessages: string[] = [];

function mozjpegDecoder(): MozjpegDecoder {
  if (!jpegDecoder) {
    const wasm = compilePackageWasm(
      "@jsquash/jpeg",
      "@jsquash/jpeg",
      "./codec/dec/mozjpeg_dec.wasm",
    );
    jpegDecoder = instantiateEmscripten<MozjpegDecoder>(
      mozjpegDecFactory,
      wasm,
      "decode",
      (line) => jpegMessages.push(line),
    );
  }
  return jpegDecoder;
}

let pngReady = false;

/** The `@jsquash/png` functions, instantiated on first use. */
export function pngCodec(): {
  decode: typeof pngDecodeWasm;
  decode16: typeof pngDecode16Wasm;
  encode: typeof pngEncodeWasm;
} {
  if (!pngReady) {
    pngInitSync(
      compilePackageWasm("@jsquash/png", "@jsquash/png", "./codec/pkg/squoosh_png_bg.wasm"),
    );
    pngReady = true;
  }
  return { decode: pngDecodeWasm, decode16: pngDecode16Wasm, encode: pngEncodeWasm };
}

// ---------------------------------------------------------------------------------------------
// JPEG

interface JpegLayout {
  header: ImageHeader;
  /** Adobe APP14 colour transform (0 none/CMYK, 1 YCbCr, 2 YCCK), when the marker is present. */
  adobeTransform?: number;
}

function parseJpegHeader(b: Uint8Array, name: string): JpegLayout {
  const fail = (what: string) => new TypeError(`Cannot decode "${name}": ${what}`);
  let pos = 2;
  let header: ImageHeader | undefined;
  let adobeTransform: number | undefined;
  for (;;) {
    if (pos + 2 > b.length) throw fail("truncated JPEG data (ends inside the header)");
    if (b[pos] !== 0xff) throw fail(`corrupt JPEG data (no marker at byte ${pos})`);
    while (pos < b.length && b[pos] === 0xff) pos++;
    if (pos >= b.length) throw fail("truncated JPEG data (ends inside the header)");
    const marker = b[pos++];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9) throw fail("corrupt JPEG data (end of image before any scan)");
    if (pos + 2 > b.length) throw fail("truncated JPEG data (ends inside the header)");
    const len = (b[pos] << 8) | b[pos + 1];
    if (len < 2) throw fail(`corrupt JPEG data (segment length ${len} at byte ${pos})`);
    if (pos + len > b.length) throw fail("truncated JPEG data (ends inside the header)");
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isSof) {
      if (len < 8) throw fail("corrupt JPEG data (short frame header)");
      header = {
        format: "jpeg",
        bitDepth: b[pos + 2],
        height: (b[pos + 3] << 8) | b[pos + 4],
        width: (b[pos + 5] << 8) | b[pos + 6],
        channels: b[pos + 7],
      };
    } else if (
      marker === 0xee && len >= 14 && b[pos + 2] === 0x41 && b[pos + 3] === 0x64 &&
      b[pos + 4] === 0x6f && b[pos + 5] === 0x62 && b[pos + 6] === 0x65
    ) {
      adobeTransform = b[pos + 13];
    } else if (marker === 0xda) {
      if (!header) throw fail("corrupt JPEG data (scan before the frame header)");
      break;
    }
    pos += len;
  }
  checkSize(header, name);
  return { header, adobeTransform };
}

function checkSize(h: ImageHeader, name: string): void {
  if (h.width === 0 || h.height === 0) {
    throw new TypeError(`Cannot decode "${name}": zero-size image (${h.width}x${h.height})`);
  }
  if (h.width * h.height > MAX_IMAGE_PIXELS) {
    throw new TypeError(
      `Cannot decode "${name}": ${h.width}x${h.height} is over the ${
        MAX_IMAGE_PIXELS / 1e6
      }-megapixel limit`,
    );
  }
}

/** libjpeg warnings that mean the pixels are not all there. */
const FATAL_JPEG_WARNING = /premature end|huffman code/i;

function decodeJpeg(bytes: Uint8Array, name: string): RgbImage {
  const { header } = parseJpegHeader(bytes, name);
  if (header.channels === 4) return decodeJpegJs(bytes, name);
  if (header.channels !== 1 && header.channels !== 3) {
    throw new TypeError(`Cannot decode "${name}": unsupported ${header.channels}-component JPEG`);
  }
  const decoder = mozjpegDecoder();
  jpegMessages.length = 0;
  let out: ImageDataLike | null;
  try {
    out = decoder.decode(bytes, false);
  } catch {
    // libjpeg's error_exit unwound through the module: start a fresh instance next time.
    jpegDecoder = undefined;
    const why = jpegMessages.at(-1) ?? "libjpeg error";
    throw new TypeError(`Cannot decode "${name}": ${describeJpegMessage(why)}`);
  }
  const warning = jpegMessages.find((m) => FATAL_JPEG_WARNING.test(m));
  if (warning) throw new TypeError(`Cannot decode "${name}": ${describeJpegMessage(warning)}`);
  if (!out) throw new TypeError(`Cannot decode "${name}": corrupt JPEG data`);
  if (out.width !== header.width || out.height !== header.height) {
    throw new TypeError(
      `Cannot decode "${name}": decoded ${out.width}x${out.height}, header says ${header.width}x${header.height}`,
    );
  }
  return {
    width: out.width,
    height: out.height,
    data: dropAlpha(out.data, out.width * out.height),
  };
}

function describeJpegMessage(message: string): string {
  const m = message.trim();
  if (/premature end/i.test(m)) return `truncated JPEG data (${m})`;
  return `corrupt JPEG data (${m})`;
}

/** Adobe CMYK / YCCK JPEGs, which mozjpeg cannot turn into RGB. */
function decodeJpegJs(bytes: Uint8Array, name: string): RgbImage {
  let out: { width: number; height: number; data: Uint8Array };
  try {
    out = jpegJs.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    });
  } catch (e) {
    const m = String((e as Error)?.message ?? e).split("\n")[0];
    const what = /not found|out of bound|undefined|null/i.test(m)
      ? `truncated or corrupt JPEG data (${m})`
      : `corrupt JPEG data (${m})`;
    throw new TypeError(`Cannot decode "${name}": ${what}`);
  }
  if (out.data.length !== out.width * out.height * 3) {
    throw new TypeError(`Cannot decode "${name}": corrupt JPEG data (short pixel buffer)`);
  }
  return { width: out.width, height: out.height, data: out.data };
}

// ---------------------------------------------------------------------------------------------
// PNG

/** CRC-32 tables for slicing-by-4: CRC_TABLES[k * 256 + b]. */
const CRC_TABLES = (() => {
  const t = new Int32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 4; k++) {
      t[k * 256 + n] = t[t[(k - 1) * 256 + n] & 0xff] ^ (t[(k - 1) * 256 + n] >>> 8);
    }
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG chunks use) of `b[start..end)`. */
export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  const t = CRC_TABLES;
  let c = -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    c = t[768 + (c & 0xff)] ^ t[512 + ((c >>> 8) & 0xff)] ^ t[256 + ((c >>> 16) & 0xff)] ^
      t[c >>> 24];
  }
  for (; i < end; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const PNG_DEPTHS: Record<number, { channels: number; depths: number[] }> = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { channels: 3, depths: [8, 16] },
  3: { channels: 3, depths: [1, 2, 4, 8] },
  4: { channels: 2, depths: [8, 16] },
  6: { channels: 4, depths: [8, 16] },
};

function parsePngHeader(b: Uint8Array, name: string): ImageHeader {
  const fail = (what: string) => new TypeError(`Cannot decode "${name}": ${what}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let header: ImageHeader | undefined;
  let colorType = -1;
  let sawPalette = false;
  let sawData = false;
  for (;;) {
    if (pos + 12 > b.length) throw fail("truncated PNG data (no IEND chunk)");
    const len = view.getUint32(pos);
    const type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) throw fail(`corrupt PNG data (bad chunk type at byte ${pos})`);
    if (pos + 12 + len > b.length) throw fail(`truncated PNG data (inside the ${type} chunk)`);
    if (crc32(b, pos + 4, pos + 8 + len) !== view.getUint32(pos + 8 + len)) {
      throw fail(`corrupt PNG data (CRC mismatch in the ${type} chunk at byte ${pos})`);
    }
    const at = pos + 8;
    if (!header && type !== "IHDR") throw fail("corrupt PNG data (first chunk is not IHDR)");
    if (type === "IHDR") {
      if (header) throw fail("corrupt PNG data (two IHDR chunks)");
      if (len !== 13) throw fail(`corrupt PNG data (IHDR length ${len})`);
      const bitDepth = b[at + 8];
      colorType = b[at + 9];
      const kind = PNG_DEPTHS[colorType];
      if (!kind || !kind.depths.includes(bitDepth)) {
        throw fail(`corrupt PNG data (bit depth ${bitDepth} with colour type ${colorType})`);
      }
      if (b[at + 10] !== 0 || b[at + 11] !== 0 || b[at + 12] > 1) {
        throw fail("corrupt PNG data (unknown compression, filter or interlace method)");
      }
      header = {
        format: "png",
        width: view.getUint32(at),
        height: view.getUint32(at + 4),
        channels: kind.channels,
        bitDepth,
      };
      checkSize(header, name);
    } else if (type === "PLTE") {
      sawPalette = true;
    } else if (type === "IDAT") {
      sawData = true;
    } else if (type === "IEND") {
      break;
    }
    pos += 12 + len;
  }
  if (!sawData) throw fail("corrupt PNG data (no IDAT chunk)");
  if (colorType === 3 && !sawPalette) throw fail("corrupt PNG data (palette image without PLTE)");
  return header!;
}

function decodePng(bytes: Uint8Array, name: string): RgbImage {
  const header = parsePngHeader(bytes, name);
  const codec = pngCodec();
  const n = header.width * header.height;
  try {
    if (header.bitDepth === 16) {
      const out = codec.decode16(bytes);
      try {
        const src = out.data;
        const data = new Uint8Array(n * 3);
        for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
          // round(v / 257) == round(v * 255 / 65535)
          data[j] = (src[i] * 255 + 32767) / 65535;
          data[j + 1] = (src[i + 1] * 255 + 32767) / 65535;
          data[j + 2] = (src[i + 2] * 255 + 32767) / 65535;
        }
        return { width: header.width, height: header.height, data };
      } finally {
        out.free();
      }
    }
    const out = codec.decode(bytes);
    return { width: out.width, height: out.height, data: dropAlpha(out.data, n) };
  } catch (e) {
    const m = String((e as Error)?.message ?? e).split("\n")[0];
    throw new TypeError(`Cannot decode "${name}": corrupt PNG data (${m})`);
  }
}

/** RGBA to RGB, keeping the colour channels as stored. */
function dropAlpha(rgba: ArrayLike<number>, pixels: number): Uint8Array {
  if (rgba.length !== pixels * 4) {
    throw new TypeError(`decoded ${rgba.length} bytes for ${pixels} pixels`);
  }
  const out = new Uint8Array(pixels * 3);
  for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
    out[j] = rgba[i];
    out[j + 1] = rgba[i + 1];
    out[j + 2] = rgba[i + 2];
  }
  return out;
}
