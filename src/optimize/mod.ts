/**
 * Model optimisation: int8 post-training quantisation (quantize.ts). The
 * int8 engine that runs the result is src/deploy/engine_int8.ts.
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
