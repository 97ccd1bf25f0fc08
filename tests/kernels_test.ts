/**
 * Kernels: the committed binaries are fresh, the TypeScript twins mean what
 * they say, and every WebAssembly kernel matches its twin on odd sizes.
 */
import { assert, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";
import { buildKernels, KERNEL_BUILDS } from "../tasks/build_kernels.ts";
import * as K from "../kernels/mod.ts";
import * as R from "../kernels/reference.ts";
import { Rng } from "../src/util/random.ts";

const SEED = 20261130;

/** The kernel sets that run here: plain SIMD always, relaxed SIMD when supported. */
const VARIANTS: K.Kernels[] = [await K.createKernels({ relaxedSimd: false })];
if (K.relaxedSimdSupported()) VARIANTS.push(await K.createKernels({ relaxedSimd: true }));

function randomU8(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(0, 256));
}

function randomF32(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
}

/** Index of the first element where `a` and `b` differ (Object.is), or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, "length");
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

// ---------------------------------------------------------------------------
// Build

Deno.test("build:kernels reproduces the committed kernels/build/*.wasm byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kernels_build_" });
  try {
    const built = await buildKernels(dir);
    assertEquals(built.map((k) => k.name), KERNEL_BUILDS.map((k) => k.name));
    const stale: string[] = [];
    for (const k of built) {
      const fresh = await Deno.readFile(k.path);
      const committed = await Deno.readFile(
        new URL(`../kernels/build/${k.name}.wasm`, import.meta.url),
      )
        .catch(() => undefined);
      if (!committed || fresh.length !== committed.length || firstDiff(fresh, committed) >= 0) {
        stale.push(`kernels/build/${k.name}.wasm`);
      }
    }
    assert(stale.length === 0, `stale: ${stale.join(", ")} (run deno task build:kernels)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relaxedSimdSupported() agrees with validating resize_relaxed.wasm itself", async () => {
  const wasm = await Deno.readFile(
    new URL("../kernels/build/resize_relaxed.wasm", import.meta.url),
  );
  assertEquals(K.relaxedSimdSupported(), WebAssembly.validate(wasm));
  assert(K.simdSupported(), "SIMD probe must validate where the kernels load");
  assertEquals(K.KERNELS.resizeVariant, K.relaxedSimdSupported() ? "relaxed-simd" : "simd");
});

// ---------------------------------------------------------------------------
// Resize: the twins

Deno.test("resizeBilinearU8 twin keeps a constant image constant at any size", () => {
  for (
    const [sw, sh, dw, dh] of [[13, 7, 127, 3], [127, 13, 5, 9], [1, 1, 3, 13], [640, 3, 454, 2]]
  ) {
    const src = new Uint8Array(sw * sh * 3).fill(201);
    const dst = R.resizeBilinearU8(src, sw, sh, 3, dw, dh);
    assertEquals(dst, new Uint8Array(dw * dh * 3).fill(201), `${sw}x${sh} -> ${dw}x${dh}`);
    const f = R.resizeBilinearF32(new Float32Array(sw * sh).fill(-0.375), sw, sh, 1, dw, dh);
    // Floats: (1 - w) * c + w * c rounds, so "constant" is up to an ulp or two.
    const d = maxAbsDiff(f, new Float32Array(dw * dh).fill(-0.375));
    assert(d <= 1e-6, `f32 ${sw}x${sh} -> ${dw}x${dh}: ${d}`);
  }
});

Deno.test("resizeBilinearU8 twin upscales a 2-pixel ramp 2x to OpenCV's values", () => {
  // cv2.resize(np.uint8([[0, 100]]), (4, 1)) == [[0, 25, 75, 100]]: positions -0.25
  // (clamped), 0.25, 0.75, 1.25 (clamped).
  assertEquals(
    R.resizeBilinearU8(new Uint8Array([0, 100]), 2, 1, 1, 4, 1),
    new Uint8Array([0, 25, 75, 100]),
  );
  assertEquals(
    R.resizeBilinearF32(new Float32Array([0, 100]), 2, 1, 1, 4, 1),
    new Float32Array([0, 25, 75, 100]),
  );
  // Same along y, on 2 channels.
  assertEquals(
    R.resizeBilinearU8(new Uint8Array([0, 8, 100, 16]), 1, 2, 2, 1, 4),
    new Uint8Array([0, 8, 25, 10, 75, 14, 100, 16]),
  );
});

Deno.test("resizeBilinearU8 twin halves a 4x4 image to 2x2 block means, rounded to nearest", () => {
  // (dx + 0.5) * 2 - 0.5 = 2dx + 0.5: every output is the mean of a 2x2 block.
  const src = new Uint8Array([10, 20, 0, 0, 30, 41, 0, 1, 255, 255, 7, 8, 255, 254, 9, 9]);
  // Means: 25.25, 0.25, 254.75, 8.25.
  assertEquals(R.resizeBilinearU8(src, 4, 4, 1, 2, 2), new Uint8Array([25, 0, 255, 8]));
});

Deno.test("resize twins with equal sizes return the input", () => {
  const rng = new Rng(SEED);
  const u8 = randomU8(rng, 13 * 7 * 3);
  assertEquals(R.resizeBilinearU8(u8, 13, 7, 3, 13, 7), u8);
  const f32 = randomF32(rng, 13 * 7 * 2);
  assertEquals(R.resizeBilinearF32(f32, 13, 7, 2, 13, 7), f32);
});

Deno.test("resizeBilinearU8ToF32 twin is (resizeBilinearU8 - mean) * scale", () => {
  const rng = new Rng(SEED);
  const src = randomU8(rng, 13 * 11 * 3);
  const bytes = R.resizeBilinearU8(src, 13, 11, 3, 7, 5);
  const floats = R.resizeBilinearU8ToF32(src, 13, 11, 3, 7, 5, 127.5, 0.0078125);
  assertEquals(floats, Float32Array.from(bytes, (v) => (v - 127.5) * 0.0078125));
});

// ---------------------------------------------------------------------------
// Resize: kernels against twins

const RESIZE_CASES: [number, number, number, number][] = [
  [13, 7, 127, 3],
  [127, 13, 13, 127],
  [1, 1, 3, 13],
  [3, 1, 1, 1],
  [13, 13, 13, 13],
  [127, 127, 13, 3],
  [17, 3, 34, 6],
];

Deno.test("resizeBilinearU8 kernel matches the twin bit for bit on odd sizes, 1..4 channels", () => {
  const rng = new Rng(SEED);
  for (const cn of [1, 2, 3, 4]) {
    for (const [sw, sh, dw, dh] of RESIZE_CASES) {
      const src = randomU8(rng, sw * sh * cn);
      const want = R.resizeBilinearU8(src, sw, sh, cn, dw, dh);
      for (const k of VARIANTS) {
        const got = k.resizeBilinearU8(src, sw, sh, cn, dw, dh);
        const i = firstDiff(got, want);
        assert(
          i < 0,
          `${k.resizeVariant} ${sw}x${sh}x${cn} -> ${dw}x${dh}: [${i}] ${got[i]} != ${want[i]}`,
        );
      }
    }
  }
});

Deno.test("resizeBilinearU8ToF32 kernel matches the twin bit for bit on odd sizes", () => {
  const rng = new Rng(SEED + 1);
  for (const cn of [1, 2, 3, 4]) {
    for (const [sw, sh, dw, dh] of RESIZE_CASES) {
      const src = randomU8(rng, sw * sh * cn);
      const want = R.resizeBilinearU8ToF32(src, sw, sh, cn, dw, dh, 127.5, 0.0078125);
      const got = K.resizeBilinearU8ToF32(src, sw, sh, cn, dw, dh, 127.5, 0.0078125);
      const i = firstDiff(got, want);
      assert(i < 0, `${sw}x${sh}x${cn} -> ${dw}x${dh}: [${i}] ${got[i]} != ${want[i]}`);
    }
  }
});

Deno.test("resizeBilinearF32 kernel matches the twin: exact with SIMD, within 1e-5 with relaxed SIMD", () => {
  const rng = new Rng(SEED + 2);
  for (const cn of [1, 2, 3, 4]) {
    for (const [sw, sh, dw, dh] of RESIZE_CASES) {
      const src = randomF32(rng, sw * sh * cn);
      const want = R.resizeBilinearF32(src, sw, sh, cn, dw, dh);
      for (const k of VARIANTS) {
        const got = k.resizeBilinearF32(src, sw, sh, cn, dw, dh);
        const what = `${k.resizeVariant} ${sw}x${sh}x${cn} -> ${dw}x${dh}`;
        if (k.resizeVariant === "simd") {
          const i = firstDiff(got, want);
          assert(i < 0, `${what}: [${i}] ${got[i]} != ${want[i]}`);
        } else {
          const d = maxAbsDiff(got, want);
          assert(d <= 1e-5, `${what}: max diff ${d}`);
        }
      }
    }
  }
});

Deno.test("resize kernels re-make their memory views after the WASM memory grows", async () => {
  const k = await K.createKernels();
  const rng = new Rng(SEED + 3);
  const small = randomU8(rng, 13 * 7 * 3);
  assertEquals(
    k.resizeBilinearU8(small, 13, 7, 3, 5, 3),
    R.resizeBilinearU8(small, 13, 7, 3, 5, 3),
  );
  const before = k.memoryBytes().resize;
  // 1600x1200 RGB needs ~5.8 MB of input alone: far above the initial memory.
  const big = randomU8(rng, 1600 * 1200 * 3);
  const got = k.resizeBilinearU8(big, 1600, 1200, 3, 1131, 848);
  assert(
    k.memoryBytes().resize > before + 5e6,
    `memory did not grow: ${before} -> ${k.memoryBytes().resize}`,
  );
  const i = firstDiff(got, R.resizeBilinearU8(big, 1600, 1200, 3, 1131, 848));
  assert(i < 0, `after growth: first difference at ${i}`);
  const bigF = randomF32(rng, 700 * 900);
  const gotF = k.resizeBilinearF32(bigF, 700, 900, 1, 350, 450);
  assert(
    maxAbsDiff(gotF, R.resizeBilinearF32(bigF, 700, 900, 1, 350, 450)) <= 1e-5,
    "f32 after growth",
  );
  assertEquals(
    k.resizeBilinearU8(small, 13, 7, 3, 5, 3),
    R.resizeBilinearU8(small, 13, 7, 3, 5, 3),
  );
});

Deno.test("resize kernels and twins reject bad shapes with the same one-line RangeError", () => {
  for (const impl of [K, R] as const) {
    assertThrows(
      () => impl.resizeBilinearU8(new Uint8Array(100), 10, 4, 3, 5, 2),
      RangeError,
      "resizeBilinearU8: src.length 100 != 10*4*3",
    );
    assertThrows(
      () => impl.resizeBilinearF32(new Float32Array(12), 2, 2, 3, 0, 2),
      RangeError,
      "resizeBilinearF32: dstW must be a positive integer, got 0",
    );
    assertThrows(
      () => impl.resizeBilinearU8ToF32(new Uint8Array(6), 2, 1.5, 2, 1, 1, 0, 1),
      RangeError,
      "resizeBilinearU8ToF32: srcH must be a positive integer, got 1.5",
    );
  }
});

// ---------------------------------------------------------------------------
// Boxes: the twins

Deno.test("iouOneToMany twin gives 1 for identical boxes and 0 for disjoint ones", () => {
  const boxes = new Float32Array([3, 4, 20, 30, 21, 4, 40, 30, 3, 31, 20, 50]);
  for (const plusOne of [true, false]) {
    assertEquals(R.iouOneToMany([3, 4, 20, 30], boxes, plusOne), new Float32Array([1, 0, 0]));
  }
});

Deno.test("iouOneToMany twin measures sides as x2 - x1 + 1 with plusOne, x2 - x1 without", () => {
  // plusOne: 10x10 boxes sharing a 5x10 strip: 50 / (100 + 100 - 50).
  assertEquals(
    R.iouOneToMany([0, 0, 9, 9], new Float32Array([5, 0, 14, 9]), true),
    new Float32Array([1 / 3]),
  );
  // Same coordinates without plusOne: 9x9 boxes sharing 4x9: 36 / (81 + 81 - 36).
  assertEquals(
    R.iouOneToMany([0, 0, 9, 9], new Float32Array([5, 0, 14, 9]), false),
    new Float32Array([36 / 126]),
  );
  // Touching edges overlap by one pixel column only with plusOne: 10 / (100 + 100 - 10).
  assertEquals(
    R.iouOneToMany([0, 0, 9, 9], new Float32Array([9, 0, 18, 9]), true),
    new Float32Array([10 / 190]),
  );
  assertEquals(
    R.iouOneToMany([0, 0, 9, 9], new Float32Array([9, 0, 18, 9]), false),
    new Float32Array([0]),
  );
});

Deno.test("iouOneToMany twin gives 0, not NaN, when the union is empty", () => {
  assertEquals(
    R.iouOneToMany([5, 5, 5, 5], new Float32Array([5, 5, 5, 5]), false),
    new Float32Array([0]),
  );
});

Deno.test("nms() keeps the higher-scored of two overlapping boxes", () => {
  // IoU(0, 1) = 81 / 119 with plusOne; box 2 is far away.
  const boxes = new Float32Array([0, 0, 9, 9, 1, 1, 10, 10, 50, 50, 59, 59]);
  const scores = new Float32Array([0.8, 0.9, 0.7]);
  assertEquals(R.nms(boxes, scores, 0.5, "union"), new Int32Array([1, 2]));
  assertEquals(R.nms(boxes, scores, 0.7, "union"), new Int32Array([1, 0, 2]), "81/119 < 0.7");
});

Deno.test("nms() suppresses only when the overlap is strictly greater than the threshold", () => {
  // No plusOne: areas 4 and 2, intersection 2, IoU exactly 2 / 4.
  const boxes = new Float32Array([0, 0, 4, 1, 0, 0, 2, 1]);
  const scores = new Float32Array([0.9, 0.8]);
  assertEquals(R.nms(boxes, scores, 0.5, "union", false), new Int32Array([0, 1]));
  assertEquals(R.nms(boxes, scores, 0.49, "union", false), new Int32Array([0]));
});

Deno.test("nms() in min mode divides the intersection by the smaller area", () => {
  // A 5x5 box inside a 10x10 one: IoU 25 / 100, min-overlap 25 / 25.
  const boxes = new Float32Array([0, 0, 10, 10, 2, 2, 7, 7]);
  const scores = new Float32Array([0.9, 0.8]);
  assertEquals(R.nms(boxes, scores, 0.5, "union", false), new Int32Array([0, 1]));
  assertEquals(R.nms(boxes, scores, 0.5, "min", false), new Int32Array([0]));
});

Deno.test("nms() lets a box suppressed by a better one no longer suppress others", () => {
  // A-B and B-C overlap by IoU 0.25, A-C not at all: greedy keeps A and C.
  const boxes = new Float32Array([0, 0, 10, 10, 6, 0, 16, 10, 12, 0, 22, 10]);
  const scores = new Float32Array([0.9, 0.8, 0.7]);
  assertEquals(R.nms(boxes, scores, 0.2, "union", false), new Int32Array([0, 2]));
});

Deno.test("nms() visits equal scores by lower index first", () => {
  const same = new Float32Array([0, 0, 9, 9, 0, 0, 9, 9, 0, 0, 9, 9]);
  assertEquals(R.nms(same, new Float32Array([0.5, 0.5, 0.5]), 0.5, "union"), new Int32Array([0]));
  assertEquals(R.nms(same, new Float32Array([0.4, 0.5, 0.5]), 0.5, "union"), new Int32Array([1]));
  const apart = new Float32Array([0, 0, 9, 9, 20, 0, 29, 9, 40, 0, 49, 9, 60, 0, 69, 9]);
  assertEquals(
    R.nms(apart, new Float32Array([0.5, 0.7, -0, 0]), 0.5, "union"),
    new Int32Array([1, 0, 2, 3]),
  );
  assertEquals(R.nms(new Float32Array(0), new Float32Array(0), 0.5, "union"), new Int32Array(0));
});

// ---------------------------------------------------------------------------
// Boxes: kernels against twins

/** n boxes in clusters (as a detector's raw output), integer corners, scores in steps of 1/50 (ties). */
function clusteredBoxes(rng: Rng, n: number, clusters: number) {
  const centres = Array.from(
    { length: clusters },
    () => [rng.uniform(0, 640), rng.uniform(0, 480), rng.uniform(12, 200)],
  );
  const boxes = new Float32Array(4 * n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [cx, cy, size] = centres[rng.int(0, clusters)];
    const half = (size * rng.uniform(0.8, 1.25)) / 2;
    const x = cx + rng.normal(0, size * 0.15);
    const y = cy + rng.normal(0, size * 0.15);
    boxes.set([x - half, y - half, x + half, y + half].map(Math.round), 4 * i);
    scores[i] = Math.round(rng.next() * 50) / 50;
  }
  return { boxes, scores };
}

