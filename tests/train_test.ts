import * as tf from "@tensorflow/tfjs-core";
import { Label, ShardWriter } from "../src/data/shards.ts";
import { onetArch, pnetArch, rnetArch } from "../src/nets/arch.ts";
import { createNet, forward, randomNetData } from "../src/nets/net.ts";
import { decodeWeights } from "../src/nets/weights_io.ts";
import {
  augmentBatch,
  augmentTargets,
  augmentToInput,
  jitterPixels,
  planAugment,
  slicePlan,
} from "../src/train/augment.ts";
import { normalizeInput, packParams, paramLayout, TrainGraph } from "../src/train/backprop.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { computeLoss, lossTf, resolveLossConfig, tfTargets } from "../src/train/losses.ts";
import { Adam, defaultMilestones, lrAt } from "../src/train/optimizer.ts";
import { DataParallel, splitCounts } from "../src/train/parallel.ts";
import { initTrainingBackend } from "../src/train/setup.ts";
import {
  resolveTrainConfig,
  train,
  type TrainConfig,
  TrainingDivergedError,
} from "../src/train/trainer.ts";
import { Rng } from "../src/util/random.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
  maxAbsDiff,
} from "./assert.ts";

// ---------------------------------------------------------------------------
// A toy PNet dataset: "faces" are bright squares with two dark eyes and a
// mouth at a known (integer) box, negatives are noise. Box offsets follow the
// datasets' convention: inclusive face pixels X1..X2, window 0..size.

const SIZE = 12;

function toyFace(rng: Rng, x1: number, y1: number, x2: number, y2: number): Uint8Array {
  const px = new Uint8Array(SIZE * SIZE * 3);
  for (let i = 0; i < px.length; i++) px[i] = rng.int(0, 90);
  const set = (x: number, y: number, v: number) => {
    if (x < 0 || y < 0 || x >= SIZE || y >= SIZE) return;
    for (let c = 0; c < 3; c++) px[(y * SIZE + x) * 3 + c] = v;
  };
  for (let y = y1; y <= y2; y++) for (let x = x1; x <= x2; x++) set(x, y, 200 + rng.int(0, 40));
  const w = x2 - x1;
  const h = y2 - y1;
  set(x1 + Math.round(w * 0.3), y1 + Math.round(h * 0.35), 20);
  set(x1 + Math.round(w * 0.7), y1 + Math.round(h * 0.35), 20);
  for (let x = x1 + Math.round(w * 0.3); x <= x1 + Math.round(w * 0.7); x++) {
    set(x, y1 + Math.round(h * 0.75), 40);
  }
  return px;
}

async function writeToy(
  dir: string,
  seed: number,
  counts: { pos: number; neg: number; part: number },
) {
  const rng = new Rng(seed);
  const w = await ShardWriter.open(dir, {
    size: SIZE,
    seed,
    source: { toy: true },
    shardBytes: 8000,
  });
  const face = (shift: number) => {
    const a = rng.int(-shift, shift + 1), b = rng.int(-shift, shift + 1);
    const c = rng.int(-shift, shift + 1), d = rng.int(-shift, shift + 1);
    const x1 = 1 + a, y1 = 1 + b, x2 = 10 + c, y2 = 10 + d;
    const box = [x1 / SIZE, y1 / SIZE, (x2 - SIZE) / SIZE, (y2 - SIZE) / SIZE];
    return { px: toyFace(rng, x1, y1, x2, y2), box };
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
    const px = new Uint8Array(SIZE * SIZE * 3);
    const base = rng.int(0, 160);
    for (let k = 0; k < px.length; k++) px[k] = base + rng.int(0, 96);
    w.add(Label.Negative, px);
  }
  await w.commit(1);
  await w.close();
}

let toyDirs: Promise<{ train: string; val: string }> | undefined;
function toy() {
  toyDirs ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "mtcnn_train_toy_" });
    await writeToy(`${root}/train`, 1, { pos: 160, neg: 480, part: 160 });
    await writeToy(`${root}/val`, 2, { pos: 60, neg: 180, part: 60 });
    return { train: `${root}/train`, val: `${root}/val` };
  })();
  return toyDirs;
}

async function toyConfig(extra: Partial<Parameters<typeof resolveTrainConfig>[0]> = {}) {
  const d = await toy();
  return resolveTrainConfig({
    net: "pnet",
    trainData: [d.train],
    valData: [d.val],
    epochs: 3,
    batchSize: 64,
    lr: 0.005,
    seed: 7,
    ...extra,
  });
}

