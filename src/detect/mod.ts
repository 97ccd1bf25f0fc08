/**
 * Face detection with the MTCNN cascade (PNet → RNet → ONet) on any nets of
 * the project: the imported original weights, the seed's, or our own.
 *
 * - config.ts: `DEFAULT_DETECTOR_CONFIG`, `resolveDetectorConfig`, `Stage`
 * - cascade.ts: `createDetector`, `detectFaces`, `detectFacesBatch` (the whole pipeline)
 * - boxes.ts: `pyramidScales`, `generateBoxes`, `nmsPerImage`, `calibrateBoxes`,
 *   `squareBoxes`, `truncateBoxes`, `padToImage`, `placeLandmarks`, `toFaces`, `toScoredBox`
 * - resample.ts: `resizeAreaU8`, `cropResizeAreaU8ToF32` (OpenCV INTER_AREA, as the published ports)
 * - load.ts: `loadDetector`, `resolveWeightPaths`, `disposeDetector`
 * - draw.ts: `formatFace`, `drawFaces`
 *
 * @example
 * ```ts
 * import { detectFaces, loadDetector } from "./src/detect/mod.ts";
 * import { initBackend } from "./src/nets/mod.ts";
 * await initBackend("wasm");
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
