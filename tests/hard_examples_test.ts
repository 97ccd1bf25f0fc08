import { assert, assertEquals, assertThrows } from "./assert.ts";
import {
  DEFAULT_ONET_MINING,
  DEFAULT_RNET_MINING,
  labelCandidates,
  resolveMiningConfig,
  RunningCaps,
} from "../src/sampling/hard.ts";
import { Label } from "../src/data/shards.ts";
import { iouOneToMany } from "../kernels/mod.ts";

const faces = [{ x: 100, y: 100, w: 50, h: 50 }, { x: 300, y: 60, w: 80, h: 90 }];

Deno.test("labelCandidates() labels by best IoU and gives offsets against the best face", () => {
  const boxes = new Float32Array([
    100,
    100,
    149,
    149, // the first face exactly: positive, zero offsets
    104,
    102,
    153,
    151, // shifted 4,2 px: positive
    115,
    115,
    164,
    164, // IoU 0.32 with face 1: neither (between 0.3 and 0.4)
    112,
    100,
    161,
    149, // IoU ~0.61: part
    10,
    10,
    49,
    49, // far away: negative
    300,
    60,
    310,
    70, // 11 px wide: skipped (< 20)
    -2,
    5,
    40,
    40, // outside the image: skipped
    600,
    400,
    639,
    479, // touches the image border, inside: negative
  ]);
  const out = labelCandidates(boxes, faces, 640, 480, DEFAULT_RNET_MINING, iouOneToMany);
  assertEquals(out.map((c) => c.label), [
    Label.Positive,
    Label.Positive,
    Label.Part,
    Label.Negative,
    Label.Negative,
  ]);
  assertEquals(out[0].offsets, [0, 0, 0, 0]);
  assertEquals(out[1].offsets, [-4 / 50, -2 / 50, -4 / 50, -2 / 50]);
  assertEquals(out[2].offsets, [-12 / 50, 0, -12 / 50, 0]);
  assertEquals(out[3].offsets, undefined);
  assertEquals([out[1].x, out[1].y, out[1].w, out[1].h], [104, 102, 50, 50]);
});

Deno.test("labelCandidates() with no faces makes every valid candidate a negative", () => {
  const out = labelCandidates(
    new Float32Array([0, 0, 30, 30, 5, 5, 60, 70]),
    [],
    100,
    100,
    DEFAULT_ONET_MINING,
    iouOneToMany,
  );
  assertEquals(out.map((c) => [c.label, c.w, c.h]), [[Label.Negative, 31, 31], [
    Label.Negative,
    56,
    66,
  ]]);
});

Deno.test("RunningCaps applies the seed's RNet caps: negatives <= 3 * positives + 1, parts <= positives + 1", () => {
  const caps = new RunningCaps(3, 1);
  const seq = [
    Label.Negative,
    Label.Negative,
    Label.Part,
    Label.Part,
    Label.Positive,
    Label.Negative,
    Label.Negative,
    Label.Negative,
    Label.Negative,
    Label.Part,
    Label.Part,
  ];
  assertEquals(seq.map((l) => caps.keep(l)), [
    true,
    false,
    true,
    false,
    true,
    true,
    true,
    true,
    false,
    true,
    false,
  ]);
  assertEquals(caps.counts, [4, 1, 2, 0]);
});

Deno.test("resolveMiningConfig() rejects unknown keys and bad thresholds", () => {
  assertThrows(
    () => resolveMiningConfig(DEFAULT_RNET_MINING, { negIou: 0.2 } as never),
    RangeError,
    'unknown mining option "negIou"',
  );
  assertThrows(
    () => resolveMiningConfig(DEFAULT_RNET_MINING, { partIou: 0.7 }),
    RangeError,
    '"partIou" must be <= "positiveIou"',
  );
  assert(resolveMiningConfig(DEFAULT_RNET_MINING, { negativeIou: 0.2 }).negativeIou === 0.2);
});
