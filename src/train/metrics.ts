/**
 * Training and validation metrics, and the seed's results table.
 *
 * The seed's definitions (its README's tables): cls loss is the
 * cross-entropy over positives and negatives, offset loss the mean squared
 * error of the box offsets over positives and parts, cls acc the accuracy over
 * positives and negatives with the face probability thresholded at 0.5. Here
 * they are computed on the whole validation set without hard example mining.
 *
 * @example
 * ```ts
 * const acc = new MetricsAccumulator(lossCfg);
 * for (const b of batches) acc.add(outputs, b);
 * const m = acc.result(); // m.clsLoss, m.offsetLoss, m.clsAcc, m.loss
 * console.log(seedTable({ pnet: m }));
 * ```
 */
import {
  boxLossTerm,
  type LossConfig,
  type LossOutputs,
  type LossResult,
  type LossTargets,
  softplus,
} from "./losses.ts";

/** Validation metrics over a whole dataset (no OHEM). */
export interface EvalMetrics {
  samples: number;
  counts: { neg: number; pos: number; part: number; landmark: number };
  /** Cross-entropy over positives and negatives. */
  clsLoss: number;
  /** Mean squared error of the box offsets over positives and parts (the seed's offset loss). */
  offsetLoss: number;
  /** The configured box loss (MSE, smooth L1 or Wing) over positives and parts. */
  boxLoss: number;
  /** Mean squared error of the landmarks over landmark samples (NaN without them). */
  landmarkLoss: number;
  /** Accuracy over positives and negatives at face probability 0.5. */
  clsAcc: number;
  /** Positives classified as faces. */
  posAcc: number;
  /** Negatives classified as non-faces. */
  negAcc: number;
  /** The weighted total the best epoch is chosen by: w.cls·clsLoss + w.box·boxLoss + w.landmarks·landmarkLoss. */
  loss: number;
}

/** Sums {@linkcode EvalMetrics} over batches, in float64, in batch order. */
export class MetricsAccumulator {
  #ce = 0;
  #mse = 0;
  #box = 0;
  #lm = 0;
  #counts = { neg: 0, pos: 0, part: 0, landmark: 0 };
  #correct = { neg: 0, pos: 0 };
  #samples = 0;

  constructor(readonly cfg: LossConfig, readonly hasLandmarks = false) {}

  /** Adds one batch's outputs and targets. */
  add(out: LossOutputs, t: LossTargets): void {
    const n = t.labels.length;
    this.#samples += n;
    for (let i = 0; i < n; i++) {
      const label = t.labels[i];
      if (label === 0 || label === 1) {
        const d = out.logits[2 * i + 1] - out.logits[2 * i];
        this.#ce += softplus(label === 1 ? -d : d);
        if (label === 1) {
          this.#counts.pos++;
          if (d >= 0) this.#correct.pos++;
        } else {
          this.#counts.neg++;
          if (d < 0) this.#correct.neg++;
        }
      }
      if (label === 1 || label === 2) {
        if (label === 2) this.#counts.part++;
        for (let c = 0; c < 4; c++) {
          const d = out.box[4 * i + c] - t.boxes[4 * i + c];
          this.#mse += d * d;
          this.#box += boxLossTerm(d, this.cfg).value;
        }
      }
      if (label === 3) {
        this.#counts.landmark++;
        if (out.landmarks) {
          for (let c = 0; c < 10; c++) {
            const d = out.landmarks[10 * i + c] - t.landmarks[10 * i + c];
            this.#lm += d * d;
          }
        }
      }
    }
  }

