import {
  evaluateFddb,
  type FddbImage,
  fddbRateAt,
  formatFddbRoc,
  parseFddbDetections,
  parseFddbEllipses,
  readFddbDetections,
  readFddbFolds,
} from "../src/eval/fddb.ts";
import {
  ellipseRegion,
  rectangleRegion,
  regionIntersection,
  regionIoU,
  regionMask,
} from "../src/eval/fddb_raster.ts";
import { maxWeightAssignment } from "../src/eval/hungarian.ts";
import type { ScoredBox } from "../src/eval/wider.ts";
import { Rng } from "../src/util/random.ts";
import evalFddb from "../tasks/eval_fddb.ts";
import { readImage } from "../src/image/decode.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "./assert.ts";

/** Row spans `y:x0-x1,x0-x1 ...` of a 0/1 mask. */
function spansOf(mask: Uint8Array, width: number): string {
  const rows: string[] = [];
  for (let y = 0; y * width < mask.length; y++) {
    const runs: string[] = [];
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      const s = x;
      while (x + 1 < width && mask[y * width + x + 1]) x++;
      runs.push(`${s}-${x}`);
    }
    if (runs.length) rows.push(`${y}:${runs.join(",")}`);
  }
  return rows.join(" ");
}

Deno.test("ellipseRegion() draws the pixels OpenCV's cv2.ellipse draws for FDDB's ellipses", () => {
  // References drawn with OpenCV 4.6 (cv2.ellipse, thickness -1) as FDDB's evaluate draws
  // them: centre rounded from float (10.5 -> 10), radii truncated, angle in whole degrees.
  const cases: [number, number, number, number, number, number, number, string][] = [
    [3.7, 2.2, 0.52, 10.5, 7.4, 24, 16, "5:8-11 6:7-12 7:7-13 8:8-13 9:9-13"],
    [
      12.9,
      7.1,
      -0.87,
      20.2,
      15.6,
      48,
      32,
      "6:22-27 7:20-28 8:18-28 9:17-29 10:16-29 11:16-29 12:15-29 13:14-29 14:13-29 15:13-28 " +
      "16:12-28 17:12-28 18:11-27 19:11-26 20:11-25 21:11-25 22:11-24 23:11-23 24:12-22 " +
      "25:12-20 26:13-18",
    ],
    [
      16.4,
      9.8,
      1.3,
      3.3,
      30.5,
      40,
      36,
      "14:0-0 15:0-4 16:0-4 17:0-6 18:0-7 19:0-8 20:0-8 21:0-9 22:0-10 23:0-10 24:0-10 " +
      "25:0-11 26:0-11 27:0-12 28:0-12 29:0-12 30:0-12 31:0-12 32:0-12 33:0-13 34:0-13 35:0-13",
    ],
  ];
  for (const [ra, rb, angle, cx, cy, width, height, want] of cases) {
    const r = ellipseRegion({ majorRadius: ra, minorRadius: rb, angle, cx, cy }, {
      width,
      height,
    });
    assertEquals(spansOf(regionMask(r, width, height), width), want);
    assertEquals(r.area, regionMask(r, width, height).reduce((a, b) => a + b, 0));
  }
});

Deno.test("rectangleRegion() rounds corners from float half to even and includes both", () => {
  const r = rectangleRegion({ x: 10.5, y: 2.5, w: 4, h: 1 });
  // x: round(10.5) = 10 .. round(14.5) = 14; y: round(2.5) = 2 .. round(3.5) = 4
  assertEquals(spansOf(regionMask(r, 20, 8), 20), "2:10-14 3:10-14 4:10-14");
  assertEquals(r.area, 15);
  const clipped = rectangleRegion({ x: -5, y: -5, w: 10, h: 100 }, { width: 8, height: 6 });
  assertEquals(clipped.area, 6 * 6);
});

