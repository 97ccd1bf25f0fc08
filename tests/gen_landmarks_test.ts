import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import {
  DEFAULT_LANDMARK_SAMPLING,
  faceSkipReason,
  flipLandmarks,
  flipOffsets,
  flipSamplesHorizontal,
  type LandmarkSamplingConfig,
  resolveLandmarkConfig,
  sampleLandmarkFace,
} from "../src/sampling/landmarks.ts";
import { generateLandmarkDataset, landmarkJobs } from "../src/sampling/generate_landmarks.ts";
import { decodeShard, Label, readManifest, type Shard } from "../src/data/shards.ts";
import { createImage, fillRect, writeImage } from "../src/image/mod.ts";
import type { Rgb } from "../src/image/types.ts";
import type { FaceBox, ImageAnnotation } from "../src/data/types.ts";
import { iouOneToMany } from "../kernels/mod.ts";
import { Rng } from "../src/util/random.ts";

const BACKGROUND: Rgb = [60, 60, 60];
const SKIN: Rgb = [200, 150, 110];
const MARK: Rgb = [255, 255, 255];

/**
 * A 60x60 face at (x, y) whose landmarks sit on pixel centres; the left eye
 * (image left) carries a bright 5x5 mark, the right eye none: an asymmetric
 * picture whose mirror moves the mark to the right eye.
 */
function faceAt(x: number, y: number): FaceBox {
  return {
    x,
    y,
    w: 60,
    h: 60,
    landmarks: [
      x + 15.5,
      y + 20.5, // left eye
      x + 45.5,
      y + 20.5, // right eye
      x + 30.5,
      y + 34.5, // nose
      x + 18.5,
      y + 47.5, // left mouth corner
      x + 42.5,
      y + 47.5, // right mouth corner
    ],
  };
}

async function writeFaceImage(path: string, faces: FaceBox[], width = 200, height = 160) {
  const img = createImage(width, height, BACKGROUND);
  for (const f of faces) {
    fillRect(img, f.x, f.y, f.x + f.w - 1, f.y + f.h - 1, SKIN);
    if (f.w >= 40) {
      const ex = Math.floor(f.landmarks![0]), ey = Math.floor(f.landmarks![1]);
      fillRect(img, ex - 2, ey - 2, ex + 2, ey + 2, MARK);
    }
  }
  await writeImage(path, img);
}

/** Five images, one holding two listed faces (consecutive entries), one small face, one cut off. */
async function fixture(): Promise<{ dir: string; entries: ImageAnnotation[] }> {
  const dir = await Deno.makeTempDir({ prefix: "gen_landmarks_test_" });
  const layout: { name: string; faces: FaceBox[] }[] = [
    { name: "a.png", faces: [faceAt(50, 40)] },
    { name: "b.png", faces: [faceAt(20, 30), faceAt(110, 70)] },
    { name: "c.png", faces: [faceAt(70, 50)] },
    { name: "d.png", faces: [{ ...faceAt(80, 60), w: 30, h: 30 }] }, // smaller than --min-face
    { name: "e.png", faces: [faceAt(160, 20)] }, // partly outside the 200 px wide image
  ];
  const entries: ImageAnnotation[] = [];
  for (const { name, faces } of layout) {
    await writeFaceImage(`${dir}/${name}`, faces);
    for (const f of faces) entries.push({ path: name, faces: [f] });
  }
  return { dir, entries };
}

async function readAll(dir: string): Promise<{ shards: Shard[]; bytes: Uint8Array[] }> {
  const m = await readManifest(dir);
  const bytes = await Promise.all(m.shards.map((s) => Deno.readFile(`${dir}/${s.file}`)));
  return { shards: bytes.map((b, i) => decodeShard(b, m.shards[i].file)), bytes };
}

function pixel(s: Shard, index: number, x: number, y: number): number[] {
  const o = ((index * s.size + y) * s.size + x) * 3;
  return [s.pixels[o], s.pixels[o + 1], s.pixels[o + 2]];
}

const near = (p: number[], c: Rgb, tol = 40) => p.every((v, i) => Math.abs(v - c[i]) <= tol);

