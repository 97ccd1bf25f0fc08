// Int8 inference kernels for MTCNN-shaped nets (v128 SIMD, plain: no relaxed
// instructions, so the float requantisation is bit-identical to the TS twin
// (int8Reference in src/deploy/engine_int8.ts).
//
// Arithmetic (per output value o of a convolution or dense layer):
//   acc   = sum_k (x_k - zIn) * w[o][k]          int32 (x uint8, w int8)
//   y     = f32(acc) * mul[o] + bias[o]          f32, mul = sIn * sW[o]
//   y     = y < 0 ? y * alpha[o] : y             PReLU (ReLU: alpha 0; none: 1)
//   q     = sat_u8(nearest(y * invOut) + zOut)   uint8 output (mode 0)
//   or y is written as float32                   (mode 1: the heads)
// PReLU runs in the dequantised (float) domain, one multiply per value.
//
// Layouts: activations NHWC uint8 codes, channels exact; a convolution
// reads them widened to int16 minus the zero point (toI16); weights are
// pair-packed (see below). Every region carries 16 bytes of slack (vector
// tails).

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------
// Pair layout: activations widened to int16 minus the zero
// point (toI16), weights packed per block of B = 8 or 4 output channels as
// [mul B f32][bias B f32][alpha B f32] then, for each kernel row ky and each
// pair j of its kw*c inputs, B x 2 int16 (channel-major: w[o][2j], w[o][2j+1]),
// zero past the row's end. One i32x4.dot_i16x8_s of a splatted input pair
// against a weight vector adds 2 products to 4 channels: no horizontal sums.
// Blocks: 8 wide, a remainder of 1..4 channels one 4-wide block, 5..7 one
// (padded) 8-wide block. Registers: 8 channels x 4 pixels = 8 accumulators.

/** Bytes of pair-packed weights for kh rows of kw*c inputs and oc outputs. */
export function pairPackedBytes(kh: i32, kw: i32, c: i32, oc: i32): i32 {
  const pairs = kh * ((kw * c + 1) >> 1);
  const full = oc >> 3;
  const r = oc & 7;
  let bytes = full * (96 + pairs * 32);
  if (r > 0 && r <= 4) bytes += 48 + pairs * 16;
  else if (r > 4) bytes += 96 + pairs * 32;
  return bytes;
}

/** Widens count uint8 codes to int16 minus the zero point z. */
export function toI16(src: usize, count: i32, z: i32, dst: usize): void {
  const zv = i16x8.splat(<i16>z);
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    v128.store(dst + <usize>(i * 2), i16x8.sub(i16x8.extend_low_i8x16_u(v128.load64_zero(src + <usize>i)), zv));
  }
  for (; i < count; i++) store<i16>(dst + <usize>(i * 2), <i16>(<i32>load<u8>(src + <usize>i) - z));
}

/**
 * Dequantised output of 4 channels: f32(acc) * mul + bias, then PReLU
 * (negative lanes times alpha; the relaxed build selects with one blend:
 * the mask is a comparison's, all ones or zeros, so the result is the same).
 */
@inline
function dequant(acc: v128, wb: usize, off: i32, bw: i32): v128 {
  const o4 = <usize>(off * 4);
  const y = f32x4.add(
    f32x4.mul(f32x4.convert_i32x4_s(acc), v128.load(wb + o4)),
    v128.load(wb + <usize>(bw * 4) + o4),
  );
  const neg = f32x4.lt(y, f32x4.splat(0));
  const ya = f32x4.mul(y, v128.load(wb + <usize>(bw * 8) + o4));
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_laneselect(ya, y, neg);
  return v128.bitselect(ya, y, neg);
}

/**
 * Output codes of 4 channels before saturation: nearest(y * inv) + zOut as
 * int32. The relaxed build clamps nearest(y * inv) to +-1024 first (any code
 * beyond saturates to 0 or maxCode alike) and truncates with the plain
 * conversion instead of the saturating one: the same codes for
 * |y * inv| < 2^31 - 256 (beyond, the twin's int32 sum wraps; not mirrored).
 */
@inline
function codes(y: v128, inv: v128, zo: v128): v128 {
  let v = f32x4.nearest(f32x4.mul(y, inv));
  if (ASC_FEATURE_RELAXED_SIMD) {
    v = f32x4.pmax(f32x4.pmin(v, f32x4.splat(1024)), f32x4.splat(-1024));
    return i32x4.add(i32x4.relaxed_trunc_f32x4_s(v), zo);
  }
  return i32x4.add(i32x4.trunc_sat_f32x4_s(v), zo);
}

