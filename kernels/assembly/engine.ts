// Inference engine kernels for MTCNN-shaped nets (fp32, v128 SIMD): fused
// convolution + bias + PReLU, depthwise convolution, max pooling, stand-alone
// PReLU, input normalisation and the cls/box/landmark head split. A dense
// layer is a convolution whose kernel covers its whole (flattened) input.
// Built twice: engine.wasm (SIMD) and engine_relaxed.wasm (relaxed SIMD:
// fused multiply-add in every accumulation).
//
// Layouts (all float32):
//   activations  NHWC, channels exact (no padding between pixels).
//   conv weights packed per block of output channels, blocks one after
//                another, each [bias W][alpha W][K rows of W], K = kh*kw*c,
//                row k = (ky*kw + kx)*c + ic (the HWIO order), zeros past
//                the last channel. Blocks are 8 wide, except that a
//                remainder of 1..4 channels joins the last 8 into one 12 wide
//                (alone: 4 wide) and one of 5..7 makes a last 8-wide block.
//                `convPackedBytes` gives the size.
//   depthwise    [bias C4][alpha C4][kh*kw rows of C4], C4 = c rounded up to 4.
//   alpha        PReLU slopes; ReLU is alpha 0, no activation alpha 1.
// The inner loop of a convolution is f32x4 multiply-adds over output
// channels: one input value (splat) times a row of packed weights, for 6
// output pixels x 8 channels at once (12 accumulators in registers; 3 x 8
// in the plain-SIMD build, where the separate products need registers too,
// and 3 x 12 for the 12-wide blocks). Pixels are walked row after row,
// image after image, so a block of 6 may span rows and images.
// Max pooling uses f32x4.pmax (one instruction; f32x4.max is eight on x64).

// Memory regions (linear memory, laid out by src/deploy/engine.ts; every
// region 16-byte aligned and followed by 16 bytes of slack, since channel
// tails load whole vectors past the last channel):
//   [0, heapBase())   the compiler's static data; never written
//   weights           packed once per engine
//   input, u8 input   the batch as given, then normalised
//   ping, pong        activations, alternating between layers
//   scratch           rows of a fused conv + pool
//   heads, outputs    the head rows, then face probability, box, landmarks
// The kernels write only their dst (and scratch) regions.

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

/** a*b + c: fused in the relaxed-SIMD build, two roundings otherwise. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** PReLU: x where x > 0, alpha * x elsewhere. */
// @ts-ignore: decorator
@inline function prelu(x: v128, alpha: v128): v128 {
  return v128.bitselect(x, f32x4.mul(x, alpha), f32x4.gt(x, f32x4.splat(0)));
}

/** Stores the first `lanes` (1..4) lanes of v at p. */
// @ts-ignore: decorator
@inline function storeLanes(p: usize, v: v128, lanes: i32): void {
  if (lanes >= 4) v128.store(p, v);
  else if (lanes == 3) {
    v128.store64_lane(p, v, 0);
    v128.store32_lane(p, v, 2, 8);
  } else if (lanes == 2) v128.store64_lane(p, v, 0);
  else v128.store32_lane(p, v, 0);
}

/** Stores the first `lanes` (1..8) lanes of (v0, v1) at p. */
function storeLanes8(p: usize, v0: v128, v1: v128, lanes: i32): void {
  if (lanes >= 4) {
    v128.store(p, v0);
    if (lanes > 4) storeLanes(p + 16, v1, lanes - 4);
  } else storeLanes(p, v0, lanes);
}

/** Stores the first `lanes` (1..12) lanes of (v0, v1, v2) at p. */
function storeLanes12(p: usize, v0: v128, v1: v128, v2: v128, lanes: i32): void {
  if (lanes >= 8) {
    v128.store(p, v0);
    v128.store(p, v1, 16);
    if (lanes > 8) storeLanes(p + 32, v2, lanes - 8);
  } else storeLanes8(p, v0, v1, lanes);
}

// ---------------------------------------------------------------------------
// Convolution + bias + PReLU

/** Bytes of packed weights of a convolution with K = kh*kw*c inputs per output and oc outputs. */
export function convPackedBytes(k: i32, oc: i32): usize {
  const full = <usize> (oc >> 3);
  const rem = oc & 7;
  const tail: usize = rem == 0 ? 0 : rem > 4 || full == 0 ? (rem > 4 ? 8 : 4) : 4;
  return (full * 8 + tail) * (<usize> (2 + k)) * 4;
}

// The pixel walker: the input address of consecutive output pixels, row
// after row, image after image.
let wx: i32 = 0;
let wy: i32 = 0;
let wOw: i32 = 0;
let wOh: i32 = 0;
let wXs: usize = 0;
let wYs: usize = 0;
let wIs: usize = 0;
let wPtr: usize = 0;
let wRow: usize = 0;
let wImg: usize = 0;

function walkStart(src: usize, row0: i32, oh: i32, ow: i32, xs: usize, ys: usize, is: usize): void {
  wOw = ow;
  wOh = oh;
  wXs = xs;
  wYs = ys;
  wIs = is;
  wx = 0;
  wy = row0 % oh;
  wImg = src + <usize> (row0 / oh) * is;
  wRow = wImg + <usize> wy * ys;
  wPtr = wRow;
}

