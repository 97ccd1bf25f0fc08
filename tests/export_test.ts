import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-web";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  createNet,
  ensureOriginalWeights,
  forward,
  initBackend,
  loadNetData,
  type NetArch,
  type NetData,
  onnxToNetData,
  parseOnnx,
  parseTflite,
  pnetArch,
  randomNetData,
  runTflite,
  saveNet,
  type SourceConventions,
  tfliteToNetData,
} from "../src/nets/mod.ts";
import { foldInputNormalization, FORMAT_NAMES, poolPlan } from "../src/deploy/export_common.ts";
import { exportTflite, TFLITE_OPS, TfliteGraph } from "../src/deploy/export_tflite.ts";
import { exportOnnx } from "../src/deploy/export_onnx.ts";
import { exportNcnn } from "../src/deploy/export_ncnn.ts";
import { exportTfjs } from "../src/deploy/export_tfjs.ts";
import { exportFiles, writeExport } from "../src/deploy/export.ts";
import { type NcnnNet, ncnnParam, parseNcnnParam, readNcnn } from "../src/deploy/ncnn_reader.ts";
import exportTask from "../tasks/export.ts";
import { Rng } from "../src/util/random.ts";
import { assert, assertEquals, assertRejects, assertThrows, maxAbsDiff } from "./assert.ts";
import { runOfficialTflite, tfliteModule, tfliteSkip } from "./tflite_runtime.ts";

await initBackend("wasm");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

const NETS = ["pnet", "rnet", "onet"] as const;
const paths = await ensureOriginalWeights();
const original = Object.fromEntries(
  await Promise.all(NETS.map(async (n) => [n, await loadNetData(paths[n])])),
) as Record<(typeof NETS)[number], NetData>;

/** Our conventions as a TFLite importer source: what exportTflite writes with input "pixels". */
const OURS: SourceConventions = {
  transposed: false,
  channelOrder: "RGB",
  mean: 0,
  scale: 1,
  boxInNetAxes: false,
  landmarksInNetAxes: false,
  landmarkLayout: "xy",
};

function pixels(n: number, h: number, w: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const d = new Float32Array(n * h * w * 3);
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(0, 255);
  return tf.tensor4d(d, [n, h, w, 3]);
}

/** Our tfjs forward pass: face probability, box and landmarks as flat NHWC arrays. */
function reference(data: NetData, x: tf.Tensor4D, normalized = false) {
  const net = createNet(data.arch, data.params);
  const o = forward(net, x, { normalized });
  const r = {
    face: o.cls.dataSync() as Float32Array,
    box: o.box.dataSync() as Float32Array,
    landmarks: o.landmarks?.dataSync() as Float32Array | undefined,
    spatial: o.box.rank === 4 ? o.box.shape.slice(1, 3) as number[] : [],
  };
  tf.dispose([o.cls, o.logits, o.box, ...(o.landmarks ? [o.landmarks] : [])]);
  tf.dispose(Object.values(net.params));
  return r;
}

/** Every second value (the face column of [..., 2] probabilities). */
const faceOf = (prob: ArrayLike<number>) =>
  Float32Array.from({ length: prob.length / 2 }, (_, i) => prob[2 * i + 1]);

/** NCHW (or [N, C]) data to NHWC order. */
function nchwToNhwc(
  d: ArrayLike<number>,
  n: number,
  c: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[((b * h + y) * w + x) * c + k] = d[((b * c + k) * h + y) * w + x];
        }
      }
    }
  }
  return out;
}

function worst(pairs: [ArrayLike<number>, ArrayLike<number>][]): number {
  return Math.max(...pairs.map(([a, b]) => maxAbsDiff(a, b)));
}

/** A small net with every layer kind: depthwise, relu, BGR input and per-channel normalisation. */
function zooArch(): NetArch {
  return {
    name: "zoo",
    input: {
      size: 20,
      channels: 3,
      channelOrder: "BGR",
      mean: [104, 117, 123],
      scale: [0.017, 0.018, 0.0175],
    },
    layers: [
      { kind: "conv", name: "conv1", kh: 3, kw: 2, stride: 1, filters: 6, padding: "valid" },
      { kind: "relu" },
      { kind: "maxpool", size: 3, stride: 2, rounding: "ceil" },
      { kind: "depthwise", name: "dw2", kh: 3, kw: 3, stride: 2, padding: "valid" },
      { kind: "prelu", name: "prelu2" },
      { kind: "conv", name: "conv3", kh: 1, kw: 1, stride: 1, filters: 8, padding: "valid" },
      { kind: "prelu", name: "prelu3" },
      { kind: "flatten" },
      { kind: "dense", name: "fc", units: 12 },
      { kind: "relu" },
      { kind: "cls", name: "cls" },
      { kind: "box", name: "box" },
      { kind: "landmarks", name: "landmarks" },
    ],
  };
}