Deno.test("regionIoU() counts overlapping pixels like the masks' AND and OR", () => {
  const rng = new Rng(3);
  for (let k = 0; k < 40; k++) {
    const size = { width: 120, height: 90 };
    const e = ellipseRegion({
      majorRadius: rng.uniform(2, 60),
      minorRadius: rng.uniform(2, 40),
      angle: rng.uniform(-3, 3),
      cx: rng.uniform(0, 120),
      cy: rng.uniform(0, 90),
    }, size);
    const b = rectangleRegion({
      x: rng.uniform(-10, 110),
      y: rng.uniform(-10, 80),
      w: rng.uniform(0, 80),
      h: rng.uniform(0, 80),
    }, size);
    const me = regionMask(e, 120, 90), mb = regionMask(b, 120, 90);
    let and = 0, or = 0;
    for (let i = 0; i < me.length; i++) {
      and += me[i] & mb[i];
      or += me[i] | mb[i];
    }
    assertEquals(regionIntersection(e, b), and);
    assertEquals(regionIoU(e, b), or ? and / or : 0);
  }
  // An axis-aligned ellipse against its bounding box: about pi / 4.
  const e = ellipseRegion({ majorRadius: 60, minorRadius: 40, angle: 0, cx: 100, cy: 100 });
  const box = rectangleRegion({ x: 40, y: 60, w: 120, h: 80 });
  assertAlmostEquals(regionIoU(e, box), Math.PI / 4, 0.02);
});

Deno.test("maxWeightAssignment() finds the best one-to-one pairing (brute force check)", () => {
  assertEquals(Array.from(maxWeightAssignment([[0.9, 0.8], [0.85, 0]], 2, 2)), [1, 0]);
  const rng = new Rng(8);
  const permutations = (n: number, k: number): number[][] => {
    if (k === 0) return [[]];
    const out: number[][] = [];
    for (const p of permutations(n, k - 1)) {
      for (let j = 0; j < n; j++) if (!p.includes(j)) out.push([...p, j]);
    }
    return out;
  };
  for (let t = 0; t < 60; t++) {
    const rows = rng.int(1, 5), cols = rng.int(1, 5);
    const w = Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.next()));
    const a = maxWeightAssignment(w, rows, cols);
    const total = Array.from(a).reduce((s, c, r) => s + (c >= 0 ? w[r][c] : 0), 0);
    // best over all injective maps of the smaller side
    let best = 0;
    if (rows <= cols) {
      for (const p of permutations(cols, rows)) {
        best = Math.max(
          best,
          p.reduce((s, c, r) => s + w[r][c], 0),
        );
      }
    } else {
      for (const p of permutations(rows, cols)) {
        best = Math.max(
          best,
          p.reduce((s, r, c) => s + w[r][c], 0),
        );
      }
    }
    assertAlmostEquals(total, best, 1e-12, `${rows}x${cols}`);
    const used = Array.from(a).filter((c) => c >= 0);
    assertEquals(new Set(used).size, used.length);
    assertEquals(used.length, Math.min(rows, cols));
  }
});

// ---------------------------------------------------------------------------------------------
// A constructed benchmark whose ROC is known by hand

const face = (cx: number, cy: number) => ({
  majorRadius: 30,
  minorRadius: 20,
  angle: Math.PI / 2,
  cx,
  cy,
});
/** The bounding box of `face(cx, cy)`: overlap about pi / 4 (a hit). */
const tight = (cx: number, cy: number, score: number) => ({
  x: cx - 20,
  y: cy - 30,
  w: 40,
  h: 60,
  score,
});

const IMAGES: FddbImage[] = [
  { name: "a/1", fold: 1, faces: [face(60, 60), face(200, 60)] },
  { name: "b/2", fold: 1, faces: [face(60, 60)] },
  { name: "c/3", fold: 2, faces: [face(60, 60)] },
  { name: "d/4", fold: 2, faces: [] },
];
const DETECTIONS = new Map<string, ScoredBox[]>([
  ["a/1", [
    tight(60, 60, 0.9),
    { x: 300, y: 300, w: 30, h: 30, score: 0.8 }, // nothing there
    tight(200, 60, 0.7),
    { x: 43, y: 33, w: 40, h: 60, score: 0.6 }, // a second box on the first face
  ]],
  ["b/2", [
    { x: 60, y: 30, w: 60, h: 60, score: 0.85 }, // half the face: overlap ~0.2
    tight(60, 60, 0.75),
  ]],
  ["c/3", []],
  ["d/4", [{ x: 10, y: 10, w: 50, h: 50, score: 0.95 }]],
  ["z/9", [{ x: 0, y: 0, w: 5, h: 5, score: 1 }]], // not annotated: ignored
]);

