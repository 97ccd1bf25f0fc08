import * as tf from "@tensorflow/tfjs-core";
import {
  archSummary,
  crc32,
  createNet,
  decodeWeights,
  encodeWeights,
  forward,
  initBackend,
  loadNet,
  loadNetData,
  maxPool,
  type NetArch,
  type NetData,
  onetArch,
  paramCount,
  planArch,
  pnetArch,
  randomNet,
  randomNetData,
  receptiveField,
  rnetArch,
  saveNet,
  validateArch,
  WEIGHTS_MAGIC,
} from "../src/nets/mod.ts";
import { Rng } from "../src/util/random.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
  maxAbsDiff,
} from "./assert.ts";

await initBackend("wasm");

// ---------- a plain TypeScript reference of the forward pass ----------

interface Act {
  n: number;
  h: number;
  w: number;
  c: number;
  data: Float32Array;
}

function refForward(
  data: NetData,
  x: Act,
): { logits: Float32Array; box: Float32Array; landmarks?: Float32Array; h: number; w: number } {
  const { arch, params } = data;
  const inp = arch.input;
  let a: Act = { ...x, data: x.data.map((v, i) => (v - inp.mean[i % x.c]) * inp.scale[i % x.c]) };
  let flat: { n: number; k: number; data: Float32Array } | undefined;
  const heads: Record<string, Float32Array> = {};
  for (const l of arch.layers) {
    if (l.kind === "conv" || l.kind === "depthwise") {
      const w = params[`${l.name}.weight`];
      const b = params[`${l.name}.bias`];
      const oc = l.kind === "conv" ? l.filters : a.c;
      const oh = Math.floor((a.h - l.kh) / l.stride) + 1;
      const ow = Math.floor((a.w - l.kw) / l.stride) + 1;
      const out = new Float32Array(a.n * oh * ow * oc);
      for (let n = 0; n < a.n; n++) {
        for (let y = 0; y < oh; y++) {
          for (let xx = 0; xx < ow; xx++) {
            for (let o = 0; o < oc; o++) {
              let s = b[o];
              for (let ky = 0; ky < l.kh; ky++) {
                for (let kx = 0; kx < l.kw; kx++) {
                  const base = ((n * a.h + y * l.stride + ky) * a.w + xx * l.stride + kx) * a.c;
                  if (l.kind === "conv") {
                    for (let i = 0; i < a.c; i++) {
                      s += w[((ky * l.kw + kx) * a.c + i) * oc + o] * a.data[base + i];
                    }
                  } else s += w[(ky * l.kw + kx) * a.c + o] * a.data[base + o];
                }
              }
              out[((n * oh + y) * ow + xx) * oc + o] = s;
            }
          }
        }
      }
      a = { n: a.n, h: oh, w: ow, c: oc, data: out };
    } else if (l.kind === "prelu" || l.kind === "relu") {
      const alpha = l.kind === "prelu" ? params[`${l.name}.alpha`] : undefined;
      const t = flat ?? a;
      const c = flat ? flat.k : a.c;
      t.data = t.data.map((v, i) => (v >= 0 ? v : alpha ? alpha[i % c] * v : 0));
    } else if (l.kind === "maxpool") {
      const f = l.rounding === "ceil" ? Math.ceil : Math.floor;
      const oh = f((a.h - l.size) / l.stride) + 1;
      const ow = f((a.w - l.size) / l.stride) + 1;
      const out = new Float32Array(a.n * oh * ow * a.c);
      for (let n = 0; n < a.n; n++) {
        for (let y = 0; y < oh; y++) {
          for (let xx = 0; xx < ow; xx++) {
            for (let c = 0; c < a.c; c++) {
              let m = -Infinity;
              for (let ky = 0; ky < l.size; ky++) {
                for (let kx = 0; kx < l.size; kx++) {
                  const iy = y * l.stride + ky;
                  const ix = xx * l.stride + kx;
                  if (iy < a.h && ix < a.w) {
                    m = Math.max(m, a.data[((n * a.h + iy) * a.w + ix) * a.c + c]);
                  }
                }
              }
              out[((n * oh + y) * ow + xx) * a.c + c] = m;
            }
          }
        }
      }
      a = { n: a.n, h: oh, w: ow, c: a.c, data: out };
    } else if (l.kind === "flatten") {
      flat = { n: a.n, k: a.h * a.w * a.c, data: a.data };
    } else {
      const units = l.kind === "dense" ? l.units : l.kind === "cls" ? 2 : l.kind === "box" ? 4 : 10;
      const w = params[`${l.name}.weight`];
      const b = params[`${l.name}.bias`];
      // a dense layer on a flat input, or a 1x1 conv on every position
      const rows = flat ? flat.n : a.n * a.h * a.w;
      const k = flat ? flat.k : a.c;
      const src = flat ? flat.data : a.data;
      const out = new Float32Array(rows * units);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < units; o++) {
          let s = b[o];
          for (let i = 0; i < k; i++) s += src[r * k + i] * w[i * units + o];
          out[r * units + o] = s;
        }
      }
      if (l.kind === "dense") flat = { n: flat!.n, k: units, data: out };
      else heads[l.kind] = out;
    }
  }
  return {
    logits: heads.cls,
    box: heads.box,
    landmarks: heads.landmarks,
    h: flat ? 1 : a.h,
    w: flat ? 1 : a.w,
  };
}