/** A PNet whose first pool (3/2 ceil) needs an explicit end padding at some sizes. */
function pool3Pnet(): NetArch {
  const a = pnetArch();
  a.layers[2] = { kind: "maxpool", size: 3, stride: 2, rounding: "ceil" };
  return a;
}

// ---------- a plain TypeScript ncnn interpreter (CHW Mats, one sample at a time) ----------

interface Mat {
  c: number;
  h: number;
  w: number;
  data: Float32Array;
}

function runNcnn(net: NcnnNet, input: Mat): Record<string, Mat> {
  const blobs = new Map<string, Mat>();
  for (const l of net.layers) {
    const x = l.inputs.length ? blobs.get(l.inputs[0])! : input;
    let y: Mat = x;
    switch (l.type) {
      case "Input":
        y = input;
        break;
      case "Convolution":
      case "ConvolutionDepthWise": {
        const outC = ncnnParam(l, 0);
        const kw = ncnnParam(l, 1);
        const kh = ncnnParam(l, 11, kw);
        const sw = ncnnParam(l, 3, 1);
        const sh = ncnnParam(l, 13, sw);
        const group = l.type === "ConvolutionDepthWise" ? ncnnParam(l, 7, 1) : 1;
        const inPer = x.c / group;
        const outPer = outC / group;
        const oh = Math.floor((x.h - kh) / sh) + 1;
        const ow = Math.floor((x.w - kw) / sw) + 1;
        const W = l.weights.weight;
        const B = l.weights.bias;
        const d = new Float32Array(outC * oh * ow);
        for (let o = 0; o < outC; o++) {
          const g = Math.floor(o / outPer);
          for (let yy = 0; yy < oh; yy++) {
            for (let xx = 0; xx < ow; xx++) {
              let s = B ? B[o] : 0;
              for (let i = 0; i < inPer; i++) {
                const ic = g * inPer + i;
                for (let ky = 0; ky < kh; ky++) {
                  for (let kx = 0; kx < kw; kx++) {
                    s += W[((o * inPer + i) * kh + ky) * kw + kx] *
                      x.data[(ic * x.h + yy * sh + ky) * x.w + xx * sw + kx];
                  }
                }
              }
              d[(o * oh + yy) * ow + xx] = s;
            }
          }
        }
        y = { c: outC, h: oh, w: ow, data: d };
        break;
      }
      case "PReLU": {
        const s = l.weights.slope;
        const per = x.data.length / s.length; // per channel (3-D) or per element (1-D)
        y = { ...x, data: x.data.map((v, i) => (v >= 0 ? v : v * s[Math.floor(i / per)])) };
        break;
      }
      case "ReLU":
        y = { ...x, data: x.data.map((v) => Math.max(v, 0)) };
        break;
      case "Pooling": {
        assertEquals(ncnnParam(l, 0), 0, "max pooling");
        const kw = ncnnParam(l, 1);
        const kh = ncnnParam(l, 11, kw);
        const sw = ncnnParam(l, 2, 1);
        const sh = ncnnParam(l, 12, sw);
        const mode = ncnnParam(l, 5, 0);
        // pad_mode 0 (full): pad the bottom/right tail with -FLT_MAX so the windows cover it
        const tail = (n: number, k: number, s: number) => ((n - k) % s ? s - ((n - k) % s) : 0);
        const ph = mode === 0 ? x.h + tail(x.h, kh, sh) : x.h;
        const pw = mode === 0 ? x.w + tail(x.w, kw, sw) : x.w;
        const oh = Math.floor((ph - kh) / sh) + 1;
        const ow = Math.floor((pw - kw) / sw) + 1;
        const d = new Float32Array(x.c * oh * ow);
        for (let c = 0; c < x.c; c++) {
          for (let yy = 0; yy < oh; yy++) {
            for (let xx = 0; xx < ow; xx++) {
              let m = -3.4028234663852886e38;
              for (let ky = 0; ky < kh; ky++) {
                for (let kx = 0; kx < kw; kx++) {
                  const iy = yy * sh + ky;
                  const ix = xx * sw + kx;
                  if (iy < x.h && ix < x.w) m = Math.max(m, x.data[(c * x.h + iy) * x.w + ix]);
                }
              }
              d[(c * oh + yy) * ow + xx] = m;
            }
          }
        }
        y = { c: x.c, h: oh, w: ow, data: d };
        break;
      }
      case "InnerProduct": {
        const n = ncnnParam(l, 0);
        const k = x.data.length;
        const d = new Float32Array(n);
        for (let o = 0; o < n; o++) {
          let s = l.weights.bias ? l.weights.bias[o] : 0;
          for (let i = 0; i < k; i++) s += l.weights.weight[o * k + i] * x.data[i];
          d[o] = s;
        }
        y = { c: 1, h: 1, w: n, data: d };
        break;
      }
      case "Softmax": {
        assertEquals(ncnnParam(l, 0), 0, "softmax axis");
        const d = new Float32Array(x.data.length);
        const flat = x.c === 1 && x.h === 1;
        const groups = flat ? 1 : x.h * x.w;
        const n = flat ? x.w : x.c;
        for (let p = 0; p < groups; p++) {
          const at = (k: number) => (flat ? k : k * groups + p);
          let m = -Infinity;
          for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
          let s = 0;
          for (let k = 0; k < n; k++) s += Math.exp(x.data[at(k)] - m);
          for (let k = 0; k < n; k++) d[at(k)] = Math.exp(x.data[at(k)] - m) / s;
        }
        y = { ...x, data: d };
        break;
      }
      case "Split":
        break;
      default:
        throw new Error(`no interpreter for ${l.type}`);
    }
    for (const o of l.outputs) blobs.set(o, y);
  }
  return Object.fromEntries(blobs);
}

