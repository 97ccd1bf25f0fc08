/**
 * The demo: the pipeline as far as it exists, on the synthetic sample
 * dataset (and on ../shared's real photos when present), each step a real
 * task run with its real flags, printed before it runs.
 */
import { parseFlags, type Task } from "../src/cli/mod.ts";
import { exists } from "../src/io/mod.ts";
import { TASKS } from "./mod.ts";

/** The demo's steps: a task name and its arguments. `{out}` is the demo folder. */
export function demoSteps(out: string, seed: number, shared?: string): [string, string[]][] {
  const steps: [string, string[]][] = [
    ["sample", ["--seed", `${seed}`, "--out", `${out}/sample`, "--train", "120", "--val", "40"]],
    ["gen-pnet", [
      "--root",
      `${out}/sample`,
      "--mode",
      "train",
      "--out",
      `${out}/pnet12/train`,
      "--seed",
      `${seed}`,
      "--overwrite",
    ]],
    ["gen-pnet", [
      "--root",
      `${out}/sample`,
      "--mode",
      "val",
      "--out",
      `${out}/pnet12/val`,
      "--seed",
      `${seed}`,
      "--overwrite",
    ]],
  ];
  const optional: [string, string[]][] = [
    ["gen-landmarks", [
      "--size",
      "12",
      "--list",
      `${out}/sample/landmarks/trainImageList.txt`,
      "--out",
      `${out}/landmarks12`,
      "--seed",
      `${seed}`,
    ]],
    ["dataset:show", [
      `${out}/pnet12/train`,
      "--out",
      `${out}/pnet12_train.png`,
      "--seed",
      `${seed}`,
    ]],
    ["import", ["--tflite"]],
    ["detect", [
      `${out}/sample/WIDER_val/images`,
      "--draw",
      `${out}/detect`,
      "--json",
      `${out}/detect.json`,
    ]],
  ];
  if (shared) {
    optional.push(["detect", [
      `${shared}/faces`,
      "--draw",
      `${out}/detect_faces`,
      "--json",
      `${out}/detect_faces.json`,
    ]]);
    optional.push(["wider:convert", [
      "--mat",
      `${shared}/wider/wider_face_val.mat`,
      "--out",
      `${out}/wider_face_val_bbx_gt.txt`,
    ]]);
  }
  // Steps of tasks that do not exist yet in this build are left out.
  return [...steps, ...optional.filter(([name]) => name in TASKS)];
}

const task: Task = {
  name: "demo",
  description:
    "Run the pipeline end to end on the synthetic sample data (and ../shared when present)",
  flags: {
    out: {
      type: "string",
      default: "data/demo",
      meta: "DIR",
      help: "where the demo writes everything",
    },
    seed: { type: "integer", default: 1, help: "random seed for every step" },
  },
  async run({ flags }) {
    const out = flags.out as string;
    const shared = new URL("../../shared", import.meta.url).pathname;
    const steps = demoSteps(out, flags.seed as number, (await exists(shared)) ? shared : undefined);
    const t0 = performance.now();
    for (const [i, [name, args]] of steps.entries()) {
      console.log(`\n[${i + 1}/${steps.length}] deno task ${name} ${args.join(" ")}`);
      const t = (await TASKS[name].load()).default;
      const parsed = parseFlags(t, args);
      await t.run({ flags: parsed.flags, positionals: parsed.positionals });
    }
    console.log(
      `\ndemo done in ${((performance.now() - t0) / 1000).toFixed(1)} s; outputs in ${out}/`,
    );
  },
};
export default task;
