/**
 * Slim against shuffle nets on the AS engine (the trained demo weights in
 * weights/variants/): PNet on 640×480, RNet ×256, ONet ×64, so the grouped
 * 1×1 kernel (`groupConvPrelu`) is read against the dense 1×1 it replaces.
 *
 *   deno bench -A tests/shuffle_bench.ts
 */
import { createEngine } from "../src/deploy/engine.ts";
import { loadNetData } from "../src/nets/weights_io.ts";
import { Rng } from "../src/util/random.ts";

const rng = new Rng(7);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(0, 256));
const WORK = {
  pnet: { group: "PNet 640x480", n: 1, h: 480, w: 640 },
  rnet: { group: "RNet x256", n: 256, h: 24, w: 24 },
  onet: { group: "ONet x64", n: 64, h: 48, w: 48 },
} as const;

for (const net of ["pnet", "rnet", "onet"] as const) {
  const { group, n, h, w } = WORK[net];
  const px = bytes(n * h * w * 3);
  for (const variant of ["slim", "shuffle"]) {
    const engine = await createEngine(
      await loadNetData(`weights/variants/${variant}/best_${net}.mtcnn`),
    );
    Deno.bench({
      name: `${variant} ${net} (engine, ${engine.variant})`,
      group,
      baseline: variant === "slim",
      fn: () => {
        engine.run(px, n, h, w);
      },
    });
  }
}