@inline
function epilogue(
  acc: v128,
  wb: usize,
  off: i32,
  bw: i32,
  valid: i32,
  mode: i32,
  inv: v128,
  zo: v128,
  maxCode: v128,
  out: usize,
): void {
  if (valid <= 0) return;
  const y = dequant(acc, wb, off, bw);
  if (mode == 0) {
    const qi = codes(y, inv, zo);
    const q16 = i16x8.narrow_i32x4_s(qi, qi);
    const q8 = i8x16.min_u(i8x16.narrow_i16x8_u(q16, q16), maxCode);
    const d = out + <usize>off;
    if (valid >= 4) v128.store32_lane(d, q8, 0);
    else {
      store<u8>(d, i8x16.extract_lane_u(q8, 0));
      if (valid > 1) store<u8>(d + 1, i8x16.extract_lane_u(q8, 1));
      if (valid > 2) store<u8>(d + 2, i8x16.extract_lane_u(q8, 2));
    }
  } else {
    const d = out + <usize>(off * 4);
    if (valid >= 4) v128.store(d, y);
    else {
      store<f32>(d, f32x4.extract_lane(y, 0));
      if (valid > 1) store<f32>(d + 4, f32x4.extract_lane(y, 1));
      if (valid > 2) store<f32>(d + 8, f32x4.extract_lane(y, 2));
    }
  }
}

/**
 * uint8 codes of two pixels of a full 8-channel block (a*: channels 0..3,
 * b*: 4..7): the four int32 vectors narrowed together, one 8-byte store each.
 */
@inline
function epiloguePair8(
  a0: v128,
  b0: v128,
  a1: v128,
  b1: v128,
  wb: usize,
  inv: v128,
  zo: v128,
  maxCode: v128,
  out0: usize,
  out1: usize,
): void {
  const p0 = i16x8.narrow_i32x4_s(
    codes(dequant(a0, wb, 0, 8), inv, zo),
    codes(dequant(b0, wb, 4, 8), inv, zo),
  );
  const p1 = i16x8.narrow_i32x4_s(
    codes(dequant(a1, wb, 0, 8), inv, zo),
    codes(dequant(b1, wb, 4, 8), inv, zo),
  );
  const q8 = i8x16.min_u(i8x16.narrow_i16x8_u(p0, p1), maxCode);
  v128.store64_lane(out0, q8, 0);
  v128.store64_lane(out1, q8, 1);
}

/**
 * Convolution (valid padding) over n images h x w x c of int16 (codes minus
 * zIn, from toI16) with pair-packed weights; output as convInt8 (mode 0:
 * uint8 codes, mode 1: float32). A dense layer over n inputs of length K is
 * h = 1, w = n, c = K, kh = kw = 1, n = 1.
 */