const runDir = () => Deno.makeTempDir({ prefix: "mtcnn_train_run_" });
const quiet = { plot: false };

// ---------------------------------------------------------------------------
// Augmentation

function toyBatch(n: number, seed: number) {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(n * SIZE * SIZE * 3);
  const boxes = new Float32Array(4 * n);
  const landmarks = new Float32Array(10 * n);
  for (let i = 0; i < n; i++) {
    const x1 = rng.int(0, 4), y1 = rng.int(0, 4), x2 = rng.int(7, 12), y2 = rng.int(7, 12);
    pixels.set(toyFace(rng, x1, y1, x2, y2), i * SIZE * SIZE * 3);
    boxes.set([x1 / SIZE, y1 / SIZE, (x2 - SIZE) / SIZE, (y2 - SIZE) / SIZE], 4 * i);
    // five landmarks at pixel centres, each marked by its own colour
    for (let k = 0; k < 5; k++) {
      const x = rng.int(0, SIZE), y = rng.int(0, SIZE);
      landmarks[10 * i + 2 * k] = (x + 0.5) / SIZE;
      landmarks[10 * i + 2 * k + 1] = (y + 0.5) / SIZE;
    }
  }
  return {
    count: n,
    size: SIZE,
    channels: 3,
    pixels,
    labels: new Uint8Array(n).fill(Label.Positive),
    boxes,
    landmarks,
  };
}

Deno.test("augmentBatch() flips pixels, box offsets and landmarks consistently (left/right points swap)", () => {
  const b = toyBatch(40, 3);
  // paint each landmark with a colour naming its point (after the face, so it is visible)
  for (let i = 0; i < b.count; i++) {
    for (let k = 0; k < 5; k++) {
      const x = Math.floor(b.landmarks[10 * i + 2 * k] * SIZE);
      const y = Math.floor(b.landmarks[10 * i + 2 * k + 1] * SIZE);
      const o = (i * SIZE * SIZE + y * SIZE + x) * 3;
      b.pixels.set([k * 50 + 1, 7, 7], o);
    }
  }
  const before = b.pixels.slice();
  const flipsOnly = { flip: true, brightness: 0, contrast: 0 };
  const a = augmentBatch(b, flipsOnly, 99);
  let flipped = 0;
  const sb = SIZE * SIZE * 3;
  for (let i = 0; i < b.count; i++) {
    const same = a.pixels.subarray(i * sb, (i + 1) * sb).every((v, j) =>
      v === b.pixels[i * sb + j]
    );
    if (same) {
      assertEquals(
        Array.from(a.boxes.subarray(4 * i, 4 * i + 4)),
        Array.from(b.boxes.subarray(4 * i, 4 * i + 4)),
      );
      continue;
    }
    flipped++;
    // pixels mirrored
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        assertEquals(
          a.pixels[i * sb + (y * SIZE + x) * 3],
          b.pixels[i * sb + (y * SIZE + SIZE - 1 - x) * 3],
        );
      }
    }
    // the box the offsets describe is the mirrored box: columns 11-X2 .. 11-X1
    const X1 = Math.round(b.boxes[4 * i] * SIZE), X2 = Math.round(b.boxes[4 * i + 2] * SIZE) + SIZE;
    assertAlmostEquals(a.boxes[4 * i] * SIZE, SIZE - 1 - X2, 1e-5);
    assertAlmostEquals(a.boxes[4 * i + 2] * SIZE + SIZE, SIZE - 1 - X1, 1e-5);
    assertEquals(a.boxes[4 * i + 1], b.boxes[4 * i + 1]);
    assertEquals(a.boxes[4 * i + 3], b.boxes[4 * i + 3]);
    // each new landmark sits on the pixel painted for the mirrored point
    const swap = [1, 0, 2, 4, 3];
    for (let k = 0; k < 5; k++) {
      const x = Math.floor(a.landmarks[10 * i + 2 * k] * SIZE + 1e-6);
      const y = Math.floor(a.landmarks[10 * i + 2 * k + 1] * SIZE);
      const src = swap[k];
      const ox = Math.floor(b.landmarks[10 * i + 2 * src] * SIZE);
      const oy = Math.floor(b.landmarks[10 * i + 2 * src + 1] * SIZE);
      assertEquals([x, y], [SIZE - 1 - ox, oy], `sample ${i} point ${k}`);
    }
  }
  assert(flipped > 10 && flipped < 30, `about half flipped, got ${flipped}`);
  // flipping twice with the same draws is the identity
  const twice = augmentBatch(a, flipsOnly, 99);
  assertEquals(Array.from(twice.pixels), Array.from(b.pixels));
  assert(maxAbsDiff(twice.boxes, b.boxes) < 1e-6);
  assert(maxAbsDiff(twice.landmarks, b.landmarks) < 1e-6);
  // the input batch is left as it was
  assertEquals(b.pixels, before);
});

