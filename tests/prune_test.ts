import { assert, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";
import {
  type NetArch,
  onetArch,
  paramCount,
  planArch,
  pnetArch,
  rnetArch,
} from "../src/nets/arch.ts";
import { type NetData, randomNetData } from "../src/nets/net.ts";
import { decodeWeights, encodeWeights, loadNetData } from "../src/nets/weights_io.ts";
import { Label } from "../src/data/shards.ts";
import type { Batch } from "../src/data/shards.ts";
import { packParams, TrainGraph } from "../src/train/backprop.ts";
import { computeLoss, resolveLossConfig } from "../src/train/losses.ts";
import { initTrainingBackend } from "../src/train/setup.ts";
import { Rng } from "../src/util/random.ts";
import {
  archFlops,
  filterCounts,
  prune,
  removeFilters,
  selectLowest,
} from "../src/optimize/prune.ts";
import { consumerIndex, prunableConvs, taylorScores } from "../src/optimize/taylor.ts";

function randomBatch(arch: NetArch, n: number, seed: number): Batch {
  const rng = new Rng(seed);
  const s = arch.input.size;
  const pixels = new Uint8Array(n * s * s * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(0, 256);
  const labels = new Uint8Array(n);
  const boxes = new Float32Array(4 * n);
  const landmarks = new Float32Array(10 * n);
  for (let i = 0; i < n; i++) {
    labels[i] = [Label.Negative, Label.Positive, Label.Part, Label.Landmark][i % 4];
    for (let k = 0; k < 4; k++) boxes[4 * i + k] = rng.uniform(-0.2, 0.2);
    for (let k = 0; k < 10; k++) landmarks[10 * i + k] = rng.uniform(0, 1);
  }
  return { count: n, size: s, channels: 3, pixels, labels, boxes, landmarks };
}

function outputs(data: NetData, b: Batch): Float32Array {
  const g = new TrainGraph(data.arch);
  try {
    g.setParams(packParams(data.arch, data.params));
    const o = g.forward(b.pixels, b.count, false);
    return Float32Array.from([...o.logits, ...o.box, ...(o.landmarks ?? [])]);
  } finally {
    g.dispose();
  }
}

/** Zeroes every weight that reads channel `c` of `conv` (its next layer's input slice). */
function zeroOutgoing(data: NetData, conv: string, c: number): void {
  const p = prunableConvs(data.arch).find((x) => x.conv === conv)!;
  for (const name of p.consumers) {
    const w = data.params[name];
    const units = w.length / (p.positions * p.filters);
    for (let pos = 0; pos < p.positions; pos++) {
      w.fill(
        0,
        consumerIndex(pos, c, p.filters, units, 0),
        consumerIndex(pos, c, p.filters, units, units),
      );
    }
  }
}

/** Makes filter `c` of `conv` output exactly 0 after its PReLU (weights 0, bias -1, alpha 0). */
function killFilter(data: NetData, conv: string, c: number, prelu: string): void {
  const w = data.params[`${conv}.weight`];
  const F = data.params[`${conv}.bias`].length;
  for (let r = 0; r < w.length / F; r++) w[r * F + c] = 0;
  data.params[`${conv}.bias`][c] = -1;
  data.params[`${prelu}.alpha`][c] = 0;
}

const cases: [string, NetArch, string, number][] = [
  ["PNet conv1 → pool → conv2", pnetArch(), "conv1", 3],
  ["PNet conv2 → conv3", pnetArch(), "conv2", 5],
  ["PNet conv3 → 1x1 heads", pnetArch(), "conv3", 17],
  ["RNet conv3 → dense rows", rnetArch(), "conv3", 40],
  ["ONet conv4 → dense rows", onetArch(), "conv4", 99],
];

for (const [what, arch, conv, c] of cases) {
  Deno.test(`removeFilters() of a filter with zero outgoing weights leaves the outputs unchanged (${what})`, async () => {
    await initTrainingBackend("wasm");
    const data = randomNetData(arch, 11);
    zeroOutgoing(data, conv, c);
    const b = randomBatch(arch, 8, 3);
    const before = outputs(data, b);
    const small = removeFilters(data, conv, [c]);
    assertEquals(filterCounts(small.arch)[conv], filterCounts(arch)[conv] - 1);
    assert(paramCount(small.arch) < paramCount(arch));
    for (const p of planArch(small.arch).params) {
      assertEquals(small.params[p.name].length, p.shape.reduce((a, x) => a * x, 1), p.name);
    }
    const after = outputs(small, b);
    assert(maxAbsDiff(before, after) < 1e-5, `max diff ${maxAbsDiff(before, after)}`);
    // and removing a live filter does change them (the test can fail)
    const live = removeFilters(data, conv, [(c + 1) % filterCounts(arch)[conv]]);
    assert(maxAbsDiff(before, outputs(live, b)) > 1e-4);
  });
}

Deno.test("removeFilters() of a filter whose PReLU output is identically zero is exact (ONet conv2, RNet conv3)", async () => {
  await initTrainingBackend("wasm");
  for (
    const [arch, conv, prelu, c] of [[onetArch(), "conv2", "prelu2", 7], [
      rnetArch(),
      "conv3",
      "prelu3",
      0,
    ]] as const
  ) {
    const data = randomNetData(arch, 5);
    killFilter(data, conv, c, prelu);
    const b = randomBatch(arch, 6, 9);
    const small = removeFilters(data, conv, [c]);
    const d = maxAbsDiff(outputs(data, b), outputs(small, b));
    assert(d < 1e-5, `${arch.name}: max diff ${d}`);
  }
});

Deno.test("taylorScores() gives a dead filter 0, L2-normalises each layer, and selectLowest() removes it first", async () => {
  await initTrainingBackend("wasm");
  const arch = pnetArch();
  const data = randomNetData(arch, 21);
  killFilter(data, "conv2", 6, "prelu2");
  const batches = [randomBatch(arch, 32, 1), randomBatch(arch, 32, 2)];
  const scores = await taylorScores(data, batches, resolveLossConfig("pnet", {}));
  assertEquals(Object.keys(scores), ["conv1", "conv2", "conv3"]);
  assertEquals(scores.conv2[6], 0);
  for (const [name, v] of Object.entries(scores)) {
    const norm = Math.hypot(...v);
    assert(Math.abs(norm - 1) < 1e-5, `${name} norm ${norm}`);
    assert(v.every((x) => x >= 0));
  }
  const pick = selectLowest(scores, 1);
  assertEquals(pick, { conv2: [6] });
  // the same for outgoing weights zeroed instead
  const d2 = randomNetData(arch, 22);
  zeroOutgoing(d2, "conv3", 30);
  const s2 = await taylorScores(d2, batches, resolveLossConfig("pnet", {}));
  assertEquals(s2.conv3[30], 0);
  assertEquals(selectLowest(s2, 1), { conv3: [30] });
});

Deno.test("selectLowest() takes the k globally lowest but never a layer's last filter", () => {
  const scores = {
    a: Float32Array.from([0.1, 0.0]),
    b: Float32Array.from([0.5, 0.2, 0.9]),
  };
  assertEquals(selectLowest(scores, 3), { a: [1], b: [1, 0] });
  assertEquals(selectLowest(scores, 10), { a: [1], b: [1, 0] });
  assertThrows(
    () => removeFilters(randomNetData(pnetArch({ channels: [1, 4, 4] }), 1), "conv1", [0]),
    RangeError,
    "cannot remove all",
  );
  assertThrows(
    () => removeFilters(randomNetData(pnetArch(), 1), "cls", [0]),
    RangeError,
    "not a prunable conv",
  );
});

Deno.test("archFlops() counts 2 per multiply-add of PNet at 12 px and shrinks with filters", () => {
  // conv1 10x10x10x27, conv2 3x3x16x90, conv3 1x1x32x144, heads 32x6
  const want = 2 * (10 * 10 * 10 * 27 + 3 * 3 * 16 * 90 + 32 * 144 + 32 * 6);
  assertEquals(archFlops(pnetArch()), want);
  assert(archFlops(pnetArch({ channels: [8, 16, 32] })) < want);
});

Deno.test("a pruned net's file is smaller and loads with the smaller shapes", () => {
  let data = randomNetData(rnetArch(), 4);
  data = removeFilters(data, "conv3", [0, 1, 2, 3, 4, 5, 6, 7]);
  data = removeFilters(data, "conv1", [2]);
  const big = encodeWeights(randomNetData(rnetArch(), 4));
  const bytes = encodeWeights(data);
  assert(bytes.length < big.length);
  const back = decodeWeights(bytes);
  assertEquals(filterCounts(back.arch), { conv1: 27, conv2: 48, conv3: 56 });
  assertEquals(back.params["conv2.weight"].length, 3 * 3 * 27 * 48);
  assertEquals(
    back.params["fc.weight"].length,
    planArch(back.arch).params.find((p) => p.name === "fc.weight")!.shape.reduce((a, b) => a * b),
  );
  assertEquals(back.params["cls.weight"].length, 128 * 2);
});

Deno.test("prune() for 2 steps and deno task prune on the sample shrink PNet, keep the heads, stop at the floor and write the table", async () => {
  await initTrainingBackend("wasm");
  const root = await Deno.makeTempDir({ prefix: "mtcnn_prune_" });
  const cwd = new URL("..", import.meta.url);
  const run = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", ...args],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(r.success, new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout);
  };
  await run(["sample", "--out", `${root}/s`, "--train", "20", "--val", "10"]);
  for (const mode of ["train", "val"]) {
    await run([
      "gen-pnet",
      "--root",
      `${root}/s`,
      "--mode",
      mode,
      "--out",
      `${root}/p12/${mode}`,
      "--workers",
      "0",
    ]);
  }
  const input = randomNetData(pnetArch(), 3);
  const r = await prune(input, {
    trainData: [`${root}/p12/train`],
    valData: [`${root}/p12/val`],
    out: `${root}/out`,
    maxSteps: 2,
    epochs: 1,
    lr: 1e-3,
    batchSize: 128,
  });
  assertEquals(r.steps.map((s) => s.step), [0, 1, 2]);
  assertEquals(r.stopped, "maxSteps");
  const total = (f: Record<string, number>) => Object.values(f).reduce((a, b) => a + b, 0);
  assertEquals(total(r.steps[1].filters), 58 - 5);
  assertEquals(total(r.steps[2].filters), 58 - 10);
  assert(r.steps[2].params < r.steps[1].params && r.steps[1].params < r.steps[0].params);
  for (const s of r.steps) assert(s.clsAcc >= 0 && s.clsAcc <= 1);
  const saved = await loadNetData(r.files.model);
  assertEquals(filterCounts(saved.arch), r.steps[2].filters);
  assertEquals(saved.arch.layers.filter((l) => l.kind === "cls" || l.kind === "box").length, 2);
  assertEquals(saved.params["cls.weight"].length, filterCounts(saved.arch).conv3 * 2);
  assertEquals(saved.params["box.weight"].length, filterCounts(saved.arch).conv3 * 4);
  assert((await Deno.stat(r.files.model)).size < encodeWeights(input).length);
  const md = await Deno.readTextFile(r.files.markdown);
  assertEquals(md.trim().split("\n").length, 2 + 3);
  const json = JSON.parse(await Deno.readTextFile(r.files.json));
  assertEquals(json.steps.length, 3);
  // an unreachable accuracy floor: stops after the first step, keeps the net before it
  const f = await prune(input, {
    trainData: [`${root}/p12/train`],
    valData: [`${root}/p12/val`],
    out: `${root}/floor`,
    floor: 1.01,
    epochs: 1,
    batchSize: 128,
  });
  assertEquals(f.stopped, "floor");
  assertEquals(f.steps.length, 2);
  assertEquals(filterCounts((await loadNetData(f.files.model)).arch), {
    conv1: 10,
    conv2: 16,
    conv3: 32,
  });
  // the task: flags to prune(), the table on stdout
  await Deno.writeFile(`${root}/in.mtcnn`, encodeWeights(input));
  const out = await run([
    "prune",
    "--weights",
    `${root}/in.mtcnn`,
    "--train-data",
    `${root}/p12/train`,
    "--val-data",
    `${root}/p12/val`,
    "--out",
    `${root}/task`,
    "--k",
    "7",
    "--max-steps",
    "1",
    "--epochs",
    "1",
  ]);
  assert(out.includes("| 1 | "), out);
  const t = await loadNetData(`${root}/task/pruned_pnet.mtcnn`);
  assertEquals(Object.values(filterCounts(t.arch)).reduce((a, b) => a + b, 0), 58 - 7);
  await Deno.remove(root, { recursive: true });
});

Deno.test("taylorScores() matches finite differences of the loss when a filter's output is scaled", async () => {
  await initTrainingBackend("wasm");
  const arch = pnetArch();
  const data = randomNetData(arch, 31);
  const b = randomBatch(arch, 48, 4);
  const cfg = resolveLossConfig("pnet", {});
  const scores = await taylorScores(data, [b], cfg);
  const lossOf = (d: NetData) => {
    const g = new TrainGraph(d.arch);
    try {
      g.setParams(packParams(d.arch, d.params));
      return computeLoss(g.forward(b.pixels, b.count, false), b, cfg, {
        ohem: false,
        gradient: false,
      }).total;
    } finally {
      g.dispose();
    }
  };
  for (const conv of ["conv2", "conv3"]) {
    // PReLU is positively homogeneous: scaling the filter's weights and bias scales its activation
    const eps = 1e-2;
    const F = data.params[`${conv}.bias`].length;
    const fd = new Float64Array(F);
    for (let c = 0; c < F; c++) {
      const scaled = (s: number) => {
        const w = data.params[`${conv}.weight`].slice();
        for (let r = 0; r < w.length / F; r++) w[r * F + c] *= s;
        const bias = data.params[`${conv}.bias`].slice();
        bias[c] *= s;
        return lossOf({
          ...data,
          params: { ...data.params, [`${conv}.weight`]: w, [`${conv}.bias`]: bias },
        });
      };
      fd[c] = Math.abs((scaled(1 + eps) - scaled(1 - eps)) / (2 * eps));
    }
    const norm = Math.hypot(...fd);
    const err = maxAbsDiff(scores[conv], Float32Array.from(fd, (x) => x / norm));
    assert(err < 0.02, `${conv}: max diff ${err}`);
  }
});
