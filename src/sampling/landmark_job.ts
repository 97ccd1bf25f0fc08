/**
 * The gen-landmarks job: decodes one image, picks the landmark crops of each
 * of its entries (one random stream per entry), cuts and resizes them in one
 * kernel call, and appends the mirrored copies. Runs inside a Deno Worker
 * (landmark_worker_main.ts, through src/util/pool.ts) or inline.
 *
 * @example
 * ```ts
 * const r = await sampleLandmarkJob(
 *   { path: "lfw/a.jpg", entries: [{ index: 0, faces: [face] }] },
 *   { seed: 1, size: 48, config: DEFAULT_LANDMARK_SAMPLING },
 * );
 * ```
 *
 * @module
 */
import { cropResizeU8, iouOneToMany } from "../../kernels/mod.ts";
import { readImage } from "../image/mod.ts";
import type { FaceBox } from "../data/types.ts";
import { Rng } from "../util/random.ts";
import {
  faceSkipReason,
  flipLandmarks,
  flipOffsets,
  flipSamplesHorizontal,
  type LandmarkCrop,
  type LandmarkSamplingConfig,
  sampleLandmarkFace,
} from "./landmarks.ts";

/** Sent once to each worker. */
export interface LandmarkInit {
  seed: number;
  size: number;
  config: LandmarkSamplingConfig;
}

/** Consecutive list entries of one image; each entry's `index` seeds its random stream. */
export interface LandmarkJob {
  path: string;
  entries: { index: number; faces: FaceBox[] }[];
}

/** The samples of one job, struct-of-arrays, ready for the shard writer. */
export interface LandmarkResult {
  count: number;
  offsets: Float32Array;
  landmarks: Float32Array;
  pixels: Uint8Array;
  /** Faces that gave no samples because they are too small / partly outside / lack landmarks. */
  skipped: { small: number; outside: number; landmarks: number };
}

/**
 * The crops of one job's faces (before mirroring) and how many faces gave none, by reason.
 *
 * @example
 * ```ts
 * const { crops, skipped } = landmarkCropsOf(640, 480, job, init);
 * ```
 */
export function landmarkCropsOf(
  width: number,
  height: number,
  job: LandmarkJob,
  init: LandmarkInit,
): { crops: LandmarkCrop[]; skipped: LandmarkResult["skipped"] } {
  const crops: LandmarkCrop[] = [];
  const skipped = { small: 0, outside: 0, landmarks: 0 };
  for (const entry of job.entries) {
    const rng = Rng.derive(init.seed, entry.index);
    for (const face of entry.faces) {
      const why = faceSkipReason(face, width, height, init.config.minFace);
      if (why) skipped[why]++;
      crops.push(...sampleLandmarkFace(width, height, face, rng, init.config, iouOneToMany));
    }
  }
  return { crops, skipped };
}

/**
 * Samples one job (the worker's work, also usable inline): each crop is
 * followed by its mirror when `config.flip` is set.
 *
 * @example
 * ```ts
 * const r = await sampleLandmarkJob({ path: "a.jpg", entries: [{ index: 0, faces }] }, init);
 * ```
 */
export async function sampleLandmarkJob(
  job: LandmarkJob,
  init: LandmarkInit,
): Promise<LandmarkResult> {
  const img = await readImage(job.path);
  const { crops, skipped } = landmarkCropsOf(img.width, img.height, job, init);
  const n = crops.length;
  const copies = init.config.flip ? 2 : 1;
  const count = n * copies;
  const boxes = new Int32Array(n * 4);
  crops.forEach((c, i) => boxes.set([c.x, c.y, c.size, c.size], i * 4));
  const sb = init.size * init.size * 3;
  const cut = n > 0
    ? cropResizeU8(img.data, img.width, img.height, 3, boxes, init.size)
    : new Uint8Array(0);
  const pixels = copies === 1 ? cut : new Uint8Array(count * sb);
  const offsets = new Float32Array(count * 4);
  const landmarks = new Float32Array(count * 10);
  crops.forEach((c, i) => {
    const o = i * copies;
    offsets.set(c.offsets, o * 4);
    landmarks.set(c.landmarks, o * 10);
    if (copies === 2) {
      pixels.set(cut.subarray(i * sb, (i + 1) * sb), o * sb);
      pixels.set(cut.subarray(i * sb, (i + 1) * sb), (o + 1) * sb);
      offsets.set(flipOffsets(c.offsets, c.size), (o + 1) * 4);
      landmarks.set(flipLandmarks(c.landmarks), (o + 1) * 10);
    }
  });
  if (copies === 2) {
    for (let i = 0; i < n; i++) {
      flipSamplesHorizontal(pixels.subarray((2 * i + 1) * sb, (2 * i + 2) * sb), init.size, 3, 1);
    }
  }
  return { count, offsets, landmarks, pixels, skipped };
}
