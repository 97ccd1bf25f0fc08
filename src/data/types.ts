/**
 * Annotation types shared by every reader and writer in `src/data`.
 */

/** WIDER FACE per-face attributes, as in `wider_face_*_bbx_gt.txt`. */
export interface WiderAttributes {
  blur: number;
  expression: number;
  illumination: number;
  invalid: number;
  occlusion: number;
  pose: number;
}

/** One annotated face. Box is `x, y, w, h` in pixels (WIDER convention). */
export interface FaceBox {
  x: number;
  y: number;
  w: number;
  h: number;
  /** WIDER attributes when the source has them. */
  attributes?: WiderAttributes;
  /**
   * Five landmarks as `[x1, y1, x2, y2, ..., x5, y5]`: left eye, right eye,
   * nose, left mouth corner, right mouth corner (left/right of the image).
   */
  landmarks?: number[];
}

/** The annotations of one image. `path` is relative to the images root. */
export interface ImageAnnotation {
  path: string;
  faces: FaceBox[];
}
