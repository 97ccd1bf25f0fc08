/**
 * Face detection with the MTCNN cascade (PNet → RNet → ONet) on any nets of
 * the project: the imported original weights, the seed's, or our own.
 *
 * - config.ts: `DEFAULT_DETECTOR_CONFIG`, `resolveDetectorConfig`, `Stage`
 * - cascade.ts: `createDetector`, `createEngineDetector`, `detectFaces`, `detectFacesBatch` (the
 *   whole pipeline), `isEngine`; config `engine`: "as" (default: the AssemblyScript engine of
 *   src/deploy, no tfjs backend needed) or "tfjs" (same faces, slower)
 * - boxes.ts: `pyramidScales`, `generateBoxes`, `nmsPerImage`, `calibrateBoxes`,
 *   `squareBoxes`, `truncateBoxes`, `padToImage`, `placeLandmarks`, `toFaces`, `toScoredBox`
 * - resample.ts: `resizeAreaU8`, `cropResizeAreaU8ToF32` (OpenCV INTER_AREA, as the published
 *   ports; the AssemblyScript kernels of kernels/assembly/area.ts, twins in kernels/reference.ts)
 * - load.ts: `loadDetector`, `resolveWeightPaths`, `disposeDetector`
 * - draw.ts: `formatFace`, `drawFaces`
 *
 * Conventions. Boxes are `[x1, y1, x2, y2]` floats in 0-based pixel indexes with x2/y2
 * inclusive (MTCNN's: width `x2 - x1 + 1`; `toScoredBox` gives WIDER's x, y, w, h);
 * landmarks `[x1, y1, ..., x5, y5]`. Inside the cascade every step follows `detect_face.m`
 * (1-based, `fix`, `+ 1` widths after RNet/ONet but not after PNet, "min" NMS last).
 * The default resize is area averaging, as the published ports (facenet, `mtcnn`) and the
 * original's `imResample` shrink: with bilinear resizes the original weights miss one of the
 * 18 annotated faces in ../shared/faces (see tests/detect_test.ts); `resize: "bilinear"` is
 * the faster option (the area resize and crops are ~25% of a 640x480 cascade on the AS engine).
 *
 * @example
 * ```ts
 * import { detectFaces, loadDetector } from "./src/detect/mod.ts";
 * const detector = await loadDetector(undefined, { minFaceSize: 40 });
 * console.log(detectFaces(detector, image));
 * ```
 * @module
 */
export * from "./config.ts";
export * from "./boxes.ts";
export * from "./cascade.ts";
export * from "./resample.ts";
export * from "./load.ts";
export * from "./draw.ts";
