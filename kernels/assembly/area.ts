// Area resampling kernels (OpenCV's INTER_AREA, the interpolation of the
// published MTCNN ports) of RGB u8 images, and the SIMD peak probe.
// Twins: resizeAreaU8 / cropResizeAreaU8ToF32 / fmaPeak in kernels/reference.ts;
// the arithmetic is the twins' own, in f64 and in the same order, so the
// results are the same bytes and floats.
// Built twice: area.wasm (SIMD) and area_relaxed.wasm (relaxed SIMD: the peak
// probe uses f32x4.relaxed_madd; the resampling is the same code).
//
// Memory regions (linear memory, laid out by kernels/mod.ts on each call,
// every region 16-byte aligned):
//   [0, heapBase())   the compiler's static data; never written
//   src               srcW*srcH*3 u8 (read only)
//   boxes             n*4 i32: x, y, w, h per crop (read only; w, h >= 1)
//   dst               dstW*dstH*3 u8, or n*size*size*3 f32, + 16 bytes slack
//   scratch           areaScratchBytes(maxSrcW, maxSrcH, dstW, dstH) bytes:
//     x taps          start (dstW+1) i32, src (cap) i32, weight (cap) f64
//     y taps          the same for the rows
//     rows            two cached horizontal passes and one accumulator, dstW*3 f64 each
//     conv            one source row (the columns the taps reach) as f64, maxSrcW*3

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

function align16(n: usize): usize {
  return (n + 15) & ~(<usize> 15);
}

/**
 * Room for the taps of one axis padded to the same count per destination
 * pixel: at most ceil(srcLen / dstLen) + 2 each.
 */
function tapCap(srcLen: i32, dstLen: i32): usize {
  return <usize> srcLen + 3 * <usize> dstLen + 4;
}

function tapBytes(srcLen: i32, dstLen: i32): usize {
  const cap = tapCap(srcLen, dstLen);
  return align16((<usize> dstLen + 1) << 2) + align16(cap << 2) + align16(cap << 3);
}

/** Bytes of scratch for sources up to maxSrcW x maxSrcH resized to dstW x dstH. */
export function areaScratchBytes(maxSrcW: i32, maxSrcH: i32, dstW: i32, dstH: i32): usize {
  return tapBytes(maxSrcW, dstW) + tapBytes(maxSrcH, dstH) + 3 * align16(<usize> dstW * 24) +
    align16(<usize> maxSrcW * 24 + 64) + 16;
}

/**
 * Writes the taps of srcLen -> dstLen at `at` (start, src, weight arrays, as
 * the twin's areaTaps): shrinking, box weights of the covered fractions;
 * enlarging, the area-mode linear taps clamped at the borders.
 */
function areaTaps(srcLen: i32, dstLen: i32, at: usize): void {
  const cap = tapCap(srcLen, dstLen);
  const start = at;
  const srcs = start + align16((<usize> dstLen + 1) << 2);
  const weights = srcs + align16(cap << 2);
  let k: i32 = 0;
  store<i32>(start, 0);
  const scale: f64 = 1.0 / (<f64> dstLen / <f64> srcLen);
  for (let d: i32 = 0; d < dstLen; d++) {
    if (dstLen <= srcLen) {
      const f1 = <f64> d * scale;
      const f2 = f1 + scale;
      const cellWidth = Math.min(scale, <f64> srcLen - f1);
      const s2 = <i32> Math.min(Math.floor(f2), <f64> (srcLen - 1));
      const s1 = <i32> Math.min(Math.ceil(f1), <f64> s2);
      if (<f64> s1 - f1 > 1e-3) {
        store<i32>(srcs + (<usize> k << 2), s1 - 1);
        store<f64>(weights + (<usize> k << 3), (<f64> s1 - f1) / cellWidth);
        k++;
      }
      for (let s = s1; s < s2; s++) {
        store<i32>(srcs + (<usize> k << 2), s);
        store<f64>(weights + (<usize> k << 3), 1.0 / cellWidth);
        k++;
      }
      if (f2 - <f64> s2 > 1e-3) {
        store<i32>(srcs + (<usize> k << 2), s2);
        store<f64>(
          weights + (<usize> k << 3),
          Math.min(Math.min(f2 - <f64> s2, 1.0), cellWidth) / cellWidth,
        );
        k++;
      }
    } else {
      let s = <i32> Math.floor(<f64> d * scale);
      let f: f64 = <f64> (d + 1) - <f64> (s + 1) * (<f64> dstLen / <f64> srcLen);
      f = f <= 0 ? 0 : f - Math.floor(f);
      if (s >= srcLen - 1) {
        f = 0;
        s = srcLen - 1;
      }
      store<i32>(srcs + (<usize> k << 2), s);
      store<f64>(weights + (<usize> k << 3), 1 - f);
      k++;
      if (f > 0) {
        store<i32>(srcs + (<usize> k << 2), s + 1);
        store<f64>(weights + (<usize> k << 3), f);
        k++;
      }
    }
    store<i32>(start + (<usize> (d + 1) << 2), k);
  }
  // Pad every pixel to the same tap count T (zero weights on its last source
  // index): r + p * 0 = r exactly, and loops of a fixed trip count do not
  // mispredict. Expanded in place from the end.
  let t: i32 = 1;
  for (let d: i32 = 0; d < dstLen; d++) {
    const c = load<i32>(start + (<usize> (d + 1) << 2)) - load<i32>(start + (<usize> d << 2));
    if (c > t) t = c;
  }
  for (let d: i32 = dstLen - 1; d >= 0; d--) {
    const s0 = load<i32>(start + (<usize> d << 2));
    const c = load<i32>(start + (<usize> (d + 1) << 2)) - s0;
    const last = c > 0 ? load<i32>(srcs + (<usize> (s0 + c - 1) << 2)) : 0;
    for (let j: i32 = t - 1; j >= 0; j--) {
      const to = d * t + j;
      if (j < c) {
        store<i32>(srcs + (<usize> to << 2), load<i32>(srcs + (<usize> (s0 + j) << 2)));
        store<f64>(weights + (<usize> to << 3), load<f64>(weights + (<usize> (s0 + j) << 3)));
      } else {
        store<i32>(srcs + (<usize> to << 2), last);
        store<f64>(weights + (<usize> to << 3), 0);
      }
    }
  }
  for (let d: i32 = 0; d <= dstLen; d++) store<i32>(start + (<usize> d << 2), d * t);
}