  /** The metrics so far. */
  result(): EvalMetrics {
    const c = this.#counts;
    const nCls = c.pos + c.neg;
    const nBox = c.pos + c.part;
    const nLm = this.hasLandmarks ? c.landmark : 0;
    const clsLoss = nCls ? this.#ce / nCls : NaN;
    const boxLoss = nBox ? this.#box / (4 * nBox) : NaN;
    const landmarkLoss = nLm ? this.#lm / (10 * nLm) : NaN;
    const w = this.cfg.weights;
    const loss = (nCls ? w.cls * clsLoss : 0) + (nBox ? w.box * boxLoss : 0) +
      (nLm ? w.landmarks * landmarkLoss : 0);
    return {
      samples: this.#samples,
      counts: { ...c },
      clsLoss,
      offsetLoss: nBox ? this.#mse / (4 * nBox) : NaN,
      boxLoss,
      landmarkLoss,
      clsAcc: nCls ? (this.#correct.pos + this.#correct.neg) / nCls : NaN,
      posAcc: c.pos ? this.#correct.pos / c.pos : NaN,
      negAcc: c.neg ? this.#correct.neg / c.neg : NaN,
      loss,
    };
  }
}

/** Means of the training losses over an epoch's steps (with OHEM, with augmentation). */
export interface TrainMetrics {
  steps: number;
  samples: number;
  /** Mean over steps of the total loss. */
  loss: number;
  clsLoss: number;
  boxLoss: number;
  landmarkLoss: number;
  /** Accuracy over the classification samples of all steps. */
  clsAcc: number;
}

/** Running sums behind {@linkcode TrainMetrics}: plain numbers, saved in checkpoints. */
export interface TrainSums {
  steps: number;
  samples: number;
  loss: number;
  cls: number;
  box: number;
  landmarks: number;
  correct: number;
  clsSamples: number;
}

/** Empty {@linkcode TrainSums}. */
export function emptyTrainSums(): TrainSums {
  return { steps: 0, samples: 0, loss: 0, cls: 0, box: 0, landmarks: 0, correct: 0, clsSamples: 0 };
}

/** Adds one step's loss to the sums (in place). */
export function addStep(s: TrainSums, r: LossResult, samples: number): void {
  s.steps++;
  s.samples += samples;
  s.loss += r.total;
  s.cls += r.cls;
  s.box += r.box;
  s.landmarks += r.landmarks;
  s.correct += r.correct;
  s.clsSamples += r.counts.cls;
}

/** The means of {@linkcode TrainSums}. */
export function trainMetrics(s: TrainSums): TrainMetrics {
  const k = s.steps || NaN;
  return {
    steps: s.steps,
    samples: s.samples,
    loss: s.loss / k,
    clsLoss: s.cls / k,
    boxLoss: s.box / k,
    landmarkLoss: s.landmarks / k,
    clsAcc: s.clsSamples ? s.correct / s.clsSamples : NaN,
  };
}

/**
 * The seed README's table (cls loss / offset loss / cls acc) for the given
 * nets, as Markdown.
 *
 * @example
 * ```ts
 * seedTable({ pnet: metrics }, "synthetic sample");
 * // |  synthetic sample | Pnet |
 * // | :---: | :---: |
 * // | cls loss | 0.156 | ...
 * ```
 */
export function seedTable(
  rows: Partial<Record<"pnet" | "rnet" | "onet", EvalMetrics>>,
  title = "validation",
): string {
  const nets = (["pnet", "rnet", "onet"] as const).filter((n) => rows[n]);
  const name = (n: string) => n[0].toUpperCase() + n.slice(1);
  const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : "-");
  const lines = [
    `| ${title} | ${nets.map(name).join(" | ")} |`,
    `| :---: | ${nets.map(() => ":---:").join(" | ")} |`,
    `| cls loss | ${nets.map((n) => fmt(rows[n]!.clsLoss)).join(" | ")} |`,
    `| offset loss | ${nets.map((n) => fmt(rows[n]!.offsetLoss)).join(" | ")} |`,
    `| cls acc | ${nets.map((n) => fmt(rows[n]!.clsAcc)).join(" | ")} |`,
  ];
  if (nets.some((n) => Number.isFinite(rows[n]!.landmarkLoss))) {
    lines.push(`| landmark loss | ${nets.map((n) => fmt(rows[n]!.landmarkLoss)).join(" | ")} |`);
  }
  return lines.join("\n");
}
