/**
 * Typed bindings of the AssemblyScript kernels (kernels/build/*.wasm): image
 * resize (bilinear and INTER_AREA), crop-and-resize, IoU and NMS, the SIMD
 * peak probe. Every function checks shapes and
 * sizes first (RangeError naming the value), copies its inputs into the
 * module's linear memory (grown on demand), runs the kernel and returns a
 * fresh array. The wasm is loaded once, by this module's top-level await;
 * the functions are synchronous. Semantics are those of the plain
 * TypeScript twins in ./reference.ts.
 *
 * The float resize has two builds, plain SIMD and relaxed SIMD (fused
 * multiply-add); the relaxed one is used when the engine validates a tiny
 * relaxed-SIMD module.
 *
 * @example
 * ```ts
 * import { resizeBilinearU8 } from "./kernels/mod.ts";
 * const small = resizeBilinearU8(rgb, 640, 480, 3, 454, 340);
 * ```
 */
import {
  checkAreaCrops,
  checkAreaResize,
  checkBoxes,
  checkCrops,
  checkNms,
  checkPositive,
  checkResize,
  type NmsMode,
} from "./reference.ts";
import {
  checkConv2dFilterGrad,
  checkConv2dInputGrad,
  checkDepthwiseGrad,
  checkMaxPoolGrad,
  checkPreluGrad,
  checkSegmentSum,
  checkSumRows,
  type WindowGeometry,
} from "./reference.ts";

export type { NmsMode, WindowGeometry };

/** Every kernel, bound to one set of WebAssembly instances. */
export interface Kernels {
  /** See {@linkcode resizeBilinearU8}. */
  resizeBilinearU8(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    channels: number,
    dstW: number,
    dstH: number,
  ): Uint8Array;
  /** See {@linkcode resizeBilinearU8ToF32}. */
  resizeBilinearU8ToF32(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    channels: number,
    dstW: number,
    dstH: number,
    mean: number,
    scale: number,
  ): Float32Array;
  /** See {@linkcode resizeBilinearF32}. */
  resizeBilinearF32(
    src: Float32Array,
    srcW: number,
    srcH: number,
    channels: number,
    dstW: number,
    dstH: number,
  ): Float32Array;
  /** See {@linkcode iouOneToMany}. */
  iouOneToMany(box: ArrayLike<number>, boxes: Float32Array, plusOne: boolean): Float32Array;
  /** See {@linkcode nms}. */
  nms(
    boxes: Float32Array,
    scores: Float32Array,
    threshold: number,
    mode: NmsMode,
    plusOne?: boolean,
  ): Int32Array;
  /** See {@linkcode cropResizeU8}. */
  cropResizeU8(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    channels: number,
    boxes: Int32Array,
    size: number,
  ): Uint8Array;
  /** See {@linkcode cropResizeU8ToF32}. */
  cropResizeU8ToF32(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    channels: number,
    boxes: Int32Array,
    size: number,
    mean: number,
    scale: number,
  ): Float32Array;
  /** See {@linkcode resizeAreaU8}. */
  resizeAreaU8(src: Uint8Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array;
  /** See {@linkcode cropResizeAreaU8ToF32}. */
  cropResizeAreaU8ToF32(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    rects: Int32Array,
    size: number,
    mean: number,
    scale: number,
    out?: Float32Array,
  ): Float32Array;
  /** See {@linkcode fmaPeak}. */
  fmaPeak(iters: number, a: number, c: number): number;
  /** Which build runs the float resize (and the peak probe). */
  readonly resizeVariant: "simd" | "relaxed-simd";
  /** Current size in bytes of each module's linear memory (it grows, never shrinks). */
  memoryBytes(): Record<KernelFamily, number>;
}

/** The kernel families, one .wasm (and one linear memory) each. */
export type KernelFamily = "resize" | "boxes" | "crop" | "area";

/** Options of {@linkcode createKernels}. */
export interface KernelOptions {
  /**
   * Use the relaxed-SIMD build of the float resize: true requires engine
   * support (else TypeError); false forces plain SIMD; default: when supported.
   */
  relaxedSimd?: boolean;
}

/** A minimal module: one function of `params` v128 parameters returning `op` applied to them. */
function simdProbe(params: number, op: number[]): Uint8Array<ArrayBuffer> {
  const body = [0x00];
  for (let i = 0; i < params; i++) body.push(0x20, i);
  body.push(...op, 0x0b);
  const type = [0x01, 0x60, params, ...Array(params).fill(0x7b), 0x01, 0x7b];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, type.length, ...type],
    ...[0x03, 0x02, 0x01, 0x00],
    ...[0x0a, body.length + 2, 0x01, body.length, ...body],
  ]);
}

/** The engine validates `f32x4.add` (fixed-width SIMD). */
export function simdSupported(): boolean {
  return WebAssembly.validate(simdProbe(2, [0xfd, 0xe4, 0x01]));
}

