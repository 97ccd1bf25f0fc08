/**
 * Helpers shared by the TFLite and ONNX importers: tracking which of our axes
 * each axis of a source activation is, the permutation from our HWC flatten
 * order to a source's flatten order, and the training size of a fully
 * convolutional arch.
 */

/** One axis of a source activation, named by what it is in our NHWC frame. */
export type Axis = "n" | "y" | "x" | "c";

/** Sizes of the four axes, from a source shape whose axes are `axes`. */
export function dimsOf(axes: Axis[], shape: number[]): Record<Axis, number> {
  const d = { n: 1, y: 1, x: 1, c: 1 } as Record<Axis, number>;
  axes.forEach((a, i) => (d[a] = shape[i]));
  return d;
}

/**
 * For each index of our flattened (y, x, c) activation, the index the source
 * uses when it flattens its activation with axes `axes` row-major.
 * Returns null when the two orders agree.
 *
 * @example
 * ```ts
 * flattenPermutation(["n", "c", "y", "x"], { n: 1, y: 2, x: 2, c: 3 }); // NCHW source
 * ```
 */
export function flattenPermutation(axes: Axis[], dims: Record<Axis, number>): Int32Array | null {
  const strides = {} as Record<Axis, number>;
  let st = 1;
  for (let i = axes.length - 1; i >= 0; i--) {
    strides[axes[i]] = st;
    st *= dims[axes[i]];
  }
  const perm = new Int32Array(dims.y * dims.x * dims.c);
  let k = 0;
  let ident = true;
  for (let y = 0; y < dims.y; y++) {
    for (let x = 0; x < dims.x; x++) {
      for (let c = 0; c < dims.c; c++, k++) {
        perm[k] = y * strides.y + x * strides.x + c * strides.c;
        if (perm[k] !== k) ident = false;
      }
    }
  }
  return ident ? null : perm;
}

/**
 * Dense weights in our layout [in, out] from a source's [out, in] matrix,
 * with input rows taken through `perm` (ours → source) and outputs through
 * `outPerm` (ours → source).
 */
export function denseFromOutIn(
  w: ArrayLike<number>,
  outN: number,
  inN: number,
  perm: Int32Array | null,
  outPerm?: number[],
): Float32Array {
  const out = new Float32Array(inN * outN);
  for (let i = 0; i < inN; i++) {
    const src = perm ? perm[i] : i;
    for (let o = 0; o < outN; o++) out[i * outN + o] = w[(outPerm ? outPerm[o] : o) * inN + src];
  }
  return out;
}

/** `values` reordered by `perm` (ours → source). */
export function permuted(values: ArrayLike<number>, perm?: number[]): Float32Array {
  const n = perm ? perm.length : values.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = values[perm ? perm[i] : i];
  return out;
}

/** Landmark output order, ours (x1, y1, ..., x5, y5) → a source laid out as x1..x5, y1..y5. */
export const LANDMARKS_FROM_X5Y5 = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
