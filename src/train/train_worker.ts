/**
 * Entry point of a training Deno Worker (see src/train/parallel.ts): one
 * {@linkcode TrainGraph} on its own tfjs backend. Set-up comes by message
 * (`init`, then `channel`); requests then come through the shared-memory
 * channel (src/train/channel.ts), served in a blocking loop until the main
 * thread asks the worker to leave it.
 */
import { graphInput, type WorkerRequest } from "./parallel.ts";
import { TrainGraph } from "./backprop.ts";
import { Channel } from "./channel.ts";
import { initTrainingBackend } from "./setup.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;
let graph: TrainGraph | undefined;

scope.onmessage = async (e: MessageEvent) => {
  const msg = e.data as WorkerRequest;
  try {
    if (msg.type === "init") {
      await initTrainingBackend(msg.backend);
      graph = new TrainGraph(msg.arch);
      scope.postMessage({ result: true });
    } else if (msg.type === "channel") {
      if (!graph) throw new Error("training worker: not initialised");
      const g = graph;
      const channel = new Channel(msg.sab, msg.layout, msg.spinMs);
      scope.postMessage({ result: true });
      channel.serve({
        forward(r) {
          if (r.params) g.setParams(r.params);
          const plan = r.plan && {
            flip: r.plan.flip,
            contrast: r.plan.contrast,
            brightness: r.plan.brightness,
            jitter: r.plan.jitter,
          };
          return g.forward(graphInput(g, r.pixels, plan), r.count, r.keep);
        },
        backward(grads) {
          return g.backward(grads);
        },
      });
    }
  } catch (err) {
    scope.postMessage({ error: err instanceof Error ? err.message.split("\n")[0] : String(err) });
  }
};
queueMicrotask(() => scope.postMessage({ type: "ready" }));
