// Box kernels: IoU of one box against many, and greedy non-maximum
// suppression (MTCNN's nms: "union" = IoU, "min" = intersection over the
// smaller area; a box is suppressed when its overlap with a kept box is
// strictly greater than the threshold).
//
// Overlap arithmetic, all in f32 (p = 1 with plusOne, else 0):
//   area  = ((x2 - x1) + p) * ((y2 - y1) + p)
//   iw    = max(0, (min(ax2, bx2) - max(ax1, bx1)) + p), ih likewise
//   inter = iw * ih
//   den   = (areaA + areaB) - inter   (union)   or   min(areaA, areaB)   (min)
//   o     = den > 0 ? inter / den : 0
//
// Memory regions (linear memory, laid out by kernels/mod.ts on each call,
// every region 16-byte aligned):
//   [0, heapBase())   the compiler's static data; never written
//   boxes             n*4 f32: x1, y1, x2, y2 per box (read only)
//   scores            n f32 (nms; read only)
//   out               n f32 overlaps (iouOneToMany) or up to n i32 kept indexes (nms)
//   scratch           nmsScratchBytes(n) bytes (nms), each array n elements + slack:
//     keys, ids, keys2, ids2   radix sort by descending score (u32 keys, i32 box indexes)
//     hist                     4 x 256 u32 byte histograms
//     x1, y1, x2, y2, area     f32 boxes in score order (structure of arrays)
//     dead                     i32 per sorted box: -1 once suppressed

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

function align16(n: usize): usize {
  return (n + 15) & ~(<usize> 15);
}

/** Overlaps of 4 boxes (SoA lanes) with one box (splatted). */
function overlap4(
  ax1: v128,
  ay1: v128,
  ax2: v128,
  ay2: v128,
  aa: v128,
  bx1: v128,
  by1: v128,
  bx2: v128,
  by2: v128,
  ba: v128,
  p: v128,
  minMode: bool,
): v128 {
  const zero = f32x4.splat(0);
  const iw = f32x4.max(zero, f32x4.add(f32x4.sub(f32x4.min(ax2, bx2), f32x4.max(ax1, bx1)), p));
  const ih = f32x4.max(zero, f32x4.add(f32x4.sub(f32x4.min(ay2, by2), f32x4.max(ay1, by1)), p));
  const inter = f32x4.mul(iw, ih);
  const den = minMode ? f32x4.min(aa, ba) : f32x4.sub(f32x4.add(aa, ba), inter);
  return v128.and(f32x4.div(inter, den), f32x4.gt(den, zero));
}

/** Scalar twin of overlap4 (same f32 operations, same order). */
function overlap1(
  ax1: f32,
  ay1: f32,
  ax2: f32,
  ay2: f32,
  aa: f32,
  bx1: f32,
  by1: f32,
  bx2: f32,
  by2: f32,
  ba: f32,
  p: f32,
  minMode: bool,
): f32 {
  const iw = max<f32>(0, (min<f32>(ax2, bx2) - max<f32>(ax1, bx1)) + p);
  const ih = max<f32>(0, (min<f32>(ay2, by2) - max<f32>(ay1, by1)) + p);
  const inter = iw * ih;
  const den = minMode ? min<f32>(aa, ba) : (aa + ba) - inter;
  return den > 0 ? inter / den : 0;
}

function area(x1: f32, y1: f32, x2: f32, y2: f32, p: f32): f32 {
  return ((x2 - x1) + p) * ((y2 - y1) + p);
}

/**
 * out[i] = IoU of (x1, y1, x2, y2) with boxes[i] for i < n (boxes: n*4 f32).
 */
