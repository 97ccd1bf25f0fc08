// Area resampling kernels (OpenCV's INTER_AREA, the interpolation of the
// published MTCNN ports) of RGB u8 images, and the SIMD peak probe.
// Twins: areaTaps / resizeAreaU8 / cropResizeAreaU8ToF32 / fmaPeak in
// kernels/reference.ts. The resampling is exact integer arithmetic: along an
// axis every weight is units / den (den = srcLen / gcd(srcLen, dstLen)), a
// window's weighted sum is an integer N over D = denX * denY, and the byte is
// N / D rounded half up; integer sums do not depend on the order of the
// additions, so the SIMD lanes and the twin agree exactly.
// Built twice: area.wasm (SIMD) and area_relaxed.wasm (relaxed SIMD: the peak
// probe uses f32x4.relaxed_madd; the resampling is the same code).
//
// Per destination row, columns first: the vertical taps' weighted sum of the
// window's rows into the row `v` (u32, 16 bytes per step: in u16 lanes when
// the weights sum to 257 or less, else the rows of the common full weight
// summed in u16 and weighed once, else u8 x u16 -> u32 per row), then
// the horizontal taps over `v` (one pixel's r, g, b in the lanes of an i32x4)
// into `h`, then h / D rounded, to bytes or normalised floats. A crop from a
// large box reads each of its source rows once (rows on a boundary twice).
// Windows too big for i32 sums (255 * D >= 2^31, or vertical weights above
// 65535) take a scalar f64 path, exact below 2^53 as the twin.
//
// Memory regions (linear memory, laid out by kernels/mod.ts on each call,
// every region 16-byte aligned):
//   [0, heapBase())   the compiler's static data; never written
//   src               srcW*srcH*3 u8 (read only), + 16 bytes slack
//   boxes             n*4 i32: x, y, w, h per crop (read only; w, h >= 1)
//   dst               dstW*dstH*3 u8, or n*size*size*3 f32, + 16 bytes slack
//   scratch           areaScratchBytes(maxSrcW, maxSrcH, dstW, dstH) bytes:
//     x taps          first source pixel (dstW i32), units (dstW * cap i32)
//     y taps          the same for the rows
//     rows            the vertical taps of one row: address (i32) and weight (v128) each
//     v               one window row of vertical sums: u32 or f64, (maxSrcW + cap + 6) * 3
//     h               one destination row of sums before rounding: dstW * 3 + 8 u32

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

function align16(n: usize): usize {
  return (n + 15) & ~(<usize> 15);
}

/** Taps per destination pixel at most: floor(srcLen / dstLen) + 2. */
function tapCap(srcLen: i32, dstLen: i32): i32 {
  return srcLen / dstLen + 2;
}

function tapBytes(srcLen: i32, dstLen: i32): usize {
  return align16(<usize> dstLen << 2) + align16((<usize> dstLen * <usize> tapCap(srcLen, dstLen)) << 2);
}

/** Bytes of scratch for windows up to maxSrcW x maxSrcH resized to dstW x dstH. */
export function areaScratchBytes(maxSrcW: i32, maxSrcH: i32, dstW: i32, dstH: i32): usize {
  const yCap = <usize> tapCap(maxSrcH, dstH);
  const vLen = (<usize> maxSrcW + <usize> tapCap(maxSrcW, dstW) + 6) * 3;
  return tapBytes(maxSrcW, dstW) + tapBytes(maxSrcH, dstH) + align16(yCap * 4) + yCap * 16 +
    align16(vLen * 8 + 64) + align16((<usize> dstW * 3 + 8) * 4) + 16;
}

