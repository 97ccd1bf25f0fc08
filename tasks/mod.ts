/**
 * The registry of tasks: name, one-line description and a lazy loader, so
 * that `main.ts` lists every task without importing any of them.
 * Add a task here and in deno.json's "tasks".
 */
import type { Task } from "../src/cli/mod.ts";

export interface TaskEntry {
  description: string;
  load: () => Promise<{ default: Task }>;
}

export const TASKS: Record<string, TaskEntry> = {
  "hello": {
    description: "Check that the toolchain runs (placeholder replaced by real tasks)",
    load: () => import("./hello.ts"),
  },
};
