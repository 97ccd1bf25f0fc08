import type { Task } from "../src/cli/mod.ts";
import { evaluateStage, STAGE_THRESHOLDS as THRESHOLDS } from "../src/eval/stage.ts";
import { loadNetData } from "../src/nets/weights_io.ts";
import { seedTable } from "../src/train/metrics.ts";
import { writeJsonAtomic } from "../src/io/mod.ts";


const task: Task = {
  name: "eval:stage",
  description:
    "One net on a shard dataset: the seed's cls loss / offset loss / cls acc, recall at the stage threshold",
  flags: {
    net: { type: "string", choices: ["pnet", "rnet", "onet"], required: true, help: "which stage" },
    weights: {
      type: "string",
      required: true,
      meta: "FILE",
      help: "the net's .mtcnn file (fp32 or int8)",
    },
    data: {
      type: "list",
      required: true,
      meta: "DIR[,DIR..]",
      help: "shard dataset folders (e.g. a val split)",
    },
    threshold: { type: "number", help: "the stage threshold [default: PNet 0.6, RNet/ONet 0.7]" },
    json: { type: "string", meta: "FILE", help: "also write the metrics as JSON" },
  },
  async run({ flags }) {
    const net = flags.net as "pnet" | "rnet" | "onet";
    const threshold = (flags.threshold as number | undefined) ?? THRESHOLDS[net];
    const data = await loadNetData(flags.weights as string);
    const m = await evaluateStage(data, flags.data as string[], { threshold, net });
    console.log(seedTable({ [net]: m }, (flags.data as string[]).join(",")));
    console.log(
      `samples ${m.samples} (pos ${m.counts.pos}, neg ${m.counts.neg}, part ${m.counts.part}, landmark ${m.counts.landmark}); ` +
        `at threshold ${threshold}: recall of positives ${m.recallAtThreshold.toFixed(4)}, ` +
        `negatives passed ${m.falseAlarmAtThreshold.toFixed(4)}`,
    );
    if (flags.json) {
      await writeJsonAtomic(flags.json as string, {
        net,
        weights: flags.weights,
        data: flags.data,
        ...m,
      });
    }
  },
};
export default task;
