/**
 * Per-image costs of dataset generation: the sampling functions alone, a whole
 * gen-pnet / gen-landmarks job (JPEG decode + sampling + crop kernel), and the
 * contact sheet. `deno bench -A tests/sampling_bench.ts`; the end-to-end
 * comparison with the seed's Python script is `deno task bench:data`.
 */
import { DEFAULT_PNET_SAMPLING, sampleImage } from "../src/sampling/pnet.ts";
import { sampleOne } from "../src/sampling/worker.ts";
import {
  DEFAULT_LANDMARK_SAMPLING,
  flipSamplesHorizontal,
  sampleLandmarkFace,
} from "../src/sampling/landmarks.ts";
import { sampleLandmarkJob } from "../src/sampling/landmark_job.ts";
import { renderContactSheet } from "../src/sampling/show.ts";
import { Label, ShardWriter } from "../src/data/shards.ts";
import { createImage, fillRect, writeImage } from "../src/image/mod.ts";
import type { FaceBox } from "../src/data/types.ts";
import { iouOneToMany } from "../kernels/mod.ts";
import { Rng } from "../src/util/random.ts";

const face = (x: number, y: number, s: number): FaceBox => ({
  x,
  y,
  w: s,
  h: s,
  landmarks: [
    x + 0.3 * s,
    y + 0.35 * s,
    x + 0.7 * s,
    y + 0.35 * s,
    x + 0.5 * s,
    y + 0.55 * s,
    x + 0.35 * s,
    y + 0.75 * s,
    x + 0.65 * s,
    y + 0.75 * s,
  ],
});
const faces = [face(60, 50, 120), face(300, 120, 80), face(480, 300, 60), face(200, 400, 24)];

const dir = await Deno.makeTempDir({ prefix: "sampling_bench_" });
const rng = new Rng(1);
const img = createImage(640, 480);
for (let i = 0; i < 400; i++) {
  const x = rng.int(0, 620), y = rng.int(0, 460);
  fillRect(img, x, y, x + rng.int(4, 40), y + rng.int(4, 40), [
    rng.int(0, 256),
    rng.int(0, 256),
    rng.int(0, 256),
  ]);
}
await writeImage(`${dir}/scene.jpg`, img, 90);

const sheetDir = `${dir}/dataset`;
{
  const w = await ShardWriter.open(sheetDir, { size: 24, seed: 1, source: {} });
  const px = new Uint8Array(24 * 24 * 3).fill(100);
  for (let i = 0; i < 2000; i++) {
    w.add(
      (i % 4) as Label,
      px,
      i % 4 === Label.Negative ? undefined : [0.1, 0.1, -0.1, -0.1],
      i % 4 === Label.Landmark ? [0.3, 0.3, 0.7, 0.3, 0.5, 0.5, 0.35, 0.7, 0.65, 0.7] : undefined,
    );
  }
  await w.close();
}

Deno.bench("sampleImage() pnet crops of a 640x480 image, 4 faces", { group: "sampling" }, () => {
  sampleImage(640, 480, faces, new Rng(3), DEFAULT_PNET_SAMPLING, iouOneToMany);
});

Deno.bench("sampleLandmarkFace() 10 jittered crops of one face", { group: "sampling" }, () => {
  sampleLandmarkFace(640, 480, faces[0], new Rng(3), DEFAULT_LANDMARK_SAMPLING, iouOneToMany);
});

const flipPixels = new Uint8Array(100 * 48 * 48 * 3);
Deno.bench("flipSamplesHorizontal() 100 samples of 48 px", { group: "sampling" }, () => {
  flipSamplesHorizontal(flipPixels, 48, 3, 100);
});

Deno.bench(
  "gen-pnet job: JPEG 640x480 decode + crops + 12 px resize",
  { group: "job" },
  async () => {
    await sampleOne({ index: 0, path: `${dir}/scene.jpg`, faces }, {
      seed: 1,
      size: 12,
      config: DEFAULT_PNET_SAMPLING,
    });
  },
);

Deno.bench("gen-landmarks job: JPEG 640x480 decode + 3 faces x 10 crops + flips, 48 px", {
  group: "job",
}, async () => {
  await sampleLandmarkJob({
    path: `${dir}/scene.jpg`,
    entries: faces.map((f, i) => ({ index: i, faces: [f] })),
  }, { seed: 1, size: 48, config: DEFAULT_LANDMARK_SAMPLING });
});

Deno.bench("renderContactSheet() 32 samples x 4 labels of 24 px", async () => {
  await renderContactSheet(sheetDir, { perLabel: 32 });
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
