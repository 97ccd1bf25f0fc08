import { assert, assertEquals, assertRejects } from "./assert.ts";
import { DEFAULT_PNET_SAMPLING, resolveSamplingConfig, sampleImage } from "../src/sampling/pnet.ts";
import { generatePnetDataset } from "../src/sampling/generate.ts";
import { RunningCaps } from "../src/sampling/hard.ts";
import { decodeShard, Label, readManifest } from "../src/data/shards.ts";
import { readWiderGt } from "../src/data/wider.ts";
import { writeSyntheticDataset } from "../src/data/synthetic/mod.ts";
import { iouOneToMany as iouTwin } from "../kernels/reference.ts";
import { cropResizeU8, iouOneToMany } from "../kernels/mod.ts";
import { readImage } from "../src/image/mod.ts";
import { Rng } from "../src/util/random.ts";
import type { FaceBox } from "../src/data/types.ts";

const faces: FaceBox[] = [
  { x: 50, y: 40, w: 80, h: 96 },
  { x: 300, y: 200, w: 60, h: 64 },
  { x: 220, y: 30, w: 20, h: 22 }, // small: no samples, but counts for IoU
];

function iouPlusOne(a: number[], b: number[]): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1);
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1);
  const inter = iw * ih;
  const area = (r: number[]) => (r[2] - r[0] + 1) * (r[3] - r[1] + 1);
  return inter / (area(a) + area(b) - inter);
}

Deno.test("sampleImage() labels crops by the seed's IoU rules and its offsets recover the face", () => {
  const crops = sampleImage(480, 360, faces, new Rng(7), DEFAULT_PNET_SAMPLING, iouOneToMany);
  const gt = faces.map((f) => [f.x, f.y, f.x + f.w - 1, f.y + f.h - 1]);
  const per = [0, 0, 0, 0];
  for (const c of crops) {
    per[c.label]++;
    assert(
      c.x >= 0 && c.y >= 0 && c.x + c.size <= 480 && c.y + c.size <= 360,
      "crop inside the image",
    );
    const box = [c.x, c.y, c.x + c.size, c.y + c.size];
    if (c.label === Label.Negative) {
      assert(c.size >= 12, "negatives are at least 12 px");
      for (const g of gt) {
        assert(iouPlusOne(box, g) < 0.3 + 1e-6, `negative overlaps a face: ${iouPlusOne(box, g)}`);
      }
      continue;
    }
    // Positives and parts: the offsets place the face relative to the (float) crop.
    const [o1, o2, o3, o4] = c.offsets!;
    const best = gt.map((g) => {
      const fx1 = g[0] - o1 * c.size, fy1 = g[1] - o2 * c.size; // = nx1, ny1
      return Math.abs(fx1 - c.x) < 1 && Math.abs(fy1 - c.y) < 1 &&
          Math.abs(g[2] - o3 * c.size - (fx1 + c.size)) < 1e-6
        ? g
        : undefined;
    }).find((g) => g);
    assert(best, "offsets point at one of the faces");
    const nx1 = best[0] - o1 * c.size, ny1 = best[1] - o2 * c.size;
    const v = iouPlusOne([nx1, ny1, nx1 + c.size, ny1 + c.size], best);
    assertEquals(Math.abs(best[3] - o4 * c.size - (ny1 + c.size)) < 1e-6, true);
    if (c.label === Label.Positive) assert(v >= 0.65 - 1e-6, `positive IoU ${v}`);
    else assert(v >= 0.4 - 1e-6 && v < 0.65 + 1e-6, `part IoU ${v}`);
    assert(best !== gt[2], "the small face gets no samples");
  }
  assertEquals(per[Label.Negative] >= 35, true);
  assert(per[Label.Positive] > 0 && per[Label.Part] > 0, `pos ${per[1]} part ${per[2]}`);
});

