/**
 * Tests of src/image: decoding against independent references (hand-built JPEG and PNG files
 * with known pixels, and the pure-JS jpeg-js decoder), encoding, and drawing.
 *
 * The fixtures are made here: a tiny DC-only baseline JPEG writer (flat 8x8 blocks decode to
 * exact values, in any colour model incl. Adobe CMYK / YCCK) and a PNG writer (any colour type,
 * bit depth, filter and Adam7 interlacing) built from the specs with fflate's zlib.
 */
import jpegJs from "jpeg-js";
import { zlibSync } from "fflate";
import {
  CELL_HEIGHT,
  CELL_WIDTH,
  createImage,
  cropImage,
  decodeImage,
  decodeImageSync,
  drawLabel,
  drawLine,
  drawPoint,
  drawRect,
  drawText,
  encodeJpeg,
  encodePng,
  fillRect,
  FONT,
  formatFromPath,
  measureText,
  pasteImage,
  probeImage,
  readImage,
  type Rgb,
  type RgbImage,
  sniffImageFormat,
  tileImages,
  writeImage,
} from "../src/image/mod.ts";
import { crc32 } from "../src/image/decode.ts";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
  maxAbsDiff,
  needsShared,
  SHARED,
} from "./assert.ts";

// ---------------------------------------------------------------------------------------------
// Fixture writers

/** A baseline JPEG whose every 8x8 block is flat: `value(component, blockX, blockY)` (0..255). */
function dcOnlyJpeg(opts: {
  blocksX: number;
  blocksY: number;
  components: number;
  value: (c: number, bx: number, by: number) => number;
  adobeTransform?: number;
  height?: number;
}): Uint8Array {
  const { blocksX, blocksY, components } = opts;
  const out: number[] = [];
  const u16 = (v: number) => out.push(v >> 8, v & 255);
  const segment = (marker: number, body: number[]) => {
    out.push(0xff, marker);
    u16(body.length + 2);
    out.push(...body);
  };
  out.push(0xff, 0xd8);
  if (opts.adobeTransform !== undefined) {
    segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, opts.adobeTransform]);
  }
  segment(0xdb, [0, ...new Array(64).fill(1)]); // quantisation table 0: all ones
  const height = opts.height ?? blocksY * 8;
  const sof = [8, height >> 8, height & 255, (blocksX * 8) >> 8, (blocksX * 8) & 255, components];
  for (let c = 0; c < components; c++) sof.push(c + 1, 0x11, 0);
  segment(0xc0, sof);
  // DC table: categories 0..11, all 4-bit codes (code == category). AC table: only EOB, code "0".
  const dcBits = new Array(16).fill(0);
  dcBits[3] = 12;
  segment(0xc4, [0x00, ...dcBits, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const acBits = new Array(16).fill(0);
  acBits[0] = 1;
  segment(0xc4, [0x10, ...acBits, 0x00]);
  const sos = [components];
  for (let c = 0; c < components; c++) sos.push(c + 1, 0x00);
  segment(0xda, [...sos, 0, 63, 0]);
  let acc = 0, nbits = 0;
  const put = (value: number, bits: number) => {
    for (let i = bits - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >> i) & 1);
      if (++nbits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0);
        acc = 0;
        nbits = 0;
      }
    }
  };
  const pred = new Array(components).fill(0);
  for (let by = 0; by < blocksY; by++) {
    for (let bx = 0; bx < blocksX; bx++) {
      for (let c = 0; c < components; c++) {
        const dc = 8 * (Math.round(opts.value(c, bx, by)) - 128);
        const diff = dc - pred[c];
        pred[c] = dc;
        const cat = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
        put(cat, 4);
        if (cat > 0) put(diff < 0 ? diff + (1 << cat) - 1 : diff, cat);
        put(0, 1); // EOB
      }
    }
  }
  if (nbits > 0) put(0x7f, 8 - nbits); // pad with ones
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

interface PngSpec {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Samples row-major, one number per sample (not packed). */
  samples: number[];
  palette?: Rgb[];
  interlace?: boolean;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function pngChunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out, 4, 8 + body.length));
  return out;
}