function gcd(a: i32, b: i32): i32 {
  while (b != 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** The denominator of the last taps written by areaTaps. */
let tapDen: i32 = 1;

/**
 * Writes the taps of srcLen -> dstLen at `at` as the twin's areaTaps, in
 * integers: the first source pixel of each destination pixel (dstLen i32),
 * then T units per pixel (its consecutive source pixels, zero-padded to the
 * largest count T); returns T and sets tapDen.
 */
function areaTaps(srcLen: i32, dstLen: i32, at: usize): i32 {
  const g = gcd(srcLen, dstLen);
  const cap = tapCap(srcLen, dstLen);
  const first = at;
  const units = at + align16(<usize> dstLen << 2);
  const src = <i64> srcLen, dst = <i64> dstLen;
  let t: i32 = 1;
  for (let d: i32 = 0; d < dstLen; d++) {
    const u = units + ((<usize> d * <usize> cap) << 2);
    let s0: i32 = 0;
    let c: i32 = 0;
    if (dstLen <= srcLen) {
      // in units of 1/dstLen source pixels: the cell is [f1, f2), pixel s is [s, s + 1) * dstLen
      const f1 = <i64> d * src, f2 = f1 + src;
      let s2 = f2 / dst;
      if (s2 > src - 1) s2 = src - 1;
      let s1 = (f1 + dst - 1) / dst;
      if (s1 > s2) s1 = s2;
      const left = s1 * dst - f1, right = f2 - s2 * dst;
      s0 = <i32> s1;
      if (1000 * left > dst) {
        store<i32>(u, <i32> (left / g));
        s0--;
        c = 1;
      }
      for (let s = s1; s < s2; s++) {
        store<i32>(u + (<usize> c << 2), dstLen / g);
        c++;
      }
      if (1000 * right > dst) {
        store<i32>(u + (<usize> c << 2), <i32> ((right < dst ? right : dst) / g));
        c++;
      }
    } else {
      // s = floor(d * srcLen / dstLen); the blend towards s + 1 is m / srcLen
      let s = <i64> d * src / dst;
      let m = (<i64> d + 1) * src - (s + 1) * dst;
      if (s >= src - 1) {
        s = src - 1;
        m = 0;
      }
      if (m < 0) m = 0;
      s0 = <i32> s;
      store<i32>(u, <i32> ((src - m) / g));
      c = 1;
      if (m > 0) {
        store<i32>(u + 4, <i32> (m / g));
        c = 2;
      }
    }
    store<i32>(first + (<usize> d << 2), s0);
    for (let j = c; j < cap; j++) store<i32>(u + (<usize> j << 2), 0);
    if (c > t) t = c;
  }
  // compact the rows of `cap` units to rows of t (forward: never overwrites unread units)
  if (t < cap) {
    for (let d: i32 = 1; d < dstLen; d++) {
      for (let j: i32 = 0; j < t; j++) {
        store<i32>(
          units + ((<usize> (d * t + j)) << 2),
          load<i32>(units + ((<usize> (d * cap + j)) << 2)),
        );
      }
    }
  }
  tapDen = srcLen / g;
  return t;
}

/** JavaScript's Math.round for v >= 0 (ties up), capped at 255. */
// @ts-ignore: decorator
@inline function roundByte(v: f64): f64 {
  let r = Math.floor(v);
  if (v - r >= 0.5) r += 1;
  return Math.min(255.0, r);
}

// The taps of the current window as laid out by areaTaps (globals: the stub
// runtime would allocate objects at heapBase(), where the caller's regions go).
let xFirst: usize = 0;
let xUnits: usize = 0;
let xCount: i32 = 0;
let xDen: i32 = 1;
let yFirst: usize = 0;
let yUnits: usize = 0;
let yCount: i32 = 0;
let yDen: i32 = 1;

function setXTaps(srcLen: i32, dstLen: i32, at: usize): void {
  xFirst = at;
  xUnits = at + align16(<usize> dstLen << 2);
  xCount = areaTaps(srcLen, dstLen, at);
  xDen = tapDen;
}

function setYTaps(srcLen: i32, dstLen: i32, at: usize): void {
  yFirst = at;
  yUnits = at + align16(<usize> dstLen << 2);
  yCount = areaTaps(srcLen, dstLen, at);
  yDen = tapDen;
}

/**
 * The vertical pass of one destination row: sum over the `nRows` rows listed
 * at `rows` (address i32, then u16 weight splat v128 per row) of weight *
 * byte, `bytes` bytes from each address, to u32 at `v` (rounded up to 16).
 */
function verticalU32(rows: usize, weights: usize, nRows: i32, bytes: i32, v: usize): void {
  for (let i: i32 = 0; i < bytes; i += 16) {
    const o = <usize> i;
    let p = <usize> load<i32>(rows);
    let w = v128.load(weights);
    let b = v128.load(p + o);
    let lo = i16x8.extend_low_i8x16_u(b), hi = i16x8.extend_high_i8x16_u(b);
    let a0 = i32x4.extmul_low_i16x8_u(lo, w), a1 = i32x4.extmul_high_i16x8_u(lo, w);
    let a2 = i32x4.extmul_low_i16x8_u(hi, w), a3 = i32x4.extmul_high_i16x8_u(hi, w);
    for (let r: i32 = 1; r < nRows; r++) {
      p = <usize> load<i32>(rows + (<usize> r << 2));
      w = v128.load(weights + (<usize> r << 4));
      b = v128.load(p + o);
      lo = i16x8.extend_low_i8x16_u(b);
      hi = i16x8.extend_high_i8x16_u(b);
      a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_u(lo, w));
      a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_u(lo, w));
      a2 = i32x4.add(a2, i32x4.extmul_low_i16x8_u(hi, w));
      a3 = i32x4.add(a3, i32x4.extmul_high_i16x8_u(hi, w));
    }
    const q = v + (o << 2);
    v128.store(q, a0);
    v128.store(q, a1, 16);
    v128.store(q, a2, 32);
    v128.store(q, a3, 48);
  }
}

