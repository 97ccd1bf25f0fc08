/** Entry point of a sampling Deno Worker (see src/util/pool.ts). */
import { serveWorker } from "../util/pool.ts";
import { sampleOne, type SamplingInit, type SamplingJob, type SamplingResult } from "./worker.ts";

serveWorker<SamplingInit, SamplingInit, SamplingJob, SamplingResult>(
  (init) => init,
  async (job, init) => {
    const r = await sampleOne(job, init);
    return {
      value: r,
      transfer: [r.labels.buffer, r.offsets.buffer, r.pixels.buffer] as ArrayBuffer[],
    };
  },
);
