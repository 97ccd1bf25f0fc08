/**
 * Gradient kernels: the twins mean what they say (hand-worked cases, adjoint
 * identities), the AssemblyScript kernels match the twins on odd sizes (both
 * builds), and on the tfjs wasm backend every gradient, down to whole PNet /
 * RNet / ONet losses, matches tfjs' cpu backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";
import * as K from "../kernels/mod.ts";
import * as R from "../kernels/reference.ts";
import { Rng } from "../src/util/random.ts";
import {
  createNet,
  forward,
  initBackend,
  type Net,
  type NetArch,
  onetArch,
  planArch,
  pnetArch,
  randomNetData,
  rnetArch,
} from "../src/nets/mod.ts";
import {
  disableTrainingKernels,
  enableTrainingKernels,
  preluBackward,
  trainingKernelMode,
} from "../src/train/mod.ts";

const SEED = 20261130;

/** Both builds where the engine runs them. */
const VARIANTS: K.GradKernels[] = [K.createGradKernels({ relaxedSimd: false })];
if (K.relaxedSimdSupported()) VARIANTS.push(K.createGradKernels({ relaxedSimd: true }));

function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

function geometry(
  batch: number,
  size: number,
  channels: number,
  k: number,
  stride: number,
  pad = 0,
  out?: number,
): R.WindowGeometry {
  const o = out ?? Math.floor((size + 2 * pad - k) / stride) + 1;
  return {
    batch,
    inHeight: size,
    inWidth: size + 1, // never square: catches swapped axes
    channels,
    outHeight: o,
    outWidth: out ?? Math.floor((size + 1 + 2 * pad - k) / stride) + 1,
    filterHeight: k,
    filterWidth: k,
    strideHeight: stride,
    strideWidth: stride,
    padTop: pad,
    padLeft: pad,
  };
}

/** max |a - b| <= rel * max |b| (or rel when b is all zero). */
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, what: string) {
  const d = maxAbsDiff(a, b);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  assert(d <= rel * (scale || 1), `${what}: max abs diff ${d} > ${rel} x ${scale}`);
}

/** Float64 valid convolution (test-only forward, for the adjoint identities). */
function conv2d(x: Float32Array, f: Float32Array, g: R.WindowGeometry, co: number): Float64Array {
  const y = new Float64Array(g.batch * g.outHeight * g.outWidth * co);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++) {
        for (let ky = 0; ky < g.filterHeight; ky++) {
          for (let kx = 0; kx < g.filterWidth; kx++) {
            const iy = oy * g.strideHeight + ky;
            const ix = ox * g.strideWidth + kx;
            for (let i = 0; i < g.channels; i++) {
              const xv = x[((b * g.inHeight + iy) * g.inWidth + ix) * g.channels + i];
              for (let o = 0; o < co; o++) {
                y[((b * g.outHeight + oy) * g.outWidth + ox) * co + o] += xv *
                  f[((ky * g.filterWidth + kx) * g.channels + i) * co + o];
              }
            }
          }
        }
      }
    }
  }
  return y;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

// ---------------------------------------------------------------------------
// Build

