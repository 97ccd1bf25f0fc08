import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertRejects, assertThrows, maxAbsDiff } from "./assert.ts";
import { Label, ShardWriter } from "../src/data/shards.ts";
import { type NetArch, onetArch, planArch, pnetArch, rnetArch } from "../src/nets/arch.ts";
import type { ActQuant } from "../src/nets/net.ts";
import { randomNetData } from "../src/nets/net.ts";
import { decodeWeights, encodeWeights, loadNetData } from "../src/nets/weights_io.ts";
import {
  dequantizeWeight,
  EmaRanges,
  fakeQuantWeights,
  forwardSim,
  int8Net,
  pointRanges,
  qat,
  quantizeNet,
  quantizeWeight,
  resolveQatConfig,
  toRelu,
} from "../src/optimize/mod.ts";
import { packParams, paramLayout, TrainGraph } from "../src/train/backprop.ts";
import { computeLoss, lossTf, resolveLossConfig, tfTargets } from "../src/train/losses.ts";
import { initTrainingBackend } from "../src/train/setup.ts";
import { createInt8Engine } from "../src/deploy/engine_int8.ts";
import { evaluateStage } from "../src/eval/stage.ts";
import { Rng } from "../src/util/random.ts";

function pixels(count: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: count }, () => rng.nextUint32() & 255);
}

/** A random net and its PTQ (min/max on random crops). */
function quantized(arch: NetArch, seed: number, bits: 7 | 8 = 8) {
  const data = randomNetData(arch, seed);
  const s = arch.input.size;
  const q = quantizeNet(data, { pixels: pixels(s * s * 3 * 16, seed + 1), count: 16, size: s }, {
    bits,
  });
  return { data, q };
}

const sigmoidFace = (l0: number, l1: number) => 1 / (1 + Math.exp(l0 - l1));

// narrow nets (same layers, fewer channels) keep the tests quick
const NARROW = (): NetArch[] => [
  pnetArch({ channels: [4, 6, 8] }),
  rnetArch({ channels: [4, 6, 8], dense: 16 }),
  onetArch({ channels: [4, 4, 6, 8], dense: 16 }),
];

Deno.test("fakeQuantWeights() quantises conv, dense and head weights per output channel and leaves biases and slopes", () => {
  const arch = rnetArch({ channels: [4, 6, 8], dense: 16 });
  const data = randomNetData(arch, 3);
  const flat = packParams(arch, data.params);
  const out = fakeQuantWeights(arch, flat);
  const shapes = Object.fromEntries(paramLayout(arch).slots.map((s) => [s.name, s]));
  for (const s of paramLayout(arch).slots) {
    const got = out.subarray(s.offset, s.offset + s.size);
    if (s.name.endsWith(".weight")) {
      const want = dequantizeWeight(quantizeWeight(data.params[s.name], s.shape), s.shape);
      assertEquals(Array.from(got), Array.from(want), s.name);
      assert(maxAbsDiff(got, data.params[s.name]) > 0, `${s.name} is quantised`);
    } else assertEquals(Array.from(got), Array.from(data.params[s.name]), s.name);
  }
  assert(shapes["fc.weight"] && shapes["landmarks.weight"] === undefined);
});

Deno.test("int8Net() of pointRanges() rebuilds quantizeNet()'s int8 net exactly", () => {
  for (const arch of NARROW()) {
    const { data, q } = quantized(arch, 5);
    const back = int8Net(data, pointRanges(arch, q.quant!.activations), { method: "minmax" });
    assertEquals(encodeWeights(back), encodeWeights(q), arch.name);
  }
});