function iouPlusOne(a: number[], b: number[]): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1);
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1);
  const inter = iw * ih;
  const area = (r: number[]) => (r[2] - r[0] + 1) * (r[3] - r[1] + 1);
  return inter / (area(a) + area(b) - inter);
}

Deno.test("flipLandmarks() mirrors x and swaps the eyes and the mouth corners, not the nose", () => {
  const lm = [0.2, 0.3, 0.7, 0.35, 0.45, 0.55, 0.25, 0.8, 0.75, 0.85];
  const f = flipLandmarks(lm);
  const expected = [0.3, 0.35, 0.8, 0.3, 0.55, 0.55, 0.25, 0.85, 0.75, 0.8];
  for (let i = 0; i < 10; i++) assertAlmostEquals(f[i], expected[i], 1e-12, `value ${i}`);
  const back = flipLandmarks(f);
  for (let i = 0; i < 10; i++) {
    assertAlmostEquals(back[i], lm[i], 1e-12, "flipping twice is the identity");
  }
});

Deno.test("flipOffsets() and flipSamplesHorizontal() agree on where the face's pixels go", () => {
  const size = 10;
  // Face columns 2..5 of a 10 px sample: o1 = 2/10, o3 = (5 - 10)/10.
  const o = [0.2, 0.1, -0.5, -0.2];
  const px = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 2; x <= 5; x++) px[(y * size + x) * 3] = 255;
  flipSamplesHorizontal(px, size, 3, 1);
  const f = flipOffsets(o, size);
  const x1 = Math.round(f[0] * size), x2 = Math.round(size + f[2] * size);
  assertEquals([x1, x2], [4, 7]);
  for (let x = 0; x < size; x++) assertEquals(px[x * 3] === 255, x >= x1 && x <= x2, `column ${x}`);
  assertEquals([f[1], f[3]], [0.1, -0.2]);
});

Deno.test("sampleLandmarkFace() keeps exactly the jittered crops with IoU above 0.65, landmarks in crop units", () => {
  const face = faceAt(50, 40);
  const all: LandmarkSamplingConfig = {
    ...DEFAULT_LANDMARK_SAMPLING,
    cropsPerFace: 200,
    minIou: 0,
    landmarksInside: false,
  };
  const everything = sampleLandmarkFace(200, 160, face, new Rng(5), all, iouOneToMany);
  const kept = sampleLandmarkFace(
    200,
    160,
    face,
    new Rng(5),
    { ...all, minIou: 0.65 },
    iouOneToMany,
  );
  const gt = [face.x, face.y, face.x + face.w - 1, face.y + face.h - 1];
  const expected = everything.filter((c) =>
    iouPlusOne([c.x, c.y, c.x + c.size, c.y + c.size], gt) > 0.65
  );
  assert(expected.length > 20 && expected.length < everything.length, "the rule drops some crops");
  assertEquals(kept, expected);
  for (const c of kept) {
    assert(Number.isInteger(c.x) && Number.isInteger(c.y), "whole-pixel corner");
    assert(c.size >= 48 && c.size < 75, `side ${c.size} in [int(0.8 * 60), ceil(1.25 * 60))`);
    assert(c.x >= 0 && c.y >= 0 && c.x + c.size <= 200 && c.y + c.size <= 160, "inside the image");
    for (let k = 0; k < 10; k++) {
      const origin = k % 2 === 0 ? c.x : c.y;
      assertAlmostEquals(c.landmarks[k], (face.landmarks![k] - origin) / c.size, 1e-12);
    }
    assertAlmostEquals(c.offsets[0], (face.x - c.x) / c.size, 1e-12);
    assertAlmostEquals(c.offsets[3], (face.y + face.h - 1 - (c.y + c.size)) / c.size, 1e-12);
  }
  // With the default rule a landmark outside the crop drops it.
  const inside = sampleLandmarkFace(200, 160, face, new Rng(5), {
    ...all,
    minIou: 0.65,
    landmarksInside: true,
  }, iouOneToMany);
  assertEquals(inside, kept.filter((c) => c.landmarks.every((v) => v >= 0 && v <= 1)));
});