Deno.test("grad.wasm builds import only env.memory and have no data segment (they run on tfjs' heap)", async () => {
  for (const name of ["grad", "grad_relaxed"]) {
    const bytes = await Deno.readFile(new URL(`../kernels/build/${name}.wasm`, import.meta.url));
    if (name === "grad_relaxed" && !K.relaxedSimdSupported()) continue;
    const module = await WebAssembly.compile(bytes);
    assertEquals(
      WebAssembly.Module.imports(module),
      [{ module: "env", name: "memory", kind: "memory" }],
      name,
    );
    // Walk the sections: a data section (id 11) would write into the host's memory.
    const ids: number[] = [];
    let p = 8;
    const leb = () => {
      let r = 0, shift = 0, byte;
      do {
        byte = bytes[p++];
        r |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      return r >>> 0;
    };
    while (p < bytes.length) {
      ids.push(bytes[p++]);
      const size = leb();
      p += size;
    }
    assertEquals(p, bytes.length, `${name}: section sizes add up`);
    assert(!ids.includes(11), `${name} has a data section (sections ${ids})`);
  }
});

// ---------------------------------------------------------------------------
// Twins

Deno.test("twins: the JSDoc examples hold", () => {
  const g22 = geometry(1, 2, 1, 2, 1);
  g22.inWidth = 2;
  g22.outWidth = 1;
  const g33 = { ...g22, inHeight: 3, inWidth: 3, outHeight: 2, outWidth: 2 };
  assertEquals(
    R.conv2dFilterGrad(new Float32Array(9).fill(1), new Float32Array(4).fill(1), g33, 1),
    new Float32Array([4, 4, 4, 4]),
  );
  assertEquals(
    R.conv2dInputGrad(new Float32Array([2]), new Float32Array([1, 2, 3, 4]), g22, 1),
    new Float32Array([2, 4, 6, 8]),
  );
  const row = { ...g22, inHeight: 1, inWidth: 3, filterHeight: 1, filterWidth: 3 };
  assertEquals(
    R.maxPoolGrad(new Float32Array([1, 5, 5]), new Float32Array([5]), new Float32Array([2]), row),
    new Float32Array([0, 2, 0]),
  );
  const p = R.preluGrad(
    new Float32Array([2, -3]),
    new Float32Array([0.25]),
    new Float32Array([1, 1]),
  );
  assertEquals(p.dx, new Float32Array([1, 0.25]));
  assertEquals(p.dalpha, new Float32Array([-3]));
  assertEquals(R.sumRows(new Float32Array([1, 2, 3, 4]), 2, 2), new Float32Array([4, 6]));
  assertEquals(
    R.depthwiseFilterGrad(new Float32Array([1, 2, 3, 4]), new Float32Array([2]), g22),
    new Float32Array([2, 4, 6, 8]),
  );
  assertEquals(
    R.depthwiseInputGrad(new Float32Array([2]), new Float32Array([1, 2, 3, 4]), g22),
    new Float32Array([2, 4, 6, 8]),
  );
  assertEquals(
    R.unsortedSegmentSum(new Float32Array([1, 2, 3]), new Int32Array([1, 1, 0]), 1, 2),
    new Float32Array([3, 3]),
  );
});

Deno.test("conv gradient twins are the adjoints of the convolution: <conv(x,f), dy> = <x, dX(dy,f)> = <f, dW(x,dy)>", () => {
  const rng = new Rng(SEED);
  for (const [k, s] of [[1, 1], [2, 2], [3, 1], [3, 2]]) {
    const g = geometry(3, 13, 5, k, s);
    const co = 7;
    const x = randomF32(rng, g.batch * g.inHeight * g.inWidth * 5);
    const f = randomF32(rng, k * k * 5 * co);
    const dy = randomF32(rng, g.batch * g.outHeight * g.outWidth * co);
    const lhs = dot(conv2d(x, f, g, co), dy);
    const viaX = dot(x, R.conv2dInputGrad(dy, f, g, co));
    const viaF = dot(f, R.conv2dFilterGrad(x, dy, g, co));
    assert(Math.abs(lhs - viaX) <= 1e-4 * Math.abs(lhs) + 1e-3, `k${k} s${s}: ${lhs} vs ${viaX}`);
    assert(Math.abs(lhs - viaF) <= 1e-4 * Math.abs(lhs) + 1e-3, `k${k} s${s}: ${lhs} vs ${viaF}`);
  }
});

Deno.test("depthwise twins are the adjoints of the depthwise convolution, padding included", () => {
  const rng = new Rng(SEED);
  for (const [k, s, pad] of [[3, 1, 1], [3, 2, 1], [2, 2, 0], [3, 1, 0]]) {
    const g = geometry(2, 11, 6, k, s, pad);
    const x = randomF32(rng, g.batch * g.inHeight * g.inWidth * 6);
    const f = randomF32(rng, k * k * 6);
    const dy = randomF32(rng, g.batch * g.outHeight * g.outWidth * 6);
    // forward: y[n, oy, ox, c] = sum of x * f over in-range taps
    let lhs = 0;
    for (let b = 0; b < g.batch; b++) {
      for (let oy = 0; oy < g.outHeight; oy++) {
        for (let ox = 0; ox < g.outWidth; ox++) {
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * s - pad + ky;
              const ix = ox * s - pad + kx;
              if (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth) continue;
              for (let c = 0; c < 6; c++) {
                lhs += x[((b * g.inHeight + iy) * g.inWidth + ix) * 6 + c] *
                  f[(ky * k + kx) * 6 + c] *
                  dy[((b * g.outHeight + oy) * g.outWidth + ox) * 6 + c];
              }
            }
          }
        }
      }
    }
    const viaX = dot(x, R.depthwiseInputGrad(dy, f, g));
    const viaF = dot(f, R.depthwiseFilterGrad(x, dy, g));
    assert(Math.abs(lhs - viaX) <= 1e-4 * Math.abs(lhs) + 1e-3, `k${k} s${s}: ${lhs} vs ${viaX}`);
    assert(Math.abs(lhs - viaF) <= 1e-4 * Math.abs(lhs) + 1e-3, `k${k} s${s}: ${lhs} vs ${viaF}`);
  }
});

