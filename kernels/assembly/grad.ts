// Gradient kernels for training on the tfjs WebAssembly backend: the
// backward passes tfjs-backend-wasm lacks or runs slowly. Every tensor is
// float32 NHWC (filters HWIO, depthwise filters [kh, kw, c, 1]), every
// pointer a byte address in linear memory.
//
// This module IMPORTS its memory (env.memory) and has no static data, so the
// same binary runs on two memories:
//   - tfjs-backend-wasm's own heap (src/train/grad_kernels.ts): inputs are
//     the tensors where tfjs keeps them, outputs tensors tfjs allocated, no
//     copies;
//   - a private memory (the typed bindings of kernels/mod.ts, used by the
//     parity tests against the twins in kernels/reference.ts).
// A data segment would overwrite the host's memory at the same addresses:
// tests/grad_kernels_test.ts checks that the build has none.
//
// Memory regions: none of its own. Each function writes only its output
// pointers and the `scratch` it is given. Over-reads: SIMD loads may read up
// to 12 bytes past the end of an input tensor (never written); tfjs' malloc
// and the bindings' layouts (16 bytes of slack) both leave room for that.
//
// Tie rule of max pooling, as TensorFlow and tfjs' cpu backend: the gradient
// of a window goes to the FIRST input (row-major within the window) equal to
// the window's maximum.
//
// Sums over many rows (bias and alpha gradients) are blocked: SUM_BLOCK rows
// summed in f32, then the block sums added, so the rounding error stays that
// of a few hundred additions whatever the batch.

/** First byte free for the caller's regions (private memory only). */
export function heapBase(): usize {
  return __heap_base;
}

/** Rows summed in one block before they are added to the running total. */
const SUM_BLOCK: i32 = 256;

