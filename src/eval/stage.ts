/**
 * Stage metrics: what the seed's tables report for one net on a shard
 * dataset — cls loss (cross-entropy over positives and negatives), offset
 * loss (MSE of the box offsets over positives and parts), cls acc (positives
 * and negatives at probability 0.5) — plus the recall of positives at the
 * stage's cascade threshold, so that every net and every optimised variant
 * (pruned, int8, distilled) is compared on the same footing. Runs on the
 * AssemblyScript engine (fp32 or int8, as the weights file holds).
 *
 * @example
 * ```ts
 * const m = await evaluateStage(await loadNetData("weights/demo/best_rnet.mtcnn"), ["data/rnet24/val"], { threshold: 0.7 });
 * ```
 */
import { readBatches } from "../data/shards.ts";
import { createEngine } from "../deploy/engine.ts";
import type { NetData } from "../nets/net.ts";
import { type EvalMetrics, MetricsAccumulator } from "../train/metrics.ts";
import { resolveLossConfig } from "../train/losses.ts";

/** The published cascade's stage thresholds (PNet 0.6, RNet and ONet 0.7). */
export const STAGE_THRESHOLDS = { pnet: 0.6, rnet: 0.7, onet: 0.7 } as const;

/** Options of {@linkcode evaluateStage}. */
export interface StageOptions {
  /** The stage's face-probability threshold (PNet 0.6, RNet and ONet 0.7 in the published cascade). */
  threshold: number;
  /** Which net's loss weights to use for the total (default: from the arch name, else "pnet"). */
  net?: "pnet" | "rnet" | "onet";
  batchSize?: number;
}

/** The seed's metrics plus recall and precision at the stage threshold. */
export interface StageMetrics extends EvalMetrics {
  threshold: number;
  /** Positives with face probability >= threshold. */
  recallAtThreshold: number;
  /** Negatives with face probability >= threshold (false alarms), as a fraction of negatives. */
  falseAlarmAtThreshold: number;
}

/** Evaluates a net on every sample of the datasets once. */
export async function evaluateStage(
  data: NetData,
  dirs: string[],
  opts: StageOptions,
): Promise<StageMetrics> {
  if (!(opts.threshold >= 0 && opts.threshold <= 1)) {
    throw new RangeError(`threshold must be in [0, 1], got ${opts.threshold}`);
  }
  const name = opts.net ??
    (["pnet", "rnet", "onet"].includes(data.arch.name) ? data.arch.name : "pnet");
  const acc = new MetricsAccumulator(
    resolveLossConfig(name as "pnet"),
    data.arch.layers.some((l) => l.kind === "landmarks"),
  );
  const engine = await createEngine(data);
  const size = data.arch.input.size;
  let pos = 0, posHit = 0, neg = 0, negHit = 0;
  for await (
    const b of readBatches(dirs, { batchSize: opts.batchSize ?? 256, seed: 0, shuffle: false })
  ) {
    if (b.size !== size) {
      throw new TypeError(
        `Cannot evaluate: the dataset has ${b.size} px samples, the net takes ${size} px`,
      );
    }
    const out = engine.run(b.pixels, b.count, size, size);
    if (out.cls.length !== b.count) {
      throw new TypeError(
        `Cannot evaluate: the net gives ${out.cls.length / b.count} outputs per ${size} px sample`,
      );
    }
    const logits = new Float32Array(2 * b.count);
    for (let i = 0; i < b.count; i++) {
      const p = Math.min(1 - 1e-7, Math.max(1e-7, out.cls[i]));
      logits[2 * i + 1] = Math.log(p / (1 - p));
      if (b.labels[i] === 1) {
        pos++;
        if (out.cls[i] >= opts.threshold) posHit++;
      } else if (b.labels[i] === 0) {
        neg++;
        if (out.cls[i] >= opts.threshold) negHit++;
      }
    }
    acc.add({ logits, box: out.box, landmarks: out.landmarks }, b);
  }
  return {
    ...acc.result(),
    threshold: opts.threshold,
    recallAtThreshold: pos ? posHit / pos : NaN,
    falseAlarmAtThreshold: neg ? negHit / neg : NaN,
  };
}