Deno.test("maxPoolGrad twin: ties go to the first maximum, overlapping windows add, padded taps are skipped", () => {
  // 1x4 input, windows of 3 with stride 2 and one column of padding: [pad, 7, 7, 1], [7, 1, 3]
  const g = {
    ...geometry(1, 1, 1, 1, 1),
    inHeight: 1,
    inWidth: 4,
    outHeight: 1,
    outWidth: 2,
    filterHeight: 1,
    filterWidth: 3,
    strideWidth: 2,
    padLeft: 1,
  };
  const x = new Float32Array([7, 7, 1, 3]);
  // windows: columns -1..1 -> max 7 (first at column 0); 1..3 -> max 7 at column 1
  const dx = R.maxPoolGrad(x, new Float32Array([7, 7]), new Float32Array([10, 100]), g);
  assertEquals(dx, new Float32Array([10, 100, 0, 0]));
  // same maximum reached by both windows at the shared column adds up
  const shared = R.maxPoolGrad(
    new Float32Array([0, 9, 0, 0]),
    new Float32Array([9, 9]),
    new Float32Array([1, 2]),
    g,
  );
  assertEquals(shared, new Float32Array([0, 3, 0, 0]));
});

Deno.test("gradient twins and kernels reject bad sizes with the same one-line RangeError", () => {
  const g = geometry(2, 5, 3, 3, 1);
  const x = new Float32Array(2 * 5 * 6 * 3);
  const dy = new Float32Array(2 * 3 * 4 * 4);
  for (const impl of [R, K]) {
    assertThrows(() => impl.conv2dFilterGrad(x, dy, g, 5), RangeError, "dy.length 96 != 120");
    assertThrows(
      () => impl.conv2dFilterGrad(x, dy, { ...g, padTop: 1 }, 4),
      RangeError,
      "padTop must be 0 (valid padding)",
    );
    assertThrows(
      () => impl.conv2dInputGrad(dy, new Float32Array(3), g, 4),
      RangeError,
      "filter.length 3 != 108",
    );
    assertThrows(
      () => impl.maxPoolGrad(x, dy, dy, { ...g, outHeight: 9 }),
      RangeError,
      "starts windows outside",
    );
    assertThrows(
      () => impl.preluGrad(new Float32Array(7), new Float32Array(2), new Float32Array(7)),
      RangeError,
      "not a multiple",
    );
    assertThrows(() => impl.sumRows(new Float32Array(5), 2, 2), RangeError, "x.length 5 != 4");
    assertThrows(
      () => impl.unsortedSegmentSum(new Float32Array(5), new Int32Array(2), 2, 3),
      RangeError,
      "x.length 5 != 4",
    );
    assertThrows(
      () => impl.depthwiseInputGrad(new Float32Array(1), new Float32Array(27), g),
      RangeError,
      "dy.length 1 != 72",
    );
  }
});