export function convPairs(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  packed: usize,
  kh: i32,
  kw: i32,
  stride: i32,
  oc: i32,
  mode: i32,
  invOut: f32,
  zOut: i32,
  maxCode: i32,
  dst: usize,
): void {
  const mc = i8x16.splat(<i8>maxCode);
  const oh = (h - kh) / stride + 1;
  const ow = (w - kw) / stride + 1;
  const rowBytes = w * c * 2;
  const pairsRow = (kw * c + 1) >> 1;
  const pxBytes = stride * c * 2;
  const inv = f32x4.splat(invOut);
  const zo = i32x4.splat(zOut);
  const elem: i32 = mode == 0 ? 1 : 4;
  const full = oc >> 3;
  const r = oc & 7;
  const blocks = full + (r > 0 ? 1 : 0);
  const pairs = kh * pairsRow;
  for (let img = 0; img < n; img++) {
    const base = src + <usize>(img * h * rowBytes);
    const obase = dst + <usize>(img * oh * ow * oc * elem);
    for (let oy = 0; oy < oh; oy++) {
      const rowBase = base + <usize>(oy * stride * rowBytes);
      const orow = obase + <usize>(oy * ow * oc * elem);
      let wb = packed;
      for (let b = 0; b < blocks; b++) {
        const bw: i32 = b < full || r > 4 ? 8 : 4;
        const wts = wb + <usize>(bw * 12);
        const valid = min(bw, oc - b * 8);
        const choff = b * 8 * elem;
        let ox = 0;
        if (bw == 8) {
          for (; ox + 4 <= ow; ox += 4) {
            let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
            let b0 = i32x4.splat(0), b1 = i32x4.splat(0), b2 = i32x4.splat(0), b3 = i32x4.splat(0);
            let wp = wts;
            const p0 = rowBase + <usize>(ox * pxBytes);
            for (let ky = 0; ky < kh; ky++) {
              let xp = p0 + <usize>(ky * rowBytes);
              for (let j = 0; j < pairsRow; j++) {
                const w0 = v128.load(wp);
                const w1 = v128.load(wp, 16);
                const x0 = v128.load32_splat(xp);
                const x1 = v128.load32_splat(xp + <usize>pxBytes);
                const x2 = v128.load32_splat(xp + <usize>(2 * pxBytes));
                const x3 = v128.load32_splat(xp + <usize>(3 * pxBytes));
                a0 = i32x4.add(a0, i32x4.dot_i16x8_s(x0, w0));
                b0 = i32x4.add(b0, i32x4.dot_i16x8_s(x0, w1));
                a1 = i32x4.add(a1, i32x4.dot_i16x8_s(x1, w0));
                b1 = i32x4.add(b1, i32x4.dot_i16x8_s(x1, w1));
                a2 = i32x4.add(a2, i32x4.dot_i16x8_s(x2, w0));
                b2 = i32x4.add(b2, i32x4.dot_i16x8_s(x2, w1));
                a3 = i32x4.add(a3, i32x4.dot_i16x8_s(x3, w0));
                b3 = i32x4.add(b3, i32x4.dot_i16x8_s(x3, w1));
                wp += 32;
                xp += 4;
              }
            }
            const o = orow + <usize>(ox * oc * elem + choff);
            const step = <usize>(oc * elem);
            epilogue(a0, wb, 0, 8, valid, mode, inv, zo, mc, o);
            epilogue(b0, wb, 4, 8, valid - 4, mode, inv, zo, mc, o);
            epilogue(a1, wb, 0, 8, valid, mode, inv, zo, mc, o + step);
            epilogue(b1, wb, 4, 8, valid - 4, mode, inv, zo, mc, o + step);
            epilogue(a2, wb, 0, 8, valid, mode, inv, zo, mc, o + 2 * step);
            epilogue(b2, wb, 4, 8, valid - 4, mode, inv, zo, mc, o + 2 * step);
            epilogue(a3, wb, 0, 8, valid, mode, inv, zo, mc, o + 3 * step);
            epilogue(b3, wb, 4, 8, valid - 4, mode, inv, zo, mc, o + 3 * step);
          }
          for (; ox < ow; ox++) {
            let a0 = i32x4.splat(0), b0 = i32x4.splat(0);
            let wp = wts;
            const p0 = rowBase + <usize>(ox * pxBytes);
            for (let ky = 0; ky < kh; ky++) {
              let xp = p0 + <usize>(ky * rowBytes);
              for (let j = 0; j < pairsRow; j++) {
                const x0 = v128.load32_splat(xp);
                a0 = i32x4.add(a0, i32x4.dot_i16x8_s(x0, v128.load(wp)));
                b0 = i32x4.add(b0, i32x4.dot_i16x8_s(x0, v128.load(wp, 16)));
                wp += 32;
                xp += 4;
              }
            }
            const o = orow + <usize>(ox * oc * elem + choff);
            epilogue(a0, wb, 0, 8, valid, mode, inv, zo, mc, o);
            epilogue(b0, wb, 4, 8, valid - 4, mode, inv, zo, mc, o);
          }
        } else {
          for (; ox + 4 <= ow; ox += 4) {
            let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
            let wp = wts;
            const p0 = rowBase + <usize>(ox * pxBytes);
            for (let ky = 0; ky < kh; ky++) {
              let xp = p0 + <usize>(ky * rowBytes);
              for (let j = 0; j < pairsRow; j++) {
                const w0 = v128.load(wp);
                a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load32_splat(xp), w0));
                a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load32_splat(xp + <usize>pxBytes), w0));
                a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load32_splat(xp + <usize>(2 * pxBytes)), w0));
                a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load32_splat(xp + <usize>(3 * pxBytes)), w0));
                wp += 16;
                xp += 4;
              }
            }
            const o = orow + <usize>(ox * oc * elem + choff);
            const step = <usize>(oc * elem);
            epilogue(a0, wb, 0, 4, valid, mode, inv, zo, mc, o);
            epilogue(a1, wb, 0, 4, valid, mode, inv, zo, mc, o + step);
            epilogue(a2, wb, 0, 4, valid, mode, inv, zo, mc, o + 2 * step);
            epilogue(a3, wb, 0, 4, valid, mode, inv, zo, mc, o + 3 * step);
          }
          for (; ox < ow; ox++) {
            let a0 = i32x4.splat(0);
            let wp = wts;
            const p0 = rowBase + <usize>(ox * pxBytes);
            for (let ky = 0; ky < kh; ky++) {
              let xp = p0 + <usize>(ky * rowBytes);
              for (let j = 0; j < pairsRow; j++) {
                a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load32_splat(xp), v128.load(wp)));
                wp += 16;
                xp += 4;
              }
            }
            epilogue(a0, wb, 0, 4, valid, mode, inv, zo, mc, orow + <usize>(ox * oc * elem + choff));
          }
        }
        wb = wts + <usize>(pairs * bw * 4);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Quad layout (7-bit activations): the uint8 codes (0..127) are read as they
