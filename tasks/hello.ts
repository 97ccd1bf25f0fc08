import type { Task } from "../src/cli/mod.ts";

const task: Task = {
  name: "hello",
  description: "Check that the toolchain runs",
  flags: { name: { type: "string", default: "world", help: "who to greet" } },
  run({ flags }) {
    console.log(`hello ${flags.name}`);
  },
};
export default task;
