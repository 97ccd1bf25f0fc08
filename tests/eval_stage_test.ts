import { assert, assertAlmostEquals, assertEquals } from "./assert.ts";
import { evaluateStage } from "../src/eval/stage.ts";
import { Label, ShardWriter } from "../src/data/shards.ts";
import { createNet, forward, initBackend, pnetArch, randomNetData, tf } from "../src/nets/mod.ts";
import { Rng } from "../src/util/random.ts";

Deno.test("evaluateStage() computes the seed's metrics and the recall at the threshold, as from tfjs outputs by hand", async () => {
  const dir = await Deno.makeTempDir();
  const rng = new Rng(4);
  const w = await ShardWriter.open(dir, { size: 12, seed: 4, source: {} });
  const samples: { label: number; px: Uint8Array; box: number[] }[] = [];
  for (let i = 0; i < 57; i++) {
    const label = [Label.Negative, Label.Positive, Label.Part][i % 3];
    const px = new Uint8Array(432).map(() => rng.int(0, 256));
    const box = [0, 1, 2, 3].map(() => rng.uniform(-0.3, 0.3));
    samples.push({ label, px, box });
    w.add(label, px, label === Label.Negative ? undefined : box);
  }
  await w.close();
  const data = randomNetData(pnetArch(), 7);
  const m = await evaluateStage(data, [dir], { threshold: 0.5, net: "pnet" });

  await initBackend("wasm");
  const net = createNet(data.arch, data.params, data.meta);
  // readBatches without shuffle visits labels in order neg, pos, part: compute in that order too.
  let ce = 0, nCls = 0, mse = 0, nBox = 0, correct = 0, pos = 0, posHit = 0;
  for (const s of samples) {
    const out = tf.tidy(() => {
      const r = forward(net, tf.tensor4d(s.px, [1, 12, 12, 3], "float32"));
      return { p: r.cls.dataSync()[0], box: Array.from(r.box.dataSync()) };
    });
    if (s.label !== Label.Part) {
      nCls++;
      ce += s.label === Label.Positive ? -Math.log(out.p) : -Math.log(1 - out.p);
      if ((out.p >= 0.5) === (s.label === Label.Positive)) correct++;
    }
    if (s.label === Label.Positive) {
      pos++;
      if (out.p >= 0.5) posHit++;
    }
    if (s.label !== Label.Negative) {
      nBox++;
      for (let c = 0; c < 4; c++) mse += (out.box[c] - s.box[c]) ** 2;
    }
  }
  assertEquals(m.samples, 57);
  assertAlmostEquals(m.clsLoss, ce / nCls, 1e-4);
  assertAlmostEquals(m.offsetLoss, mse / (4 * nBox), 1e-5);
  assertAlmostEquals(m.clsAcc, correct / nCls, 1e-9);
  assertAlmostEquals(m.recallAtThreshold, posHit / pos, 1e-9);
  assert(m.falseAlarmAtThreshold >= 0 && m.falseAlarmAtThreshold <= 1);
});

Deno.test("evaluateStage() refuses a dataset of another sample size with one line", async () => {
  const dir = await Deno.makeTempDir();
  const w = await ShardWriter.open(dir, { size: 24, seed: 1, source: {} });
  w.add(Label.Negative, new Uint8Array(24 * 24 * 3));
  await w.close();
  let msg = "";
  try {
    await evaluateStage(randomNetData(pnetArch(), 1), [dir], { threshold: 0.6 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertEquals(msg, "Cannot evaluate: the dataset has 24 px samples, the net takes 12 px");
});