Deno.test("evaluateFddb() gives the hand-derived discrete ROC and the summed overlaps", () => {
  const roc = evaluateFddb(IMAGES, DETECTIONS);
  assertEquals([roc.faces, roc.images, roc.detections], [4, 4, 7]);
  assertEquals(roc.unknown, ["z/9"]);
  assertEquals(roc.missing, []);
  // threshold: [true positives, false positives], by hand:
  // 0.6  a: 1+3 on 1, 2 on 2, 4 duplicate -> 2 tp 2 fp; b: 6 -> 1 tp 1 fp; d: 1 fp
  // 0.7  a: 2 tp 1 fp; b: 1 tp 1 fp; d: 1 fp
  // 0.75 a: 1 tp 1 fp; b: 1 tp 1 fp (6 beats 5 in the matching); d: 1 fp
  // 0.8  a: 1 tp 1 fp; b: only 5, matched with overlap < 0.5: 1 fp; d: 1 fp
  // 0.85 a: 1 tp; b: 1 fp; d: 1 fp
  // 0.9  a: 1 tp; d: 1 fp
  // 0.95 d: 1 fp
  // max  (c has no detections): nothing
  assertEquals(roc.points.map((p) => [p.threshold, p.truePositives, p.falsePositives]), [
    [0.6, 3, 4],
    [0.7, 3, 3],
    [0.75, 2, 3],
    [0.8, 1, 3],
    [0.85, 1, 2],
    [0.9, 1, 1],
    [0.95, 0, 1],
    [Number.MAX_VALUE, 0, 0],
  ]);
  // Continuous: the overlaps of the matched pairs, counted on the masks.
  const iou = (f: ReturnType<typeof face>, d: ScoredBox) => {
    const a = regionMask(ellipseRegion(f), 400, 400), b = regionMask(rectangleRegion(d), 400, 400);
    let and = 0, or = 0;
    for (let i = 0; i < a.length; i++) {
      and += a[i] & b[i];
      or += a[i] | b[i];
    }
    return and / or;
  };
  const [d1, , d3] = DETECTIONS.get("a/1")!, [d5, d6] = DETECTIONS.get("b/2")!;
  const hit1 = iou(face(60, 60), d1), hit3 = iou(face(200, 60), d3), hit6 = iou(face(60, 60), d6);
  const weak5 = iou(face(60, 60), d5);
  assert(hit1 > 0.7 && hit1 < 0.85 && weak5 > 0.1 && weak5 < 0.3, `${hit1} ${weak5}`);
  const cont = roc.points.map((p) => p.continuousTruePositives);
  const want = [
    hit1 + hit3 + hit6,
    hit1 + hit3 + hit6,
    hit1 + hit6,
    hit1 + weak5,
    hit1 + weak5,
    hit1,
    0,
    0,
  ];
  cont.forEach((c, i) => assertAlmostEquals(c, want[i], 1e-12, `point ${i}`));
  assertEquals(fddbRateAt(roc, 3).discrete, 0.75);
  assertEquals(fddbRateAt(roc, 2).discrete, 0.25);
  assertAlmostEquals(fddbRateAt(roc, 3).continuous, (hit1 + hit3 + hit6) / 4, 1e-12);
  const { disc, cont: contText } = formatFddbRoc(roc);
  assertEquals(disc.split("\n")[0], "0.75 4 0.6");
  assertEquals(disc.split("\n")[7], `0 0 ${Number.MAX_VALUE}`);
  assertEquals(contText.split("\n").length, 9);
});

Deno.test("evaluateFddb() clips masks to the image size when it is known", () => {
  const images: FddbImage[] = [{ name: "x", fold: 1, faces: [face(80, 30)] }];
  // The box reaches far right of a 100 px wide image: unclipped, the overlap is below 0.5;
  // clipped at x = 99, the part outside no longer counts in the union.
  const dets = new Map([["x", [{ x: 60, y: 0, w: 100, h: 60, score: 1 }]]]);
  const free = evaluateFddb(images, dets);
  const clipped = evaluateFddb(images, dets, {
    sizes: new Map([["x", { width: 100, height: 80 }]]),
  });
  assertEquals(free.points[0].truePositives, 0);
  assertEquals(clipped.points[0].truePositives, 1);
});

// ---------------------------------------------------------------------------------------------
// Files