/** The engine validates `f32x4.relaxed_madd` (relaxed SIMD). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(simdProbe(3, [0xfd, 0x85, 0x02]));
}

/** Reads `kernels/build/<name>.wasm` next to this module. */
async function readWasm(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`./build/${name}.wasm`, import.meta.url);
  try {
    if (typeof Deno !== "undefined") return await Deno.readFile(url);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    const notFound = typeof Deno !== "undefined" && e instanceof Deno.errors.NotFound;
    const why = notFound ? "no such file" : (e as Error).message;
    throw new TypeError(
      `Cannot load "kernels/build/${name}.wasm": ${why} (run deno task build:kernels)`,
    );
  }
}

const PAGE = 65536;
/** Largest linear memory the bindings use: pointers stay below 2^31. */
const MAX_MEMORY = 2 ** 31;

/**
 * One instantiated kernel module with its linear memory. Typed-array views
 * over the memory are re-made whenever growth replaced its ArrayBuffer.
 */
class WasmModule {
  readonly fns: Record<string, (...args: number[]) => number>;
  readonly memory: WebAssembly.Memory;
  /** First free byte above the module's static data, 16-aligned. */
  readonly base: number;
  #buffer: ArrayBufferLike | undefined;
  #u8: Uint8Array = new Uint8Array(0);
  #i32: Int32Array = new Int32Array(0);
  #f32: Float32Array = new Float32Array(0);

  constructor(instance: WebAssembly.Instance) {
    this.fns = instance.exports as unknown as Record<string, (...args: number[]) => number>;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.base = align16(this.fns.heapBase());
  }

  /** Makes the memory at least `end` bytes long. */
  reserve(fn: string, end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const mib = Math.ceil(end / 2 ** 20);
    if (end > MAX_MEMORY) {
      throw new RangeError(`${fn}: needs ${mib} MiB of WASM memory, more than the 2048 MiB limit`);
    }
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      throw new RangeError(`${fn}: cannot grow WASM memory to ${mib} MiB`);
    }
  }

  #views(): void {
    if (this.#buffer === this.memory.buffer) return;
    const buffer = this.memory.buffer;
    this.#buffer = buffer;
    this.#u8 = new Uint8Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#f32 = new Float32Array(buffer);
  }

  get u8(): Uint8Array {
    this.#views();
    return this.#u8;
  }

  get i32(): Int32Array {
    this.#views();
    return this.#i32;
  }

  get f32(): Float32Array {
    this.#views();
    return this.#f32;
  }
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** Hands out 16-aligned regions, each followed by 16 bytes of slack for SIMD tails. */
class Layout {
  end: number;
  constructor(base: number) {
    this.end = base;
  }
  take(bytes: number): number {
    const at = this.end;
    this.end = align16(at + bytes + 16);
    return at;
  }
}

async function instantiate(name: string): Promise<WasmModule> {
  const bytes = await readWasm(name);
  try {
    const module = await WebAssembly.compile(bytes);
    return new WasmModule(await WebAssembly.instantiate(module, {}));
  } catch (e) {
    throw new TypeError(
      `Cannot load "kernels/build/${name}.wasm": ${
        (e as Error).message
      } (run deno task build:kernels)`,
    );
  }
}

/**
 * Loads and instantiates the kernels. The module-level functions of this
 * file are bound to one such set; call this for a separate set (own memory)
 * or to choose the float resize build.
 *
 * @example
 * ```ts
 * const plain = await createKernels({ relaxedSimd: false });
 * plain.resizeBilinearF32(heat, 13, 7, 1, 26, 14);
 * ```
 */
