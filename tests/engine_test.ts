/**
 * The AssemblyScript inference engine: the committed binaries are fresh, the
 * TypeScript twins mean what they say, every engine kernel matches its twin
 * on odd sizes (bit for bit with plain SIMD, within 1e-5 with relaxed SIMD),
 * and whole nets match the tfjs forward pass (wasm backend) within 1e-4.
 */
import { assert, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";
import { compileKernel, KERNEL_BUILDS } from "../tasks/build_kernels.ts";
import * as R from "../kernels/reference.ts";
import { relaxedSimdSupported } from "../kernels/mod.ts";
import {
  convBlockWidths,
  createEngine,
  createEngineKernels,
  type Engine,
  type EngineKernels,
  type EngineOutput,
} from "../src/deploy/engine.ts";
import {
  createNet,
  disposeNet,
  ensureOriginalWeights,
  forward,
  initBackend,
  loadNetData,
  type NetArch,
  type NetData,
  onetArch,
  pnetArch,
  randomNetData,
  rnetArch,
  tf,
} from "../src/nets/mod.ts";
import { Rng } from "../src/util/random.ts";

const SEED = 20261201;

/** The kernel sets that run here: plain SIMD always, relaxed SIMD when supported. */
const VARIANTS: EngineKernels[] = [await createEngineKernels({ relaxedSimd: false })];
if (relaxedSimdSupported()) VARIANTS.push(await createEngineKernels({ relaxedSimd: true }));

function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

/** Index of the first element where `a` and `b` differ (Object.is), or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, "length");
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Bit-exact for the SIMD build; within 1e-5 (relative above 1) for the relaxed build (fused multiply-add). */
function assertParity(
  k: EngineKernels,
  got: Float32Array,
  want: Float32Array,
  what: string,
): void {
  assertEquals(got.length, want.length, `${what}: length`);
  if (k.variant === "simd") {
    const i = firstDiff(got, want);
    assert(i < 0, `${what}: element ${i} is ${got[i]}, twin ${want[i]}`);
    return;
  }
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-5 * Math.max(1, Math.abs(want[i]));
    assert(
      Math.abs(got[i] - want[i]) <= tol,
      `${what}: element ${i} is ${got[i]}, twin ${want[i]}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Build

Deno.test("engine.wasm and engine_relaxed.wasm match a fresh build of kernels/assembly/engine.ts", async () => {
  const builds = KERNEL_BUILDS.filter((b) => b.source === "engine.ts");
  assertEquals(builds.map((b) => b.name).sort(), ["engine", "engine_relaxed"]);
  for (const b of builds) {
    const fresh = await compileKernel(b);
    const committed = await Deno.readFile(
      new URL(`../kernels/build/${b.name}.wasm`, import.meta.url),
    ).catch(() => undefined);
    assert(
      committed && committed.length === fresh.length && firstDiff(committed, fresh) < 0,
      `kernels/build/${b.name}.wasm is stale (run deno task build:kernels)`,
    );
  }
});

// ---------------------------------------------------------------------------
// The twins, by hand

Deno.test("convPreluF32 twin computes a hand-worked 2x2 convolution with bias and PReLU", () => {
  // one 3x3 single-channel image, 2x2 kernel, two output channels
  const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // HWIO: w[ky][kx][0][o]; channel 0 sums the window, channel 1 takes -top-left
  const w = new Float32Array([1, -1, 1, 0, 1, 0, 1, 0]);
  const y = R.convPreluF32(
    x,
    1,
    3,
    3,
    1,
    w,
    new Float32Array([0.5, 0]),
    new Float32Array([0.25, 0.5]),
    2,
    2,
    1,
  );
  // windows: [1,2,4,5] [2,3,5,6] [4,5,7,8] [5,6,8,9]
  assertEquals(Array.from(y), [12.5, -0.5, 16.5, -1, 24.5, -2, 28.5, -2.5]);
  // stride 2 keeps only the top-left window; no alpha means no activation
  const s2 = R.convPreluF32(x, 1, 3, 3, 1, w, new Float32Array([0, 0]), undefined, 2, 2, 2);
  assertEquals(Array.from(s2), [12, -1]);
});

Deno.test("depthwisePreluF32 twin filters each channel with its own kernel", () => {
  // 2x2 image, 2 channels; 2x2 kernel: channel 0 sums, channel 1 takes the bottom-right
  const x = new Float32Array([1, 10, 2, 20, 3, 30, 4, 40]);
  const w = new Float32Array([1, 0, 1, 0, 1, 0, 1, -1]);
  const y = R.depthwisePreluF32(
    x,
    1,
    2,
    2,
    2,
    w,
    new Float32Array([1, 0]),
    new Float32Array([0, 0.5]),
    2,
    2,
    1,
  );
  assertEquals(Array.from(y), [11, -20]);
});

Deno.test("maxPoolF32 twin: ceil windows hang over the edge and see only the pixels inside", () => {
  // 4x4 ramp, 3x3 windows, stride 2: ceil gives 2x2 outputs, floor 1x1
  const x = Float32Array.from({ length: 16 }, (_, i) => i);
  assertEquals(Array.from(R.maxPoolF32(x, 1, 4, 4, 1, 3, 2, "ceil")), [10, 11, 14, 15]);
  assertEquals(Array.from(R.maxPoolF32(x, 1, 4, 4, 1, 3, 2, "floor")), [10]);
  // 5 wide, 2x2 stride 2: ceil adds a last column window of one pixel
  const r = Float32Array.from({ length: 10 }, (_, i) => 10 - i);
  assertEquals(Array.from(R.maxPoolF32(r, 1, 2, 5, 1, 2, 2, "ceil")), [10, 8, 6]);
  assertEquals(Array.from(R.maxPoolF32(r, 1, 2, 5, 1, 2, 2, "floor")), [10, 8]);
});

Deno.test("normalizePixels twin applies (v - mean) * scale per channel, reversed for BGR", () => {
  const px = new Uint8Array([255, 0, 128, 10, 20, 30]);
  const mean = [127.5, 100, 0];
  const scale = [1 / 128, 0.5, 2];
  assertEquals(Array.from(R.normalizePixels(px, 3, mean, scale, false)), [
    0.99609375,
    -50,
    256,
    (10 - 127.5) / 128,
    -40,
    60,
  ]);
  assertEquals(Array.from(R.normalizePixels(px, 3, mean, scale, true)), [
    0.00390625,
    -50,
    510,
    (30 - 127.5) / 128,
    -40,
    20,
  ]);
});

Deno.test("splitHeads twin gives softmax(l)[1] and passes box and landmark values through", () => {
  const rows = new Float32Array([
    ...[0, 0, 1, 2, 3, 4],
    ...[Math.log(3), 0, 5, 6, 7, 8],
  ]);
  const out = R.splitHeads(rows, 6);
  assertEquals(out.cls[0], 0.5);
  assert(Math.abs(out.cls[1] - 0.25) < 1e-7, `${out.cls[1]}`);
  assertEquals(Array.from(out.box), [1, 2, 3, 4, 5, 6, 7, 8]);
  assertEquals(out.landmarks, undefined);
  const lm = R.splitHeads(Float32Array.from({ length: 16 }, (_, i) => i), 16);
  assertEquals(Array.from(lm.landmarks!), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});

Deno.test("convBlockWidths covers every output channel with blocks of 8, 12 and 4", () => {
  for (let oc = 1; oc <= 70; oc++) {
    const widths = convBlockWidths(oc);
    const total = widths.reduce((a, b) => a + b, 0);
    assert(total >= oc && total - oc < 4, `oc ${oc}: widths ${widths}`);
    assert(widths.every((w) => w === 8 || w === 12 || w === 4), `oc ${oc}: widths ${widths}`);
  }
  assertEquals(convBlockWidths(10), [12]);
  assertEquals(convBlockWidths(29), [8, 8, 8, 8]);
  assertEquals(convBlockWidths(28), [8, 8, 12]);
  assertEquals(convBlockWidths(3), [4]);
});

// ---------------------------------------------------------------------------
// Kernels against their twins

/** [n, h, w, c, oc, kh, kw, stride]: every block width, strides 1 and 2, dense-like 1x1 on 1x1. */
const CONV_CASES = [
  [2, 13, 17, 3, 7, 3, 3, 1],
  [1, 12, 12, 3, 10, 3, 3, 1],
  [3, 9, 11, 13, 29, 3, 3, 2],
  [2, 7, 8, 10, 16, 2, 2, 1],
  [1, 6, 9, 5, 3, 1, 1, 1],
  [5, 1, 1, 37, 11, 1, 1, 1],
  [7, 1, 1, 53, 6, 1, 1, 1],
  [2, 5, 5, 4, 28, 3, 3, 1],
  [1, 8, 7, 6, 20, 2, 2, 2],
  [3, 4, 4, 9, 1, 4, 4, 1],
  [1, 3, 3, 2, 44, 3, 3, 1],
] as const;

Deno.test("convPreluF32 kernel matches the twin on odd sizes and channel counts", () => {
  const rng = new Rng(SEED);
  for (const [n, h, w, c, oc, kh, kw, s] of CONV_CASES) {
    const x = randomF32(rng, n * h * w * c);
    const wt = randomF32(rng, kh * kw * c * oc);
    const b = randomF32(rng, oc);
    const a = randomF32(rng, oc, -0.5, 0.5);
    const want = R.convPreluF32(x, n, h, w, c, wt, b, a, kh, kw, s);
    const linear = R.convPreluF32(x, n, h, w, c, wt, b, undefined, kh, kw, s);
    for (const k of VARIANTS) {
      const what = `${k.variant} ${[n, h, w, c, oc, kh, kw, s]}`;
      assertParity(k, k.convPreluF32(x, n, h, w, c, wt, b, a, kh, kw, s), want, what);
      assertParity(k, k.convPreluF32(x, n, h, w, c, wt, b, undefined, kh, kw, s), linear, what);
    }
  }
});

Deno.test("convPreluPoolF32 kernel matches the twin (ceil and floor, 2/2 and 3/2, small and ring paths)", () => {
  const rng = new Rng(SEED + 1);
  const cases = [
    // [n, h, w, c, oc, k, size, poolStride]
    [3, 13, 17, 3, 10, 3, 2, 2],
    [2, 24, 24, 3, 28, 3, 3, 2],
    [7, 11, 11, 5, 13, 3, 3, 2],
    [1, 9, 10, 4, 7, 2, 2, 2],
    [1, 95, 127, 3, 9, 3, 3, 2],
    // one 260x260x16 conv output is 4.3 MB: convolved a ring of rows at a time
    [1, 262, 262, 3, 16, 3, 2, 2],
    [1, 140, 250, 3, 29, 3, 3, 2],
  ] as const;
  for (const [n, h, w, c, oc, k, size, ps] of cases) {
    const x = randomF32(rng, n * h * w * c);
    const wt = randomF32(rng, k * k * c * oc);
    const b = randomF32(rng, oc);
    const a = randomF32(rng, oc, -0.5, 0.5);
    const conv = R.convPreluF32(x, n, h, w, c, wt, b, a, k, k, 1);
    for (const rounding of ["ceil", "floor"] as const) {
      // convPreluPoolF32 twin = maxPoolF32(convPreluF32(...)), the convolution taken once here
      const want = R.maxPoolF32(conv, n, h - k + 1, w - k + 1, oc, size, ps, rounding);
      if (h < 20) {
        assertEquals(
          want,
          R.convPreluPoolF32(x, n, h, w, c, wt, b, a, k, k, 1, size, ps, rounding),
        );
      }
      for (const kern of VARIANTS) {
        const got = kern.convPreluPoolF32(x, n, h, w, c, wt, b, a, k, k, 1, size, ps, rounding);
        assertParity(
          kern,
          got,
          want,
          `${kern.variant} ${[n, h, w, c, oc, k, size, ps]} ${rounding}`,
        );
      }
    }
  }
});

Deno.test("convPreluThen1x1F32 kernel matches the twin (chunks of rows across images and within one)", () => {
  const rng = new Rng(SEED + 6);
  // [n, h, w, c, oc, k, units]: 200x150x16 outputs take several chunks of rows
  for (
    const [n, h, w, c, oc, k, units] of [[3, 13, 17, 7, 29, 3, 6], [1, 200, 150, 5, 16, 3, 16], [
      2,
      12,
      12,
      16,
      32,
      3,
      6,
    ]]
  ) {
    const x = randomF32(rng, n * h * w * c);
    const wt = randomF32(rng, k * k * c * oc);
    const b = randomF32(rng, oc);
    const a = randomF32(rng, oc, -0.5, 0.5);
    const w2 = randomF32(rng, oc * units);
    const b2 = randomF32(rng, units);
    const want = R.convPreluThen1x1F32(x, n, h, w, c, wt, b, a, k, k, 1, w2, b2, undefined);
    for (const kern of VARIANTS) {
      const got = kern.convPreluThen1x1F32(x, n, h, w, c, wt, b, a, k, k, 1, w2, b2, undefined);
      assertParity(kern, got, want, `${kern.variant} ${[n, h, w, c, oc, k, units]}`);
    }
  }
});

Deno.test("depthwisePreluF32 kernel matches the twin on odd channel counts", () => {
  const rng = new Rng(SEED + 2);
  for (
    const [n, h, w, c, k, s] of [[2, 13, 17, 7, 3, 1], [1, 9, 11, 13, 3, 2], [3, 5, 6, 4, 2, 1], [
      1,
      12,
      7,
      1,
      3,
      2,
    ]]
  ) {
    const x = randomF32(rng, n * h * w * c);
    const wt = randomF32(rng, k * k * c);
    const b = randomF32(rng, c);
    const a = randomF32(rng, c, -0.5, 0.5);
    for (const alpha of [a, undefined]) {
      const want = R.depthwisePreluF32(x, n, h, w, c, wt, b, alpha, k, k, s);
      for (const kern of VARIANTS) {
        const got = kern.depthwisePreluF32(x, n, h, w, c, wt, b, alpha, k, k, s);
        assertParity(kern, got, want, `${kern.variant} ${[n, h, w, c, k, s]}`);
      }
    }
  }
});

Deno.test("maxPoolF32 kernel equals the twin: sizes 2, 3 and 4, ceil and floor, odd sides and channels", () => {
  const rng = new Rng(SEED + 3);
  for (const [n, h, w, c] of [[2, 13, 17, 10], [1, 11, 11, 3], [3, 4, 5, 1], [1, 22, 22, 28]]) {
    const x = randomF32(rng, n * h * w * c);
    for (const [size, stride] of [[2, 2], [3, 2], [4, 3], [3, 1]]) {
      for (const rounding of ["ceil", "floor"] as const) {
        const want = R.maxPoolF32(x, n, h, w, c, size, stride, rounding);
        for (const kern of VARIANTS) {
          const got = kern.maxPoolF32(x, n, h, w, c, size, stride, rounding);
          const i = firstDiff(got, want);
          assert(i < 0, `${[n, h, w, c, size, stride]} ${rounding}: element ${i}`);
        }
      }
    }
  }
});

Deno.test("preluF32, normalizePixels and splitHeads kernels match their twins", () => {
  const rng = new Rng(SEED + 4);
  for (const c of [1, 3, 5, 10, 29]) {
    const x = randomF32(rng, 13 * c);
    const alpha = randomF32(rng, c);
    for (const kern of VARIANTS) {
      assertEquals(firstDiff(kern.preluF32(x, alpha), R.preluF32(x, alpha)), -1, `prelu c=${c}`);
    }
  }
  for (const [pixels, c] of [[1, 3], [7, 3], [13, 3], [640, 3], [5, 1], [9, 4]]) {
    const u8 = Uint8Array.from({ length: pixels * c }, () => rng.int(0, 256));
    const f = randomF32(rng, pixels * c, 0, 255);
    const mean = Array.from({ length: c }, () => rng.uniform(0, 255));
    const scale = Array.from({ length: c }, () => rng.uniform(0.001, 0.1));
    for (const bgr of [false, true]) {
      for (const src of [u8, f]) {
        const want = R.normalizePixels(src, c, mean, scale, bgr);
        for (const kern of VARIANTS) {
          const got = kern.normalizePixels(src, c, mean, scale, bgr);
          const i = firstDiff(got, want);
          assert(i < 0, `${pixels}x${c} bgr ${bgr} ${src.constructor.name}: element ${i}`);
        }
      }
    }
  }
  for (const units of [6, 16] as const) {
    const rows = randomF32(rng, 37 * units, -8, 8);
    const want = R.splitHeads(rows, units);
    for (const kern of VARIANTS) {
      const got = kern.splitHeads(rows, units);
      assert(maxAbsDiff(got.cls, want.cls) <= 1e-6, `cls ${maxAbsDiff(got.cls, want.cls)}`);
      assertEquals(got.box, want.box);
      assertEquals(got.landmarks, want.landmarks);
    }
  }
});

Deno.test("engine kernels and twins reject bad shapes with the same one-line RangeError", () => {
  const x = new Float32Array(2 * 5 * 5 * 3);
  const w = new Float32Array(3 * 3 * 3 * 4);
  const b = new Float32Array(4);
  const cases: [string, (m: typeof R | EngineKernels) => unknown][] = [
    ["x.length", (m) => m.convPreluF32(x.subarray(1), 2, 5, 5, 3, w, b, undefined, 3, 3, 1)],
    [
      "smaller than the 3x3 window",
      (m) => m.convPreluF32(x, 1, 5, 2, 15, w, b, undefined, 3, 3, 1),
    ],
    ["weight.length", (m) => m.convPreluF32(x, 2, 5, 5, 3, w.subarray(1), b, undefined, 3, 3, 1)],
    ["alpha.length", (m) => m.convPreluF32(x, 2, 5, 5, 3, w, b, new Float32Array(3), 3, 3, 1)],
    ["stride", (m) => m.convPreluF32(x, 2, 5, 5, 3, w, b, undefined, 3, 3, 0)],
    [
      "smaller than the 4x4 window",
      (m) => m.convPreluPoolF32(x, 2, 5, 5, 3, w, b, undefined, 3, 3, 1, 4, 2, "ceil"),
    ],
    ["rounding", (m) => m.maxPoolF32(x, 2, 5, 5, 3, 2, 2, "round" as "ceil")],
    ["bias.length", (m) => m.depthwisePreluF32(x, 2, 5, 5, 3, w, b, undefined, 3, 3, 1)],
    ["multiple of 4", (m) => m.preluF32(new Float32Array(7), new Float32Array(4))],
    ["mean and scale", (m) => m.normalizePixels(new Uint8Array(6), 3, [1, 2], [1, 2, 3], false)],
    ["units", (m) => m.splitHeads(new Float32Array(12), 12 as 6)],
    [
      "weight.length 7 != 4*6",
      (m) =>
        m.convPreluThen1x1F32(
          x,
          2,
          5,
          5,
          3,
          w,
          b,
          undefined,
          3,
          3,
          1,
          new Float32Array(7),
          new Float32Array(6),
          undefined,
        ),
    ],
  ];
  for (const [includes, call] of cases) {
    const twin = assertThrows(() => call(R), RangeError, includes);
    for (const kern of VARIANTS) {
      const e = assertThrows(() => call(kern), RangeError, includes);
      assertEquals(e.message, twin.message);
    }
  }
});

Deno.test("engine kernels re-make their memory views after the WASM memory grows", async () => {
  const kern = await createEngineKernels({ relaxedSimd: false });
  const rng = new Rng(SEED + 5);
  const small = randomF32(rng, 5 * 5 * 3);
  const w = randomF32(rng, 27 * 4);
  const b = randomF32(rng, 4);
  const before = kern.memoryBytes();
  const first = kern.convPreluF32(small, 1, 5, 5, 3, w, b, undefined, 3, 3, 1);
  const big = randomF32(rng, 300 * 300 * 3);
  kern.convPreluF32(big, 1, 300, 300, 3, w, b, undefined, 3, 3, 1);
  assert(kern.memoryBytes() > before, "memory should have grown");
  assertEquals(kern.convPreluF32(small, 1, 5, 5, 3, w, b, undefined, 3, 3, 1), first);
});

// ---------------------------------------------------------------------------
// Whole nets against the tfjs forward pass

await initBackend("wasm");

/** The tfjs forward pass of `data` on pixels [n, h, w, 3]. */
function tfjsRun(
  data: NetData,
  px: Float32Array,
  n: number,
  h: number,
  w: number,
  normalized = false,
) {
  const net = createNet(data.arch, data.params);
  try {
    return tf.tidy(() => {
      const o = forward(net, tf.tensor4d(px, [n, h, w, data.arch.input.channels]), { normalized });
      return {
        cls: o.cls.dataSync() as Float32Array,
        box: o.box.dataSync() as Float32Array,
        landmarks: o.landmarks?.dataSync() as Float32Array | undefined,
        shape: o.cls.shape,
      };
    });
  } finally {
    disposeNet(net);
  }
}

function pixels(rng: Rng, count: number): Float32Array {
  return Float32Array.from({ length: count }, () => rng.int(0, 256));
}

/** Max abs difference of every output against tfjs; checks shapes too. */
function compare(engine: Engine, data: NetData, n: number, h: number, w: number, rng: Rng): number {
  const px = pixels(rng, n * h * w * data.arch.input.channels);
  const got = engine.run(px, n, h, w);
  const want = tfjsRun(data, px, n, h, w);
  const spatial = want.shape.length === 3;
  assertEquals([got.outH, got.outW], spatial ? [want.shape[1], want.shape[2]] : [1, 1]);
  assertEquals(got.landmarks === undefined, want.landmarks === undefined, "landmarks head");
  return Math.max(
    maxAbsDiff(got.cls, want.cls),
    maxAbsDiff(got.box, want.box),
    got.landmarks ? maxAbsDiff(got.landmarks, want.landmarks!) : 0,
  );
}

const ENGINE_VARIANTS = VARIANTS.map((k) => k.variant === "relaxed-simd");

Deno.test("engine PNet with pruned-like channels (7/13/29) matches tfjs within 1e-4 on 13x17, 37x53, 127x95", async () => {
  const data = randomNetData(pnetArch({ channels: [7, 13, 29] }), SEED);
  const rng = new Rng(SEED + 10);
  for (const relaxedSimd of ENGINE_VARIANTS) {
    const engine = await createEngine(data, { relaxedSimd });
    for (const [n, h, w] of [[1, 13, 17], [2, 37, 53], [1, 127, 95], [1, 12, 12]]) {
      const d = compare(engine, data, n, h, w, rng);
      assert(d <= 1e-4, `${engine.variant} ${n}x${h}x${w}: ${d}`);
    }
  }
});

Deno.test("engine RNet and ONet with odd channel counts match tfjs within 1e-4 on batches of 3 and 7", async () => {
  const rng = new Rng(SEED + 11);
  const archs = [
    rnetArch({ channels: [11, 23, 37], dense: 45 }),
    rnetArch({ channels: [5, 9, 3], dense: 7, rounding: "floor" }),
    onetArch({ channels: [9, 17, 19, 33], dense: 51 }),
    onetArch({ channels: [13, 21, 10, 6], dense: 17, rounding: "floor", landmarks: false }),
  ];
  for (const arch of archs) {
    const data = randomNetData(arch, SEED);
    for (const relaxedSimd of ENGINE_VARIANTS) {
      const engine = await createEngine(data, { relaxedSimd });
      for (const n of [3, 7]) {
        const s = arch.input.size;
        const d = compare(engine, data, n, s, s, rng);
        assert(d <= 1e-4, `${arch.name} ${engine.variant} x${n}: ${d}`);
      }
    }
  }
});

Deno.test("engine runs depthwise, ReLU, stand-alone PReLU, BGR input and heads after a pool as tfjs does", async () => {
  const arch: NetArch = {
    name: "odd",
    input: {
      size: 16,
      channels: 3,
      channelOrder: "BGR",
      mean: [104, 117, 123],
      scale: [0.017, 0.0175, 0.018],
    },
    layers: [
      { kind: "conv", name: "c1", kh: 3, kw: 3, stride: 1, filters: 6, padding: "valid" },
      { kind: "relu" },
      { kind: "depthwise", name: "dw", kh: 3, kw: 3, stride: 2, padding: "valid" },
      { kind: "prelu", name: "p1" },
      { kind: "maxpool", size: 2, stride: 1, rounding: "floor" },
      { kind: "prelu", name: "p2" },
      { kind: "conv", name: "c2", kh: 2, kw: 2, stride: 2, filters: 9, padding: "valid" },
      { kind: "flatten" },
      { kind: "dense", name: "fc", units: 5 },
      { kind: "relu" },
      { kind: "landmarks", name: "lm" },
      { kind: "box", name: "bx" },
      { kind: "cls", name: "cl" },
    ],
  };
  const data = randomNetData(arch, SEED);
  // non-trivial alphas and biases, so that every activation path shows
  const rng = new Rng(SEED + 12);
  for (const [name, v] of Object.entries(data.params)) {
    if (!name.endsWith(".weight")) v.set(randomF32(rng, v.length, -0.5, 0.5));
  }
  for (const relaxedSimd of ENGINE_VARIANTS) {
    const engine = await createEngine(data, { relaxedSimd });
    const d = compare(engine, data, 5, 16, 16, rng);
    assert(d <= 1e-4, `${engine.variant}: ${d}`);
  }
  // fully convolutional nets whose trunk ends in a pool or a depthwise convolution
  // (the heads then run on their own, not fused into the last convolution)
  for (
    const tail of [[{ kind: "maxpool", size: 3, stride: 2, rounding: "ceil" }], [
      { kind: "depthwise", name: "dw2", kh: 2, kw: 2, stride: 1, padding: "valid" },
      { kind: "prelu", name: "p3" },
    ]] as NetArch["layers"][]
  ) {
    const spatial: NetArch = {
      name: "spatial",
      input: { ...arch.input, size: 20 },
      layers: [...arch.layers.slice(0, 7), ...tail, ...arch.layers.slice(10)],
    };
    const sdata = randomNetData(spatial, SEED);
    for (const [name, v] of Object.entries(sdata.params)) {
      if (!name.endsWith(".weight")) v.set(randomF32(rng, v.length, -0.5, 0.5));
    }
    for (const relaxedSimd of ENGINE_VARIANTS) {
      const engine = await createEngine(sdata, { relaxedSimd });
      for (const [n, h, w] of [[2, 31, 23], [1, 20, 20]]) {
        const d = compare(engine, sdata, n, h, w, rng);
        assert(d <= 1e-4, `${tail[0].kind} ${engine.variant} ${n}x${h}x${w}: ${d}`);
      }
    }
  }
});

Deno.test("engine with the original weights matches tfjs within 1e-4 (PNet 127x95, RNet and ONet x7)", async () => {
  const paths = await ensureOriginalWeights();
  const rng = new Rng(SEED + 13);
  for (
    const [name, n, h, w] of [["pnet", 1, 127, 95], ["pnet", 2, 37, 53], ["rnet", 7, 24, 24], [
      "onet",
      7,
      48,
      48,
    ]] as const
  ) {
    const data = await loadNetData(paths[name]);
    for (const relaxedSimd of ENGINE_VARIANTS) {
      const engine = await createEngine(data, { relaxedSimd });
      const d = compare(engine, data, n, h, w, rng);
      assert(d <= 1e-4, `${name} ${engine.variant} ${n}x${h}x${w}: ${d}`);
    }
  }
});

// ---------------------------------------------------------------------------
// The engine's API

Deno.test("engine run() takes u8 or float pixels; runNormalized() takes the normalised batch", async () => {
  const data = randomNetData(rnetArch({ channels: [7, 9, 11], dense: 13 }), SEED);
  const engine = await createEngine(data);
  const rng = new Rng(SEED + 20);
  const u8 = Uint8Array.from({ length: 3 * 24 * 24 * 3 }, () => rng.int(0, 256));
  const a = engine.run(u8, 3, 24, 24);
  const b = engine.run(Float32Array.from(u8), 3, 24, 24);
  assertEquals(a, b);
  const norm = R.normalizePixels(u8, 3, data.arch.input.mean, data.arch.input.scale, false);
  assertEquals(engine.runNormalized(norm, 3), a);
  const want = tfjsRun(data, norm, 3, 24, 24, true);
  assert(maxAbsDiff(a.cls, want.cls) <= 1e-4 && maxAbsDiff(a.box, want.box) <= 1e-4);
});

Deno.test("engine plans per input size and batch give the same outputs in any order", async () => {
  const data = randomNetData(pnetArch({ channels: [5, 7, 9] }), SEED);
  const engine = await createEngine(data);
  const rng = new Rng(SEED + 21);
  const sizes = [[1, 40, 30], [3, 13, 17], [1, 200, 150], [5, 13, 17], [1, 40, 30]] as const;
  const inputs = sizes.map(([n, h, w]) => pixels(rng, n * h * w * 3));
  const first: EngineOutput[] = sizes.map(([n, h, w], i) => engine.run(inputs[i], n, h, w));
  const fresh = await createEngine(data);
  for (let i = sizes.length - 1; i >= 0; i--) {
    const [n, h, w] = sizes[i];
    assertEquals(engine.run(inputs[i], n, h, w), first[i], `again ${sizes[i]}`);
    assertEquals(fresh.run(inputs[i], n, h, w), first[i], `fresh ${sizes[i]}`);
  }
  // a batch is the images one by one
  const [n, h, w] = sizes[3];
  const per = h * w * 3;
  const out = first[3];
  const cells = out.outH * out.outW;
  for (let i = 0; i < n; i++) {
    const one = engine.run(inputs[3].subarray(i * per, (i + 1) * per), 1, h, w);
    assertEquals(one.cls, out.cls.slice(i * cells, (i + 1) * cells), `image ${i}`);
    assertEquals(one.box, out.box.slice(4 * i * cells, 4 * (i + 1) * cells), `image ${i}`);
  }
});

Deno.test("engine reports FLOPs: PNet 640x480 is 1.092 GFLOP", async () => {
  const engine = await createEngine(randomNetData(pnetArch(), SEED));
  const f = engine.flops(1, 480, 640);
  assert(Math.abs(f / 1e9 - 1.092) < 0.0005, `${f}`);
  assertEquals(engine.flops(3, 480, 640), 3 * f);
  const profile = engine.profile(new Uint8Array(2 * 30 * 40 * 3), 2, 30, 40);
  assertEquals(
    profile.reduce((s, p) => s + p.flops, 0),
    engine.flops(2, 30, 40),
  );
  assert(profile.some((p) => p.name === "conv1+prelu1+pool2/2"), profile.map((p) => p.name).join());
});

Deno.test("engine rejects bad inputs and weights with one-line errors", async () => {
  const data = randomNetData(rnetArch(), SEED);
  const engine = await createEngine(data);
  assertThrows(() => engine.run(new Uint8Array(10), 1, 24, 24), RangeError, "input length 10");
  assertThrows(() => engine.run(new Uint8Array(30 * 30 * 3), 1, 30, 30), RangeError, "24x24");
  assertThrows(() => engine.run(new Uint8Array(0), 0, 24, 24), RangeError, "n must be");
  assertThrows(
    () => engine.runNormalized(new Uint8Array(24 * 24 * 3) as unknown as Float32Array, 1),
    TypeError,
  );
  const pnet = await createEngine(randomNetData(pnetArch(), SEED));
  assertThrows(() => pnet.run(new Uint8Array(8 * 20 * 3), 1, 8, 20), RangeError, "smaller");
  const broken = { ...data, params: { ...data.params } };
  delete broken.params["fc.bias"];
  let e: unknown;
  await createEngine(broken).catch((x) => (e = x));
  assert(e instanceof RangeError && e.message.includes("fc.bias is missing"), String(e));
  const short = { ...data, params: { ...data.params, "conv2.weight": new Float32Array(5) } };
  e = undefined;
  await createEngine(short).catch((x) => (e = x));
  assert(e instanceof RangeError && e.message.includes("conv2.weight has 5 values"), String(e));
});