/** A PNG from the spec, with filter types cycling 0..4 over the rows. */
function makePng(spec: PngSpec): Uint8Array {
  const channels = CHANNELS[spec.colorType];
  const bpp = Math.max(1, (channels * spec.bitDepth) >> 3);
  const passes = spec.interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [
      0,
      1,
      1,
      2,
    ]]
    : [[0, 0, 1, 1]];
  const raw: number[] = [];
  let rowIndex = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const xs: number[] = [], ys: number[] = [];
    for (let x = x0; x < spec.width; x += dx) xs.push(x);
    for (let y = y0; y < spec.height; y += dy) ys.push(y);
    if (xs.length === 0 || ys.length === 0) continue;
    let prev: number[] | undefined;
    for (const y of ys) {
      // Pack the row's samples.
      const bytes: number[] = [];
      let acc = 0, nbits = 0;
      for (const x of xs) {
        for (let c = 0; c < channels; c++) {
          const v = spec.samples[(y * spec.width + x) * channels + c];
          if (spec.bitDepth === 16) bytes.push(v >> 8, v & 255);
          else if (spec.bitDepth === 8) bytes.push(v);
          else {
            acc = (acc << spec.bitDepth) | v;
            nbits += spec.bitDepth;
            if (nbits === 8) {
              bytes.push(acc);
              acc = 0;
              nbits = 0;
            }
          }
        }
      }
      if (nbits > 0) bytes.push(acc << (8 - nbits));
      const filter = rowIndex++ % 5;
      raw.push(filter);
      for (let i = 0; i < bytes.length; i++) {
        const a = i >= bpp ? bytes[i - bpp] : 0, b = prev ? prev[i] : 0;
        const c = prev && i >= bpp ? prev[i - bpp] : 0;
        let p = 0;
        if (filter === 1) p = a;
        else if (filter === 2) p = b;
        else if (filter === 3) p = (a + b) >> 1;
        else if (filter === 4) {
          const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        raw.push((bytes[i] - p) & 255);
      }
      prev = bytes;
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, spec.width);
  v.setUint32(4, spec.height);
  ihdr.set([spec.bitDepth, spec.colorType, 0, 0, spec.interlace ? 1 : 0], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
  ];
  if (spec.palette) parts.push(pngChunk("PLTE", Uint8Array.from(spec.palette.flat())));
  parts.push(pngChunk("IDAT", zlibSync(Uint8Array.from(raw))));
  parts.push(pngChunk("IEND", new Uint8Array()));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const png = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    png.set(p, at);
    at += p.length;
  }
  return png;
}

/** A smooth, deterministic test pattern (JPEG-friendly). */
function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = 128 + 100 * Math.sin(x / 23 + y / 41);
      data[i + 1] = 128 + 90 * Math.cos(x / 17 - y / 29);
      data[i + 2] = (x * 255) / width;
    }
  }
  return { width, height, data };
}

function toRgba(img: RgbImage): Uint8Array {
  const out = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    out.set(img.data.subarray(i, i + 3), j);
    out[j + 3] = 255;
  }
  return out;
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [...img.data.subarray(i, i + 3)];
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

const clamp8 = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

// ---------------------------------------------------------------------------------------------
// Decoding JPEG

Deno.test("decodeImageSync() reads a greyscale JPEG as R = G = B with the exact block values", () => {
  const value = (_c: number, bx: number, by: number) => (bx * 37 + by * 91 + 5) % 256;
  const img = decodeImageSync(
    dcOnlyJpeg({ blocksX: 5, blocksY: 3, components: 1, value }),
    "g.jpg",
  );
  assertEquals([img.width, img.height], [40, 24]);
  for (let by = 0; by < 3; by++) {
    for (let bx = 0; bx < 5; bx++) {
      const v = value(0, bx, by);
      for (const [dx, dy] of [[0, 0], [7, 7], [3, 5]]) {
        assertEquals(pixel(img, bx * 8 + dx, by * 8 + dy), [v, v, v], `block ${bx},${by}`);
      }
    }
  }
});

Deno.test("decodeImageSync() converts YCbCr JPEG blocks to the JFIF RGB values", () => {
  const colours: Rgb[] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [250, 200, 40], [20, 30, 40], [
    128,
    128,
    128,
  ]];
  const ycc = colours.map(([r, g, b]) =>
    [
      0.299 * r + 0.587 * g + 0.114 * b,
      128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
      128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    ].map(clamp8)
  );
  const jpeg = dcOnlyJpeg({ blocksX: 6, blocksY: 1, components: 3, value: (c, bx) => ycc[bx][c] });
  const img = decodeImageSync(jpeg, "ycc.jpg");
  colours.forEach((_, k) => {
    const [y, cb, cr] = ycc[k];
    const want = [
      y + 1.402 * (cr - 128),
      y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
      y + 1.772 * (cb - 128),
    ].map(clamp8);
    assert(
      maxAbsDiff(pixel(img, k * 8 + 4, 4), want) <= 1,
      `block ${k}: ${pixel(img, k * 8 + 4, 4)} vs ${want}`,
    );
  });
});

