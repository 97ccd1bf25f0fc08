/**
 * Architecture variants (`--arch original|slim|large`): slim nets built from
 * depthwise-separable blocks and a wider PNet validate, keep PNet's 12 px
 * receptive field and stride 2, run the same on tfjs and the AS engine, and
 * the slim PNet trains.
 */
import { assert, assertEquals, assertThrows, maxAbsDiff } from "./assert.ts";
import { createEngine } from "../src/deploy/engine.ts";
import {
  archFor,
  createNet,
  disposeNet,
  forward,
  initBackend,
  largePnetArch,
  type NetArch,
  onetArch,
  outputSize,
  paramCount,
  pnetArch,
  randomNetData,
  receptiveField,
  rnetArch,
  slimOnetArch,
  slimPnetArch,
  slimRnetArch,
  tf,
  validateArch,
} from "../src/nets/mod.ts";
import { writeSyntheticDataset } from "../src/data/synthetic/mod.ts";
import { readWiderGt } from "../src/data/wider.ts";
import { generatePnetDataset } from "../src/sampling/generate.ts";
import { resolveTrainConfig, train } from "../src/train/trainer.ts";
import { Rng } from "../src/util/random.ts";

const SEED = 20261130;
const VARIANTS: [string, NetArch, NetArch][] = [
  ["slim pnet", slimPnetArch(), pnetArch()],
  ["large pnet", largePnetArch(), pnetArch()],
  ["slim rnet", slimRnetArch(), rnetArch()],
  ["slim onet", slimOnetArch(), onetArch()],
];

Deno.test("arch variants validate, and PNet variants keep the 12 px receptive field and stride 2", () => {
  for (const [label, arch] of VARIANTS) {
    assertEquals(validateArch(JSON.parse(JSON.stringify(arch))), arch, label);
  }
  for (const arch of [slimPnetArch(), largePnetArch()]) {
    assertEquals(receptiveField(arch), 12);
    assertEquals(outputSize(arch, 12, 12), [1, 1]);
    // output stride 2: 2 more input pixels give 1 more output cell
    assertEquals(outputSize(arch, 14, 16), [2, 3]);
    assertEquals(outputSize(arch, 100, 60), outputSize(pnetArch(), 100, 60));
  }
  assert(slimPnetArch().layers.some((l) => l.kind === "depthwise"), "slim uses depthwise");
  assertEquals(archFor("rnet", "slim"), slimRnetArch());
  assertEquals(archFor("pnet", "large"), largePnetArch());
  assertEquals(archFor("onet"), onetArch());
  assertThrows(() => archFor("rnet", "large"), RangeError, "only for pnet");
});

Deno.test("slim variants have fewer parameters than the originals, large PNet more", () => {
  for (const [label, arch, original] of VARIANTS) {
    const [a, b] = [paramCount(arch), paramCount(original)];
    if (label.startsWith("slim")) assert(a < b, `${label}: ${a} >= ${b}`);
    else assert(a > b, `${label}: ${a} <= ${b}`);
  }
});

Deno.test("arch variants: tfjs forward and the AS engine agree within 1e-4", async () => {
  await initBackend("wasm");
  const rng = new Rng(SEED);
  for (const [label, arch] of VARIANTS) {
    const data = randomNetData(arch, SEED);
    const s = arch.input.size;
    const [n, h, w] = arch.name === "pnet" ? [2, 31, 45] : [3, s, s];
    const px = Float32Array.from({ length: n * h * w * 3 }, () => rng.int(0, 256));
    const engine = await createEngine(data);
    const got = engine.run(px, n, h, w);
    const net = createNet(data.arch, data.params);
    const want = tf.tidy(() => {
      const o = forward(net, tf.tensor4d(px, [n, h, w, 3]));
      return {
        cls: o.cls.dataSync() as Float32Array,
        box: o.box.dataSync() as Float32Array,
        landmarks: o.landmarks?.dataSync() as Float32Array | undefined,
      };
    });
    disposeNet(net);
    assertEquals(got.cls.length, want.cls.length, label);
    assertEquals(got.landmarks === undefined, want.landmarks === undefined, label);
    const d = Math.max(
      maxAbsDiff(got.cls, want.cls),
      maxAbsDiff(got.box, want.box),
      got.landmarks ? maxAbsDiff(got.landmarks, want.landmarks!) : 0,
    );
    assert(d <= 1e-4, `${label}: ${d}`);
    assert(maxAbsDiff(got.cls, new Float32Array(got.cls.length)) > 0, `${label}: non-zero output`);
  }
});

Deno.test("train() of a slim PNet on a tiny synthetic gen-pnet dataset runs 2 epochs and lowers the loss", async () => {
  const root = await Deno.makeTempDir({ prefix: "mtcnn_arch_variants_" });
  await writeSyntheticDataset(root, { seed: 5, train: 6, val: 3, workers: 1 });
  const split = async (s: "train" | "val") => {
    const images = await readWiderGt(`${root}/wider_face_split/wider_face_${s}_bbx_gt.txt`);
    await generatePnetDataset({
      images,
      imagesDir: `${root}/WIDER_${s}/images`,
      out: `${root}/pnet_${s}`,
      seed: 3,
      workers: 0,
    });
    return `${root}/pnet_${s}`;
  };
  const cfg = resolveTrainConfig({
    net: "pnet",
    arch: slimPnetArch(),
    trainData: [await split("train")],
    valData: [await split("val")],
    epochs: 2,
    batchSize: 64,
    lr: 0.005,
    seed: 7,
  });
  const result = await train(cfg, { out: `${root}/run`, plot: false });
  assertEquals(result.status, "done");
  const h = result.history;
  assertEquals(h.length, 2);
  assert(h[1].train.loss < h[0].train.loss, `train loss ${h[0].train.loss} → ${h[1].train.loss}`);
  await Deno.remove(root, { recursive: true });
});
