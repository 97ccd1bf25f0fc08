import { assert, assertEquals } from "./assert.ts";
import { demoSteps } from "../tasks/demo.ts";
import { TASKS } from "../tasks/mod.ts";
import { parseFlags } from "../src/cli/mod.ts";

Deno.test("demoSteps() runs the seed's whole chain, every step a real task with flags it accepts", async () => {
  const steps = demoSteps("out", 1, "/shared");
  const names = steps.map(([n]) => n);
  const order = ["sample", "gen-pnet", "train", "gen-rnet", "train", "gen-onet", "train", "eval:wider", "detect"];
  let at = 0;
  for (const n of names) if (n === order[at]) at++;
  assertEquals(at, order.length, `chain order in ${names.join(" → ")}`);
  for (const [name, args] of steps) {
    assert(name in TASKS, `unknown task ${name}`);
    const task = (await TASKS[name].load()).default;
    parseFlags(task, args); // throws on a flag the task does not know
  }
  const trains = steps.filter(([n]) => n === "train").map(([, a]) => a[a.indexOf("--net") + 1]);
  assertEquals(trains, ["pnet", "rnet", "onet"]);
});
