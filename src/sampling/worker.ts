/**
 * The sampling job: decodes one image, picks its crops, and cuts and resizes
 * all of them in one kernel call. Runs inside a Deno Worker (worker_main.ts,
 * through src/util/pool.ts) or inline through {@linkcode sampleOne}.
 */
import { cropResizeU8, iouOneToMany } from "../../kernels/mod.ts";
import { readImage } from "../image/mod.ts";
import type { FaceBox } from "../data/types.ts";
import { Rng } from "../util/random.ts";
import { type PnetSamplingConfig, sampleImage } from "./pnet.ts";

/** Sent once to each worker. */
export interface SamplingInit {
  seed: number;
  size: number;
  config: PnetSamplingConfig;
}

/** One image to sample. `index` seeds its random stream. */
export interface SamplingJob {
  index: number;
  path: string;
  faces: FaceBox[];
}

/** The crops of one image, struct-of-arrays, ready for the shard writer. */
export interface SamplingResult {
  count: number;
  labels: Uint8Array;
  offsets: Float32Array;
  pixels: Uint8Array;
  width: number;
  height: number;
}

/** Samples one image (the worker's job, also usable inline). */
export async function sampleOne(job: SamplingJob, init: SamplingInit): Promise<SamplingResult> {
  const img = await readImage(job.path);
  const rng = Rng.derive(init.seed, job.index);
  const crops = sampleImage(img.width, img.height, job.faces, rng, init.config, iouOneToMany);
  const n = crops.length;
  const boxes = new Int32Array(n * 4);
  const labels = new Uint8Array(n);
  const offsets = new Float32Array(n * 4).fill(NaN);
  crops.forEach((c, i) => {
    boxes[i * 4] = c.x;
    boxes[i * 4 + 1] = c.y;
    boxes[i * 4 + 2] = c.size;
    boxes[i * 4 + 3] = c.size;
    labels[i] = c.label;
    if (c.offsets) offsets.set(c.offsets, i * 4);
  });
  const pixels = n > 0
    ? cropResizeU8(img.data, img.width, img.height, 3, boxes, init.size)
    : new Uint8Array(0);
  return { count: n, labels, offsets, pixels, width: img.width, height: img.height };
}
