/**
 * Entry point of an inference-bench Deno Worker (see ./bench.ts): builds the
 * workload once from `{ type: "init", init }`, then answers
 * `{ type: "time", key, warmup, loops }` with the ms of each timed run.
 * Messages back: `{ type: "hello" }` once listening, `{ type: "ready", rows, unavailable }`, `{ type: "times", times }`,
 * `{ type: "error", message }`.
 */
import { type BenchWorkload, type BenchWorkloadInit, createBenchWorkload } from "./bench.ts";

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
let workload: BenchWorkload | undefined;
scope.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  try {
    if (msg.type === "init") {
      workload = await createBenchWorkload(msg.init as BenchWorkloadInit);
      scope.postMessage({
        type: "ready",
        rows: workload.rows,
        unavailable: workload.unavailable,
        skipped: workload.skipped,
      });
    } else if (msg.type === "time") {
      const times = await workload!.time(msg.key, msg.warmup, msg.loops);
      scope.postMessage({ type: "times", times });
    }
  } catch (err) {
    scope.postMessage({ type: "error", message: (err as Error).message.split("\n")[0] });
  }
};
// messages sent before this module ran are lost: say when it listens
scope.postMessage({ type: "hello" });
