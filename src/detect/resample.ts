/**
 * Area resampling (OpenCV's INTER_AREA), the interpolation the published
 * MTCNN ports use for the image pyramid and the RNet / ONet crops (facenet
 * and the `mtcnn` package call `cv2.resize(..., INTER_AREA)`; the original
 * MATLAB code's `imResample` also averages when shrinking). Shrinking averages
 * every source pixel a destination pixel covers, weighted by the covered
 * fraction; enlarging is OpenCV's area-mode linear blend.
 *
 * `resizeAreaU8` and `cropResizeAreaU8ToF32` are the AssemblyScript kernels
 * (kernels/assembly/area.ts); their plain TypeScript twins, and `areaTaps`,
 * live in kernels/reference.ts. Crops read pixels outside the image as 0.
 *
 * @example
 * ```ts
 * const level = resizeAreaU8(img.data, 640, 480, 384, 288);
 * const crops = cropResizeAreaU8ToF32(img.data, 640, 480, new Int32Array([10, 20, 60, 60]), 24, 127.5, 1 / 128);
 * ```
 */
export { cropResizeAreaU8ToF32, resizeAreaU8 } from "../../kernels/mod.ts";
export { type AreaTaps, areaTaps } from "../../kernels/reference.ts";