/** Inverted CMYK as Photoshop stores it: stored = 255 - ink, so R = storedC * storedK / 255. */
const CMYK_STORED = [[255, 255, 255, 255], [0, 255, 255, 255], [255, 128, 30, 200], [
  200,
  100,
  50,
  0,
], [60, 180, 250, 128]];
const cmykToRgb = ([c, m, y, k]: number[]) => [c, m, y].map((v) => (v * k) / 255);

Deno.test("decodeImageSync() converts Adobe CMYK JPEGs (transform 0, inverted) to RGB", () => {
  const jpeg = dcOnlyJpeg({
    blocksX: CMYK_STORED.length,
    blocksY: 2,
    components: 4,
    adobeTransform: 0,
    value: (c, bx) => CMYK_STORED[bx][c],
  });
  assertEquals(probeImage(jpeg).channels, 4);
  const img = decodeImageSync(jpeg, "cmyk.jpg");
  CMYK_STORED.forEach((cmyk, k) => {
    const want = cmykToRgb(cmyk);
    assert(
      maxAbsDiff(pixel(img, k * 8 + 3, 12), want) <= 2,
      `block ${k}: ${pixel(img, k * 8 + 3, 12)} vs ${want}`,
    );
  });
});

Deno.test("decodeImageSync() converts Adobe YCCK JPEGs (transform 2) to RGB", () => {
  // YCCK codes 255 - (stored CMY) as YCbCr, and K as stored (libjpeg's and Adobe's convention).
  const ycck = CMYK_STORED.map(([sc, sm, sy, k]) => [255 - sc, 255 - sm, 255 - sy, k]).map((
    [c, m, y, k],
  ) =>
    [
      0.299 * c + 0.587 * m + 0.114 * y,
      128 - 0.168736 * c - 0.331264 * m + 0.5 * y,
      128 + 0.5 * c - 0.418688 * m - 0.081312 * y,
      k,
    ].map(clamp8)
  );
  const jpeg = dcOnlyJpeg({
    blocksX: CMYK_STORED.length,
    blocksY: 1,
    components: 4,
    adobeTransform: 2,
    value: (c, bx) => ycck[bx][c],
  });
  const img = decodeImageSync(jpeg, "ycck.jpg");
  CMYK_STORED.forEach((cmyk, k) => {
    const want = cmykToRgb(cmyk);
    assert(
      maxAbsDiff(pixel(img, k * 8 + 3, 3), want) <= 3,
      `block ${k}: ${pixel(img, k * 8 + 3, 3)} vs ${want}`,
    );
  });
});

Deno.test("decodeImageSync() matches jpeg-js on a 640x480 4:4:4 JPEG within IDCT rounding", () => {
  const src = pattern(640, 480);
  const jpeg = jpegJs.encode({ data: toRgba(src), width: 640, height: 480 }, 90).data;
  const ours = decodeImageSync(jpeg, "pattern.jpg");
  const ref = jpegJs.decode(jpeg, { useTArray: true, formatAsRGBA: false });
  assertEquals([ours.width, ours.height], [640, 480]);
  assert(maxAbsDiff(ours.data, ref.data) <= 4, `max diff ${maxAbsDiff(ours.data, ref.data)}`);
  assert(meanAbsDiff(ours.data, ref.data) < 1, `mean diff ${meanAbsDiff(ours.data, ref.data)}`);
  assert(meanAbsDiff(ours.data, src.data) < 2, "decoded far from the encoded pattern");
});