/** JavaScript's Math.round for v >= 0 (ties up), capped at 255. */
// @ts-ignore: decorator
@inline function roundByte(v: f64): f64 {
  let r = Math.floor(v);
  if (v - r >= 0.5) r += 1;
  return Math.min(255.0, r);
}

// Cached horizontal passes (two rows) of the current window.
let key0: i32 = -1;
let key1: i32 = -1;
let nextRow: i32 = 0;

/** The horizontal pass of source row sy (cached), dw*3 f64 at the returned address. */
function horizontal(
  src: usize,
  width: i32,
  x0: i32,
  sy: i32,
  xt: usize,
  dw: i32,
  inside: bool,
  row0: usize,
  row1: usize,
): usize {
  if (key0 == sy) return row0;
  if (key1 == sy) return row1;
  const row = nextRow == 0 ? row0 : row1;
  if (nextRow == 0) key0 = sy;
  else key1 = sy;
  nextRow ^= 1;
  const start = xt;
  const srcs = start + align16((<usize> dw + 1) << 2);
  // the caller lays out weights right after srcs with the same cap: passed via globals
  const weights = xWeights;
  const base = src + <usize> sy * <usize> width * 3;
  // the source pixels the taps reach, converted to f64 once (exact) into conv
  let cx0 = x0 + load<i32>(srcs);
  let cx1 = x0 + load<i32>(srcs + (<usize> (load<i32>(start + (<usize> dw << 2)) - 1) << 2)) + 1;
  if (cx0 < 0) cx0 = 0;
  if (cx1 > width) cx1 = width;
  {
    const from = base + <usize> cx0 * 3;
    const n = (cx1 - cx0) * 3;
    let i: i32 = 0;
    for (; i + 8 <= n; i += 8) {
      const b16 = i16x8.extend_low_i8x16_u(v128.load64_zero(from + <usize> i));
      const lo = i32x4.extend_low_i16x8_u(b16), hi = i32x4.extend_high_i16x8_u(b16);
      const o = conv + (<usize> i << 3);
      v128.store(o, f64x2.convert_low_i32x4_u(lo));
      v128.store(o, f64x2.convert_low_i32x4_u(i32x4.shuffle(lo, lo, 2, 3, 0, 1)), 16);
      v128.store(o, f64x2.convert_low_i32x4_u(hi), 32);
      v128.store(o, f64x2.convert_low_i32x4_u(i32x4.shuffle(hi, hi, 2, 3, 0, 1)), 48);
    }
    for (; i < n; i++) store<f64>(conv + (<usize> i << 3), <f64> load<u8>(from + <usize> i));
  }
  // conv holds pixel sx at (sx - cx0) * 24
  const c0 = conv - <usize> cx0 * 24;
  let k: i32 = 0;
  for (let d: i32 = 0; d < dw; d++) {
    let rg = f64x2.splat(0);
    let b: f64 = 0;
    const end = load<i32>(start + (<usize> (d + 1) << 2));
    if (inside) {
      for (; k < end; k++) {
        const w = load<f64>(weights + (<usize> k << 3));
        const p = c0 + <usize> (load<i32>(srcs + (<usize> k << 2)) + x0) * 24;
        rg = f64x2.add(rg, f64x2.mul(v128.load(p), f64x2.splat(w)));
        b += load<f64>(p, 16) * w;
      }
    } else {
      for (; k < end; k++) {
        const sx = load<i32>(srcs + (<usize> k << 2)) + x0;
        if (sx < 0 || sx >= width) continue;
        const w = load<f64>(weights + (<usize> k << 3));
        const p = c0 + <usize> sx * 24;
        rg = f64x2.add(rg, f64x2.mul(v128.load(p), f64x2.splat(w)));
        b += load<f64>(p, 16) * w;
      }
    }
    const o = row + (<usize> d * 24);
    v128.store(o, rg);
    store<f64>(o, b, 16);
  }
  return row;
}