export function iouOneToMany(
  x1: f32,
  y1: f32,
  x2: f32,
  y2: f32,
  boxes: usize,
  n: i32,
  plusOne: bool,
  out: usize,
): void {
  const p: f32 = plusOne ? 1 : 0;
  const a = area(x1, y1, x2, y2, p);
  const vx1 = f32x4.splat(x1);
  const vy1 = f32x4.splat(y1);
  const vx2 = f32x4.splat(x2);
  const vy2 = f32x4.splat(y2);
  const va = f32x4.splat(a);
  const vp = f32x4.splat(p);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    // v128 body: 4 boxes (one per row), transposed to x1/y1/x2/y2 lanes.
    const b = boxes + (<usize> i << 4);
    const r0 = v128.load(b);
    const r1 = v128.load(b, 16);
    const r2 = v128.load(b, 32);
    const r3 = v128.load(b, 48);
    const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
    const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
    const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
    const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
    const bx1 = f32x4.shuffle(t0, t2, 0, 1, 4, 5);
    const by1 = f32x4.shuffle(t0, t2, 2, 3, 6, 7);
    const bx2 = f32x4.shuffle(t1, t3, 0, 1, 4, 5);
    const by2 = f32x4.shuffle(t1, t3, 2, 3, 6, 7);
    const ba = f32x4.mul(
      f32x4.add(f32x4.sub(bx2, bx1), vp),
      f32x4.add(f32x4.sub(by2, by1), vp),
    );
    v128.store(
      out + (<usize> i << 2),
      overlap4(vx1, vy1, vx2, vy2, va, bx1, by1, bx2, by2, ba, vp, false),
    );
  }
  for (; i < n; i++) {
    const b = boxes + (<usize> i << 4);
    const bx1 = load<f32>(b);
    const by1 = load<f32>(b, 4);
    const bx2 = load<f32>(b, 8);
    const by2 = load<f32>(b, 12);
    const ba = area(bx1, by1, bx2, by2, p);
    store<f32>(
      out + (<usize> i << 2),
      overlap1(x1, y1, x2, y2, a, bx1, by1, bx2, by2, ba, p, false),
    );
  }
}

/** Bytes of one scratch array of n 4-byte elements (with SIMD slack). */
function arrayBytes(n: i32): usize {
  return align16((<usize> n << 2) + 16);
}

/** Bytes of scratch nms needs for n boxes. */
export function nmsScratchBytes(n: i32): usize {
  return 10 * arrayBytes(n) + 4 * 256 * 4;
}

/**
 * Sorts box indexes by descending score, ties by lower index (stable LSD
 * radix sort on the scores' order-preserving bit patterns). Returns the
 * pointer (ids or ids2) holding the sorted indexes.
 */
function sortByScore(
  scores: usize,
  n: i32,
  keys: usize,
  ids: usize,
  keys2: usize,
  ids2: usize,
  hist: usize,
): usize {
  memory.fill(hist, 0, 4 * 256 * 4);
  for (let i = 0; i < n; i++) {
    const o = <usize> i << 2;
    // + 0 turns -0 into +0; flipping makes unsigned order follow the float
    // order, the final ~ makes it descending.
    const bits = reinterpret<u32>(load<f32>(scores + o) + <f32> 0);
    const k = ~((bits >> 31) != 0 ? ~bits : bits | 0x80000000);
    store<u32>(keys + o, k);
    store<i32>(ids + o, i);
    for (let b = 0; b < 4; b++) {
      const h = hist + (<usize> b << 10) + (<usize> ((k >> (b << 3)) & 0xff) << 2);
      store<u32>(h, load<u32>(h) + 1);
    }
  }
  let srcK = keys;
  let srcI = ids;
  let dstK = keys2;
  let dstI = ids2;
  for (let b = 0; b < 4; b++) {
    const h = hist + (<usize> b << 10);
    const shift = b << 3;
    if (n == 0 || load<u32>(h + (<usize> ((load<u32>(srcK) >> shift) & 0xff) << 2)) == <u32> n) {
      continue; // every key has the same byte here
    }
    let sum: u32 = 0;
    for (let v = 0; v < 256; v++) {
      const c = load<u32>(h + (<usize> v << 2));
      store<u32>(h + (<usize> v << 2), sum);
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const o = <usize> i << 2;
      const k = load<u32>(srcK + o);
      const slot = h + (<usize> ((k >> shift) & 0xff) << 2);
      const at = <usize> load<u32>(slot) << 2;
      store<u32>(slot, load<u32>(slot) + 1);
      store<u32>(dstK + at, k);
      store<i32>(dstI + at, load<i32>(srcI + o));
    }
    const tk = srcK;
    srcK = dstK;
    dstK = tk;
    const ti = srcI;
    srcI = dstI;
    dstI = ti;
  }
  return srcI;
}

/**
 * Greedy NMS over n boxes (n*4 f32) with n scores: writes the kept box
 * indexes to out in descending score order (ties: lower index first) and
 * returns how many were kept.
 */
