/**
 * Tests of knowledge distillation: the loss (src/train/losses.ts `distillLoss`)
 * against hand-computed values and finite differences, the trainer's
 * `distill` block (teacher on the same augmented pixels, worker counts,
 * resume, header), a student that learns only from a teacher, the comparison
 * (src/optimize/distill.ts) and `deno task distill`, `deno task prune --teacher`.
 */
import { Label, ShardWriter } from "../src/data/shards.ts";
import { archFor, pnetArch, rnetArch } from "../src/nets/arch.ts";
import { randomNetData } from "../src/nets/net.ts";
import { decodeWeights, encodeWeights, loadNetData } from "../src/nets/weights_io.ts";
import { computeLoss, distillLoss, resolveLossConfig, sigmoid } from "../src/train/losses.ts";
import { initTrainingBackend } from "../src/train/setup.ts";
import { resolveTrainConfig, train, type TrainConfig } from "../src/train/trainer.ts";
import { compareDistillation, evaluateNet } from "../src/optimize/distill.ts";
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
// The loss

function randomOutputs(rng: Rng, n: number, lm = true) {
  return {
    logits: new Float32Array(2 * n).map(() => rng.uniform(-3, 3)),
    box: new Float32Array(4 * n).map(() => rng.uniform(-0.3, 0.3)),
    ...(lm ? { landmarks: new Float32Array(10 * n).map(() => rng.uniform(0, 1)) } : {}),
  };
}

function randomTargets(rng: Rng, n: number) {
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 4);
  const boxes = new Float32Array(4 * n).fill(NaN);
  const landmarks = new Float32Array(10 * n).fill(NaN);
  labels.forEach((l, i) => {
    if (l === 1 || l === 2) {
      for (let c = 0; c < 4; c++) boxes[4 * i + c] = rng.uniform(-0.3, 0.3);
    }
    if (l === 3) { for (let c = 0; c < 10; c++) landmarks[10 * i + c] = rng.uniform(0, 1); }
  });
  return { labels, boxes, landmarks };
}

Deno.test("distillLoss() KL term: T² · KL of the softened probabilities, hand-computed", () => {
  // one negative: student logits (0, ln 3), teacher (0, 0); T = 2
  const out = { logits: new Float32Array([0, Math.log(3)]), box: new Float32Array(4) };
  const teacher = { logits: new Float32Array([0, 0]), box: new Float32Array(4).fill(5) };
  const t = { labels: [0], boxes: [NaN, NaN, NaN, NaN], landmarks: new Array(10).fill(NaN) };
  const cfg = resolveLossConfig("pnet", { ohem: 1 });
  const r = distillLoss(out, t, teacher, cfg, { temperature: 2, alpha: 1 });
  // softened student face probability q = sigmoid(ln 3 / 2) = √3 / (1 + √3), teacher p = 1/2
  const q = sigmoid(Math.fround(Math.log(3)) / 2); // the logit as the Float32Array holds it
  assertAlmostEquals(q, Math.sqrt(3) / (1 + Math.sqrt(3)), 1e-7);
  const kl = 0.5 * Math.log(0.5 / q) + 0.5 * Math.log(0.5 / (1 - q));
  assertAlmostEquals(r.distill.cls, kl, 1e-12);
  // a negative gets no box term: the teacher's box (5) is ignored
  assertEquals(r.distill.box, 0);
  assertAlmostEquals(r.total, 4 * kl, 1e-12);
  // d/d face logit = T² · (q − p) / T
  assertAlmostEquals(r.dLogits![1], 2 * (q - 0.5), 1e-6);
  assertAlmostEquals(r.dLogits![0], -2 * (q - 0.5), 1e-6);
  // the ground-truth parts are still reported
  assertAlmostEquals(r.cls, Math.log1p(3), 1e-6);
  assertAlmostEquals(r.distill.groundTruth, Math.log1p(3), 1e-6);
});

