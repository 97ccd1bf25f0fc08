/**
 * The MTCNN multi-task loss, computed on the host from a batch's outputs (a
 * few floats per sample), with its exact gradient with respect to those
 * outputs. The trainer runs the nets' forward pass on tfjs, hands the outputs
 * here, and back-propagates the returned gradient: the whole batch's loss is
 * seen in one place, so online hard example mining selects over the whole
 * batch whatever number of workers computed it, and no `tf.gather` (which has
 * no gradient on the wasm backend) appears anywhere. Every selection is a
 * mask.
 *
 * Per sample, by label (see `Label` in src/data/shards.ts):
 *
 * | label | classification | box regression | landmarks |
 * | --- | --- | --- | --- |
 * | negative | target 0 | – | – |
 * | positive | target 1 | yes | – |
 * | part | – | yes | – |
 * | landmark | – | – | yes |
 *
 * - classification: 2-way softmax cross-entropy of the logits. With online
 *   hard example mining (`ohem` < 1) only the `floor(ohem · m)` largest of the
 *   batch's m classification losses (at least one) count, ties broken by the
 *   lower sample index; the mean is over the kept samples.
 * - box regression: `mse`, `smoothl1` or `wing`, mean over the 4 coordinates
 *   of the box samples.
 * - landmarks: mean squared error over the 10 coordinates of the landmark samples.
 * - total: `weights.cls · cls + weights.box · box + weights.landmarks · landmarks`;
 *   a term with no samples in the batch is 0.
 *
 * {@linkcode lossTf} is the same loss as tfjs ops (differentiable with
 * `tf.grads`) for callers that build their own training loop.
 *
 * Knowledge distillation ({@linkcode distillLoss}) mixes this ground-truth
 * loss with terms that pull the student's outputs towards a teacher's
 * outputs on the same (augmented) input:
 * `total = (1 − alpha) · ground truth + alpha · (w.cls · T² · KL + w.box · box + w.landmarks · landmarks)`,
 * with the net's task weights `w` and temperature `T`:
 *
 * | term | samples | what |
 * | --- | --- | --- |
 * | KL | all (negative, positive, part, landmark) | KL(teacher ‖ student) of the 2-way softmax of logits / T, mean over samples, scaled by T² (Hinton et al.) so its gradient keeps the size of the hard loss's across T |
 * | box | positive, part, landmark | the configured box loss between student and teacher offsets, mean over 4 coordinates |
 * | landmarks | positive, part, landmark | squared error between student and teacher landmarks, mean over 10 coordinates (only when both nets have the head) |
 *
 * Why these samples: the teacher's face probability is informative on every
 * window, most of all on the ones the ground truth leaves out or labels only
 * coarsely (parts, landmark crops, hard negatives), so the soft term covers
 * the whole batch and no OHEM applies to it. The teacher's box and landmark
 * regressions were only ever trained on windows that hold a face, so they
 * are meaningful on positives, parts and landmark crops (there the teacher
 * gives the box that the landmark datasets lack) and noise on negatives,
 * which get none.
 *
 * @example
 * ```ts
 * const cfg = resolveLossConfig("pnet", { boxLoss: "smoothl1" });
 * const r = computeLoss({ logits, box }, { labels, boxes, landmarks }, cfg);
 * console.log(r.total, r.cls, r.box, r.accuracy); // r.dLogits, r.dBox: gradients
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";

/** Box regression losses. */
export type BoxLossKind = "mse" | "smoothl1" | "wing";
/** The names {@linkcode BoxLossKind} accepts. */
export const BOX_LOSS_KINDS: readonly BoxLossKind[] = ["mse", "smoothl1", "wing"];

/** Weights of the three task losses in the total. */
export interface LossWeights {
  cls: number;
  box: number;
  landmarks: number;
}

