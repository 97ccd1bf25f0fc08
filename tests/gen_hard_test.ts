import { assert, assertEquals } from "./assert.ts";
import { generateHardDataset } from "../src/sampling/generate.ts";
import { decodeShard, Label, readManifest } from "../src/data/shards.ts";
import { readWiderGt } from "../src/data/wider.ts";
import { writeSyntheticDataset } from "../src/data/synthetic/mod.ts";
import { ensureOriginalWeights } from "../src/nets/mod.ts";
import { resolveWeightPaths } from "../src/detect/load.ts";

const root = await Deno.makeTempDir({ prefix: "gen_hard_test_" });
const ready = (async () => {
  await writeSyntheticDataset(root, { seed: 9, train: 6, val: 0, workers: 1 });
  const dir = await ensureOriginalWeights();
  return {
    images: await readWiderGt(`${root}/wider_face_split/wider_face_train_bbx_gt.txt`),
    imagesDir: `${root}/WIDER_train/images`,
    dir,
  };
})();

async function files(dir: string) {
  const out: Record<string, Uint8Array> = {};
  for await (const e of Deno.readDir(dir)) out[e.name] = await Deno.readFile(`${dir}/${e.name}`);
  return out;
}

Deno.test("generateHardDataset() mines PNet candidates into 24 px samples, the same bytes inline and on 2 workers", async () => {
  const { images, imagesDir, dir } = await ready;
  const weights = await resolveWeightPaths(dir, "pnet");
  const a = await generateHardDataset({
    net: "rnet",
    weights,
    images,
    imagesDir,
    out: `${root}/r0`,
    seed: 1,
    workers: 0,
  });
  const b = await generateHardDataset({
    net: "rnet",
    weights,
    images,
    imagesDir,
    out: `${root}/r2`,
    seed: 1,
    workers: 2,
  });
  assertEquals(a.failed, 0);
  assert(a.candidates > a.crops && a.crops > 0, `candidates ${a.candidates}, kept ${a.crops}`);
  assertEquals(await files(`${root}/r2`), await files(`${root}/r0`));
  const m = await readManifest(`${root}/r0`);
  assertEquals(m.size, 24);
  assert(m.counts.pos > 0, JSON.stringify(m.counts));
  assert(
    m.counts.neg <= 3 * m.counts.pos + 1 && m.counts.part <= m.counts.pos + 1,
    "the seed's RNet caps",
  );
  // Every positive's offsets put its face within the crop's reach (|offset| < 0.35 at IoU >= 0.65).
  for (const s of m.shards.filter((s) => s.label === "pos")) {
    const shard = decodeShard(await Deno.readFile(`${root}/r0/${s.file}`));
    assertEquals(shard.label, Label.Positive);
    for (const v of shard.boxes) assert(Math.abs(v) < 0.35, `offset ${v}`);
  }
});

Deno.test("generateHardDataset() mines PNet + RNet candidates into 48 px samples for ONet", async () => {
  const { images, imagesDir, dir } = await ready;
  const weights = await resolveWeightPaths(dir, "rnet");
  const s = await generateHardDataset({
    net: "onet",
    weights,
    images,
    imagesDir,
    out: `${root}/o`,
    seed: 1,
    workers: 0,
  });
  const m = await readManifest(`${root}/o`);
  assertEquals(m.size, 48);
  assert(s.crops > 0 && m.counts.neg <= m.counts.pos + 1, JSON.stringify(m.counts));
  assertEquals((m.source as { detector: { stage: string } }).detector.stage, "rnet");
});