Deno.test("distillLoss() with alpha 0 is computeLoss(); a teacher equal to the student adds nothing", () => {
  const rng = new Rng(3);
  const n = 24;
  const out = randomOutputs(rng, n);
  const t = randomTargets(rng, n);
  const cfg = resolveLossConfig("onet");
  const teacher = randomOutputs(rng, n);
  const plain = computeLoss(out, t, cfg);
  const a0 = distillLoss(out, t, teacher, cfg, { temperature: 3, alpha: 0 });
  assertEquals(a0.total, plain.total);
  assertEquals(Array.from(a0.dLogits!), Array.from(plain.dLogits!));
  assertEquals(Array.from(a0.dBox!), Array.from(plain.dBox!));
  assertEquals(Array.from(a0.dLandmarks!), Array.from(plain.dLandmarks!));
  const same = distillLoss(out, t, out, cfg, { temperature: 3, alpha: 0.4 });
  assertAlmostEquals(same.distill.cls, 0, 1e-12);
  assertEquals([same.distill.box, same.distill.landmarks], [0, 0]);
  assertAlmostEquals(same.total, 0.6 * plain.total, 1e-9);
  assert(maxAbsDiff(same.dBox!, plain.dBox!.map((g) => 0.6 * g)) < 1e-7);
  // the soft term covers every sample, box and landmarks the 3/4 that hold a face
  assertEquals(same.distill.counts, { cls: n, box: 18, landmarks: 18 });
  // a teacher without landmarks: no landmark term
  const noLm = distillLoss(out, t, { logits: teacher.logits, box: teacher.box }, cfg, {
    temperature: 1,
    alpha: 1,
  });
  assertEquals(noLm.distill.landmarks, 0);
  assertEquals(noLm.distill.counts.landmarks, 0);
  assert(noLm.dLandmarks!.every((g, j) => g === 0 || t.labels[Math.floor(j / 10)] === 3));
});

Deno.test("distillLoss() gradient matches finite differences (every box loss, OHEM, T and alpha)", () => {
  const rng = new Rng(17);
  const n = 16;
  const settings = [
    { boxLoss: "mse", T: 1, alpha: 0.5 },
    { boxLoss: "smoothl1", T: 2, alpha: 0.7 },
    { boxLoss: "wing", T: 4, alpha: 1 },
  ] as const;
  for (const s of settings) {
    const cfg = resolveLossConfig("onet", { boxLoss: s.boxLoss, ohem: 0.7 });
    const out = randomOutputs(rng, n);
    const teacher = randomOutputs(rng, n);
    const t = randomTargets(rng, n);
    const d = { temperature: s.T, alpha: s.alpha };
    const r = distillLoss(out, t, teacher, cfg, d);
    const total = () => distillLoss(out, t, teacher, cfg, d, { gradient: false }).total;
    for (
      const [key, grad] of [["logits", r.dLogits], ["box", r.dBox], [
        "landmarks",
        r.dLandmarks,
      ]] as const
    ) {
      const a = out[key]!;
      for (let j = 0; j < a.length; j += 2) {
        const keep = a[j];
        // small steps: Wing's curvature near 0 is w / ε² (250 here)
        const h = 1e-4;
        a[j] = keep + h;
        const hi = a[j];
        const up = total();
        a[j] = keep - h;
        const lo = a[j];
        const down = total();
        a[j] = keep;
        assertAlmostEquals((up - down) / (hi - lo), grad![j], 1e-4, `${s.boxLoss} ${key}[${j}]`);
      }
    }
  }
});

Deno.test("distillLoss() rejects a bad temperature, alpha or teacher batch in one line", () => {
  const rng = new Rng(1);
  const out = randomOutputs(rng, 4, false);
  const t = randomTargets(rng, 4);
  const cfg = resolveLossConfig("pnet");
  assertThrows(
    () => distillLoss(out, t, out, cfg, { temperature: 0, alpha: 0.5 }),
    RangeError,
    "temperature must be > 0, got 0",
  );
  assertThrows(
    () => distillLoss(out, t, out, cfg, { temperature: 1, alpha: 1.5 }),
    RangeError,
    "alpha must be in [0, 1], got 1.5",
  );
  assertThrows(
    () => distillLoss(out, t, randomOutputs(rng, 3, false), cfg, { temperature: 1, alpha: 1 }),
    RangeError,
    "the teacher's outputs hold 3 logits",
  );
  // the temperature changes the soft term
  const teacher = randomOutputs(rng, 4, false);
  const a = distillLoss(out, t, teacher, cfg, { temperature: 1, alpha: 1 }).distill.cls;
  const b = distillLoss(out, t, teacher, cfg, { temperature: 5, alpha: 1 }).distill.cls;
  assert(a > b && b > 0, `KL at T 1: ${a}, at T 5: ${b}`);
  assert(sigmoid(0) === 0.5);
});

// ---------------------------------------------------------------------------
// A toy PNet dataset (faces: bright squares with dark eyes and mouth; negatives: noise)