export async function createKernels(options: KernelOptions = {}): Promise<Kernels> {
  if (!simdSupported()) {
    throw new TypeError("Cannot load the kernels: this engine lacks WebAssembly SIMD");
  }
  const relaxed = options.relaxedSimd ?? relaxedSimdSupported();
  if (relaxed && !relaxedSimdSupported()) {
    throw new TypeError("Cannot load the relaxed-SIMD kernels: this engine lacks relaxed SIMD");
  }
  const [resize, resizeFloat, boxes, crop, area] = await Promise.all([
    instantiate("resize"),
    relaxed ? instantiate("resize_relaxed") : undefined,
    instantiate("boxes"),
    instantiate("crop"),
    instantiate(relaxed ? "area_relaxed" : "area"),
  ]);

  /** Lays out the area module's memory: the image (copied in), `extra` regions, scratch. */
  function areaLayout(fn: string, src: Uint8Array, extra: [number, number][], scratch: number) {
    const layout = new Layout(area.base);
    const at = layout.take(src.length);
    const regions = extra.map(([bytes]) => layout.take(bytes));
    const scratchAt = layout.take(scratch);
    area.reserve(fn, layout.end);
    area.u8.set(src, at);
    return { src: at, regions, scratch: scratchAt };
  }

  function cropLayout(
    fn: string,
    src: Uint8Array,
    channels: number,
    n: number,
    maxW: number,
    dstBytes: number,
    size: number,
  ) {
    const layout = new Layout(crop.base);
    const at = {
      src: layout.take(src.length),
      boxes: layout.take(16 * n),
      dst: layout.take(dstBytes),
      scratch: layout.take(crop.fns.cropScratchBytes(maxW, channels, size)),
    };
    crop.reserve(fn, layout.end);
    return at;
  }

  function resizeLayout(
    m: WasmModule,
    fn: string,
    srcBytes: number,
    srcW: number,
    channels: number,
    dstBytes: number,
    dstW: number,
    dstH: number,
  ) {
    const layout = new Layout(m.base);
    const src = layout.take(srcBytes);
    const dst = layout.take(dstBytes);
    const scratch = layout.take(m.fns.resizeScratchBytes(srcW, channels, dstW, dstH));
    m.reserve(fn, layout.end);
    return { src, dst, scratch };
  }

  const floatModule = resizeFloat ?? resize;

  return {
    resizeVariant: relaxed ? "relaxed-simd" : "simd",

    resizeBilinearU8(src, srcW, srcH, channels, dstW, dstH) {
      const fn = "resizeBilinearU8";
      checkResize(fn, src, srcW, srcH, channels, dstW, dstH);
      const n = dstW * dstH * channels;
      const at = resizeLayout(resize, fn, src.length, srcW, channels, n, dstW, dstH);
      resize.u8.set(src, at.src);
      resize.fns.resizeU8(at.src, srcW, srcH, channels, at.dst, dstW, dstH, at.scratch);
      return resize.u8.slice(at.dst, at.dst + n);
    },

    resizeBilinearU8ToF32(src, srcW, srcH, channels, dstW, dstH, mean, scale) {
      const fn = "resizeBilinearU8ToF32";
      checkResize(fn, src, srcW, srcH, channels, dstW, dstH);
      const n = dstW * dstH * channels;
      const at = resizeLayout(resize, fn, src.length, srcW, channels, 4 * n, dstW, dstH);
      resize.u8.set(src, at.src);
      resize.fns.resizeU8ToF32(
        at.src,
        srcW,
        srcH,
        channels,
        at.dst,
        dstW,
        dstH,
        mean,
        scale,
        at.scratch,
      );
      return resize.f32.slice(at.dst >> 2, (at.dst >> 2) + n);
    },

    resizeBilinearF32(src, srcW, srcH, channels, dstW, dstH) {
      const fn = "resizeBilinearF32";
      checkResize(fn, src, srcW, srcH, channels, dstW, dstH);
      const m = floatModule;
      const n = dstW * dstH * channels;
      const at = resizeLayout(m, fn, 4 * src.length, srcW, channels, 4 * n, dstW, dstH);
      m.f32.set(src, at.src >> 2);
      m.fns.resizeF32(at.src, srcW, srcH, channels, at.dst, dstW, dstH, at.scratch);
      return m.f32.slice(at.dst >> 2, (at.dst >> 2) + n);
    },

    iouOneToMany(box, boxList, plusOne) {
      const fn = "iouOneToMany";
      if (box.length !== 4) throw new RangeError(`${fn}: box.length ${box.length} != 4`);
      const n = checkBoxes(fn, boxList);
      const layout = new Layout(boxes.base);
      const src = layout.take(16 * n);
      const out = layout.take(4 * n);
      boxes.reserve(fn, layout.end);
      const f32 = boxes.f32;
      f32.set(boxList, src >> 2);
      boxes.fns.iouOneToMany(box[0], box[1], box[2], box[3], src, n, plusOne ? 1 : 0, out);
      return f32.slice(out >> 2, (out >> 2) + n);
    },

    nms(boxList, scores, threshold, mode, plusOne = true) {
      const n = checkNms(boxList, scores, threshold, mode);
      const layout = new Layout(boxes.base);
      const src = layout.take(16 * n);
      const sc = layout.take(4 * n);
      const out = layout.take(4 * n);
      const scratch = layout.take(boxes.fns.nmsScratchBytes(n));
      boxes.reserve("nms", layout.end);
      const f32 = boxes.f32;
      f32.set(boxList, src >> 2);
      f32.set(scores, sc >> 2);
      const kept = boxes.fns.nms(
        src,
        sc,
        n,
        threshold,
        mode === "min" ? 1 : 0,
        plusOne ? 1 : 0,
        out,
        scratch,
      );
      return boxes.i32.slice(out >> 2, (out >> 2) + kept);
    },

    cropResizeU8(src, srcW, srcH, channels, boxList, size) {
      const fn = "cropResizeU8";
      const { n, maxW } = checkCrops(fn, src, srcW, srcH, channels, boxList, size);
      const count = n * size * size * channels;
      const at = cropLayout(fn, src, channels, n, maxW, count, size);
      crop.u8.set(src, at.src);
      crop.i32.set(boxList, at.boxes >> 2);
      crop.fns.cropResizeU8(at.src, srcW, srcH, channels, at.boxes, n, size, at.dst, at.scratch);
      return crop.u8.slice(at.dst, at.dst + count);
    },

    cropResizeU8ToF32(src, srcW, srcH, channels, boxList, size, mean, scale) {
      const fn = "cropResizeU8ToF32";
      const { n, maxW } = checkCrops(fn, src, srcW, srcH, channels, boxList, size);
      const count = n * size * size * channels;
      const at = cropLayout(fn, src, channels, n, maxW, 4 * count, size);
      crop.u8.set(src, at.src);
      crop.i32.set(boxList, at.boxes >> 2);
      crop.fns.cropResizeU8ToF32(
        at.src,
        srcW,
        srcH,
        channels,
        at.boxes,
        n,
        size,
        mean,
        scale,
        at.dst,
        at.scratch,
      );
      return crop.f32.slice(at.dst >> 2, (at.dst >> 2) + count);
    },

    resizeAreaU8(src, srcW, srcH, dstW, dstH) {
      const fn = "resizeAreaU8";
      checkAreaResize(src, srcW, srcH, dstW, dstH);
      const count = dstW * dstH * 3;
      const at = areaLayout(
        fn,
        src,
        [[count, 0]],
        area.fns.areaScratchBytes(srcW, srcH, dstW, dstH),
      );
      area.fns.resizeAreaU8(at.src, srcW, srcH, dstW, dstH, at.regions[0], at.scratch);
      return area.u8.slice(at.regions[0], at.regions[0] + count);
    },

    cropResizeAreaU8ToF32(src, srcW, srcH, rects, size, mean, scale, out) {
      const fn = "cropResizeAreaU8ToF32";
      const { n, maxW, maxH } = checkAreaCrops(src, srcW, srcH, rects, size, out);
      const count = n * size * size * 3;
      const at = areaLayout(
        fn,
        src,
        [[16 * n, 0], [4 * count, 0]],
        area.fns.areaScratchBytes(maxW, maxH, size, size),
      );
      const [boxesAt, dst] = at.regions;
      area.i32.set(rects, boxesAt >> 2);
      area.fns.cropResizeAreaU8ToF32(
        at.src,
        srcW,
        srcH,
        boxesAt,
        n,
        size,
        mean,
        scale,
        dst,
        at.scratch,
        maxW,
        maxH,
      );
      const crops = area.f32.subarray(dst >> 2, (dst >> 2) + count);
      if (!out) return crops.slice();
      out.set(crops);
      return out;
    },

    fmaPeak(iters, a, c) {
      checkPositive("fmaPeak", "iters", iters);
      return area.fns.fmaPeak(iters, a, c);
    },

    memoryBytes() {
      return {
        area: area.memory.buffer.byteLength,
        crop: crop.memory.buffer.byteLength,
        resize: Math.max(resize.memory.buffer.byteLength, floatModule.memory.buffer.byteLength),
        boxes: boxes.memory.buffer.byteLength,
      };
    },
  };
}