// ---------------------------------------------------------------------------
// Kernels against twins

Deno.test("conv2dFilterGrad / conv2dInputGrad kernels match the twins on odd sizes (kernel 1/2/3, stride 1/2)", () => {
  const rng = new Rng(SEED);
  const cases: [number, number, number, number, number, number][] = [
    // batch, size, ci, co, k, stride
    [3, 13, 5, 7, 1, 1],
    [3, 13, 5, 7, 2, 2],
    [3, 13, 5, 7, 3, 1],
    [3, 13, 5, 7, 3, 2],
    [2, 12, 3, 10, 3, 1], // PNet conv1
    [3, 13, 1, 7, 2, 2], // 1 input channel
    [2, 9, 4, 5, 3, 1], // 4 input channels (the narrow input-gradient tiles)
    [2, 5, 10, 16, 3, 1], // PNet conv2
    [2, 4, 48, 64, 2, 1], // RNet conv3
    [1, 1, 32, 2, 1, 1], // a 1x1 head
    [5, 9, 13, 11, 3, 2],
  ];
  for (const kernels of VARIANTS) {
    for (const [n, size, ci, co, k, s] of cases) {
      const g = geometry(n, size, ci, k, s);
      const what = `${kernels.variant} n${n} ${size}px ${ci}->${co} k${k} s${s}`;
      const x = randomF32(rng, n * g.inHeight * g.inWidth * ci);
      const dy = randomF32(rng, n * g.outHeight * g.outWidth * co);
      const f = randomF32(rng, k * k * ci * co);
      assertClose(
        kernels.conv2dFilterGrad(x, dy, g, co),
        R.conv2dFilterGrad(x, dy, g, co),
        1e-5,
        `dW ${what}`,
      );
      assertClose(
        kernels.conv2dInputGrad(dy, f, g, co),
        R.conv2dInputGrad(dy, f, g, co),
        1e-5,
        `dX ${what}`,
      );
    }
  }
});

Deno.test("maxPoolGrad kernel matches the twin bit for bit, ties and padding included", () => {
  const rng = new Rng(SEED);
  for (const kernels of VARIANTS) {
    for (
      const [c, k, s, pad] of [[5, 2, 2, 0], [7, 3, 2, 0], [5, 3, 2, 1], [28, 3, 2, 1], [
        13,
        2,
        1,
        0,
      ]]
    ) {
      const g = geometry(3, 13, c, k, s, pad);
      // few distinct values: many ties
      const x = Float32Array.from({ length: 3 * 13 * 14 * c }, () => rng.int(-3, 4) / 4);
      const y = new Float32Array(3 * g.outHeight * g.outWidth * c).fill(-Infinity);
      for (let b = 0; b < 3; b++) {
        for (let oy = 0; oy < g.outHeight; oy++) {
          for (let ox = 0; ox < g.outWidth; ox++) {
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const iy = oy * s - pad + ky;
                const ix = ox * s - pad + kx;
                if (iy < 0 || iy >= 13 || ix < 0 || ix >= 14) continue;
                for (let ch = 0; ch < c; ch++) {
                  const o = ((b * g.outHeight + oy) * g.outWidth + ox) * c + ch;
                  y[o] = Math.max(y[o], x[((b * 13 + iy) * 14 + ix) * c + ch]);
                }
              }
            }
          }
        }
      }
      const dy = randomF32(rng, y.length);
      assertEquals(
        kernels.maxPoolGrad(x, y, dy, g),
        R.maxPoolGrad(x, y, dy, g),
        `c${c} k${k} s${s}`,
      );
    }
  }
});

