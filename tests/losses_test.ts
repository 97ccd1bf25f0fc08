import * as tf from "@tensorflow/tfjs-core";
// registers tfjs' gradient functions (tfjs-core alone has none) for the lossTf checks
import "@tensorflow/tfjs";
import { initBackend } from "../src/nets/backend.ts";
import {
  boxLossTerm,
  computeLoss,
  hardestMask,
  type LossConfig,
  lossTf,
  ohemKeep,
  resolveLossConfig,
  tfTargets,
} from "../src/train/losses.ts";
import { Rng } from "../src/util/random.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";

const NONE = NaN;
const noOhem = (net: "pnet" | "rnet" | "onet" = "pnet", extra = {}) =>
  resolveLossConfig(net, { ohem: 1, ...extra });

/**
 * A batch of n samples: logits from `d` (face − not-face), given labels, zero
 * outputs; targets as datasets hold them (0 where a label has them, NaN elsewhere).
 */
function batch(labels: number[], d: number[]) {
  const n = labels.length;
  const logits = new Float32Array(2 * n);
  d.forEach((v, i) => (logits[2 * i + 1] = v));
  const boxes = new Float32Array(4 * n).fill(NONE);
  const landmarks = new Float32Array(10 * n).fill(NONE);
  labels.forEach((l, i) => {
    if (l === 1 || l === 2) boxes.fill(0, 4 * i, 4 * i + 4);
    if (l === 3) landmarks.fill(0, 10 * i, 10 * i + 10);
  });
  return {
    out: { logits, box: new Float32Array(4 * n), landmarks: new Float32Array(10 * n) },
    t: { labels: Uint8Array.from(labels), boxes, landmarks },
  };
}

Deno.test("computeLoss() cross-entropy of hand-computed logits: ln(4/3) for a positive, ln 4 for a negative", () => {
  const { out, t } = batch([1, 0], [Math.log(3), Math.log(3)]);
  const r = computeLoss(out, t, noOhem());
  // positive: softmax face prob 3/4 → −ln(3/4); negative: not-face prob 1/4 → −ln(1/4)
  assertAlmostEquals(r.cls, (Math.log(4 / 3) + Math.log(4)) / 2, 1e-6);
  assertEquals(r.counts.cls, 2);
  assertEquals(r.correct, 1); // the negative is called a face
  assertAlmostEquals(r.accuracy, 0.5);
  assertAlmostEquals(r.total, r.cls, 1e-12); // no box or landmark samples
  // d CE / d logit(face) = (p − y) / k with p = 3/4
  assertAlmostEquals(r.dLogits![1], (0.75 - 1) / 2, 1e-7);
  assertAlmostEquals(r.dLogits![0], -(0.75 - 1) / 2, 1e-7);
  assertAlmostEquals(r.dLogits![3], 0.75 / 2, 1e-7);
});

Deno.test("computeLoss() OHEM keeps exactly the hardest 70% of the classification samples", () => {
  // 10 classification samples with distinct losses, plus 2 parts that must not count
  const d = [2, -1, 0.5, 3, -2, 1, -0.5, 0, 4, -3, 9, 9];
  const labels = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 2, 2];
  const { out, t } = batch(labels, d);
  const cfg = resolveLossConfig("pnet", { ohem: 0.7 });
  const r = computeLoss(out, t, cfg);
  assertEquals(r.counts.cls, 10);
  assertEquals(r.counts.kept, 7);
  const ce = d.slice(0, 10).map((v, i) => Math.log1p(Math.exp(labels[i] === 1 ? -v : v)));
  const order = ce.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
  const kept = new Set(order.slice(0, 7).map(([, i]) => i));
  for (let i = 0; i < 12; i++) {
    assertEquals(r.kept[i] === 1, kept.has(i), `sample ${i}`);
    if (!kept.has(i)) {
      assertEquals(r.dLogits![2 * i], 0);
      assertEquals(r.dLogits![2 * i + 1], 0);
    } else assert(r.dLogits![2 * i + 1] !== 0);
  }
  const mean7 = order.slice(0, 7).reduce((a, [v]) => a + v, 0) / 7;
  assertAlmostEquals(r.cls, mean7, 1e-6);
  // without OHEM (validation) all ten count
  const all = computeLoss(out, t, cfg, { ohem: false });
  assertAlmostEquals(all.cls, ce.reduce((a, b) => a + b, 0) / 10, 1e-6);
});

Deno.test("hardestMask() breaks ties by the lower index; ohemKeep() floors and keeps at least one", () => {
  assertEquals(
    Array.from(hardestMask([1, 5, 5, 5, 0], [1, 1, 1, 1, 1], 2)),
    [0, 1, 1, 0, 0],
  );
  assertEquals(Array.from(hardestMask([9, 1, 2], [0, 1, 1], 1)), [0, 0, 1]);
  assertEquals(ohemKeep(10, 0.7), 7);
  assertEquals(ohemKeep(7, 0.7), 4);
  assertEquals(ohemKeep(1, 0.7), 1);
  assertEquals(ohemKeep(0, 0.7), 0);
});

