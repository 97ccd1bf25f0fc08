/**
 * gen-pnet as a library call: annotated images in, a shard dataset out.
 * Images are sampled in parallel by workers and written in image order, so
 * the same seed gives byte-identical shards for any number of workers; the
 * writer commits after every image, so an interrupted run resumes where it
 * stopped.
 *
 * @example
 * ```ts
 * const summary = await generatePnetDataset({
 *   images: annotations, imagesDir: "data/sample/WIDER_train/images", out: "data/pnet12",
 *   seed: 1, workers: 2,
 * });
 * ```
 */
import type { ImageAnnotation } from "../data/types.ts";
import { type Manifest, ShardWriter } from "../data/shards.ts";
import { orderedMap } from "../util/pool.ts";
import { DEFAULT_PNET_SAMPLING, type PnetSamplingConfig, resolveSamplingConfig } from "./pnet.ts";
import {
  DEFAULT_ONET_MINING,
  DEFAULT_RNET_MINING,
  type MiningConfig,
  resolveMiningConfig,
  RunningCaps,
} from "./hard.ts";
import {
  type HardInit,
  sampleOne,
  type SamplingInit,
  type SamplingJob,
  type SamplingResult,
  type SamplingState,
  sharedSamplingState,
} from "./worker.ts";
import { type DetectorConfigInput, resolveDetectorConfig, type Stage } from "../detect/config.ts";

/** Options of {@linkcode generatePnetDataset}. */
export interface GenerateOptions {
  images: ImageAnnotation[];
  /** Folder the annotation paths are relative to. */
  imagesDir: string;
  out: string;
  seed: number;
  /** Sample side in pixels (12 for PNet). */
  size?: number;
  /** Workers; 0 samples inline on the calling thread. Default 1. */
  workers?: number;
  config?: Partial<PnetSamplingConfig>;
  /** Recorded in the manifest (e.g. annotation file, mode). */
  source?: Record<string, unknown>;
  overwrite?: boolean;
  /** Shard size in bytes of pixels (default: the writer's 16 MiB). */
  shardBytes?: number;
  /** Called after every image (for progress). */
  onImage?: (done: number, total: number) => void;
}

/** What a run produced. */
export interface GenerateSummary {
  manifest: Manifest;
  images: number;
  /** Images resumed over (already in the dataset). */
  skipped: number;
  /** Unreadable images: count and the first few names with their errors. */
  failed: number;
  failures: string[];
  crops: number;
  /** Candidates the cascade proposed (gen-rnet / gen-onet). */
  candidates: number;
  seconds: number;
}

/** Runs gen-pnet. Unreadable images are counted and skipped, never fatal. */
export function generatePnetDataset(opts: GenerateOptions): Promise<GenerateSummary> {
  const config = resolveSamplingConfig(opts.config);
  return generateDataset(
    opts,
    { kind: "pnet", seed: opts.seed, size: opts.size ?? 12, config },
    new RunningCaps(Infinity, config.partCap),
  );
}

/** Options of {@linkcode generateHardDataset}: gen-pnet's plus the cascade trained so far. */
export interface HardGenerateOptions extends Omit<GenerateOptions, "config"> {
  /** "rnet": PNet's candidates at 24 px; "onet": PNet + RNet's at 48 px. */
  net: "rnet" | "onet";
  /** Weights of PNet (gen-rnet) or PNet and RNet (gen-onet). */
  weights: Partial<Record<Stage, string>>;
  config?: Partial<MiningConfig>;
  /** The detector's settings (min face, thresholds); its stage is set from `net`. */
  detector?: Omit<DetectorConfigInput, "stage">;
}

/**
 * Runs gen-rnet / gen-onet: the cascade trained so far proposes candidates
 * on every image; they are labelled by IoU with the faces (src/sampling/hard.ts)
 * under the seed's running caps.
 */
export function generateHardDataset(opts: HardGenerateOptions): Promise<GenerateSummary> {
  const config = resolveMiningConfig(
    opts.net === "rnet" ? DEFAULT_RNET_MINING : DEFAULT_ONET_MINING,
    opts.config,
  );
  const detector = resolveDetectorConfig({
    ...opts.detector,
    stage: opts.net === "rnet" ? "pnet" : "rnet",
  });
  const init: HardInit = {
    kind: "hard",
    seed: opts.seed,
    size: opts.size ?? (opts.net === "rnet" ? 24 : 48),
    config,
    weights: opts.weights,
    detector,
  };
  return generateDataset(
    { ...opts, source: { net: opts.net, detector, weights: opts.weights, ...(opts.source ?? {}) } },
    init,
    new RunningCaps(config.negativeCap, config.partCap),
  );
}

/** The shared loop: jobs out to workers, results back in image order, caps, shards. */
async function generateDataset(
  opts: Omit<GenerateOptions, "config">,
  init: SamplingInit,
  cap: RunningCaps,
): Promise<GenerateSummary> {
  const t0 = performance.now();
  const size = init.size;
  const source = { kind: init.kind, config: init.config, ...(opts.source ?? {}) };
  const writer = await ShardWriter.open(opts.out, {
    size,
    seed: opts.seed,
    source,
    overwrite: opts.overwrite,
    shardBytes: opts.shardBytes,
  });
  const start = writer.cursor;
  // Restore the running caps from what the dataset already holds.
  const c = writer.manifest.counts;
  cap.counts = [c.neg, c.pos, c.part, c.landmark];
  const jobs = function* (): Generator<SamplingJob> {
    for (let i = start; i < opts.images.length; i++) {
      const a = opts.images[i];
      yield { index: i, path: `${opts.imagesDir}/${a.path}`, faces: a.faces };
    }
  };
  const results: AsyncIterable<{ error?: string; result?: SamplingResult; index: number }> =
    (opts.workers ?? 1) === 0
      ? inline(jobs(), init)
      : orderedMap<SamplingJob, SamplingResult, SamplingInit>(jobs(), {
        workerUrl: new URL("./worker_main.ts", import.meta.url),
        init,
        workers: opts.workers ?? 1,
      });
  let failed = 0, crops = 0, done = 0, candidates = 0;
  const failures: string[] = [];
  const sampleBytes = size * size * 3;
  for await (const r of results) {
    const index = start + r.index;
    if (r.error !== undefined || !r.result) {
      failed++;
      if (failures.length < 5) failures.push(`${opts.images[index].path}: ${r.error}`);
    } else {
      const res = r.result;
      candidates += res.candidates;
      for (let i = 0; i < res.count; i++) {
        const label = res.labels[i];
        if (!cap.keep(label)) continue;
        const box = label === 0 ? undefined : res.offsets.subarray(i * 4, i * 4 + 4);
        writer.add(label, res.pixels.subarray(i * sampleBytes, (i + 1) * sampleBytes), box);
        crops++;
      }
    }
    await writer.commit(1);
    done++;
    opts.onImage?.(done, opts.images.length - start);
  }
  const manifest = await writer.close(true);
  return {
    manifest,
    images: done,
    skipped: start,
    failed,
    failures,
    crops,
    candidates,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function* inline(jobs: Iterable<SamplingJob>, init: SamplingInit) {
  let index = 0;
  let state: SamplingState | undefined;
  for (const job of jobs) {
    try {
      state ??= await sharedSamplingState(init);
      yield { index: index++, result: await sampleOne(job, state) };
    } catch (e) {
      yield { index: index++, error: (e as Error).message.split("\n")[0] };
    }
  }
}

export { DEFAULT_PNET_SAMPLING };
