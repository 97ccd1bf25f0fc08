/**
 * Image codec benchmarks: what src/image uses against the alternatives it was chosen over.
 *
 *   npx -y deno@2.9.6 bench -A tests/image_bench.ts
 *
 * - JPEG decode 640x480: mozjpeg wasm (ours, `decodeImageSync`) vs jpeg-js (pure JS);
 *   also over the real photos in ../shared/faces when present.
 * - PNG decode 640x480: @jsquash/png wasm (ours) vs a pure-JS decoder on fflate's inflate.
 * - PNG encode 640x480: @jsquash/png wasm (ours) vs fflate zlib with the Up filter.
 * - JPEG encode 640x480 q90: mozjpeg wasm baseline (ours) vs jpeg-js.
 */
import jpegJs from "jpeg-js";
import { unzlibSync, zlibSync } from "fflate";
import {
  createImage,
  decodeImageSync,
  drawLabel,
  drawRect,
  encodeJpeg,
  encodePng,
  type RgbImage,
} from "../src/image/mod.ts";
import { crc32 } from "../src/image/decode.ts";
import { Rng } from "../src/util/random.ts";
import { SHARED } from "./assert.ts";

/** A deterministic 640x480 picture: smooth gradients plus noise, so it compresses like a photo. */
function syntheticPhoto(width = 640, height = 480, seed = 7): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const n = rng.normal(0, 6);
      data[i] = Math.max(0, Math.min(255, 128 + 90 * Math.sin(x / 37 + y / 53) + n));
      data[i + 1] = Math.max(0, Math.min(255, 120 + 80 * Math.cos(x / 29 - y / 41) + n));
      data[i + 2] = Math.max(0, Math.min(255, (x * 200) / width + 30 * Math.sin(y / 13) + n));
    }
  }
  return { width, height, data };
}

function rgba(img: RgbImage): Uint8Array {
  const out = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    out[j] = img.data[i];
    out[j + 1] = img.data[i + 1];
    out[j + 2] = img.data[i + 2];
    out[j + 3] = 255;
  }
  return out;
}

/** The pure-JS alternative: fflate zlib over Up-filtered RGB rows. */
function fflatePng(img: RgbImage, level: 1 | 6): Uint8Array {
  const stride = img.width * 3;
  const raw = new Uint8Array((stride + 1) * img.height);
  for (let y = 0; y < img.height; y++) {
    const o = y * (stride + 1), r = y * stride;
    raw[o] = 2;
    for (let i = 0; i < stride; i++) raw[o + 1 + i] = img.data[r + i] - (y ? img.data[r - stride + i] : 0);
  }
  const idat = zlibSync(raw, { level });
  const chunk = (type: string, body: Uint8Array) => {
    const c = new Uint8Array(12 + body.length);
    const v = new DataView(c.buffer);
    v.setUint32(0, body.length);
    for (let i = 0; i < 4; i++) c[4 + i] = type.charCodeAt(i);
    c.set(body, 8);
    v.setUint32(8 + body.length, crc32(c, 4, 8 + body.length));
    return c;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, img.width);
  new DataView(ihdr.buffer).setUint32(4, img.height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The pure-JS alternative decoder for 8-bit RGB / RGBA, non-interlaced PNG: inflate + unfilter. */
function fflateDecodePng(png: Uint8Array): RgbImage {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const width = view.getUint32(16), height = view.getUint32(20), colorType = png[25];
  const bpp = colorType === 6 ? 4 : 3;
  const idat: Uint8Array[] = [];
  for (let pos = 8; pos < png.length;) {
    const len = view.getUint32(pos);
    if (String.fromCharCode(...png.subarray(pos + 4, pos + 8)) === "IDAT") {
      idat.push(png.subarray(pos + 8, pos + 8 + len));
    }
    pos += 12 + len;
  }
  const joined = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of idat) {
    joined.set(c, at);
    at += c.length;
  }
  const stride = width * bpp;
  const raw = unzlibSync(joined, { out: new Uint8Array((stride + 1) * height) });
  const cur = new Uint8Array(stride), prev = new Uint8Array(stride);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1) + 1, f = raw[o - 1];
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      let p = 0;
      if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = raw[o + i] + p;
    }
    for (let x = 0; x < width; x++) {
      data.set(cur.subarray(x * bpp, x * bpp + 3), (y * width + x) * 3);
    }
    prev.set(cur);
  }
  return { width, height, data };
}