function randomPixels(n: number, h: number, w: number, seed: number): Act {
  const rng = new Rng(seed);
  const data = new Float32Array(n * h * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(0, 255);
  return { n, h, w, c: 3, data };
}

function checkAgainstReference(arch: NetArch, n: number, h: number, w: number, seed: number) {
  const data = randomNetData(arch, seed);
  const x = randomPixels(n, h, w, seed + 1);
  const ref = refForward(data, x);
  const net = createNet(data.arch, data.params);
  const t = tf.tensor4d(x.data, [n, h, w, 3]);
  for (const fuse of [true, false]) {
    const out = forward(net, t, { fuse });
    const cls = ref.logits.map((_, i) => i).filter((i) => i % 2 === 0).map((i) =>
      1 / (1 + Math.exp(ref.logits[i] - ref.logits[i + 1]))
    );
    const what = `${arch.name} ${n}x${h}x${w} fuse=${fuse}`;
    assert(
      maxAbsDiff(out.logits.dataSync(), ref.logits) < 1e-4,
      `${what}: logits differ by ${maxAbsDiff(out.logits.dataSync(), ref.logits)}`,
    );
    assert(maxAbsDiff(out.cls.dataSync(), cls) < 1e-5, `${what}: cls differs`);
    assert(
      maxAbsDiff(out.box.dataSync(), ref.box) < 1e-4,
      `${what}: box differs by ${maxAbsDiff(out.box.dataSync(), ref.box)}`,
    );
    if (ref.landmarks) {
      assert(
        maxAbsDiff(out.landmarks!.dataSync(), ref.landmarks) < 1e-4,
        `${what}: landmarks differ`,
      );
    } else assertEquals(out.landmarks, undefined);
    const spatial = planArch(arch, h, w).trunkOut.length === 3;
    assertEquals(out.cls.shape, spatial ? [n, ref.h, ref.w] : [n]);
    assertEquals(out.box.shape, spatial ? [n, ref.h, ref.w, 4] : [n, 4]);
    tf.dispose([out.cls, out.logits, out.box, out.landmarks!].filter(Boolean));
  }
  t.dispose();
  tf.dispose(Object.values(net.params));
}

// ---------- architecture ----------

Deno.test("planArch() gives the paper's shapes: PNet 12→1x1, RNet fc sees 3x3x64, ONet fc sees 3x3x128", () => {
  const p = planArch(pnetArch());
  assertEquals(p.trunkOut, [1, 1, 32]);
  assertEquals(planArch(pnetArch(), 480, 640).trunkOut, [235, 315, 32]);
  const r = planArch(rnetArch());
  assertEquals(r.params.find((q) => q.name === "fc.weight")!.shape, [576, 128]);
  const o = planArch(onetArch());
  assertEquals(o.params.find((q) => q.name === "fc.weight")!.shape, [1152, 256]);
  assertEquals(o.params.find((q) => q.name === "landmarks.weight")!.shape, [256, 10]);
  assertEquals(p.params.find((q) => q.name === "box.weight")!.shape, [1, 1, 32, 4]);
  assertEquals(p.params.find((q) => q.name === "conv1.weight")!.shape, [3, 3, 3, 10]);
  // the seed's floor pooling: RNet fc sees 2x2x64, ONet 2x2x128
  assertEquals(
    planArch(rnetArch({ rounding: "floor" })).params.find((q) => q.name === "fc.weight")!.shape,
    [256, 128],
  );
  assertEquals(
    planArch(onetArch({ rounding: "floor" })).params.find((q) => q.name === "fc.weight")!.shape,
    [512, 256],
  );
  assertEquals(paramCount(pnetArch()), 6632);
  assertEquals(receptiveField(pnetArch()), 12);
  assertEquals(receptiveField(pnetArch({ rounding: "floor" })), 12);
});

Deno.test("planArch() follows pruned channel counts into every parameter shape", () => {
  const arch = rnetArch({ channels: [20, 33, 50], dense: 77 });
  const shapes = Object.fromEntries(planArch(arch).params.map((p) => [p.name, p.shape]));
  assertEquals(shapes["conv2.weight"], [3, 3, 20, 33]);
  assertEquals(shapes["prelu3.alpha"], [50]);
  assertEquals(shapes["fc.weight"], [3 * 3 * 50, 77]);
  assertEquals(shapes["cls.weight"], [77, 2]);
  assertEquals(
    archSummary(arch),
    "conv3x3·20 prelu pool3/2c conv3x3·33 prelu pool3/2c conv2x2·50 prelu flatten fc·77 prelu → cls box",
  );
});

Deno.test("planArch() rejects a too-small input and heads before the trunk ends", () => {
  assertThrows(() => planArch(pnetArch(), 10, 20), RangeError, "smaller than its 3x3 kernel");
  const bad = pnetArch();
  bad.layers = [bad.layers[7], ...bad.layers];
  assertThrows(() => planArch(bad), RangeError, "heads must come last");
});

Deno.test("validateArch() names the bad field of a malformed arch", () => {
  const arch = JSON.parse(JSON.stringify(onetArch()));
  arch.layers[2].rounding = "round";
  assertThrows(
    () => validateArch(arch, 'Cannot load "x.mtcnn"'),
    TypeError,
    'Cannot load "x.mtcnn": arch.layers[2].rounding must be ceil or floor',
  );
  const arch2 = JSON.parse(JSON.stringify(pnetArch()));
  arch2.layers[0].kind = "conv3d";
  assertThrows(
    () => validateArch(arch2),
    TypeError,
    'arch.layers[0].kind "conv3d" is not a layer kind',
  );
  assertEquals(validateArch(JSON.parse(JSON.stringify(rnetArch()))), rnetArch());
});

// ---------- forward ----------

Deno.test("forward() matches a plain TypeScript reference: PNet on odd sizes (ceil pools), pruned RNet, ONet", () => {
  checkAgainstReference(pnetArch(), 2, 12, 12, 1);
  checkAgainstReference(pnetArch(), 1, 13, 17, 2);
  checkAgainstReference(pnetArch({ channels: [7, 13, 19] }), 2, 37, 53, 3);
  checkAgainstReference(rnetArch({ channels: [20, 33, 50], dense: 77 }), 3, 24, 24, 4);
  checkAgainstReference(rnetArch({ rounding: "floor" }), 2, 24, 24, 5);
  checkAgainstReference(onetArch(), 2, 48, 48, 6);
  checkAgainstReference(onetArch({ landmarks: false, rounding: "floor" }), 1, 48, 48, 7);
});

Deno.test("forward() runs relu and depthwise layers and follows the input's channel order", () => {
  const arch: NetArch = {
    name: "tiny",
    input: {
      size: 9,
      channels: 3,
      channelOrder: "RGB",
      mean: [10, 20, 30],
      scale: [0.1, 0.2, 0.3],
    },
    layers: [
      { kind: "conv", name: "c1", kh: 3, kw: 3, stride: 2, filters: 5, padding: "valid" },
      { kind: "relu" },
      { kind: "depthwise", name: "d1", kh: 2, kw: 2, stride: 1, padding: "valid" },
      { kind: "prelu", name: "p1" },
      { kind: "maxpool", size: 2, stride: 1, rounding: "floor" },
      { kind: "cls", name: "cls" },
      { kind: "box", name: "box" },
    ],
  };
  checkAgainstReference(arch, 2, 11, 13, 11);
  // a BGR net on RGB pixels equals the same weights fed reversed channels
  const data = randomNetData(arch, 3);
  const bgr = createNet({ ...arch, input: { ...arch.input, channelOrder: "BGR" } }, data.params);
  const rgb = createNet(arch, data.params);
  const x = tf.tensor4d(randomPixels(1, 11, 11, 9).data, [1, 11, 11, 3]);
  const a = forward(bgr, x);
  const rev = tf.reverse(x, -1);
  const b = forward(rgb, rev as tf.Tensor4D);
  assert(maxAbsDiff(a.logits.dataSync(), b.logits.dataSync()) < 1e-5);
  tf.dispose([x, rev, a.cls, a.logits, a.box, b.cls, b.logits, b.box]);
});

Deno.test("maxPool() ceil rounding matches Caffe on sizes where TF 'same' pads in front", () => {
  // 3/2 on 9: ceil gives 4 windows (the last one hangs over), TF "same" would give 5 with front padding
  const x = tf.tensor4d(Array.from({ length: 81 }, (_, i) => (i * 37) % 81), [1, 9, 9, 1]);
  const y = maxPool(x, 3, 2, "ceil");
  assertEquals(y.shape, [1, 4, 4, 1]);
  const v = x.dataSync();
  const out = y.dataSync();
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      let m = -Infinity;
      for (let a = 2 * i; a < Math.min(9, 2 * i + 3); a++) {
        for (let b = 2 * j; b < Math.min(9, 2 * j + 3); b++) {
          m = Math.max(m, v[a * 9 + b]);
        }
      }
      assertEquals(out[i * 4 + j], m);
    }
  }
  tf.dispose([x, y]);
});