Deno.test("preluGrad, sumRows, unsortedSegmentSum kernels match the twins (odd channel counts, long sums)", () => {
  const rng = new Rng(SEED);
  for (const kernels of VARIANTS) {
    for (const [rows, c] of [[3 * 13 * 13, 5], [127, 28], [1, 1], [1000, 10], [700, 13]]) {
      const x = randomF32(rng, rows * c);
      const alpha = randomF32(rng, c, 0, 0.5);
      const dy = randomF32(rng, rows * c);
      const k = kernels.preluGrad(x, alpha, dy);
      const r = R.preluGrad(x, alpha, dy);
      assertEquals(k.dx, r.dx, `prelu dx ${rows}x${c}`);
      assertClose(k.dalpha, r.dalpha, 1e-5, `prelu dalpha ${rows}x${c}`);
      assertClose(kernels.sumRows(x, rows, c), R.sumRows(x, rows, c), 1e-5, `sumRows ${rows}x${c}`);
    }
    // a long sum of positive values: the blocked sum stays close to float64
    const ones = randomF32(rng, 100_000, 0.5, 1);
    assertClose(kernels.sumRows(ones, 100_000, 1), R.sumRows(ones, 100_000, 1), 2e-6, "100k rows");
    const ids = Int32Array.from({ length: 37 }, () => rng.int(-2, 9)); // some out of [0, 7)
    const rowsX = randomF32(rng, 37 * 6);
    assertClose(
      kernels.unsortedSegmentSum(rowsX, ids, 6, 7),
      R.unsortedSegmentSum(rowsX, ids, 6, 7),
      1e-6,
      "segments",
    );
  }
});

Deno.test("depthwise kernels match the twins (kernel 3, stride 1/2, valid and padded, odd channels)", () => {
  const rng = new Rng(SEED);
  for (const kernels of VARIANTS) {
    for (
      const [c, k, s, pad] of [[5, 3, 1, 0], [5, 3, 2, 1], [7, 3, 1, 1], [16, 2, 2, 0], [
        1,
        3,
        2,
        0,
      ]]
    ) {
      const g = geometry(3, 13, c, k, s, pad);
      const x = randomF32(rng, 3 * 13 * 14 * c);
      const dy = randomF32(rng, 3 * g.outHeight * g.outWidth * c);
      const f = randomF32(rng, k * k * c);
      const what = `c${c} k${k} s${s} pad${pad}`;
      assertClose(
        kernels.depthwiseFilterGrad(x, dy, g),
        R.depthwiseFilterGrad(x, dy, g),
        1e-5,
        what,
      );
      assertClose(kernels.depthwiseInputGrad(dy, f, g), R.depthwiseInputGrad(dy, f, g), 1e-5, what);
    }
  }
});

Deno.test("gradient kernels grow their private memory for large inputs", () => {
  const kernels = K.createGradKernels();
  const before = kernels.memoryBytes();
  const rows = 1 << 20;
  const x = new Float32Array(rows * 4).fill(1);
  assertEquals(kernels.sumRows(x, rows, 4), new Float32Array(4).fill(rows));
  assert(kernels.memoryBytes() >= before + 16 * rows, "memory grew");
});

// ---------------------------------------------------------------------------
// On tfjs: wasm (with the training kernels) against the cpu backend

await initBackend("cpu");
await initBackend("wasm");
enableTrainingKernels();

type Arr = { shape: number[]; data: Float32Array };

function randomArr(rng: Rng, shape: number[], lo = -1, hi = 1): Arr {
  return { shape, data: randomF32(rng, shape.reduce((a, b) => a * b, 1), lo, hi) };
}

