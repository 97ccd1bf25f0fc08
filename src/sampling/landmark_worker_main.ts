/** Entry point of a gen-landmarks Deno Worker (see src/util/pool.ts). */
import { serveWorker } from "../util/pool.ts";
import {
  type LandmarkInit,
  type LandmarkJob,
  type LandmarkResult,
  sampleLandmarkJob,
} from "./landmark_job.ts";

serveWorker<LandmarkInit, LandmarkInit, LandmarkJob, LandmarkResult>(
  (init) => init,
  async (job, init) => {
    const r = await sampleLandmarkJob(job, init);
    return {
      value: r,
      transfer: [r.offsets.buffer, r.landmarks.buffer, r.pixels.buffer] as ArrayBuffer[],
    };
  },
);
