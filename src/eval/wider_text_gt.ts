/**
 * WIDER-style ground truth from annotation text (a `wider_face_*_bbx_gt.txt`
 * or the private format) instead of the official eval tools' `.mat` files,
 * for datasets that have no official easy / medium / hard lists — the
 * synthetic sample, private photos.
 *
 * The settings here are this project's convention, not WIDER's (whose lists
 * come from EdgeBox detection rates): every face is in the boxes; a setting
 * counts a face when it is valid (`invalid` 0) and
 *
 * - hard: height >= 10 px;
 * - medium: height >= 20 px and occlusion < 2 (not heavily occluded);
 * - easy: height >= 40 px, occlusion < 2 and blur < 2.
 *
 * The others are ignored (a prediction matching them is neither hit nor false alarm).
 *
 * @example
 * ```ts
 * const gt = widerGroundTruthFromAnnotations(await readAnnotations("gt.txt"));
 * ```
 */
import type { FaceBox, ImageAnnotation } from "../data/types.ts";
import type { WiderGroundTruth } from "./wider.ts";

/** The rule of each setting (see the module doc). */
export const TEXT_GT_SETTINGS: { name: string; keep: (f: FaceBox) => boolean }[] = [
  {
    name: "easy",
    keep: (f) => f.h >= 40 && (f.attributes?.occlusion ?? 0) < 2 && (f.attributes?.blur ?? 0) < 2,
  },
  { name: "medium", keep: (f) => f.h >= 20 && (f.attributes?.occlusion ?? 0) < 2 },
  { name: "hard", keep: (f) => f.h >= 10 },
];

/** Builds the evaluation's ground truth from annotations (paths `<event>/<file>.jpg`). */
export function widerGroundTruthFromAnnotations(
  images: readonly ImageAnnotation[],
): WiderGroundTruth {
  const boxes = images.map((im) => {
    const b = new Float64Array(im.faces.length * 4);
    im.faces.forEach((f, k) => b.set([f.x, f.y, f.w, f.h], 4 * k));
    return b;
  });
  return {
    images: images.map((im) => im.path),
    settings: TEXT_GT_SETTINGS.map(({ name, keep }) => ({
      name,
      boxes,
      keep: images.map((im) =>
        im.faces.flatMap((f, k) => ((f.attributes?.invalid ?? 0) === 0 && keep(f) ? [k + 1] : []))
      ),
    })),
  };
}