/** Runs an ncnn export on a NHWC batch, returning face prob, box and landmarks in NHWC order. */
function ncnnOutputs(net: NcnnNet, x: tf.Tensor4D) {
  const [n, h, w, c] = x.shape;
  const all = x.dataSync();
  const face: number[] = [];
  const box: number[] = [];
  const landmarks: number[] = [];
  for (let b = 0; b < n; b++) {
    const chw = new Float32Array(c * h * w);
    for (let i = 0; i < h * w; i++) {
      for (let k = 0; k < c; k++) chw[k * h * w + i] = all[(b * h * w + i) * c + k];
    }
    const out = runNcnn(net, { c, h, w, data: chw });
    const hwcOf = (m: Mat) =>
      nchwToNhwc(m.data, 1, m.c === 1 ? m.w : m.c, m.c === 1 ? 1 : m.h, m.c === 1 ? 1 : m.w);
    face.push(...faceOf(hwcOf(out.prob)));
    box.push(...hwcOf(out.box));
    if (out.landmarks) landmarks.push(...hwcOf(out.landmarks));
  }
  return { face, box, landmarks };
}

// ---------- TFLite ----------

Deno.test("exportTflite() reads back with our TFLite reader and importer: same weights, same arch, runTflite() outputs to 1e-4", () => {
  for (const name of NETS) {
    const data = original[name];
    const bytes = exportTflite(data, { file: name });
    const model = parseTflite(bytes, `${name}.tflite`);
    const sg = model.subgraphs[0];
    assertEquals(
      sg.outputs.map((o) => sg.tensors[o].name),
      name === "onet" ? ["prob", "box", "landmarks"] : ["prob", "box"],
    );
    const ops = new Set(sg.operators.map((o) => o.op));
    for (const op of ops) {
      assert(
        ["CONV_2D", "PRELU", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"].includes(op),
        `op ${op}`,
      );
    }
    const back = tfliteToNetData(model, { file: `${name}.tflite`, conventions: OURS });
    const folded = foldInputNormalization(data);
    assertEquals(back.arch.name, name);
    assertEquals(back.arch.layers, folded.arch.layers);
    assertEquals(back.arch.input.size, data.arch.input.size);
    for (const [k, v] of Object.entries(folded.params)) {
      assertEquals(maxAbsDiff(back.params[k], v), 0, k);
    }
    const size = data.arch.input.size;
    const x = pixels(1, size, size, 11);
    const ref = reference(data, x);
    const out = runTflite(model, [x]);
    const d = worst([
      [faceOf(out.prob.dataSync()), ref.face],
      [out.box.dataSync(), ref.box],
      ...(ref.landmarks
        ? [[out.landmarks.dataSync(), ref.landmarks] as [Float32Array, Float32Array]]
        : []),
    ]);
    assert(d < 1e-4, `${name}: runTflite differs from forward() by ${d}`);
    tf.dispose([x, ...Object.values(out)]);
  }
});

Deno.test({
  name:
    "the official TFLite runtime runs the exports to 1e-4: PNet 31x45, RNet x3, ONet x2, a PADV2 ceil pool, the zoo net",
  ignore: !tfliteModule,
  fn() {
    const cases: [string, NetData, number, number, number][] = [
      ["pnet", original.pnet, 1, 31, 45],
      ["rnet", original.rnet, 3, 24, 24],
      ["onet", original.onet, 2, 48, 48],
      ["pool3 pnet", randomNetData(pool3Pnet(), 5), 1, 29, 40],
      ["zoo", randomNetData(zooArch(), 6), 1, 20, 20],
    ];
    for (const [what, data, n, h, w] of cases) {
      const bytes = exportTflite(data, { batch: n, height: h, width: w });
      if (what === "pool3 pnet") {
        const ops = parseTflite(bytes).subgraphs[0].operators.map((o) => o.op);
        assert(ops.includes("PADV2"), "the 3/2 ceil pool needs PADV2");
      }
      const x = pixels(n, h, w, 21);
      const ref = reference(data, x);
      const out = runOfficialTflite(bytes, x.dataSync() as Float32Array);
      const d = worst([
        [faceOf(out.prob), ref.face],
        [out.box, ref.box],
        ...(ref.landmarks ? [[out.landmarks, ref.landmarks] as [Float32Array, Float32Array]] : []),
      ]);
      console.log(`  TFLite runtime ${what} ${n}x${h}x${w}: max abs diff ${d.toExponential(2)}`);
      assert(d < 1e-4, `${what}: the TFLite runtime differs from forward() by ${d}`);
      x.dispose();
    }
  },
});
if (!tfliteModule) console.log(`skip: ${tfliteSkip}`);

Deno.test("TfliteGraph writes per-channel quantization parameters that parseTflite() reads back", () => {
  const g = new TfliteGraph();
  const x = g.tensor({ name: "x", shape: [1, 4], signature: [-1, 4] });
  const q = g.tensor({
    name: "w",
    shape: [3, 4],
    type: "int8",
    data: new Uint8Array([1, 2, 3, 4, 255, 254, 253, 252, 0, 10, 20, 30]),
    quantization: { scale: [0.5, 0.25, 2], zeroPoint: [0, 1, -2], dimension: 0 },
  });
  const y = g.tensor({ name: "y", shape: [1, 3] });
  g.op(TFLITE_OPS.FULLY_CONNECTED, [x, q, -1], [y]);
  const m = parseTflite(g.finish([x], [y], "q"), "q.tflite");
  const t = m.subgraphs[0].tensors[q];
  assertEquals(t.type, "int8");
  assertEquals(t.quantization, { scale: [0.5, 0.25, 2], zeroPoint: [0, 1, -2], dimension: 0 });
  assertEquals(Array.from(t.data!), [1, 2, 3, 4, 255, 254, 253, 252, 0, 10, 20, 30]);
  assertEquals(m.subgraphs[0].operators[0].inputs, [x, q, -1]);
});

// ---------- ONNX ----------

Deno.test("exportOnnx() runs in onnxruntime-web to 1e-4 (PNet at 12x12 and 37x53, RNet x5, ONet x3) and reads back with our ONNX importer", async () => {
  const cases: [(typeof NETS)[number], number, number, number][] = [
    ["pnet", 2, 12, 12],
    ["pnet", 1, 37, 53],
    ["rnet", 5, 24, 24],
    ["onet", 3, 48, 48],
  ];
  const sessions = new Map<string, ort.InferenceSession>();
  for (const [name, n, h, w] of cases) {
    const data = original[name];
    const bytes = exportOnnx(data);
    const model = parseOnnx(bytes, `${name}.onnx`);
    assertEquals(model.opsets, [{ domain: "", version: 13 }]);
    assertEquals(
      model.graph.inputs[0].shape,
      name === "pnet" ? ["N", 3, "H", "W"] : ["N", 3, data.arch.input.size, data.arch.input.size],
    );
    const back = onnxToNetData(model, {
      input: { channelOrder: "RGB", mean: 0, scale: 1 },
      landmarkLayout: "xy",
    });
    const folded = foldInputNormalization(data);
    for (const [k, v] of Object.entries(folded.params)) {
      assertEquals(maxAbsDiff(back.params[k], v), 0, k);
    }
    if (!sessions.has(name)) {
      sessions.set(name, await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 }));
    }
    const x = pixels(n, h, w, 31);
    const ref = reference(data, x);
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const res = await sessions.get(name)!.run({
      input: new ort.Tensor("float32", nchw.dataSync() as Float32Array, [n, 3, h, w]),
    });
    nchw.dispose();
    const nhwc = (t: ort.Tensor) => {
      const [b, c, oh, ow] = t.dims.length === 4 ? t.dims : [t.dims[0], t.dims[1], 1, 1];
      return nchwToNhwc(t.data as Float32Array, b, c, oh, ow);
    };
    if (name === "pnet") assertEquals(res.prob.dims.slice(2), ref.spatial);
    const d = worst([
      [faceOf(nhwc(res.prob)), ref.face],
      [nhwc(res.box), ref.box],
      ...(ref.landmarks
        ? [[nhwc(res.landmarks), ref.landmarks] as [Float32Array, Float32Array]]
        : []),
    ]);
    console.log(`  onnxruntime-web ${name} ${n}x${h}x${w}: max abs diff ${d.toExponential(2)}`);
    assert(d < 1e-4, `${name} ${n}x${h}x${w}: onnxruntime-web differs from forward() by ${d}`);
    x.dispose();
  }
  for (const s of sessions.values()) await s.release();
});

