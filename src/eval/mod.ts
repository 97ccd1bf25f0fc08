/**
 * Evaluation: WIDER FACE AP exactly as the official MATLAB eval tools compute it, the hook
 * that writes a detector's predictions in the official layout, and the FDDB ROC.
 *
 * - wider.ts: `readWiderGroundTruth`, `readWiderPredictions`, `parseWiderPrediction`,
 *   `formatWiderPrediction`, `evaluateWider`, `normalizeWiderScores`, `vocAp`
 * - wider_predict.ts: `writeWiderPredictions` (runs a `detect(image)` callback, resumable)
 * - fddb.ts: `readFddbFolds`, `parseFddbEllipses`, `readFddbDetections`, `evaluateFddb`,
 *   `fddbRateAt`, `formatFddbRoc`
 * - fddb_raster.ts: `ellipseRegion`, `rectangleRegion`, `regionIoU` (OpenCV's masks, exactly)
 * - hungarian.ts: `maxWeightAssignment`
 * - faces.ts: `readDlibFaces`, `parseDlibFaces`, `inclusiveIoU`, `matchFaces`, `scoreFaces`,
 *   `evaluateFaceSet` (recall / precision at IoU 0.5 on annotated photos, e.g. ../shared/faces)
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
export * from "./fddb.ts";
export * from "./fddb_raster.ts";
export * from "./hungarian.ts";
export * from "./faces.ts";
