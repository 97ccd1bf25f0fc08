/**
 * The detector's speed, single thread: PNet on 640×480, the PNet pyramid of a 640×480
 * image (min face 20, factor 0.709), RNet ×256, ONet ×64 and the whole cascade on a
 * 640×480 photo. Engines side by side on the same weights: tfjs-wasm with the original
 * weights; with ../shared, the seed's ONNX models on tfjs-wasm (imported) and on
 * onnxruntime-web (1 thread, wasm SIMD). The resizes (area vs bilinear) and crops have rows
 * of their own, and `deno run` adds where the cascade's time goes, phase by phase.
 *
 *   deno bench -A tests/detect_bench.ts      # Deno's bench table
 *   deno run -A tests/detect_bench.ts [N]    # median / min / max per row over N runs, and the profile
 */
import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-web";
import { cropResizeU8ToF32, resizeBilinearU8 } from "../kernels/mod.ts";
import {
  type CascadeProfile,
  createDetector,
  cropResizeAreaU8ToF32,
  detectFaces,
  detectFacesBatch,
  type Detector,
  loadDetector,
  pyramidScales,
  resizeAreaU8,
} from "../src/detect/mod.ts";
import { readImage, type RgbImage } from "../src/image/mod.ts";
import {
  createNet,
  forward,
  importOnnxBytes,
  initBackend,
  type Net,
  onnxFreeDims,
} from "../src/nets/mod.ts";
import { Rng } from "../src/util/random.ts";
import { SHARED } from "./assert.ts";

await initBackend("wasm");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** A 640×480 photo: a shared faces picture stretched to 640×480, else seeded noise. */
async function photo(): Promise<RgbImage> {
  if (SHARED) {
    const img = await readImage(`${SHARED}faces/2007_007763.jpg`);
    return {
      width: 640,
      height: 480,
      data: resizeBilinearU8(img.data, img.width, img.height, 3, 640, 480),
    };
  }
  const rng = new Rng(7);
  return {
    width: 640,
    height: 480,
    data: Uint8Array.from({ length: 640 * 480 * 3 }, () => rng.int(0, 255)),
  };
}
const IMG = await photo();
const SCALES = pyramidScales(640, 480, 20, 0.709);
const LEVELS = SCALES.map((s) => [Math.ceil(640 * s), Math.ceil(480 * s)] as const);

const original = await loadDetector(undefined, { engine: "tfjs" });
const areaDet = original;
const bilinearDet = createDetector(original.nets, { resize: "bilinear" });

/** Crops of a real cascade run: the RNet candidates of the photo (repeated or cut to n). */
function cropRects(n: number, det: Detector): Int32Array {
  const pnetBoxes = detectFaces(createDetector(det.nets, { stage: "pnet" }), IMG);
  const rects = new Int32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = pnetBoxes[i % pnetBoxes.length].box;
    const side = Math.max(1, Math.round(Math.max(x2 - x1, y2 - y1)) + 1);
    rects.set([Math.trunc(x1), Math.trunc(y1), side, side], 4 * i);
  }
  return rects;
}
const RECTS = cropRects(256, original);

const tensors = {
  pnet: tf.tensor4d(IMG.data, [1, 480, 640, 3], "float32"),
  pyramid: LEVELS.map(([w, h]) =>
    tf.tensor4d(resizeAreaU8(IMG.data, 640, 480, w, h), [1, h, w, 3], "float32")
  ),
  rnet: tf.tensor4d(cropResizeAreaU8ToF32(IMG.data, 640, 480, RECTS, 24, 0, 1), [256, 24, 24, 3]),
  onet: tf.tensor4d(
    cropResizeAreaU8ToF32(IMG.data, 640, 480, RECTS.subarray(0, 4 * 64), 48, 0, 1),
    [64, 48, 48, 3],
  ),
};

function runTfjs(net: Net, x: tf.Tensor4D) {
  tf.tidy(() => {
    const o = forward(net, x);
    o.cls.dataSync();
    o.box.dataSync();
    o.landmarks?.dataSync();
  });
}

interface Case {
  group: string;
  name: string;
  fn: () => unknown;
}
const cases: Case[] = [];
const add = (group: string, name: string, fn: () => unknown) => cases.push({ group, name, fn });

const G = {
  pnet: "PNet 640x480",
  pyramid: `PNet pyramid 640x480 (min face 20: ${SCALES.length} levels)`,
  rnet: "RNet x256",
  onet: "ONet x64",
  cascade: "Cascade, 640x480 photo",
  resize: `Pyramid resize 640x480 (${SCALES.length} levels)`,
  crops: "Crops x256 (RNet 24x24)",
};

function netCases(label: string, nets: { pnet: Net; rnet: Net; onet: Net }) {
  add(G.pnet, label, () => runTfjs(nets.pnet, tensors.pnet));
  add(G.pyramid, label, () => tensors.pyramid.forEach((t) => runTfjs(nets.pnet, t)));
  add(G.rnet, label, () => runTfjs(nets.rnet, tensors.rnet));
  add(G.onet, label, () => runTfjs(nets.onet, tensors.onet));
}
netCases("tfjs-wasm, original weights", original.nets as { pnet: Net; rnet: Net; onet: Net });

