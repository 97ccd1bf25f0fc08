/**
 * Entry point of a detection Deno Worker (see src/util/pool.ts): loads the
 * cascade once, then answers `{ path }` jobs with the faces of that image.
 */
import { serveWorker } from "../util/pool.ts";
import { initBackend } from "../nets/mod.ts";
import { readImage } from "../image/mod.ts";
import {
  type DetectedFace,
  detectFaces,
  type Detector,
  type DetectorConfigInput,
  loadDetector,
  resolveDetectorConfig,
  type WeightsSpec,
} from "./mod.ts";

/** Sent once to each worker. */
export interface DetectInit {
  weights?: WeightsSpec;
  config: DetectorConfigInput;
}

serveWorker<DetectInit, Detector, { path: string }, DetectedFace[]>(
  async (init) => {
    if (resolveDetectorConfig(init.config).engine === "tfjs") await initBackend("wasm");
    return loadDetector(init.weights, init.config);
  },
  async (job, detector) => ({ value: detectFaces(detector, await readImage(job.path)) }),
);