// @ts-ignore: decorator
@inline function walkNext(): void {
  wx++;
  wPtr += wXs;
  if (wx == wOw) {
    wx = 0;
    wy++;
    wRow += wYs;
    if (wy == wOh) {
      wy = 0;
      wImg += wIs;
      wRow = wImg;
    }
    wPtr = wRow;
  }
}

/**
 * Rows [row0, row0 + rows) of the output of a valid convolution, counting
 * rows over the whole batch (row r is row r % oh of image r / oh), written
 * NHWC from dst. Each output is prelu(bias + sum of inputs * weights), the
 * sum taken in K order (ky, kx, ic).
 */
function convRows(
  src: usize,
  h: i32,
  w: i32,
  c: i32,
  kh: i32,
  kw: i32,
  stride: i32,
  packed: usize,
  oc: i32,
  row0: i32,
  rows: i32,
  dst: usize,
): void {
  const oh = (h - kh) / stride + 1;
  const ow = (w - kw) / stride + 1;
  const cs = <usize> c << 2;
  const rs = <usize> w * cs;
  walkStart(src, row0, oh, ow, <usize> stride * cs, <usize> stride * rs, <usize> h * rs);
  const rowBytes = <usize> kw * cs;
  const k = kh * kw * c;
  const full = oc >> 3;
  const rem = oc & 7;
  const b8 = <usize> (2 + k) * 32;
  const os = <usize> oc << 2;
  const total = rows * ow;
  for (let i = 0; i < total; i += 6) {
    const left = total - i;
    const d0 = dst + <usize> i * os;
    const p0 = wPtr;
    walkNext();
    let p1 = p0, p2 = p0, p3 = p0, p4 = p0, p5 = p0;
    let d1 = d0, d2 = d0, d3 = d0, d4 = d0, d5 = d0;
    if (left > 1) {
      p1 = wPtr;
      d1 = d0 + os;
      walkNext();
      p2 = p1;
      d2 = d1;
      if (left > 2) {
        p2 = wPtr;
        d2 = d1 + os;
        walkNext();
      }
      p3 = p2;
      d3 = d2;
      if (left > 3) {
        p3 = wPtr;
        d3 = d2 + os;
        walkNext();
      }
      p4 = p3;
      d4 = d3;
      if (left > 4) {
        p4 = wPtr;
        d4 = d3 + os;
        walkNext();
      }
      p5 = p4;
      d5 = d4;
      if (left > 5) {
        p5 = wPtr;
        d5 = d4 + os;
        walkNext();
      }
    }
    let wb = packed;
    let o: usize = 0;
    const wide = rem > 0 && rem <= 4 && full > 0;
    const n8 = wide ? full - 1 : full;
    for (let b = 0; b < n8; b++) {
      if (ASC_FEATURE_RELAXED_SIMD) {
        block6x8(p0, p1, p2, p3, p4, p5, rs, kh, rowBytes, wb, d0 + o, d1 + o, d2 + o, d3 + o, d4 + o, d5 + o, 8);
      } else {
        // without fused multiply-add, 6 x 8 accumulators and the products spill registers
        block3x8(p0, p1, p2, rs, kh, rowBytes, wb, d0 + o, d1 + o, d2 + o, 8);
        block3x8(p3, p4, p5, rs, kh, rowBytes, wb, d3 + o, d4 + o, d5 + o, 8);
      }
      wb += b8;
      o += 32;
    }
    if (wide) {
      block3x12(p0, p1, p2, rs, kh, rowBytes, wb, d0 + o, d1 + o, d2 + o, 8 + rem);
      block3x12(p3, p4, p5, rs, kh, rowBytes, wb, d3 + o, d4 + o, d5 + o, 8 + rem);
    } else if (rem > 4) {
      if (ASC_FEATURE_RELAXED_SIMD) {
        block6x8(p0, p1, p2, p3, p4, p5, rs, kh, rowBytes, wb, d0 + o, d1 + o, d2 + o, d3 + o, d4 + o, d5 + o, rem);
      } else {
        block3x8(p0, p1, p2, rs, kh, rowBytes, wb, d0 + o, d1 + o, d2 + o, rem);
        block3x8(p3, p4, p5, rs, kh, rowBytes, wb, d3 + o, d4 + o, d5 + o, rem);
      }
    } else if (rem > 0) {
      block6x4(p0, p1, p2, p3, p4, p5, rs, kh, rowBytes, wb, d0 + o, d1 + o, d2 + o, d3 + o, d4 + o, d5 + o, rem);
    }
  }
}

/**
 * Valid convolution of n images h x w x c (NHWC at src) with a kh x kw
 * kernel, the given stride and oc output channels (weights packed at
 * `packed`), fused with bias and PReLU; writes n x oh x ow x oc at dst.
 */
export function convPrelu(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  kh: i32,
  kw: i32,
  stride: i32,
  packed: usize,
  oc: i32,
  dst: usize,
): void {
  convRows(src, h, w, c, kh, kw, stride, packed, oc, 0, n * ((h - kh) / stride + 1), dst);
}