/** The kernels every module-level function below is bound to. */
export const KERNELS: Kernels = await createKernels();

/**
 * OpenCV's INTER_AREA resize of an RGB u8 image (averages every covered
 * source pixel when shrinking; area-mode linear blend when enlarging),
 * rounded to bytes; the pyramid resize of the MTCNN ports. Exact (each byte
 * the exact weighted average rounded half up, within 1 of `cv2.resize`) and
 * bit-exact with the twin in ./reference.ts.
 *
 * @example
 * ```ts
 * const level = resizeAreaU8(rgb, 640, 480, 384, 288);
 * ```
 */
export const resizeAreaU8: Kernels["resizeAreaU8"] = KERNELS.resizeAreaU8;

/**
 * Crops every rectangle (x, y, w, h integers; outside the image reads 0) of
 * an RGB u8 image and resizes it to `size`×`size` with INTER_AREA, rounded to
 * bytes, then normalised `(v - mean) * scale`: n·size·size·3 floats, crop
 * after crop (the RNet / ONet input of the MTCNN ports), in a new array or
 * in `out` (exactly that long; returned). Bit-exact with the twin.
 *
 * @example
 * ```ts
 * const batch = cropResizeAreaU8ToF32(rgb, 640, 480, new Int32Array([10, 20, 60, 60]), 24, 127.5, 1 / 128);
 * const into = new Float32Array(2 * 24 * 24 * 3);
 * cropResizeAreaU8ToF32(rgb, 640, 480, rects2, 24, 127.5, 1 / 128, into);
 * ```
 */
export const cropResizeAreaU8ToF32: Kernels["cropResizeAreaU8ToF32"] =
  KERNELS.cropResizeAreaU8ToF32;

/**
 * The SIMD peak probe: `iters` rounds of acc = acc·a + c over 8 independent
 * f32x4 accumulators (relaxed_madd in the relaxed-SIMD build, mul + add
 * otherwise): 64 flops per round. Returns the sum of the lanes (the twin's
 * value when `a` is a power of two), so the loop is not optimised away.
 *
 * @example
 * ```ts
 * const t = performance.now(); fmaPeak(1e7, 0.5, 1);
 * const gflops = 64e7 / ((performance.now() - t) * 1e6);
 * ```
 */
