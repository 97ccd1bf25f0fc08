import { assertEquals, assertThrows } from "./assert.ts";
import { formatDuration, parseFlags, type Task, UsageError } from "../src/cli/mod.ts";
import { listing } from "../main.ts";
import { TASKS } from "../tasks/mod.ts";

const task: Task = {
  name: "t",
  description: "test task",
  positionalCount: [0, 1],
  flags: {
    seed: { type: "integer", default: 1, help: "seed" },
    rate: { type: "number", help: "rate" },
    mode: { type: "string", choices: ["train", "val"], default: "train", help: "mode" },
    thresholds: { type: "list", help: "t" },
    flip: { type: "boolean", default: false, help: "flip" },
  },
  run() {},
};

Deno.test("parseFlags() reads --flag value, --flag=value and --no-flag", () => {
  const r = parseFlags(task, ["--seed", "7", "--rate=0.5", "x.jpg", "--thresholds", "0.6,0.7", "--flip"]);
  assertEquals(r.flags.seed, 7);
  assertEquals(r.flags.rate, 0.5);
  assertEquals(r.flags.mode, "train");
  assertEquals(r.flags.thresholds, ["0.6", "0.7"]);
  assertEquals(r.flags.flip, true);
  assertEquals(r.positionals, ["x.jpg"]);
  assertEquals(parseFlags(task, ["--no-flip"]).flags.flip, false);
});

Deno.test("parseFlags() rejects unknown flags, bad numbers and bad choices with one line", () => {
  assertThrows(() => parseFlags(task, ["--nope"]), UsageError, 'unknown flag "--nope"');
  assertThrows(() => parseFlags(task, ["--seed", "1.5"]), UsageError, "expects an integer");
  assertThrows(() => parseFlags(task, ["--rate", "abc"]), UsageError, "expects a number");
  assertThrows(() => parseFlags(task, ["--mode", "test"]), UsageError, "must be one of train, val");
  assertThrows(() => parseFlags(task, ["--seed"]), UsageError, "needs a value");
  assertThrows(() => parseFlags(task, ["a", "b"]), UsageError, "expected 0 to 1 arguments");
});

Deno.test("formatDuration() prints seconds, minutes and hours", () => {
  assertEquals(formatDuration(12.4), "12s");
  assertEquals(formatDuration(185), "3m05s");
  assertEquals(formatDuration(3720), "1h02m");
});

Deno.test("main.ts lists every registered task, and deno.json runs each through main.ts", async () => {
  const text = listing();
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  for (const name of Object.keys(TASKS)) {
    assertEquals(text.includes(name), true, `listing lacks ${name}`);
    assertEquals(config.tasks[name], `deno run -A main.ts ${name}`, `deno.json task ${name}`);
  }
});

Deno.test("every task answers --help and rejects an unknown flag with exit code 1", async () => {
  for (const name of Object.keys(TASKS)) {
    const help = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", name, "--help"],
      cwd: new URL("..", import.meta.url),
    }).output();
    assertEquals(help.code, 0, `${name} --help`);
    assertEquals(new TextDecoder().decode(help.stdout).includes("usage: deno task " + name), true);
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", name, "--no-such-flag"],
      cwd: new URL("..", import.meta.url),
    }).output();
    assertEquals(bad.code, 1, `${name} --no-such-flag`);
    const err = new TextDecoder().decode(bad.stderr).trim();
    assertEquals(err.split("\n").length, 1, `${name}: one-line error, got ${err}`);
  }
});