/** 6 pixels x 8 output channels: the accumulators stay in registers across the whole K loop. */
// @ts-ignore: decorator
@inline function block6x8(
  p0: usize,
  p1: usize,
  p2: usize,
  p3: usize,
  p4: usize,
  p5: usize,
  rs: usize,
  kh: i32,
  rowBytes: usize,
  wb: usize,
  d0: usize,
  d1: usize,
  d2: usize,
  d3: usize,
  d4: usize,
  d5: usize,
  lanes: i32,
): void {
  const b0 = v128.load(wb, 0);
  const b1 = v128.load(wb, 16);
  let a00 = b0;
  let a01 = b1;
  let a10 = b0;
  let a11 = b1;
  let a20 = b0;
  let a21 = b1;
  let a30 = b0;
  let a31 = b1;
  let a40 = b0;
  let a41 = b1;
  let a50 = b0;
  let a51 = b1;
  let wp = wb + 64;
  for (let ky = 0; ky < kh; ky++) {
    const off = <usize> ky * rs;
    let q0 = p0 + off;
    let q1 = p1 + off;
    let q2 = p2 + off;
    let q3 = p3 + off;
    let q4 = p4 + off;
    let q5 = p5 + off;
    const end = q0 + rowBytes;
    do {
      const w0 = v128.load(wp, 0);
      const w1 = v128.load(wp, 16);
      let x = v128.load32_splat(q0);
      a00 = madd(x, w0, a00);
      a01 = madd(x, w1, a01);
      x = v128.load32_splat(q1);
      a10 = madd(x, w0, a10);
      a11 = madd(x, w1, a11);
      x = v128.load32_splat(q2);
      a20 = madd(x, w0, a20);
      a21 = madd(x, w1, a21);
      x = v128.load32_splat(q3);
      a30 = madd(x, w0, a30);
      a31 = madd(x, w1, a31);
      x = v128.load32_splat(q4);
      a40 = madd(x, w0, a40);
      a41 = madd(x, w1, a41);
      x = v128.load32_splat(q5);
      a50 = madd(x, w0, a50);
      a51 = madd(x, w1, a51);
      q0 += 4;
      q1 += 4;
      q2 += 4;
      q3 += 4;
      q4 += 4;
      q5 += 4;
      wp += 32;
    } while (q0 < end);
  }
  const al0 = v128.load(wb, 32);
  const al1 = v128.load(wb, 48);
  if (lanes == 8) {
    v128.store(d0, prelu(a00, al0));
    v128.store(d0, prelu(a01, al1), 16);
    v128.store(d1, prelu(a10, al0));
    v128.store(d1, prelu(a11, al1), 16);
    v128.store(d2, prelu(a20, al0));
    v128.store(d2, prelu(a21, al1), 16);
    v128.store(d3, prelu(a30, al0));
    v128.store(d3, prelu(a31, al1), 16);
    v128.store(d4, prelu(a40, al0));
    v128.store(d4, prelu(a41, al1), 16);
    v128.store(d5, prelu(a50, al0));
    v128.store(d5, prelu(a51, al1), 16);
  } else {
    storeLanes8(d0, prelu(a00, al0), prelu(a01, al1), lanes);
    storeLanes8(d1, prelu(a10, al0), prelu(a11, al1), lanes);
    storeLanes8(d2, prelu(a20, al0), prelu(a21, al1), lanes);
    storeLanes8(d3, prelu(a30, al0), prelu(a31, al1), lanes);
    storeLanes8(d4, prelu(a40, al0), prelu(a41, al1), lanes);
    storeLanes8(d5, prelu(a50, al0), prelu(a51, al1), lanes);
  }
}

/** 3 pixels x 8 output channels: the accumulators stay in registers across the whole K loop. */
// @ts-ignore: decorator
@inline function block3x8(
  p0: usize,
  p1: usize,
  p2: usize,
  rs: usize,
  kh: i32,
  rowBytes: usize,
  wb: usize,
  d0: usize,
  d1: usize,
  d2: usize,
  lanes: i32,
): void {
  const b0 = v128.load(wb, 0);
  const b1 = v128.load(wb, 16);
  let a00 = b0;
  let a01 = b1;
  let a10 = b0;
  let a11 = b1;
  let a20 = b0;
  let a21 = b1;
  let wp = wb + 64;
  for (let ky = 0; ky < kh; ky++) {
    const off = <usize> ky * rs;
    let q0 = p0 + off;
    let q1 = p1 + off;
    let q2 = p2 + off;
    const end = q0 + rowBytes;
    do {
      const w0 = v128.load(wp, 0);
      const w1 = v128.load(wp, 16);
      let x = v128.load32_splat(q0);
      a00 = madd(x, w0, a00);
      a01 = madd(x, w1, a01);
      x = v128.load32_splat(q1);
      a10 = madd(x, w0, a10);
      a11 = madd(x, w1, a11);
      x = v128.load32_splat(q2);
      a20 = madd(x, w0, a20);
      a21 = madd(x, w1, a21);
      q0 += 4;
      q1 += 4;
      q2 += 4;
      wp += 32;
    } while (q0 < end);
  }
  const al0 = v128.load(wb, 32);
  const al1 = v128.load(wb, 48);
  if (lanes == 8) {
    v128.store(d0, prelu(a00, al0));
    v128.store(d0, prelu(a01, al1), 16);
    v128.store(d1, prelu(a10, al0));
    v128.store(d1, prelu(a11, al1), 16);
    v128.store(d2, prelu(a20, al0));
    v128.store(d2, prelu(a21, al1), 16);
  } else {
    storeLanes8(d0, prelu(a00, al0), prelu(a01, al1), lanes);
    storeLanes8(d1, prelu(a10, al0), prelu(a11, al1), lanes);
    storeLanes8(d2, prelu(a20, al0), prelu(a21, al1), lanes);
  }
}