Deno.test("EmaRanges starts at the given ranges, follows a moving average of batch min/max and holds still when not observing", () => {
  const start: Record<string, ActQuant> = { input: { scale: 2 / 255, zeroPoint: 128 } };
  const r = new EmaRanges(start, 0.75);
  assertEquals(r.range("input"), start.input);
  const lo0 = -128 * (2 / 255), hi0 = 127 * (2 / 255);
  const q = r.range("input", { lo: -3, hi: 5 })!;
  const lo = 0.75 * lo0 + 0.25 * -3, hi = 0.75 * hi0 + 0.25 * 5;
  assert(Math.abs(q.scale - (hi - lo) / 255) < 1e-7, `scale ${q.scale}`);
  assertEquals(q.zeroPoint, Math.round(-lo / q.scale));
  r.observe = false;
  assertEquals(r.range("input", { lo: -100, hi: 100 }), q);
  assertEquals(r.snapshot(), { input: q });
  // 7 bits: codes 0..127
  const r7 = new EmaRanges({ a: { scale: 0.1, zeroPoint: 10 } }, 0, 7);
  assertEquals(r7.maxCode, 127);
  assertEquals(r7.range("a", { lo: 0, hi: 12.7 }), { scale: Math.fround(0.1), zeroPoint: 0 });
});

Deno.test("TrainGraph in fake-quant mode equals forwardSim() with fake-quantised activations (batch of 7, P/R/ONet, 8 and 7 bits)", async () => {
  await initTrainingBackend("wasm");
  for (const bits of [8, 7] as const) {
    for (const arch of [...NARROW(), pnetArch()]) {
      const label = `${arch.name} ${bits}-bit`;
      const { data, q } = quantized(arch, 11, bits);
      const n = 7;
      const s = arch.input.size;
      const px = pixels(n * s * s * 3, 19);
      const before = tf.memory().numTensors;
      const g = new TrainGraph(arch);
      g.setParams(fakeQuantWeights(arch, packParams(arch, data.params)));
      const float = g.forward(px, n, false);
      const ranges = new EmaRanges(pointRanges(arch, q.quant!.activations), 0.9, bits);
      ranges.observe = false;
      g.setFakeQuant(ranges);
      const kept = g.forward(px, n, true);
      g.releaseActivations();
      const inf = g.forward(px, n, false);
      g.dispose();
      assertEquals(tf.memory().numTensors, before, `${label}: tensors leaked`);
      assertEquals(Array.from(kept.logits), Array.from(inf.logits), `${label}: keep or not`);
      let dq = 0, df = 0, same = 0, total = 0;
      for (let i = 0; i < n; i++) {
        const sim = forwardSim(q, px.subarray(i * s * s * 3, (i + 1) * s * s * 3), s, s, {
          activations: q.quant!.activations,
          bits,
        });
        const p = sigmoidFace(inf.logits[2 * i], inf.logits[2 * i + 1]);
        const pf = sigmoidFace(float.logits[2 * i], float.logits[2 * i + 1]);
        const box = inf.box.subarray(4 * i, 4 * i + 4);
        const d = Math.max(Math.abs(p - sim.cls[0]), maxAbsDiff(box, sim.box));
        dq = Math.max(dq, d);
        df = Math.max(
          df,
          Math.abs(pf - sim.cls[0]),
          maxAbsDiff(float.box.subarray(4 * i, 4 * i + 4), sim.box),
        );
        total++;
        if (d < 1e-5) same++;
      }
      // within rounding: most samples equal to float32 precision, none off by more than a few codes' worth
      assert(dq < 0.02, `${label}: fake-quant graph vs forwardSim max diff ${dq}`);
      assert(same >= total - 2, `${label}: ${same}/${total} samples equal`);
      // and the quantisation is really there: the float graph is further away
      assert(df > 10 * Math.max(dq, 1e-6) || df > 1e-3, `${label}: float vs sim ${df}, fq ${dq}`);
    }
  }
});

/**
 * A reference of the fake-quant forward pass as tfjs ops, with the
 * straight-through estimator as a tf.customGrad: the gradient passes where
 * the value is within half a step of its quantised value (not saturated).
 */
