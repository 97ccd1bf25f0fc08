/**
 * Command-line plumbing shared by every task: flag parsing with generated
 * `--help`, one-line failures, progress on a TTY, atomic file output.
 *
 * Library code under `src/` never prints or exits; tasks do, through
 * {@linkcode runTask} and {@linkcode fail}.
 *
 * @example
 * ```ts
 * import { runTask } from "../src/cli/mod.ts";
 * export const task = {
 *   name: "hello",
 *   description: "Say hello",
 *   flags: { name: { type: "string", default: "world", help: "who to greet" } },
 *   run(opts) { console.log(`hello ${opts.flags.name}`); },
 * };
 * ```
 */

/** An error caused by the user's input: printed as one line, exit code 1. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The kinds of value a flag can carry. */
export type FlagType = "string" | "number" | "integer" | "boolean" | "list";

/** Declaration of one flag. */
export interface FlagSpec {
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  /** Metavariable shown in --help, e.g. `DIR`. */
  meta?: string;
  /** Allowed values for a string flag. */
  choices?: readonly string[];
  /** The flag must be given. */
  required?: boolean;
}

/** Parsed flag values by flag name (kebab-case as declared). */
export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

/** A task as `main.ts` dispatches it. */
export interface Task {
  name: string;
  description: string;
  /** Usage line for positional arguments, e.g. `<image|dir>`. */
  positionals?: string;
  /** Minimum and maximum number of positional arguments (default 0, 0). */
  positionalCount?: [number, number];
  flags: Record<string, FlagSpec>;
  run(opts: { flags: FlagValues; positionals: string[] }): Promise<void> | void;
}

/** Prints `error: message` to stderr and exits with code 1. */
export function fail(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(1);
}

/** Renders the --help text of a task. */
export function helpText(task: Task): string {
  const lines = [
    `${task.description}`,
    "",
    `usage: deno task ${task.name}${task.positionals ? " " + task.positionals : ""} [flags]`,
    "",
    "flags:",
  ];
  const entries = Object.entries(task.flags);
  entries.push(["help", { type: "boolean", help: "show this help" }]);
  const heads = entries.map(([name, s]) =>
    `  --${name}${s.type === "boolean" ? "" : " " + (s.meta ?? metaFor(s))}`
  );
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  entries.forEach(([, s], i) => {
    let text = s.help;
    if (s.choices) text += ` (${s.choices.join("|")})`;
    if (s.required) text += " [required]";
    else if (s.default !== undefined && s.default !== false) {
      text += ` [default: ${Array.isArray(s.default) ? s.default.join(",") : s.default}]`;
    }
    lines.push(heads[i].padEnd(width) + text);
  });
  return lines.join("\n");
}

function metaFor(s: FlagSpec): string {
  switch (s.type) {
    case "number":
      return "X";
    case "integer":
      return "N";
    case "list":
      return "A,B,..";
    default:
      return "VALUE";
  }
}

/**
 * Parses `args` against the task's flag declarations.
 * Accepts `--flag value`, `--flag=value`, `--no-flag` for booleans.
 * Throws {@linkcode UsageError} with a one-line message on any mistake.
 */