Deno.test("parseFddbEllipses() and parseFddbDetections() read the files and name file and line", () => {
  const images = parseFddbEllipses(
    "2002/08/11/big/img_591\n1\n123.583300 85.549500 1.265839 269.693400 161.781200  1\n" +
      "2002/08/26/big/img_265\n0\n",
    "e.txt",
    3,
  );
  assertEquals(images.map((i) => [i.name, i.fold, i.faces.length]), [
    ["2002/08/11/big/img_591", 3, 1],
    ["2002/08/26/big/img_265", 3, 0],
  ]);
  assertEquals(images[0].faces[0], {
    majorRadius: 123.5833,
    minorRadius: 85.5495,
    angle: 1.265839,
    cx: 269.6934,
    cy: 161.7812,
  });
  assertThrows(
    () => parseFddbEllipses("img\n2\n1 2 3 4 5 1\n", "e.txt"),
    TypeError,
    `Cannot read "e.txt": line 4: expected face 2 of 2 of "img", got the end of the file`,
  );
  assertThrows(
    () => parseFddbEllipses("img\nx\n", "e.txt"),
    TypeError,
    'line 2: expected the face count of "img", got "x"',
  );
  assertThrows(
    () => parseFddbDetections("img\n1\n1 2 3 0.5\n", "d.txt"),
    TypeError,
    'Cannot read "d.txt": line 3: expected 5 numbers, got 4',
  );
  assertThrows(
    () => parseFddbDetections("img\n0\nimg\n0\n", "d.txt"),
    TypeError,
    'line 3: "img" appears twice',
  );
});

async function writeBenchmark(dir: string) {
  await Deno.mkdir(`${dir}/folds`);
  await Deno.mkdir(`${dir}/dets`);
  const ellipses = (im: FddbImage) =>
    [
      im.name,
      String(im.faces.length),
      ...im.faces.map((f) => `${f.majorRadius} ${f.minorRadius} ${f.angle} ${f.cx} ${f.cy}  1`),
    ].join("\n");
  for (const fold of [1, 2]) {
    const ims = IMAGES.filter((i) => i.fold === fold);
    const xx = String(fold).padStart(2, "0");
    await Deno.writeTextFile(
      `${dir}/folds/FDDB-fold-${xx}-ellipseList.txt`,
      ims.map(ellipses).join("\n") + "\n",
    );
    await Deno.writeTextFile(
      `${dir}/folds/FDDB-fold-${xx}.txt`,
      ims.map((i) => i.name).join("\n") + "\n",
    );
    const dets = ims.map((im) => {
      const d = DETECTIONS.get(im.name)!;
      return [im.name, String(d.length), ...d.map((b) => `${b.x} ${b.y} ${b.w} ${b.h} ${b.score}`)]
        .join("\n");
    });
    await Deno.writeTextFile(`${dir}/dets/fold-${xx}-out.txt`, dets.join("\n") + "\n");
  }
}

Deno.test("readFddbFolds() and readFddbDetections() read every fold; eval:fddb writes ROC files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeBenchmark(dir);
    const images = await readFddbFolds(`${dir}/folds`);
    assertEquals(images, IMAGES);
    const dets = await readFddbDetections(`${dir}/dets`);
    assertEquals(dets.size, 4);
    const roc = evaluateFddb(images, dets);
    assertEquals(roc.points.length, 8);

    const lines: string[] = [];
    const log = console.log, error = console.error;
    console.log = console.error = (...a: unknown[]) => void lines.push(a.join(" "));
    try {
      await evalFddb.run({
        flags: {
          ellipses: `${dir}/folds`,
          pred: `${dir}/dets`,
          "roc-prefix": `${dir}/out/temp`,
          "max-fp": 10,
          at: ["3"],
        },
        positionals: [],
      });
    } finally {
      console.log = log;
      console.error = error;
    }
    assert(lines.some((l) => /discrete 0\.7500 .* at 3 false positives/.test(l)), lines.join("\n"));
    assertEquals(
      (await Deno.readTextFile(`${dir}/out/tempDiscROC.txt`)).split("\n")[1],
      "0.75 3 0.7",
    );
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/dets/fddb_roc.json`));
    assertEquals(summary.faces, 4);
    assertEquals(summary.points.length, 8);
    const png = await readImage(`${dir}/dets/fddb_roc.png`);
    assertEquals([png.width, png.height], [800, 560]);

    // A fold list that disagrees with its ellipse list is refused.
    await Deno.writeTextFile(`${dir}/folds/FDDB-fold-02.txt`, "c/3\nd/5\n");
    await assertRejects(
      () => readFddbFolds(`${dir}/folds`),
      TypeError,
      `image 2 is "d/4", "${dir}/folds/FDDB-fold-02.txt" lists "d/5"`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