/** 6 pixels x 4 output channels: the accumulators stay in registers across the whole K loop. */
// @ts-ignore: decorator
@inline function block6x4(
  p0: usize,
  p1: usize,
  p2: usize,
  p3: usize,
  p4: usize,
  p5: usize,
  rs: usize,
  kh: i32,
  rowBytes: usize,
  wb: usize,
  d0: usize,
  d1: usize,
  d2: usize,
  d3: usize,
  d4: usize,
  d5: usize,
  lanes: i32,
): void {
  const b0 = v128.load(wb, 0);
  let a00 = b0;
  let a10 = b0;
  let a20 = b0;
  let a30 = b0;
  let a40 = b0;
  let a50 = b0;
  let wp = wb + 32;
  for (let ky = 0; ky < kh; ky++) {
    const off = <usize> ky * rs;
    let q0 = p0 + off;
    let q1 = p1 + off;
    let q2 = p2 + off;
    let q3 = p3 + off;
    let q4 = p4 + off;
    let q5 = p5 + off;
    const end = q0 + rowBytes;
    do {
      const w0 = v128.load(wp, 0);
      let x = v128.load32_splat(q0);
      a00 = madd(x, w0, a00);
      x = v128.load32_splat(q1);
      a10 = madd(x, w0, a10);
      x = v128.load32_splat(q2);
      a20 = madd(x, w0, a20);
      x = v128.load32_splat(q3);
      a30 = madd(x, w0, a30);
      x = v128.load32_splat(q4);
      a40 = madd(x, w0, a40);
      x = v128.load32_splat(q5);
      a50 = madd(x, w0, a50);
      q0 += 4;
      q1 += 4;
      q2 += 4;
      q3 += 4;
      q4 += 4;
      q5 += 4;
      wp += 16;
    } while (q0 < end);
  }
  const al0 = v128.load(wb, 16);
  if (lanes == 4) {
    v128.store(d0, prelu(a00, al0));
    v128.store(d1, prelu(a10, al0));
    v128.store(d2, prelu(a20, al0));
    v128.store(d3, prelu(a30, al0));
    v128.store(d4, prelu(a40, al0));
    v128.store(d5, prelu(a50, al0));
  } else {
    storeLanes(d0, prelu(a00, al0), lanes);
    storeLanes(d1, prelu(a10, al0), lanes);
    storeLanes(d2, prelu(a20, al0), lanes);
    storeLanes(d3, prelu(a30, al0), lanes);
    storeLanes(d4, prelu(a40, al0), lanes);
    storeLanes(d5, prelu(a50, al0), lanes);
  }
}


// ---------------------------------------------------------------------------
// Max pooling

/** Max of the vectors at a + x, b + x (and c + x, when given) for x in xs. */
// @ts-ignore: decorator
@inline function max2x2(a: usize, b: usize, x0: usize, x1: usize): v128 {
  return f32x4.pmax(
    f32x4.pmax(v128.load(a + x0), v128.load(a + x1)),
    f32x4.pmax(v128.load(b + x0), v128.load(b + x1)),
  );
}

// @ts-ignore: decorator
@inline function max3(a: usize, x0: usize, x1: usize, x2: usize): v128 {
  return f32x4.pmax(f32x4.pmax(v128.load(a + x0), v128.load(a + x1)), v128.load(a + x2));
}

/**
 * One output row of a max pool: windows of size x size with the given
 * stride over input rows [y0, y1) (row y at base + (y % slots) * rowBytes,
 * w pixels of c channels), clipped at the right edge (Caffe's ceil windows
 * see only the pixels inside); pw outputs to dst. Windows of 2 and 3 read
 * their (clipped) rows and columns through repeated pointers, so a clipped
 * tap reads a pixel of the window again, which leaves the max unchanged.
 */
function poolRow(
  base: usize,
  slots: i32,
  rowBytes: usize,
  y0: i32,
  y1: i32,
  w: i32,
  c: i32,
  size: i32,
  stride: i32,
  pw: i32,
  dst: usize,
): void {
  const cs = <usize> c << 2;
  let s = y0 % slots;
  const ra = base + <usize> s * rowBytes;
  let rb = ra;
  let rc = ra;
  if (y1 - y0 > 1) {
    if (++s == slots) s = 0;
    rb = base + <usize> s * rowBytes;
    rc = rb;
    if (y1 - y0 > 2) {
      if (++s == slots) s = 0;
      rc = base + <usize> s * rowBytes;
    }
  }
  let d = dst;
  for (let ox = 0; ox < pw; ox++) {
    const x0 = ox * stride;
    const nx = min(size, w - x0);
    const xa = <usize> x0 * cs;
    if (size == 2) {
      const xb = nx > 1 ? xa + cs : xa;
      for (let cv = 0; cv < c; cv += 4) {
        const co = <usize> cv << 2;
        storeLanes(d + co, max2x2(ra + co, rb + co, xa, xb), c - cv);
      }
    } else if (size == 3) {
      const xb = nx > 1 ? xa + cs : xa;
      const xc = nx > 2 ? xb + cs : xb;
      for (let cv = 0; cv < c; cv += 4) {
        const co = <usize> cv << 2;
        const m = f32x4.pmax(
          f32x4.pmax(max3(ra + co, xa, xb, xc), max3(rb + co, xa, xb, xc)),
          max3(rc + co, xa, xb, xc),
        );
        storeLanes(d + co, m, c - cv);
      }
    } else {
      for (let cv = 0; cv < c; cv += 4) {
        const co = <usize> cv << 2;
        let m = v128.load(ra + xa + co);
        let sy = y0 % slots;
        for (let y = y0; y < y1; y++) {
          let p = base + <usize> sy * rowBytes + xa + co;
          for (let x = 0; x < nx; x++) {
            m = f32x4.pmax(m, v128.load(p));
            p += cs;
          }
          if (++sy == slots) sy = 0;
        }
        storeLanes(d + co, m, c - cv);
      }
    }
    d += cs;
  }
}