/**
 * verticalU32 when the weights sum to at most 257: every sum fits u16, so
 * the rows are weighed and added 8 lanes at a time, widened once at the end.
 */
function verticalU16(rows: usize, weights: usize, nRows: i32, bytes: i32, v: usize): void {
  for (let i: i32 = 0; i < bytes; i += 16) {
    const o = <usize> i;
    let w = v128.load(weights);
    let b = v128.load(<usize> load<i32>(rows) + o);
    let lo = i16x8.mul(i16x8.extend_low_i8x16_u(b), w);
    let hi = i16x8.mul(i16x8.extend_high_i8x16_u(b), w);
    for (let r: i32 = 1; r < nRows; r++) {
      w = v128.load(weights + (<usize> r << 4));
      b = v128.load(<usize> load<i32>(rows + (<usize> r << 2)) + o);
      lo = i16x8.add(lo, i16x8.mul(i16x8.extend_low_i8x16_u(b), w));
      hi = i16x8.add(hi, i16x8.mul(i16x8.extend_high_i8x16_u(b), w));
    }
    const q = v + (o << 2);
    v128.store(q, i32x4.extend_low_i16x8_u(lo));
    v128.store(q, i32x4.extend_high_i16x8_u(lo), 16);
    v128.store(q, i32x4.extend_low_i16x8_u(hi), 32);
    v128.store(q, i32x4.extend_high_i16x8_u(hi), 48);
  }
}

/**
 * verticalU32 when the first nFull (2..257) rows share one weight: their
 * bytes are summed in u16 and weighed once; the other rows as verticalU32.
 */
function verticalSplit(
  rows: usize,
  weights: usize,
  nFull: i32,
  nRows: i32,
  bytes: i32,
  v: usize,
): void {
  const wf = v128.load(weights);
  for (let i: i32 = 0; i < bytes; i += 16) {
    const o = <usize> i;
    let b = v128.load(<usize> load<i32>(rows) + o);
    let lo = i16x8.extend_low_i8x16_u(b), hi = i16x8.extend_high_i8x16_u(b);
    for (let r: i32 = 1; r < nFull; r++) {
      b = v128.load(<usize> load<i32>(rows + (<usize> r << 2)) + o);
      lo = i16x8.add(lo, i16x8.extend_low_i8x16_u(b));
      hi = i16x8.add(hi, i16x8.extend_high_i8x16_u(b));
    }
    let a0 = i32x4.extmul_low_i16x8_u(lo, wf), a1 = i32x4.extmul_high_i16x8_u(lo, wf);
    let a2 = i32x4.extmul_low_i16x8_u(hi, wf), a3 = i32x4.extmul_high_i16x8_u(hi, wf);
    for (let r: i32 = nFull; r < nRows; r++) {
      const w = v128.load(weights + (<usize> r << 4));
      b = v128.load(<usize> load<i32>(rows + (<usize> r << 2)) + o);
      lo = i16x8.extend_low_i8x16_u(b);
      hi = i16x8.extend_high_i8x16_u(b);
      a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_u(lo, w));
      a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_u(lo, w));
      a2 = i32x4.add(a2, i32x4.extmul_low_i16x8_u(hi, w));
      a3 = i32x4.add(a3, i32x4.extmul_high_i16x8_u(hi, w));
    }
    const q = v + (o << 2);
    v128.store(q, a0);
    v128.store(q, a1, 16);
    v128.store(q, a2, 32);
    v128.store(q, a3, 48);
  }
}