/** The paper's task weights: PNet and RNet 1 / 0.5 / 0.5, ONet 1 / 0.5 / 1. */
export const NET_LOSS_WEIGHTS: Record<"pnet" | "rnet" | "onet", LossWeights> = {
  pnet: { cls: 1, box: 0.5, landmarks: 0.5 },
  rnet: { cls: 1, box: 0.5, landmarks: 0.5 },
  onet: { cls: 1, box: 0.5, landmarks: 1 },
};

/** Everything that defines the loss. */
export interface LossConfig {
  weights: LossWeights;
  boxLoss: BoxLossKind;
  /** Fraction of the classification samples kept by hard example mining (1: all). */
  ohem: number;
  /** Smooth L1: quadratic below `beta`, linear above (in offset units, fractions of the window). */
  smoothL1Beta: number;
  /** Wing loss width `w`: logarithmic below it (in offset units). */
  wingWidth: number;
  /** Wing loss curvature `epsilon`. */
  wingEpsilon: number;
}

/** Defaults apart from the weights: OHEM 0.7 (the paper), MSE (the seed). */
export const DEFAULT_LOSS_CONFIG: Omit<LossConfig, "weights"> = {
  boxLoss: "mse",
  ohem: 0.7,
  smoothL1Beta: 0.1,
  wingWidth: 0.1,
  wingEpsilon: 0.02,
};

/**
 * Fills defaults for `net` (its paper weights) and checks every field:
 * unknown keys and out-of-range values are one-line RangeErrors.
 */
export function resolveLossConfig(
  net: "pnet" | "rnet" | "onet",
  partial: Partial<Omit<LossConfig, "weights">> & { weights?: Partial<LossWeights> } = {},
): LossConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_LOSS_CONFIG) && key !== "weights") {
      throw new RangeError(`unknown loss option "${key}"`);
    }
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const weights = { ...NET_LOSS_WEIGHTS[net], ...(partial.weights ?? {}) };
  for (const [k, v] of Object.entries(weights)) {
    if (!(k in NET_LOSS_WEIGHTS.pnet)) throw new RangeError(`unknown loss weight "${k}"`);
    if (!(typeof v === "number" && v >= 0 && Number.isFinite(v))) {
      throw new RangeError(`loss weight "${k}" must be a number >= 0, got ${v}`);
    }
  }
  const cfg = { ...DEFAULT_LOSS_CONFIG, ...defined, weights } as LossConfig;
  if (!BOX_LOSS_KINDS.includes(cfg.boxLoss)) {
    throw new RangeError(
      `box loss must be one of ${BOX_LOSS_KINDS.join(", ")}, got "${cfg.boxLoss}"`,
    );
  }
  if (!(cfg.ohem > 0 && cfg.ohem <= 1)) {
    throw new RangeError(`ohem must be in (0, 1], got ${cfg.ohem}`);
  }
  for (const k of ["smoothL1Beta", "wingWidth", "wingEpsilon"] as const) {
    if (!(cfg[k] > 0 && Number.isFinite(cfg[k]))) {
      throw new RangeError(`loss option "${k}" must be > 0, got ${cfg[k]}`);
    }
  }
  return cfg;
}

/** A batch's outputs: row-major, one row per sample. */
export interface LossOutputs {
  /** [n, 2] (not-face, face). */
  logits: Float32Array;
  /** [n, 4]. */
  box: Float32Array;
  /** [n, 10], when the net has a landmark head. */
  landmarks?: Float32Array;
}

/** A batch's targets, as `Batch` of src/data/shards.ts holds them. */
export interface LossTargets {
  /** Label per sample: 0 negative, 1 positive, 2 part, 3 landmark. */
  labels: ArrayLike<number>;
  /** [n, 4] box offsets (NaN where absent). */
  boxes: ArrayLike<number>;
  /** [n, 10] landmarks (NaN where absent). */
  landmarks: ArrayLike<number>;
}