Deno.test("augmentBatch() jitter is seeded, keeps labels and targets, stays in 0..255", () => {
  const b = toyBatch(16, 4);
  const cfg = { flip: false, brightness: 0.3, contrast: 0.5 };
  const a1 = augmentBatch(b, cfg, 5);
  const a2 = augmentBatch(b, cfg, 5);
  const a3 = augmentBatch(b, cfg, 6);
  assertEquals(a1.pixels, a2.pixels);
  assert(maxAbsDiff(a1.pixels, a3.pixels) > 0);
  assert(maxAbsDiff(a1.pixels, b.pixels) > 0);
  assertEquals(a1.boxes, b.boxes);
  assertEquals(a1.labels, b.labels);
  const px = new Uint8Array([0, 100, 255]);
  jitterPixels(px, 1, 0);
  assertEquals(Array.from(px), [0, 100, 255]);
  jitterPixels(px, 2, 0); // mean 118.33: contrast doubles distances, clamped
  assertEquals(Array.from(px), [0, 82, 255]);
});

Deno.test("augmentToInput() gives normalizeInput() of augmentBatch() exactly (RGB and BGR nets), for any slice", () => {
  const b = toyBatch(24, 8);
  const cfg = { flip: true, brightness: 0.2, contrast: 0.3 };
  for (const order of ["RGB", "BGR"] as const) {
    const input = { ...pnetArch().input, channelOrder: order, mean: [120, 127.5, 130] };
    const want = normalizeInput(input, augmentBatch(b, cfg, 17).pixels, 24);
    const plan = planAugment(24, cfg, 17);
    assertEquals(augmentToInput(b.pixels, input, plan), want);
    // a worker's slice: samples 10..23 with their own draws
    const sb = SIZE * SIZE * 3;
    const part = augmentToInput(b.pixels.subarray(10 * sb), input, slicePlan(plan, 10, 14));
    assertEquals(part, want.subarray(10 * sb));
  }
});

// ---------------------------------------------------------------------------
// Optimizer

Deno.test("Adam's first step moves every weight by lr against its gradient; lrAt() drops at milestones", () => {
  const p = new Float32Array([1, -2, 3]);
  const adam = new Adam(3);
  adam.step(p, new Float32Array([0.5, -4, 1e-3]), 0.1);
  assert(maxAbsDiff(p, [0.9, -1.9, 2.9]) < 1e-5, `${p}`);
  // converges on a quadratic
  const q = new Float32Array([5, -5]);
  const opt = new Adam(2);
  for (let i = 0; i < 2000; i++) {
    opt.step(q, new Float32Array([2 * (q[0] - 1), 2 * (q[1] + 2)]), 0.05);
  }
  assert(maxAbsDiff(q, [1, -2]) < 1e-3, `${q}`);
  const s = { lr: 0.01, milestones: [10, 40, 80], gamma: 0.1 };
  assertEquals([lrAt(s, 0), lrAt(s, 9)], [0.01, 0.01]);
  assertAlmostEquals(lrAt(s, 10), 0.001, 1e-15);
  assertAlmostEquals(lrAt(s, 80), 1e-5, 1e-18);
  assertEquals(defaultMilestones(10), [6, 9]);
  assertEquals(defaultMilestones(1), []);
});

// ---------------------------------------------------------------------------
// Forward/backward

function randomBatch(arch: ReturnType<typeof pnetArch>, n: number, seed: number) {
  const rng = new Rng(seed);
  const s = arch.input.size;
  return {
    pixels: new Uint8Array(n * s * s * 3).map(() => rng.int(0, 256)),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 4),
    boxes: new Float32Array(n * 4).map(() => rng.uniform(-0.2, 0.2)),
    landmarks: new Float32Array(n * 10).map(() => rng.uniform(0, 1)),
  };
}

