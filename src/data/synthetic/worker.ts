/// <reference lib="deno.worker" />
/**
 * Worker of the synthetic dataset writer: renders and encodes one image per
 * message `{ id, job }` and answers `{ id, result }` or `{ id, error }`.
 *
 * @module
 */
import { encodeSyntheticJob } from "./mod.ts";

self.onmessage = (e: MessageEvent) => {
  const { id, job } = e.data;
  try {
    const result = encodeSyntheticJob(job);
    // Transfer the bytes (copied first if they are a view into a larger buffer).
    if (result.jpeg.byteLength !== result.jpeg.buffer.byteLength) result.jpeg = result.jpeg.slice();
    self.postMessage({ id, result }, [result.jpeg.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
