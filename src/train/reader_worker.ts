/**
 * Entry point of the batch reader Deno Worker (see src/train/reader.ts):
 * `readBatches` for one epoch at a time, a batch per `next`, replies in order.
 */
import { type Batch, readBatches } from "../data/shards.ts";
import type { ReaderReply, ReaderRequest } from "./reader.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;
let it: AsyncGenerator<Batch> | undefined;

async function handle(
  msg: ReaderRequest,
): Promise<{ reply: ReaderReply; transfer?: Transferable[] }> {
  switch (msg.type) {
    case "open":
      await it?.return(undefined);
      it = readBatches(msg.dirs, msg.opts);
      return { reply: { done: false } };
    case "next": {
      const r = it ? await it.next() : { done: true as const, value: undefined };
      if (r.done) return { reply: { done: true } };
      const b = r.value;
      const transfer = [b.pixels.buffer, b.labels.buffer, b.boxes.buffer, b.landmarks.buffer];
      return { reply: { batch: b }, transfer: transfer as ArrayBuffer[] };
    }
    case "close":
      await it?.return(undefined);
      it = undefined;
      return { reply: { done: true } };
  }
}

// one request at a time, in arrival order
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as ReaderRequest;
  queue = queue.then(async () => {
    try {
      const { reply, transfer } = await handle(msg);
      scope.postMessage(reply, transfer ?? []);
    } catch (err) {
      scope.postMessage({ error: err instanceof Error ? err.message.split("\n")[0] : String(err) });
    }
  });
};
queueMicrotask(() => scope.postMessage({ type: "ready" }));