const SIZE = 12;

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
    const x1 = 1 + rng.int(-shift, shift + 1), y1 = 1 + rng.int(-shift, shift + 1);
    const x2 = 10 + rng.int(-shift, shift + 1), y2 = 10 + rng.int(-shift, shift + 1);
    const px = new Uint8Array(SIZE * SIZE * 3);
    for (let i = 0; i < px.length; i++) px[i] = rng.int(0, 90);
    const set = (x: number, y: number, v: number) => {
      if (x < 0 || y < 0 || x >= SIZE || y >= SIZE) return;
      for (let c = 0; c < 3; c++) px[(y * SIZE + x) * 3 + c] = v;
    };
    for (let y = y1; y <= y2; y++) for (let x = x1; x <= x2; x++) set(x, y, 200 + rng.int(0, 40));
    set(x1 + Math.round((x2 - x1) * 0.3), y1 + Math.round((y2 - y1) * 0.35), 20);
    set(x1 + Math.round((x2 - x1) * 0.7), y1 + Math.round((y2 - y1) * 0.35), 20);
    return { px, box: [x1 / SIZE, y1 / SIZE, (x2 - SIZE) / SIZE, (y2 - SIZE) / SIZE] };
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

let toyDirs: Promise<{ train: string; val: string; teacher: string }> | undefined;
/** Toy train/val folders and a teacher PNet trained on them (4 epochs). */
function toy() {
  toyDirs ??= (async () => {
    await initTrainingBackend("wasm");
    const root = await Deno.makeTempDir({ prefix: "mtcnn_distill_toy_" });
    await writeToy(`${root}/train`, 1, { pos: 160, neg: 480, part: 160 });
    await writeToy(`${root}/val`, 2, { pos: 60, neg: 180, part: 60 });
    const cfg = resolveTrainConfig({
      net: "pnet",
      trainData: [`${root}/train`],
      valData: [`${root}/val`],
      epochs: 4,
      batchSize: 64,
      lr: 0.005,
      seed: 7,
    });
    const r = await train(cfg, { out: `${root}/teacher`, plot: false });
    return { train: `${root}/train`, val: `${root}/val`, teacher: r.files.best };
  })();
  return toyDirs;
}

const runDir = () => Deno.makeTempDir({ prefix: "mtcnn_distill_run_" });

async function toyConfig(extra: Partial<Parameters<typeof resolveTrainConfig>[0]> = {}) {
  const d = await toy();
  return resolveTrainConfig({
    net: "pnet",
    arch: archFor("pnet", "slim"),
    trainData: [d.train],
    valData: [d.val],
    epochs: 2,
    batchSize: 64,
    lr: 0.005,
    seed: 5,
    distill: { teacher: d.teacher, temperature: 2, alpha: 0.5 },
    ...extra,
  });
}

// ---------------------------------------------------------------------------
// The trainer

Deno.test("train() with a teacher only (alpha 1) learns the toy faces it never sees labels of", async () => {
  const d = await toy();
  const teacher = await evaluateNet(await loadNetData(d.teacher), [d.val]);
  assert(teacher.clsAcc > 0.95, `teacher cls acc ${teacher.clsAcc}`);
  const cfg = await toyConfig({
    epochs: 4,
    distill: { teacher: d.teacher, temperature: 1, alpha: 1 },
  });
  const r = await train(cfg, { out: await runDir(), plot: false });
  // validation: 1:3 positives:negatives, "no face" everywhere scores 0.75
  assert(r.best!.val.clsAcc > 0.9, `student cls acc ${r.best!.val.clsAcc}`);
  assert(r.best!.val.offsetLoss < 0.8 * r.history[0].val.offsetLoss || r.best!.epoch === 1);
  // the header keeps the distill block and says so in the provenance
  const best = decodeWeights(await Deno.readFile(r.files.best));
  assertEquals((best.meta.training as unknown as TrainConfig).distill, {
    teacher: d.teacher,
    temperature: 1,
    alpha: 1,
  });
  assert(best.meta.provenance!.notes!.some((n) => n.includes("distilled from")));
});

