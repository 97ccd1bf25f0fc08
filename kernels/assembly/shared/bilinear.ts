// Bilinear sampling shared by resize.ts and crop.ts (not an entry point of its own).
//
// Semantics (OpenCV INTER_LINEAR): for destination index d along an axis of
// source length n resized to m, f = f32((d + 0.5) * (1 / (m / n)) - 0.5),
// s = floor(f), frac = f - s; s < 0 gives (s, frac) = (0, 0) and s >= n - 1
// gives (n - 1, 0): sample positions clamp to the border (replicate).
//
// The u8 path is fixed point, as OpenCV's scalar path: weights
// w1 = round_half_even(frac * 2048), w0 = 2048 - w1 (11 bits), the
// vertical blend t = a*w0 + b*w1 (<= 255 * 2^11) and the horizontal blend
// v = t0*w0 + t1*w1 (<= 255 * 2^22) in exact i32 arithmetic, then
// u8 = (v + 2^21) >> 22. Integer sums are exact, so blending rows first
// gives the same bytes as OpenCV's columns-first order.
//
// The f32 path blends rows first: t = a*wy0 + b*wy1, out = t0*wx0 + t1*wx1,
// each product and sum rounded to f32 (or fused, in the relaxed-SIMD build).
//
// Memory regions: none of its own. Every function reads and writes only the
// pointers it is given, all inside the caller's regions (see resize.ts).
// Over-reads: the SIMD horizontal passes for 3 channels load 4 lanes per
// pixel and store 4 lanes, so the row buffer `t` and the destination need
// 16 bytes of slack past their end (the callers' layouts provide it).
//
// House rule for kernels/assembly: no decorators (`deno fmt` deletes
// `@inline`); Binaryen's -O3 inlines the small helpers by itself. Raw
// load/store on pointers carry no bounds checks (as `unchecked()`).

/** Fixed-point weight bits of the u8 path (OpenCV's INTER_RESIZE_COEF_BITS). */
export const COEF_BITS: i32 = 11;
/** Weight 1.0 in fixed point. */
export const COEF_ONE: i32 = 1 << COEF_BITS;
/** Shift that turns a row-and-column blend back into u8. */
export const BLEND_SHIFT: i32 = 2 * COEF_BITS;
/** Rounding term added before {@link BLEND_SHIFT}. */
export const BLEND_ROUND: i32 = 1 << (BLEND_SHIFT - 1);

/** Rounds `n` bytes up to a multiple of 16. */
export function align16(n: usize): usize {
  return (n + 15) & ~(<usize> 15);
}

/**
 * Writes the taps of one axis for every destination index d < m:
 * lo[d], hi[d] (source indexes times `stride`) and frac[d] (f32 weight of hi).
 */
export function axisTaps(n: i32, m: i32, stride: i32, lo: usize, hi: usize, frac: usize): void {
  const scale: f64 = 1.0 / (<f64> m / <f64> n);
  for (let d = 0; d < m; d++) {
    const f = <f32> ((<f64> d + 0.5) * scale - 0.5);
    let s = <i32> Mathf.floor(f);
    let fr: f32 = f - <f32> s;
    let s1 = s + 1;
    if (s < 0) {
      s = 0;
      s1 = 0;
      fr = 0;
    }
    if (s >= n - 1) {
      s = n - 1;
      s1 = n - 1;
      fr = 0;
    }
    const o = <usize> d << 2;
    store<i32>(lo + o, s * stride);
    store<i32>(hi + o, s1 * stride);
    store<f32>(frac + o, fr);
  }
}

/** Replaces the f32 fractions of `m` taps by fixed-point weights of hi (0..2048). */
export function fixedWeights(frac: usize, m: i32): void {
  for (let d = 0; d < m; d++) {
    const o = <usize> d << 2;
    store<i32>(frac + o, <i32> nearest<f32>(load<f32>(frac + o) * <f32> COEF_ONE));
  }
}

