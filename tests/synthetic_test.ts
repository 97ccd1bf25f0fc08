import { assert, assertEquals, assertNotEquals, assertRejects } from "./assert.ts";
import {
  faceExtent,
  formatLandmarkList,
  renderScene,
  renderSyntheticImage,
  SYNTHETIC_VERSION,
  writeSyntheticDataset,
} from "../src/data/synthetic/mod.ts";
import { Canvas, ellipse, polygon, rect } from "../src/data/synthetic/raster.ts";
import { parseWiderGt } from "../src/data/wider.ts";
import { parseLfwLandmarks } from "../src/data/landmarks.ts";
import { decodeImageSync } from "../src/image/decode.ts";
import { Rng } from "../src/util/random.ts";
import type { RgbImage } from "../src/image/types.ts";
import type { FaceBox } from "../src/data/types.ts";
import sampleTask from "../tasks/sample.ts";
import { UsageError } from "../src/cli/mod.ts";

const SMALL = { width: 200, height: 150 };

/** Every file under `dir` (relative path → bytes). */
async function readTree(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await readTree(dir, rel)) out.set(k, v); }
    else out.set(rel, await Deno.readFile(`${dir}/${rel}`));
  }
  return out;
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "synthetic_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Canvas.fill() anti-aliases: edge pixels get fractional coverage, area is preserved", () => {
  const c = new Canvas(40, 40);
  c.fill(ellipse(20.3, 19.7, 9.5, 6.25, 0.4), [1, 1, 1]);
  let sum = 0, partial = 0;
  for (let i = 0; i < c.data.length; i += 3) {
    sum += c.data[i];
    if (c.data[i] > 0.01 && c.data[i] < 0.99) partial++;
  }
  const area = Math.PI * 9.5 * 6.25;
  assert(Math.abs(sum - area) < 0.01 * area, `covered ${sum} vs area ${area}`);
  assert(partial > 30, `only ${partial} partially covered pixels`);
  // A sub-pixel dot still leaves a proportionate trace.
  const d = new Canvas(4, 4);
  d.fill(ellipse(2, 2, 0.3, 0.3), [1, 1, 1]);
  let dot = 0;
  for (let i = 0; i < d.data.length; i += 3) dot += d.data[i];
  assert(Math.abs(dot - Math.PI * 0.09) < 0.1, `dot coverage ${dot}`);
  // A triangle: covered area matches its area (shoelace) to 1 %.
  const h = new Canvas(20, 20);
  const tri = [0.7, 1.2, 18.9, 3.3, 4.1, 17.6];
  h.fill(polygon(tri), [1, 1, 1]);
  let covered = 0;
  for (let i = 0; i < h.data.length; i += 3) covered += h.data[i];
  const triArea = Math.abs(
    (tri[2] - tri[0]) * (tri[5] - tri[1]) - (tri[4] - tri[0]) * (tri[3] - tri[1]),
  ) / 2;
  assert(
    Math.abs(covered - triArea) < 0.01 * triArea,
    `triangle coverage ${covered} vs ${triArea}`,
  );
  const r = new Canvas(5, 5);
  r.fill(rect(1, 1, 3, 3), [1, 0, 0]);
  assertEquals(r.data[(2 * 5 + 2) * 3], 1);
  assertEquals(r.data[0], 0);
});

Deno.test("renderSyntheticImage() is deterministic: same seed, same pixels and boxes; another seed differs", () => {
  const a = renderSyntheticImage(5, "train", 3, SMALL);
  const b = renderSyntheticImage(5, "train", 3, SMALL);
  assertEquals(a.path, b.path);
  assertEquals(a.faces, b.faces);
  assert(a.image.data.every((v, i) => v === b.image.data[i]), "pixels differ for the same seed");
  const c = renderSyntheticImage(6, "train", 3, SMALL);
  assert(c.image.data.some((v, i) => v !== a.image.data[i]), "another seed gave the same pixels");
  const v = renderSyntheticImage(5, "val", 3, SMALL);
  assert(v.image.data.some((x, i) => x !== a.image.data[i]), "val image 3 equals train image 3");
  assert(/^\d--[A-Za-z]+\/\d_[A-Za-z]+_train_000003\.jpg$/.test(a.path), a.path);
});