Deno.test("iouOneToMany kernel matches the twin bit for bit", () => {
  const rng = new Rng(SEED + 4);
  for (const n of [1, 3, 13, 127, 1000]) {
    const { boxes } = clusteredBoxes(rng, n, 3);
    // Some degenerate and inverted boxes too.
    if (n > 3) boxes.set([5, 5, 5, 5, 9, 9, 2, 2], 4);
    for (const plusOne of [true, false]) {
      for (const box of [boxes.slice(0, 4), [100.5, 80.25, 160.75, 150], [5, 5, 5, 5]]) {
        const want = R.iouOneToMany(box, boxes, plusOne);
        const got = K.iouOneToMany(box, boxes, plusOne);
        const i = firstDiff(got, want);
        assert(i < 0, `n=${n} plusOne=${plusOne} box=${box}: [${i}] ${got[i]} != ${want[i]}`);
      }
    }
  }
});

Deno.test("nms kernel keeps exactly the twin's boxes, in the same order", () => {
  const rng = new Rng(SEED + 5);
  for (const n of [0, 1, 3, 13, 127, 2000]) {
    const { boxes, scores } = clusteredBoxes(rng, n, Math.max(1, n >> 6));
    for (const mode of ["union", "min"] as const) {
      for (const plusOne of [true, false]) {
        for (const threshold of [0.3, 0.5, 0.7]) {
          const want = R.nms(boxes, scores, threshold, mode, plusOne);
          const got = K.nms(boxes, scores, threshold, mode, plusOne);
          assertEquals(got, want, `n=${n} ${mode} plusOne=${plusOne} threshold=${threshold}`);
        }
      }
    }
  }
});