/** t[i] = a[i]*w0 + b[i]*w1 for i < n: two u8 rows into one i32 row. */
export function verticalU8(a: usize, b: usize, w0: i32, w1: i32, t: usize, n: i32): void {
  const v0 = i16x8.splat(<i16> w0);
  const v1 = i16x8.splat(<i16> w1);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const pa = v128.load(a + i);
    const pb = v128.load(b + i);
    const al = i16x8.extend_low_i8x16_u(pa);
    const ah = i16x8.extend_high_i8x16_u(pa);
    const bl = i16x8.extend_low_i8x16_u(pb);
    const bh = i16x8.extend_high_i8x16_u(pb);
    const o = t + (<usize> i << 2);
    v128.store(o, i32x4.add(i32x4.extmul_low_i16x8_u(al, v0), i32x4.extmul_low_i16x8_u(bl, v1)));
    v128.store(
      o,
      i32x4.add(i32x4.extmul_high_i16x8_u(al, v0), i32x4.extmul_high_i16x8_u(bl, v1)),
      16,
    );
    v128.store(
      o,
      i32x4.add(i32x4.extmul_low_i16x8_u(ah, v0), i32x4.extmul_low_i16x8_u(bh, v1)),
      32,
    );
    v128.store(
      o,
      i32x4.add(i32x4.extmul_high_i16x8_u(ah, v0), i32x4.extmul_high_i16x8_u(bh, v1)),
      48,
    );
  }
  for (; i < n; i++) {
    store<i32>(t + (<usize> i << 2), <i32> load<u8>(a + i) * w0 + <i32> load<u8>(b + i) * w1);
  }
}

/** t[i] = a[i]*w0 + b[i]*w1 for i < n: two f32 rows into one f32 row. */
export function verticalF32(a: usize, b: usize, w0: f32, w1: f32, t: usize, n: i32): void {
  const v0 = f32x4.splat(w0);
  const v1 = f32x4.splat(w1);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize> i << 2;
    v128.store(t + o, madd(v128.load(b + o), v1, f32x4.mul(v128.load(a + o), v0)));
    v128.store(t + o, madd(v128.load(b + o, 16), v1, f32x4.mul(v128.load(a + o, 16), v0)), 16);
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(t + o, load<f32>(a + o) * w0 + load<f32>(b + o) * w1);
  }
}

/** a*b + c: fused in the relaxed-SIMD build, two roundings otherwise. */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** One u8 from a row-and-column blend: (v + 2^21) >> 22. */
function toU8(v: i32): u8 {
  return <u8> ((v + BLEND_ROUND) >> BLEND_SHIFT);
}

/**
 * dst[dx*cn + c] = u8 of t[lo[dx] + c]*(2048 - w[dx]) + t[hi[dx] + c]*w[dx]
 * for dx < m, c < cn (lo/hi are element offsets into the i32 row t).
 */
export function horizontalU8(
  t: usize,
  dst: usize,
  m: i32,
  cn: i32,
  lo: usize,
  hi: usize,
  w: usize,
): void {
  if (cn == 3 || cn == 4) {
    // v128 body: one pixel per step, 4 lanes (lane 3 is the next pixel's when cn == 3,
    // rewritten by the next step or landing in the caller's slack).
    const round = i32x4.splat(BLEND_ROUND);
    const one = i32x4.splat(COEF_ONE);
    for (let dx = 0; dx < m; dx++) {
      const o = <usize> dx << 2;
      const w1 = i32x4.splat(load<i32>(w + o));
      const p0 = v128.load(t + (<usize> load<i32>(lo + o) << 2));
      const p1 = v128.load(t + (<usize> load<i32>(hi + o) << 2));
      const v = i32x4.add(i32x4.mul(p0, i32x4.sub(one, w1)), i32x4.mul(p1, w1));
      const q = i32x4.shr_s(i32x4.add(v, round), BLEND_SHIFT);
      const h = i16x8.narrow_i32x4_s(q, q);
      v128.store32_lane(dst + <usize> dx * cn, i8x16.narrow_i16x8_u(h, h), 0);
    }
    return;
  }
  for (let dx = 0; dx < m; dx++) {
    const o = <usize> dx << 2;
    const w1 = load<i32>(w + o);
    const w0 = COEF_ONE - w1;
    const p0 = t + (<usize> load<i32>(lo + o) << 2);
    const p1 = t + (<usize> load<i32>(hi + o) << 2);
    const d = dst + <usize> dx * cn;
    for (let c = 0; c < cn; c++) {
      const k = <usize> c << 2;
      store<u8>(d + c, toU8(load<i32>(p0 + k) * w0 + load<i32>(p1 + k) * w1));
    }
  }
}