/** Gradients of `f` at `inputs` on one backend, as arrays. */
async function gradsOn(
  backend: "cpu" | "wasm",
  inputs: Arr[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<Float32Array[]> {
  await initBackend(backend);
  const xs = inputs.map((a) => tf.tensor(a.data, a.shape));
  const gs = tf.grads(f)(xs);
  const out = gs.map((g) => g.dataSync() as Float32Array);
  tf.dispose([...xs, ...gs]);
  return out;
}

async function assertGradParity(
  what: string,
  inputs: Arr[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  rel = 1e-4,
) {
  const cpu = await gradsOn("cpu", inputs, f);
  const wasm = await gradsOn("wasm", inputs, f);
  cpu.forEach((c, i) => assertClose(wasm[i], c, rel, `${what}, input ${i}`));
}

/** A fixed random weighting of y's elements (created on the active backend). */
function weighted(y: tf.Tensor, seed: number): tf.Tensor {
  const r = randomArr(new Rng(seed), y.shape);
  return tf.sum(tf.mul(y, tf.tensor(r.data, r.shape)));
}

Deno.test("wasm conv2d gradients (x and filter) match the cpu backend: kernel 1/2/3, stride 1/2, valid and same", async () => {
  const rng = new Rng(SEED);
  for (const k of [1, 2, 3]) {
    for (const s of [1, 2]) {
      for (const pad of ["valid", "same"] as const) {
        await assertGradParity(
          `conv2d k${k} s${s} ${pad}`,
          [randomArr(rng, [3, 13, 13, 5]), randomArr(rng, [k, k, 5, 7])],
          (x, w) => weighted(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad), k * 10 + s),
        );
      }
    }
  }
});

Deno.test("wasm fused conv2d (bias, as forward() trains) and dense layer gradients match the cpu backend", async () => {
  const rng = new Rng(SEED);
  await assertGradParity(
    "fused conv2d + bias",
    [randomArr(rng, [3, 13, 13, 5]), randomArr(rng, [3, 3, 5, 7]), randomArr(rng, [7])],
    (x, w, b) =>
      weighted(
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: w as tf.Tensor4D,
          bias: b,
          strides: 1,
          pad: "valid",
        }),
        1,
      ),
  );
  await assertGradParity(
    "dense: matMul with both transposes in its gradient, bias sum",
    [randomArr(rng, [37, 13]), randomArr(rng, [13, 6]), randomArr(rng, [6])],
    (x, w, b) => weighted(tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b), 2),
  );
  await assertGradParity(
    "sum over leading axes, keepDims",
    [randomArr(rng, [3, 13, 13, 5])],
    (x) => weighted(tf.sum(tf.square(x), [0, 1, 2], true), 3),
  );
});

Deno.test("wasm depthwise conv2d gradients match the cpu backend: kernel 3 and 2, stride 1/2, valid and same", async () => {
  const rng = new Rng(SEED);
  for (const k of [2, 3]) {
    for (const s of [1, 2]) {
      for (const pad of ["valid", "same"] as const) {
        await assertGradParity(
          `depthwise k${k} s${s} ${pad}`,
          [randomArr(rng, [3, 13, 13, 5]), randomArr(rng, [k, k, 5, 1])],
          (x, w) =>
            weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad), k * 10 + s),
        );
      }
    }
  }
});

Deno.test("wasm maxPool gradients match the cpu backend: 2/2 and 3/2, valid, same, and -inf padded (ceil)", async () => {
  const rng = new Rng(SEED);
  for (const [k, s] of [[2, 2], [3, 2]]) {
    for (const pad of ["valid", "same"] as const) {
      await assertGradParity(
        `maxPool ${k}/${s} ${pad}`,
        [randomArr(rng, [3, 13, 13, 5])],
        (x) => weighted(tf.maxPool(x as tf.Tensor4D, k, s, pad), k),
      );
    }
  }
  // Caffe ceil pooling as src/nets does it when "same" would pad in front: -inf pad + valid
  await assertGradParity(
    "maxPool 3/2 over a -inf padded 21x21 input",
    [randomArr(rng, [3, 21, 21, 5])],
    (x) =>
      weighted(
        tf.maxPool(
          tf.pad(x as tf.Tensor4D, [[0, 0], [0, 2], [0, 2], [0, 0]], -Infinity),
          3,
          2,
          "valid",
        ),
        9,
      ),
  );
});

