/**
 * Entry point of a training Deno Worker (see src/train/parallel.ts): one
 * {@linkcode TrainGraph} on its own tfjs backend. Requests come one at a time
 * and are answered in order with `{ result }` or `{ error }` (one line).
 */
import { graphInput, type WorkerRequest } from "./parallel.ts";
import { TrainGraph } from "./backprop.ts";
import { initTrainingBackend } from "./setup.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;
let graph: TrainGraph | undefined;

async function handle(msg: WorkerRequest): Promise<{ result: unknown; transfer?: Transferable[] }> {
  switch (msg.type) {
    case "init":
      await initTrainingBackend(msg.backend);
      graph = new TrainGraph(msg.arch);
      return { result: true };
    case "forward": {
      if (!graph) throw new Error("training worker: not initialised");
      if (msg.params) graph.setParams(msg.params);
      const out = graph.forward(graphInput(graph, msg.pixels, msg.plan), msg.count, msg.keep);
      const transfer = [out.logits.buffer, out.box.buffer];
      if (out.landmarks) transfer.push(out.landmarks.buffer);
      return { result: out, transfer: transfer as ArrayBuffer[] };
    }
    case "backward": {
      if (!graph) throw new Error("training worker: not initialised");
      const grads = graph.backward(msg.grads);
      return { result: grads, transfer: [grads.buffer as ArrayBuffer] };
    }
    case "close":
      graph?.dispose();
      graph = undefined;
      return { result: true };
  }
}

// requests are handled strictly one after another, in arrival order
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as WorkerRequest;
  queue = queue.then(async () => {
    try {
      const { result, transfer } = await handle(msg);
      scope.postMessage({ result }, transfer ?? []);
    } catch (err) {
      scope.postMessage({ error: err instanceof Error ? err.message.split("\n")[0] : String(err) });
    }
  });
};
queueMicrotask(() => scope.postMessage({ type: "ready" }));