/** The loss of a batch, its parts, counts, and its gradient with respect to the outputs. */
export interface LossResult {
  total: number;
  /** Classification loss (over the OHEM-kept samples). */
  cls: number;
  box: number;
  landmarks: number;
  /** Samples in each term: classification (before OHEM), kept by OHEM, box, landmarks. */
  counts: { cls: number; kept: number; box: number; landmarks: number };
  /** Correct face/non-face decisions (face probability >= 0.5) among the classification samples. */
  correct: number;
  /** `correct / counts.cls` (NaN without classification samples). */
  accuracy: number;
  /** d total / d logits, [n, 2] (only with `gradient`). */
  dLogits?: Float32Array;
  dBox?: Float32Array;
  dLandmarks?: Float32Array;
  /** OHEM mask: 1 for the classification samples that counted. */
  kept: Uint8Array;
}

/** Which tasks a label takes part in. */
export function taskMasks(label: number): { cls: boolean; box: boolean; landmarks: boolean } {
  return {
    cls: label === 0 || label === 1,
    box: label === 1 || label === 2,
    landmarks: label === 3,
  };
}

/** Numerically stable log(1 + e^z). */
export function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

/** Logistic sigmoid. */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** The box loss of one coordinate difference `d` (prediction − target), and its derivative. */
export function boxLossTerm(d: number, cfg: LossConfig): { value: number; grad: number } {
  switch (cfg.boxLoss) {
    case "mse":
      return { value: d * d, grad: 2 * d };
    case "smoothl1": {
      const a = Math.abs(d);
      const b = cfg.smoothL1Beta;
      return a < b ? { value: 0.5 * d * d / b, grad: d / b } : {
        value: a - 0.5 * b,
        grad: Math.sign(d),
      };
    }
    case "wing": {
      const a = Math.abs(d);
      const w = cfg.wingWidth;
      const e = cfg.wingEpsilon;
      if (a < w) return { value: w * Math.log1p(a / e), grad: Math.sign(d) * w / (e + a) };
      const c = w - w * Math.log1p(w / e);
      return { value: a - c, grad: Math.sign(d) };
    }
  }
}

/**
 * Indices of the `k` largest of `values` at the positions where `mask` is set,
 * ties broken by the lower index; returns a 0/1 mask.
 *
 * @example
 * ```ts
 * hardestMask(new Float32Array([0.1, 0.9, 0.5]), new Uint8Array([1, 1, 1]), 2); // [0, 1, 1]
 * ```
 */