// ---------- ncnn ----------

Deno.test("exportNcnn() reads back with readNcnn() (declared layer and blob counts, Split before the heads) and runs to 1e-4 in a plain interpreter", () => {
  const cases: [(typeof NETS)[number], number, number, number][] = [
    ["pnet", 1, 12, 12],
    ["pnet", 1, 29, 38],
    ["rnet", 3, 24, 24],
    ["onet", 2, 48, 48],
  ];
  for (const [name, n, h, w] of cases) {
    const data = original[name];
    const { param, bin } = exportNcnn(data);
    const lines = param.split("\n");
    assertEquals(lines[0], "7767517");
    const net = readNcnn(param, bin, name);
    const [layerCount, blobCount] = lines[1].split(" ").map(Number);
    assertEquals(net.layers.length, layerCount);
    assertEquals(net.blobs.length, blobCount);
    const types = net.layers.map((l) => l.type);
    const heads = name === "onet" ? 3 : 2;
    assertEquals(types.slice(0, 2), ["Input", "Convolution"]);
    assertEquals(types.filter((t) => t === "Split").length, 1);
    assertEquals(net.layers.find((l) => l.type === "Split")!.outputs.length, heads);
    assertEquals(
      types.filter((t) => t === "Pooling").length,
      name === "onet" ? 3 : name === "rnet" ? 2 : 1,
    );
    for (const l of net.layers.filter((l) => l.type === "Pooling")) {
      assertEquals(ncnnParam(l, 5), 0, "ceil = full padding");
    }
    const conv1 = net.layers[1];
    const folded = foldInputNormalization(data);
    assertEquals(conv1.weights.bias, folded.params["conv1.bias"]);
    const x = pixels(n, h, w, 41);
    const ref = reference(data, x);
    const out = ncnnOutputs(net, x);
    const d = worst([
      [out.face, ref.face],
      [out.box, ref.box],
      ...(ref.landmarks ? [[out.landmarks, ref.landmarks] as [number[], Float32Array]] : []),
    ]);
    console.log(`  ncnn interpreter ${name} ${n}x${h}x${w}: max abs diff ${d.toExponential(2)}`);
    assert(d < 1e-4, `${name}: the ncnn interpreter differs from forward() by ${d}`);
    x.dispose();
  }
});