export const fmaPeak: Kernels["fmaPeak"] = KERNELS.fmaPeak;

/**
 * Bilinear resize (OpenCV INTER_LINEAR: half-pixel centres, border
 * replicate, no area averaging) of a u8 image with `channels` interleaved
 * channels; 11-bit fixed-point weights, rounded to nearest. Bit-exact with
 * the twin in ./reference.ts.
 *
 * @example
 * ```ts
 * const small = resizeBilinearU8(rgb, 640, 480, 3, 454, 340);
 * ```
 */
export const resizeBilinearU8: Kernels["resizeBilinearU8"] = KERNELS.resizeBilinearU8;

/**
 * Bilinear resize of a u8 image straight to normalised float32
 * `(v - mean) * scale`, where `v` is the byte {@linkcode resizeBilinearU8}
 * gives (so this equals MTCNN's `(cv2.resize(img) - 127.5) * 0.0078125`).
 *
 * @example
 * ```ts
 * const input = resizeBilinearU8ToF32(rgb, 640, 480, 3, 320, 240, 127.5, 0.0078125);
 * ```
 */
export const resizeBilinearU8ToF32: Kernels["resizeBilinearU8ToF32"] =
  KERNELS.resizeBilinearU8ToF32;

/**
 * Bilinear resize (OpenCV INTER_LINEAR) of a float32 image with `channels`
 * interleaved channels. Within 1e-5 of the twin (bit-exact without relaxed SIMD).
 *
 * @example
 * ```ts
 * const up = resizeBilinearF32(heat, 13, 7, 1, 26, 14);
 * ```
 */
export const resizeBilinearF32: Kernels["resizeBilinearF32"] = KERNELS.resizeBilinearF32;

/**
 * IoU of one box (x1, y1, x2, y2) with each of `boxes` (n*4 float32, x1, y1,
 * x2, y2 per box), computed in float32 with SIMD. `plusOne` measures sides
 * as `x2 - x1 + 1` (pixel counts, as the MTCNN code); otherwise `x2 - x1`.
 * A pair whose union is not positive has IoU 0. Bit-exact with the twin.
 *
 * @example
 * ```ts
 * iouOneToMany([0, 0, 9, 9], new Float32Array([0, 0, 9, 9, 5, 0, 14, 9]), true); // [1, 0.333...]
 * ```
 */
export const iouOneToMany: Kernels["iouOneToMany"] = KERNELS.iouOneToMany;

/**
 * Greedy non-maximum suppression, as MTCNN's `nms`: visits boxes by
 * descending score (ties: lower index first), keeps a box unless an
 * already kept box overlaps it by strictly more than `threshold` ("union":
 * IoU, "min": intersection over the smaller area). Returns the kept indexes
 * in that order. One radix sort, then SIMD overlaps of each kept box against
 * the remaining ones. Same result as the twin; RangeError on NaN scores.
 *
 * @example
 * ```ts
 * const boxes = new Float32Array([0, 0, 9, 9, 1, 1, 10, 10, 50, 50, 59, 59]);
 * nms(boxes, new Float32Array([0.8, 0.9, 0.7]), 0.5, "union"); // Int32Array [1, 2]
 * ```
 */
export const nms: Kernels["nms"] = KERNELS.nms;

/**
 * Crops every box (x, y, w, h in integer pixels; n*4 values) of one image
 * and resizes it to `size` x `size` in one call: pixels outside the image
 * read as 0 (zero padding, as MTCNN pads crops), and each padded crop is
 * resized exactly as {@linkcode resizeBilinearU8} would. Returns
 * n*size*size*channels bytes, box after box. Bit-exact with the twin.
 *
 * @example
 * ```ts
 * const faces = cropResizeU8(rgb, 640, 480, 3, new Int32Array([10, 20, 48, 48, -5, 0, 30, 30]), 24);
 * ```
 */
export const cropResizeU8: Kernels["cropResizeU8"] = KERNELS.cropResizeU8;

/**
 * {@linkcode cropResizeU8} straight to normalised float32 NHWC batches
 * `(v - mean) * scale` (the RNet/ONet input), `v` the byte cropResizeU8 gives.
 *
 * @example
 * ```ts
 * const batch = cropResizeU8ToF32(rgb, 640, 480, 3, boxes, 24, 127.5, 0.0078125);
 * ```
 */
export const cropResizeU8ToF32: Kernels["cropResizeU8ToF32"] = KERNELS.cropResizeU8ToF32;

// ---------------------------------------------------------------------------
// Gradient kernels (kernels/build/grad.wasm). The module imports its linear
// memory and has no static data, so it runs either on tfjs-backend-wasm's
// heap (src/train/grad_kernels.ts binds it there with bindGradKernels: the
// tensors stay where tfjs keeps them) or on a private memory (the typed
// functions below, which copy in and out like the kernels above).

