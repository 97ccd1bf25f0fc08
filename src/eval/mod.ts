/**
 * Evaluation: WIDER FACE AP exactly as the official MATLAB eval tools compute it, and the
 * hook that writes a detector's predictions in the official layout.
 *
 * - wider.ts: `readWiderGroundTruth`, `readWiderPredictions`, `parseWiderPrediction`,
 *   `formatWiderPrediction`, `evaluateWider`, `normalizeWiderScores`, `vocAp`
 * - wider_predict.ts: `writeWiderPredictions` (runs a `detect(image)` callback, resumable)
 *
 * @example
 * ```ts
 * import { evaluateWider, readWiderGroundTruth, readWiderPredictions } from "./mod.ts";
 * const gt = await readWiderGroundTruth("../shared/wider");
 * const { predictions } = await readWiderPredictions("out/pred", gt.images);
 * console.log(evaluateWider(gt, predictions).settings.map((s) => s.ap));
 * ```
 * @module
 */
export * from "./wider.ts";
export * from "./wider_predict.ts";