/**
 * Max pooling of n images h x w x c (NHWC) with size x size windows and the
 * given stride, output ph x pw (ceil or floor rounding: windows hanging over
 * the bottom/right edge see only the pixels inside).
 */
export function maxPool(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  size: i32,
  stride: i32,
  ph: i32,
  pw: i32,
  dst: usize,
): void {
  const rowBytes = <usize> w * c << 2;
  const outRow = <usize> pw * c << 2;
  let d = dst;
  for (let i = 0; i < n; i++) {
    const base = src + <usize> i * h * rowBytes;
    for (let oy = 0; oy < ph; oy++) {
      const y0 = oy * stride;
      poolRow(base, h, rowBytes, y0, min(y0 + size, h), w, c, size, stride, pw, d);
      d += outRow;
    }
  }
}

/** Bytes of convolution output a fused conv + pool keeps at once (a share of L2). */
const POOL_CHUNK: usize = 256 << 10;

/**
 * Whole images of convolution output one {@link convPreluPool} chunk holds,
 * or 0 when even one image is too big (then it goes through a ring of rows).
 */
function imagesPerChunk(imageBytes: usize): i32 {
  return <i32> (POOL_CHUNK / imageBytes);
}

/** Bytes of scratch {@link convPreluPool} needs. */
export function convPoolScratchBytes(
  h: i32,
  w: i32,
  kh: i32,
  kw: i32,
  stride: i32,
  oc: i32,
  size: i32,
  n: i32,
): usize {
  const rowBytes = <usize> ((w - kw) / stride + 1) * oc * 4;
  const imageBytes = <usize> ((h - kh) / stride + 1) * rowBytes;
  const m = imagesPerChunk(imageBytes);
  return m > 0 ? <usize> min(m, n) * imageBytes : <usize> size * rowBytes;
}

/**
 * convPrelu followed by maxPool (size, pstride, output ph x pw) without
 * writing the whole convolution output: small images are convolved a
 * chunk of images at a time into scratch (then pooled from there), large
 * ones a row at a time into a ring of `size` rows, as the windows reach them.
 */