// are; weights per block of B channels [mul B f32][bias B f32][alpha B f32]
// [corr B i32 = -zIn * sum_k w[o][k]] then, per kernel row and group of 4
// inputs, B x 4 int8 (zero past the row's end). One dot adds 4 products to
// each of 4 channels: i16x8.relaxed_dot_i8x16_i7x16_s + a pairwise widening
// add in the relaxed build (deterministic here: the second operand is
// 0..127, so no pair sum saturates), two i32x4.dot_i16x8_s and a pairwise add
// otherwise (same result).

/** Output pixels per chunk of convQuads. */
const QUAD_CHUNK: i32 = 64;
/** The input address of each pixel of convQuads' current chunk (static data, below heapBase). */
const QUAD_ADDR: usize = memory.data(QUAD_CHUNK * 4, 16);

@inline
function dotQuad(w: v128, x: v128, acc: v128): v128 {
  // i16x8.relaxed_dot_i8x16_i7x16_s (pmaddubsw: pair sums within +-2 * 128 * 127,
  // no saturation) widened by a pairwise add: three instructions on x64 where
  // V8 expands i32x4.relaxed_dot_i8x16_i7x16_add_s to five without AVX-VNNI.
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(w, x)));
  }
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), i16x8.extend_low_i8x16_u(x));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), i16x8.extend_high_i8x16_u(x));
  return i32x4.add(
    acc,
    i32x4.add(v128.shuffle<i32>(lo, hi, 0, 2, 4, 6), v128.shuffle<i32>(lo, hi, 1, 3, 5, 7)),
  );
}

/**
 * Convolution over n images h x w x c of uint8 codes 0..127 (zero point
 * folded into the packed corr) with quad-packed weights; otherwise as
 * convPairs (dense: h = 1, w = n, c = K, n = 1).
 *
 * The output pixels of all images are one flat list, walked in chunks of
 * QUAD_CHUNK pixels (their inputs stay in the L1 cache while every channel
 * block runs over them) and groups of 4 pixels that may straddle output rows
 * and images: small maps (RNet's 3x3, ONet's 4x4, a batch of dense rows) keep
 * all 8 accumulators busy instead of falling into a one-pixel tail.
 */