export function parseFlags(
  task: Pick<Task, "name" | "flags" | "positionalCount">,
  args: string[],
): { flags: FlagValues; positionals: string[]; help: boolean } {
  const flags: FlagValues = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg.length > 1 && isNaN(Number(arg))) {
        if (arg === "-h") {
          help = true;
          continue;
        }
        throw new UsageError(`${task.name}: unknown flag "${arg}" (see --help)`);
      }
      positionals.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === "help") {
      help = true;
      continue;
    }
    const spec = task.flags[name];
    if (!spec && name.startsWith("no-") && task.flags[name.slice(3)]?.type === "boolean") {
      if (value !== undefined) throw new UsageError(`${task.name}: --${name} takes no value`);
      flags[name.slice(3)] = false;
      continue;
    }
    if (!spec) throw new UsageError(`${task.name}: unknown flag "--${name}" (see --help)`);
    if (spec.type === "boolean") {
      if (value === undefined) flags[name] = true;
      else if (value === "true" || value === "1") flags[name] = true;
      else if (value === "false" || value === "0") flags[name] = false;
      else throw new UsageError(`${task.name}: --${name} expects true or false, got "${value}"`);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`${task.name}: --${name} needs a value`);
      value = args[++i];
    }
    flags[name] = convert(task.name, name, spec, value);
  }
  for (const [name, spec] of Object.entries(task.flags)) {
    if (flags[name] === undefined) {
      if (spec.required && !help) throw new UsageError(`${task.name}: --${name} is required`);
      flags[name] = spec.default;
    }
  }
  const [lo, hi] = task.positionalCount ?? [0, 0];
  if (!help && (positionals.length < lo || positionals.length > hi)) {
    const want = lo === hi ? `${lo}` : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`;
    throw new UsageError(
      `${task.name}: expected ${want} argument${hi === 1 && lo === 1 ? "" : "s"}, got ${positionals.length}` +
        (positionals.length ? ` ("${positionals.join(" ")}")` : "") + " (see --help)",
    );
  }
  return { flags, positionals, help };
}

function convert(task: string, name: string, spec: FlagSpec, value: string) {
  switch (spec.type) {
    case "number": {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n)) {
        throw new UsageError(`${task}: --${name} expects a number, got "${value}"`);
      }
      return n;
    }
    case "integer": {
      const n = Number(value);
      if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
        throw new UsageError(`${task}: --${name} expects an integer, got "${value}"`);
      }
      return n;
    }
    case "list":
      return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    default:
      if (spec.choices && !spec.choices.includes(value)) {
        throw new UsageError(
          `${task}: --${name} must be one of ${spec.choices.join(", ")}, got "${value}"`,
        );
      }
      return value;
  }
}

/**
 * Runs a task with the given command-line arguments: prints --help, turns any
 * error into one line on stderr and exit code 1 (set MTCNN_DEBUG=1 for stacks).
 */
export async function runTask(task: Task, args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseFlags(task, args);
  } catch (e) {
    fail(errorMessage(e));
  }
  if (parsed.help) {
    console.log(helpText(task));
    return;
  }
  try {
    await task.run({ flags: parsed.flags, positionals: parsed.positionals });
  } catch (e) {
    if (Deno.env.get("MTCNN_DEBUG")) console.error(e);
    fail(errorMessage(e));
  }
}

/** The one-line message of an error of any kind. */
export function errorMessage(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) {
    return e.message.replace(/^No such file or directory \(os error 2\): /, "no such file: ");
  }
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0];
}

/** True when stderr is an interactive terminal (and not in CI). */
export function isInteractive(): boolean {
  try {
    return Deno.stderr.isTerminal() && !Deno.env.get("CI");
  } catch {
    return false;
  }
}

/** A progress line: count, rate and ETA, redrawn at most 10 times a second on a TTY. */
export interface Progress {
  /** Adds `n` (default 1) to the count. */
  tick(n?: number): void;
  /** Finishes the line; prints a one-line summary when `summary` is true even off a TTY. */
  done(summary?: boolean): void;
  readonly count: number;
}

/**
 * Starts a progress line for `total` items (0 or undefined when unknown).
 *
 * @example
 * ```ts
 * const p = progress("images", 100);
 * for (let i = 0; i < 100; i++) p.tick();
 * p.done();
 * ```
 */
export function progress(label: string, total?: number, unit = "it"): Progress {
  const start = performance.now();
  const tty = isInteractive();
  const enc = new TextEncoder();
  let count = 0;
  let last = 0;
  const render = () => {
    const secs = (performance.now() - start) / 1000;
    const rate = secs > 0 ? count / secs : 0;
    let line = `${label}: ${count}${total ? `/${total}` : ""} ${unit}  ${rate.toFixed(1)} ${unit}/s`;
    if (total && rate > 0) line += `  ETA ${formatDuration((total - count) / rate)}`;
    return line;
  };
  return {
    get count() {
      return count;
    },
    tick(n = 1) {
      count += n;
      if (!tty) return;
      const now = performance.now();
      if (now - last < 100 && count !== total) return;
      last = now;
      Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${render()}`));
    },
    done(summary = false) {
      if (tty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${render()}\n`));
      else if (summary) console.error(render());
    },
  };
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs)) return "?";
  const s = Math.round(secs);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
