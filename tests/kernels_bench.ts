/**
 * Kernels against their TypeScript twins on realistic sizes:
 * `deno bench -A tests/kernels_bench.ts`. Each group puts the twin first
 * (the baseline) and the WebAssembly kernel(s) after it.
 */
import * as K from "../kernels/mod.ts";
import * as R from "../kernels/reference.ts";
import { Rng } from "../src/util/random.ts";
import { pyramidScales } from "../src/detect/boxes.ts";

const rng = new Rng(7);
const W = 640;
const H = 480;
const rgb = Uint8Array.from({ length: W * H * 3 }, () => rng.int(0, 256));
const rgbF = Float32Array.from(rgb, (v) => (v - 127.5) * 0.0078125);

/** n detector-like boxes: clusters around faces, integer corners, random scores. */
function detections(n: number, faces: number) {
  const centres = Array.from(
    { length: faces },
    () => [rng.uniform(0, W), rng.uniform(0, H), rng.uniform(12, 200)],
  );
  const boxes = new Float32Array(4 * n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [cx, cy, size] = centres[rng.int(0, faces)];
    const half = (size * rng.uniform(0.8, 1.25)) / 2;
    const x = cx + rng.normal(0, size * 0.15);
    const y = cy + rng.normal(0, size * 0.15);
    boxes.set([x - half, y - half, x + half, y + half].map(Math.round), 4 * i);
    scores[i] = rng.next();
  }
  return { boxes, scores };
}

const nmsInput = detections(5000, 100);
const iouBoxes = detections(10000, 100).boxes;
const iouBox = [200, 150, 280, 250];
const cropBoxes = new Int32Array(4 * 256);
for (let i = 0; i < 256; i++) {
  const side = rng.int(20, 200);
  cropBoxes.set(
    [rng.int(-side / 2, W - side / 2), rng.int(-side / 2, H - side / 2), side, side],
    4 * i,
  );
}

// The detector's area workload (640x480, min face 20): the pyramid levels and
// crops of mixed sizes (20-300 px boxes, some off the edges) for RNet / ONet.
const areaRng = new Rng(8);
const pyramid = pyramidScales(W, H, 20, 0.709).map((s) => [Math.ceil(W * s), Math.ceil(H * s)]);
const mixedBoxes = new Int32Array(4 * 256);
for (let i = 0; i < 256; i++) {
  const side = areaRng.int(20, 301);
  mixedBoxes.set([
    areaRng.int(-(side >> 2), W - side + (side >> 2)),
    areaRng.int(-(side >> 2), H - side + (side >> 2)),
    side,
    side + areaRng.int(0, 2),
  ], 4 * i);
}

const plain = await K.createKernels({ relaxedSimd: false });
const relaxed = K.relaxedSimdSupported() ? await K.createKernels({ relaxedSimd: true }) : undefined;

// Resize 640x480 RGB -> 454x340 (one PNet pyramid step, factor 0.709).
const [DW, DH] = [454, 340];

Deno.bench({
  name: "twin",
  group: "resizeBilinearU8 640x480x3 -> 454x340",
  baseline: true,
  fn: () => void R.resizeBilinearU8(rgb, W, H, 3, DW, DH),
});
Deno.bench({
  name: "kernel",
  group: "resizeBilinearU8 640x480x3 -> 454x340",
  fn: () => void K.resizeBilinearU8(rgb, W, H, 3, DW, DH),
});

Deno.bench({
  name: "twin",
  group: "resizeBilinearU8ToF32 640x480x3 -> 454x340",
  baseline: true,
  fn: () => void R.resizeBilinearU8ToF32(rgb, W, H, 3, DW, DH, 127.5, 0.0078125),
});
Deno.bench({
  name: "kernel",
  group: "resizeBilinearU8ToF32 640x480x3 -> 454x340",
  fn: () => void K.resizeBilinearU8ToF32(rgb, W, H, 3, DW, DH, 127.5, 0.0078125),
});

Deno.bench({
  name: "twin",
  group: "resizeBilinearF32 640x480x3 -> 454x340",
  baseline: true,
  fn: () => void R.resizeBilinearF32(rgbF, W, H, 3, DW, DH),
});
Deno.bench({
  name: "kernel simd",
  group: "resizeBilinearF32 640x480x3 -> 454x340",
  fn: () => void plain.resizeBilinearF32(rgbF, W, H, 3, DW, DH),
});
if (relaxed) {
  Deno.bench({
    name: "kernel relaxed-simd",
    group: "resizeBilinearF32 640x480x3 -> 454x340",
    fn: () => void relaxed.resizeBilinearF32(rgbF, W, H, 3, DW, DH),
  });
}