/** Gradients of TrainGraph and of tf.grads through forward(fuse: false) + lossTf. */
function bothGradients(arch: ReturnType<typeof pnetArch>, seed: number) {
  const n = 8;
  const b = randomBatch(arch, n, seed);
  const data = randomNetData(arch, seed);
  const cfg = resolveLossConfig(arch.name as "pnet", { ohem: 0.7 });
  const g = new TrainGraph(arch);
  g.setParams(packParams(arch, data.params));
  const kept = g.forward(b.pixels, n, true);
  const inference = g.forward(b.pixels, n, false);
  const out = g.forward(b.pixels, n, true);
  const r = computeLoss(out, b, cfg);
  const grads = g.backward(r);
  g.dispose();
  const names = paramLayout(arch).slots.map((s) => s.name);
  const net = createNet(arch, data.params);
  const t = tfTargets(b);
  const x = tf.tensor4d(Float32Array.from(b.pixels), [n, arch.input.size, arch.input.size, 3]);
  const f = (...ps: tf.Tensor[]) => {
    const params: Record<string, tf.Tensor> = {};
    names.forEach((nm, i) => (params[nm] = ps[i]));
    const o = forward({ arch, params, meta: {} }, x, { fuse: false });
    return lossTf({ logits: o.logits, box: o.box, landmarks: o.landmarks }, t, cfg);
  };
  const ref = tf.grads(f)(names.map((nm) => net.params[nm]));
  const refFlat = new Float32Array(grads.length);
  paramLayout(arch).slots.forEach((s, i) =>
    refFlat.set(ref[i].dataSync() as Float32Array, s.offset)
  );
  tf.dispose([...ref, x, ...Object.values(net.params)]);
  tf.dispose(Object.values(t).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);
  return { grads, refFlat, kept, inference, loss: r.total };
}

// narrow nets (same layers, fewer channels) on both backends: the cpu backend is
// slow, and comparing the two checks the wasm kernels; the real nets on wasm
const NARROW = () => [
  pnetArch({ channels: [4, 6, 8] }),
  rnetArch({ channels: [4, 6, 8], dense: 16 }),
  onetArch({ channels: [4, 4, 6, 8], dense: 16 }),
];
const cpuGrads = new Map<string, Float32Array>();

for (const backend of ["cpu", "wasm"] as const) {
  const archs = backend === "cpu" ? NARROW() : [...NARROW(), pnetArch(), rnetArch(), onetArch()];
  const what = backend === "cpu" ? "narrow P/R/ONet on cpu" : "P/R/ONet on wasm, and as on cpu";
  Deno.test(`TrainGraph.backward() equals tf.grads of the forward pass and lossTf (${what})`, async () => {
    await initTrainingBackend(backend);
    for (const [k, arch] of archs.entries()) {
      const key = `${arch.name}${k}`;
      const before = tf.memory().numTensors;
      const { grads, refFlat, kept, inference } = bothGradients(arch, 3);
      const scale = refFlat.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const d = maxAbsDiff(grads, refFlat);
      assert(d < 2e-5 * scale, `${key}: max |diff| ${d} vs max |grad| ${scale}`);
      if (backend === "cpu") cpuGrads.set(key, grads);
      else if (cpuGrads.has(key)) {
        const dc = maxAbsDiff(grads, cpuGrads.get(key)!);
        assert(dc < 2e-5 * scale, `${key}: wasm vs cpu max |diff| ${dc} vs max |grad| ${scale}`);
      }
      // the training path's outputs are the inference path's
      assert(maxAbsDiff(kept.logits, inference.logits) < 1e-4, `${key} logits`);
      assert(maxAbsDiff(kept.box, inference.box) < 1e-4, `${key} box`);
      assertEquals(tf.memory().numTensors, before, `${key}: tensors leaked`);
    }
  });
}

Deno.test("splitCounts() cuts a batch into near-equal contiguous slices", () => {
  assertEquals(splitCounts(256, 2), [128, 128]);
  assertEquals(splitCounts(7, 3), [3, 2, 2]);
  assertEquals(splitCounts(1, 2), [1, 0]);
});