Deno.test("train() with a teacher on 2 workers gives the weights of 1 worker (within 1e-5), and resumes to the same bytes", async () => {
  const cfg = await toyConfig({ epochs: 2 });
  const one = await train(cfg, { out: await runDir(), plot: false, reader: false });
  const two = await train(cfg, { out: await runDir(), plot: false, workers: 2, reader: false });
  const a = await loadNetData(one.files.last);
  const b = await loadNetData(two.files.last);
  for (const k of Object.keys(a.params)) {
    const diff = maxAbsDiff(a.params[k], b.params[k]);
    assert(diff < 1e-5, `${k}: max |diff| ${diff}`);
  }
  // the teacher changes the result: the same run without it ends elsewhere
  const plain = await train({ ...cfg, distill: undefined }, { out: await runDir(), plot: false });
  const c = await loadNetData(plain.files.last);
  const flat = (p: Record<string, Float32Array>) =>
    Float32Array.from(Object.keys(p).sort().flatMap((k) => Array.from(p[k])));
  assert(maxAbsDiff(flat(a.params), flat(c.params)) > 1e-4, "the teacher made no difference");
  // interrupted and resumed: the bytes of the uninterrupted run
  const out = await runDir();
  const stop = new AbortController();
  const first = await train(cfg, {
    out,
    plot: false,
    signal: stop.signal,
    onStep: (p) => {
      if (p.epoch === 1 && p.step === 4) stop.abort();
    },
  });
  assertEquals(first.status, "interrupted");
  await assertRejects(
    () =>
      train({ ...cfg, distill: { ...cfg.distill!, alpha: 0.9 } }, {
        out,
        resume: true,
        plot: false,
      }),
    RangeError,
    "distill.alpha was 0.5, now 0.9",
  );
  const rest = await train(cfg, { out, resume: true, plot: false });
  assertEquals(await Deno.readFile(rest.files.last), await Deno.readFile(one.files.last));
});

Deno.test("resolveTrainConfig() checks the distill block; train() refuses a teacher of another net in one line", async () => {
  const d = await toy();
  const base = { net: "pnet" as const, trainData: [d.train], valData: [d.val] };
  const plain = resolveTrainConfig(base);
  assert(!("distill" in plain), "no distill key without a teacher (old checkpoints resume)");
  assertEquals(resolveTrainConfig({ ...base, distill: { teacher: "t.mtcnn" } }).distill, {
    teacher: "t.mtcnn",
    temperature: 2,
    alpha: 0.5,
  });
  assertThrows(
    () => resolveTrainConfig({ ...base, distill: { teacher: "t.mtcnn", temperature: -1 } }),
    RangeError,
    "temperature must be > 0",
  );
  assertThrows(
    () => resolveTrainConfig({ ...base, distill: { teacher: "t", beta: 1 } as never }),
    RangeError,
    'unknown distillation option "beta"',
  );
  const dir = await runDir();
  const rnet = `${dir}/rnet.mtcnn`;
  await Deno.writeFile(rnet, encodeWeights(randomNetData(rnetArch(), 1)));
  const err = await assertRejects(
    () => train(resolveTrainConfig({ ...base, distill: { teacher: rnet } }), { out: dir }),
    RangeError,
    "is a rnet, the student a pnet",
  );
  assert(!err.message.includes("\n"));
  await assertRejects(
    () => train(resolveTrainConfig({ ...base, distill: { teacher: `${dir}/none` } }), { out: dir }),
    TypeError,
    "no such file",
  );
});

// ---------------------------------------------------------------------------
// The comparison and the tasks

Deno.test("deno task distill trains the student with and without the teacher and writes the three rows", async () => {
  const { default: task } = await import("../tasks/distill.ts");
  const { parseFlags } = await import("../src/cli/mod.ts");
  const d = await toy();
  const out = await runDir();
  const { flags, positionals } = parseFlags(task, [
    "--net=pnet",
    `--teacher=${d.teacher}`,
    "--arch=slim",
    `--train-data=${d.train}`,
    `--val-data=${d.val}`,
    `--out=${out}`,
    "--epochs=2",
    "--batch-size=64",
    "--lr=0.005",
    "--temperature=3",
    "--alpha=0.7",
    "--note=toy squares",
  ]);
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await task.run({ flags, positionals });
  } finally {
    console.log = log;
  }
  const report = JSON.parse(await Deno.readTextFile(`${out}/distill_pnet.json`));
  assertEquals(report.rows.map((r: { role: string }) => r.role), [
    "teacher",
    "student",
    "distilled",
  ]);
  assertEquals([report.temperature, report.alpha, report.epochs], [3, 0.7, 2]);
  // the students: same arch, the distilled one's header names the teacher
  const s = decodeWeights(await Deno.readFile(`${out}/plain/best_pnet.mtcnn`));
  const k = decodeWeights(await Deno.readFile(`${out}/distilled/best_pnet.mtcnn`));
  assertEquals(JSON.stringify(s.arch), JSON.stringify(k.arch));
  assert(!(s.meta.training as Record<string, unknown>).distill);
  assertEquals((k.meta.training as unknown as TrainConfig).distill!.teacher, d.teacher);
  // the teacher's row is the teacher measured on the validation data
  const teacherVal = await evaluateNet(await loadNetData(d.teacher), [d.val]);
  assertAlmostEquals(report.rows[0].val.clsAcc, teacherVal.clsAcc, 1e-12);
  assertEquals(report.rows[1].params, report.rows[2].params);
  assert(report.rows[1].params < report.rows[0].params);
  const md = await Deno.readTextFile(`${out}/distill_pnet.md`);
  assert(md.includes("distilled (T 3, alpha 0.7)") && md.includes("Data: toy squares."), md);
  assert(lines.some((l) => l.includes("| model | params |")), lines.join("\n"));
  // a teacher of another input size is refused before any training
  await assertRejects(
    () =>
      compareDistillation({
        teacher: d.teacher,
        student: rnetArch(),
        trainData: [d.train],
        valData: [d.val],
        out,
      }),
    RangeError,
    "is a pnet, the student a rnet",
  );
});

