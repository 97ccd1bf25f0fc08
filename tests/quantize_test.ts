import * as tf from "@tensorflow/tfjs-core";
import { assert, assertAlmostEquals, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";
import { onetArch, pnetArch, rnetArch } from "../src/nets/arch.ts";
import { createNet, disposeNet, forward, type NetData, randomNetData } from "../src/nets/net.ts";
import { initBackend } from "../src/nets/backend.ts";
import { decodeWeights, decodeWeightsHeader, encodeWeights } from "../src/nets/weights_io.ts";
import {
  actQuant,
  dequantizeWeight,
  evaluateSim,
  forwardSim,
  ptq,
  quantizeNet,
  quantizeValue,
  quantizeWeight,
  roundEven,
  weightBytes,
} from "../src/optimize/mod.ts";
import { Rng } from "../src/util/random.ts";

function pixels(count: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.nextUint32() & 255;
  return out;
}

function samples(size: number, count: number, seed: number) {
  return { pixels: pixels(size * size * 3 * count, seed), count, size };
}

Deno.test("quantizeWeight() puts each output channel's largest |w| at ±127 and stays within half a step", () => {
  const shape = [3, 3, 2, 4];
  const rng = new Rng(3);
  const w = Float32Array.from({ length: 72 }, (_, i) => (rng.next() - 0.5) * (1 + (i % 4)));
  const q = quantizeWeight(w, shape);
  assertEquals(q.axis, 3);
  assertEquals(q.scale.length, 4);
  for (let o = 0; o < 4; o++) {
    let m = 0, mq = 0;
    for (let i = o; i < 72; i += 4) {
      m = Math.max(m, Math.abs(w[i]));
      mq = Math.max(mq, Math.abs(q.q[i]));
    }
    assertAlmostEquals(q.scale[o], m / 127, 1e-7);
    assertEquals(mq, 127);
  }
  const back = dequantizeWeight(q, shape);
  for (let i = 0; i < 72; i++) {
    assert(Math.abs(back[i] - w[i]) <= q.scale[i % 4] / 2 + 1e-7, `value ${i}`);
  }
});

Deno.test("actQuant() widens the range to hold zero and maps its ends to 0 and 255", () => {
  const a = actQuant(-1, 3);
  assertAlmostEquals(a.scale, 4 / 255, 1e-7);
  assertEquals(a.zeroPoint, 64);
  const inv = Math.fround(1 / a.scale);
  assertEquals(quantizeValue(-1, inv, a.zeroPoint), 0);
  assertEquals(quantizeValue(3, inv, a.zeroPoint), 255);
  assertEquals(quantizeValue(100, inv, a.zeroPoint), 255);
  assertEquals(quantizeValue(0, inv, a.zeroPoint), 64);
  const pos = actQuant(2, 5); // all positive: 0 joins the range
  assertEquals(pos.zeroPoint, 0);
  assertAlmostEquals(pos.scale, 5 / 255, 1e-7);
  assertEquals([roundEven(2.5), roundEven(3.5), roundEven(-2.5), roundEven(-3.5), roundEven(1.2)], [
    2,
    4,
    -2,
    -4,
    1,
  ]);
});

Deno.test("forwardSim() without quantisation matches the tfjs forward pass (PNet 17x13, RNet, ONet)", async () => {
  await initBackend("cpu");
  for (
    const [arch, h, w] of [[pnetArch(), 17, 13], [rnetArch(), 24, 24], [
      onetArch(),
      48,
      48,
    ]] as const
  ) {
    const data = randomNetData(arch, 7);
    const px = pixels(h * w * 3, 11);
    const sim = forwardSim(data, px, h, w);
    const net = createNet(data.arch, data.params, data.meta);
    const out = forward(net, tf.tensor4d(Float32Array.from(px), [1, h, w, 3]));
    assert(maxAbsDiff(sim.cls, out.cls.dataSync() as Float32Array) < 1e-4, `${arch.name} cls`);
    assert(maxAbsDiff(sim.box, out.box.dataSync() as Float32Array) < 1e-4, `${arch.name} box`);
    if (out.landmarks) {
      assert(
        maxAbsDiff(sim.landmarks!, out.landmarks.dataSync() as Float32Array) < 1e-4,
        `${arch.name} landmarks`,
      );
    }
    tf.dispose([out.cls, out.box, out.logits, out.landmarks].filter((t) => t) as tf.Tensor[]);
    disposeNet(net);
  }
});

Deno.test("encodeWeights() writes int8 tensors with per-channel scales and activation ranges that decodeWeights() reads back", () => {
  const data = randomNetData(rnetArch(), 5);
  const q = quantizeNet(data, samples(24, 8, 1));
  const bytes = encodeWeights(q);
  const { header } = decodeWeightsHeader(bytes);
  const conv2 = header.tensors.find((t) => t.name === "conv2.weight")!;
  assertEquals(conv2.dtype, "int8");
  assertEquals(conv2.scale!.length, 48);
  assertEquals(header.tensors.find((t) => t.name === "conv2.bias")!.dtype, "float32");
  const back = decodeWeights(bytes);
  assertEquals(back.quant!.activations, q.quant!.activations);
  assertEquals(back.quant!.method, "minmax");
  for (const [name, t] of Object.entries(q.quant!.weights)) {
    assertEquals(Array.from(back.quant!.weights[name].q), Array.from(t.q), name);
    assertEquals(back.quant!.weights[name].scale, t.scale, name);
    assert(maxAbsDiff(back.params[name], q.params[name]) < 1e-7, name);
  }
  // weights ~4x smaller; the whole file too, up to the header and float biases
  const ratio = weightBytes(data) / weightBytes(back);
  assert(ratio > 3.5 && ratio <= 4, `weights ratio ${ratio}`);
  assert(encodeWeights(data).length / bytes.length > 3, "file ratio");
  // same net, same bytes
  assertEquals(encodeWeights(back), bytes);
});

Deno.test("decodeWeights() rejects an activation range with scale 0 in one line", () => {
  const q = quantizeNet(randomNetData(pnetArch(), 2), samples(12, 4, 2));
  q.quant!.activations.conv2.output = { scale: 0, zeroPoint: 3 };
  assertThrows(
    () => decodeWeights(encodeWeights(q), "p.mtcnn"),
    RangeError,
    'Cannot load "p.mtcnn": header.quantization.activations.conv2 needs a scale > 0',
  );
});

Deno.test("quantizeNet() keeps the fake-quantised outputs near fp32 and percentile ranges inside min/max", () => {
  const data = randomNetData(pnetArch(), 9);
  const calib = samples(12, 64, 4);
  const mm = quantizeNet(data, calib, { method: "minmax" });
  const pc = quantizeNet(data, calib, { method: "percentile", percentile: 99 });
  assertEquals(pc.quant!.method, "percentile:99");
  for (const name of Object.keys(mm.quant!.activations)) {
    assert(
      pc.quant!.activations[name].input.scale <= mm.quant!.activations[name].input.scale + 1e-9,
      name,
    );
  }
  const px = pixels(12 * 12 * 3 * 8, 8);
  for (let i = 0; i < 8; i++) {
    const x = px.subarray(i * 432, (i + 1) * 432);
    const f = forwardSim(data, x, 12, 12);
    const s = forwardSim(mm, x, 12, 12, { activations: mm.quant!.activations });
    assert(Math.abs(f.cls[0] - s.cls[0]) < 0.05, `cls ${f.cls[0]} vs ${s.cls[0]}`);
    assert(maxAbsDiff(f.box, s.box) < 0.05, "box");
  }
});

Deno.test("evaluateSim() computes the seed's table: CE over pos+neg, MSE over pos+part, accuracy at 0.5", () => {
  const data: NetData = randomNetData(pnetArch(), 12);
  const n = 6;
  const px = pixels(n * 432, 6);
  const labels = Uint8Array.from([0, 1, 2, 3, 1, 0]);
  const boxes = Float32Array.from({ length: n * 4 }, (_, i) => (i % 5) * 0.05 - 0.1);
  const m = evaluateSim(data, { pixels: px, labels, boxes, count: n, size: 12 });
  const outs = Array.from(
    { length: n },
    (_, i) => forwardSim(data, px.subarray(i * 432, (i + 1) * 432), 12, 12),
  );
  const p = outs.map((o) => o.cls[0]);
  const ce = (-Math.log(1 - p[0]) - Math.log(p[1]) - Math.log(p[4]) - Math.log(1 - p[5])) / 4;
  const acc = ([p[0] < 0.5, p[1] >= 0.5, p[4] >= 0.5, p[5] < 0.5].filter((x) => x).length) / 4;
  let se = 0;
  for (const i of [1, 2, 4]) {
    for (let k = 0; k < 4; k++) se += (outs[i].box[k] - boxes[i * 4 + k]) ** 2;
  }
  assertAlmostEquals(m.clsLoss, ce, 1e-9);
  assertAlmostEquals(m.clsAcc, acc, 1e-12);
  assertAlmostEquals(m.offsetLoss, se / 12, 1e-12);
});

Deno.test("ptq() returns the candidate with the lowest validation loss and rejects wrong-size samples", () => {
  const data = randomNetData(pnetArch(), 21);
  const val = {
    ...samples(12, 20, 5),
    labels: new Uint8Array(20).map((_, i) => i % 3),
    boxes: new Float32Array(80),
  };
  const r = ptq(data, samples(12, 32, 4), val);
  assertEquals(r.candidates.map((c) => c.method), ["minmax", "percentile:99.99"]);
  const best = Math.min(...r.candidates.map((c) => c.metrics.clsLoss + c.metrics.offsetLoss));
  const chosen = r.candidates.find((c) => c.net === r.net)!;
  assertEquals(chosen.metrics.clsLoss + chosen.metrics.offsetLoss, best);
  assertThrows(
    () => ptq(data, samples(24, 2, 1), val),
    RangeError,
    "samples are 24/12 px, the net wants 12 px",
  );
});