/** The horizontal pass: h[d] (r, g, b lanes; a fourth junk lane) = sum of units * v over d's taps. */
function horizontalU32(v: usize, dw: i32, h: usize): void {
  const first = xFirst, units = xUnits, t = xCount;
  if (t == 2) {
    for (let d: i32 = 0; d < dw; d++) {
      const p = v + <usize> load<i32>(first + (<usize> d << 2)) * 12;
      const u = units + (<usize> d << 3);
      const acc = i32x4.add(
        i32x4.mul(v128.load(p), v128.load32_splat(u)),
        i32x4.mul(v128.load(p, 12), v128.load32_splat(u, 4)),
      );
      v128.store(h + <usize> d * 12, acc);
    }
    return;
  }
  if (t == 3) {
    for (let d: i32 = 0; d < dw; d++) {
      const p = v + <usize> load<i32>(first + (<usize> d << 2)) * 12;
      const u = units + <usize> d * 12;
      let acc = i32x4.mul(v128.load(p), v128.load32_splat(u));
      acc = i32x4.add(acc, i32x4.mul(v128.load(p, 12), v128.load32_splat(u, 4)));
      acc = i32x4.add(acc, i32x4.mul(v128.load(p, 24), v128.load32_splat(u, 8)));
      v128.store(h + <usize> d * 12, acc);
    }
    return;
  }
  for (let d: i32 = 0; d < dw; d++) {
    let p = v + <usize> load<i32>(first + (<usize> d << 2)) * 12;
    let u = units + ((<usize> d * <usize> t) << 2);
    let acc = i32x4.mul(v128.load(p), v128.load32_splat(u));
    for (let j: i32 = 1; j < t; j++) {
      p += 12;
      u += 4;
      acc = i32x4.add(acc, i32x4.mul(v128.load(p), v128.load32_splat(u)));
    }
    v128.store(h + <usize> d * 12, acc);
  }
}

/**
 * Whether f32 arithmetic, (f32(v) - f32(mean)) * f32(scale), gives the same
 * bits as f32((v - mean) * scale) in f64 for every byte v (e.g. mean 127.5,
 * scale 1/128): then the rounding pass normalises four values at a time in f32.
 */
let normF32: bool = false;

function checkNormF32(mean: f64, scale: f64): bool {
  const m32 = <f32> mean, s32 = <f32> scale;
  for (let v: i32 = 0; v < 256; v++) {
    const want = <f32> ((<f64> v - mean) * scale);
    const got: f32 = (<f32> v - m32) * s32;
    if (reinterpret<i32>(got) != reinterpret<i32>(want)) return false;
  }
  return true;
}

/**
 * Rounds the n sums at h to N / den half up (exact: an f32 estimate, then
 * corrected by the integer remainder) and writes bytes (norm false) or f32
 * (v - mean) * scale (in f64, as the twin) to out; may write up to 3 values
 * past n.
 */