Deno.test("wasm prelu gradients (x and alpha, 4-D and 2-D) and gather's gradient match the cpu backend", async () => {
  const rng = new Rng(SEED);
  await assertGradParity(
    "prelu 4-D",
    [randomArr(rng, [3, 13, 13, 5]), randomArr(rng, [5], 0, 0.5)],
    (x, a) => weighted(tf.prelu(x, a), 4),
  );
  await assertGradParity(
    "prelu 2-D",
    [randomArr(rng, [37, 13]), randomArr(rng, [13], 0, 0.5)],
    (x, a) => weighted(tf.prelu(x, a), 5),
  );
  await assertGradParity(
    "prelu with a scalar alpha (tfjs' own gradient)",
    [randomArr(rng, [7, 5]), randomArr(rng, [1], 0, 0.5)],
    (x, a) => weighted(tf.prelu(x, tf.reshape(a, [])), 6),
  );
  await assertGradParity(
    "gather rows (UnsortedSegmentSum), repeated indexes",
    [randomArr(rng, [9, 4])],
    (x) => weighted(tf.gather(x, tf.tensor1d([0, 3, 3, 1, 7, 2, 3], "int32")), 7),
  );
});

Deno.test("preluBackward() gives tfjs' prelu gradient on wasm (one kernel) and on cpu (tfjs ops)", async () => {
  const rng = new Rng(SEED);
  const x = randomArr(rng, [3, 13, 13, 5]);
  const a = randomArr(rng, [5], 0, 0.5);
  const dy = randomArr(rng, [3, 13, 13, 5]);
  const results: Float32Array[][] = [];
  for (const backend of ["cpu", "wasm"] as const) {
    await initBackend(backend);
    const [xt, at, dyt] = [x, a, dy].map((v) => tf.tensor(v.data, v.shape));
    const { dx, dalpha } = preluBackward(xt, at, dyt);
    const [gx, ga] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.prelu(p, q), dyt)))([
      xt,
      at,
    ]);
    assertEquals(dx.dataSync(), gx.dataSync(), `${backend} dx`);
    assertClose(dalpha.dataSync(), ga.dataSync(), 1e-5, `${backend} dalpha`);
    results.push([dx.dataSync() as Float32Array, dalpha.dataSync() as Float32Array]);
    tf.dispose([xt, at, dyt, dx, dalpha, gx, ga]);
  }
  assertEquals(results[0][0], results[1][0]);
  assertClose(results[1][1], results[0][1], 1e-5, "dalpha wasm vs cpu");
});

/** MTCNN's loss on a batch: softmax cross-entropy + MSE of the boxes (+ landmarks). */
function mtcnnLoss(net: Net, x: tf.Tensor4D, seed: number): tf.Scalar {
  const n = x.shape[0];
  const rng = new Rng(seed);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: n }, () => rng.int(0, 2)), "int32"), 2);
  const boxes = tf.tensor2d(randomF32(rng, n * 4, -0.3, 0.3), [n, 4]);
  const out = forward(net, x, { fuse: false, normalized: true });
  let loss = tf.add(
    tf.losses.softmaxCrossEntropy(labels, tf.reshape(out.logits, [n, 2])),
    tf.mul(0.5, tf.losses.meanSquaredError(boxes, tf.reshape(out.box, [n, 4]))),
  );
  if (out.landmarks) {
    const lm = tf.tensor2d(randomF32(rng, n * 10, 0, 1), [n, 10]);
    loss = tf.add(loss, tf.mul(0.5, tf.losses.meanSquaredError(lm, out.landmarks)));
  }
  return loss as tf.Scalar;
}

async function netGradParity(arch: NetArch, batch: number) {
  const data = randomNetData(arch, SEED);
  const names = Object.keys(data.params);
  const size = arch.input.size;
  const x = randomArr(new Rng(SEED + 1), [batch, size, size, 3]);
  const shapes = new Map(planArch(arch).params.map((p) => [p.name, p.shape]));
  const inputs = names.map((k) => ({ shape: shapes.get(k)!, data: data.params[k] }));
  const f = (...ps: tf.Tensor[]) => {
    const params: Record<string, tf.Tensor> = {};
    names.forEach((k, i) => (params[k] = ps[i]));
    return mtcnnLoss({ arch, params, meta: {} }, tf.tensor4d(x.data, x.shape as never), 7);
  };
  const cpu = await gradsOn("cpu", inputs, f);
  const wasm = await gradsOn("wasm", inputs, f);
  names.forEach((k, i) => assertClose(wasm[i], cpu[i], 1e-4, `${arch.name} ${k}`));
}