Deno.test("DataParallel on 2 (polling) and 3 (sleeping) workers gives the weights of 1 worker (augmenting Adam steps, within 1e-5)", async () => {
  const arch = pnetArch();
  const cfg = resolveLossConfig("pnet");
  const results: Float32Array[] = [];
  // the 3-worker run sleeps between hand-overs (spinMs 0), the 2-worker run polls first
  const setups = [{ workers: 1 }, { workers: 2 }, { workers: 3, inline: false, spinMs: 0 }];
  for (const setup of setups) {
    const dp = await DataParallel.create(arch, setup);
    const params = packParams(arch, randomNetData(arch, 4).params);
    const adam = new Adam(params.length);
    try {
      for (let step = 0; step < 4; step++) {
        const b = randomBatch(arch, 101, 10 + step); // odd size: unequal slices
        const plan = planAugment(101, { flip: true, brightness: 0.1, contrast: 0.2 }, step);
        const t = augmentTargets({ ...b, count: 101, size: SIZE, channels: 3 }, plan);
        dp.setParams(params);
        const r = computeLoss(await dp.forward(b.pixels, 101, true, plan), t, cfg);
        adam.step(params, await dp.backward(r), 1e-3);
      }
    } finally {
      dp.close();
    }
    results.push(params);
  }
  for (const k of [1, 2]) {
    const d = maxAbsDiff(results[0], results[k]);
    assert(d < 1e-5, `${JSON.stringify(setups[k])}: max |diff| ${d}`);
  }
});

// ---------------------------------------------------------------------------
// The trainer

Deno.test("train() on a toy PNet dataset lowers the loss and beats the majority class", async () => {
  const cfg = await toyConfig({ epochs: 4 });
  const out = await runDir();
  const steps: number[] = [];
  const result = await train(cfg, { out, onStep: (p) => steps.push(p.loss) });
  assertEquals(result.status, "done");
  const h = result.history;
  assertEquals(h.length, 4);
  assert(h[3].train.loss < h[0].train.loss, `train loss ${h[0].train.loss} → ${h[3].train.loss}`);
  assert(h[3].val.loss < h[0].val.loss, `val loss ${h[0].val.loss} → ${h[3].val.loss}`);
  // validation is 1:3 positives:negatives: always answering "no face" scores 0.75
  assert(result.best!.val.clsAcc > 0.9, `cls acc ${result.best!.val.clsAcc}`);
  assert(
    h[3].val.offsetLoss < 0.8 * h[0].val.offsetLoss,
    `offset loss ${h[0].val.offsetLoss} → ${h[3].val.offsetLoss}`,
  );
  assertEquals(steps.length, 4 * 13); // 800 samples at 1:3:1 → 800 per epoch, batches of 64
  // best weights: config and metrics in the header, metrics.json and the curve beside them
  const best = decodeWeights(await Deno.readFile(result.files.best));
  assertEquals((best.meta.training as unknown as TrainConfig).lr, 0.005);
  assertEquals((best.meta.metrics as { epoch: number }).epoch, result.best!.epoch);
  assertEquals(best.arch.input.mean, [127.5, 127.5, 127.5]);
  const metrics = JSON.parse(await Deno.readTextFile(result.files.metrics));
  assertEquals(metrics.pnet.bestEpoch, result.best!.epoch);
  assert(metrics.seedTable.includes("| cls acc |"));
  assert((await Deno.stat(result.files.curve)).size > 1000);
});

Deno.test("train() with the same seed writes the same best_pnet.mtcnn bytes", async () => {
  const cfg = await toyConfig({ epochs: 2 });
  const a = await train(cfg, { out: await runDir(), ...quiet });
  const b = await train(cfg, { out: await runDir(), ...quiet });
  assertEquals(await Deno.readFile(a.files.best), await Deno.readFile(b.files.best));
  const c = await train(await toyConfig({ epochs: 2, seed: 8 }), { out: await runDir(), ...quiet });
  assert(
    maxAbsDiff(await Deno.readFile(a.files.last), await Deno.readFile(c.files.last)) > 0,
    "another seed gives other weights",
  );
});

Deno.test("train() interrupted mid-epoch and resumed ends with the bytes of an uninterrupted run", async () => {
  const cfg = await toyConfig({ epochs: 2 });
  const whole = await train(cfg, { out: await runDir(), ...quiet });
  const out = await runDir();
  const stop = new AbortController();
  const first = await train(cfg, {
    out,
    signal: stop.signal,
    ...quiet,
    onStep: (p) => {
      if (p.epoch === 1 && p.step === 5) stop.abort();
    },
  });
  assertEquals([first.status, first.epochsDone, first.stepsDone], ["interrupted", 1, 5]);
  const ck = await loadCheckpoint(first.files.checkpoint);
  assertEquals([ck.epoch, ck.step], [1, 5]);
  await assertRejects(() => train(cfg, { out, ...quiet }), TypeError, "pass --resume");
  await assertRejects(
    () => train({ ...cfg, lr: 0.01 }, { out, resume: true, ...quiet }),
    RangeError,
    "lr was 0.005, now 0.01",
  );
  const rest = await train(cfg, { out, resume: true, ...quiet });
  assertEquals(rest.status, "done");
  assertEquals(rest.history.length, 2);
  assertEquals(await Deno.readFile(rest.files.best), await Deno.readFile(whole.files.best));
  assertEquals(await Deno.readFile(rest.files.last), await Deno.readFile(whole.files.last));
});