export function hardestMask(
  values: ArrayLike<number>,
  mask: ArrayLike<number>,
  k: number,
): Uint8Array {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (mask[i]) idx.push(i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  const out = new Uint8Array(values.length);
  for (let j = 0; j < Math.min(k, idx.length); j++) out[idx[j]] = 1;
  return out;
}

/** How many of `m` classification samples OHEM keeps: floor(ratio · m), at least 1 when m > 0. */
export function ohemKeep(m: number, ratio: number): number {
  return m === 0 ? 0 : Math.max(1, Math.floor(ratio * m + 1e-9));
}

/**
 * The loss of a batch and (with `gradient`, default true) its gradient with
 * respect to the outputs. `ohem` false turns hard example mining off
 * (validation). A NaN in an output that counts makes the loss NaN; NaN
 * targets where a label takes no part are ignored.
 */
export function computeLoss(
  out: LossOutputs,
  targets: LossTargets,
  cfg: LossConfig,
  opts: { ohem?: boolean; gradient?: boolean } = {},
): LossResult {
  const n = targets.labels.length;
  const gradient = opts.gradient ?? true;
  if (out.logits.length !== 2 * n || out.box.length !== 4 * n) {
    throw new RangeError(
      `computeLoss: outputs hold ${out.logits.length / 2} logits / ${
        out.box.length / 4
      } boxes for ${n} labels`,
    );
  }
  const hasLm = out.landmarks !== undefined;
  // classification: per-sample cross-entropy, d = logit(face) - logit(not face)
  const ce = new Float64Array(n);
  const clsMask = new Uint8Array(n);
  let m = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const label = targets.labels[i];
    if (label !== 0 && label !== 1) continue;
    clsMask[i] = 1;
    m++;
    const d = out.logits[2 * i + 1] - out.logits[2 * i];
    ce[i] = softplus(label === 1 ? -d : d);
    // face probability sigmoid(d) >= 0.5 <=> d >= 0
    if ((d >= 0) === (label === 1)) correct++;
  }
  const ratio = opts.ohem === false ? 1 : cfg.ohem;
  const k = ohemKeep(m, ratio);
  const kept = k === m ? clsMask : hardestMask(ce, clsMask, k);
  let clsSum = 0;
  let nan = false;
  for (let i = 0; i < n; i++) {
    if (kept[i]) clsSum += ce[i];
    else if (clsMask[i] && Number.isNaN(ce[i])) nan = true;
  }
  // a NaN output must not hide behind OHEM's selection
  const cls = nan ? NaN : k > 0 ? clsSum / k : 0;

  // box regression over positives and parts
  let nBox = 0;
  for (let i = 0; i < n; i++) if (targets.labels[i] === 1 || targets.labels[i] === 2) nBox++;
  let boxSum = 0;
  const dBox = gradient ? new Float32Array(4 * n) : undefined;
  const wBox = cfg.weights.box;
  for (let i = 0; i < n; i++) {
    const label = targets.labels[i];
    if (label !== 1 && label !== 2) continue;
    for (let c = 0; c < 4; c++) {
      const t = boxLossTerm(out.box[4 * i + c] - targets.boxes[4 * i + c], cfg);
      boxSum += t.value;
      if (dBox) dBox[4 * i + c] = wBox * t.grad / (4 * nBox);
    }
  }
  const box = nBox > 0 ? boxSum / (4 * nBox) : 0;

  // landmarks over landmark samples
  let nLm = 0;
  let lmSum = 0;
  const dLandmarks = gradient && hasLm ? new Float32Array(10 * n) : undefined;
  if (hasLm) {
    for (let i = 0; i < n; i++) if (targets.labels[i] === 3) nLm++;
    const wLm = cfg.weights.landmarks;
    for (let i = 0; i < n; i++) {
      if (targets.labels[i] !== 3) continue;
      for (let c = 0; c < 10; c++) {
        const d = out.landmarks![10 * i + c] - targets.landmarks[10 * i + c];
        lmSum += d * d;
        if (dLandmarks) dLandmarks[10 * i + c] = wLm * 2 * d / (10 * nLm);
      }
    }
  }
  const landmarks = nLm > 0 ? lmSum / (10 * nLm) : 0;

  let dLogits: Float32Array | undefined;
  if (gradient) {
    dLogits = new Float32Array(2 * n);
    const wCls = cfg.weights.cls;
    for (let i = 0; i < n; i++) {
      if (!kept[i]) continue;
      const d = out.logits[2 * i + 1] - out.logits[2 * i];
      // d CE / d d = sigmoid(d) - y; d d / d logit(face) = 1, / d logit(not face) = -1
      const g = wCls * (sigmoid(d) - targets.labels[i]) / k;
      dLogits[2 * i + 1] = g;
      dLogits[2 * i] = -g;
    }
  }
  const total = cfg.weights.cls * cls + cfg.weights.box * box +
    (hasLm ? cfg.weights.landmarks * landmarks : 0);
  return {
    total,
    cls,
    box,
    landmarks,
    counts: { cls: m, kept: k, box: nBox, landmarks: nLm },
    correct,
    accuracy: m > 0 ? correct / m : NaN,
    dLogits,
    dBox,
    dLandmarks,
    kept,
  };
}

/** Target tensors for {@linkcode lossTf}, built once per batch from host arrays. */
export interface TfTargets {
  /** [n] 1 for positives, else 0. */
  face: tf.Tensor1D;
  /** [n] masks per task. */
  clsMask: tf.Tensor1D;
  boxMask: tf.Tensor1D;
  lmMask: tf.Tensor1D;
  /** [n, 4] and [n, 10] with NaN replaced by 0. */
  boxes: tf.Tensor2D;
  landmarks: tf.Tensor2D;
  counts: { cls: number; box: number; landmarks: number };
}