Deno.test("readNcnn() names the file and line of a bad magic, wrong counts, a blob read twice without Split, and a short or long .bin", () => {
  const { param, bin } = exportNcnn(original.rnet);
  const lines = param.split("\n");
  assertThrows(
    () => parseNcnnParam(["7767518", ...lines.slice(1)].join("\n"), "r.param"),
    RangeError,
    'Cannot read "r.param": line 1: magic is "7767518"',
  );
  const [lc, bc] = lines[1].split(" ").map(Number);
  assertThrows(
    () => parseNcnnParam([lines[0], `${lc + 1} ${bc}`, ...lines.slice(2)].join("\n"), "r.param"),
    RangeError,
    `declares ${lc + 1} layers`,
  );
  assertThrows(
    () => parseNcnnParam([lines[0], `${lc} ${bc + 1}`, ...lines.slice(2)].join("\n"), "r.param"),
    RangeError,
    `declares ${bc + 1} blobs`,
  );
  // the heads read the trunk directly: without the Split, a blob feeds two layers
  const split = lines.findIndex((l) => l.startsWith("Split"));
  const trunk = lines[split].split(/\s+/)[4];
  const noSplit = lines.filter((_, i) => i !== split).map((l) =>
    l.replace(/\S+_splitncnn_\d/, trunk)
  );
  noSplit[1] = `${lc - 1} ${bc - 2}`;
  assertThrows(
    () => parseNcnnParam(noSplit.join("\n"), "r.param"),
    RangeError,
    `blob "${trunk}" feeds`,
  );
  assertThrows(
    () => readNcnn(param, bin.subarray(0, bin.length - 4), "r"),
    RangeError,
    'Cannot read "r.bin": layer "box"',
  );
  assertThrows(
    () => readNcnn(param, new Uint8Array([...bin, 0, 0, 0, 0]), "r"),
    RangeError,
    "4 bytes are left",
  );
  assertThrows(
    () =>
      parseNcnnParam(param.replace("PReLU ", "Prelu "), "r.param").layers &&
      readNcnn(param.replace("PReLU ", "Prelu "), bin, "r"),
    TypeError,
    "layer type Prelu is not supported",
  );
});

