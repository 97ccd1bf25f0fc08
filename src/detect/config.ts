/**
 * The detector's settings as plain data: {@linkcode DEFAULT_DETECTOR_CONFIG}
 * holds the published MTCNN values, and {@linkcode resolveDetectorConfig} is
 * the one place where a partial config gets its defaults and is checked.
 *
 * @example
 * ```ts
 * const config = resolveDetectorConfig({ minFaceSize: 40, thresholds: [0.7, 0.8, 0.9] });
 * ```
 */

/** The cascade's stages, in order; a detector may stop after any of them. */
export type Stage = "pnet" | "rnet" | "onet";
export const STAGES: readonly Stage[] = ["pnet", "rnet", "onet"];

/** Interpolations of the pyramid and the crops. */
export type ResizeMode = "area" | "bilinear";
export const RESIZE_MODES: readonly ResizeMode[] = ["area", "bilinear"];

/** Where the nets run: the AssemblyScript engine (src/deploy) or tfjs (its current backend). */
export type DetectorEngine = "as" | "tfjs";
export const DETECTOR_ENGINES: readonly DetectorEngine[] = ["as", "tfjs"];

/** NMS overlap thresholds of the cascade. */
export interface NmsThresholds {
  /** IoU within one pyramid level (the original: 0.5). */
  scale: number;
  /** IoU across pyramid levels, after PNet (0.7). */
  pnet: number;
  /** IoU after RNet (0.7). */
  rnet: number;
  /** Intersection over the smaller box ("min" mode) after ONet (0.7). */
  onet: number;
}

/** Everything the cascade can be told. */
export interface DetectorConfig {
  /** Smallest face side searched for, in pixels; the pyramid starts at scale 12 / minFaceSize. */
  minFaceSize: number;
  /** Ratio between successive pyramid levels (0 < f < 1). */
  scaleFactor: number;
  /** Face-probability thresholds of PNet, RNet and ONet. */
  thresholds: [number, number, number];
  nms: NmsThresholds;
  /**
   * How the pyramid levels and the RNet / ONet crops are resized: "area"
   * (OpenCV's INTER_AREA, what the published MTCNN ports use; averages when
   * shrinking) or "bilinear" (the resize kernels; faster, aliases when shrinking).
   */
  resize: ResizeMode;
  /** The last stage to run: "pnet" and "rnet" give that stage's calibrated boxes. */
  stage: Stage;
  /** Most crops per RNet / ONet forward pass (bounds memory on crowded images). */
  maxBatch: number;
  /**
   * Most input pixels per PNet forward pass: a larger pyramid level runs in
   * horizontal bands (with the same result), so big photos stay in sane memory.
   */
  maxPnetPixels: number;
  /**
   * Where the nets run: "as" (the AssemblyScript engine, no tfjs needed; the
   * default, faster) or "tfjs" (tfjs on its current backend). Same faces.
   */
  engine: DetectorEngine;
}

/** The settings of the published MTCNN (Zhang et al. 2016, `detect_face.m`). */
export const DEFAULT_DETECTOR_CONFIG: Readonly<DetectorConfig> = Object.freeze({
  minFaceSize: 20,
  scaleFactor: 0.709,
  thresholds: Object.freeze([0.6, 0.7, 0.7]) as [number, number, number],
  nms: Object.freeze({ scale: 0.5, pnet: 0.7, rnet: 0.7, onet: 0.7 }),
  resize: "area" as ResizeMode,
  stage: "onet" as Stage,
  maxBatch: 256,
  maxPnetPixels: 1 << 20,
  engine: "as" as DetectorEngine,
});

/** A config with every field optional (`nms` too, field by field). */
export type DetectorConfigInput = Partial<Omit<DetectorConfig, "nms">> & {
  nms?: Partial<NmsThresholds>;
};