/** Builds {@linkcode TfTargets} (the caller disposes them with `tf.dispose`). */
export function tfTargets(t: LossTargets): TfTargets {
  const n = t.labels.length;
  const face = new Float32Array(n);
  const clsMask = new Float32Array(n);
  const boxMask = new Float32Array(n);
  const lmMask = new Float32Array(n);
  const boxes = new Float32Array(4 * n);
  const landmarks = new Float32Array(10 * n);
  const counts = { cls: 0, box: 0, landmarks: 0 };
  for (let i = 0; i < n; i++) {
    const m = taskMasks(t.labels[i]);
    face[i] = t.labels[i] === 1 ? 1 : 0;
    if (m.cls) (clsMask[i] = 1, counts.cls++);
    if (m.box) {
      boxMask[i] = 1;
      counts.box++;
      for (let c = 0; c < 4; c++) boxes[4 * i + c] = t.boxes[4 * i + c];
    }
    if (m.landmarks) {
      lmMask[i] = 1;
      counts.landmarks++;
      for (let c = 0; c < 10; c++) landmarks[10 * i + c] = t.landmarks[10 * i + c];
    }
  }
  return {
    face: tf.tensor1d(face),
    clsMask: tf.tensor1d(clsMask),
    boxMask: tf.tensor1d(boxMask),
    lmMask: tf.tensor1d(lmMask),
    boxes: tf.tensor2d(boxes, [n, 4]),
    landmarks: tf.tensor2d(landmarks, [n, 10]),
    counts,
  };
}

/**
 * {@linkcode computeLoss}'s total as a differentiable tfjs scalar, built from
 * masks only (no gather). `logits`, `box`, `landmarks` are [n, 2], [n, 4],
 * [n, 10] (PNet's 1×1 maps flattened). OHEM's selection is made on a
 * stop-gradient copy of the per-sample losses (read back to the host), so the
 * gradient flows only through the kept samples' losses.
 *
 * @example
 * ```ts
 * const t = tfTargets(batch);
 * const grads = tf.grads((lg, bx) => lossTf({ logits: lg, box: bx }, t, cfg))([logits, box]);
 * ```
 */
export function lossTf(
  out: { logits: tf.Tensor; box: tf.Tensor; landmarks?: tf.Tensor },
  t: TfTargets,
  cfg: LossConfig,
  opts: { ohem?: boolean } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const n = t.face.shape[0];
    const logits = tf.reshape(out.logits, [n, 2]);
    const d = tf.reshape(tf.matMul(logits, tf.tensor2d([-1, 1], [2, 1])), [n]);
    // softplus((1 - 2y) d): y = 1 → softplus(-d), y = 0 → softplus(d)
    const sign = tf.sub(1, tf.mul(2, t.face));
    const ce = tf.softplus(tf.mul(sign, d));
    const ratio = opts.ohem === false ? 1 : cfg.ohem;
    const k = ohemKeep(t.counts.cls, ratio);
    let keep: tf.Tensor = t.clsMask;
    if (k < t.counts.cls) {
      const copy = ce.dataSync(); // a stop-gradient copy: the selection is a constant mask
      keep = tf.tensor1d(Float32Array.from(hardestMask(copy, t.clsMask.dataSync(), k)));
    }
    let total = k > 0 ? tf.mul(cfg.weights.cls / k, tf.sum(tf.mul(ce, keep))) : tf.scalar(0);
    if (t.counts.box > 0) {
      const diff = tf.sub(tf.reshape(out.box, [n, 4]), t.boxes);
      // piecewise losses through min(|d|, knee): no where/less on the tape (no gradient for Less)
      let per: tf.Tensor;
      if (cfg.boxLoss === "mse") per = tf.square(diff);
      else if (cfg.boxLoss === "smoothl1") {
        const a = tf.abs(diff);
        const b = cfg.smoothL1Beta;
        const q = tf.minimum(a, b);
        per = tf.add(tf.mul(0.5 / b, tf.square(q)), tf.sub(a, q));
      } else {
        const a = tf.abs(diff);
        const w = cfg.wingWidth;
        const q = tf.minimum(a, w);
        per = tf.add(tf.mul(w, tf.log1p(tf.div(q, cfg.wingEpsilon))), tf.sub(a, q));
      }
      const masked = tf.mul(per, tf.reshape(t.boxMask, [n, 1]));
      total = tf.add(total, tf.mul(cfg.weights.box / (4 * t.counts.box), tf.sum(masked)));
    }
    if (out.landmarks && t.counts.landmarks > 0) {
      const diff = tf.sub(tf.reshape(out.landmarks, [n, 10]), t.landmarks);
      const masked = tf.mul(tf.square(diff), tf.reshape(t.lmMask, [n, 1]));
      total = tf.add(
        total,
        tf.mul(cfg.weights.landmarks / (10 * t.counts.landmarks), tf.sum(masked)),
      );
    }
    return total as tf.Scalar;
  });
}