function finishRow(h: usize, n: i32, den: i32, out: usize, norm: bool, mean: f64, scale: f64): void {
  const inv = f32x4.splat(<f32> (1.0 / <f64> den));
  // 2^23: adding it leaves round(x) in the low mantissa bits for 0 <= x < 2^22
  const magic = f32x4.splat(8388608.0), magicBits = i32x4.splat(0x4b000000);
  const dv = i32x4.splat(den), negD = i32x4.splat(-den);
  const mv = f64x2.splat(mean), sv = f64x2.splat(scale);
  const m32 = f32x4.splat(<f32> mean), s32 = f32x4.splat(<f32> scale);
  for (let i: i32 = 0; i < n; i += 4) {
    const s = v128.load(h + (<usize> i << 2));
    // an estimate within 1 of N / den (sums < 2^31: signed conversions, native on x86)
    const y = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(s), inv), magic);
    let q = i32x4.sub(y, magicBits);
    // e = N - q * den (small): q is one low when 2e >= den, one high when 2e < -den
    const e2 = i32x4.shl(i32x4.sub(s, i32x4.mul(q, dv)), 1);
    q = i32x4.sub(i32x4.add(q, i32x4.lt_s(e2, negD)), i32x4.ge_s(e2, dv));
    if (norm && normF32) {
      v128.store(out + (<usize> i << 2), f32x4.mul(f32x4.sub(f32x4.convert_i32x4_s(q), m32), s32));
    } else if (norm) {
      const lo = f64x2.mul(f64x2.sub(f64x2.convert_low_i32x4_s(q), mv), sv);
      const hi = f64x2.mul(
        f64x2.sub(f64x2.convert_low_i32x4_s(i32x4.shuffle(q, q, 2, 3, 0, 1)), mv),
        sv,
      );
      const f = i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
      v128.store(out + (<usize> i << 2), f);
    } else {
      const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q, q), q);
      v128.store32_lane(out + <usize> i, b, 0);
    }
  }
}

/**
 * The scalar f64 path for windows whose sums do not fit u32: the twin's
 * loops, exact below 2^53.
 */
function resampleScalar(
  src: usize,
  width: i32,
  height: i32,
  x0: i32,
  y0: i32,
  winW: i32,
  dw: i32,
  dh: i32,
  dst: usize,
  norm: bool,
  mean: f64,
  scale: f64,
  v: usize,
): void {
  const den = <f64> xDen * <f64> yDen;
  const c0 = x0 < 0 ? -x0 : 0;
  const c1 = width - x0 < winW ? width - x0 : winW;
  const tx = xCount, ty = yCount;
  for (let dy: i32 = 0; dy < dh; dy++) {
    memory.fill(v, 0, <usize> winW * 24);
    const fy = load<i32>(yFirst + (<usize> dy << 2));
    for (let k: i32 = 0; k < ty; k++) {
      const sy = fy + k + y0;
      const u = <f64> load<i32>(yUnits + ((<usize> (dy * ty + k)) << 2));
      if (sy < 0 || sy >= height || u == 0) continue;
      const base = src + (<usize> sy * <usize> width + <usize> x0) * 3;
      for (let i: i32 = c0 * 3; i < c1 * 3; i++) {
        const a = v + (<usize> i << 3);
        store<f64>(a, load<f64>(a) + u * <f64> load<u8>(base + <usize> i));
      }
    }
    for (let d: i32 = 0; d < dw; d++) {
      const fx = load<i32>(xFirst + (<usize> d << 2));
      for (let c: i32 = 0; c < 3; c++) {
        let n: f64 = 0;
        for (let k: i32 = 0; k < tx; k++) {
          const u = <f64> load<i32>(xUnits + ((<usize> (d * tx + k)) << 2));
          if (u == 0) continue;
          n += u * load<f64>(v + ((<usize> ((fx + k) * 3 + c)) << 3));
        }
        const byte = roundByte(n / den);
        const at = (dy * dw + d) * 3 + c;
        if (norm) store<f32>(dst + (<usize> at << 2), <f32> ((byte - mean) * scale));
        else store<u8>(dst + <usize> at, <u8> byte);
      }
    }
  }
}

/**
 * Resamples the winW-wide window at (x0, y0) with the taps in xTaps (winW ->
 * dw) and yTaps (-> dh), pixels outside the image reading 0, to dst: bytes
 * (norm false) or f32 (v - mean) * scale.
 */
