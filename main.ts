/**
 * The command line: `deno task <name> [flags]` or `deno run -A main.ts <name> [flags]`.
 * With no name (or `--help`) it lists every task with its one-line description.
 */
import { fail, runTask } from "./src/cli/mod.ts";
import { TASKS } from "./tasks/mod.ts";

export function listing(): string {
  const names = Object.keys(TASKS).sort();
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    "MTCNN toolkit: train, compress and deploy the MTCNN face detector (Deno + WebAssembly).",
    "",
    "usage: deno task <task> [flags]    (each task has --help)",
    "",
    "tasks:",
    ...names.map((n) => `  ${n.padEnd(width)}${TASKS[n].description}`),
  ].join("\n");
}

if (import.meta.main) {
  const [name, ...rest] = Deno.args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(listing());
  } else {
    const entry = TASKS[name];
    if (!entry) fail(`unknown task "${name}"; run "deno task" or "deno run -A main.ts" for the list`);
    const mod = await entry.load();
    await runTask(mod.default, rest);
  }
}