export function convQuads(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  packed: usize,
  kh: i32,
  kw: i32,
  stride: i32,
  oc: i32,
  mode: i32,
  invOut: f32,
  zOut: i32,
  maxCode: i32,
  dst: usize,
): void {
  const mc = i8x16.splat(<i8>maxCode);
  const oh = (h - kh) / stride + 1;
  const ow = (w - kw) / stride + 1;
  const rowBytes = w * c;
  const quadsRow = (kw * c + 3) >> 2;
  const pxBytes = stride * c;
  const inv = f32x4.splat(invOut);
  const zo = i32x4.splat(zOut);
  const elem: i32 = mode == 0 ? 1 : 4;
  const full = oc >> 3;
  const r = oc & 7;
  const blocks = full + (r > 0 ? 1 : 0);
  const quads = kh * quadsRow;
  const total = n * oh * ow;
  const outPx = <usize>(oc * elem);
  const imgBytes = h * rowBytes;
  // input address of each pixel of the chunk
  const addr = QUAD_ADDR;
  let img = 0, oy = 0, ox = 0;
  for (let p0 = 0; p0 < total; p0 += QUAD_CHUNK) {
    const cnt = min(QUAD_CHUNK, total - p0);
    for (let i = 0; i < cnt; i++) {
      store<usize>(addr + <usize>(i << 2), src + <usize>(img * imgBytes + oy * stride * rowBytes + ox * pxBytes));
      if (++ox == ow) {
        ox = 0;
        if (++oy == oh) {
          oy = 0;
          img++;
        }
      }
    }
    const o0 = dst + <usize>p0 * outPx;
    let wb = packed;
    for (let b = 0; b < blocks; b++) {
      const bw: i32 = b < full || r > 4 ? 8 : 4;
      const corr = wb + <usize>(bw * 12);
      const wts = wb + <usize>(bw * 16);
      const valid = min(bw, oc - b * 8);
      const choff = <usize>(b * 8 * elem);
      const c0 = v128.load(corr);
      const c1 = bw == 8 ? v128.load(corr, 16) : c0;
      let i = 0;
      if (bw == 8) {
        for (; i + 4 <= cnt; i += 4) {
          let a0 = c0, a1 = c0, a2 = c0, a3 = c0;
          let b0 = c1, b1 = c1, b2 = c1, b3 = c1;
          let wp = wts;
          const q = addr + <usize>(i << 2);
          const s0 = load<usize>(q), s1 = load<usize>(q, 4), s2 = load<usize>(q, 8), s3 = load<usize>(q, 12);
          for (let ky = 0; ky < kh; ky++) {
            const off = <usize>(ky * rowBytes);
            let x0p = s0 + off, x1p = s1 + off, x2p = s2 + off, x3p = s3 + off;
            for (let j = 0; j < quadsRow; j++) {
              const w0 = v128.load(wp);
              const w1 = v128.load(wp, 16);
              const x0 = v128.load32_splat(x0p);
              const x1 = v128.load32_splat(x1p);
              const x2 = v128.load32_splat(x2p);
              const x3 = v128.load32_splat(x3p);
              a0 = dotQuad(w0, x0, a0);
              b0 = dotQuad(w1, x0, b0);
              a1 = dotQuad(w0, x1, a1);
              b1 = dotQuad(w1, x1, b1);
              a2 = dotQuad(w0, x2, a2);
              b2 = dotQuad(w1, x2, b2);
              a3 = dotQuad(w0, x3, a3);
              b3 = dotQuad(w1, x3, b3);
              wp += 32;
              x0p += 4;
              x1p += 4;
              x2p += 4;
              x3p += 4;
            }
          }
          const o = o0 + <usize>i * outPx + choff;
          if (mode == 0 && valid == 8) {
            epiloguePair8(a0, b0, a1, b1, wb, inv, zo, mc, o, o + outPx);
            epiloguePair8(a2, b2, a3, b3, wb, inv, zo, mc, o + 2 * outPx, o + 3 * outPx);
          } else {
            epilogue(a0, wb, 0, 8, valid, mode, inv, zo, mc, o);
            epilogue(b0, wb, 4, 8, valid - 4, mode, inv, zo, mc, o);
            epilogue(a1, wb, 0, 8, valid, mode, inv, zo, mc, o + outPx);
            epilogue(b1, wb, 4, 8, valid - 4, mode, inv, zo, mc, o + outPx);
            epilogue(a2, wb, 0, 8, valid, mode, inv, zo, mc, o + 2 * outPx);
            epilogue(b2, wb, 4, 8, valid - 4, mode, inv, zo, mc, o + 2 * outPx);
            epilogue(a3, wb, 0, 8, valid, mode, inv, zo, mc, o + 3 * outPx);
            epilogue(b3, wb, 4, 8, valid - 4, mode, inv, zo, mc, o + 3 * outPx);
          }
        }
        for (; i < cnt; i++) {
          let a0 = c0, b0 = c1;
          let wp = wts;
          const s0 = load<usize>(addr + <usize>(i << 2));
          for (let ky = 0; ky < kh; ky++) {
            let xp = s0 + <usize>(ky * rowBytes);
            for (let j = 0; j < quadsRow; j++) {
              const x0 = v128.load32_splat(xp);
              a0 = dotQuad(v128.load(wp), x0, a0);
              b0 = dotQuad(v128.load(wp, 16), x0, b0);
              wp += 32;
              xp += 4;
            }
          }
          const o = o0 + <usize>i * outPx + choff;
          epilogue(a0, wb, 0, 8, valid, mode, inv, zo, mc, o);
          epilogue(b0, wb, 4, 8, valid - 4, mode, inv, zo, mc, o);
        }
      } else {
        for (; i + 4 <= cnt; i += 4) {
          let a0 = c0, a1 = c0, a2 = c0, a3 = c0;
          let wp = wts;
          const q = addr + <usize>(i << 2);
          const s0 = load<usize>(q), s1 = load<usize>(q, 4), s2 = load<usize>(q, 8), s3 = load<usize>(q, 12);
          for (let ky = 0; ky < kh; ky++) {
            const off = <usize>(ky * rowBytes);
            let x0p = s0 + off, x1p = s1 + off, x2p = s2 + off, x3p = s3 + off;
            for (let j = 0; j < quadsRow; j++) {
              const w0 = v128.load(wp);
              a0 = dotQuad(w0, v128.load32_splat(x0p), a0);
              a1 = dotQuad(w0, v128.load32_splat(x1p), a1);
              a2 = dotQuad(w0, v128.load32_splat(x2p), a2);
              a3 = dotQuad(w0, v128.load32_splat(x3p), a3);
              wp += 16;
              x0p += 4;
              x1p += 4;
              x2p += 4;
              x3p += 4;
            }
          }
          const o = o0 + <usize>i * outPx + choff;
          epilogue(a0, wb, 0, 4, valid, mode, inv, zo, mc, o);
          epilogue(a1, wb, 0, 4, valid, mode, inv, zo, mc, o + outPx);
          epilogue(a2, wb, 0, 4, valid, mode, inv, zo, mc, o + 2 * outPx);
          epilogue(a3, wb, 0, 4, valid, mode, inv, zo, mc, o + 3 * outPx);
        }
        for (; i < cnt; i++) {
          let a0 = c0;
          let wp = wts;
          const s0 = load<usize>(addr + <usize>(i << 2));
          for (let ky = 0; ky < kh; ky++) {
            let xp = s0 + <usize>(ky * rowBytes);
            for (let j = 0; j < quadsRow; j++) {
              a0 = dotQuad(v128.load(wp), v128.load32_splat(xp), a0);
              wp += 16;
              xp += 4;
            }
          }
          epilogue(a0, wb, 0, 4, valid, mode, inv, zo, mc, o0 + <usize>i * outPx + choff);
        }
      }
      wb = wts + <usize>(quads * bw * 4);
    }
  }
}