Deno.test("box kernels and twins reject bad shapes with the same one-line RangeError", () => {
  for (const impl of [K, R] as const) {
    assertThrows(
      () => impl.iouOneToMany([1, 2, 3], new Float32Array(8), true),
      RangeError,
      "iouOneToMany: box.length 3 != 4",
    );
    assertThrows(
      () => impl.iouOneToMany([1, 2, 3, 4], new Float32Array(10), true),
      RangeError,
      "iouOneToMany: boxes.length 10 is not a multiple of 4",
    );
    assertThrows(
      () => impl.nms(new Float32Array(12), new Float32Array(2), 0.5, "union"),
      RangeError,
      "nms: boxes.length 12 != 4*2 (scores.length)",
    );
    assertThrows(
      () => impl.nms(new Float32Array(8), new Float32Array([0.5, NaN]), 0.5, "union"),
      RangeError,
      "nms: scores[1] is NaN",
    );
    assertThrows(
      // @ts-expect-error: a mode that does not exist
      () => impl.nms(new Float32Array(4), new Float32Array(1), 0.5, "max"),
      RangeError,
      'nms: mode must be "union" or "min", got "max"',
    );
  }
});

// ---------------------------------------------------------------------------
// Crops: the twins

Deno.test("cropResizeU8 twin of the whole image is resizeBilinearU8", () => {
  const rng = new Rng(SEED + 6);
  const src = randomU8(rng, 13 * 7 * 3);
  assertEquals(
    R.cropResizeU8(src, 13, 7, 3, new Int32Array([0, 0, 13, 7]), 5),
    R.resizeBilinearU8(src, 13, 7, 3, 5, 5),
  );
});