/**
 * As {@link horizontalU8}, then dst (f32) = (u8 - mean) * scale, each step rounded to f32.
 */
export function horizontalU8ToF32(
  t: usize,
  dst: usize,
  m: i32,
  cn: i32,
  lo: usize,
  hi: usize,
  w: usize,
  mean: f32,
  scale: f32,
): void {
  if (cn == 3 || cn == 4) {
    const round = i32x4.splat(BLEND_ROUND);
    const one = i32x4.splat(COEF_ONE);
    const vm = f32x4.splat(mean);
    const vs = f32x4.splat(scale);
    for (let dx = 0; dx < m; dx++) {
      const o = <usize> dx << 2;
      const w1 = i32x4.splat(load<i32>(w + o));
      const p0 = v128.load(t + (<usize> load<i32>(lo + o) << 2));
      const p1 = v128.load(t + (<usize> load<i32>(hi + o) << 2));
      const v = i32x4.add(i32x4.mul(p0, i32x4.sub(one, w1)), i32x4.mul(p1, w1));
      const q = f32x4.convert_i32x4_s(i32x4.shr_s(i32x4.add(v, round), BLEND_SHIFT));
      v128.store(dst + ((<usize> dx * cn) << 2), f32x4.mul(f32x4.sub(q, vm), vs));
    }
    return;
  }
  for (let dx = 0; dx < m; dx++) {
    const o = <usize> dx << 2;
    const w1 = load<i32>(w + o);
    const w0 = COEF_ONE - w1;
    const p0 = t + (<usize> load<i32>(lo + o) << 2);
    const p1 = t + (<usize> load<i32>(hi + o) << 2);
    const d = dst + ((<usize> dx * cn) << 2);
    for (let c = 0; c < cn; c++) {
      const k = <usize> c << 2;
      const q = <f32> toU8(load<i32>(p0 + k) * w0 + load<i32>(p1 + k) * w1);
      store<f32>(d + k, (q - mean) * scale);
    }
  }
}

/**
 * dst[dx*cn + c] = t[lo[dx] + c]*(1 - frac[dx]) + t[hi[dx] + c]*frac[dx] (f32 row t).
 */
export function horizontalF32(
  t: usize,
  dst: usize,
  m: i32,
  cn: i32,
  lo: usize,
  hi: usize,
  w: usize,
): void {
  if (cn == 3 || cn == 4) {
    for (let dx = 0; dx < m; dx++) {
      const o = <usize> dx << 2;
      const fr = load<f32>(w + o);
      const p0 = v128.load(t + (<usize> load<i32>(lo + o) << 2));
      const p1 = v128.load(t + (<usize> load<i32>(hi + o) << 2));
      const v = madd(p1, f32x4.splat(fr), f32x4.mul(p0, f32x4.splat(<f32> 1 - fr)));
      v128.store(dst + ((<usize> dx * cn) << 2), v);
    }
    return;
  }
  for (let dx = 0; dx < m; dx++) {
    const o = <usize> dx << 2;
    const w1 = load<f32>(w + o);
    const w0: f32 = <f32> 1 - w1;
    const p0 = t + (<usize> load<i32>(lo + o) << 2);
    const p1 = t + (<usize> load<i32>(hi + o) << 2);
    const d = dst + ((<usize> dx * cn) << 2);
    for (let c = 0; c < cn; c++) {
      const k = <usize> c << 2;
      store<f32>(d + k, load<f32>(p0 + k) * w0 + load<f32>(p1 + k) * w1);
    }
  }
}
