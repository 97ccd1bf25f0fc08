/**
 * The nets' forward pass, side by side: tfjs on the wasm backend with the
 * original weights and with the seed's ONNX models imported, and
 * onnxruntime-web (1 thread, wasm SIMD) on the same seed models with their
 * batch / spatial dims freed. Shapes: PNet on 640×480, RNet ×256, ONet ×64.
 *
 *   deno bench -A tests/nets_bench.ts      # Deno's bench table
 *   deno run -A tests/nets_bench.ts        # median / min / max per row, like benchncnn
 */
import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-web";
import {
  createNet,
  ensureOriginalWeights,
  forward,
  importOnnxBytes,
  initBackend,
  loadNet,
  type Net,
  onnxFreeDims,
} from "../src/nets/mod.ts";
import { Rng } from "../src/util/random.ts";
import { SHARED } from "./assert.ts";

await initBackend("wasm");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

const SHAPES = { pnet: [1, 480, 640], rnet: [256, 24, 24], onet: [64, 48, 48] } as const;
const LABEL = { pnet: "PNet 640x480", rnet: "RNet x256", onet: "ONet x64" } as const;
type Name = keyof typeof SHAPES;
const NAMES: Name[] = ["pnet", "rnet", "onet"];

function pixels(name: Name): Float32Array {
  const [n, h, w] = SHAPES[name];
  const rng = new Rng(7);
  const d = new Float32Array(n * h * w * 3);
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(0, 255);
  return d;
}

const paths = await ensureOriginalWeights();
const original = Object.fromEntries(
  await Promise.all(NAMES.map(async (n) => [n, await loadNet(paths[n])])),
) as Record<Name, Net>;
const inputs = Object.fromEntries(
  NAMES.map((n) => [n, tf.tensor4d(pixels(n), [...SHAPES[n], 3])]),
) as Record<Name, tf.Tensor4D>;

async function runTfjs(net: Net, x: tf.Tensor4D) {
  const o = forward(net, x);
  await Promise.all([o.cls.data(), o.box.data(), o.landmarks?.data()]);
  tf.dispose([o.cls, o.logits, o.box, ...(o.landmarks ? [o.landmarks] : [])]);
}

interface Case {
  group: string;
  name: string;
  fn: () => Promise<unknown>;
}
const cases: Case[] = [];
for (const n of NAMES) {
  cases.push({
    group: LABEL[n],
    name: "tfjs-wasm, original weights",
    fn: () => runTfjs(original[n], inputs[n]),
  });
}

if (SHARED) {
  for (const n of NAMES) {
    const bytes = await Deno.readFile(`${SHARED}seed-models/${n}.onnx`);
    const data = importOnnxBytes(bytes);
    const seedNet = createNet(data.arch, data.params);
    cases.push({
      group: LABEL[n],
      name: "tfjs-wasm, seed ONNX imported",
      fn: () => runTfjs(seedNet, inputs[n]),
    });
    const free = onnxFreeDims(bytes, n === "pnet" ? { 0: "N", 2: "H", 3: "W" } : { 0: "N" });
    const session = await ort.InferenceSession.create(free, { logSeverityLevel: 3 });
    const [b, h, w] = SHAPES[n];
    const nchw = tf.tidy(() => tf.transpose(tf.div(tf.sub(inputs[n], 127.5), 127.5), [0, 3, 1, 2]));
    const feed = {
      [session.inputNames[0]]: new ort.Tensor("float32", nchw.dataSync() as Float32Array, [
        b,
        3,
        h,
        w,
      ]),
    };
    nchw.dispose();
    cases.push({
      group: LABEL[n],
      name: "onnxruntime-web, seed ONNX",
      fn: () => session.run(feed),
    });
  }
}

cases.sort((a, b) =>
  NAMES.findIndex((n) => LABEL[n] === a.group) - NAMES.findIndex((n) => LABEL[n] === b.group)
);
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
    if (c.group !== group) {
      group = c.group;
      console.log(`\n${group}`);
    }
    for (let i = 0; i < 3; i++) await c.fn();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      await c.fn();
      t.push(performance.now() - s);
    }
    t.sort((a, b) => a - b);
    const med = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    console.log(
      `  ${c.name.padEnd(32)} ${med.toFixed(1).padStart(7)} ${t[0].toFixed(1).padStart(7)} ${
        t[t.length - 1].toFixed(1).padStart(7)
      }`,
    );
  }
}