/** a*b + c: fused in a relaxed-SIMD build, two roundings otherwise. */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Stores the first `count` (1..4) lanes of `v` at `p`. */
function storeLanes(p: usize, v: v128, count: i32): void {
  if (count >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Adds the first `count` (1..4) lanes of `v` to the floats at `p`. */
function addLanes(p: usize, v: v128, count: i32): void {
  if (count >= 4) {
    v128.store(p, f32x4.add(v128.load(p), v));
    return;
  }
  store<f32>(p, load<f32>(p) + f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, load<f32>(p, 4) + f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, load<f32>(p, 8) + f32x4.extract_lane(v, 2), 8);
}

// ---------------------------------------------------------------------------
// Conv2D filter gradient (valid padding, any stride)

/**
 * dw[ky, kx, ci, co] = sum over n, oy, ox of
 * x[n, oy*sh + ky, ox*sw + kx, ci] * dy[n, oy, ox, co] (valid padding).
 * A GEMM over positions: for a fixed ky the (kx, ci) taps of one position
 * are `kw*ci` contiguous floats of x, so tiles of 4 taps x 8 output channels
 * keep 8 v128 accumulators while the positions stream by. Positions go in
 * chunks of whole images (about 1024 positions) so that the chunk's x and
 * dy stay in cache across tiles.
 */
export function conv2dFilterGrad(
  x: usize,
  dy: usize,
  dw: usize,
  n: i32,
  h: i32,
  w: i32,
  ci: i32,
  oh: i32,
  ow: i32,
  co: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
): void {
  const seg = kw * ci; // contiguous taps per filter row
  memory.fill(dw, 0, (<usize> kh * seg * co) << 2);
  const perImage = oh * ow;
  const chunk = max<i32>(1, 1024 / max<i32>(perImage, 1));
  const xRow = <usize> w * ci << 2; // bytes per input row
  const xStep = <usize> sw * ci << 2; // bytes between horizontal positions
  const yRow = <usize> ow * co << 2;
  const yStep = <usize> co << 2;
  for (let b0 = 0; b0 < n; b0 += chunk) {
    const b1 = min<i32>(n, b0 + chunk);
    for (let ky = 0; ky < kh; ky++) {
      for (let k0 = 0; k0 < seg; k0 += 4) {
        const kc = min<i32>(4, seg - k0);
        const xBase = x + ((<usize> ky * w * ci + k0) << 2);
        const wRow = dw + ((<usize> (ky * seg + k0) * co) << 2);
        for (let c0 = 0; c0 < co; c0 += 8) {
          const cc = min<i32>(8, co - c0);
          let a0 = f32x4.splat(0);
          let a1 = f32x4.splat(0);
          let a2 = f32x4.splat(0);
          let a3 = f32x4.splat(0);
          let a4 = f32x4.splat(0);
          let a5 = f32x4.splat(0);
          let a6 = f32x4.splat(0);
          let a7 = f32x4.splat(0);
          const yBase = dy + (<usize> c0 << 2);
          for (let b = b0; b < b1; b++) {
            for (let oy = 0; oy < oh; oy++) {
              let xp = xBase + (<usize> (b * h + oy * sh) * xRow);
              let yp = yBase + (<usize> (b * oh + oy) * yRow);
              const yEnd = yp + yRow;
              if (cc > 4) {
                while (yp < yEnd) {
                  const xv = v128.load(xp);
                  const d0 = v128.load(yp);
                  const d1 = v128.load(yp, 16);
                  const x0 = f32x4.shuffle(xv, xv, 0, 0, 0, 0);
                  const x1 = f32x4.shuffle(xv, xv, 1, 1, 1, 1);
                  const x2 = f32x4.shuffle(xv, xv, 2, 2, 2, 2);
                  const x3 = f32x4.shuffle(xv, xv, 3, 3, 3, 3);
                  a0 = madd(x0, d0, a0);
                  a1 = madd(x0, d1, a1);
                  a2 = madd(x1, d0, a2);
                  a3 = madd(x1, d1, a3);
                  a4 = madd(x2, d0, a4);
                  a5 = madd(x2, d1, a5);
                  a6 = madd(x3, d0, a6);
                  a7 = madd(x3, d1, a7);
                  xp += xStep;
                  yp += yStep;
                }
              } else {
                while (yp < yEnd) {
                  const xv = v128.load(xp);
                  const d0 = v128.load(yp);
                  a0 = madd(f32x4.shuffle(xv, xv, 0, 0, 0, 0), d0, a0);
                  a2 = madd(f32x4.shuffle(xv, xv, 1, 1, 1, 1), d0, a2);
                  a4 = madd(f32x4.shuffle(xv, xv, 2, 2, 2, 2), d0, a4);
                  a6 = madd(f32x4.shuffle(xv, xv, 3, 3, 3, 3), d0, a6);
                  xp += xStep;
                  yp += yStep;
                }
              }
            }
          }
          // Add the tile to dw: rows k0..k0+kc, columns c0..c0+cc.
          const lo = min<i32>(4, cc);
          const hi = cc - 4;
          const rowBytes = <usize> co << 2;
          let p = wRow + (<usize> c0 << 2);
          addLanes(p, a0, lo);
          if (hi > 0) addLanes(p + 16, a1, hi);
          if (kc > 1) {
            p += rowBytes;
            addLanes(p, a2, lo);
            if (hi > 0) addLanes(p + 16, a3, hi);
          }
          if (kc > 2) {
            p += rowBytes;
            addLanes(p, a4, lo);
            if (hi > 0) addLanes(p + 16, a5, hi);
          }
          if (kc > 3) {
            p += rowBytes;
            addLanes(p, a6, lo);
            if (hi > 0) addLanes(p + 16, a7, hi);
          }
        }
      }
    }
  }
}

/**
 * dx[n, iy, ix, ci] = sum over the windows (oy, ox) and taps (ky, kx) with
 * oy*sh + ky = iy, ox*sw + kx = ix of sum over co of
 * dy[n, oy, ox, co] * f[ky, kx, ci, co] (valid padding). Every position's dy
 * row is multiplied by each tap's filter slice and added into dx: tiles of 4
 * positions (in memory order) x 8 input channels keep 8 v128 accumulators over co,
 * reading the filter transposed to [kh, kw, co, ci] (made in `scratch`:
 * kh*kw*ci*co floats + 32 bytes, as the 8-channel tiles over-read it).
 */
export function conv2dInputGrad(
  dy: usize,
  f: usize,
  dx: usize,
  n: i32,
  h: i32,
  w: i32,
  ci: i32,
  oh: i32,
  ow: i32,
  co: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  scratch: usize,
): void {
  const taps = kh * kw;
  // ft[t, o, i] = f[t, i, o]
  for (let t = 0; t < taps; t++) {
    const src = f + (<usize> t * ci * co << 2);
    const dst = scratch + (<usize> t * ci * co << 2);
    for (let i = 0; i < ci; i++) {
      for (let o = 0; o < co; o++) {
        store<f32>(dst + (<usize> (o * ci + i) << 2), load<f32>(src + (<usize> (i * co + o) << 2)));
      }
    }
  }
  memory.fill(dx, 0, (<usize> n * h * w * ci) << 2);
  if (ci <= 4) {
    inputGradNarrow(dy, dx, n, h, w, ci, oh, ow, co, kh, kw, sh, sw, scratch);
    return;
  }
  const coBytes = <usize> co << 2;
  const tapBytes = <usize> ci * co << 2;
  const perImage = oh * ow;
  const positions = n * perImage;
  for (let m0 = 0; m0 < positions; m0 += 4) {
    const np = min<i32>(4, positions - m0);
    // Tiles run over positions in memory order, across rows and images; a
    // short last tile repeats its last position (whose sums are not stored).
    const p0 = windowCorner(dx, m0, perImage, ow, h, w, ci, sh, sw);
    const p1 = windowCorner(dx, m0 + min<i32>(1, np - 1), perImage, ow, h, w, ci, sh, sw);
    const p2 = windowCorner(dx, m0 + min<i32>(2, np - 1), perImage, ow, h, w, ci, sh, sw);
    const p3 = windowCorner(dx, m0 + min<i32>(3, np - 1), perImage, ow, h, w, ci, sh, sw);
    const d0 = dy + <usize> m0 * coBytes;
    const d1 = d0 + (np > 1 ? coBytes : 0);
    const d2 = d0 + (np > 2 ? 2 * coBytes : 0);
    const d3 = d0 + (np > 3 ? 3 * coBytes : 0);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const ft = scratch + <usize> (ky * kw + kx) * tapBytes;
        const tap = (<usize> (ky * w + kx) * ci) << 2;
        for (let i0 = 0; i0 < ci; i0 += 8) {
          const ic = min<i32>(8, ci - i0);
          let a0 = f32x4.splat(0);
          let a1 = f32x4.splat(0);
          let a2 = f32x4.splat(0);
          let a3 = f32x4.splat(0);
          let a4 = f32x4.splat(0);
          let a5 = f32x4.splat(0);
          let a6 = f32x4.splat(0);
          let a7 = f32x4.splat(0);
          let fp = ft + (<usize> i0 << 2);
          const step = <usize> ci << 2;
          for (let o = 0; o < co; o++) {
            const oo = <usize> o << 2;
            const w0 = v128.load(fp);
            const w1 = v128.load(fp, 16);
            const y0 = v128.load32_splat(d0 + oo);
            const y1 = v128.load32_splat(d1 + oo);
            const y2 = v128.load32_splat(d2 + oo);
            const y3 = v128.load32_splat(d3 + oo);
            a0 = madd(y0, w0, a0);
            a1 = madd(y0, w1, a1);
            a2 = madd(y1, w0, a2);
            a3 = madd(y1, w1, a3);
            a4 = madd(y2, w0, a4);
            a5 = madd(y2, w1, a5);
            a6 = madd(y3, w0, a6);
            a7 = madd(y3, w1, a7);
            fp += step;
          }
          const lo = min<i32>(4, ic);
          const hi = ic - 4;
          const off = tap + (<usize> i0 << 2);
          addLanes(p0 + off, a0, lo);
          if (hi > 0) addLanes(p0 + off + 16, a1, hi);
          if (np > 1) {
            addLanes(p1 + off, a2, lo);
            if (hi > 0) addLanes(p1 + off + 16, a3, hi);
          }
          if (np > 2) {
            addLanes(p2 + off, a4, lo);
            if (hi > 0) addLanes(p2 + off + 16, a5, hi);
          }
          if (np > 3) {
            addLanes(p3 + off, a6, lo);
            if (hi > 0) addLanes(p3 + off + 16, a7, hi);
          }
        }
      }
    }
  }
}