Deno.test("decodeImage() and readImage() agree with decodeImageSync(), also on a subarray view", async () => {
  const jpeg = encodeJpeg(pattern(64, 40), 90);
  const padded = new Uint8Array(jpeg.length + 100);
  padded.set(jpeg, 37);
  const view = padded.subarray(37, 37 + jpeg.length);
  const sync = decodeImageSync(jpeg);
  assertEquals((await decodeImage(view)).data, sync.data);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/really_a_jpeg.png`, jpeg); // the extension is ignored
    assertEquals((await readImage(`${dir}/really_a_jpeg.png`)).data, sync.data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "decodeImageSync() matches jpeg-js on the real photos in ../shared/faces",
  needsShared("faces"),
  () => {
    const dir = `${SHARED}faces`;
    let n = 0;
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.name.endsWith(".jpg")) continue;
      const bytes = Deno.readFileSync(`${dir}/${entry.name}`);
      const ours = decodeImageSync(bytes, entry.name);
      const ref = jpegJs.decode(bytes, { useTArray: true, formatAsRGBA: false });
      assertEquals([ours.width, ours.height], [ref.width, ref.height], entry.name);
      // jpeg-js upsamples 4:2:0 chroma by replication, libjpeg by interpolation: rare large
      // differences at colour edges, tiny ones elsewhere.
      let far = 0;
      for (let i = 0; i < ours.data.length; i++) {
        if (Math.abs(ours.data[i] - ref.data[i]) > 8) far++;
      }
      assert(far < ours.data.length * 0.02, `${entry.name}: ${far} samples differ by more than 8`);
      assert(meanAbsDiff(ours.data, ref.data) < 1.5, `${entry.name}: mean diff too large`);
      n++;
    }
    assert(n > 0, "no .jpg files in shared/faces");
  },
);

// ---------------------------------------------------------------------------------------------
// Decoding PNG

Deno.test("decodeImageSync() reads 8-bit RGB PNGs with every filter type, plain and Adam7-interlaced", () => {
  const w = 13, h = 11;
  const samples = Array.from({ length: w * h * 3 }, (_, i) => (i * 89 + (i % 7) * 13) & 255);
  for (const interlace of [false, true]) {
    const img = decodeImageSync(
      makePng({ width: w, height: h, bitDepth: 8, colorType: 2, samples, interlace }),
    );
    assertEquals([img.width, img.height], [w, h]);
    assertEquals([...img.data], samples, `interlace ${interlace}`);
  }
});

Deno.test("decodeImageSync() drops PNG alpha and keeps the stored colours", () => {
  const w = 4, h = 3;
  const samples: number[] = [];
  for (let i = 0; i < w * h; i++) samples.push(i * 20, 255 - i * 20, i * 7, i % 2 === 0 ? 0 : 128);
  const img = decodeImageSync(makePng({ width: w, height: h, bitDepth: 8, colorType: 6, samples }));
  const want = samples.filter((_, i) => i % 4 !== 3);
  assertEquals([...img.data], want);
  const ga = decodeImageSync(
    makePng({ width: 2, height: 1, bitDepth: 8, colorType: 4, samples: [10, 0, 200, 255] }),
  );
  assertEquals([...ga.data], [10, 10, 10, 200, 200, 200]);
});

Deno.test("decodeImageSync() reads greyscale PNGs of 1, 8 and 16 bits (16-bit rounded to round(v / 257))", () => {
  const bits1 = decodeImageSync(
    makePng({
      width: 10,
      height: 1,
      bitDepth: 1,
      colorType: 0,
      samples: [1, 0, 0, 1, 1, 0, 1, 0, 1, 1],
    }),
  );
  assertEquals([...bits1.data].filter((_, i) => i % 3 === 0), [
    255,
    0,
    0,
    255,
    255,
    0,
    255,
    0,
    255,
    255,
  ]);
  const grey8 = decodeImageSync(
    makePng({
      width: 3,
      height: 2,
      bitDepth: 8,
      colorType: 0,
      samples: [0, 1, 127, 128, 254, 255],
    }),
  );
  assertEquals([...grey8.data], [
    0,
    0,
    0,
    1,
    1,
    1,
    127,
    127,
    127,
    128,
    128,
    128,
    254,
    254,
    254,
    255,
    255,
    255,
  ]);
  const v16 = [0, 65535, 257 * 100 + 128, 257 * 100 + 129, 257 * 7, 300];
  const grey16 = decodeImageSync(
    makePng({ width: 6, height: 1, bitDepth: 16, colorType: 0, samples: v16 }),
  );
  assertEquals([...grey16.data].filter((_, i) => i % 3 === 1), [0, 255, 100, 101, 7, 1]);
  const rgb16 = decodeImageSync(
    makePng({ width: 1, height: 1, bitDepth: 16, colorType: 2, samples: [65535, 0, 257 * 33] }),
  );
  assertEquals([...rgb16.data], [255, 0, 33]);
});

Deno.test("decodeImageSync() maps palette PNG indices (4-bit) to their colours", () => {
  const palette: Rgb[] = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [17, 34, 51]];
  const idx = [4, 3, 2, 1, 0, 4, 4, 1, 2];
  const img = decodeImageSync(
    makePng({ width: 3, height: 3, bitDepth: 4, colorType: 3, samples: idx, palette }),
  );
  assertEquals([...img.data], idx.flatMap((i) => palette[i]));
  assertEquals(
    probeImage(makePng({ width: 3, height: 3, bitDepth: 4, colorType: 3, samples: idx, palette })),
    {
      format: "png",
      width: 3,
      height: 3,
      channels: 3,
      bitDepth: 4,
    },
  );
});

Deno.test("crc32() gives the standard check value and agrees with a bitwise CRC at every length", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const bitwise = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 255);
  for (const [start, end] of [[0, 0], [0, 1], [3, 10], [1, 300], [5, 9], [2, 299]]) {
    assertEquals(crc32(data, start, end), bitwise(data.subarray(start, end)), `${start}..${end}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Decoding errors

Deno.test("decodeImageSync() finds the format from magic bytes and names the file in its errors", () => {
  assertEquals(
    sniffImageFormat(encodePng({ width: 1, height: 1, data: new Uint8Array(3) })),
    "png",
  );
  assertEquals(sniffImageFormat(new TextEncoder().encode("GIF89a......")), undefined);
  const e = assertThrows(
    () => decodeImageSync(new TextEncoder().encode("GIF89a not really"), "x.jpg"),
    TypeError,
    `Cannot decode "x.jpg": not a JPEG or PNG file`,
  );
  assert(!e.message.includes("\n"));
  assertThrows(
    () => decodeImageSync(new Uint8Array(), "empty.png"),
    TypeError,
    `Cannot decode "empty.png": empty file`,
  );
});

Deno.test("decodeImageSync() rejects truncated JPEGs on both decoders and keeps working afterwards", () => {
  const jpeg = encodeJpeg(pattern(160, 120), 90);
  for (const cut of [jpeg.length - 400, Math.floor(jpeg.length / 2), 200, 3]) {
    const e = assertThrows(
      () => decodeImageSync(jpeg.slice(0, cut), "cut.jpg"),
      TypeError,
      `Cannot decode "cut.jpg": truncated`,
    );
    assert(!e.message.includes("\n"), e.message);
  }
  const cmyk = dcOnlyJpeg({
    blocksX: 40,
    blocksY: 30,
    components: 4,
    adobeTransform: 0,
    value: (c, bx, by) => (c * 50 + bx * 3 + by * 5) & 255,
  });
  assertThrows(
    () => decodeImageSync(cmyk.slice(0, cmyk.length - 300), "cmyk.jpg"),
    TypeError,
    `Cannot decode "cmyk.jpg"`,
  );
  // Garbage in the entropy-coded data: libjpeg's fatal error path.
  const broken = jpeg.slice();
  for (let i = 700; i < 1200; i++) broken[i] = (broken[i] * 7 + i) & 255;
  assertThrows(
    () => decodeImageSync(broken, "broken.jpg"),
    TypeError,
    `Cannot decode "broken.jpg": `,
  );
  assertEquals(decodeImageSync(jpeg).data, decodeImageSync(jpeg).data);
  assertEquals(decodeImageSync(jpeg).width, 160);
});

Deno.test("decodeImageSync() rejects truncated, corrupt and zero-size PNGs and zero-size JPEGs", () => {
  const png = makePng({
    width: 8,
    height: 8,
    bitDepth: 8,
    colorType: 2,
    samples: Array.from({ length: 192 }, (_, i) => i),
  });
  assertThrows(
    () => decodeImageSync(png.slice(0, png.length - 12), "a.png"),
    TypeError,
    `Cannot decode "a.png": truncated PNG data`,
  );
  assertThrows(
    () => decodeImageSync(png.slice(0, 40), "b.png"),
    TypeError,
    `Cannot decode "b.png": truncated PNG data`,
  );
  const flipped = png.slice();
  flipped[png.length - 20] ^= 0x10; // inside IDAT
  assertThrows(
    () => decodeImageSync(flipped, "c.png"),
    TypeError,
    `Cannot decode "c.png": corrupt PNG data (CRC mismatch in the IDAT chunk`,
  );
  const zero = makePng({ width: 0, height: 5, bitDepth: 8, colorType: 0, samples: [] });
  assertThrows(
    () => decodeImageSync(zero, "z.png"),
    TypeError,
    `Cannot decode "z.png": zero-size image (0x5)`,
  );
  const zeroJpeg = dcOnlyJpeg({ blocksX: 2, blocksY: 0, components: 1, value: () => 0 });
  assertThrows(
    () => decodeImageSync(zeroJpeg, "z.jpg"),
    TypeError,
    `Cannot decode "z.jpg": zero-size image (16x0)`,
  );
  assertEquals(decodeImageSync(png).data.length, 192);
});

Deno.test("readImage() reports a missing file in one line", async () => {
  await assertRejects(
    () => readImage("/nonexistent/dir/x.jpg"),
    TypeError,
    `Cannot read "/nonexistent/dir/x.jpg": no such file`,
  );
});

// ---------------------------------------------------------------------------------------------
// Encoding

Deno.test("encodePng() round-trips 1-, 2-, 3- and 4-channel pixels exactly and deterministically", () => {
  const rgb = pattern(37, 23);
  const a = encodePng(rgb), b = encodePng(rgb);
  assertEquals(a, b);
  assertEquals(decodeImageSync(a).data, rgb.data);
  const grey = {
    width: 5,
    height: 2,
    channels: 1 as const,
    data: Uint8Array.from([0, 1, 2, 3, 4, 250, 251, 252, 253, 255]),
  };
  assertEquals(
    [...decodeImageSync(encodePng(grey)).data],
    [...grey.data].flatMap((v) => [v, v, v]),
  );
  const ga = { width: 2, height: 1, channels: 2 as const, data: Uint8Array.from([9, 0, 99, 255]) };
  assertEquals([...decodeImageSync(encodePng(ga)).data], [9, 9, 9, 99, 99, 99]);
  const rgba = {
    width: 2,
    height: 1,
    channels: 4 as const,
    data: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 255]),
  };
  assertEquals([...decodeImageSync(encodePng(rgba)).data], [1, 2, 3, 4, 5, 6]);
  assertThrows(
    () => encodePng({ width: 4, height: 4, data: new Uint8Array(47) }),
    RangeError,
    "47 bytes",
  );
});