Deno.test("faceSkipReason() skips faces below --min-face, partly outside, or without 5 landmarks", () => {
  assertEquals(faceSkipReason(faceAt(50, 40), 200, 160, 40), undefined);
  assertEquals(faceSkipReason({ ...faceAt(50, 40), w: 39, h: 30 }, 200, 160, 40), "small");
  assertEquals(faceSkipReason(faceAt(160, 20), 200, 160, 40), "outside");
  assertEquals(faceSkipReason(faceAt(-1, 20), 200, 160, 40), "outside");
  assertEquals(faceSkipReason({ x: 50, y: 40, w: 60, h: 60 }, 200, 160, 40), "landmarks");
  assertEquals(
    sampleLandmarkFace(
      200,
      160,
      faceAt(160, 20),
      new Rng(1),
      DEFAULT_LANDMARK_SAMPLING,
      iouOneToMany,
    ),
    [],
  );
  assertThrows(() => resolveLandmarkConfig({ minIou: 2 }), RangeError, "minIou");
  assertThrows(() => resolveLandmarkConfig({ bogus: 1 } as never), RangeError, "bogus");
});

Deno.test("landmarkJobs() groups consecutive entries of one image and keeps their list indices", () => {
  const f = faceAt(50, 40);
  const entries = ["a", "b", "b", "a"].map((path) => ({ path, faces: [f] }));
  const jobs = [...landmarkJobs(entries, "/img", 1)];
  assertEquals(jobs.map((j) => [j.path, j.entries.map((e) => e.index)]), [
    ["/img/b", [1, 2]],
    ["/img/a", [3]],
  ]);
});