function referenceForward(
  arch: NetArch,
  params: Record<string, tf.Tensor>,
  x: tf.Tensor4D,
  ranges: Record<string, ActQuant>,
  maxCode: number,
) {
  const fq = (t: tf.Tensor, q: ActQuant) => {
    const f = tf.customGrad(
      ((v: tf.Tensor, save: tf.GradSaveFunc) => {
        const value = tf.tidy(() => {
          const codes = tf.clipByValue(
            tf.round(tf.mul(v, tf.scalar(Math.fround(1 / q.scale)))),
            -q.zeroPoint,
            maxCode - q.zeroPoint,
          );
          return tf.mul(codes, tf.scalar(q.scale));
        });
        save([v, value]);
        return {
          value,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
            tf.mul(
              dy,
              tf.cast(
                tf.lessEqual(tf.abs(tf.sub(saved[0], saved[1])), q.scale * 0.5000001),
                "float32",
              ),
            ),
        };
      }) as unknown as Parameters<typeof tf.customGrad>[0],
    );
    return f(t);
  };
  let h: tf.Tensor = fq(x, ranges.input);
  const layers = arch.layers;
  let block = "";
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (l.kind === "cls" || l.kind === "box" || l.kind === "landmarks") break;
    if (l.kind === "conv") {
      block = l.name;
      h = tf.add(
        tf.conv2d(h as tf.Tensor4D, params[`${l.name}.weight`] as tf.Tensor4D, l.stride, "valid"),
        params[`${l.name}.bias`],
      );
    } else if (l.kind === "dense") {
      block = l.name;
      h = tf.add(
        tf.matMul(h as tf.Tensor2D, params[`${l.name}.weight`] as tf.Tensor2D),
        params[`${l.name}.bias`],
      );
    } else if (l.kind === "prelu") h = tf.prelu(h, params[`${l.name}.alpha`]);
    else if (l.kind === "relu") h = tf.relu(h);
    else if (l.kind === "flatten") h = tf.reshape(h, [h.shape[0], -1]);
    else if (l.kind === "maxpool") {
      const [, hh, ww] = h.shape;
      const side = (n: number) => Math.ceil((n - l.size) / l.stride) + 1;
      const ph = (side(hh!) - 1) * l.stride + l.size - hh!;
      const pw = (side(ww!) - 1) * l.stride + l.size - ww!;
      if (l.rounding !== "ceil") throw new Error("reference: ceil pooling only");
      // pad with a very negative value: never a window's maximum
      if (ph > 0 || pw > 0) h = tf.pad(h, [[0, 0], [0, ph], [0, pw], [0, 0]], -1e9);
      h = tf.maxPool(h as tf.Tensor4D, l.size, l.stride, "valid");
    }
    const next = layers[i + 1];
    if (!["prelu", "relu", "maxpool", "flatten"].includes(next.kind)) h = fq(h, ranges[block]);
  }
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  // heads: [C, units] (PNet stores them as 1×1 convolutions)
  const head = (name: string) =>
    tf.add(
      tf.matMul(flat, tf.reshape(params[`${name}.weight`], [flat.shape[1], -1]) as tf.Tensor2D),
      params[`${name}.bias`],
    );
  return {
    logits: head("cls"),
    box: head("box"),
    landmarks: arch.layers.some((l) => l.kind === "landmarks") ? head("landmarks") : undefined,
  };
}

