import { assert, assertEquals } from "./assert.ts";
import { widerGroundTruthFromAnnotations } from "../src/eval/wider_text_gt.ts";
import { evaluateWider, readWiderPredictions } from "../src/eval/wider.ts";
import { predictWider } from "../src/eval/wider_predict.ts";
import { writeSyntheticDataset } from "../src/data/synthetic/mod.ts";
import { readWiderGt } from "../src/data/wider.ts";
import { ensureOriginalWeights } from "../src/nets/mod.ts";

const attrs = (occlusion: number, blur: number, invalid = 0) => ({
  blur,
  expression: 0,
  illumination: 0,
  invalid,
  occlusion,
  pose: 0,
});

Deno.test("widerGroundTruthFromAnnotations() keeps faces per setting by size, occlusion, blur and validity", () => {
  const gt = widerGroundTruthFromAnnotations([
    {
      path: "0--a/x.jpg",
      faces: [
        { x: 0, y: 0, w: 50, h: 50, attributes: attrs(0, 0) }, // all three
        { x: 60, y: 0, w: 30, h: 30, attributes: attrs(1, 0) }, // medium, hard
        { x: 100, y: 0, w: 50, h: 50, attributes: attrs(2, 0) }, // heavy occlusion: hard only
        { x: 160, y: 0, w: 50, h: 50, attributes: attrs(0, 2) }, // heavy blur: medium, hard
        { x: 220, y: 0, w: 8, h: 8, attributes: attrs(0, 0) }, // tiny: none
        { x: 240, y: 0, w: 60, h: 60, attributes: attrs(0, 0, 1) }, // invalid: none
      ],
    },
    { path: "0--a/empty.jpg", faces: [] },
  ]);
  assertEquals(gt.images, ["0--a/x.jpg", "0--a/empty.jpg"]);
  assertEquals(gt.settings.map((s) => s.name), ["easy", "medium", "hard"]);
  assertEquals(gt.settings.map((s) => Array.from(s.keep[0])), [[1], [1, 2, 4], [1, 2, 3, 4]]);
  assertEquals(gt.settings[0].boxes[0].length, 24, "every face stays in the boxes");
});

Deno.test("predictWider() runs the cascade on workers, writes the official layout, and resumes", async () => {
  const root = await Deno.makeTempDir();
  await writeSyntheticDataset(root, { seed: 3, train: 0, val: 4, workers: 1 });
  const images = await readWiderGt(`${root}/wider_face_split/wider_face_val_bbx_gt.txt`);
  const gt = widerGroundTruthFromAnnotations(images);
  const weights = await ensureOriginalWeights();
  const opts = {
    images: gt.images,
    imagesDir: `${root}/WIDER_val/images`,
    outDir: `${root}/pred`,
    weights,
    workers: 2,
  };
  const first = await predictWider(opts);
  assertEquals([first.written, first.skipped, first.failed.length], [4, 0, 0]);
  const set = await readWiderPredictions(`${root}/pred`, gt.images, {});
  assertEquals(set.missing.length, 0);
  const r = evaluateWider(gt, set.predictions);
  assert(r.settings.every((s) => s.ap >= 0 && s.ap <= 1), "APs in [0, 1]");
  const again = await predictWider(opts);
  assertEquals([again.written, again.skipped], [0, 4]);
});