Deno.test("computeLoss() masks: negatives add nothing to the box loss, parts nothing to classification, landmark samples only landmarks", () => {
  const labels = [0, 1, 2, 3];
  const { out, t } = batch(labels, [0.3, -0.2, 5, -5]);
  t.boxes.set([0.1, 0.1, -0.1, -0.1], 4); // positive
  t.boxes.set([0.2, 0, 0, -0.2], 8); // part
  t.landmarks.set([0.3, 0.4, 0.7, 0.4, 0.5, 0.6, 0.35, 0.8, 0.65, 0.8], 30);
  const cfg = noOhem("onet");
  const base = computeLoss(out, t, cfg);
  assertEquals(base.counts, { cls: 2, kept: 2, box: 2, landmarks: 1 });
  // changing everything a sample's label ignores changes nothing
  const out2 = {
    logits: out.logits.slice(),
    box: out.box.slice(),
    landmarks: out.landmarks.slice(),
  };
  out2.box.set([9, 9, 9, 9], 0); // negative's box
  out2.landmarks.set(new Array(10).fill(7), 0); // negative's landmarks
  out2.logits.set([4, -4], 4); // part's logits
  out2.box.set([3, 3, 3, 3], 12); // landmark sample's box
  out2.logits.set([1, 2], 6); // landmark sample's logits
  const moved = computeLoss(out2, t, cfg);
  assertEquals(moved.total, base.total);
  for (const i of [0, 3]) {
    assertEquals(Array.from(base.dBox!.slice(4 * i, 4 * i + 4)), [0, 0, 0, 0]);
  }
  for (const i of [2, 3]) assertEquals(Array.from(base.dLogits!.slice(2 * i, 2 * i + 2)), [0, 0]);
  for (const i of [0, 1, 2]) {
    assert(base.dLandmarks!.slice(10 * i, 10 * i + 10).every((v) => v === 0));
  }
  // box MSE: positive (0 − t)² mean over 8 coordinates of the two box samples
  const want = (4 * 0.01 + 0.04 + 0.04) / 8;
  assertAlmostEquals(base.box, want, 1e-7);
  assertAlmostEquals(base.total, base.cls + 0.5 * base.box + 1 * base.landmarks, 1e-9);
  // a NaN target on a negative is ignored; a NaN output that counts makes the loss NaN
  assert(Number.isFinite(base.total));
  out2.box[4] = NaN;
  assert(Number.isNaN(computeLoss(out2, t, cfg).total));
});

