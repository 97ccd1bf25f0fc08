/**
 * Maximum-weight bipartite assignment (the Hungarian method, in its shortest-augmenting-path
 * form with potentials, O(n² m)): the one-to-one pairing of rows and columns that maximises
 * the summed weight. FDDB pairs annotated faces with detections this way.
 *
 * @example
 * ```ts
 * import { maxWeightAssignment } from "./hungarian.ts";
 * // rows: faces, columns: detections
 * maxWeightAssignment([[0.9, 0.8], [0.85, 0]], 2, 2);   // Int32Array [1, 0]: total 1.65
 * ```
 * @module
 */

/**
 * For each row, the column it is paired with (or -1), maximising the sum of
 * `weights[row][col]` over the pairs. Every row gets a column when `rows <= cols`, every
 * column a row otherwise. `weights` is `rows` arrays of `cols` numbers, or one row-major
 * array. Weights must be finite.
 *
 * @example
 * ```ts
 * maxWeightAssignment(new Float64Array([1, 2, 3, 4, 5, 6]), 2, 3);   // Int32Array [1, 2]
 * ```
 */
export function maxWeightAssignment(
  weights: ArrayLike<number> | ArrayLike<number>[],
  rows: number,
  cols: number,
): Int32Array {
  const at = typeof (weights as ArrayLike<number>[])[0] === "object"
    ? (r: number, c: number) => (weights as ArrayLike<number>[])[r][c]
    : (r: number, c: number) => (weights as ArrayLike<number>)[r * cols + c];
  const result = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return result;
  const transpose = rows > cols;
  const n = transpose ? cols : rows, m = transpose ? rows : cols;
  // cost[i][j] = -weight, 1-based as in the classic formulation
  const cost = new Float64Array((n + 1) * (m + 1));
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const w = transpose ? at(j - 1, i - 1) : at(i - 1, j - 1);
      if (!Number.isFinite(w)) {
        throw new RangeError(`maxWeightAssignment: weight [${i - 1}][${j - 1}] is ${w}`);
      }
      cost[i * (m + 1) + j] = -w;
    }
  }
  const u = new Float64Array(n + 1), v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1), way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[i0 * (m + 1) + j] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  for (let j = 1; j <= m; j++) {
    if (p[j] === 0) continue;
    if (transpose) result[j - 1] = p[j] - 1;
    else result[p[j] - 1] = j - 1;
  }
  return result;
}