Deno.test("cropResizeU8 twin at the box's own size copies the region", () => {
  const rng = new Rng(SEED + 7);
  const src = randomU8(rng, 13 * 7 * 2);
  const got = R.cropResizeU8(src, 13, 7, 2, new Int32Array([4, 2, 3, 3]), 3);
  const want: number[] = [];
  for (let y = 2; y < 5; y++) want.push(...src.subarray((y * 13 + 4) * 2, (y * 13 + 7) * 2));
  assertEquals(got, Uint8Array.from(want));
});

Deno.test("cropResizeU8 twin reads zeros outside the image", () => {
  // A 1x1 image of 200; the box covers one pixel left of it and the pixel:
  // the padded crop is the ramp [0, 200], upscaled 2x to [0, 50, 150, 200]
  // along x; y (1 -> 4) repeats the row.
  const got = R.cropResizeU8(new Uint8Array([200]), 1, 1, 1, new Int32Array([-1, 0, 2, 1]), 4);
  const row = [0, 50, 150, 200];
  assertEquals(got, Uint8Array.from([...row, ...row, ...row, ...row]));
  const outside = R.cropResizeU8(
    new Uint8Array(12).fill(9),
    2,
    2,
    3,
    new Int32Array([5, -9, 4, 4]),
    3,
  );
  assertEquals(outside, new Uint8Array(27));
});