export function convPreluPool(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  kh: i32,
  kw: i32,
  stride: i32,
  packed: usize,
  oc: i32,
  size: i32,
  pstride: i32,
  ph: i32,
  pw: i32,
  scratch: usize,
  dst: usize,
): void {
  const oh = (h - kh) / stride + 1;
  const ow = (w - kw) / stride + 1;
  const rowBytes = <usize> ow * oc << 2;
  const imageBytes = <usize> oh * rowBytes;
  const outRow = <usize> pw * oc << 2;
  const m = imagesPerChunk(imageBytes);
  let d = dst;
  if (m > 0) {
    for (let i = 0; i < n; i += m) {
      const k = min(m, n - i);
      convRows(src, h, w, c, kh, kw, stride, packed, oc, i * oh, k * oh, scratch);
      for (let j = 0; j < k; j++) {
        const base = scratch + <usize> j * imageBytes;
        for (let oy = 0; oy < ph; oy++) {
          const y0 = oy * pstride;
          poolRow(base, oh, rowBytes, y0, min(y0 + size, oh), ow, oc, size, pstride, pw, d);
          d += outRow;
        }
      }
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    let next = 0;
    for (let oy = 0; oy < ph; oy++) {
      const y0 = oy * pstride;
      const y1 = min(y0 + size, oh);
      for (let y = max(next, y0); y < y1; y++) {
        const slot = scratch + <usize> (y % size) * rowBytes;
        convRows(src, h, w, c, kh, kw, stride, packed, oc, i * oh + y, 1, slot);
      }
      next = y1;
      poolRow(scratch, size, rowBytes, y0, y1, ow, oc, size, pstride, pw, d);
      d += outRow;
    }
  }
}

// ---------------------------------------------------------------------------
// Convolution followed by a 1x1 convolution (the heads of a spatial net)

/** Bytes of convolution output {@link convPreluThen1x1} keeps at once (a share of L2). */
const THEN_CHUNK: usize = 128 << 10;

/** Rows of convolution output per chunk of {@link convPreluThen1x1}. */
function rowsPerChunk(rowBytes: usize): i32 {
  return max(1, <i32> (THEN_CHUNK / rowBytes));
}

/** Bytes of scratch {@link convPreluThen1x1} needs. */
export function thenScratchBytes(w: i32, kw: i32, stride: i32, oc: i32): usize {
  const rowBytes = <usize> ((w - kw) / stride + 1) * oc * 4;
  return <usize> rowsPerChunk(rowBytes) * rowBytes;
}

/**
 * convPrelu (oc outputs, weights at `packed`) then a 1x1 convolution of its
 * output (units outputs, weights at `packed2`, e.g. the heads), without
 * writing the first one's output: it goes a chunk of rows at a time through
 * scratch, straight into the second. dst receives the second's output.
 */
export function convPreluThen1x1(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  kh: i32,
  kw: i32,
  stride: i32,
  packed: usize,
  oc: i32,
  packed2: usize,
  units: i32,
  scratch: usize,
  dst: usize,
): void {
  const oh = (h - kh) / stride + 1;
  const ow = (w - kw) / stride + 1;
  const rowBytes = <usize> ow * oc << 2;
  const chunk = rowsPerChunk(rowBytes);
  const total = n * oh;
  const outRow = <usize> ow * units << 2;
  for (let r = 0; r < total; r += chunk) {
    const rows = min(chunk, total - r);
    convRows(src, h, w, c, kh, kw, stride, packed, oc, r, rows, scratch);
    convRows(scratch, rows, ow, oc, 1, 1, 1, packed2, units, 0, rows, dst + <usize> r * outRow);
  }
}

// ---------------------------------------------------------------------------
// Depthwise convolution, stand-alone PReLU

/**
 * Valid depthwise convolution (channel multiplier 1) of n images h x w x c
 * with a kh x kw kernel and the given stride, fused with bias and PReLU
 * (packed at `packed`, see the top of the file); sums in (ky, kx) order.
 */
export function depthwisePrelu(
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  kh: i32,
  kw: i32,
  stride: i32,
  packed: usize,
  dst: usize,
): void {
  const oh = (h - kh) / stride + 1;
  const ow = (w - kw) / stride + 1;
  const cs = <usize> c << 2;
  const rs = <usize> w * cs;
  const c4 = <usize> ((c + 3) & ~3) << 2;
  let d = dst;
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      const row = src + (<usize> i * h + <usize> oy * stride) * rs;
      for (let ox = 0; ox < ow; ox++) {
        const p = row + <usize> ox * stride * cs;
        for (let cv = 0; cv < c; cv += 4) {
          const co = <usize> cv << 2;
          let acc = v128.load(packed + co);
          let wp = packed + 2 * c4 + co;
          for (let ky = 0; ky < kh; ky++) {
            let q = p + <usize> ky * rs + co;
            for (let kx = 0; kx < kw; kx++) {
              acc = madd(v128.load(q), v128.load(wp), acc);
              q += cs;
              wp += c4;
            }
          }
          storeLanes(d + co, prelu(acc, v128.load(packed + c4 + co)), c - cv);
        }
        d += cs;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Grouped 1x1 convolution with the channel shuffle fused (ShuffleNet)

/**
 * Grouped 1x1 convolution + bias + PReLU over `pixels` pixels of `cin`
 * channels, `groups` groups, `oc` outputs, with the shuffle fused into the
 * output order: group k reads channels [k*cin/g, (k+1)*cin/g) and its j-th
 * output goes to channel j*g + k. Only the groups' weights are multiplied.
 * Packed per group, one group after another: [bias N4][alpha N4][cin/g rows
 * of N4], N4 = oc/g rounded up to 4, lane j = the group's j-th output
 * (zeros past the last). Two pixels x 16 (then 8, then 4) of a group's
 * outputs per inner loop: each input value (splat) feeds 4 multiply-adds,
 * each weight row serves both pixels; lanes scattered to j*g + k.
 */
export function groupConvPrelu(
  src: usize,
  pixels: i32,
  cin: i32,
  groups: i32,
  packed: usize,
  oc: i32,
  dst: usize,
): void {
  const per = cin / groups;
  const npg = oc / groups;
  const n4 = (npg + 3) & ~3;
  const rowBytes = <usize> n4 << 2;
  const blockBytes = <usize> (n4 * (2 + per)) << 2;
  const xs = <usize> cin << 2;
  const ys = <usize> oc << 2;
  const gs = <usize> groups << 2;
  let p = 0;
  for (; p + 2 <= pixels; p += 2) {
    const x0 = src + <usize> p * xs;
    const y0 = dst + <usize> p * ys;
    for (let k = 0; k < groups; k++) {
      const xk = x0 + (<usize> (k * per) << 2);
      const wk = packed + <usize> k * blockBytes;
      const yk = y0 + (<usize> k << 2);
      let j = 0;
      // 16 of the group's outputs for 2 pixels: each splat feeds 4 multiply-adds
      for (; j + 16 <= npg; j += 16) {
        const jo = <usize> j << 2;
        const b0 = v128.load(wk + jo), b1 = v128.load(wk + jo, 16);
        const b2 = v128.load(wk + jo, 32), b3 = v128.load(wk + jo, 48);
        let a0 = b0, a1 = b1, a2 = b2, a3 = b3;
        let c0 = b0, c1 = b1, c2 = b2, c3 = b3;
        let wr = wk + 2 * rowBytes + jo;
        let xi = xk;
        for (let i = 0; i < per; i++) {
          const u = f32x4.splat(load<f32>(xi));
          const v = f32x4.splat(load<f32>(xi + xs));
          const w0 = v128.load(wr), w1 = v128.load(wr, 16);
          const w2 = v128.load(wr, 32), w3 = v128.load(wr, 48);
          a0 = madd(u, w0, a0);
          a1 = madd(u, w1, a1);
          a2 = madd(u, w2, a2);
          a3 = madd(u, w3, a3);
          c0 = madd(v, w0, c0);
          c1 = madd(v, w1, c1);
          c2 = madd(v, w2, c2);
          c3 = madd(v, w3, c3);
          wr += rowBytes;
          xi += 4;
        }
        const al = wk + rowBytes + jo;
        const yo = yk + <usize> (j * groups) * 4;
        const g4 = 4 * gs;
        scatterLanes(yo, prelu(a0, v128.load(al)), 4, gs);
        scatterLanes(yo + g4, prelu(a1, v128.load(al, 16)), 4, gs);
        scatterLanes(yo + 2 * g4, prelu(a2, v128.load(al, 32)), 4, gs);
        scatterLanes(yo + 3 * g4, prelu(a3, v128.load(al, 48)), 4, gs);
        scatterLanes(yo + ys, prelu(c0, v128.load(al)), 4, gs);
        scatterLanes(yo + ys + g4, prelu(c1, v128.load(al, 16)), 4, gs);
        scatterLanes(yo + ys + 2 * g4, prelu(c2, v128.load(al, 32)), 4, gs);
        scatterLanes(yo + ys + 3 * g4, prelu(c3, v128.load(al, 48)), 4, gs);
      }
      // then 8 at a time, then 4 (a lane tail past the group's last output)
      for (; j + 8 <= npg; j += 8) {
        const jo = <usize> j << 2;
        const b0 = v128.load(wk + jo), b1 = v128.load(wk + jo, 16);
        let a0 = b0, a1 = b1, c0 = b0, c1 = b1;
        let wr = wk + 2 * rowBytes + jo;
        let xi = xk;
        for (let i = 0; i < per; i++) {
          const u = f32x4.splat(load<f32>(xi));
          const v = f32x4.splat(load<f32>(xi + xs));
          const w0 = v128.load(wr), w1 = v128.load(wr, 16);
          a0 = madd(u, w0, a0);
          a1 = madd(u, w1, a1);
          c0 = madd(v, w0, c0);
          c1 = madd(v, w1, c1);
          wr += rowBytes;
          xi += 4;
        }
        const al = wk + rowBytes + jo;
        const yo = yk + <usize> (j * groups) * 4;
        const g4 = 4 * gs;
        scatterLanes(yo, prelu(a0, v128.load(al)), 4, gs);
        scatterLanes(yo + g4, prelu(a1, v128.load(al, 16)), 4, gs);
        scatterLanes(yo + ys, prelu(c0, v128.load(al)), 4, gs);
        scatterLanes(yo + ys + g4, prelu(c1, v128.load(al, 16)), 4, gs);
      }
      for (; j < npg; j += 4) {
        const jo = <usize> j << 2;
        let a0 = v128.load(wk + jo);
        let c0 = a0;
        let wr = wk + 2 * rowBytes + jo;
        let xi = xk;
        for (let i = 0; i < per; i++) {
          const w0 = v128.load(wr);
          a0 = madd(f32x4.splat(load<f32>(xi)), w0, a0);
          c0 = madd(f32x4.splat(load<f32>(xi + xs)), w0, c0);
          wr += rowBytes;
          xi += 4;
        }
        const alpha = v128.load(wk + rowBytes + jo);
        const lanes = min(4, npg - j);
        const yo = yk + <usize> (j * groups) * 4;
        scatterLanes(yo, prelu(a0, alpha), lanes, gs);
        scatterLanes(yo + ys, prelu(c0, alpha), lanes, gs);
      }
    }
  }
  for (; p < pixels; p++) {
    const x0 = src + <usize> p * xs;
    const y0 = dst + <usize> p * ys;
    for (let k = 0; k < groups; k++) {
      const xk = x0 + (<usize> (k * per) << 2);
      const wk = packed + <usize> k * blockBytes;
      for (let j = 0; j < npg; j += 4) {
        const jo = <usize> j << 2;
        let a0 = v128.load(wk + jo);
        let wr = wk + 2 * rowBytes + jo;
        for (let i = 0; i < per; i++) {
          a0 = madd(f32x4.splat(load<f32>(xk + (<usize> i << 2))), v128.load(wr), a0);
          wr += rowBytes;
        }
        const yo = y0 + (<usize> (j * groups + k) << 2);
        scatterLanes(yo, prelu(a0, v128.load(wk + rowBytes + jo)), min(4, npg - j), gs);
      }
    }
  }
}

/** Stores the first `lanes` (1..4) lanes of v at p, p + step, p + 2 step, ... */
// @ts-ignore: decorator
@inline function scatterLanes(p: usize, v: v128, lanes: i32, step: usize): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (lanes > 1) store<f32>(p + step, f32x4.extract_lane(v, 1));
  if (lanes > 2) store<f32>(p + 2 * step, f32x4.extract_lane(v, 2));
  if (lanes > 3) store<f32>(p + 3 * step, f32x4.extract_lane(v, 3));
}

/** In-place PReLU of `pixels` pixels of c channels (alpha padded to a multiple of 4). */
export function preluInPlace(buf: usize, pixels: i32, c: i32, alpha: usize): void {
  const cs = <usize> c << 2;
  let p = buf;
  for (let i = 0; i < pixels; i++) {
    for (let cv = 0; cv < c; cv += 4) {
      const co = <usize> cv << 2;
      storeLanes(p + co, prelu(v128.load(p + co), v128.load(alpha + co)), c - cv);
    }
    p += cs;
  }
}

// ---------------------------------------------------------------------------
// Input normalisation, heads

/**
 * dst = (src - mean) * scale per channel, src u8 (`f32in` 0) or f32 pixels
 * of c channels. `params` holds mean and scale repeated over 4 pixels
 * (4c floats each). With `bgr`, destination channel j reads source channel
 * c - 1 - j (pixels given RGB, net wants BGR).
 */
export function normalize(
  src: usize,
  f32in: i32,
  pixels: i32,
  c: i32,
  params: usize,
  bgr: i32,
  dst: usize,
): void {
  const scale = params + (<usize> c << 4);
  let i = 0;
  if (!bgr) {
    const count = pixels & ~3;
    const step = <usize> c << 4;
    let s = src;
    let d = dst;
    for (; i < count; i += 4) {
      for (let v = 0; v < c; v++) {
        const o = <usize> v << 4;
        let x: v128;
        if (f32in) x = v128.load(s + o);
        else {
          x = v128.load32_zero(s + (<usize> v << 2));
          x = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(x)));
        }
        v128.store(d + o, f32x4.mul(f32x4.sub(x, v128.load(params + o)), v128.load(scale + o)));
      }
      s += f32in ? step : <usize> c << 2;
      d += step;
    }
  }
  for (; i < pixels; i++) {
    for (let j = 0; j < c; j++) {
      const e = <usize> i * c + (bgr ? c - 1 - j : j);
      const x: f32 = f32in ? load<f32>(src + (e << 2)) : <f32> load<u8>(src + e);
      const o = <usize> j << 2;
      store<f32>(dst + ((<usize> i * c + j) << 2), (x - load<f32>(params + o)) * load<f32>(scale + o));
    }
  }
}