const photo = syntheticPhoto();
const photoRgba = rgba(photo);
const jpeg = encodeJpeg(photo, 90);
const png = encodePng(photo);
const fflatePngBytes = fflatePng(photo, 6);

// Sanity: the alternatives decode the same pixels, so the comparison is fair.
if (fflateDecodePng(png).data.some((v, i) => v !== photo.data[i])) {
  throw new Error("bench: fflate decoder disagrees with the source on our PNG");
}
if (decodeImageSync(fflatePngBytes).data.some((v, i) => v !== photo.data[i])) {
  throw new Error("bench: our decoder disagrees with the source on the fflate PNG");
}

const faces: Uint8Array[] = [];
if (SHARED) {
  for (const e of Deno.readDirSync(`${SHARED}faces`)) {
    if (e.name.endsWith(".jpg")) faces.push(Deno.readFileSync(`${SHARED}faces/${e.name}`));
  }
}

Deno.bench({
  name: `mozjpeg wasm (ours) ${jpeg.length} B`,
  group: "jpeg decode 640x480",
  baseline: true,
  fn: () => void decodeImageSync(jpeg),
});
Deno.bench({
  name: "jpeg-js",
  group: "jpeg decode 640x480",
  fn: () => void jpegJs.decode(jpeg, { useTArray: true, formatAsRGBA: false }),
});

if (faces.length > 0) {
  Deno.bench({
    name: `mozjpeg wasm (ours), ${faces.length} photos`,
    group: "jpeg decode shared/faces",
    baseline: true,
    fn: () => faces.forEach((b) => decodeImageSync(b)),
  });
  Deno.bench({
    name: `jpeg-js, ${faces.length} photos`,
    group: "jpeg decode shared/faces",
    fn: () => faces.forEach((b) => jpegJs.decode(b, { useTArray: true, formatAsRGBA: false })),
  });
}

Deno.bench({
  name: `@jsquash/png wasm (ours) ${png.length} B`,
  group: "png decode 640x480",
  baseline: true,
  fn: () => void decodeImageSync(png),
});
Deno.bench({
  name: "fflate inflate + JS unfilter",
  group: "png decode 640x480",
  fn: () => void fflateDecodePng(png),
});

Deno.bench({
  name: `@jsquash/png wasm (ours) ${png.length} B`,
  group: "png encode 640x480",
  baseline: true,
  fn: () => void encodePng(photo),
});
Deno.bench({
  name: `fflate level 1, Up filter ${fflatePng(photo, 1).length} B`,
  group: "png encode 640x480",
  fn: () => void fflatePng(photo, 1),
});
Deno.bench({
  name: `fflate level 6, Up filter ${fflatePngBytes.length} B`,
  group: "png encode 640x480",
  fn: () => void fflatePng(photo, 6),
});

Deno.bench({
  name: `mozjpeg wasm baseline 4:2:0 (ours) ${jpeg.length} B`,
  group: "jpeg encode 640x480 q90",
  baseline: true,
  fn: () => void encodeJpeg(photo, 90),
});
Deno.bench({
  name: `jpeg-js 4:4:4 ${jpegJs.encode({ data: photoRgba, width: 640, height: 480 }, 90).data.length} B`,
  group: "jpeg encode 640x480 q90",
  fn: () => void jpegJs.encode({ data: photoRgba, width: 640, height: 480 }, 90),
});

Deno.bench({
  name: "100 boxes + labels on 640x480",
  group: "draw",
  fn: () => {
    const img = createImage(640, 480);
    for (let k = 0; k < 100; k++) {
      const x = (k * 53) % 600, y = (k * 97) % 440;
      drawRect(img, x, y, x + 40, y + 40, [0, 255, 0]);
      drawLabel(img, x, y - 9, "0.97", [0, 0, 0], [0, 255, 0]);
    }
  },
});