Deno.test("gen-landmarks: mirrored samples carry the mark to the right eye, boxes and points on the face", async () => {
  const { dir, entries } = await fixture();
  const out = `${dir}/out48`;
  const summary = await generateLandmarkDataset({
    entries,
    imagesDir: dir,
    out,
    seed: 3,
    size: 48,
    workers: 0,
  });
  assertEquals(summary.skipped, { small: 1, outside: 1, landmarks: 0 });
  assertEquals(summary.failed, 0);
  const { shards } = await readAll(out);
  assertEquals(shards.map((s) => s.label), [Label.Landmark]);
  const s = shards[0];
  assert(s.count >= 20 && s.count % 2 === 0, `${s.count} samples, in (crop, mirror) pairs`);
  let edgesSeen = 0;
  for (let i = 0; i < s.count; i++) {
    const lm = s.landmarks.subarray(i * 10, i * 10 + 10);
    const o = s.boxes.subarray(i * 4, i * 4 + 4);
    assert(lm.every((v) => v >= 0 && v <= 1), `sample ${i}: landmarks inside the crop`);
    const at = (k: number) =>
      pixel(s, i, Math.floor(lm[2 * k] * 48), Math.floor(lm[2 * k + 1] * 48));
    // Left eye (point 1) always carries the mark: the original's mark is on the image's left,
    // the mirror's mark moved to the right and its points swapped with it.
    const marked = i % 2 === 0 ? 0 : 1;
    assert(
      near(at(marked), MARK, 60),
      `sample ${i}: mark under point ${marked + 1}: ${at(marked)}`,
    );
    assert(
      near(at(1 - marked), SKIN),
      `sample ${i}: skin under point ${2 - marked}: ${at(1 - marked)}`,
    );
    for (const k of [2, 3, 4]) assert(near(at(k), SKIN), `sample ${i}: point ${k + 1} on the face`);
    // The face box from the offsets: skin 2 px inside each side, background 2 px outside.
    const x1 = o[0] * 48, y1 = o[1] * 48, x2 = 48 + o[2] * 48, y2 = 48 + o[3] * 48;
    const my = Math.floor((y1 + y2) / 2 + 6), mx = Math.floor((x1 + x2) / 2);
    const expect = (x: number, y: number, c: Rgb, what: string) => {
      if (x >= 0 && x < 48 && y >= 0 && y < 48) {
        const p = pixel(s, i, Math.floor(x), Math.floor(y));
        assert(near(p, c), `sample ${i}: ${what} at (${x.toFixed(1)}, ${y.toFixed(1)}) is ${p}`);
      }
    };
    expect(x1 + 2, my, SKIN, "left edge inside");
    expect(x2 - 2, my, SKIN, "right edge inside");
    expect(x1 - 2, my, BACKGROUND, "left of the face");
    expect(x2 + 2, my, BACKGROUND, "right of the face");
    expect(mx, y1 - 2, BACKGROUND, "above the face");
    expect(mx, y2 + 2, BACKGROUND, "below the face");
    expect(mx, y1 + 2, SKIN, "top edge inside");
    const outside = [x1 - 2, x2 + 2, y1 - 2, y2 + 2].filter((v) => v >= 0 && v < 48).length;
    if (outside > 0) edgesSeen += 1;
  }
  assert(edgesSeen > s.count / 2, "most samples show a face edge with background beyond it");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("gen-landmarks writes the same bytes for 0, 1 and 2 workers and resumes to the same samples", async () => {
  const { dir, entries } = await fixture();
  const run = (out: string, workers: number, list = entries) =>
    generateLandmarkDataset({ entries: list, imagesDir: dir, out, seed: 9, size: 24, workers });
  await run(`${dir}/w0`, 0);
  await run(`${dir}/w1`, 1);
  await run(`${dir}/w2`, 2);
  const [a, b, c] = await Promise.all(["w0", "w1", "w2"].map((w) => readAll(`${dir}/${w}`)));
  assert(a.shards[0].count > 0);
  assertEquals(b.bytes, a.bytes);
  assertEquals(c.bytes, a.bytes);
  const manifest = await Deno.readTextFile(`${dir}/w0/manifest.json`);
  assertEquals(await Deno.readTextFile(`${dir}/w2/manifest.json`), manifest);
  // An interrupted run (here: stopped after the first two images) resumes from its cursor.
  const first = await run(`${dir}/resumed`, 1, entries.slice(0, 3));
  assertEquals(first.manifest.cursor, 3);
  const second = await run(`${dir}/resumed`, 2);
  assertEquals(second.resumed, 3);
  const r = await readAll(`${dir}/resumed`);
  const cat = (xs: Shard[], f: (s: Shard) => Uint8Array | Float32Array) =>
    xs.flatMap((s) => Array.from(f(s)));
  assertEquals(cat(r.shards, (s) => s.pixels), cat(a.shards, (s) => s.pixels));
  assertEquals(cat(r.shards, (s) => s.landmarks), cat(a.shards, (s) => s.landmarks));
  assertEquals(cat(r.shards, (s) => s.boxes), cat(a.shards, (s) => s.boxes));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task gen-landmarks reads an LFW list beside its images; --no-flip halves the samples", async () => {
  const { dir, entries } = await fixture();
  const list = entries.map((e) => {
    const f = e.faces[0];
    return [e.path, f.x, f.x + f.w, f.y, f.y + f.h, ...f.landmarks!].join(" ");
  }).join("\n");
  await Deno.writeTextFile(`${dir}/trainImageList.txt`, list + "\n");
  const task = async (...extra: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "gen-landmarks",
        "--list",
        `${dir}/trainImageList.txt`,
        "--size",
        "12",
        "--workers",
        "1",
        ...extra,
      ],
      cwd: new URL("..", import.meta.url),
    }).output();
    assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout);
  };
  const text = await task("--out", `${dir}/flip`);
  assert(text.includes("faces skipped: 1 small, 1 partly outside"), text);
  await task("--out", `${dir}/noflip`, "--no-flip");
  const [flip, noflip] = await Promise.all([
    readManifest(`${dir}/flip`),
    readManifest(`${dir}/noflip`),
  ]);
  assert(noflip.counts.landmark > 0);
  assertEquals(flip.counts.landmark, 2 * noflip.counts.landmark);
  assertEquals(flip.size, 12);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "gen-landmarks",
      "--list",
      `${dir}/a.png`,
      "--out",
      `${dir}/never`,
    ],
    cwd: new URL("..", import.meta.url),
  }).output();
  assertEquals(bad.code, 1);
  const err = new TextDecoder().decode(bad.stderr).trim();
  assert(err.startsWith(`error: Cannot read "${dir}/a.png"`) && !err.includes("\n"), err);
  await Deno.remove(dir, { recursive: true });
});