export function nms(
  boxes: usize,
  scores: usize,
  n: i32,
  threshold: f32,
  minMode: bool,
  plusOne: bool,
  out: usize,
  scratch: usize,
): i32 {
  const step = arrayBytes(n);
  const keys = scratch;
  const ids = keys + step;
  const keys2 = ids + step;
  const ids2 = keys2 + step;
  const x1 = ids2 + step;
  const y1 = x1 + step;
  const x2 = y1 + step;
  const y2 = x2 + step;
  const ar = y2 + step;
  const dead = ar + step;
  const hist = dead + step;
  const p: f32 = plusOne ? 1 : 0;

  const order = sortByScore(scores, n, keys, ids, keys2, ids2, hist);
  for (let r = 0; r < n; r++) {
    const o = <usize> r << 2;
    const b = boxes + (<usize> load<i32>(order + o) << 4);
    const bx1 = load<f32>(b);
    const by1 = load<f32>(b, 4);
    const bx2 = load<f32>(b, 8);
    const by2 = load<f32>(b, 12);
    store<f32>(x1 + o, bx1);
    store<f32>(y1 + o, by1);
    store<f32>(x2 + o, bx2);
    store<f32>(y2 + o, by2);
    store<f32>(ar + o, area(bx1, by1, bx2, by2, p));
  }
  memory.fill(dead, 0, <usize> n << 2);

  const vp = f32x4.splat(p);
  const vt = f32x4.splat(threshold);
  let m = n; // live part of the arrays: [pos, m)
  let pos = 0;
  let deadAhead = 0; // suppressed boxes in [pos, m)
  let kept = 0;
  while (pos < m) {
    const o = <usize> pos << 2;
    pos++;
    if (load<i32>(dead + o) != 0) {
      deadAhead--;
      continue;
    }
    store<i32>(out + (<usize> kept << 2), load<i32>(order + o));
    kept++;
    const ax1 = load<f32>(x1 + o);
    const ay1 = load<f32>(y1 + o);
    const ax2 = load<f32>(x2 + o);
    const ay2 = load<f32>(y2 + o);
    const aa = load<f32>(ar + o);
    const vx1 = f32x4.splat(ax1);
    const vy1 = f32x4.splat(ay1);
    const vx2 = f32x4.splat(ax2);
    const vy2 = f32x4.splat(ay2);
    const va = f32x4.splat(aa);
    let j = pos;
    for (; j + 4 <= m; j += 4) {
      const q = <usize> j << 2;
      const ov = overlap4(
        vx1,
        vy1,
        vx2,
        vy2,
        va,
        v128.load(x1 + q),
        v128.load(y1 + q),
        v128.load(x2 + q),
        v128.load(y2 + q),
        v128.load(ar + q),
        vp,
        minMode,
      );
      const hit = f32x4.gt(ov, vt);
      const d = v128.load(dead + q);
      deadAhead += popcnt<i32>(i32x4.bitmask(v128.andnot(hit, d)));
      v128.store(dead + q, v128.or(d, hit));
    }
    for (; j < m; j++) {
      const q = <usize> j << 2;
      if (load<i32>(dead + q) != 0) continue;
      const ov = overlap1(
        ax1,
        ay1,
        ax2,
        ay2,
        aa,
        load<f32>(x1 + q),
        load<f32>(y1 + q),
        load<f32>(x2 + q),
        load<f32>(y2 + q),
        load<f32>(ar + q),
        p,
        minMode,
      );
      if (ov > threshold) {
        store<i32>(dead + q, -1);
        deadAhead++;
      }
    }
    // Drop the suppressed boxes once they are most of what is left.
    if (deadAhead > 32 && deadAhead * 2 > m - pos) {
      let w = pos;
      for (let r = pos; r < m; r++) {
        const s = <usize> r << 2;
        if (load<i32>(dead + s) != 0) continue;
        const t = <usize> w << 2;
        store<f32>(x1 + t, load<f32>(x1 + s));
        store<f32>(y1 + t, load<f32>(y1 + s));
        store<f32>(x2 + t, load<f32>(x2 + s));
        store<f32>(y2 + t, load<f32>(y2 + s));
        store<f32>(ar + t, load<f32>(ar + s));
        store<i32>(order + t, load<i32>(order + s));
        w++;
      }
      memory.fill(dead + (<usize> pos << 2), 0, <usize> (w - pos) << 2);
      m = w;
      deadAhead = 0;
    }
  }
  return kept;
}
