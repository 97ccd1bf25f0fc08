/**
 * Model optimisation: int8 post-training quantisation (quantize.ts; the
 * int8 engine that runs the result is src/deploy/engine_int8.ts) and
 * iterative first-order Taylor channel pruning into real smaller nets
 * (taylor.ts scores filters, prune.ts cuts them and fine-tunes), and knowledge
 * distillation experiments (distill.ts: a student with and without a teacher).
 *
 * @example
 * ```ts
 * import { ptq, readSamples } from "./src/optimize/mod.ts";
 * const r = ptq(data, await readSamples([calib], 2048), await readSamples([val], 1000));
 * ```
 */
export {
  actQuant,
  type CalibrateOptions,
  dequantizeWeight,
  evaluateSim,
  fakeQuant,
  forwardSim,
  ptq,
  type PtqCandidate,
  type PtqResult,
  type QuantBlock,
  quantBlocks,
  quantizeNet,
  quantizeValue,
  quantizeWeight,
  type QuantMetrics,
  readSamples,
  roundEven,
  type SimOptions,
  type SimOutput,
  weightBytes,
} from "./quantize.ts";
export * from "./taylor.ts";
export * from "./prune.ts";
export * from "./distill.ts";
export * from "./qat.ts";
export * from "./report.ts";