Deno.test("TrainGraph.backward() in fake-quant mode is the straight-through gradient (tf.grads through a customGrad reference, with saturation)", async () => {
  await initTrainingBackend("wasm");
  for (const arch of NARROW()) {
    const { data, q } = quantized(arch, 23);
    // ranges at 60 % of the calibrated ones: many activations saturate
    const ranges = Object.fromEntries(
      Object.entries(pointRanges(arch, q.quant!.activations)).map((
        [k, v],
      ) => [k, { scale: Math.fround(v.scale * 0.6), zeroPoint: v.zeroPoint }]),
    );
    const n = 9;
    const s = arch.input.size;
    const rng = new Rng(4);
    const b = {
      pixels: pixels(n * s * s * 3, 29),
      labels: Uint8Array.from({ length: n }, (_, i) => i % (arch.name === "onet" ? 4 : 3)),
      boxes: new Float32Array(n * 4).map(() => rng.uniform(-0.2, 0.2)),
      landmarks: new Float32Array(n * 10).map(() => rng.uniform(0, 1)),
    };
    const cfg = resolveLossConfig(arch.name as "pnet", { ohem: 0.7 });
    const flat = fakeQuantWeights(arch, packParams(arch, data.params));
    const g = new TrainGraph(arch);
    g.setParams(flat);
    const floatGrads = g.backward(computeLoss(g.forward(b.pixels, n, true), b, cfg));
    const fq = new EmaRanges(ranges, 0.9);
    fq.observe = false;
    g.setFakeQuant(fq);
    const grads = g.backward(computeLoss(g.forward(b.pixels, n, true), b, cfg));
    g.dispose();
    // reference
    const layout = paramLayout(arch);
    const names = layout.slots.map((x) => x.name);
    const tensors = layout.slots.map((x) =>
      tf.tensor(flat.subarray(x.offset, x.offset + x.size), x.shape)
    );
    const x = tf.tensor4d(
      Float32Array.from(b.pixels, (v) => (v - 127.5) * 0.0078125),
      [n, s, s, 3],
    );
    const t = tfTargets(b);
    const f = (...ps: tf.Tensor[]) => {
      const params: Record<string, tf.Tensor> = {};
      names.forEach((nm, i) => (params[nm] = ps[i]));
      return lossTf(referenceForward(arch, params, x, ranges, 255), t, cfg);
    };
    const ref = tf.grads(f)(tensors);
    const refFlat = new Float32Array(grads.length);
    layout.slots.forEach((sl, i) => refFlat.set(ref[i].dataSync() as Float32Array, sl.offset));
    tf.dispose([...ref, ...tensors, x]);
    tf.dispose(Object.values(t).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);
    const scale = refFlat.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const d = maxAbsDiff(grads, refFlat);
    assert(d < 1e-4 * scale, `${arch.name}: max |diff| ${d} vs max |grad| ${scale}`);
    // the masks matter: the float gradient is far from the straight-through one
    const conv1 = layout.slots.find((x) => x.name === "conv1.weight")!;
    const sub = (a: Float32Array) => a.subarray(conv1.offset, conv1.offset + conv1.size);
    assert(maxAbsDiff(sub(floatGrads), sub(refFlat)) > 100 * d, `${arch.name}: no saturation`);
  }
});

// ---------------------------------------------------------------------------
// A toy PNet dataset (bright squares with dark eyes and a mouth; noise negatives)

async function writeToy(dir: string, seed: number, counts: Record<"pos" | "neg" | "part", number>) {
  const rng = new Rng(seed);
  const S = 12;
  const w = await ShardWriter.open(dir, { size: S, seed, source: { toy: true } });
  const face = (shift: number) => {
    const px = new Uint8Array(S * S * 3).map(() => rng.int(0, 90));
    const x1 = 1 + rng.int(-shift, shift + 1), y1 = 1 + rng.int(-shift, shift + 1);
    const x2 = 10 + rng.int(-shift, shift + 1), y2 = 10 + rng.int(-shift, shift + 1);
    const set = (x: number, y: number, v: number) => {
      if (x >= 0 && y >= 0 && x < S && y < S) px.fill(v, (y * S + x) * 3, (y * S + x) * 3 + 3);
    };
    for (let y = y1; y <= y2; y++) for (let x = x1; x <= x2; x++) set(x, y, 200 + rng.int(0, 40));
    set(x1 + 3, y1 + 3, 20);
    set(x2 - 3, y1 + 3, 20);
    for (let x = x1 + 3; x <= x2 - 3; x++) set(x, y2 - 2, 40);
    return { px, box: [x1 / S, y1 / S, (x2 - S) / S, (y2 - S) / S] };
  };
  for (let i = 0; i < counts.pos; i++) {
    const f = face(1);
    w.add(Label.Positive, f.px, f.box);
  }
  for (let i = 0; i < counts.part; i++) {
    const f = face(4);
    w.add(Label.Part, f.px, f.box);
  }
  for (let i = 0; i < counts.neg; i++) {
    const base = rng.int(0, 160);
    w.add(Label.Negative, new Uint8Array(S * S * 3).map(() => base + rng.int(0, 96)));
  }
  await w.commit(1);
  await w.close();
}