Deno.test("sampleImage() gives the same crops with the AssemblyScript IoU and its TypeScript twin", () => {
  const a = sampleImage(480, 360, faces, new Rng(3), DEFAULT_PNET_SAMPLING, iouOneToMany);
  const b = sampleImage(480, 360, faces, new Rng(3), DEFAULT_PNET_SAMPLING, iouTwin);
  assertEquals(a, b);
});

Deno.test("sampleImage() skips faces partly outside the image and images too small for negatives", () => {
  const outside: FaceBox[] = [{ x: 440, y: 100, w: 80, h: 80 }, { x: -5, y: 10, w: 60, h: 60 }];
  const crops = sampleImage(480, 360, outside, new Rng(1), DEFAULT_PNET_SAMPLING, iouOneToMany);
  assert(crops.every((c) => c.label === Label.Negative), "no positives from clipped faces");
  assertEquals(sampleImage(20, 20, [], new Rng(1), DEFAULT_PNET_SAMPLING, iouOneToMany), []);
});

Deno.test("RunningCaps keeps parts while parts < 1.2 * positives + 1, in order", () => {
  const cap = new RunningCaps(Infinity, 1.2);
  const kept = [Label.Part, Label.Part, Label.Positive, Label.Part, Label.Part, Label.Part].map((
    l,
  ) => cap.keep(l));
  assertEquals(kept, [true, false, true, true, true, false]);
});

