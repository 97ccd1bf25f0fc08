import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  decodeShard,
  epochPlan,
  Label,
  readBatches,
  readManifest,
  ShardWriter,
} from "../src/data/shards.ts";

function pixelsFor(id: number, size: number): Uint8Array {
  const p = new Uint8Array(size * size * 3);
  p[0] = id & 255;
  p[1] = (id >> 8) & 255;
  p[2] = 7;
  return p;
}

async function writeDataset(dir: string, perLabel: number[], shardBytes = 2000, resumeAt?: number) {
  const w = await ShardWriter.open(dir, { size: 12, seed: 3, source: { test: true }, shardBytes });
  let id = 0;
  const items = Math.max(...perLabel);
  for (let item = 0; item < items; item++) {
    if (resumeAt !== undefined && item === resumeAt) return w; // simulate an interruption: no close()
    for (let l = 0; l < 4; l++) {
      if (item < perLabel[l]) {
        id = item * 4 + l;
        w.add(
          l as Label,
          pixelsFor(id, 12),
          [id, 0.5, -0.5, 0.25],
          l === Label.Landmark ? new Array(10).fill(id) : undefined,
        );
      }
    }
    await w.commit(1);
  }
  await w.close();
  return w;
}

Deno.test("ShardWriter writes complete shards that decode back to the same samples", async () => {
  const dir = await Deno.makeTempDir();
  await writeDataset(dir, [30, 50, 10, 5]);
  const m = await readManifest(dir);
  assertEquals(m.counts, { neg: 30, pos: 50, part: 10, landmark: 5 });
  assert(m.shards.length > 4, "several shards per label");
  assertEquals(m.complete, true);
  const seen = new Set<number>();
  for (const s of m.shards) {
    const shard = decodeShard(await Deno.readFile(`${dir}/${s.file}`), s.file);
    for (let i = 0; i < shard.count; i++) {
      const id = shard.pixels[i * 432] | (shard.pixels[i * 432 + 1] << 8);
      assertEquals(shard.boxes[i * 4], id);
      assertEquals(id % 4, shard.label);
      assertEquals(Number.isNaN(shard.landmarks[i * 10]), shard.label !== Label.Landmark);
      seen.add(id);
    }
  }
  assertEquals(seen.size, 95);
});

Deno.test("an interrupted writer leaves a valid dataset that resumes to the same result", async () => {
  const full = await Deno.makeTempDir();
  await writeDataset(full, [40, 40, 40, 0]);
  const cut = await Deno.makeTempDir();
  await writeDataset(cut, [40, 40, 40, 0], 2000, 25);
  const partial = await readManifest(cut);
  assert(
    partial.cursor > 0 && partial.cursor <= 25 && !partial.complete,
    `cursor ${partial.cursor}`,
  );
  // Resume: re-open, redo the items from the cursor on.
  const w = await ShardWriter.open(cut, {
    size: 12,
    seed: 3,
    source: { test: true },
    shardBytes: 2000,
  });
  for (let item = w.cursor; item < 40; item++) {
    for (let l = 0; l < 3; l++) {
      const id = item * 4 + l;
      w.add(l as Label, pixelsFor(id, 12), [id, 0.5, -0.5, 0.25]);
    }
    await w.commit(1);
  }
  await w.close();
  const a = await readManifest(full), b = await readManifest(cut);
  assertEquals(b.counts, a.counts);
  const ids = async (dir: string) => {
    const out: number[] = [];
    for await (const batch of readBatches([dir], { batchSize: 16, seed: 1, shuffle: false })) {
      for (let i = 0; i < batch.count; i++) out.push(batch.boxes[i * 4]);
    }
    return out.sort((x, y) => x - y);
  };
  assertEquals(await ids(cut), await ids(full));
});

Deno.test("ShardWriter.open() refuses a folder holding another dataset", async () => {
  const dir = await Deno.makeTempDir();
  await writeDataset(dir, [3, 3, 3, 3]);
  await assertRejects(
    () => ShardWriter.open(dir, { size: 24, seed: 3, source: { test: true } }),
    TypeError,
    "holds another dataset",
  );
});

Deno.test("readBatches() visits every sample once per epoch, shuffled, and the same seed gives the same order", async () => {
  const dir = await Deno.makeTempDir();
  await writeDataset(dir, [30, 50, 10, 5]);
  const order = async (seed: number, epoch = 0) => {
    const out: number[] = [];
    for await (const b of readBatches([dir], { batchSize: 7, seed, epoch, shuffleBuffer: 20 })) {
      for (let i = 0; i < b.count; i++) {
        out.push(b.boxes[i * 4]);
        assertEquals(b.labels[i], b.boxes[i * 4] % 4, "label travels with its sample");
      }
    }
    return out;
  };
  const a = await order(1), b = await order(1), c = await order(1, 1);
  assertEquals(a.length, 95);
  assertEquals(new Set(a).size, 95);
  assertEquals(a, b);
  assert(JSON.stringify(a) !== JSON.stringify(c), "another epoch, another order");
  assert(JSON.stringify(a) !== JSON.stringify(a.slice().sort((x, y) => x - y)), "shuffled");
});

Deno.test("readBatches() resamples pos:neg:part:landmark to 1:3:1:2", async () => {
  const dir = await Deno.makeTempDir();
  await writeDataset(dir, [300, 100, 60, 40]);
  const per = [0, 0, 0, 0];
  for await (
    const b of readBatches([dir], { batchSize: 64, seed: 9, ratio: [1, 3, 1, 2], epochSize: 7000 })
  ) {
    for (let i = 0; i < b.count; i++) per[b.labels[i]]++;
  }
  assertEquals(
    per[Label.Positive] + per[Label.Negative] + per[Label.Part] + per[Label.Landmark],
    7000,
  );
  assertEquals(per[Label.Positive], 1000);
  assertEquals(per[Label.Negative], 3000);
  assertEquals(per[Label.Part], 1000);
  assertEquals(per[Label.Landmark], 2000);
});

Deno.test("epochPlan() is limited by the scarcest label of the ratio", () => {
  // counts by Label: neg, pos, part, landmark
  assertEquals(epochPlan([300, 100, 60, 40], [1, 3, 1, 2]), [60, 20, 20, 40]);
  assertEquals(epochPlan([300, 100, 60, 0], [1, 3, 1, 2]), [180, 60, 60, 0]);
  assertEquals(epochPlan([5, 6, 7, 8]), [5, 6, 7, 8]);
});

Deno.test("decodeShard() rejects a truncated shard with a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  await writeDataset(dir, [3, 3, 3, 3]);
  const m = await readManifest(dir);
  const bytes = await Deno.readFile(`${dir}/${m.shards[0].file}`);
  let msg = "";
  try {
    decodeShard(bytes.subarray(0, bytes.length - 5), "x.bin");
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.startsWith('Cannot read "x.bin":') && msg.includes("header says"), msg);
});