Deno.test("encodeJpeg() is deterministic, honours quality and decodes close to its input (also by jpeg-js)", () => {
  const src = pattern(200, 150);
  const q90 = encodeJpeg(src);
  decodeImageSync(encodeJpeg(pattern(50, 50), 40)); // other work in between must not matter
  assertEquals(encodeJpeg(src, 90), q90);
  const q50 = encodeJpeg(src, 50), q98 = encodeJpeg(src, 98);
  assert(
    q50.length < q90.length && q90.length < q98.length,
    `sizes ${q50.length} ${q90.length} ${q98.length}`,
  );
  assertEquals(probeImage(q90, "q90"), {
    format: "jpeg",
    width: 200,
    height: 150,
    channels: 3,
    bitDepth: 8,
  });
  const back = decodeImageSync(q98).data;
  assert(meanAbsDiff(back, src.data) < 1.5, `mean error ${meanAbsDiff(back, src.data)}`);
  const other = jpegJs.decode(q90, { useTArray: true, formatAsRGBA: false }).data;
  assert(meanAbsDiff(other, src.data) < 3, `jpeg-js mean error ${meanAbsDiff(other, src.data)}`);
  assertThrows(() => encodeJpeg(src, 0), RangeError, "quality");
  assertThrows(() => encodeJpeg(src, 101), RangeError, "quality");
});

