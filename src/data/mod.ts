/**
 * Data: annotation types, readers and writers for every annotation format the
 * toolkit knows (WIDER FACE .mat and text, the private format, LFW and CelebA
 * landmark lists), the MATLAB 5 .mat reader, and the sample shards.
 *
 * @example
 * ```ts
 * import { readAnnotations } from "./src/data/mod.ts";
 * const images = await readAnnotations("data/WIDER/wider_face_split/wider_face_train_bbx_gt.txt");
 * ```
 *
 * @module
 */
export type { FaceBox, ImageAnnotation, WiderAttributes } from "./types.ts";
export * from "./mat.ts";
export * from "./wider.ts";
export * from "./private.ts";
export * from "./landmarks.ts";