/**
 * The gradient kernels on one memory: byte addresses and sizes in, results
 * written at the output addresses. No checks: callers validate (see the
 * typed functions below for the semantics; `scratch` is `c` floats + 16 bytes).
 */
export interface GradKernelsRaw {
  conv2dFilterGrad(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
  ): void;
  conv2dInputGrad(
    dy: number,
    filter: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    scratch: number,
  ): void;
  maxPoolGrad(
    x: number,
    y: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
  ): void;
  preluGrad(
    x: number,
    alpha: number,
    dy: number,
    dx: number,
    dalpha: number,
    rows: number,
    c: number,
    scratch: number,
  ): void;
  sumRows(x: number, out: number, rows: number, c: number, scratch: number): void;
  depthwiseFilterGrad(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
  ): void;
  depthwiseInputGrad(
    dy: number,
    filter: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
  ): void;
  unsortedSegmentSum(
    x: number,
    ids: number,
    out: number,
    rows: number,
    inner: number,
    segments: number,
  ): void;
}

async function compileGrad(name: string): Promise<WebAssembly.Module> {
  const bytes = await readWasm(name);
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    throw new TypeError(
      `Cannot load "kernels/build/${name}.wasm": ${
        (e as Error).message
      } (run deno task build:kernels)`,
    );
  }
}

const GRAD_MODULE = await compileGrad("grad");
const GRAD_RELAXED_MODULE = relaxedSimdSupported() ? await compileGrad("grad_relaxed") : undefined;

/** Options of {@linkcode bindGradKernels} and {@linkcode createGradKernels}. */
export interface GradKernelOptions {
  /**
   * Use the relaxed-SIMD build (fused multiply-add in the convolution
   * GEMMs): true requires engine support (else TypeError); false forces plain
   * SIMD; default: when supported.
   */
  relaxedSimd?: boolean;
}

function instantiateGrad(
  memory: WebAssembly.Memory,
  options: GradKernelOptions,
): WebAssembly.Instance {
  const relaxed = options.relaxedSimd ?? GRAD_RELAXED_MODULE !== undefined;
  if (relaxed && !GRAD_RELAXED_MODULE) {
    throw new TypeError(
      "Cannot load the relaxed-SIMD gradient kernels: this engine lacks relaxed SIMD",
    );
  }
  const module = relaxed ? GRAD_RELAXED_MODULE! : GRAD_MODULE;
  return new WebAssembly.Instance(module, { env: { memory } });
}

/**
 * Binds the gradient kernels to `memory` (synchronously): they read and
 * write it at the addresses they are given, e.g. tfjs-backend-wasm's heap.
 *
 * @example
 * ```ts
 * const raw = bindGradKernels(wasmBackend.wasm.asm.memory);
 * raw.sumRows(dyOffset, outOffset, rows, channels, scratchOffset);
 * ```
 */
export function bindGradKernels(
  memory: WebAssembly.Memory,
  options: GradKernelOptions = {},
): GradKernelsRaw {
  return instantiateGrad(memory, options).exports as unknown as GradKernelsRaw;
}

/** The gradient kernels on typed arrays; semantics and checks of the twins in ./reference.ts. */
export interface GradKernels {
  /** See {@linkcode conv2dFilterGrad}. */
  conv2dFilterGrad(
    x: Float32Array,
    dy: Float32Array,
    g: WindowGeometry,
    outChannels: number,
  ): Float32Array;
  /** See {@linkcode conv2dInputGrad}. */
  conv2dInputGrad(
    dy: Float32Array,
    filter: Float32Array,
    g: WindowGeometry,
    outChannels: number,
  ): Float32Array;
  /** See {@linkcode maxPoolGrad}. */
  maxPoolGrad(x: Float32Array, y: Float32Array, dy: Float32Array, g: WindowGeometry): Float32Array;
  /** See {@linkcode preluGrad}. */
  preluGrad(
    x: Float32Array,
    alpha: Float32Array,
    dy: Float32Array,
  ): { dx: Float32Array; dalpha: Float32Array };
  /** See {@linkcode sumRows}. */
  sumRows(x: Float32Array, rows: number, cols: number): Float32Array;
  /** See {@linkcode depthwiseFilterGrad}. */
  depthwiseFilterGrad(x: Float32Array, dy: Float32Array, g: WindowGeometry): Float32Array;
  /** See {@linkcode depthwiseInputGrad}. */
  depthwiseInputGrad(dy: Float32Array, filter: Float32Array, g: WindowGeometry): Float32Array;
  /** See {@linkcode unsortedSegmentSum}. */
  unsortedSegmentSum(
    x: Float32Array,
    ids: Int32Array,
    inner: number,
    segments: number,
  ): Float32Array;
  /** Which build runs the kernels. */
  readonly variant: "simd" | "relaxed-simd";
  /** Current size in bytes of the private linear memory. */
  memoryBytes(): number;
}