Deno.test("forward() leaves tf.memory().numTensors unchanged (inside tf.tidy, and after disposing its outputs)", () => {
  const net = randomNet(onetArch(), 5);
  const x = tf.randomUniform([4, 48, 48, 3], 0, 255, "float32", 1) as tf.Tensor4D;
  for (const fuse of [true, false]) {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      forward(net, x, { fuse });
    });
    assertEquals(tf.memory().numTensors, before);
    const out = forward(net, x, { fuse });
    assertEquals(tf.memory().numTensors, before + 4); // cls, logits, box, landmarks
    tf.dispose([out.cls, out.logits, out.box, out.landmarks!]);
    assertEquals(tf.memory().numTensors, before);
  }
  tf.dispose([x, ...Object.values(net.params)]);
});

Deno.test("forward() rejects a wrong input size for a dense net with a one-line error", () => {
  const net = randomNet(rnetArch(), 1);
  const x = tf.zeros([1, 25, 24, 3]) as tf.Tensor4D;
  assertThrows(() => forward(net, x), RangeError, "forward(rnet): input must be 24x24, got 25x24");
  tf.dispose([x, ...Object.values(net.params)]);
});

Deno.test("the wasm and cpu backends give the same ONet outputs", async () => {
  const data = randomNetData(onetArch(), 8);
  const x = randomPixels(3, 48, 48, 2).data;
  const run = () => {
    const net = createNet(data.arch, data.params);
    const t = tf.tensor4d(x, [3, 48, 48, 3]);
    const o = forward(net, t);
    const r = [
      o.logits.dataSync().slice(),
      o.box.dataSync().slice(),
      o.landmarks!.dataSync().slice(),
    ];
    tf.dispose([t, o.cls, o.logits, o.box, o.landmarks!, ...Object.values(net.params)]);
    return r;
  };
  const wasm = run();
  await initBackend("cpu");
  try {
    const cpu = run();
    for (let i = 0; i < 3; i++) {
      assert(
        maxAbsDiff(wasm[i], cpu[i]) < 1e-4,
        `output ${i} differs by ${maxAbsDiff(wasm[i], cpu[i])}`,
      );
    }
  } finally {
    await initBackend("wasm");
  }
});

