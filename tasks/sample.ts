/**
 * `deno task sample`: writes the synthetic sample dataset (WIDER FACE layout,
 * exact boxes, attributes and 5-point landmarks), deterministic in `--seed`.
 *
 * ```
 * deno task sample --seed 1 --out data/sample
 * deno task sample --seed 2 --out data/tiny --train 20 --val 5 --width 320 --height 240
 * ```
 */
import { progress, type Task, UsageError } from "../src/cli/mod.ts";
import { writeSyntheticDataset } from "../src/data/synthetic/mod.ts";

const task: Task = {
  name: "sample",
  description: "Write the synthetic sample dataset (WIDER layout, exact ground truth)",
  flags: {
    seed: { type: "integer", default: 1, help: "random seed (same seed, same bytes)" },
    out: { type: "string", default: "data/sample", meta: "DIR", help: "output folder" },
    train: { type: "integer", default: 300, meta: "N", help: "number of train images" },
    val: { type: "integer", default: 100, meta: "N", help: "number of val images" },
    width: { type: "integer", meta: "W", help: "image width [default: 320..640, varied]" },
    height: { type: "integer", meta: "H", help: "image height [default: 240..480, varied]" },
    workers: {
      type: "integer",
      default: Math.max(1, Math.min(2, navigator.hardwareConcurrency)),
      meta: "N",
      help: "parallel workers (the output does not depend on it)",
    },
  },
  async run({ flags }) {
    const train = flags.train as number, val = flags.val as number;
    const width = flags.width as number | undefined, height = flags.height as number | undefined;
    const workers = flags.workers as number;
    if (train < 0) throw new UsageError(`sample: --train must be >= 0, got ${train}`);
    if (val < 0) throw new UsageError(`sample: --val must be >= 0, got ${val}`);
    for (const [name, v] of [["width", width], ["height", height]] as const) {
      if (v !== undefined && (v < 64 || v > 4096)) {
        throw new UsageError(`sample: --${name} must be in 64..4096, got ${v}`);
      }
    }
    if (workers < 1) throw new UsageError(`sample: --workers must be >= 1, got ${workers}`);
    const out = (flags.out as string).replace(/\/+$/, "") || ".";
    const p = progress("images", train + val, "img");
    const t0 = performance.now();
    const m = await writeSyntheticDataset(out, {
      seed: flags.seed as number,
      train,
      val,
      width,
      height,
      workers,
      onImage: () => p.tick(),
    });
    p.done();
    const secs = (performance.now() - t0) / 1000;
    const { train: t, val: v } = m.splits;
    console.log(
      `${out}: train ${t.images} images / ${t.faces} faces (${t.emptyImages} without faces), ` +
        `val ${v.images} images / ${v.faces} faces, ${m.landmarks.faces} landmark faces; ` +
        `seed ${m.seed}, ${secs.toFixed(1)} s`,
    );
  },
};

export default task;