/**
 * The gradient kernels on a private memory of their own (grown on demand):
 * inputs are copied in, results copied out.
 *
 * @example
 * ```ts
 * const grad = createGradKernels();
 * grad.sumRows(new Float32Array([1, 2, 3, 4]), 2, 2); // [4, 6]
 * ```
 */
export function createGradKernels(options: GradKernelOptions = {}): GradKernels {
  const instance = instantiateGrad(new WebAssembly.Memory({ initial: 1 }), options);
  const m = new WasmModule(instance);
  const raw = m.fns as unknown as GradKernelsRaw;
  /** Lays out `arrays` (copied in) and `outs` (float counts) and returns their addresses. */
  const place = (fn: string, arrays: ArrayLike<number>[], outs: number[]) => {
    const layout = new Layout(m.base);
    const ins = arrays.map((a) => layout.take(4 * a.length));
    const at = outs.map((n) => layout.take(4 * n));
    m.reserve(fn, layout.end);
    arrays.forEach((a, i) => {
      if (a instanceof Int32Array) m.i32.set(a, ins[i] >> 2);
      else m.f32.set(a, ins[i] >> 2);
    });
    return { ins, at };
  };
  const read = (at: number, n: number) => m.f32.slice(at >> 2, (at >> 2) + n);
  return {
    variant: (options.relaxedSimd ?? GRAD_RELAXED_MODULE !== undefined) ? "relaxed-simd" : "simd",

    conv2dFilterGrad(x, dy, g, outChannels) {
      checkConv2dFilterGrad(x, dy, g, outChannels);
      const size = g.filterHeight * g.filterWidth * g.channels * outChannels;
      const { ins, at } = place("conv2dFilterGrad", [x, dy], [size]);
      raw.conv2dFilterGrad(
        ins[0],
        ins[1],
        at[0],
        g.batch,
        g.inHeight,
        g.inWidth,
        g.channels,
        g.outHeight,
        g.outWidth,
        outChannels,
        g.filterHeight,
        g.filterWidth,
        g.strideHeight,
        g.strideWidth,
      );
      return read(at[0], size);
    },

    conv2dInputGrad(dy, filter, g, outChannels) {
      const size = checkConv2dInputGrad(dy, filter, g, outChannels);
      const { ins, at } = place("conv2dInputGrad", [dy, filter], [size, filter.length + 4]);
      raw.conv2dInputGrad(
        ins[0],
        ins[1],
        at[0],
        g.batch,
        g.inHeight,
        g.inWidth,
        g.channels,
        g.outHeight,
        g.outWidth,
        outChannels,
        g.filterHeight,
        g.filterWidth,
        g.strideHeight,
        g.strideWidth,
        at[1],
      );
      return read(at[0], size);
    },

    maxPoolGrad(x, y, dy, g) {
      checkMaxPoolGrad(x, y, dy, g);
      const { ins, at } = place("maxPoolGrad", [x, y, dy], [x.length]);
      raw.maxPoolGrad(
        ins[0],
        ins[1],
        ins[2],
        at[0],
        g.batch,
        g.inHeight,
        g.inWidth,
        g.channels,
        g.outHeight,
        g.outWidth,
        g.filterHeight,
        g.filterWidth,
        g.strideHeight,
        g.strideWidth,
        g.padTop,
        g.padLeft,
      );
      return read(at[0], x.length);
    },

    preluGrad(x, alpha, dy) {
      const rows = checkPreluGrad(x, alpha, dy);
      const c = alpha.length;
      const { ins, at } = place("preluGrad", [x, alpha, dy], [x.length, c, c]);
      raw.preluGrad(ins[0], ins[1], ins[2], at[0], at[1], rows, c, at[2]);
      return { dx: read(at[0], x.length), dalpha: read(at[1], c) };
    },

    sumRows(x, rows, cols) {
      checkSumRows(x, rows, cols);
      const { ins, at } = place("sumRows", [x], [cols, cols]);
      raw.sumRows(ins[0], at[0], rows, cols, at[1]);
      return read(at[0], cols);
    },

    depthwiseFilterGrad(x, dy, g) {
      checkDepthwiseGrad("depthwiseFilterGrad", ["x", "dy"], x, dy, g);
      const size = g.filterHeight * g.filterWidth * g.channels;
      const { ins, at } = place("depthwiseFilterGrad", [x, dy], [size]);
      raw.depthwiseFilterGrad(
        ins[0],
        ins[1],
        at[0],
        g.batch,
        g.inHeight,
        g.inWidth,
        g.channels,
        g.outHeight,
        g.outWidth,
        g.filterHeight,
        g.filterWidth,
        g.strideHeight,
        g.strideWidth,
        g.padTop,
        g.padLeft,
      );
      return read(at[0], size);
    },

    depthwiseInputGrad(dy, filter, g) {
      checkDepthwiseGrad("depthwiseInputGrad", ["dy", "filter"], dy, filter, g);
      const size = g.batch * g.inHeight * g.inWidth * g.channels;
      const { ins, at } = place("depthwiseInputGrad", [dy, filter], [size]);
      raw.depthwiseInputGrad(
        ins[0],
        ins[1],
        at[0],
        g.batch,
        g.inHeight,
        g.inWidth,
        g.channels,
        g.outHeight,
        g.outWidth,
        g.filterHeight,
        g.filterWidth,
        g.strideHeight,
        g.strideWidth,
        g.padTop,
        g.padLeft,
      );
      return read(at[0], size);
    },

    unsortedSegmentSum(x, ids, inner, segments) {
      const rows = checkSegmentSum(x, ids, inner, segments);
      const { ins, at } = place("unsortedSegmentSum", [x, ids], [segments * inner]);
      raw.unsortedSegmentSum(ins[0], ins[1], at[0], rows, inner, segments);
      return read(at[0], segments * inner);
    },

    memoryBytes() {
      return m.memory.buffer.byteLength;
    },
  };
}

