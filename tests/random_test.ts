import { assert, assertEquals, assertNotEquals } from "./assert.ts";
import { Rng } from "../src/util/random.ts";

Deno.test("Rng gives the same sequence for the same seed and another for another seed", () => {
  const a = new Rng(123), b = new Rng(123), c = new Rng(124);
  const sa = Array.from({ length: 8 }, () => a.nextUint32());
  assertEquals(sa, Array.from({ length: 8 }, () => b.nextUint32()));
  assertNotEquals(sa, Array.from({ length: 8 }, () => c.nextUint32()));
});

Deno.test("Rng.int() stays in [lo, hi) and covers the range roughly uniformly", () => {
  const rng = new Rng(1);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) counts[rng.int(0, 10)]++;
  for (const c of counts) assert(c > 1800 && c < 2200, `count ${c}`);
});

Deno.test("Rng.derive() gives distinct streams per key", () => {
  assertNotEquals(Rng.derive(5, 0).nextUint32(), Rng.derive(5, 1).nextUint32());
  assertEquals(Rng.derive(5, 3).nextUint32(), Rng.derive(5, 3).nextUint32());
});