Deno.test("encodeJpeg() writes 1-channel input as a greyscale JPEG", () => {
  const data = Uint8Array.from({ length: 32 * 16 }, (_, i) => (i % 32) * 8);
  const jpeg = encodeJpeg({ width: 32, height: 16, channels: 1, data }, 95);
  assertEquals(probeImage(jpeg).channels, 1);
  const back = decodeImageSync(jpeg);
  for (let i = 0; i < back.data.length; i += 3) {
    assert(back.data[i] === back.data[i + 1] && back.data[i] === back.data[i + 2]);
  }
  assert(meanAbsDiff(back.data.filter((_, i) => i % 3 === 0), data) < 2);
});

Deno.test("writeImage() picks the format from the extension and writes atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = pattern(30, 20);
    await writeImage(`${dir}/a.png`, img);
    await writeImage(`${dir}/sub/b.JPG`, img, 80);
    await writeImage(`${dir}/c.jpeg`, img);
    assertEquals(sniffImageFormat(await Deno.readFile(`${dir}/a.png`)), "png");
    assertEquals(sniffImageFormat(await Deno.readFile(`${dir}/sub/b.JPG`)), "jpeg");
    assertEquals(await Deno.readFile(`${dir}/c.jpeg`), encodeJpeg(img, 90));
    assertEquals((await readImage(`${dir}/a.png`)).data, img.data);
    await assertRejects(
      () => writeImage(`${dir}/d.bmp`, img),
      TypeError,
      `Cannot write "${dir}/d.bmp": unknown image extension ".bmp"`,
    );
    assertThrows(
      () => formatFromPath("noext"),
      TypeError,
      `Cannot write "noext": no file extension`,
    );
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["a.png", "c.jpeg", "sub"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Drawing

const RED: Rgb = [255, 0, 0];
const BG: Rgb = [10, 20, 30];

function countColour(img: RgbImage, c: Rgb): number {
  let n = 0;
  for (let i = 0; i < img.data.length; i += 3) {
    if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) n++;
  }
  return n;
}

Deno.test("drawRect() sets the edges inward by the thickness and leaves the interior and outside untouched", () => {
  const img = createImage(40, 30, BG);
  drawRect(img, 5, 6, 24, 20, RED, 2);
  for (let y = 0; y < 30; y++) {
    for (let x = 0; x < 40; x++) {
      const inBox = x >= 5 && x <= 24 && y >= 6 && y <= 20;
      const inHole = x >= 7 && x <= 22 && y >= 8 && y <= 18;
      assertEquals(pixel(img, x, y), inBox && !inHole ? [...RED] : [...BG], `pixel ${x},${y}`);
    }
  }
  const one = createImage(10, 10, BG);
  drawRect(one, 7.4, 2.6, 2, 7, RED, 1); // corners in any order, rounded
  assertEquals(countColour(one, RED), 6 * 5 - 4 * 3);
  const tiny = createImage(10, 10, BG);
  drawRect(tiny, 2, 2, 4, 4, RED, 2); // thinner than twice the thickness: filled
  assertEquals(countColour(tiny, RED), 9);
});

Deno.test("drawRect() clips boxes partly or wholly outside the image without throwing", () => {
  const img = createImage(20, 10, BG);
  drawRect(img, -5, -5, 9, 4, RED, 1);
  // Only the right edge (x = 9, y 0..4) and the bottom edge (y = 4, x 0..9) are inside.
  assertEquals(countColour(img, RED), 5 + 10 - 1);
  assertEquals(pixel(img, 9, 0), [...RED]);
  assertEquals(pixel(img, 0, 0), [...BG]);
  const before = img.data.slice();
  drawRect(img, 100, 100, 200, 200, RED);
  drawRect(img, -50, -50, -10, -10, RED);
  drawRect(img, NaN, 0, 5, 5, RED);
  fillRect(img, 25, -3, 1e9, 1e9, RED);
  assertEquals(img.data, before);
  drawRect(img, -1e9, -1e9, 1e9, 1e9, RED); // edges all outside: nothing inside is drawn
  assertEquals(img.data, before);
  fillRect(img, -Infinity, -Infinity, Infinity, Infinity, RED);
  assertEquals(countColour(img, RED), 200);
  assertThrows(() => drawRect(img, 0, 0, 5, 5, RED, 0), RangeError, "thickness");
});

Deno.test("drawPoint() fills a disc of the given radius, clipped at the border", () => {
  const img = createImage(21, 21, BG);
  drawPoint(img, 10, 10, RED, 3);
  let n = 0;
  for (let y = 0; y < 21; y++) {
    for (let x = 0; x < 21; x++) {
      const inside = (x - 10) ** 2 + (y - 10) ** 2 <= 9;
      assertEquals(pixel(img, x, y), inside ? [...RED] : [...BG]);
      if (inside) n++;
    }
  }
  assertEquals(n, 29);
  const corner = createImage(5, 5, BG);
  drawPoint(corner, 0, 0, RED, 2);
  assertEquals(countColour(corner, RED), 6); // the quarter disc with x, y >= 0
  drawPoint(corner, -10, 2, RED, 2);
  assertEquals(countColour(corner, RED), 6);
  const dot = createImage(3, 3, BG);
  drawPoint(dot, 1.2, 0.8, RED, 0);
  assertEquals(countColour(dot, RED), 1);
  assertEquals(pixel(dot, 1, 1), [...RED]);
});

Deno.test("drawLine() draws both endpoints and a connected path, clipped to the image", () => {
  const img = createImage(30, 20, BG);
  drawLine(img, 2, 3, 25, 15, RED);
  assertEquals(pixel(img, 2, 3), [...RED]);
  assertEquals(pixel(img, 25, 15), [...RED]);
  assertEquals(countColour(img, RED), 24); // one pixel per step along the major axis
  const diag = createImage(10, 10, BG);
  drawLine(diag, -100, -100, 100, 100, RED);
  for (let i = 0; i < 10; i++) assertEquals(pixel(diag, i, i), [...RED]);
  assertEquals(countColour(diag, RED), 10);
  const far = createImage(10, 10, BG);
  drawLine(far, -1e12, 50, 1e12, 50, RED, 3); // entirely below: nothing, and no long loop
  drawLine(far, 0, 5, 9, 5, RED, 3);
  assertEquals(countColour(far, RED), 30); // rows 4..6
});

Deno.test("drawText() draws glyph pixels only inside its measured box, with distinct glyphs", () => {
  const text = "Face 0.97 -12% t:3";
  for (const scale of [1, 2]) {
    const img = createImage(160, 40, BG);
    drawText(img, 3, 5, text, RED, scale);
    const { width, height } = measureText(text, scale);
    assertEquals(width, (text.length * CELL_WIDTH - 1) * scale);
    assertEquals(height, (CELL_HEIGHT - 1) * scale);
    let inside = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        if (pixel(img, x, y)[0] !== 255) continue;
        assert(
          x >= 3 && x < 3 + width && y >= 5 && y < 5 + height,
          `pixel ${x},${y} outside the text box`,
        );
        inside++;
      }
    }
    assert(inside > 40 * scale * scale, `only ${inside} text pixels`);
  }
  // Every glyph is different, and every glyph but space has ink.
  const seen = new Map<string, string>();
  for (const [ch, rows] of FONT) {
    const key = rows.join(",");
    assert(!seen.has(key), `glyphs "${ch}" and "${seen.get(key)}" are identical`);
    seen.set(key, ch);
    if (ch !== " ") assert(rows.some((r) => r !== 0), `glyph "${ch}" is empty`);
  }
  for (const ch of "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-%:") {
    assert(FONT.has(ch), `no glyph for "${ch}"`);
  }
  // Lower case draws as upper case; text off the image is clipped.
  const a = createImage(12, 8), b = createImage(12, 8);
  drawText(a, 0, 0, "ok", RED);
  drawText(b, 0, 0, "OK", RED);
  assertEquals(a.data, b.data);
  assertNotEquals(countColour(a, RED), 0);
  drawText(a, -3, -4, "8", RED, 3);
  drawText(a, 1000, 1000, "8", RED);
});