Deno.bench({
  name: "twin",
  group: "nms 5000 boxes, union 0.5",
  baseline: true,
  fn: () => void R.nms(nmsInput.boxes, nmsInput.scores, 0.5, "union"),
});
Deno.bench({
  name: "kernel",
  group: "nms 5000 boxes, union 0.5",
  fn: () => void K.nms(nmsInput.boxes, nmsInput.scores, 0.5, "union"),
});

Deno.bench({
  name: "twin",
  group: "iouOneToMany 1 vs 10000",
  baseline: true,
  fn: () => void R.iouOneToMany(iouBox, iouBoxes, true),
});
Deno.bench({
  name: "kernel",
  group: "iouOneToMany 1 vs 10000",
  fn: () => void K.iouOneToMany(iouBox, iouBoxes, true),
});

Deno.bench({
  name: "twin",
  group: "cropResizeU8 256 boxes -> 24x24x3",
  baseline: true,
  fn: () => void R.cropResizeU8(rgb, W, H, 3, cropBoxes, 24),
});
Deno.bench({
  name: "kernel",
  group: "cropResizeU8 256 boxes -> 24x24x3",
  fn: () => void K.cropResizeU8(rgb, W, H, 3, cropBoxes, 24),
});

Deno.bench({
  name: "twin",
  group: "cropResizeU8ToF32 256 boxes -> 24x24x3",
  baseline: true,
  fn: () => void R.cropResizeU8ToF32(rgb, W, H, 3, cropBoxes, 24, 127.5, 0.0078125),
});
Deno.bench({
  name: "kernel",
  group: "cropResizeU8ToF32 256 boxes -> 24x24x3",
  fn: () => void K.cropResizeU8ToF32(rgb, W, H, 3, cropBoxes, 24, 127.5, 0.0078125),
});

Deno.bench({
  name: "twin",
  group: "resizeAreaU8 640x480x3 -> 454x340",
  baseline: true,
  fn: () => void R.resizeAreaU8(rgb, W, H, DW, DH),
});
Deno.bench({
  name: "kernel",
  group: "resizeAreaU8 640x480x3 -> 454x340",
  fn: () => void K.resizeAreaU8(rgb, W, H, DW, DH),
});

Deno.bench({
  name: "twin",
  group: "resizeAreaU8 640x480x3 -> 384x288",
  baseline: true,
  fn: () => void R.resizeAreaU8(rgb, W, H, 384, 288),
});
Deno.bench({
  name: "kernel",
  group: "resizeAreaU8 640x480x3 -> 384x288",
  fn: () => void K.resizeAreaU8(rgb, W, H, 384, 288),
});

Deno.bench({
  name: "twin",
  group: `resizeAreaU8 640x480x3 pyramid, ${pyramid.length} levels (min face 20)`,
  baseline: true,
  fn: () => pyramid.forEach(([w, h]) => R.resizeAreaU8(rgb, W, H, w, h)),
});
Deno.bench({
  name: "kernel",
  group: `resizeAreaU8 640x480x3 pyramid, ${pyramid.length} levels (min face 20)`,
  fn: () => pyramid.forEach(([w, h]) => K.resizeAreaU8(rgb, W, H, w, h)),
});

for (const size of [24, 48]) {
  const group = `cropResizeAreaU8ToF32 256 boxes of 20-300 px -> ${size}x${size}x3`;
  Deno.bench({
    name: "twin",
    group,
    baseline: true,
    fn: () => void R.cropResizeAreaU8ToF32(rgb, W, H, mixedBoxes, size, 127.5, 0.0078125),
  });
  Deno.bench({
    name: "kernel",
    group,
    fn: () => void K.cropResizeAreaU8ToF32(rgb, W, H, mixedBoxes, size, 127.5, 0.0078125),
  });
}

Deno.bench({
  name: "twin",
  group: "cropResizeAreaU8ToF32 256 boxes -> 24x24x3",
  baseline: true,
  fn: () => void R.cropResizeAreaU8ToF32(rgb, W, H, cropBoxes, 24, 127.5, 0.0078125),
});
Deno.bench({
  name: "kernel",
  group: "cropResizeAreaU8ToF32 256 boxes -> 24x24x3",
  fn: () => void K.cropResizeAreaU8ToF32(rgb, W, H, cropBoxes, 24, 127.5, 0.0078125),
});