let xWeights: usize = 0;
/** Scratch for one source row as f64 (set by the callers). */
let conv: usize = 0;

/**
 * Resamples the window at (x0, y0) described by the taps at xt (srcLenX ->
 * dw) and yt (srcLenY -> dh), pixels outside the image reading 0, to dst:
 * bytes (norm false) or f32 (v - mean) * scale.
 */
function resampleWindow(
  src: usize,
  width: i32,
  height: i32,
  x0: i32,
  y0: i32,
  xt: usize,
  xLen: i32,
  dw: i32,
  yt: usize,
  yLen: i32,
  dh: i32,
  dst: usize,
  norm: bool,
  mean: f64,
  scale: f64,
  rows: usize,
): void {
  const rowLen = dw * 3;
  const rowBytes = align16(<usize> dw * 24);
  const row0 = rows;
  const row1 = rows + rowBytes;
  const acc = row1 + rowBytes;
  key0 = -1;
  key1 = -1;
  nextRow = 0;
  const xCap = tapCap(xLen, dw);
  const xSrcs = xt + align16((<usize> dw + 1) << 2);
  xWeights = xSrcs + align16(xCap << 2);
  const xCount = load<i32>(xt + (<usize> dw << 2));
  const inside = x0 + load<i32>(xSrcs) >= 0 &&
    x0 + load<i32>(xSrcs + (<usize> (xCount - 1) << 2)) < width;
  const yCap = tapCap(yLen, dh);
  const ySrcs = yt + align16((<usize> dh + 1) << 2);
  const yWeights = ySrcs + align16(yCap << 2);
  for (let dy: i32 = 0; dy < dh; dy++) {
    memory.fill(acc, 0, <usize> rowLen << 3);
    const kEnd = load<i32>(yt + (<usize> (dy + 1) << 2));
    for (let k = load<i32>(yt + (<usize> dy << 2)); k < kEnd; k++) {
      const sy = load<i32>(ySrcs + (<usize> k << 2)) + y0;
      if (sy < 0 || sy >= height) continue;
      const row = horizontal(src, width, x0, sy, xt, dw, inside, row0, row1);
      const w = load<f64>(yWeights + (<usize> k << 3));
      const wv = f64x2.splat(w);
      let i: i32 = 0;
      for (; i + 2 <= rowLen; i += 2) {
        const a = acc + (<usize> i << 3);
        v128.store(a, f64x2.add(v128.load(a), f64x2.mul(v128.load(row + (<usize> i << 3)), wv)));
      }
      for (; i < rowLen; i++) {
        const a = acc + (<usize> i << 3);
        store<f64>(a, load<f64>(a) + load<f64>(row + (<usize> i << 3)) * w);
      }
    }
    // rounding two values at a time: floor, +1 when the fraction is >= 0.5, cap 255
    const half = f64x2.splat(0.5), one = f64x2.splat(1.0), cap = f64x2.splat(255.0);
    let i0: i32 = 0;
    if (norm) {
      const o = dst + (<usize> dy * <usize> rowLen << 2);
      const mv = f64x2.splat(mean), sv = f64x2.splat(scale);
      for (; i0 + 2 <= rowLen; i0 += 2) {
        const v = v128.load(acc + (<usize> i0 << 3));
        let r = f64x2.floor(v);
        r = f64x2.add(r, v128.and(f64x2.ge(f64x2.sub(v, r), half), one));
        r = f64x2.min(r, cap);
        const f = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(r, mv), sv));
        v128.store64_lane(o + (<usize> i0 << 2), f, 0);
      }
    } else {
      const o = dst + <usize> dy * <usize> rowLen;
      for (; i0 + 2 <= rowLen; i0 += 2) {
        const v = v128.load(acc + (<usize> i0 << 3));
        let r = f64x2.floor(v);
        r = f64x2.add(r, v128.and(f64x2.ge(f64x2.sub(v, r), half), one));
        r = f64x2.min(r, cap);
        const q = i32x4.trunc_sat_f64x2_s_zero(r);
        store<u8>(o + <usize> i0, <u8> i32x4.extract_lane(q, 0));
        store<u8>(o + <usize> i0, <u8> i32x4.extract_lane(q, 1), 1);
      }
    }
    if (norm) {
      const o = dst + (<usize> dy * <usize> rowLen << 2);
      for (let i: i32 = i0; i < rowLen; i++) {
        const v = roundByte(load<f64>(acc + (<usize> i << 3)));
        store<f32>(o + (<usize> i << 2), <f32> ((v - mean) * scale));
      }
    } else {
      const o = dst + <usize> dy * <usize> rowLen;
      for (let i: i32 = i0; i < rowLen; i++) {
        store<u8>(o + <usize> i, <u8> roundByte(load<f64>(acc + (<usize> i << 3))));
      }
    }
  }
}