/** The distillation settings of the loss: temperature and mixing weight. */
export interface DistillLossConfig {
  /** Softmax temperature T of both nets' face probabilities (> 0; 1: no softening). */
  temperature: number;
  /** Weight of the distillation terms; the ground-truth loss gets 1 − alpha. */
  alpha: number;
}

/** The distillation terms of a batch (before the `alpha` mix). */
export interface DistillParts {
  /** Mean KL(teacher ‖ student) of the softened face probabilities (not yet scaled by T²). */
  cls: number;
  /** Box loss to the teacher's offsets, landmark MSE to the teacher's landmarks. */
  box: number;
  landmarks: number;
  /** The ground-truth total (`computeLoss`), before the `alpha` mix. */
  groundTruth: number;
  /** Samples in each term. */
  counts: { cls: number; box: number; landmarks: number };
}

/** Checks a {@linkcode DistillLossConfig} (one-line RangeError naming the field). */
export function checkDistillLoss(d: DistillLossConfig): DistillLossConfig {
  if (!(typeof d.temperature === "number" && d.temperature > 0 && Number.isFinite(d.temperature))) {
    throw new RangeError(`distillation temperature must be > 0, got ${d.temperature}`);
  }
  if (!(typeof d.alpha === "number" && d.alpha >= 0 && d.alpha <= 1)) {
    throw new RangeError(`distillation alpha must be in [0, 1], got ${d.alpha}`);
  }
  return d;
}

/**
 * The ground-truth loss of {@linkcode computeLoss} mixed with distillation
 * terms towards `teacher`'s outputs on the same input (see the module
 * comment for the terms and the samples each one covers), with the exact
 * gradient with respect to the student's outputs. `total` and the gradients
 * are the mix; `cls`, `box`, `landmarks`, `accuracy` stay the ground-truth
 * parts; `distill` holds the distillation terms.
 *
 * @example
 * ```ts
 * const r = distillLoss(student, batch, teacherOut, lossCfg, { temperature: 2, alpha: 0.5 });
 * console.log(r.total, r.distill.cls); // r.dLogits etc.: gradients of r.total
 * ```
 */
