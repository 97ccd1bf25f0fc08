/** Entry point of a sampling Deno Worker (see src/util/pool.ts). */
import { serveWorker } from "../util/pool.ts";
import {
  prepareSampling,
  sampleOne,
  type SamplingInit,
  type SamplingJob,
  type SamplingResult,
  type SamplingState,
} from "./worker.ts";

serveWorker<SamplingInit, SamplingState, SamplingJob, SamplingResult>(
  prepareSampling,
  async (job, state) => {
    const r = await sampleOne(job, state);
    return {
      value: r,
      transfer: [r.labels.buffer, r.offsets.buffer, r.pixels.buffer] as ArrayBuffer[],
    };
  },
);