function resampleWindow(
  src: usize,
  width: i32,
  height: i32,
  x0: i32,
  y0: i32,
  winW: i32,
  dw: i32,
  dh: i32,
  dst: usize,
  norm: bool,
  mean: f64,
  scale: f64,
  work: usize,
  yCap: i32,
): void {
  const rows = work;
  const weights = rows + align16(<usize> yCap << 2);
  const v = weights + (<usize> yCap << 4);
  const vLen = (winW + xCount + 6) * 3;
  const h = v + align16(<usize> vLen * 8 + 64);
  const den = <i64> xDen * <i64> yDen;
  if (yDen > 65535 || den * 255 >= (<i64> 1 << 31)) {
    resampleScalar(src, width, height, x0, y0, winW, dw, dh, dst, norm, mean, scale, v);
    return;
  }
  // the window's columns inside the image: [c0, c1)
  const c0 = x0 < 0 ? -x0 : 0;
  const c1 = width - x0 < winW ? width - x0 : winW;
  const rowLen = dw * 3;
  const ty = yCount;
  const outStep = norm ? <usize> rowLen << 2 : <usize> rowLen;
  for (let dy: i32 = 0; dy < dh; dy++) {
    const fy = load<i32>(yFirst + (<usize> dy << 2)) + y0;
    let nRows: i32 = 0;
    let sumU: i32 = 0;
    let maxU: i32 = 0;
    let nMax: i32 = 0;
    if (c1 > c0) {
      for (let k: i32 = 0; k < ty; k++) {
        const sy = fy + k;
        const u = load<i32>(yUnits + ((<usize> (dy * ty + k)) << 2));
        if (sy < 0 || sy >= height || u == 0) continue;
        store<i32>(rows + (<usize> nRows << 2), <i32> (src + (<usize> sy * <usize> width + <usize> (x0 + c0)) * 3));
        v128.store(weights + (<usize> nRows << 4), i16x8.splat(<i16> u));
        nRows++;
        sumU += u;
        if (u > maxU) {
          maxU = u;
          nMax = 1;
        } else if (u == maxU) {
          nMax++;
        }
      }
    }
    if (nRows == 0) {
      memory.fill(v, 0, <usize> vLen << 2);
    } else {
      const bytes = (c1 - c0) * 3, vc = v + (<usize> c0 * 12);
      if (sumU <= 257) {
        verticalU16(rows, weights, nRows, bytes, vc);
      } else if (nMax >= 2 && nMax <= 257) {
        // the rows of the largest weight first (a row and its weight swap together)
        let f: i32 = 0;
        for (let r: i32 = 0; r < nRows; r++) {
          const wr = weights + (<usize> r << 4);
          if (i16x8.extract_lane_u(v128.load(wr), 0) != maxU) continue;
          if (r != f) {
            const wf = weights + (<usize> f << 4);
            const tw = v128.load(wf);
            v128.store(wf, v128.load(wr));
            v128.store(wr, tw);
            const rf = rows + (<usize> f << 2), rr = rows + (<usize> r << 2);
            const tr = load<i32>(rf);
            store<i32>(rf, load<i32>(rr));
            store<i32>(rr, tr);
          }
          f++;
        }
        verticalSplit(rows, weights, nMax, nRows, bytes, vc);
      } else {
        verticalU32(rows, weights, nRows, bytes, vc);
      }
      if (c0 > 0) memory.fill(v, 0, <usize> c0 * 12);
      // the columns right of the image (and the overrun of the last 16 bytes)
      memory.fill(v + <usize> c1 * 12, 0, <usize> (vLen - c1 * 3) << 2);
    }
    horizontalU32(v, dw, h);
    finishRow(h, rowLen, <i32> den, dst + <usize> dy * outStep, norm, mean, scale);
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
  const work = yt + tapBytes(srcH, dstH);
  setXTaps(srcW, dstW, xt);
  setYTaps(srcH, dstH, yt);
  resampleWindow(src, srcW, srcH, 0, 0, srcW, dstW, dstH, dst, false, 0, 1, work, tapCap(srcH, dstH));
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
  const work = yt + tapBytes(maxH, size);
  const yCap = tapCap(maxH, size);
  const step = <usize> size * <usize> size * 3 * 4;
  normF32 = checkNormF32(mean, scale);
  let lastW: i32 = -1;
  let lastH: i32 = -1;
  for (let i: i32 = 0; i < n; i++) {
    const b = boxes + (<usize> i << 4);
    const x = load<i32>(b), y = load<i32>(b, 4), w = load<i32>(b, 8), h = load<i32>(b, 12);
    // the taps sit at a fixed place for the largest box, laid out for each box's own length
    if (w != lastW) {
      setXTaps(w, size, xt);
      lastW = w;
    }
    if (h != lastH) {
      setYTaps(h, size, yt);
      lastH = h;
    }
    resampleWindow(src, srcW, srcH, x, y, w, size, size, dst + <usize> i * step, true, mean, scale, work, yCap);
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