Deno.test("PNet, RNet and ONet loss gradients (cross-entropy + MSE) on wasm match the cpu backend", async () => {
  await netGradParity(pnetArch(), 7);
  await netGradParity(rnetArch(), 5);
  await netGradParity(onetArch(), 2);
});

Deno.test("composed mode (the tfjs-op baseline) gives the same convolution gradients", async () => {
  // Only the convolutions: composed mode keeps the wasm backend's own
  // MaxPoolGrad, which is wrong for most shapes (e.g. [2, 10, 10, c] 2/2).
  enableTrainingKernels({ mode: "composed" });
  try {
    assertEquals(trainingKernelMode(), "composed");
    const rng = new Rng(SEED);
    for (
      const [k, s, pad] of [[3, 1, "valid"], [3, 2, "valid"], [2, 2, "valid"], [
        3,
        1,
        "same",
      ]] as const
    ) {
      await assertGradParity(
        `composed conv2d k${k} s${s} ${pad}`,
        [randomArr(rng, [3, 13, 13, 5]), randomArr(rng, [k, k, 5, 7])],
        (x, w) => weighted(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad), k),
      );
    }
  } finally {
    enableTrainingKernels();
  }
  assertEquals(trainingKernelMode(), "fast");
});

Deno.test("a wasm training step leaks no tensor and no wasm buffer", async () => {
  await initBackend("wasm");
  const data = randomNetData(rnetArch(), 3);
  const net = createNet(data.arch, data.params);
  const vars = Object.values(net.params).map((t) => tf.variable(t));
  Object.keys(net.params).forEach((k, i) => (net.params[k] = vars[i]));
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([4, 24, 24, 3], -1, 1, "float32", 1) as tf.Tensor4D;
  const step = () => opt.minimize(() => mtcnnLoss(net, x, 1), false, vars);
  step(); // Adam creates its slots on the first step
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const tensors = tf.memory().numTensors;
  const buffers = backend.numDataIds();
  for (let i = 0; i < 3; i++) step();
  assertEquals(tf.memory().numTensors, tensors, "tensors");
  assertEquals(backend.numDataIds(), buffers, "wasm buffers");
  opt.dispose();
  tf.dispose([x, ...vars]);
});

Deno.test("enableTrainingKernels() is idempotent; disableTrainingKernels() restores the wasm backend's kernels", () => {
  const maxPoolGrad = tf.getKernel("MaxPoolGrad", "wasm");
  enableTrainingKernels();
  assertEquals(tf.getKernel("MaxPoolGrad", "wasm"), maxPoolGrad, "second call changes nothing");
  disableTrainingKernels();
  try {
    assertEquals(trainingKernelMode(), undefined);
    assertEquals(tf.getKernel("Conv2DBackpropFilter", "wasm"), undefined);
    assertEquals(tf.getKernel("PreluGrad", "wasm"), undefined);
    assert(
      tf.getKernel("MaxPoolGrad", "wasm") !== maxPoolGrad,
      "the wasm backend's own MaxPoolGrad",
    );
    assertThrows(
      () => enableTrainingKernels({ mode: "quick" as never }),
      TypeError,
      "mode must be",
    );
  } finally {
    enableTrainingKernels();
  }
  assert(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
});

Deno.test("depthwise gradients with a channel multiplier fail with a one-line error on wasm", async () => {
  await initBackend("wasm");
  const x = tf.ones([1, 5, 5, 2]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 2, 2]) as tf.Tensor4D;
  const e = assertThrows(
    () =>
      tf.grads((a: tf.Tensor) => tf.sum(tf.depthwiseConv2d(x, a as tf.Tensor4D, 1, "valid")))([w]),
    TypeError,
    "channel multiplier 2 is not supported",
  );
  assert(!e.message.includes("\n"), "one line");
  tf.dispose([x, w]);
});