/**
 * Max pooling of n images h x w x c uint8 to oh x ow (windows size x size,
 * step stride, clipped at the bottom/right edge: Caffe's ceil rounding).
 * Writes whole 16-byte vectors per channel chunk, in increasing address
 * order, so dst needs 16 bytes of slack.
 */
export function maxPoolU8(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  size: i32,
  stride: i32,
  oh: i32,
  ow: i32,
  dst: usize,
): void {
  let out = dst;
  for (let img = 0; img < n; img++) {
    const base = src + <usize>(img * h * w * c);
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * stride;
      const y1 = min(y0 + size, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * stride;
        const x1 = min(x0 + size, w);
        for (let ch = 0; ch < c; ch += 16) {
          let m = i8x16.splat(0);
          for (let y = y0; y < y1; y++) {
            const row = base + <usize>((y * w) * c + ch);
            for (let x = x0; x < x1; x++) {
              m = i8x16.max_u(m, v128.load(row + <usize>(x * c)));
            }
          }
          v128.store(out + <usize>ch, m);
        }
        out += <usize>c;
      }
    }
  }
}

/**
 * Quantises n*h*w pixels of c channels (uint8 0..255) through a per-channel
 * table (c x 256 bytes at lut: normalisation, channel order and input
 * quantisation folded together); `order` maps output channel j to source
 * channel order[j] (c bytes).
 */
export function quantizePixelsLut(src: usize, count: i32, c: i32, lut: usize, order: usize, dst: usize): void {
  for (let i = 0; i < count; i++) {
    const s = src + <usize>(i * c);
    const d = dst + <usize>(i * c);
    for (let j = 0; j < c; j++) {
      const v = load<u8>(s + <usize>load<u8>(order + <usize>j));
      store<u8>(d + <usize>j, load<u8>(lut + <usize>(j * 256) + <usize>v));
    }
  }
}