add(G.cascade, "tfjs-wasm, original weights, area resize", () => detectFaces(areaDet, IMG));
add(G.cascade, "tfjs-wasm, original weights, bilinear resize", () => detectFaces(bilinearDet, IMG));

add(
  G.resize,
  "area (wasm kernel)",
  () => LEVELS.forEach(([w, h]) => resizeAreaU8(IMG.data, 640, 480, w, h)),
);
add(
  G.resize,
  "bilinear (wasm kernel)",
  () => LEVELS.forEach(([w, h]) => resizeBilinearU8(IMG.data, 640, 480, 3, w, h)),
);
add(
  G.crops,
  "area (wasm kernel)",
  () => cropResizeAreaU8ToF32(IMG.data, 640, 480, RECTS, 24, 127.5, 0.0078125),
);
add(
  G.crops,
  "bilinear (wasm kernel)",
  () => cropResizeU8ToF32(IMG.data, 640, 480, 3, RECTS, 24, 127.5, 0.0078125),
);

if (SHARED) {
  const seed: Record<string, Net> = {};
  for (const n of ["pnet", "rnet", "onet"] as const) {
    const bytes = await Deno.readFile(`${SHARED}seed-models/${n}.onnx`);
    const data = importOnnxBytes(bytes);
    seed[n] = createNet(data.arch, data.params);
    const session = await ort.InferenceSession.create(
      onnxFreeDims(bytes, n === "pnet" ? { 0: "N", 2: "H", 3: "W" } : { 0: "N" }),
      { logSeverityLevel: 3 },
    );
    const feed = (x: tf.Tensor4D) => {
      const nchw = tf.tidy(() => tf.transpose(tf.div(tf.sub(x, 127.5), 127.5), [0, 3, 1, 2]));
      const t = new ort.Tensor("float32", nchw.dataSync() as Float32Array, nchw.shape);
      nchw.dispose();
      return { [session.inputNames[0]]: t };
    };
    const label = "onnxruntime-web, seed ONNX";
    if (n === "pnet") {
      const one = feed(tensors.pnet);
      const levels = tensors.pyramid.map(feed);
      cases.push({ group: G.pnet, name: label, fn: () => session.run(one) });
      cases.push({
        group: G.pyramid,
        name: label,
        fn: async () => {
          for (const f of levels) await session.run(f);
        },
      });
    } else {
      const f = feed(tensors[n]);
      cases.push({ group: G[n], name: label, fn: () => session.run(f) });
    }
  }
  netCases("tfjs-wasm, seed ONNX imported", seed as { pnet: Net; rnet: Net; onet: Net });
  const seedDet = createDetector({ pnet: seed.pnet, rnet: seed.rnet, onet: seed.onet });
  add(G.cascade, "tfjs-wasm, seed nets, area resize", () => detectFaces(seedDet, IMG));
}

const ORDER = Object.values(G);
cases.sort((a, b) => ORDER.indexOf(a.group) - ORDER.indexOf(b.group));
for (const c of cases) {
  Deno.bench({
    name: `${c.group}: ${c.name}`,
    group: c.group,
    async fn() {
      await c.fn();
    },
  });
}

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 15);
  console.log(`median / min / max ms over ${reps} runs (after 3 warm-ups), 1 thread`);
  let group = "";
  for (const c of cases) {
    if (c.group !== group) console.log(`\n${group = c.group}`);
    for (let i = 0; i < 3; i++) await c.fn();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      await c.fn();
      t.push(performance.now() - s);
    }
    t.sort((a, b) => a - b);
    const med = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    const f = (v: number) => v.toFixed(1).padStart(7);
    console.log(`  ${c.name.padEnd(46)} ${f(med)} ${f(t[0])} ${f(t[t.length - 1])}`);
  }
  for (const [label, det] of [["area", areaDet], ["bilinear", bilinearDet]] as const) {
    const profile: CascadeProfile = {};
    let faces = 0;
    for (let i = 0; i < reps; i++) faces = detectFacesBatch(det, [IMG], profile)[0].length;
    const total = Object.values(profile).reduce((a, b) => a + b, 0);
    const count = (stage: "pnet" | "rnet") =>
      detectFaces(createDetector(det.nets, { ...det.config, stage }), IMG).length;
    console.log(
      `\nwhere the cascade's time goes (${label} resize; ${count("pnet")} RNet crops, ${
        count("rnet")
      } ONet crops, ` +
        `${faces} faces; mean ms per image):`,
    );
    for (const [phase, ms] of Object.entries(profile).sort((a, b) => b[1] - a[1])) {
      console.log(
        `  ${phase.padEnd(16)} ${(ms / reps).toFixed(1).padStart(7)}  ${
          (100 * ms / total).toFixed(0).padStart(3)
        }%`,
      );
    }
  }
}