/**
 * Splits head rows (units per pixel: 2 cls logits, 4 box values, then 10
 * landmarks when lm != 0) into the face probability softmax(l)[1] =
 * 1 / (1 + exp(l0 - l1)), the boxes and the landmarks.
 */
export function splitHeads(src: usize, pixels: i32, units: i32, cls: usize, box: usize, lm: usize): void {
  const us = <usize> units << 2;
  let s = src;
  for (let i = 0; i < pixels; i++) {
    const l0 = load<f32>(s);
    const l1 = load<f32>(s, 4);
    store<f32>(cls + (<usize> i << 2), <f32> 1 / (<f32> 1 + Mathf.exp(l0 - l1)));
    v128.store(box + (<usize> i << 4), v128.load(s, 8));
    if (lm) {
      const d = lm + <usize> i * 40;
      v128.store(d, v128.load(s, 24));
      v128.store(d, v128.load(s, 40), 16);
      v128.store64_lane(d, v128.load(s, 56), 0, 32);
    }
    s += us;
  }
}
/** 3 pixels x 12 output channels: the accumulators stay in registers across the whole K loop. */
// @ts-ignore: decorator
@inline function block3x12(
  p0: usize,
  p1: usize,
  p2: usize,
  rs: usize,
  kh: i32,
  rowBytes: usize,
  wb: usize,
  d0: usize,
  d1: usize,
  d2: usize,
  lanes: i32,
): void {
  const b0 = v128.load(wb, 0);
  const b1 = v128.load(wb, 16);
  const b2 = v128.load(wb, 32);
  let a00 = b0;
  let a01 = b1;
  let a02 = b2;
  let a10 = b0;
  let a11 = b1;
  let a12 = b2;
  let a20 = b0;
  let a21 = b1;
  let a22 = b2;
  let wp = wb + 96;
  for (let ky = 0; ky < kh; ky++) {
    const off = <usize> ky * rs;
    let q0 = p0 + off;
    let q1 = p1 + off;
    let q2 = p2 + off;
    const end = q0 + rowBytes;
    do {
      const w0 = v128.load(wp, 0);
      const w1 = v128.load(wp, 16);
      const w2 = v128.load(wp, 32);
      let x = v128.load32_splat(q0);
      a00 = madd(x, w0, a00);
      a01 = madd(x, w1, a01);
      a02 = madd(x, w2, a02);
      x = v128.load32_splat(q1);
      a10 = madd(x, w0, a10);
      a11 = madd(x, w1, a11);
      a12 = madd(x, w2, a12);
      x = v128.load32_splat(q2);
      a20 = madd(x, w0, a20);
      a21 = madd(x, w1, a21);
      a22 = madd(x, w2, a22);
      q0 += 4;
      q1 += 4;
      q2 += 4;
      wp += 48;
    } while (q0 < end);
  }
  const al0 = v128.load(wb, 48);
  const al1 = v128.load(wb, 64);
  const al2 = v128.load(wb, 80);
  if (lanes == 12) {
    v128.store(d0, prelu(a00, al0));
    v128.store(d0, prelu(a01, al1), 16);
    v128.store(d0, prelu(a02, al2), 32);
    v128.store(d1, prelu(a10, al0));
    v128.store(d1, prelu(a11, al1), 16);
    v128.store(d1, prelu(a12, al2), 32);
    v128.store(d2, prelu(a20, al0));
    v128.store(d2, prelu(a21, al1), 16);
    v128.store(d2, prelu(a22, al2), 32);
  } else {
    storeLanes12(d0, prelu(a00, al0), prelu(a01, al1), prelu(a02, al2), lanes);
    storeLanes12(d1, prelu(a10, al0), prelu(a11, al1), prelu(a12, al2), lanes);
    storeLanes12(d2, prelu(a20, al0), prelu(a21, al1), prelu(a22, al2), lanes);
  }
}

