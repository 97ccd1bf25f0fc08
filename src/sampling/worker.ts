/**
 * The sampling job: decodes one image, picks its crops — random ones around
 * the faces (gen-pnet) or the candidates of the cascade trained so far
 * (gen-rnet / gen-onet) — and cuts and resizes all of them in one kernel
 * call. Runs inside a Deno Worker (worker_main.ts, through src/util/pool.ts)
 * or inline through {@linkcode sampleOne}.
 */
import { cropResizeU8, iouOneToMany } from "../../kernels/mod.ts";
import { readImage } from "../image/mod.ts";
import type { FaceBox } from "../data/types.ts";
import { Rng } from "../util/random.ts";
import { type PnetSamplingConfig, sampleImage } from "./pnet.ts";
import { labelCandidates, type MiningConfig } from "./hard.ts";
import type { Detector, DetectorConfigInput, Stage } from "../detect/mod.ts";

/** gen-pnet: random crops around the annotated faces. */
export interface PnetInit {
  kind: "pnet";
  seed: number;
  size: number;
  config: PnetSamplingConfig;
}

/** gen-rnet / gen-onet: the cascade's candidates, labelled by IoU. */
export interface HardInit {
  kind: "hard";
  seed: number;
  size: number;
  config: MiningConfig;
  /** Weights files of the stages the detector runs. */
  weights: Partial<Record<Stage, string>>;
  /** The detector's config; its `stage` is the last stage that runs ("pnet" for gen-rnet). */
  detector: DetectorConfigInput;
}

/** Sent once to each worker. */
export type SamplingInit = PnetInit | HardInit;

/** What a worker keeps between jobs. */
export interface SamplingState {
  init: SamplingInit;
  detector?: Detector;
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
  /** Candidates the cascade proposed (hard examples only). */
  candidates: number;
}

const inlineStates = new Map<string, Promise<SamplingState>>();

/** Loads what the jobs need (the detector for hard examples). */
export async function prepareSampling(init: SamplingInit): Promise<SamplingState> {
  if (init.kind === "pnet") return { init };
  const { initBackend } = await import("../nets/mod.ts");
  const { loadDetector } = await import("../detect/mod.ts");
  await initBackend("wasm");
  return { init, detector: await loadDetector(init.weights, init.detector) };
}

/** {@linkcode prepareSampling}, once per distinct init, for inline use. */
export function sharedSamplingState(init: SamplingInit): Promise<SamplingState> {
  const key = JSON.stringify(init);
  let s = inlineStates.get(key);
  if (!s) inlineStates.set(key, s = prepareSampling(init));
  return s;
}

/** Samples one image (the worker's job, also usable inline). */
export async function sampleOne(job: SamplingJob, state: SamplingState): Promise<SamplingResult> {
  const { init } = state;
  const img = await readImage(job.path);
  let regions: { label: number; x: number; y: number; w: number; h: number; offsets?: number[] }[];
  let candidates = 0;
  if (init.kind === "pnet") {
    const rng = Rng.derive(init.seed, job.index);
    regions = sampleImage(img.width, img.height, job.faces, rng, init.config, iouOneToMany)
      .map((c) => ({ ...c, w: c.size, h: c.size }));
  } else {
    const { detectFaces } = await import("../detect/mod.ts");
    const found = detectFaces(state.detector!, img);
    candidates = found.length;
    const boxes = new Float32Array(found.length * 4);
    found.forEach((f, i) => boxes.set(f.box, i * 4));
    regions = labelCandidates(boxes, job.faces, img.width, img.height, init.config, iouOneToMany);
  }
  const n = regions.length;
  const boxes = new Int32Array(n * 4);
  const labels = new Uint8Array(n);
  const offsets = new Float32Array(n * 4).fill(NaN);
  regions.forEach((c, i) => {
    boxes.set([c.x, c.y, c.w, c.h], i * 4);
    labels[i] = c.label;
    if (c.offsets) offsets.set(c.offsets, i * 4);
  });
  const pixels = n > 0
    ? cropResizeU8(img.data, img.width, img.height, 3, boxes, init.size)
    : new Uint8Array(0);
  return { count: n, labels, offsets, pixels, width: img.width, height: img.height, candidates };
}