// ---------- weights file ----------

const tmp = await Deno.makeTempDir({ prefix: "nets_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

Deno.test("saveNet() / loadNet() round-trip every tensor, the arch and the metadata; same net, same bytes", async () => {
  const data = randomNetData(rnetArch({ channels: [20, 33, 50], dense: 77 }), 21);
  data.meta = {
    provenance: { source: "random", license: "MIT", notes: ["a note"] },
    training: { lr: 0.001, epochs: 3 },
    metrics: { accuracy: 0.9 },
  };
  const path = `${tmp}/r.mtcnn`;
  await saveNet(path, data);
  const bytes = await Deno.readFile(path);
  assertEquals(new TextDecoder().decode(bytes.subarray(0, 8)), WEIGHTS_MAGIC);
  assertEquals(bytes, encodeWeights(data));
  const back = await loadNetData(path);
  assertEquals(back.arch, data.arch);
  assertEquals(back.meta, data.meta);
  for (const [k, v] of Object.entries(data.params)) assertEquals(back.params[k], v, k);
  // tensors → file → tensors
  const net = await loadNet(path);
  await saveNet(`${tmp}/r2.mtcnn`, net);
  assertEquals(await Deno.readFile(`${tmp}/r2.mtcnn`), bytes);
  tf.dispose(Object.values(net.params));
  // data starts 64-byte aligned
  const hlen = new DataView(bytes.buffer).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  for (const t of header.tensors) assertEquals(t.offset % 64, 0);
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

// deno-lint-ignore no-explicit-any
type Header = Record<string, any>;

/** Splits weights file bytes into header and data section. */
function splitFile(bytes: Uint8Array): { header: Header; body: Uint8Array } {
  const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  return { header, body: bytes.subarray(Math.ceil((16 + hlen) / 64) * 64) };
}

/** Builds weights file bytes from a header and data section (as a hand-made writer would). */
function assemble(header: Header, body: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((16 + json.length) / 64) * 64;
  const out = new Uint8Array(start + body.length);
  out.set(new TextEncoder().encode(WEIGHTS_MAGIC));
  new DataView(out.buffer).setUint32(8, 1, true);
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(body, start);
  return out;
}

function editHeader(bytes: Uint8Array, edit: (h: Header) => void): Uint8Array {
  const { header, body } = splitFile(bytes);
  edit(header);
  return assemble(header, body);
}

Deno.test("loadNet() names the file and tensor when a shape disagrees with the arch", async () => {
  const bytes = encodeWeights(randomNetData(pnetArch(), 1));
  const bad = editHeader(bytes, (h) => (h.arch.layers[3].filters = 15));
  await Deno.writeFile(`${tmp}/w.mtcnn`, bad);
  await assertRejects(
    () => loadNet(`${tmp}/w.mtcnn`),
    RangeError,
    `Cannot load "${tmp}/w.mtcnn": tensor conv2.weight has shape [3,3,10,16], arch wants [3,3,10,15]`,
  );
  const missing = editHeader(
    bytes,
    (h) => (h.tensors = h.tensors.filter((t: { name: string }) => t.name !== "box.bias")),
  );
  assertThrows(
    () => decodeWeights(missing, "m.mtcnn"),
    RangeError,
    'Cannot load "m.mtcnn": tensor box.bias is missing',
  );
});

Deno.test("loadNet() rejects truncated files, bad magic, corrupt data and unknown versions in one line", async () => {
  const bytes = encodeWeights(randomNetData(pnetArch(), 2));
  assertThrows(
    () => decodeWeights(bytes.subarray(0, bytes.length - 10), "t.mtcnn"),
    RangeError,
    'Cannot load "t.mtcnn": data section needs',
  );
  assertThrows(
    () => decodeWeights(bytes.subarray(0, 40), "t.mtcnn"),
    RangeError,
    "runs past the end",
  );
  assertThrows(() => decodeWeights(bytes.subarray(0, 5), "t.mtcnn"), RangeError, "too short");
  const magic = bytes.slice();
  magic[0] = 0x50;
  assertThrows(
    () => decodeWeights(magic, "t.mtcnn"),
    RangeError,
    'not a weights file (magic is "PTCNNWTS"',
  );
  const flipped = bytes.slice();
  flipped[flipped.length - 3] ^= 1;
  assertThrows(() => decodeWeights(flipped, "t.mtcnn"), RangeError, "checksum mismatch");
  const v2 = bytes.slice();
  new DataView(v2.buffer).setUint32(8, 2, true);
  assertThrows(() => decodeWeights(v2, "t.mtcnn"), RangeError, "format version 2 is not supported");
  await assertRejects(() => loadNet(`${tmp}/absent.mtcnn`), TypeError, "no such file");
});

Deno.test("decodeWeights() reads int8 tensors with per-channel scales and zero points", () => {
  const data = randomNetData(pnetArch(), 3);
  const { header, body } = splitFile(encodeWeights(data));
  // store conv1.weight [3,3,3,10] as int8 with a scale per output channel (the last axis)
  const w = data.params["conv1.weight"];
  const scale = Array.from({ length: 10 }, (_, o) => 0.01 * (o + 1));
  const zero = Array.from({ length: 10 }, (_, o) => o - 5);
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    q[i] = Math.max(-128, Math.min(127, Math.round(w[i] / scale[i % 10]) + zero[i % 10]));
  }
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const t of header.tensors) {
    const src = t.name === "conv1.weight"
      ? new Uint8Array(q.buffer)
      : body.subarray(t.offset, t.offset + t.bytes);
    if (t.name === "conv1.weight") {
      Object.assign(t, { dtype: "int8", bytes: q.length, scale, zeroPoint: zero });
    }
    t.offset = off;
    const padded = new Uint8Array(Math.ceil(src.length / 64) * 64);
    padded.set(src);
    parts.push(padded);
    off += padded.length;
  }
  const newBody = new Uint8Array(off);
  parts.reduce((p, part) => (newBody.set(part, p), p + part.length), 0);
  header.dataBytes = off;
  header.crc32 = crc32(newBody);
  const back = decodeWeights(assemble(header, newBody), "q.mtcnn");
  const got = back.params["conv1.weight"];
  for (let i = 0; i < w.length; i++) {
    assertAlmostEquals(got[i], scale[i % 10] * (q[i] - zero[i % 10]), 1e-6);
  }
  assert(maxAbsDiff(got, w) <= 0.05 + 1e-6, "dequantized within half a step of the largest scale");
  assertEquals(back.params["conv2.weight"], data.params["conv2.weight"]);
});
