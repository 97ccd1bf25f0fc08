/**
 * `deno task dataset:show <dir>`: prints a shard dataset's manifest and writes
 * a contact sheet of random samples per label, boxes and landmarks drawn.
 *
 * ```
 * deno task dataset:show data/pnet/train --out pnet_sheet.png --per-label 32
 * ```
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { writeImage } from "../src/image/mod.ts";
import { describeManifest, renderContactSheet } from "../src/sampling/show.ts";

const task: Task = {
  name: "dataset:show",
  description: "Print a sample dataset's manifest and write a contact sheet of labelled samples",
  positionals: "<dir>",
  positionalCount: [1, 1],
  flags: {
    out: { type: "string", meta: "FILE", help: "contact sheet PNG [default: <dir>/sheet.png]" },
    "per-label": {
      type: "integer",
      default: 32,
      meta: "N",
      help: "random samples shown per label",
    },
    columns: { type: "integer", default: 8, meta: "N", help: "samples per row" },
    cell: { type: "integer", default: 72, meta: "PX", help: "upscale samples to about this size" },
    seed: { type: "integer", default: 1, help: "seed of the random pick" },
  },
  async run({ flags, positionals }) {
    const dir = positionals[0].replace(/\/+$/, "") || "/";
    for (const key of ["per-label", "columns", "cell"]) {
      if ((flags[key] as number) < 1) {
        throw new UsageError(`dataset:show: --${key} must be >= 1, got ${flags[key]}`);
      }
    }
    const out = (flags.out as string | undefined) ?? `${dir}/sheet.png`;
    const { image, manifest, shown } = await renderContactSheet(dir, {
      perLabel: flags["per-label"] as number,
      columns: flags.columns as number,
      cell: flags.cell as number,
      seed: flags.seed as number,
    });
    for (const line of describeManifest(manifest, dir)) console.log(line);
    await writeImage(out, image);
    const parts = Object.entries(shown).filter(([, n]) => n > 0).map(([l, n]) => `${n} ${l}`);
    console.log(`sheet: ${out} (${image.width}x${image.height}, ${parts.join(", ")})`);
  },
};
export default task;