/**
 * e^x in f64 as the twin's headExp (src/deploy/engine_int8.ts) computes it,
 * operation for operation: x clamped to +-700, x = k ln2 + r, e^r by its
 * Taylor polynomial to r^10, times 2^k (built from the exponent bits).
 */
@inline
function headExp(x: f64): f64 {
  x = x > 700 ? 700 : x < -700 ? -700 : x;
  const k = Math.floor(x * 1.4426950408889634 + 0.5);
  const r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10;
  const p = 1 + r * (1 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 +
    r * (0.008333333333333333 + r * (0.001388888888888889 + r * (1.984126984126984e-4 +
      r * (2.48015873015873e-5 + r * (2.7557319223985893e-6 + r * 2.755731922398589e-7)))))))));
  return p * reinterpret<f64>(<u64>(<i64>k + 1023) << 52);
}

/**
 * Splits m head rows of `units` f32 (cls logits at clsAt, box at boxAt,
 * landmarks at lmAt or -1) into cls = f32(1 / (1 + e^(l0 - l1))) (f64,
 * headExp), box (4 per row) and landmarks (10 per row).
 */
export function splitHeadsQ(
  rows: usize,
  m: i32,
  units: i32,
  clsAt: i32,
  boxAt: i32,
  lmAt: i32,
  cls: usize,
  box: usize,
  lm: usize,
): void {
  const rowBytes = <usize>(units * 4);
  let r = rows;
  for (let i = 0; i < m; i++) {
    const d = <f64>load<f32>(r + <usize>(clsAt * 4)) - <f64>load<f32>(r + <usize>(clsAt * 4 + 4));
    store<f32>(cls + (<usize>i << 2), <f32>(1.0 / (1.0 + headExp(d))));
    v128.store(box + (<usize>i << 4), v128.load(r + <usize>(boxAt * 4)));
    if (lmAt >= 0) {
      const s = r + <usize>(lmAt * 4);
      const o = lm + <usize>i * 40;
      v128.store(o, v128.load(s));
      v128.store(o, v128.load(s, 16), 16);
      v128.store64_lane(o, v128.load(s, 32), 0, 32);
    }
    r += rowBytes;
  }
}

/**
 * Quantises count pixels of c float32 channels (0..255, not normalised):
 * per output channel j, x = f32(f64(src[order[j]]) - mean[j]) * scale[j]
 * (mean c f64, scale c f32, as the twin's quantizePixels), then
 * sat(nearest(x * inv) + z), at most maxCode.
 */
export function quantizePixelsF32(
  src: usize,
  count: i32,
  c: i32,
  order: usize,
  mean: usize,
  scale: usize,
  inv: f32,
  z: i32,
  maxCode: i32,
  dst: usize,
): void {
  for (let i = 0; i < count; i++) {
    const s = src + <usize>(i * c * 4);
    const d = dst + <usize>(i * c);
    for (let j = 0; j < c; j++) {
      const p = <f64>load<f32>(s + (<usize>load<u8>(order + <usize>j) << 2));
      const a = <f32>(p - load<f64>(mean + (<usize>j << 3)));
      const x = a * load<f32>(scale + (<usize>j << 2));
      // |nearest| clamped to 1024: codes beyond saturate alike
      const v = min(max(nearest<f32>(x * inv), <f32>-1024), <f32>1024);
      let q = <i32>v + z;
      q = q < 0 ? 0 : q > maxCode ? maxCode : q;
      store<u8>(d + <usize>j, <u8>q);
    }
  }
}

/**
 * Quantises count float32 values (already normalised) to uint8 codes:
 * sat(nearest(x * inv) + z), at most maxCode. dst needs 16 bytes of slack.
 */
export function quantizeF32(src: usize, count: i32, inv: f32, z: i32, maxCode: i32, dst: usize): void {
  const iv = f32x4.splat(inv);
  const zv = i32x4.splat(z);
  const mc = i8x16.splat(<i8>maxCode);
  // whole vectors: the tail reads src's slack and writes dst's
  for (let i = 0; i < count; i += 4) {
    const q = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src + <usize>(i * 4)), iv))), zv);
    const q16 = i16x8.narrow_i32x4_s(q, q);
    v128.store32_lane(dst + <usize>i, i8x16.min_u(i8x16.narrow_i16x8_u(q16, q16), mc), 0);
  }
}
