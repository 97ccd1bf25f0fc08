/**
 * deno task bench:train: training samples/s of PNet (12 px) and RNet (24 px)
 * for the trainer on 1 and 2 workers, against stock tfjs-wasm with only the
 * missing Conv2DBackpropFilter shimmed, measured in the same run.
 */
import type { Task } from "../src/cli/mod.ts";
import { writeJsonAtomic } from "../src/io/mod.ts";
import { initBackend } from "../src/nets/backend.ts";
import { type NetName, standardArch } from "../src/train/trainer.ts";
import {
  benchBaseline,
  benchTrainers,
  registerBaselineShim,
  SLEEPING,
  type StepBenchResult,
} from "../src/train/bench.ts";
import { initTrainingBackend } from "../src/train/setup.ts";

const task: Task = {
  name: "bench:train",
  description: "Training samples/s: the trainer on 1 and 2 workers vs stock tfjs-wasm",
  flags: {
    nets: { type: "list", default: ["pnet", "rnet"], meta: "NET,..", help: "nets to time" },
    batch: { type: "integer", default: 256, help: "batch size" },
    steps: {
      type: "integer",
      meta: "N",
      help: "timed steps per round [default: PNet 20, RNet 4, ONet 2]",
    },
    rounds: {
      type: "integer",
      default: 5,
      help: "rounds per measurement (median reported; the trainer's worker counts interleave)",
    },
    workers: {
      type: "list",
      default: ["1", "2"],
      meta: "N,..",
      help: "worker counts for the trainer",
    },
    baseline: { type: "boolean", default: true, help: "time the stock tfjs-wasm baseline" },
    "sleeping-too": {
      type: "boolean",
      default: false,
      help: "also time 2+ workers that sleep between hand-overs instead of polling first",
    },
    json: { type: "string", meta: "FILE", help: "also write the results as JSON" },
  },
  async run({ flags }) {
    const nets = flags.nets as string[];
    for (const n of nets) {
      if (n !== "pnet" && n !== "rnet" && n !== "onet") {
        throw new RangeError(`--nets: "${n}" is not pnet, rnet or onet`);
      }
    }
    const workers = (flags.workers as string[]).map(Number);
    if (workers.some((w) => !Number.isInteger(w) || w < 1)) {
      throw new RangeError(
        `--workers: want integers >= 1, got ${(flags.workers as string[]).join(",")}`,
      );
    }
    const batch = flags.batch as number;
    const steps = (net: string) =>
      (flags.steps as number | undefined) ?? (net === "pnet" ? 20 : net === "rnet" ? 4 : 2);
    const rounds = flags.rounds as number;
    const results: StepBenchResult[] = [];
    console.log(
      `training steps, batch ${batch}, Adam, OHEM; samples/s, median of ${rounds} rounds (slowest-fastest)`,
    );
    // the baseline first: the training kernels replace kernels for the whole thread
    if (flags.baseline) {
      await initBackend("wasm");
      const undo = registerBaselineShim();
      for (const net of nets) {
        const r = await benchBaseline(standardArch(net as NetName), {
          batch,
          steps: steps(net),
          rounds,
        });
        results.push(r);
        console.log(line(r));
      }
      undo();
    }
    await initTrainingBackend("wasm");
    for (const net of nets) {
      const rs = await benchTrainers(standardArch(net as NetName), {
        batch,
        steps: steps(net),
        rounds,
        workers,
        sleepingToo: flags["sleeping-too"] as boolean,
      });
      for (const r of rs) {
        results.push(r);
        console.log(line(r));
      }
    }
    console.log("");
    console.log(
      `| net | baseline | ${workers.map((w) => `trainer ×${w}`).join(" | ")} | ×1 / baseline | ${
        workers.filter((w) => w > 1).map((w) => `×${w} / ×1`).join(" | ")
      } |`,
    );
    console.log(
      `| --- | ---: | ${workers.map(() => "---:").join(" | ")} | ---: | ${
        workers.filter((w) => w > 1).map(() => "---:").join(" | ")
      } |`,
    );
    for (const net of nets) {
      const base = results.find((r) =>
        r.net === net && r.what !== "trainer" && r.what !== SLEEPING
      );
      const t = (w: number) =>
        results.find((r) => r.net === net && r.what === "trainer" && r.workers === w);
      const one = t(1);
      const cells = workers.map((w) => fmt(t(w)?.samplesPerSecond));
      const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : "-");
      console.log(
        `| ${net} | ${fmt(base?.samplesPerSecond)} | ${cells.join(" | ")} | ${
          ratio(one?.samplesPerSecond, base?.samplesPerSecond)
        } | ${
          workers.filter((w) => w > 1).map((w) =>
            ratio(t(w)?.samplesPerSecond, one?.samplesPerSecond)
          ).join(" | ")
        } |`,
      );
    }
    const sleeping = results.filter((r) => r.what === SLEEPING);
    for (const r of sleeping) {
      const polled = results.find((p) =>
        p.net === r.net && p.what === "trainer" && p.workers === r.workers
      );
      console.log(
        `${r.net} ×${r.workers}: polling hand-over ${fmt(polled?.samplesPerSecond)} vs sleeping ${
          fmt(r.samplesPerSecond)
        } samples/s (${polled ? (polled.samplesPerSecond / r.samplesPerSecond).toFixed(2) : "-"}x)`,
      );
    }
    if (flags.json) await writeJsonAtomic(flags.json as string, results);
  },
};

function fmt(v?: number): string {
  return v === undefined ? "-" : v >= 1000 ? v.toFixed(0) : v.toFixed(1);
}

function line(r: StepBenchResult): string {
  const who = r.what === "trainer"
    ? `trainer x${r.workers}`
    : r.what === SLEEPING
    ? `sleeping x${r.workers}`
    : "baseline";
  return `${r.net.padEnd(5)} ${who.padEnd(11)} ${fmt(r.samplesPerSecond).padStart(8)} samples/s ` +
    `(${fmt(r.range[0])}-${fmt(r.range[1])})  ${r.msPerStep.toFixed(1)} ms/step`;
}

export default task;