Deno.test("synthetic boxes lie inside the image; landmarks lie inside their boxes, left before right, eyes above mouth", () => {
  let faces = 0;
  const attrs = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const im = renderSyntheticImage(11, "train", i);
    const { width: W, height: H } = im.image;
    for (const f of im.faces) {
      faces++;
      assert(
        Number.isInteger(f.x) && Number.isInteger(f.y) && Number.isInteger(f.w) &&
          Number.isInteger(f.h),
      );
      assert(
        f.x >= 0 && f.y >= 0 && f.w >= 10 && f.h >= 10,
        `${im.path}: box ${JSON.stringify(f)}`,
      );
      assert(f.x + f.w <= W && f.y + f.h <= H, `${im.path}: box outside ${W}x${H}`);
      assert(f.w / f.h > 0.6 && f.w / f.h < 1.6, `${im.path}: box ${f.w}x${f.h} is not square-ish`);
      const L = f.landmarks!;
      assertEquals(L.length, 10);
      for (let k = 0; k < 5; k++) {
        assert(
          L[2 * k] > f.x && L[2 * k] < f.x + f.w && L[2 * k + 1] > f.y && L[2 * k + 1] < f.y + f.h,
          `${im.path}: landmark ${k} (${L[2 * k]}, ${L[2 * k + 1]}) outside its box`,
        );
      }
      assert(L[0] < L[2], `${im.path}: left eye right of right eye`);
      assert(L[6] < L[8], `${im.path}: left mouth corner right of right corner`);
      assert((L[1] + L[3]) / 2 < (L[7] + L[9]) / 2, `${im.path}: eyes below mouth`);
      const a = f.attributes!;
      assertEquals([a.expression, a.invalid], [0, 0]);
      assert(a.blur <= 2 && a.illumination <= 1 && a.occlusion <= 2 && a.pose <= 1);
      attrs.add(`blur${a.blur}`).add(`ill${a.illumination}`).add(`occ${a.occlusion}`).add(
        `pose${a.pose}`,
      );
    }
  }
  assert(faces > 60, `only ${faces} faces in 40 images`);
  // Every attribute value occurs somewhere in 40 images.
  for (
    const k of ["blur0", "blur1", "blur2", "ill0", "ill1", "occ0", "occ1", "occ2", "pose0", "pose1"]
  ) {
    assert(attrs.has(k), `no face with ${k}`);
  }
});

Deno.test("faceExtent() is the exact bounding box of the rotated face region", () => {
  const im = renderScene(Rng.derive(3, 1));
  assert(im.specs.length > 0);
  for (const s of im.specs) {
    // Sample the cut ellipse densely and compare.
    const [x0, y0, x1, y1] = faceExtent(s);
    let mx0 = Infinity, my0 = Infinity, mx1 = -Infinity, my1 = -Infinity;
    const top = s.eyeY - 0.8;
    for (let k = 0; k < 20000; k++) {
      const t = (k / 20000) * 2 * Math.PI;
      let u = Math.cos(t), v = s.hr * Math.sin(t);
      if (v < top) {
        v = top;
        u = Math.max(-1, Math.min(1, u));
        u = Math.sign(u) * Math.min(Math.abs(u), Math.sqrt(1 - (top / s.hr) ** 2));
      }
      const x = s.cx + s.a * (u * Math.cos(s.roll) - v * Math.sin(s.roll));
      const y = s.cy + s.a * (u * Math.sin(s.roll) + v * Math.cos(s.roll));
      mx0 = Math.min(mx0, x),
        my0 = Math.min(my0, y),
        mx1 = Math.max(mx1, x),
        my1 = Math.max(my1, y);
    }
    const tol = 1e-3 * s.a;
    assert(
      Math.abs(mx0 - x0) < tol && Math.abs(my0 - y0) < tol,
      `min ${x0},${y0} vs sampled ${mx0},${my0}`,
    );
    assert(
      Math.abs(mx1 - x1) < tol && Math.abs(my1 - y1) < tol,
      `max ${x1},${y1} vs sampled ${mx1},${my1}`,
    );
  }
});

