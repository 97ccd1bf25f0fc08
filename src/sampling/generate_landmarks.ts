/**
 * gen-landmarks as a library call: a landmark list (LFW+Net or CelebA, one
 * face per entry) in, a shard dataset of `landmark` samples out. Entries are
 * grouped by consecutive image path into jobs, sampled in parallel by workers
 * and written in list order, so the same seed gives byte-identical shards for
 * any number of workers; the writer commits after every job, so an
 * interrupted run resumes where it stopped.
 *
 * @example
 * ```ts
 * const entries = await readLfwLandmarks("data/lfw/trainImageList.txt");
 * const summary = await generateLandmarkDataset({
 *   entries, imagesDir: "data/lfw", out: "data/landmarks48", size: 48, seed: 1, workers: 2,
 * });
 * ```
 *
 * @module
 */
import type { ImageAnnotation } from "../data/types.ts";
import { Label, type Manifest, ShardWriter } from "../data/shards.ts";
import { orderedMap } from "../util/pool.ts";
import { type LandmarkSamplingConfig, resolveLandmarkConfig } from "./landmarks.ts";
import {
  type LandmarkInit,
  type LandmarkJob,
  type LandmarkResult,
  sampleLandmarkJob,
} from "./landmark_job.ts";

/** Options of {@linkcode generateLandmarkDataset}. */
export interface LandmarkGenerateOptions {
  /** List entries (usually one face with 5 landmarks each). */
  entries: ImageAnnotation[];
  /** Folder the entries' paths are relative to. */
  imagesDir: string;
  out: string;
  seed: number;
  /** Sample side in pixels (12, 24 or 48). */
  size: number;
  /** Workers; 0 samples inline on the calling thread. Default 1. */
  workers?: number;
  config?: Partial<LandmarkSamplingConfig>;
  /** Recorded in the manifest (list file, images folder, ...). */
  source?: Record<string, unknown>;
  overwrite?: boolean;
  /** Called after every job with the entries done so far (for progress). */
  onEntries?: (done: number, total: number) => void;
}

/** What a run produced. */
export interface LandmarkGenerateSummary {
  manifest: Manifest;
  /** Entries processed by this run. */
  entries: number;
  /** Entries resumed over (already in the dataset). */
  resumed: number;
  /** Unreadable images: count of entries and the first few names with their errors. */
  failed: number;
  failures: string[];
  /** Faces that gave no samples, by reason. */
  skipped: { small: number; outside: number; landmarks: number };
  samples: number;
  seconds: number;
}

/**
 * Groups consecutive entries of the same image into jobs, from entry `start` on.
 *
 * @example
 * ```ts
 * [...landmarkJobs(entries, "data/lfw")]; // [{ path: "data/lfw/a.jpg", entries: [{ index: 0, faces }] }, ...]
 * ```
 */
export function* landmarkJobs(
  entries: ImageAnnotation[],
  imagesDir: string,
  start = 0,
): Generator<LandmarkJob> {
  let job: LandmarkJob | undefined;
  for (let i = start; i < entries.length; i++) {
    const path = `${imagesDir}/${entries[i].path}`;
    if (job && job.path !== path) {
      yield job;
      job = undefined;
    }
    job ??= { path, entries: [] };
    job.entries.push({ index: i, faces: entries[i].faces });
  }
  if (job) yield job;
}

/**
 * Runs gen-landmarks. Unreadable images are counted and skipped, never fatal.
 *
 * @example
 * ```ts
 * const s = await generateLandmarkDataset({ entries, imagesDir: "data/lfw", out: "data/lm48", seed: 1, size: 48 });
 * console.log(s.samples, s.skipped);
 * ```
 */
export async function generateLandmarkDataset(
  opts: LandmarkGenerateOptions,
): Promise<LandmarkGenerateSummary> {
  const t0 = performance.now();
  const config = resolveLandmarkConfig(opts.config);
  if (![12, 24, 48].includes(opts.size)) {
    throw new RangeError(`sample size must be 12, 24 or 48, got ${opts.size}`);
  }
  const source = { kind: "landmark", config, ...(opts.source ?? {}) };
  const writer = await ShardWriter.open(opts.out, {
    size: opts.size,
    seed: opts.seed,
    source,
    overwrite: opts.overwrite,
  });
  const start = writer.cursor;
  const init: LandmarkInit = { seed: opts.seed, size: opts.size, config };
  const jobs = [...landmarkJobs(opts.entries, opts.imagesDir, start)];
  const results: AsyncIterable<{ error?: string; result?: LandmarkResult; index: number }> =
    (opts.workers ?? 1) === 0
      ? inline(jobs, init)
      : orderedMap<LandmarkJob, LandmarkResult, LandmarkInit>(jobs, {
        workerUrl: new URL("./landmark_worker_main.ts", import.meta.url),
        init,
        workers: opts.workers ?? 1,
      });
  const skipped = { small: 0, outside: 0, landmarks: 0 };
  const failures: string[] = [];
  let failed = 0, samples = 0, done = 0;
  const sb = opts.size * opts.size * 3;
  for await (const r of results) {
    const job = jobs[r.index];
    if (r.error !== undefined || !r.result) {
      failed += job.entries.length;
      if (failures.length < 5) failures.push(`${job.path}: ${r.error}`);
    } else {
      const res = r.result;
      for (let i = 0; i < res.count; i++) {
        writer.add(
          Label.Landmark,
          res.pixels.subarray(i * sb, (i + 1) * sb),
          res.offsets.subarray(i * 4, i * 4 + 4),
          res.landmarks.subarray(i * 10, i * 10 + 10),
        );
      }
      samples += res.count;
      skipped.small += res.skipped.small;
      skipped.outside += res.skipped.outside;
      skipped.landmarks += res.skipped.landmarks;
    }
    await writer.commit(job.entries.length);
    done += job.entries.length;
    opts.onEntries?.(done, opts.entries.length - start);
  }
  const manifest = await writer.close(true);
  return {
    manifest,
    entries: done,
    resumed: start,
    failed,
    failures,
    skipped,
    samples,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function* inline(jobs: LandmarkJob[], init: LandmarkInit) {
  for (let index = 0; index < jobs.length; index++) {
    try {
      yield { index, result: await sampleLandmarkJob(jobs[index], init) };
    } catch (e) {
      yield { index, error: (e as Error).message.split("\n")[0] };
    }
  }
}