Deno.test("parseNcnnParam() reads array params (-23300-k) and float values", () => {
  const net = parseNcnnParam(
    "7767517\n2 2\nInput in 0 1 data 0=4\nReshape r 1 1 data out -23300=3,2,-1,1.5 1=0.25\n",
  );
  const r = net.layers[1];
  assertEquals(r.params.get(0), [2, -1, 1.5]);
  assertEquals(r.params.get(1), 0.25);
  assertEquals(net.layers[0].params.get(0), 4);
});

// ---------- tfjs ----------

Deno.test("exportTfjs() writes model.json + weights.bin that tf.loadGraphModel loads and runs to 1e-4 (PNet 31x45, RNet x4, ONet x2, a PadV2 pool)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export_tfjs_" });
  try {
    const cases: [string, NetData, number, number, number][] = [
      ["pnet", original.pnet, 1, 31, 45],
      ["rnet", original.rnet, 4, 24, 24],
      ["onet", original.onet, 2, 48, 48],
      [
        "pool3",
        { ...randomNetData(pool3Pnet(), 8), arch: { ...pool3Pnet(), name: "pool3" } },
        2,
        29,
        40,
      ],
    ];
    for (const [name, data, n, h, w] of cases) {
      const written = await writeExport(data, "tfjs", `${dir}/`);
      assertEquals(written, [`${dir}/${name}/weights.bin`, `${dir}/${name}/model.json`]);
      const model = await loadGraphModel({
        load: async () => {
          const json = JSON.parse(await Deno.readTextFile(`${dir}/${name}/model.json`));
          const group = json.weightsManifest[0];
          const bytes = await Deno.readFile(`${dir}/${name}/${group.paths[0]}`);
          return {
            modelTopology: json.modelTopology,
            weightSpecs: group.weights,
            weightData: bytes.buffer,
            format: json.format,
            userDefinedMetadata: json.userDefinedMetadata,
          };
        },
      });
      const outs = [
        "prob",
        "box",
        ...(data.arch.layers.some((l) => l.kind === "landmarks") ? ["landmarks"] : []),
      ];
      const x = pixels(n, h, w, 51);
      const ref = reference(data, x);
      const res = model.execute(x, outs) as tf.Tensor[];
      const d = worst([
        [faceOf(res[0].dataSync()), ref.face],
        [res[1].dataSync(), ref.box],
        ...(ref.landmarks
          ? [[res[2].dataSync(), ref.landmarks] as [Float32Array, Float32Array]]
          : []),
      ]);
      console.log(`  tfjs graph model ${name} ${n}x${h}x${w}: max abs diff ${d.toExponential(2)}`);
      assert(d < 1e-4, `${name}: the tfjs graph model differs from forward() by ${d}`);
      tf.dispose([x, ...res]);
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------- conventions and refusals ----------

Deno.test("every format runs a net with depthwise, relu, BGR input and per-channel normalisation to 1e-4, folded or normalized", async () => {
  const data = randomNetData(zooArch(), 9);
  const x = pixels(2, 20, 20, 61);
  for (const input of ["pixels", "normalized"] as const) {
    // "normalized" models take what forward() takes with normalized: true
    const xin = input === "pixels" ? x : tf.tidy(() =>
      tf.mul(
        tf.sub(tf.reverse(x, -1), tf.tensor1d(data.arch.input.mean)),
        tf.tensor1d(data.arch.input.scale),
      )
    ) as tf.Tensor4D;
    const ref = reference(data, xin, input === "normalized");
    const session = await ort.InferenceSession.create(exportOnnx(data, { input }), {
      logSeverityLevel: 3,
    });
    const nchw = tf.transpose(xin, [0, 3, 1, 2]);
    const res = await session.run({
      input: new ort.Tensor("float32", nchw.dataSync() as Float32Array, [2, 3, 20, 20]),
    });
    const onnx = worst([[faceOf(res.prob.data as Float32Array), ref.face], [
      res.box.data as Float32Array,
      ref.box,
    ], [res.landmarks.data as Float32Array, ref.landmarks!]]);
    const { param, bin } = exportNcnn(data, { input });
    const nc = ncnnOutputs(readNcnn(param, bin, "zoo"), xin);
    const ncnn = worst([[nc.face, ref.face], [nc.box, ref.box], [nc.landmarks, ref.landmarks!]]);
    // the official TFLite runtime (this pool needs PADV2, which runTflite does not know)
    let tflite = 0;
    if (tfliteModule) {
      const tfl = runOfficialTflite(
        exportTflite(data, { input, batch: 2 }),
        xin.dataSync() as Float32Array,
      );
      tflite = worst([[faceOf(tfl.prob), ref.face], [tfl.box, ref.box], [
        tfl.landmarks,
        ref.landmarks!,
      ]]);
    }
    const tj = exportTfjs(data, { input });
    const model = await loadGraphModel(tf.io.fromMemory({
      modelTopology: tj.modelJson.modelTopology,
      weightSpecs: tj.modelJson.weightsManifest[0].weights,
      weightData: tj.weights.buffer as ArrayBuffer,
    }));
    const tr = model.execute(xin, ["prob", "box", "landmarks"]) as tf.Tensor[];
    const tfjs = worst([[faceOf(tr[0].dataSync()), ref.face], [tr[1].dataSync(), ref.box], [
      tr[2].dataSync(),
      ref.landmarks!,
    ]]);
    console.log(
      `  zoo net, input ${input}: onnx ${onnx.toExponential(2)}, ncnn ${
        ncnn.toExponential(2)
      }, tflite ${tfliteModule ? tflite.toExponential(2) : "(runtime absent)"}, tfjs ${
        tfjs.toExponential(2)
      }`,
    );
    assert(
      onnx < 1e-4 && ncnn < 1e-4 && tflite < 1e-4 && tfjs < 1e-4,
      `input ${input}: onnx ${onnx}, ncnn ${ncnn}, tflite ${tflite}, tfjs ${tfjs}`,
    );
    tf.dispose([nchw, ...tr]);
    model.dispose();
    await session.release();
    if (xin !== x) xin.dispose();
  }
  x.dispose();
});

Deno.test("poolPlan() picks VALID, SAME or an end padding exactly as Caffe's ceil rounding needs", () => {
  const pool = (size: number, stride: number) => ({
    kind: "maxpool" as const,
    size,
    stride,
    rounding: "ceil" as const,
  });
  assertEquals(poolPlan(pool(2, 2), "any"), { padding: "SAME", padEnd: 0 }); // PNet
  assertEquals(poolPlan(pool(3, 2), [22]), { padding: "SAME", padEnd: 0 }); // RNet pool1
  assertEquals(poolPlan(pool(3, 2), [9]), { padding: "VALID", padEnd: 0 }); // RNet pool2: ceil = floor
  assertEquals(poolPlan(pool(3, 2), [8]), { padding: "SAME", padEnd: 0 });
  assertEquals(poolPlan(pool(3, 2), [8, 9]), { padding: "VALID", padEnd: 1 }); // SAME is wrong at 9
  assertEquals(poolPlan(pool(3, 3), [7]), { padding: "VALID", padEnd: 2 }); // SAME would pad in front
  assertEquals(poolPlan(pool(3, 2), "any"), { padding: "VALID", padEnd: 1 });
  assertEquals(poolPlan({ ...pool(3, 2), rounding: "floor" }, "any"), {
    padding: "VALID",
    padEnd: 0,
  });
});

Deno.test("exporters refuse int8 weights without activation ranges, a ceil pool smaller than its stride, and folding into a first pool, in one line", () => {
  const pnet = original.pnet;
  for (const f of ["tflite", "onnx", "ncnn", "tfjs"] as const) {
    const e = assertThrows(
      () => exportFiles(pnet, f, { file: "q.mtcnn", quantized: ["conv1.weight"] }),
      TypeError,
      `Cannot export "q.mtcnn" to ${FORMAT_NAMES[f]}: tensor conv1.weight is int8 and `,
    );
    assert(e.message.endsWith("; export with --float to dequantise") && !e.message.includes("\n"));
    // --float: the dequantised weights as a float model
    assertEquals(
      exportFiles(pnet, f, { file: "q.mtcnn", quantized: ["conv1.weight"], float: true }),
      exportFiles(pnet, f, { file: "q.mtcnn" }),
    );
  }
  const odd = pnetArch();
  odd.layers[2] = { kind: "maxpool", size: 1, stride: 2, rounding: "ceil" };
  assertThrows(
    () => exportOnnx(randomNetData(odd, 1), { file: "odd.mtcnn" }),
    TypeError,
    'Cannot export "odd.mtcnn" to ONNX: layer 2 (maxpool 1/2 ceil) has windows past the edge',
  );
  const poolFirst: NetArch = {
    ...pnetArch({ input: { ...original.pnet.arch.input, size: 24 } }),
    layers: [{ kind: "maxpool", size: 2, stride: 2, rounding: "floor" }, ...pnetArch().layers],
  };
  const d = randomNetData(poolFirst, 2);
  assertThrows(
    () => exportNcnn(d, { file: "p.mtcnn" }),
    TypeError,
    'Cannot export "p.mtcnn" to ncnn: the first layer is maxpool',
  );
  // normalized input needs no folding: the same net exports
  assert(exportNcnn(d, { input: "normalized" }).param.startsWith("7767517"));
});

Deno.test("deno task export writes every format for a weights folder and one named file, with no temporary files left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export_task_" });
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await saveNet(`${dir}/w/rnet.mtcnn`, original.rnet);
    await saveNet(`${dir}/w/pnet.mtcnn`, original.pnet);
    for (const format of ["tflite", "onnx", "ncnn", "tfjs"]) {
      await exportTask.run({
        flags: { format, weights: `${dir}/w`, out: `${dir}/out/${format}/`, input: "pixels" },
        positionals: [],
      });
    }
    await exportTask.run({
      flags: {
        format: "onnx",
        weights: `${dir}/w/rnet.mtcnn`,
        out: `${dir}/one/r.onnx`,
        input: "pixels",
      },
      positionals: [],
    });
    const files: string[] = [];
    for await (const e of Deno.readDir(`${dir}/out`)) {
      for await (const f of Deno.readDir(`${dir}/out/${e.name}`)) {
        if (f.isDirectory) {
          for await (const g of Deno.readDir(`${dir}/out/${e.name}/${f.name}`)) {
            files.push(`${e.name}/${f.name}/${g.name}`);
          }
        } else files.push(`${e.name}/${f.name}`);
      }
    }
    assertEquals(files.sort(), [
      "ncnn/pnet.bin",
      "ncnn/pnet.param",
      "ncnn/rnet.bin",
      "ncnn/rnet.param",
      "onnx/pnet.onnx",
      "onnx/rnet.onnx",
      "tfjs/pnet/model.json",
      "tfjs/pnet/weights.bin",
      "tfjs/rnet/model.json",
      "tfjs/rnet/weights.bin",
      "tflite/pnet.tflite",
      "tflite/rnet.tflite",
    ]);
    const one = await Deno.readFile(`${dir}/one/r.onnx`);
    assertEquals(one, exportOnnx(original.rnet));
    assertEquals(await Deno.readFile(`${dir}/out/tflite/pnet.tflite`), exportTflite(original.pnet));
    assert(lines.some((l) => l.includes("r.onnx")), "the task names what it wrote");
    await assertRejects(
      async () =>
        await exportTask.run({
          flags: { format: "ncnn", weights: `${dir}/w`, out: `${dir}/x.param`, input: "pixels" },
          positionals: [],
        }),
      Error,
      "names one file but 2 nets are exported",
    );
    await assertRejects(
      async () =>
        await exportTask.run({
          flags: { format: "ncnn", weights: `${dir}/empty`, input: "pixels" },
          positionals: [],
        }),
      Error,
      "no pnet.mtcnn, rnet.mtcnn, onet.mtcnn",
    );
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exports are deterministic: the same net gives the same bytes in every format", () => {
  for (const f of ["tflite", "onnx", "ncnn", "tfjs"] as const) {
    const a = exportFiles(original.onet, f);
    const b = exportFiles(original.onet, f);
    assertEquals(a.map((x) => x.name), b.map((x) => x.name));
    a.forEach((x, i) => assertEquals(x.bytes, b[i].bytes));
  }
});