/** Fraction of pixels in the box's inner ellipse whose colour is `skin` scaled by some shading. */
function skinFraction(img: RgbImage, f: FaceBox, skin: readonly number[]): number {
  const cx = f.x + f.w / 2, cy = f.y + f.h / 2 + 0.1 * f.h;
  const s2 = skin[0] ** 2 + skin[1] ** 2 + skin[2] ** 2;
  let n = 0, hit = 0;
  for (let y = f.y; y < f.y + f.h; y++) {
    for (let x = f.x; x < f.x + f.w; x++) {
      if (((x + 0.5 - cx) / (0.3 * f.w)) ** 2 + ((y + 0.5 - cy) / (0.3 * f.h)) ** 2 > 1) continue;
      n++;
      const i = (y * img.width + x) * 3;
      const p = [img.data[i] / 255, img.data[i + 1] / 255, img.data[i + 2] / 255];
      const k = (p[0] * skin[0] + p[1] * skin[1] + p[2] * skin[2]) / s2;
      const e = Math.hypot(p[0] - k * skin[0], p[1] - k * skin[1], p[2] - k * skin[2]);
      if (k > 0.3 && k < 1.6 && e < 0.1 * k * Math.sqrt(s2) + 0.03) hit++;
    }
  }
  return n ? hit / n : 0;
}

Deno.test("synthetic faces are drawn where their boxes say: the box changes with the face and holds its skin", () => {
  let checked = 0, skinFace = 0, skinBg = 0;
  for (let i = 0; i < 12; i++) {
    const withFaces = renderScene(Rng.derive(21, i), SMALL);
    const without = renderScene(Rng.derive(21, i), { ...SMALL, omitFaces: true });
    withFaces.faces.forEach((f, j) => {
      const a = f.attributes!;
      const img = withFaces.image, bg = without.image;
      // The face changed the pixels inside its box.
      let diff = 0;
      for (let y = f.y; y < f.y + f.h; y++) {
        for (let x = f.x; x < f.x + f.w; x++) {
          const k = (y * img.width + x) * 3;
          diff += Math.abs(img.data[k] - bg.data[k]) + Math.abs(img.data[k + 1] - bg.data[k + 1]) +
            Math.abs(img.data[k + 2] - bg.data[k + 2]);
        }
      }
      diff /= f.w * f.h * 3;
      assert(diff > 8, `${i}/${j}: mean change ${diff.toFixed(1)} inside the box`);
      if (a.occlusion === 0 && a.illumination === 0 && a.blur === 0 && f.w >= 16) {
        const inFace = skinFraction(img, f, withFaces.specs[j].skin);
        const inBg = skinFraction(bg, f, withFaces.specs[j].skin);
        assert(inFace > 0.5, `${i}/${j}: skin fraction ${inFace.toFixed(2)} in a clean face box`);
        skinFace += inFace;
        skinBg += inBg;
        checked++;
      }
    });
  }
  assert(checked >= 5, `only ${checked} clean faces checked`);
  // On average the same box holds far more skin with the face than without it.
  assert(
    skinFace / checked > skinBg / checked + 0.4,
    `skin ${skinFace / checked} vs ${skinBg / checked}`,
  );
});