/** u8 RGB srcW x srcH -> dstW x dstH with INTER_AREA, rounded to bytes. */
export function resizeAreaU8(
  src: usize,
  srcW: i32,
  srcH: i32,
  dstW: i32,
  dstH: i32,
  dst: usize,
  scratch: usize,
): void {
  const xt = scratch;
  const yt = xt + tapBytes(srcW, dstW);
  const rows = yt + tapBytes(srcH, dstH);
  conv = rows + 3 * align16(<usize> dstW * 24);
  areaTaps(srcW, dstW, xt);
  areaTaps(srcH, dstH, yt);
  resampleWindow(src, srcW, srcH, 0, 0, xt, srcW, dstW, yt, srcH, dstH, dst, false, 0, 1, rows);
}

/**
 * Every box (x, y, w, h; outside the image reads 0) of a u8 RGB image resized
 * to size x size with INTER_AREA, rounded to bytes, then (v - mean) * scale as
 * f32: n*size*size*3 floats, crop after crop. Scratch for boxes up to maxW x maxH.
 */
export function cropResizeAreaU8ToF32(
  src: usize,
  srcW: i32,
  srcH: i32,
  boxes: usize,
  n: i32,
  size: i32,
  mean: f64,
  scale: f64,
  dst: usize,
  scratch: usize,
  maxW: i32,
  maxH: i32,
): void {
  const xt = scratch;
  const yt = xt + tapBytes(maxW, size);
  const rows = yt + tapBytes(maxH, size);
  conv = rows + 3 * align16(<usize> size * 24);
  const step = <usize> size * <usize> size * 3 * 4;
  let lastW: i32 = -1;
  let lastH: i32 = -1;
  for (let i: i32 = 0; i < n; i++) {
    const b = boxes + (<usize> i << 4);
    const x = load<i32>(b), y = load<i32>(b, 4), w = load<i32>(b, 8), h = load<i32>(b, 12);
    // the taps sit at a fixed place for the largest box, laid out for each box's own length
    if (w != lastW) {
      areaTaps(w, size, xt);
      lastW = w;
    }
    if (h != lastH) {
      areaTaps(h, size, yt);
      lastH = h;
    }
    resampleWindow(
      src,
      srcW,
      srcH,
      x,
      y,
      xt,
      w,
      size,
      yt,
      h,
      size,
      dst + <usize> i * step,
      true,
      mean,
      scale,
      rows,
    );
  }
}

/** a*b + c per lane: fused in the relaxed-SIMD build, two roundings otherwise. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * The SIMD peak probe: `iters` rounds of acc = acc * a + c on 8 independent
 * f32x4 accumulators (lane j of accumulator i starts at 4i + j); returns the
 * sum of every lane. 64 flops per round (2 per multiply-add).
 */
export function fmaPeak(iters: i32, a: f32, c: f32): f32 {
  const av = f32x4.splat(a), cv = f32x4.splat(c);
  let a0 = f32x4(0, 1, 2, 3), a1 = f32x4(4, 5, 6, 7);
  let a2 = f32x4(8, 9, 10, 11), a3 = f32x4(12, 13, 14, 15);
  let a4 = f32x4(16, 17, 18, 19), a5 = f32x4(20, 21, 22, 23);
  let a6 = f32x4(24, 25, 26, 27), a7 = f32x4(28, 29, 30, 31);
  for (let i: i32 = 0; i < iters; i++) {
    a0 = madd(a0, av, cv);
    a1 = madd(a1, av, cv);
    a2 = madd(a2, av, cv);
    a3 = madd(a3, av, cv);
    a4 = madd(a4, av, cv);
    a5 = madd(a5, av, cv);
    a6 = madd(a6, av, cv);
    a7 = madd(a7, av, cv);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)),
    f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) +
    f32x4.extract_lane(s, 3);
}