Deno.test("resolveSamplingConfig() rejects unknown keys and bad values", () => {
  let msg = "";
  try {
    resolveSamplingConfig({ negatves: 3 } as never);
  } catch (e) {
    msg = (e as Error).message;
  }
  assertEquals(msg, 'unknown sampling option "negatves"');
  try {
    resolveSamplingConfig({ partIou: 0.9 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertEquals(msg, 'sampling option "partIou" must be <= "positiveIou"');
});

// ---- end to end on synthetic WIDER-layout images ----

const root = await Deno.makeTempDir({ prefix: "gen_pnet_test_" });
const ready = writeSyntheticDataset(root, { seed: 5, train: 8, val: 0, workers: 1 });

async function setup() {
  await ready;
  const images = await readWiderGt(`${root}/wider_face_split/wider_face_train_bbx_gt.txt`);
  return { images, imagesDir: `${root}/WIDER_train/images` };
}

async function filesOf(dir: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) out[e.name] = await Deno.readFile(`${dir}/${e.name}`);
  }
  return out;
}

Deno.test("generatePnetDataset() writes the same bytes inline, with 1 and with 2 workers", async () => {
  const { images, imagesDir } = await setup();
  const outs: Record<string, Uint8Array>[] = [];
  for (const workers of [0, 1, 2]) {
    const out = `${root}/pnet_w${workers}`;
    const s = await generatePnetDataset({
      images,
      imagesDir,
      out,
      seed: 11,
      workers,
      shardBytes: 20_000,
    });
    assertEquals([s.failed, s.images], [0, images.length]);
    outs.push(await filesOf(out));
  }
  assertEquals(outs[1], outs[0]);
  assertEquals(outs[2], outs[0]);
  const m = await readManifest(`${root}/pnet_w0`);
  assert(m.counts.pos > 0 && m.counts.part > 0 && m.counts.neg >= 8 * 35, JSON.stringify(m.counts));
  assert(m.counts.part <= 1.2 * m.counts.pos + 1, "part cap");
  const other = `${root}/pnet_seed12`;
  await generatePnetDataset({ images, imagesDir, out: other, seed: 12, workers: 0 });
  assert(
    JSON.stringify(await filesOf(other)) !== JSON.stringify(outs[0]),
    "another seed, other samples",
  );
});

Deno.test("generatePnetDataset() stores the kernel's bilinear crop of each region", async () => {
  const { images, imagesDir } = await setup();
  const one = [images.find((a) => a.faces.some((f) => Math.max(f.w, f.h) >= 40))!];
  const out = `${root}/pnet_one`;
  await generatePnetDataset({ images: one, imagesDir, out, seed: 2, workers: 0 });
  const m = await readManifest(out);
  const img = await readImage(`${imagesDir}/${one[0].path}`);
  const crops = sampleImage(
    img.width,
    img.height,
    one[0].faces,
    Rng.derive(2, 0),
    resolveSamplingConfig(),
    iouOneToMany,
  );
  const negatives = crops.filter((c) => c.label === Label.Negative);
  const shard = decodeShard(
    await Deno.readFile(`${out}/${m.shards.find((s) => s.label === "neg")!.file}`),
  );
  assertEquals(shard.count, negatives.length);
  const c = negatives[3];
  const expect = cropResizeU8(
    img.data,
    img.width,
    img.height,
    3,
    new Int32Array([c.x, c.y, c.size, c.size]),
    12,
  );
  assertEquals(shard.pixels.subarray(3 * 432, 4 * 432), expect);
  assert(
    Number.isNaN(shard.boxes[0]) && Number.isNaN(shard.landmarks[0]),
    "negatives carry no targets",
  );
});

Deno.test("generatePnetDataset() counts and skips an unreadable image, and resumes to the same bytes", async () => {
  const { images, imagesDir } = await setup();
  const broken = `${root}/broken.jpg`;
  await Deno.writeTextFile(broken, "not an image");
  const list = [...images.slice(0, 3), { path: "../../broken.jpg", faces: [] }, ...images.slice(3)];
  const full = `${root}/pnet_full`;
  const s = await generatePnetDataset({ images: list, imagesDir, out: full, seed: 4, workers: 2 });
  assertEquals(s.failed, 1);
  assert(
    s.failures[0].includes("broken.jpg") && s.failures[0].includes("not a JPEG or PNG"),
    s.failures[0],
  );
  // A run stopped after 4 images, then resumed over the whole list, holds the same samples in the same order.
  const cut = `${root}/pnet_cut`;
  await generatePnetDataset({ images: list.slice(0, 4), imagesDir, out: cut, seed: 4, workers: 1 });
  const resumed = await generatePnetDataset({
    images: list,
    imagesDir,
    out: cut,
    seed: 4,
    workers: 2,
  });
  assertEquals(resumed.skipped, 4);
  assertEquals(await samplesByLabel(cut), await samplesByLabel(full));
  await assertRejects(
    () => generatePnetDataset({ images: list, imagesDir, out: cut, seed: 5, workers: 1 }),
    TypeError,
    "holds another dataset",
  );
});

/** Per label, a digest of every sample's pixels and box offsets, in shard order. */
async function samplesByLabel(dir: string): Promise<Record<string, string[]>> {
  const m = await readManifest(dir);
  const out: Record<string, string[]> = {};
  for (const info of m.shards) {
    const s = decodeShard(await Deno.readFile(`${dir}/${info.file}`));
    const list = (out[info.label] ??= []);
    for (let i = 0; i < s.count; i++) {
      const px = s.pixels.subarray(i * 432, (i + 1) * 432);
      list.push(
        String.fromCharCode(...px) + Array.from(s.boxes.subarray(i * 4, i * 4 + 4)).join(","),
      );
    }
  }
  return out;
}

Deno.test("deno task gen-pnet names an empty annotation file and exits 1 without writing", async () => {
  const empty = `${root}/empty.txt`;
  await Deno.writeTextFile(empty, "");
  const out = `${root}/never`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "gen-pnet",
      "--annotations",
      empty,
      "--images",
      root,
      "--out",
      out,
    ],
    cwd: new URL("..", import.meta.url),
  }).output();
  assertEquals(r.code, 1);
  assertEquals(
    new TextDecoder().decode(r.stderr).trim(),
    `error: Cannot read "${empty}": no images listed`,
  );
  await assertRejects(() => Deno.stat(out), Deno.errors.NotFound);
});