Deno.test("cropResizeU8ToF32 twin is (cropResizeU8 - mean) * scale", () => {
  const rng = new Rng(SEED + 8);
  const src = randomU8(rng, 13 * 11 * 3);
  const boxes = new Int32Array([-3, -2, 9, 8, 5, 5, 13, 13]);
  const bytes = R.cropResizeU8(src, 13, 11, 3, boxes, 7);
  const floats = R.cropResizeU8ToF32(src, 13, 11, 3, boxes, 7, 127.5, 0.0078125);
  assertEquals(floats, Float32Array.from(bytes, (v) => (v - 127.5) * 0.0078125));
});

// ---------------------------------------------------------------------------
// Crops: kernels against twins

/** n integer boxes on a w x h image, some reaching outside it. */
function randomCropBoxes(rng: Rng, n: number, w: number, h: number): Int32Array {
  const boxes = new Int32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const bw = rng.int(1, Math.max(2, Math.round(w * 1.3)));
    const bh = rng.int(1, Math.max(2, Math.round(h * 1.3)));
    boxes.set([rng.int(-bw, w + 2), rng.int(-bh, h + 2), bw, bh], 4 * i);
  }
  return boxes;
}

Deno.test("cropResizeU8 and cropResizeU8ToF32 kernels match the twins bit for bit", () => {
  const rng = new Rng(SEED + 9);
  for (const cn of [1, 2, 3, 4]) {
    for (const [w, h] of [[13, 7], [127, 13], [1, 1], [3, 127]]) {
      const src = randomU8(rng, w * h * cn);
      for (const size of [1, 3, 12, 13, 24]) {
        const boxes = randomCropBoxes(rng, 13, w, h);
        const what = `${w}x${h}x${cn} -> ${size}`;
        const want = R.cropResizeU8(src, w, h, cn, boxes, size);
        const got = K.cropResizeU8(src, w, h, cn, boxes, size);
        const i = firstDiff(got, want);
        assert(i < 0, `${what}: [${i}] ${got[i]} != ${want[i]} (boxes ${boxes})`);
        const wantF = R.cropResizeU8ToF32(src, w, h, cn, boxes, size, 127.5, 0.0078125);
        const gotF = K.cropResizeU8ToF32(src, w, h, cn, boxes, size, 127.5, 0.0078125);
        const j = firstDiff(gotF, wantF);
        assert(j < 0, `f32 ${what}: [${j}] ${gotF[j]} != ${wantF[j]}`);
      }
    }
  }
});