export function distillLoss(
  out: LossOutputs,
  targets: LossTargets,
  teacher: LossOutputs,
  cfg: LossConfig,
  d: DistillLossConfig,
  opts: { ohem?: boolean; gradient?: boolean } = {},
): LossResult & { distill: DistillParts } {
  checkDistillLoss(d);
  const n = targets.labels.length;
  if (teacher.logits.length !== 2 * n || teacher.box.length !== 4 * n) {
    throw new RangeError(
      `distillLoss: the teacher's outputs hold ${teacher.logits.length / 2} logits / ${
        teacher.box.length / 4
      } boxes for ${n} labels`,
    );
  }
  const gradient = opts.gradient ?? true;
  const gt = computeLoss(out, targets, cfg, opts);
  const T = d.temperature;
  const a = d.alpha;
  const w = cfg.weights;
  const useLm = out.landmarks !== undefined && teacher.landmarks !== undefined;

  // soft classification over every sample: z = (face − not face) / T
  let kl = 0;
  const gCls = gradient ? new Float64Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const zs = (out.logits[2 * i + 1] - out.logits[2 * i]) / T;
    const zt = (teacher.logits[2 * i + 1] - teacher.logits[2 * i]) / T;
    const p = sigmoid(zt);
    // KL(p ‖ q) = CE(p, q) − H(p), each as softplus terms (stable for any z)
    const ce = p * softplus(-zs) + (1 - p) * softplus(zs);
    const h = p * softplus(-zt) + (1 - p) * softplus(zt);
    kl += ce - h;
    // d CE / d zs = q − p; d zs / d (face logit) = 1 / T
    if (gCls) gCls[i] = (sigmoid(zs) - p) / T;
  }
  const klMean = n > 0 ? kl / n : 0;

  // box and landmarks to the teacher on the windows that hold a face
  let nFace = 0;
  for (let i = 0; i < n; i++) if (targets.labels[i] !== 0) nFace++;
  let boxSum = 0;
  let lmSum = 0;
  const gBox = gradient ? new Float64Array(4 * n) : undefined;
  const gLm = gradient && useLm ? new Float64Array(10 * n) : undefined;
  for (let i = 0; i < n; i++) {
    if (targets.labels[i] === 0) continue;
    for (let c = 0; c < 4; c++) {
      const t = boxLossTerm(out.box[4 * i + c] - teacher.box[4 * i + c], cfg);
      boxSum += t.value;
      if (gBox) gBox[4 * i + c] = t.grad / (4 * nFace);
    }
    if (useLm) {
      for (let c = 0; c < 10; c++) {
        const e = out.landmarks![10 * i + c] - teacher.landmarks![10 * i + c];
        lmSum += e * e;
        if (gLm) gLm[10 * i + c] = 2 * e / (10 * nFace);
      }
    }
  }
  const box = nFace > 0 ? boxSum / (4 * nFace) : 0;
  const landmarks = useLm && nFace > 0 ? lmSum / (10 * nFace) : 0;
  const kd = w.cls * T * T * klMean + w.box * box + (useLm ? w.landmarks * landmarks : 0);
  const total = (1 - a) * gt.total + a * kd;

  let { dLogits, dBox, dLandmarks } = gt;
  if (gradient) {
    dLogits = new Float32Array(2 * n);
    dBox = new Float32Array(4 * n);
    const hasLm = out.landmarks !== undefined;
    dLandmarks = hasLm ? new Float32Array(10 * n) : undefined;
    for (let i = 0; i < n; i++) {
      // T² · (q − p) / T / n on the face logit, its negative on the other
      const g = a * w.cls * T * T * gCls![i] / n;
      dLogits[2 * i + 1] = (1 - a) * gt.dLogits![2 * i + 1] + g;
      dLogits[2 * i] = (1 - a) * gt.dLogits![2 * i] - g;
    }
    for (let j = 0; j < 4 * n; j++) dBox[j] = (1 - a) * gt.dBox![j] + a * w.box * gBox![j];
    if (dLandmarks) {
      for (let j = 0; j < 10 * n; j++) {
        dLandmarks[j] = (1 - a) * gt.dLandmarks![j] + (gLm ? a * w.landmarks * gLm[j] : 0);
      }
    }
  }
  return {
    ...gt,
    total,
    dLogits,
    dBox,
    dLandmarks,
    distill: {
      cls: klMean,
      box,
      landmarks,
      groundTruth: gt.total,
      counts: { cls: n, box: nFace, landmarks: useLm ? nFace : 0 },
    },
  };
}