Deno.test("drawLabel() puts text on a background box and returns the box", () => {
  const img = createImage(40, 20, BG);
  const box = drawLabel(img, 2, 3, "42", [0, 0, 0], [255, 255, 255], 1, 1);
  assertEquals(box, { x1: 2, y1: 3, x2: 2 + 11 + 1, y2: 3 + 7 + 1 });
  let black = 0, white = 0;
  for (let y = box.y1; y <= box.y2; y++) {
    for (let x = box.x1; x <= box.x2; x++) {
      const p = pixel(img, x, y);
      if (p[0] === 0) black++;
      else if (p[0] === 255) white++;
    }
  }
  assertEquals(black + white, 13 * 9);
  assert(black > 10 && white > black);
  assertEquals(countColour(img, BG), 40 * 20 - 13 * 9);
});

Deno.test("cropImage() and pasteImage() copy regions, clip, and fill outside the source", () => {
  const src = pattern(20, 10);
  const crop = cropImage(src, 5, 2, 6, 4);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 6; x++) assertEquals(pixel(crop, x, y), pixel(src, x + 5, y + 2));
  }
  const edge = cropImage(src, -2, 8, 4, 4, [1, 2, 3]);
  assertEquals(pixel(edge, 0, 0), [1, 2, 3]);
  assertEquals(pixel(edge, 2, 0), pixel(src, 0, 8));
  assertEquals(pixel(edge, 3, 1), pixel(src, 1, 9));
  assertEquals(pixel(edge, 3, 2), [1, 2, 3]);
  const dst = createImage(8, 8, BG);
  pasteImage(dst, src, -15, 5); // only src columns 15..19, rows 0..2 land
  assertEquals(pixel(dst, 0, 5), pixel(src, 15, 0));
  assertEquals(pixel(dst, 4, 7), pixel(src, 19, 2));
  assertEquals(countColour(dst, BG), 64 - 15);
  pasteImage(dst, src, 100, 100);
  pasteImage(dst, src, -100, 0);
  assertEquals(countColour(dst, BG), 64 - 15);
});