/** The gradient kernels every module-level gradient function below is bound to. */
export const GRAD_KERNELS: GradKernels = createGradKernels();

/**
 * Gradient of a valid-padded NHWC convolution with respect to its HWIO
 * filter ([filterHeight, filterWidth, channels, outChannels]); within 1e-5
 * (relative to the sums' magnitude) of the float64 twin.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 3, inWidth: 3, channels: 1, outHeight: 2, outWidth: 2,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * conv2dFilterGrad(new Float32Array(9).fill(1), new Float32Array(4).fill(1), g, 1); // [4, 4, 4, 4]
 * ```
 */
export const conv2dFilterGrad: GradKernels["conv2dFilterGrad"] = GRAD_KERNELS.conv2dFilterGrad;

/**
 * Gradient of a valid-padded NHWC convolution with respect to its input
 * (filter HWIO, any stride); within 1e-5 (relative to the sums' magnitude)
 * of the float64 twin.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * conv2dInputGrad(new Float32Array([2]), new Float32Array([1, 2, 3, 4]), g, 1); // [2, 4, 6, 8]
 * ```
 */
export const conv2dInputGrad: GradKernels["conv2dInputGrad"] = GRAD_KERNELS.conv2dInputGrad;

/**
 * Gradient of NHWC max pooling (each window's dy to the first input equal to
 * its maximum; "same" padding by padTop/padLeft). Bit-exact with the twin.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 1, inWidth: 3, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 1, filterWidth: 3, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * maxPoolGrad(new Float32Array([1, 5, 5]), new Float32Array([5]), new Float32Array([2]), g); // [0, 2, 0]
 * ```
 */
export const maxPoolGrad: GradKernels["maxPoolGrad"] = GRAD_KERNELS.maxPoolGrad;

/**
 * Gradient of PReLU with one alpha per channel: dx and dalpha in one pass.
 *
 * @example
 * ```ts
 * preluGrad(new Float32Array([2, -3]), new Float32Array([0.25]), new Float32Array([1, 1]));
 * // { dx: [1, 0.25], dalpha: [-3] }
 * ```
 */
export const preluGrad: GradKernels["preluGrad"] = GRAD_KERNELS.preluGrad;

/**
 * Column sums of a [rows, cols] matrix (bias gradients), summed in blocks of
 * 256 rows.
 *
 * @example
 * ```ts
 * sumRows(new Float32Array([1, 2, 3, 4]), 2, 2); // [4, 6]
 * ```
 */
export const sumRows: GradKernels["sumRows"] = GRAD_KERNELS.sumRows;

/**
 * Gradient of an NHWC depthwise convolution (multiplier 1) with respect to
 * its [kh, kw, c, 1] filter.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * depthwiseFilterGrad(new Float32Array([1, 2, 3, 4]), new Float32Array([2]), g); // [2, 4, 6, 8]
 * ```
 */
export const depthwiseFilterGrad: GradKernels["depthwiseFilterGrad"] =
  GRAD_KERNELS.depthwiseFilterGrad;

/**
 * Gradient of an NHWC depthwise convolution (multiplier 1) with respect to its input.
 *
 * @example
 * ```ts
 * const g = { batch: 1, inHeight: 2, inWidth: 2, channels: 1, outHeight: 1, outWidth: 1,
 *   filterHeight: 2, filterWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 };
 * depthwiseInputGrad(new Float32Array([2]), new Float32Array([1, 2, 3, 4]), g); // [2, 4, 6, 8]
 * ```
 */
export const depthwiseInputGrad: GradKernels["depthwiseInputGrad"] =
  GRAD_KERNELS.depthwiseInputGrad;

/**
 * Segment sums of rows (the gradient of gather): ids outside [0, segments) dropped.
 *
 * @example
 * ```ts
 * unsortedSegmentSum(new Float32Array([1, 2, 3]), new Int32Array([1, 1, 0]), 1, 2); // [3, 3]
 * ```
 */
export const unsortedSegmentSum: GradKernels["unsortedSegmentSum"] =
  GRAD_KERNELS.unsortedSegmentSum;