Deno.test("deno task prune --teacher input fine-tunes each step with distillation and says so", async () => {
  const { default: task } = await import("../tasks/prune.ts");
  const { parseFlags } = await import("../src/cli/mod.ts");
  const d = await toy();
  const out = await runDir();
  const { flags, positionals } = parseFlags(task, [
    `--weights=${d.teacher}`,
    `--train-data=${d.train}`,
    `--val-data=${d.val}`,
    `--out=${out}`,
    "--teacher=input",
    "--alpha=0.6",
    "--max-steps=1",
    "--epochs=1",
    "--k=4",
  ]);
  const log = console.log;
  console.log = () => {};
  try {
    await task.run({ flags, positionals });
  } finally {
    console.log = log;
  }
  const step = decodeWeights(await Deno.readFile(`${out}/steps/1/best_pnet.mtcnn`));
  assertEquals((step.meta.training as unknown as TrainConfig).distill, {
    teacher: d.teacher,
    temperature: 2,
    alpha: 0.6,
  });
  const pruned = await loadNetData(`${out}/pruned_pnet.mtcnn`);
  const filters = pruned.arch.layers.filter((l) => l.kind === "conv").slice(0, 3)
    .map((l) => (l as { filters: number }).filters);
  assertEquals(filters.reduce((a, b) => a + b, 0), 10 + 16 + 32 - 4);
  assert(pruned.meta.provenance!.notes!.some((n) => n.includes("distillation from")));
  const json = JSON.parse(await Deno.readTextFile(`${out}/prune_pnet.json`));
  assertEquals(json.distill.alpha, 0.6);
  assertEquals(pnetArch().name, pruned.arch.name);
});

Deno.test("deno task train --teacher records the distill block in the best weights' header", async () => {
  const { default: task } = await import("../tasks/train.ts");
  const { parseFlags } = await import("../src/cli/mod.ts");
  const d = await toy();
  const out = await runDir();
  const { flags, positionals } = parseFlags(task, [
    "--net=pnet",
    "--arch=slim",
    `--train-data=${d.train}`,
    `--val-data=${d.val}`,
    `--out=${out}`,
    "--epochs=1",
    "--batch-size=64",
    `--teacher=${d.teacher}`,
    "--temperature=4",
    "--alpha=0.25",
  ]);
  const log = console.log;
  console.log = () => {};
  try {
    await task.run({ flags, positionals });
  } finally {
    console.log = log;
  }
  const cfg = decodeWeights(await Deno.readFile(`${out}/best_pnet.mtcnn`)).meta
    .training as unknown as TrainConfig;
  assertEquals(cfg.distill, { teacher: d.teacher, temperature: 4, alpha: 0.25 });
});

Deno.test("train() from --init weights keeps their licence in the header (fine-tuning the original MTCNN)", async () => {
  const d = await toy();
  const dir = await runDir();
  const init = { ...randomNetData(pnetArch(), 3) };
  init.meta = { provenance: { source: "x", license: "MIT", licenseNote: "keep this note" } };
  await Deno.writeFile(`${dir}/init.mtcnn`, encodeWeights(init));
  const cfg = resolveTrainConfig({
    net: "pnet",
    trainData: [d.train],
    valData: [d.val],
    epochs: 1,
    batchSize: 64,
    init: `${dir}/init.mtcnn`,
  });
  const r = await train(cfg, { out: dir, plot: false });
  const p = decodeWeights(await Deno.readFile(r.files.best)).meta.provenance!;
  assertEquals([p.license, p.licenseNote], ["MIT", "keep this note"]);
  assert(p.notes!.some((n) => n.includes("fine-tuned from")));
});