Deno.test("computeLoss() is NaN when an output OHEM leaves out is NaN", () => {
  const { out, t } = batch([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [5, 5, 5, -5, -5, -5, -5, -5, -5, -5]);
  out.logits[1] = NaN;
  assert(Number.isNaN(computeLoss(out, t, resolveLossConfig("pnet")).total));
});

Deno.test("boxLossTerm() smooth L1 and Wing values and slopes", () => {
  const s = resolveLossConfig("pnet", { boxLoss: "smoothl1", smoothL1Beta: 0.1 });
  assertAlmostEquals(boxLossTerm(0.05, s).value, 0.5 * 0.0025 / 0.1, 1e-12);
  assertAlmostEquals(boxLossTerm(0.05, s).grad, 0.5, 1e-12);
  assertAlmostEquals(boxLossTerm(-0.3, s).value, 0.3 - 0.05, 1e-12);
  assertEquals(boxLossTerm(-0.3, s).grad, -1);
  const w = resolveLossConfig("pnet", { boxLoss: "wing", wingWidth: 0.1, wingEpsilon: 0.02 });
  assertAlmostEquals(boxLossTerm(0.05, w).value, 0.1 * Math.log(3.5), 1e-12);
  assertAlmostEquals(boxLossTerm(-0.05, w).grad, -0.1 / 0.07, 1e-12);
  const c = 0.1 - 0.1 * Math.log(6);
  assertAlmostEquals(boxLossTerm(0.3, w).value, 0.3 - c, 1e-12);
  // continuous at |x| = w
  assertAlmostEquals(boxLossTerm(0.1 - 1e-12, w).value, boxLossTerm(0.1 + 1e-12, w).value, 1e-9);
  const m = resolveLossConfig("pnet");
  assertEquals(boxLossTerm(-0.2, m).value, 0.04000000000000001);
});

Deno.test("computeLoss() gradient matches finite differences for every box loss", () => {
  const rng = new Rng(11);
  const n = 16;
  const labels = Array.from({ length: n }, (_, i) => i % 4);
  for (const boxLoss of ["mse", "smoothl1", "wing"] as const) {
    const cfg = resolveLossConfig("onet", { boxLoss, ohem: 0.7 });
    const out = {
      logits: new Float32Array(2 * n).map(() => rng.uniform(-2, 2)),
      box: new Float32Array(4 * n).map(() => rng.uniform(-0.3, 0.3)),
      landmarks: new Float32Array(10 * n).map(() => rng.uniform(0, 1)),
    };
    const t = {
      labels: Uint8Array.from(labels),
      boxes: new Float32Array(4 * n).map(() => rng.uniform(-0.3, 0.3)),
      landmarks: new Float32Array(10 * n).map(() => rng.uniform(0, 1)),
    };
    const r = computeLoss(out, t, cfg);
    for (
      const [key, grad] of [["logits", r.dLogits], ["box", r.dBox], [
        "landmarks",
        r.dLandmarks,
      ]] as const
    ) {
      const a = out[key];
      for (let j = 0; j < a.length; j += 3) {
        const keep = a[j];
        const h = 1e-3;
        a[j] = keep + h;
        const up = computeLoss(out, t, cfg, { gradient: false }).total;
        a[j] = keep - h;
        const down = computeLoss(out, t, cfg, { gradient: false }).total;
        a[j] = keep;
        assertAlmostEquals((up - down) / (2 * h), grad![j], 2e-4, `${boxLoss} ${key}[${j}]`);
      }
    }
  }
});

Deno.test("lossTf() equals computeLoss() in value and gradient (masks only, OHEM on a stop-gradient copy)", async () => {
  await initBackend("cpu");
  const rng = new Rng(5);
  const n = 20;
  for (const boxLoss of ["mse", "smoothl1", "wing"] as const) {
    const cfg: LossConfig = resolveLossConfig("onet", { boxLoss });
    const logits = new Float32Array(2 * n).map(() => rng.uniform(-2, 2));
    const box = new Float32Array(4 * n).map(() => rng.uniform(-0.3, 0.3));
    const lm = new Float32Array(10 * n).map(() => rng.uniform(0, 1));
    const t = {
      labels: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 4),
      boxes: new Float32Array(4 * n).map(() => rng.uniform(-0.3, 0.3)),
      landmarks: new Float32Array(10 * n).map(() => rng.uniform(0, 1)),
    };
    // absent targets are NaN in datasets: they must not leak into the tf loss
    for (let i = 0; i < n; i++) {
      if (t.labels[i] === 0 || t.labels[i] === 3) t.boxes.fill(NaN, 4 * i, 4 * i + 4);
      if (t.labels[i] !== 3) t.landmarks.fill(NaN, 10 * i, 10 * i + 10);
    }
    const r = computeLoss({ logits, box, landmarks: lm }, t, cfg);
    const tt = tfTargets(t);
    const before = tf.memory().numTensors;
    const xs = [tf.tensor2d(logits, [n, 2]), tf.tensor2d(box, [n, 4]), tf.tensor2d(lm, [n, 10])];
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      lossTf({ logits: a, box: b, landmarks: c }, tt, cfg);
    const value = f(xs[0], xs[1], xs[2]);
    assertAlmostEquals(value.dataSync()[0], r.total, 1e-5, boxLoss);
    const grads = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)(xs);
    assert(maxAbsDiff(grads[0].dataSync(), r.dLogits!) < 1e-6, `${boxLoss} dLogits`);
    assert(maxAbsDiff(grads[1].dataSync(), r.dBox!) < 1e-6, `${boxLoss} dBox`);
    assert(maxAbsDiff(grads[2].dataSync(), r.dLandmarks!) < 1e-6, `${boxLoss} dLandmarks`);
    tf.dispose([value, ...grads, ...xs]);
    assertEquals(tf.memory().numTensors, before);
    tf.dispose(Object.values(tt).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);
  }
});

Deno.test("resolveLossConfig() takes the paper's per-net weights and rejects bad options in one line", () => {
  assertEquals(resolveLossConfig("pnet").weights, { cls: 1, box: 0.5, landmarks: 0.5 });
  assertEquals(resolveLossConfig("onet").weights, { cls: 1, box: 0.5, landmarks: 1 });
  assertEquals(resolveLossConfig("rnet", { weights: { box: 2 } }).weights.box, 2);
  assertEquals(resolveLossConfig("pnet").ohem, 0.7);
  assertThrows(() => resolveLossConfig("pnet", { ohem: 0 }), RangeError, "ohem must be in (0, 1]");
  assertThrows(
    () => resolveLossConfig("pnet", { boxLoss: "l3" as "mse" }),
    RangeError,
    "box loss must be one of mse, smoothl1, wing",
  );
  assertThrows(
    () => resolveLossConfig("pnet", { bogus: 1 } as never),
    RangeError,
    'unknown loss option "bogus"',
  );
  assertThrows(
    () => resolveLossConfig("pnet", { weights: { cls: -1 } }),
    RangeError,
    'loss weight "cls" must be a number >= 0',
  );
});