Deno.test("train() stops on a NaN loss with one line and keeps the last good checkpoint", async () => {
  // epoch 2 runs at lr 0.005 * 1e30: the weights blow up
  const cfg = await toyConfig({ epochs: 3, lrSteps: [1], lrGamma: 1e30 });
  const out = await runDir();
  const err = await assertRejects(() => train(cfg, { out, ...quiet }), TrainingDivergedError);
  assert(!err.message.includes("\n"));
  assert(
    /training pnet stopped: .* at epoch 2 step \d+ \(lr 5e\+27\)/.test(err.message),
    err.message,
  );
  assert(err.message.includes("checkpoint_pnet.ckpt keeps epoch 1"), err.message);
  const ck = await loadCheckpoint(`${out}/checkpoint_pnet.ckpt`);
  assertEquals([ck.epoch, ck.step], [1, 0]);
  assert(ck.params.every(Number.isFinite));
  const last = decodeWeights(await Deno.readFile(`${out}/last_pnet.mtcnn`));
  assertEquals(Array.from(last.params["conv1.weight"]), Array.from(ck.params.subarray(0, 270)));
});

Deno.test("resolveTrainConfig() fills the defaults and rejects bad values in one line", async () => {
  const d = await toy();
  const cfg = resolveTrainConfig({ net: "onet", trainData: [d.train], valData: [d.val] });
  assertEquals([cfg.epochs, cfg.batchSize, cfg.lr, cfg.lrSteps], [10, 256, 1e-3, [6, 9]]);
  assertEquals(cfg.ratio, [1, 3, 1, 2]);
  assertEquals(cfg.loss.weights, { cls: 1, box: 0.5, landmarks: 1 });
  assert(cfg.arch.layers.some((l) => l.kind === "landmarks"));
  const base = { net: "pnet" as const, trainData: [d.train], valData: [d.val] };
  assertThrows(() => resolveTrainConfig({ ...base, epochs: 0 }), RangeError, "epochs must be");
  assertThrows(
    () => resolveTrainConfig({ ...base, ratio: [1, 2, 3] as never }),
    RangeError,
    "ratio",
  );
  assertThrows(
    () => resolveTrainConfig({ ...base, channels: [8, 16] }),
    RangeError,
    "3 channel counts",
  );
  assertThrows(() => resolveTrainConfig({ ...base, valData: [] }), RangeError, "validation data");
  const rnet = resolveTrainConfig({ ...base, net: "rnet" });
  const out = await runDir();
  await assertRejects(() => train(rnet, { out }), RangeError, "its samples are 12 px");
});

Deno.test("deno task train maps its flags to the config saved with the best weights", async () => {
  const { default: task } = await import("../tasks/train.ts");
  const { parseFlags } = await import("../src/cli/mod.ts");
  const d = await toy();
  const out = await runDir();
  const args = [
    "--net=pnet",
    `--train-data=${d.train}`,
    `--val-data=${d.val}`,
    `--out=${out}`,
    "--epochs=2",
    "--batch-size=100",
    "--lr=0.002",
    "--lr-steps=1",
    "--box-loss=wing",
    "--ohem=0.5",
    "--loss-weights=1,2,0",
    "--no-augment",
    "--ratio=1,2,1,0",
    "--seed=3",
  ];
  const { flags, positionals } = parseFlags(task, args);
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await task.run({ flags, positionals });
  } finally {
    console.log = log;
  }
  const cfg = decodeWeights(await Deno.readFile(`${out}/best_pnet.mtcnn`)).meta
    .training as unknown as TrainConfig;
  assertEquals(cfg.batchSize, 100);
  assertEquals([cfg.lr, cfg.lrSteps, cfg.ratio, cfg.seed], [0.002, [1], [1, 2, 1, 0], 3]);
  assertEquals(cfg.loss.boxLoss, "wing");
  assertEquals(cfg.loss.ohem, 0.5);
  assertEquals(cfg.loss.weights, { cls: 1, box: 2, landmarks: 0 });
  assertEquals(cfg.augment, { flip: false, brightness: 0, contrast: 0 });
  assertEquals(lines.filter((l) => l.startsWith("pnet epoch")).length, 2);
  assert(lines.some((l) => l.includes("| cls acc |")), lines.join("\n"));
});