/**
 * Fills the defaults into `input` and checks every value. Unknown keys and
 * bad values are a one-line TypeError / RangeError naming the field.
 *
 * @example
 * ```ts
 * resolveDetectorConfig({ stage: "rnet" }).thresholds; // [0.6, 0.7, 0.7]
 * resolveDetectorConfig({ minFace: 20 } as never); // TypeError: detector config: unknown key "minFace"
 * ```
 */
export function resolveDetectorConfig(input: DetectorConfigInput = {}): DetectorConfig {
  const where = "detector config";
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError(`${where}: expected an object, got ${describe(input)}`);
  }
  const d = DEFAULT_DETECTOR_CONFIG;
  checkKeys(input, Object.keys(d), where);
  if (input.nms !== undefined) {
    if (typeof input.nms !== "object" || input.nms === null || Array.isArray(input.nms)) {
      throw new TypeError(`${where}: nms must be an object, got ${describe(input.nms)}`);
    }
    checkKeys(input.nms, Object.keys(d.nms), `${where}: nms`);
  }
  const thresholds = input.thresholds ?? d.thresholds;
  if (!Array.isArray(thresholds) || thresholds.length !== 3) {
    throw new RangeError(
      `${where}: thresholds must be 3 numbers (PNet, RNet, ONet), got ${
        describe(input.thresholds)
      }`,
    );
  }
  const cfg: DetectorConfig = {
    minFaceSize: input.minFaceSize ?? d.minFaceSize,
    scaleFactor: input.scaleFactor ?? d.scaleFactor,
    thresholds: [...thresholds] as [number, number, number],
    nms: { ...d.nms, ...input.nms },
    resize: input.resize ?? d.resize,
    stage: input.stage ?? d.stage,
    maxBatch: input.maxBatch ?? d.maxBatch,
    maxPnetPixels: input.maxPnetPixels ?? d.maxPnetPixels,
    engine: input.engine ?? d.engine,
  };
  const num = (name: string, v: unknown, ok: (x: number) => boolean, want: string) => {
    if (typeof v !== "number" || !ok(v)) {
      throw new RangeError(`${where}: ${name} must be ${want}, got ${describe(v)}`);
    }
  };
  num("minFaceSize", cfg.minFaceSize, (x) => Number.isFinite(x) && x >= 1, "a number >= 1");
  num("scaleFactor", cfg.scaleFactor, (x) => x > 0 && x < 1, "a number in (0, 1)");
  cfg.thresholds.forEach((t, i) =>
    num(`thresholds[${i}]`, t, (x) => x >= 0 && x <= 1, "a probability in [0, 1]")
  );
  for (const k of Object.keys(d.nms) as (keyof NmsThresholds)[]) {
    num(`nms.${k}`, cfg.nms[k], (x) => x >= 0 && x <= 1, "an overlap in [0, 1]");
  }
  if (!RESIZE_MODES.includes(cfg.resize)) {
    throw new RangeError(
      `${where}: resize must be one of ${RESIZE_MODES.join(", ")}, got ${describe(cfg.resize)}`,
    );
  }
  if (!STAGES.includes(cfg.stage)) {
    throw new RangeError(
      `${where}: stage must be one of ${STAGES.join(", ")}, got ${describe(cfg.stage)}`,
    );
  }
  if (!DETECTOR_ENGINES.includes(cfg.engine)) {
    throw new RangeError(
      `${where}: engine must be one of ${DETECTOR_ENGINES.join(", ")}, got ${describe(cfg.engine)}`,
    );
  }
  num("maxBatch", cfg.maxBatch, (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
  num(
    "maxPnetPixels",
    cfg.maxPnetPixels,
    (x) => Number.isInteger(x) && x >= 144,
    "an integer >= 144 (one 12x12 window)",
  );
  return cfg;
}

function checkKeys(obj: object, known: string[], where: string) {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) {
      throw new TypeError(`${where}: unknown key "${k}" (known: ${known.join(", ")})`);
    }
  }
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`;
  if (v === null || typeof v !== "object") return String(v);
  return "an object";
}