Deno.test("writeSyntheticDataset() writes byte-identical files for the same seed and different ones for another seed", async () => {
  await withTempDir(async (dir) => {
    const opts = { seed: 9, train: 3, val: 2, ...SMALL };
    const m1 = await writeSyntheticDataset(`${dir}/a`, opts);
    await writeSyntheticDataset(`${dir}/b`, opts);
    await writeSyntheticDataset(`${dir}/c`, { ...opts, seed: 10 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((d) => readTree(`${dir}/${d}`)));
    assertEquals([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) assertEquals(b.get(k), v, k);
    const jpgs = [...a.keys()].filter((k) => k.endsWith(".jpg"));
    assertEquals(jpgs.length, 5);
    assert(
      jpgs.every((k) => !c.has(k) || !equalBytes(c.get(k)!, a.get(k)!)),
      "seed 10 repeated an image",
    );
    assertEquals(m1.version, SYNTHETIC_VERSION);
    assertEquals(m1.seed, 9);
    assertEquals([m1.splits.train.images, m1.splits.val.images], [3, 2]);
    const manifest = JSON.parse(new TextDecoder().decode(a.get("manifest.json")));
    assertEquals(manifest, JSON.parse(JSON.stringify(m1)));
  });
});

function equalBytes(a: Uint8Array, b: Uint8Array) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

Deno.test("writeSyntheticDataset() gives the same bytes with 1 and 2 workers", async () => {
  await withTempDir(async (dir) => {
    const opts = { seed: 4, train: 3, val: 2, width: 160, height: 120 };
    await writeSyntheticDataset(`${dir}/one`, opts);
    await writeSyntheticDataset(`${dir}/two`, { ...opts, workers: 2 });
    const [one, two] = await Promise.all([readTree(`${dir}/one`), readTree(`${dir}/two`)]);
    assertEquals([...one.keys()].sort(), [...two.keys()].sort());
    for (const [k, v] of one) assert(equalBytes(two.get(k)!, v), `${k} differs`);
  });
});

Deno.test("synthetic annotation files parse back: WIDER gt, LFW landmarks, images of the stated size", async () => {
  await withTempDir(async (dir) => {
    const m = await writeSyntheticDataset(dir, { seed: 2, train: 4, val: 2, ...SMALL });
    const expected = Array.from(
      { length: 4 },
      (_, i) => renderSyntheticImage(2, "train", i, SMALL),
    );
    const text = await Deno.readTextFile(`${dir}/wider_face_split/wider_face_train_bbx_gt.txt`);
    const gt = parseWiderGt(text, "train_gt.txt");
    assertEquals(gt.map((g) => g.path), expected.map((e) => e.path));
    gt.forEach((g, i) => {
      assertEquals(g.faces, expected[i].faces.map(({ landmarks: _, ...box }) => box));
      const img = decodeImageSync(Deno.readFileSync(`${dir}/WIDER_train/images/${g.path}`), g.path);
      assertEquals([img.width, img.height], [SMALL.width, SMALL.height]);
    });
    const val = parseWiderGt(
      await Deno.readTextFile(`${dir}/wider_face_split/wider_face_val_bbx_gt.txt`),
      "val_gt.txt",
    );
    assertEquals(val.length, 2);
    for (const v of val) await Deno.stat(`${dir}/WIDER_val/images/${v.path}`);
    // Landmarks: one line per train face, paths relative to landmarks/, exact to 1e-3.
    const lfw = parseLfwLandmarks(
      await Deno.readTextFile(`${dir}/landmarks/trainImageList.txt`),
      "list",
    );
    const faces = expected.flatMap((e) => e.faces.map((f) => ({ path: e.path, f })));
    assertEquals(lfw.length, faces.length);
    assertEquals(m.landmarks.faces, faces.length);
    lfw.forEach((l, k) => {
      assertEquals(l.path, `../WIDER_train/images/${faces[k].path}`);
      const { x, y, w, h, landmarks } = faces[k].f;
      assertEquals([l.faces[0].x, l.faces[0].y, l.faces[0].w, l.faces[0].h], [x, y, w, h]);
      l.faces[0].landmarks!.forEach((v, j) => assert(Math.abs(v - landmarks![j]) <= 5e-4));
    });
    await Deno.stat(`${dir}/landmarks/${lfw[0]?.path ?? "../manifest.json"}`);
  });
});

Deno.test("an image without faces is written as count 0 and a row of ten zeros, and has no landmark line", async () => {
  const size = { width: 96, height: 72 };
  let empty = -1;
  for (let i = 0; i < 60 && empty < 0; i++) {
    if (renderSyntheticImage(8, "train", i, size).faces.length === 0) empty = i;
  }
  assert(empty >= 0, "no image without faces among 60");
  await withTempDir(async (dir) => {
    const m = await writeSyntheticDataset(dir, { seed: 8, train: empty + 1, val: 0, ...size });
    const text = await Deno.readTextFile(`${dir}/wider_face_split/wider_face_train_bbx_gt.txt`);
    const path = renderSyntheticImage(8, "train", empty, size).path;
    const lines = text.split("\n");
    const at = lines.indexOf(path);
    assert(at >= 0, `${path} not in the gt file`);
    assertEquals(lines[at + 1], "0");
    assertEquals(lines[at + 2].trim().split(/\s+/), Array(10).fill("0"));
    assertEquals(parseWiderGt(text, "gt").find((g) => g.path === path)!.faces, []);
    const list = await Deno.readTextFile(`${dir}/landmarks/trainImageList.txt`);
    assert(!list.includes(path), "an image without faces has a landmark line");
    assert(m.splits.train.emptyImages >= 1);
    assertEquals(m.splits.val.images, 0);
    assertEquals(await Deno.readTextFile(`${dir}/wider_face_split/wider_face_val_bbx_gt.txt`), "");
  });
});

Deno.test("writeSyntheticDataset() removes its own images of an earlier, larger run", async () => {
  await withTempDir(async (dir) => {
    const opts = { seed: 1, val: 0, width: 96, height: 72 };
    await writeSyntheticDataset(dir, { ...opts, train: 3 });
    const stale = renderSyntheticImage(1, "train", 2, opts).path;
    await Deno.stat(`${dir}/WIDER_train/images/${stale}`);
    await Deno.writeTextFile(`${dir}/WIDER_train/images/${stale.split("/")[0]}/mine.jpg`, "x");
    await writeSyntheticDataset(dir, { ...opts, train: 2 });
    await assertRejects(
      () => Deno.stat(`${dir}/WIDER_train/images/${stale}`),
      Deno.errors.NotFound,
    );
    await Deno.stat(`${dir}/WIDER_train/images/${stale.split("/")[0]}/mine.jpg`);
  });
});

Deno.test("formatLandmarkList() writes path, left right top bottom, then 10 landmark values", () => {
  const text = formatLandmarkList([
    {
      path: "e/a.jpg",
      faces: [{ x: 1, y: 2, w: 10, h: 12, landmarks: [3, 5, 8, 5, 5.5, 8, 4, 10, 7.1234, 10] }],
    },
    { path: "e/b.jpg", faces: [] },
  ]);
  assertEquals(text, "e/a.jpg 1 11 2 14 3 5 8 5 5.5 8 4 10 7.123 10\n");
  assertEquals(parseLfwLandmarks(text, "t")[0].faces[0].w, 10);
});

Deno.test("writeSyntheticDataset() and the sample task reject bad counts and sizes with one-line errors", async () => {
  await assertRejects(
    () => writeSyntheticDataset("/nonexistent", { seed: 1, train: -1 }),
    RangeError,
    "train",
  );
  await assertRejects(
    () => writeSyntheticDataset("/nonexistent", { seed: 1, width: 20 }),
    RangeError,
    "width",
  );
  await assertRejects(
    async () =>
      await sampleTask.run({
        flags: { seed: 1, out: "/nonexistent", train: -2, val: 1, workers: 1 },
        positionals: [],
      }),
    UsageError,
    "--train",
  );
  assertNotEquals(sampleTask.flags.seed, undefined);
});