let toyRoot: Promise<string> | undefined;
function toy(): Promise<string> {
  toyRoot ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "mtcnn_qat_toy_" });
    await writeToy(`${root}/train`, 1, { pos: 120, neg: 360, part: 120 });
    await writeToy(`${root}/val`, 2, { pos: 50, neg: 150, part: 50 });
    return root;
  })();
  return toyRoot;
}

async function toyQat(extra: Partial<Parameters<typeof resolveQatConfig>[0]> = {}) {
  const root = await toy();
  return resolveQatConfig({
    net: "pnet",
    trainData: [`${root}/train`],
    valData: [`${root}/val`],
    epochs: 3,
    lr: 5e-3,
    batchSize: 64,
    calibSamples: 128,
    seed: 3,
    ...extra,
  });
}

Deno.test("qat() on a toy PNet set beats its PTQ start on the int8 engine, writes what the engine and forwardSim agree on, and repeats byte for byte", async () => {
  await initTrainingBackend("wasm");
  const cfg = await toyQat();
  // a barely trained float net: PTQ of it is poor, QAT must improve on it
  const data = randomNetData(pnetArch(), 2);
  const r = await qat(data, cfg);
  assertEquals(r.history.map((h) => h.epoch), [0, 1, 2, 3]);
  assertEquals(r.history.map((h) => h.frozen), [true, false, false, true]);
  assert(r.bestEpoch > 0, `best epoch ${r.bestEpoch}`);
  const best = r.history[r.bestEpoch].val;
  assert(
    best.loss < 0.8 * r.history[0].val.loss,
    `val loss ${r.history[0].val.loss} → ${best.loss}`,
  );
  // through the file, on the int8 engine
  const q = decodeWeights(encodeWeights(r.net));
  assertEquals(q.quant!.method, "qat");
  const val = [`${await toy()}/val`];
  const mq = await evaluateStage(q, val, { threshold: 0.6 });
  const mp = await evaluateStage(r.start, val, { threshold: 0.6 });
  assert(
    mq.clsLoss < mp.clsLoss && mq.clsAcc >= mp.clsAcc,
    `QAT ${mq.clsLoss}/${mq.clsAcc} vs PTQ ${mp.clsLoss}/${mp.clsAcc}`,
  );
  assert(mq.clsAcc > 0.9, `cls acc ${mq.clsAcc}`);
  // the fake-quant graph's validation accuracy is the int8 engine's
  assert(Math.abs(mq.clsAcc - best.clsAcc) < 0.02, `engine ${mq.clsAcc} vs graph ${best.clsAcc}`);
  // int8 engine vs the fake-quantised simulation of the same file, on odd sizes
  const eng = await createInt8Engine(q);
  for (const [h, w] of [[12, 12], [31, 17]]) {
    const px = pixels(h * w * 3, h);
    const out = eng.run(px, 1, h, w);
    const sim = forwardSim(q, px, h, w, { activations: q.quant!.activations });
    assert(maxAbsDiff(out.cls, sim.cls) < 0.02, `${h}x${w} cls ${maxAbsDiff(out.cls, sim.cls)}`);
    assert(maxAbsDiff(out.box, sim.box) < 0.02, `${h}x${w} box`);
  }
  // int8 weights per output channel; params hold exactly their dequantised values
  for (const p of planArch(q.arch).params) {
    const t = q.quant!.weights[p.name];
    if (!p.name.endsWith(".weight")) continue;
    assertEquals(t.scale.length, p.shape[p.shape.length - 1], p.name);
    assertEquals(Array.from(q.params[p.name]), Array.from(dequantizeWeight(t, p.shape)), p.name);
  }
  const again = await qat(data, cfg);
  assertEquals(encodeWeights(again.net), encodeWeights(r.net));
  const other = await qat(data, await toyQat({ seed: 4, epochs: 1, freezeEpochs: 0 }));
  const [a, b] = [encodeWeights(other.net), encodeWeights(r.net)];
  assert(a.length !== b.length || a.some((v, i) => v !== b[i]), "another seed differs");
});

