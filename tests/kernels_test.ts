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