/**
 * conv2dInputGrad for at most 4 input channels (a first layer on RGB): tiles
 * of 8 positions x 4 channels, so that 3 channels use 3/4 of the lanes
 * instead of 3/8. `ft` is the transposed filter already in `scratch`.
 */
function inputGradNarrow(
  dy: usize,
  dx: usize,
  n: i32,
  h: i32,
  w: i32,
  ci: i32,
  oh: i32,
  ow: i32,
  co: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  ft: usize,
): void {
  const coBytes = <usize> co << 2;
  const tapBytes = <usize> ci * co << 2;
  const step = <usize> ci << 2;
  const perImage = oh * ow;
  const positions = n * perImage;
  for (let m0 = 0; m0 < positions; m0 += 8) {
    const np = min<i32>(8, positions - m0);
    const last = np - 1;
    const p0 = windowCorner(dx, m0, perImage, ow, h, w, ci, sh, sw);
    const p1 = windowCorner(dx, m0 + min<i32>(1, last), perImage, ow, h, w, ci, sh, sw);
    const p2 = windowCorner(dx, m0 + min<i32>(2, last), perImage, ow, h, w, ci, sh, sw);
    const p3 = windowCorner(dx, m0 + min<i32>(3, last), perImage, ow, h, w, ci, sh, sw);
    const p4 = windowCorner(dx, m0 + min<i32>(4, last), perImage, ow, h, w, ci, sh, sw);
    const p5 = windowCorner(dx, m0 + min<i32>(5, last), perImage, ow, h, w, ci, sh, sw);
    const p6 = windowCorner(dx, m0 + min<i32>(6, last), perImage, ow, h, w, ci, sh, sw);
    const p7 = windowCorner(dx, m0 + min<i32>(7, last), perImage, ow, h, w, ci, sh, sw);
    const d0 = dy + <usize> m0 * coBytes;
    const d1 = d0 + <usize> min<i32>(1, last) * coBytes;
    const d2 = d0 + <usize> min<i32>(2, last) * coBytes;
    const d3 = d0 + <usize> min<i32>(3, last) * coBytes;
    const d4 = d0 + <usize> min<i32>(4, last) * coBytes;
    const d5 = d0 + <usize> min<i32>(5, last) * coBytes;
    const d6 = d0 + <usize> min<i32>(6, last) * coBytes;
    const d7 = d0 + <usize> min<i32>(7, last) * coBytes;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        let fp = ft + <usize> (ky * kw + kx) * tapBytes;
        const tap = (<usize> (ky * w + kx) * ci) << 2;
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        let a4 = f32x4.splat(0);
        let a5 = f32x4.splat(0);
        let a6 = f32x4.splat(0);
        let a7 = f32x4.splat(0);
        for (let o = 0; o < co; o++) {
          const oo = <usize> o << 2;
          const wv = v128.load(fp);
          a0 = madd(v128.load32_splat(d0 + oo), wv, a0);
          a1 = madd(v128.load32_splat(d1 + oo), wv, a1);
          a2 = madd(v128.load32_splat(d2 + oo), wv, a2);
          a3 = madd(v128.load32_splat(d3 + oo), wv, a3);
          a4 = madd(v128.load32_splat(d4 + oo), wv, a4);
          a5 = madd(v128.load32_splat(d5 + oo), wv, a5);
          a6 = madd(v128.load32_splat(d6 + oo), wv, a6);
          a7 = madd(v128.load32_splat(d7 + oo), wv, a7);
          fp += step;
        }
        addLanes(p0 + tap, a0, ci);
        if (np > 1) addLanes(p1 + tap, a1, ci);
        if (np > 2) addLanes(p2 + tap, a2, ci);
        if (np > 3) addLanes(p3 + tap, a3, ci);
        if (np > 4) addLanes(p4 + tap, a4, ci);
        if (np > 5) addLanes(p5 + tap, a5, ci);
        if (np > 6) addLanes(p6 + tap, a6, ci);
        if (np > 7) addLanes(p7 + tap, a7, ci);
      }
    }
  }
}