Deno.test("qat() with every epoch frozen keeps the PTQ ranges; with ReLU it drops the PReLU slopes and trains", async () => {
  await initTrainingBackend("wasm");
  const data = randomNetData(pnetArch(), 6);
  const frozen = await qat(data, await toyQat({ epochs: 1, freezeEpochs: 1 }));
  assertEquals(frozen.net.quant!.activations, frozen.start.quant!.activations);
  const relu = await qat(data, await toyQat({ epochs: 2, freezeEpochs: 1, act: "relu" }));
  assert(!relu.net.arch.layers.some((l) => l.kind === "prelu"));
  assert(!Object.keys(relu.net.params).some((k) => k.endsWith(".alpha")));
  assertEquals(relu.net.quant!.method, "qat-relu");
  // after ReLU (and pooling) every range starts at 0
  for (const [name, a] of Object.entries(relu.net.quant!.activations)) {
    if (a.output) assertEquals(a.output.zeroPoint, 0, name);
  }
  assert(relu.history[relu.bestEpoch].val.loss < relu.history[0].val.loss);
  const r = toRelu(data);
  assertEquals(r.arch.layers.filter((l) => l.kind === "relu").length, 3);
  assertThrows(() => toRelu(frozen.net), RangeError, "already int8");
});

Deno.test("resolveQatConfig() and qat() reject bad settings in one line", async () => {
  const base = { net: "pnet" as const, trainData: ["a"], valData: ["b"] };
  assertThrows(
    () => resolveQatConfig({ ...base, epochs: 0 }),
    RangeError,
    "qat: epochs must be an integer >= 1, got 0",
  );
  assertThrows(
    () => resolveQatConfig({ ...base, epochs: 2, freezeEpochs: 3 }),
    RangeError,
    "freeze epochs (3) exceed epochs (2)",
  );
  assertThrows(() => resolveQatConfig({ ...base, ema: 1 }), RangeError, "ema must be in [0, 1)");
  assertThrows(
    () => resolveQatConfig({ ...base, bits: 6 as 8 }),
    RangeError,
    "bits must be 7 or 8",
  );
  assertThrows(
    () => resolveQatConfig({ ...base, trainData: [] }),
    RangeError,
    "no training data folder",
  );
  await initTrainingBackend("wasm");
  await assertRejects(
    () => qat(randomNetData(rnetArch(), 1), resolveQatConfig(base)),
    RangeError,
    "the weights hold rnet, the config says pnet",
  );
  const root = await toy();
  await assertRejects(
    () =>
      qat(
        randomNetData(rnetArch(), 1),
        resolveQatConfig({ ...base, net: "rnet", trainData: [`${root}/train`] }),
      ),
    RangeError,
    "has 12 px samples, the net takes 24 px",
  );
});