Deno.test("tileImages() lays crops out in a grid, centred in equal cells", () => {
  const crops = [0, 1, 2, 3, 4].map((k) => createImage(k === 4 ? 4 : 6, 6, [k * 50, 100, 200]));
  const { image, cells } = tileImages(crops, { columns: 3, gap: 2, background: BG });
  assertEquals([image.width, image.height], [3 * 6 + 4 * 2, 2 * 6 + 3 * 2]);
  assertEquals(cells[4], { x: 2 + 8, y: 2 + 8, width: 6, height: 6 });
  assertEquals(pixel(image, 2, 2), [0, 100, 200]);
  assertEquals(pixel(image, 2 + 8 + 5, 2), [50, 100, 200]);
  assertEquals(pixel(image, 1, 1), [...BG]); // gap
  assertEquals(pixel(image, cells[4].x, cells[4].y), [...BG]); // narrow image is centred
  assertEquals(pixel(image, cells[4].x + 1, cells[4].y), [200, 100, 200]);
  assertEquals(pixel(image, cells[4].x + 4, cells[4].y), [200, 100, 200]);
  assertEquals(pixel(image, cells[4].x + 5, cells[4].y), [...BG]);
  assertEquals(pixel(image, 2 + 16 + 2, 10), [...BG]); // empty sixth cell
  const big = tileImages([pattern(10, 10)], { cellWidth: 4, cellHeight: 4, gap: 0 }).image;
  assertEquals(pixel(big, 0, 0), pixel(pattern(10, 10), 3, 3));
  assertThrows(() => tileImages([]), RangeError, "no images");
});