/** Address in `base` (NHWC, h x w x c) of the top-left tap of window number `m`. */
function windowCorner(
  base: usize,
  m: i32,
  perImage: i32,
  ow: i32,
  h: i32,
  w: i32,
  c: i32,
  sh: i32,
  sw: i32,
): usize {
  const b = m / perImage;
  const r = m - b * perImage;
  const oy = r / ow;
  const ox = r - oy * ow;
  return base + ((<usize> ((b * h + oy * sh) * w + ox * sw) * c) << 2);
}

// ---------------------------------------------------------------------------
// Max pooling gradient

/**
 * dx (same shape as x) gets, for every window, dy of the window at the first
 * input equal to the window's maximum y. Windows start at
 * (oy*sh - padTop, ox*sw - padLeft); taps outside the input are skipped
 * (TensorFlow "same" padding). Channels go 4 at a time with a running
 * "found" mask, so no branch depends on the data.
 */
export function maxPoolGrad(
  x: usize,
  y: usize,
  dy: usize,
  dx: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  oh: i32,
  ow: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  padTop: i32,
  padLeft: i32,
): void {
  memory.fill(dx, 0, (<usize> n * h * w * c) << 2);
  const c4 = c & ~3;
  const pix = <usize> c << 2;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      const ky0 = max<i32>(0, -y0);
      const ky1 = min<i32>(kh, h - y0);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - padLeft;
        const kx0 = max<i32>(0, -x0);
        const kx1 = min<i32>(kw, w - x0);
        const o = (<usize> ((b * oh + oy) * ow + ox) * c) << 2;
        const corner = (<usize> ((b * h + y0 + ky0) * w + x0 + kx0) * c) << 2;
        for (let c0 = 0; c0 < c4; c0 += 4) {
          const off = <usize> c0 << 2;
          const ym = v128.load(y + o + off);
          const dv = v128.load(dy + o + off);
          let found = i32x4.splat(0);
          let rowAt = corner + off;
          for (let ky = ky0; ky < ky1; ky++) {
            let at = rowAt;
            for (let kx = kx0; kx < kx1; kx++) {
              const hit = v128.andnot(f32x4.eq(v128.load(x + at), ym), found);
              v128.store(dx + at, f32x4.add(v128.load(dx + at), v128.and(dv, hit)));
              found = v128.or(found, hit);
              at += pix;
            }
            rowAt += <usize> w * pix;
          }
        }
        for (let cc = c4; cc < c; cc++) {
          const off = <usize> cc << 2;
          const ym = load<f32>(y + o + off);
          let rowAt = corner + off;
          let done = false;
          for (let ky = ky0; ky < ky1 && !done; ky++) {
            let at = rowAt;
            for (let kx = kx0; kx < kx1; kx++) {
              if (load<f32>(x + at) == ym) {
                store<f32>(dx + at, load<f32>(dx + at) + load<f32>(dy + o + off));
                done = true;
                break;
              }
              at += pix;
            }
            rowAt += <usize> w * pix;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// PReLU gradient

/**
 * For x [rows, c] and alpha [c]: dx = x > 0 ? dy : alpha * dy and
 * dalpha[j] = sum over rows with x <= 0 of dy * x (tfjs' Prelu gradient, in
 * one pass). `scratch`: c floats + 16 bytes.
 */
export function preluGrad(
  x: usize,
  alpha: usize,
  dy: usize,
  dx: usize,
  dalpha: usize,
  rows: i32,
  c: i32,
  scratch: usize,
): void {
  const cb = <usize> c << 2;
  const c4 = c & ~3;
  const zero = f32x4.splat(0);
  memory.fill(dalpha, 0, cb);
  for (let r0 = 0; r0 < rows; r0 += SUM_BLOCK) {
    const r1 = min<i32>(rows, r0 + SUM_BLOCK);
    memory.fill(scratch, 0, cb);
    for (let r = r0; r < r1; r++) {
      const row = <usize> r * cb;
      for (let j = 0; j < c4; j += 4) {
        const o = row + (<usize> j << 2);
        const xv = v128.load(x + o);
        const dv = v128.load(dy + o);
        const av = v128.load(alpha + (<usize> j << 2));
        const pos = f32x4.gt(xv, zero);
        v128.store(dx + o, v128.bitselect(dv, f32x4.mul(dv, av), pos));
        const s = scratch + (<usize> j << 2);
        v128.store(s, f32x4.add(v128.load(s), v128.andnot(f32x4.mul(dv, xv), pos)));
      }
      for (let j = c4; j < c; j++) {
        const o = row + (<usize> j << 2);
        const xs = load<f32>(x + o);
        const ds = load<f32>(dy + o);
        if (xs > 0) {
          store<f32>(dx + o, ds);
        } else {
          store<f32>(dx + o, ds * load<f32>(alpha + (<usize> j << 2)));
          const s = scratch + (<usize> j << 2);
          store<f32>(s, load<f32>(s) + ds * xs);
        }
      }
    }
    addRow(dalpha, scratch, c);
  }
}

/** dst[j] += src[j] for j < c. */
function addRow(dst: usize, src: usize, c: i32): void {
  const c4 = c & ~3;
  for (let j = 0; j < c4; j += 4) {
    const o = <usize> j << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (let j = c4; j < c; j++) {
    const o = <usize> j << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// ---------------------------------------------------------------------------
// Column sums (bias gradients)

/** out[j] = sum over r of x[r, j] for x [rows, c]. `scratch`: c floats + 16 bytes. */
export function sumRows(x: usize, out: usize, rows: i32, c: i32, scratch: usize): void {
  const cb = <usize> c << 2;
  const c4 = c & ~3;
  memory.fill(out, 0, cb);
  for (let r0 = 0; r0 < rows; r0 += SUM_BLOCK) {
    const r1 = min<i32>(rows, r0 + SUM_BLOCK);
    memory.fill(scratch, 0, cb);
    for (let r = r0; r < r1; r++) {
      const row = x + <usize> r * cb;
      for (let j = 0; j < c4; j += 4) {
        const o = <usize> j << 2;
        v128.store(scratch + o, f32x4.add(v128.load(scratch + o), v128.load(row + o)));
      }
      for (let j = c4; j < c; j++) {
        const o = <usize> j << 2;
        store<f32>(scratch + o, load<f32>(scratch + o) + load<f32>(row + o));
      }
    }
    addRow(out, scratch, c);
  }
}

// ---------------------------------------------------------------------------
// Depthwise convolution gradients (channel multiplier 1)

/**
 * dw[ky, kx, ch] = sum over n, oy, ox of x[n, oy*sh + ky - padTop,
 * ox*sw + kx - padLeft, ch] * dy[n, oy, ox, ch] (taps outside x count 0).
 * `dw` is accumulated in place (kh*kw*c floats, zeroed here) while the
 * positions stream by.
 */
export function depthwiseFilterGrad(
  x: usize,
  dy: usize,
  dw: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  oh: i32,
  ow: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  padTop: i32,
  padLeft: i32,
): void {
  const cb = <usize> c << 2;
  const c4 = c & ~3;
  memory.fill(dw, 0, <usize> kh * kw * cb);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      const ky0 = max<i32>(0, -y0);
      const ky1 = min<i32>(kh, h - y0);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - padLeft;
        const kx0 = max<i32>(0, -x0);
        const kx1 = min<i32>(kw, w - x0);
        const d = dy + <usize> ((b * oh + oy) * ow + ox) * cb;
        for (let ky = ky0; ky < ky1; ky++) {
          const xr = x + <usize> ((b * h + y0 + ky) * w + x0) * cb;
          const wr = dw + <usize> (ky * kw) * cb;
          for (let kx = kx0; kx < kx1; kx++) {
            const xp = xr + <usize> kx * cb;
            const wp = wr + <usize> kx * cb;
            for (let j = 0; j < c4; j += 4) {
              const o = <usize> j << 2;
              v128.store(
                wp + o,
                f32x4.add(v128.load(wp + o), f32x4.mul(v128.load(xp + o), v128.load(d + o))),
              );
            }
            for (let j = c4; j < c; j++) {
              const o = <usize> j << 2;
              store<f32>(wp + o, load<f32>(wp + o) + load<f32>(xp + o) * load<f32>(d + o));
            }
          }
        }
      }
    }
  }
}

/**
 * dx[n, iy, ix, ch] = sum of dy[n, oy, ox, ch] * f[ky, kx, ch] over the
 * windows (oy, ox) whose tap (ky, kx) lands on (iy, ix): each window's dy
 * row is scattered into dx, scaled by the filter row of every tap.
 */
export function depthwiseInputGrad(
  dy: usize,
  f: usize,
  dx: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  oh: i32,
  ow: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  padTop: i32,
  padLeft: i32,
): void {
  const cb = <usize> c << 2;
  const c4 = c & ~3;
  memory.fill(dx, 0, <usize> n * h * w * cb);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      const ky0 = max<i32>(0, -y0);
      const ky1 = min<i32>(kh, h - y0);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - padLeft;
        const kx0 = max<i32>(0, -x0);
        const kx1 = min<i32>(kw, w - x0);
        const d = dy + <usize> ((b * oh + oy) * ow + ox) * cb;
        for (let ky = ky0; ky < ky1; ky++) {
          const xr = dx + <usize> ((b * h + y0 + ky) * w + x0) * cb;
          const fr = f + <usize> (ky * kw) * cb;
          for (let kx = kx0; kx < kx1; kx++) {
            const xp = xr + <usize> kx * cb;
            const fp = fr + <usize> kx * cb;
            for (let j = 0; j < c4; j += 4) {
              const o = <usize> j << 2;
              v128.store(
                xp + o,
                f32x4.add(v128.load(xp + o), f32x4.mul(v128.load(d + o), v128.load(fp + o))),
              );
            }
            for (let j = c4; j < c; j++) {
              const o = <usize> j << 2;
              store<f32>(xp + o, load<f32>(xp + o) + load<f32>(d + o) * load<f32>(fp + o));
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Segment sums (the gradient of gather)

/**
 * out[s, :] = sum of x[r, :] over rows r with ids[r] == s, for x [rows,
 * inner], i32 ids and out [segments, inner]; ids outside [0, segments) are
 * dropped (as TensorFlow's UnsortedSegmentSum).
 */
export function unsortedSegmentSum(
  x: usize,
  ids: usize,
  out: usize,
  rows: i32,
  inner: i32,
  segments: i32,
): void {
  const ib = <usize> inner << 2;
  const i4 = inner & ~3;
  memory.fill(out, 0, <usize> segments * ib);
  for (let r = 0; r < rows; r++) {
    const s = load<i32>(ids + (<usize> r << 2));
    if (s < 0 || s >= segments) continue;
    const src = x + <usize> r * ib;
    const dst = out + <usize> s * ib;
    for (let j = 0; j < i4; j += 4) {
      const o = <usize> j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (let j = i4; j < inner; j++) {
      const o = <usize> j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}
