import { assert, assertEquals, assertRejects } from "./assert.ts";
import { Label, readManifest, ShardWriter } from "../src/data/shards.ts";
import { describeManifest, LANDMARK_COLORS, renderContactSheet } from "../src/sampling/show.ts";
import { readImage } from "../src/image/mod.ts";
import type { RgbImage } from "../src/image/types.ts";

const GREY = 90;

/** A 12 px dataset: 3 positives with the face at pixels 3..8 and 40 negatives; 2 landmark samples. */
async function writeDataset(dir: string) {
  const w = await ShardWriter.open(dir, {
    size: 12,
    seed: 5,
    source: { test: "show" },
    shardBytes: 2000,
  });
  const px = new Uint8Array(12 * 12 * 3).fill(GREY);
  // Face pixels 3..8 of 12: o1 = 3/12, o3 = (8 - 12)/12.
  const box = [3 / 12, 3 / 12, -4 / 12, -4 / 12];
  for (let i = 0; i < 3; i++) w.add(Label.Positive, px, box);
  for (let i = 0; i < 40; i++) w.add(Label.Negative, px);
  const lm = [0.25, 0.25, 0.75, 0.25, 0.5, 0.5, 0.3, 0.75, 0.7, 0.75];
  for (let i = 0; i < 2; i++) w.add(Label.Landmark, px, box, lm);
  await w.commit(1);
  await w.close();
}

function at(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

Deno.test("renderContactSheet() lays out one block per label and draws the box from the offsets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dataset_show_test_" });
  await writeDataset(dir);
  const { image, shown } = await renderContactSheet(dir, { perLabel: 16, columns: 4, cell: 48 });
  assertEquals(shown, { neg: 16, pos: 3, part: 0, landmark: 2 });
  // 12 px samples at 4x: 48 px cells, 3 px gaps, 14 px title per block.
  const cell = 48, gap = 3, header = 14;
  assertEquals(image.width, Math.max(4 * (cell + gap) + gap, 320));
  assertEquals(image.height, gap + (header + 4 * (cell + gap)) + (header + cell + gap) * 2);
  // Blocks in label order: neg (4 rows), pos, landmark. The positive's face box is pixels 3..8,
  // so its outline runs from 12 to 35 in the cell; inside and outside stay the sample's grey.
  const posTop = gap + header + 4 * (cell + gap) + header;
  const x0 = gap;
  assertEquals(at(image, x0 + 12, posTop + 20), [0, 255, 0], "left edge of the box");
  assertEquals(at(image, x0 + 35, posTop + 20), [0, 255, 0], "right edge of the box");
  assertEquals(at(image, x0 + 20, posTop + 12), [0, 255, 0], "top edge of the box");
  assertEquals(at(image, x0 + 20, posTop + 35), [0, 255, 0], "bottom edge of the box");
  assertEquals(at(image, x0 + 20, posTop + 20), [GREY, GREY, GREY], "inside the box");
  assertEquals(at(image, x0 + 5, posTop + 20), [GREY, GREY, GREY], "outside the box");
  // The landmark block: the left eye (0.25, 0.25) is a red dot at (12, 12), the nose yellow at (24, 24).
  const lmTop = posTop + cell + gap + header;
  assertEquals(at(image, x0 + 12, lmTop + 12), [...LANDMARK_COLORS[0]]);
  assertEquals(at(image, x0 + 36, lmTop + 12), [...LANDMARK_COLORS[1]]);
  assertEquals(at(image, x0 + 24, lmTop + 24), [...LANDMARK_COLORS[2]]);
  // Negatives carry no box: their cells are plain grey.
  const negTop = gap + header;
  for (let y = 0; y < cell; y += 5) {
    assertEquals(at(image, x0 + 12, negTop + y), [GREY, GREY, GREY]);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("renderContactSheet() picks the same samples for the same seed and others for another", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dataset_show_test_" });
  const w = await ShardWriter.open(dir, { size: 12, seed: 1, source: {}, shardBytes: 1000 });
  for (let i = 0; i < 200; i++) w.add(Label.Negative, new Uint8Array(432).fill(i));
  await w.close();
  const grey = async (seed: number) => {
    const { image } = await renderContactSheet(dir, { perLabel: 8, columns: 8, cell: 12, seed });
    return Array.from({ length: 8 }, (_, i) => at(image, 3 + i * 15 + 6, 3 + 14 + 6)[0]);
  };
  const a = await grey(1), b = await grey(1), c = await grey(2);
  assertEquals(a, b);
  assert(JSON.stringify(a) !== JSON.stringify(c), "another seed, other samples");
  assertEquals(new Set(a).size, 8, "eight distinct samples");
  assertEquals(a, [...a].sort((x, y) => x - y), "in dataset order");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("describeManifest() names the size, seed, counts per label and shards", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dataset_show_test_" });
  await writeDataset(dir);
  const lines = describeManifest(await readManifest(dir), dir);
  assert(
    lines[0].includes("12x12x3") && lines[0].includes("seed 5") && lines[0].includes("complete"),
    lines[0],
  );
  assert(lines[1].startsWith("counts: neg 40 (") && lines[1].includes("pos 3 (1 shard)"), lines[1]);
  assert(lines[1].includes("landmark 2 (1 shard)") && lines[1].endsWith("total 45"), lines[1]);
  assert(lines.some((l) => l.includes('"test":"show"')), "source printed");
  await assertRejects(() => renderContactSheet(`${dir}/nothing`), TypeError, "no manifest.json");
  await Deno.remove(dir, { recursive: true });
});

async function runShow(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "dataset:show", ...args],
    cwd: new URL("..", import.meta.url),
  }).output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

Deno.test("deno task dataset:show prints the manifest and writes a PNG of the expected size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dataset_show_test_" });
  await writeDataset(dir);
  const r = await runShow(dir, "--per-label", "5", "--columns", "5");
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("counts: neg 40"), r.stdout);
  assert(r.stdout.includes(`sheet: ${dir}/sheet.png (`), r.stdout);
  const img = await readImage(`${dir}/sheet.png`);
  // 12 px at 6x (default cell 72): 5 columns of 75 px + 3; blocks neg (1 row), pos, landmark.
  assertEquals([img.width, img.height], [Math.max(5 * 75 + 3, 320), 3 + 3 * (14 + 75)]);
  const out = `${dir}/other.png`;
  assertEquals((await runShow(dir, "--out", out, "--cell", "24", "--columns", "14")).code, 0);
  assertEquals((await readImage(out)).width, 14 * (24 + 3) + 3, "2x: 24 px cells");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task dataset:show on a folder without a dataset fails with one line and exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dataset_show_test_" });
  const r = await runShow(dir);
  assertEquals(r.code, 1);
  assertEquals(r.stderr.trim(), `error: Cannot open dataset "${dir}": no manifest.json`);
  await Deno.writeTextFile(`${dir}/manifest.json`, "{ not json");
  const bad = await runShow(dir);
  assertEquals(bad.code, 1);
  assert(bad.stderr.startsWith(`error: Cannot read "${dir}/manifest.json": `), bad.stderr);
  assertEquals(bad.stderr.trim().split("\n").length, 1);
  await Deno.remove(dir, { recursive: true });
});