Deno.test("deno task qat writes the int8 nets, the JSON and the table, and rejects bad flags in one line", async () => {
  const root = await toy();
  const out = await Deno.makeTempDir({ prefix: "mtcnn_qat_task_" });
  const w = `${out}/in.mtcnn`;
  await Deno.writeFile(w, encodeWeights(randomNetData(pnetArch(), 2)));
  const cwd = new URL("..", import.meta.url);
  const run = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "qat", ...args],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      ok: r.success,
      out: new TextDecoder().decode(r.stdout),
      err: new TextDecoder().decode(r.stderr).trim(),
    };
  };
  const data = ["--train-data", `${root}/train`, "--val-data", `${root}/val`];
  const ok = await run([
    "--net",
    "pnet",
    "--weights",
    w,
    ...data,
    "--out",
    `${out}/q`,
    "--act",
    "both",
    "--epochs",
    "2",
    "--lr",
    "0.005",
    "--batch-size",
    "64",
    "--calib-samples",
    "64",
    "--control",
  ]);
  assert(ok.ok, ok.err);
  assert(
    ok.out.includes(
      "| pnet | float | PTQ int8 | QAT int8 | float fine-tuned | fine-tuned + PTQ int8 | PTQ int8 (ReLU) | QAT int8 (ReLU) | float fine-tuned (ReLU) | fine-tuned + PTQ int8 (ReLU) |",
    ),
    ok.out,
  );
  const q = await loadNetData(`${out}/q/qat_pnet.mtcnn`);
  assertEquals(q.quant!.method, "qat");
  assertEquals((await loadNetData(`${out}/q/qat_relu_pnet.mtcnn`)).quant!.method, "qat-relu");
  const json = JSON.parse(await Deno.readTextFile(`${out}/q/qat_pnet.json`));
  assertEquals(json.rows.map((r: { name: string }) => r.name), [
    "float",
    "PTQ int8",
    "QAT int8",
    "float fine-tuned",
    "fine-tuned + PTQ int8",
    "PTQ int8 (ReLU)",
    "QAT int8 (ReLU)",
    "float fine-tuned (ReLU)",
    "fine-tuned + PTQ int8 (ReLU)",
  ]);
  assert(json.rows[2].fileBytes < json.rows[0].fileBytes / 2, "int8 file is smaller");
  const md = await Deno.readTextFile(`${out}/q/qat_pnet.md`);
  assert(md.includes("| cls acc |") && md.includes("| file bytes |"), md);
  assert(md.includes("Control, the same fine-tuning without fake quantisation"), md);
  // the control trained the float net: its weights moved, and it is not the QAT net
  assert(json.rows[3].metrics.clsLoss !== json.rows[0].metrics.clsLoss, "control trained");
  assert(json.rows[4].metrics.clsLoss !== json.rows[2].metrics.clsLoss, "control is not QAT");
  const bad: [string[], string][] = [
    [["--net", "pnet", "--weights", `${out}/missing.mtcnn`, ...data], "does not exist"],
    [["--net", "pnet", "--weights", `${out}/x.bin`, ...data], "is not a .mtcnn file"],
    [["--net", "rnet", "--weights", w, ...data], "holds pnet, not rnet"],
    [["--net", "pnet", "--weights", w, ...data, "--bits", "9"], "--bits must be 7 or 8"],
    [
      ["--net", "pnet", "--weights", w, ...data, "--epochs", "1", "--freeze-epochs", "2"],
      "freeze epochs (2) exceed epochs (1)",
    ],
    [
      ["--net", "pnet", "--weights", w, "--train-data", `${out}/nope`, "--val-data", `${root}/val`],
      "is not a shard dataset",
    ],
  ];
  for (const [args, msg] of bad) {
    const r = await run(args);
    assert(!r.ok, args.join(" "));
    assertEquals(r.err.split("\n").length, 1, r.err);
    assert(r.err.includes(msg), `${r.err} (want ${msg})`);
  }
  await Deno.remove(out, { recursive: true });
});
