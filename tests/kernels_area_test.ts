/**
 * The INTER_AREA kernels and the SIMD peak probe (kernels/assembly/area.ts)
 * against their twins in kernels/reference.ts: same bytes, same floats, on
 * odd sizes and crops hanging off every edge (seeded random images), both builds.
 */
import { createKernels, type Kernels } from "../kernels/mod.ts";
import * as R from "../kernels/reference.ts";
import { relaxedSimdSupported } from "../kernels/mod.ts";
import { Rng } from "../src/util/random.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";

const builds: [string, Kernels][] = [["simd", await createKernels({ relaxedSimd: false })]];
if (relaxedSimdSupported()) {
  builds.push(["relaxed-simd", await createKernels({ relaxedSimd: true })]);
}

function randomImage(rng: Rng, w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h * 3);
  for (let i = 0; i < a.length; i++) a[i] = Math.floor(rng.next() * 256);
  return a;
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `at ${i}: ${a[i]} vs ${b[i]}`;
  return "";
}

Deno.test("resizeAreaU8 kernel equals its twin byte for byte on odd sizes, shrinking and enlarging", () => {
  const rng = new Rng(11);
  const sizes: [number, number, number, number][] = [
    [13, 7, 5, 3],
    [127, 61, 61, 29],
    [641, 479, 455, 340],
    [97, 53, 13, 11],
    [5, 3, 17, 9],
    [31, 17, 31, 17],
    [9, 23, 4, 40],
    [300, 293, 7, 5],
  ];
  for (const [w, h, dw, dh] of sizes) {
    const src = randomImage(rng, w, h);
    const want = R.resizeAreaU8(src, w, h, dw, dh);
    for (const [name, k] of builds) {
      const got = k.resizeAreaU8(src, w, h, dw, dh);
      assertEquals(firstDiff(got, want), "", `${name} ${w}x${h} -> ${dw}x${dh}`);
    }
  }
});

Deno.test("cropResizeAreaU8ToF32 kernel equals its twin float for float, crops inside and off every edge", () => {
  const rng = new Rng(12);
  const w = 151, h = 97;
  const src = randomImage(rng, w, h);
  const rects: number[] = [];
  for (let i = 0; i < 60; i++) {
    const side = 1 + Math.floor(rng.next() * 120);
    const sideH = rng.next() < 0.3 ? 1 + Math.floor(rng.next() * 90) : side;
    rects.push(
      Math.floor(rng.next() * (w + 40)) - 40,
      Math.floor(rng.next() * (h + 40)) - 40,
      side,
      sideH,
    );
  }
  const boxes = Int32Array.from(rects);
  // 127.5, 1/128: exact in f32 (the kernel normalises in f32); 104.1, 1/57.3: not (in f64)
  const f = Math.fround;
  assert(
    Array.from({ length: 256 }, (_, v) => v).some((v) =>
      f(f(v - f(104.1)) * f(1 / 57.3)) !== f((v - 104.1) * (1 / 57.3))
    ),
  );
  for (const [mean, scale] of [[127.5, 0.0078125], [104.1, 1 / 57.3]]) {
    for (const size of [12, 24, 48, 7]) {
      const want = R.cropResizeAreaU8ToF32(src, w, h, boxes, size, mean, scale);
      for (const [name, k] of builds) {
        const got = k.cropResizeAreaU8ToF32(src, w, h, boxes, size, mean, scale);
        assertEquals(firstDiff(got, want), "", `${name} size ${size} mean ${mean}`);
      }
    }
  }
});

Deno.test("area kernels equal their twins on windows too big for u32 sums (the kernel's scalar f64 path)", () => {
  const rng = new Rng(14);
  // 65537 rows (prime) -> 2: the vertical weights exceed 16 bits
  const tall = randomImage(rng, 3, 65537);
  const want = R.resizeAreaU8(tall, 3, 65537, 2, 2);
  // 4099 x 4111 boxes (primes) -> 7: 255 * 4099 * 4111 >= 2^32
  const w = 41, h = 23;
  const src = randomImage(rng, w, h);
  const boxes = Int32Array.from([-2000, -2000, 4099, 4111, -4090, -4100, 4099, 4111, 3, 4, 9, 9]);
  const wantCrops = R.cropResizeAreaU8ToF32(src, w, h, boxes, 7, 127.5, 0.0078125);
  assert(wantCrops.some((v) => v !== -127.5 * 0.0078125), "the big boxes cover some pixels");
  for (const [name, k] of builds) {
    assertEquals(firstDiff(k.resizeAreaU8(tall, 3, 65537, 2, 2), want), "", `${name} tall`);
    const got = k.cropResizeAreaU8ToF32(src, w, h, boxes, 7, 127.5, 0.0078125);
    assertEquals(firstDiff(got, wantCrops), "", `${name} big boxes`);
  }
});

Deno.test("cropResizeAreaU8ToF32 fills and returns `out` with what it would return, kernel and twin; a wrong length is a RangeError", () => {
  const rng = new Rng(13);
  const w = 37, h = 29;
  const src = randomImage(rng, w, h);
  const boxes = Int32Array.from([-3, -2, 15, 15, 20, 10, 30, 31, 5, 5, 9, 3]);
  const want = R.cropResizeAreaU8ToF32(src, w, h, boxes, 24, 127.5, 0.0078125);
  for (const [name, f] of [["twin", R] as const, ...builds]) {
    const out = new Float32Array(2 * want.length).fill(7);
    const into = out.subarray(want.length);
    const got = f.cropResizeAreaU8ToF32(src, w, h, boxes, 24, 127.5, 0.0078125, into);
    assert(got === into, `${name} returns out`);
    assertEquals(firstDiff(got, want), "", name);
    assert(out.subarray(0, want.length).every((v) => v === 7), `${name} writes only out`);
    assertThrows(
      () => f.cropResizeAreaU8ToF32(src, w, h, boxes, 24, 0, 1, new Float32Array(5)),
      RangeError,
      `out must be a Float32Array of ${want.length} floats, got 5`,
    );
  }
});

Deno.test("area kernels reject what their twins reject, with the same one-line errors", () => {
  const src = new Uint8Array(4 * 3 * 3);
  for (const [, k] of builds) {
    for (const f of [R, k]) {
      assertThrows(
        () => f.resizeAreaU8(src, 4, 2, 2, 2),
        RangeError,
        "4x2 RGB needs 24 bytes, got 36",
      );
      assertThrows(() => f.resizeAreaU8(src, 4, 3, 0, 2), RangeError, "bad output size 0x2");
      assertThrows(
        () => f.cropResizeAreaU8ToF32(src, 4, 3, new Int32Array([0, 0, 0, 2]), 24, 0, 1),
        RangeError,
        "box 0 (0, 0, 0, 2) has a side < 1",
      );
    }
  }
});

Deno.test("fmaPeak kernel returns its twin's sum (both builds); the twin converges to 32 * c / (1 - a)", () => {
  for (const iters of [1, 3, 50, 1000]) {
    const want = R.fmaPeak(iters, 0.5, 1);
    for (const [name, k] of builds) {
      assertEquals(k.fmaPeak(iters, 0.5, 1), want, `${name} ${iters}`);
    }
  }
  assertEquals(R.fmaPeak(1000, 0.5, 1), 64);
  assert(R.fmaPeak(1, 0.5, 1) !== 64);
});