Deno.test("crop kernels and twins reject bad boxes with the same one-line RangeError", () => {
  for (const impl of [K, R] as const) {
    assertThrows(
      () =>
        impl.cropResizeU8(
          new Uint8Array(12),
          2,
          2,
          3,
          new Int32Array([0, 0, 2, 2, 3, 4, 0, 5]),
          24,
        ),
      RangeError,
      "cropResizeU8: box 1 (3, 4, 0, 5) has a side < 1",
    );
    assertThrows(
      () => impl.cropResizeU8ToF32(new Uint8Array(12), 2, 2, 3, new Int32Array(6), 24, 0, 1),
      RangeError,
      "cropResizeU8ToF32: boxes.length 6 is not a multiple of 4",
    );
    assertThrows(
      () => impl.cropResizeU8(new Uint8Array(11), 2, 2, 3, new Int32Array(0), 24),
      RangeError,
      "cropResizeU8: src.length 11 != 2*2*3",
    );
  }
});

Deno.test("box and crop kernels re-make their memory views after the WASM memory grows", async () => {
  const k = await K.createKernels();
  const rng = new Rng(SEED + 10);
  const { boxes, scores } = clusteredBoxes(rng, 13, 2);
  assertEquals(k.nms(boxes, scores, 0.5, "union"), R.nms(boxes, scores, 0.5, "union"));
  const before = k.memoryBytes();
  // 400k boxes: 6.4 MB of input.
  const many = clusteredBoxes(rng, 400_000, 50).boxes;
  const box = [100, 100, 180, 190];
  const iou = k.iouOneToMany(box, many, true);
  assert(k.memoryBytes().boxes > before.boxes + 6e6, "boxes memory did not grow");
  assert(firstDiff(iou, R.iouOneToMany(box, many, true)) < 0, "iouOneToMany after growth");
  assertEquals(k.nms(boxes, scores, 0.5, "union"), R.nms(boxes, scores, 0.5, "union"));

  const src = randomU8(rng, 1600 * 1200 * 3);
  const crops = new Int32Array([-100, -50, 1800, 1300, 700, 500, 48, 48]);
  const got = k.cropResizeU8(src, 1600, 1200, 3, crops, 24);
  assert(k.memoryBytes().crop > before.crop + 5e6, "crop memory did not grow");
  assertEquals(got, R.cropResizeU8(src, 1600, 1200, 3, crops, 24));
});
