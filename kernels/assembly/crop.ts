// Crop-and-resize kernels: for every box (x, y, w, h) of one image, the
// region [x, x+w) x [y, y+h) with pixels outside the image reading as 0
// (zero padding, as MTCNN pads crops), resized to size x size with the
// bilinear semantics of resize.ts (see shared/bilinear.ts) applied to that
// padded crop. Zero padding is exact: taps outside the image get weight 0.
//
// Memory regions (linear memory, laid out by kernels/mod.ts on each call,
// every region 16-byte aligned):
//   [0, heapBase())   the compiler's static data; never written
//   src               srcW*srcH*cn u8 (read only)
//   boxes             n*4 i32: x, y, w, h per box (read only; w, h >= 1)
//   dst               n*size*size*cn u8 or f32, box after box, + 16 bytes slack
//   scratch           cropScratchBytes(maxW, cn, size) bytes:
//     xlo, xhi, xw    size i32 each: column taps within the crop
//     ylo, yhi, yw    size i32 each: row taps within the crop
//     t               maxW*cn i32: one blended crop row (0 outside the image), + 16 bytes slack

import {
  align16,
  axisTaps,
  COEF_ONE,
  fixedWeights,
  horizontalU8,
  horizontalU8ToF32,
  verticalU8,
} from "./shared/bilinear";

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of scratch for boxes at most maxW wide, cn channels, size x size outputs. */
export function cropScratchBytes(maxW: i32, cn: i32, size: i32): usize {
  return 6 * align16(<usize> size << 2) + align16(<usize> maxW * cn * 4) + 16;
}

/** Shared body of the two exports; `norm` selects f32 output with (v - mean) * scale. */
function cropResize(
  src: usize,
  srcW: i32,
  srcH: i32,
  cn: i32,
  boxes: usize,
  n: i32,
  size: i32,
  dst: usize,
  scratch: usize,
  norm: bool,
  mean: f32,
  scale: f32,
): void {
  const ts = align16(<usize> size << 2);
  const xlo = scratch;
  const xhi = xlo + ts;
  const xw = xhi + ts;
  const ylo = xw + ts;
  const yhi = ylo + ts;
  const yw = yhi + ts;
  const t = yw + ts;
  const stride = <usize> srcW * cn;
  const outRow = <usize> size * cn << (norm ? 2 : 0);
  let out = dst;
  for (let k = 0; k < n; k++) {
    const b = boxes + (<usize> k << 4);
    const bx = load<i32>(b);
    const by = load<i32>(b, 4);
    const bw = load<i32>(b, 8);
    const bh = load<i32>(b, 12);
    axisTaps(bw, size, cn, xlo, xhi, xw);
    axisTaps(bh, size, 1, ylo, yhi, yw);
    fixedWeights(xw, size);
    fixedWeights(yw, size);
    // Crop columns inside the image: [c0, c1) in image coordinates.
    const c0 = max<i32>(bx, 0);
    const c1 = min<i32>(bx + bw, srcW);
    const span = c1 > c0 ? (c1 - c0) * cn : 0;
    const tIn = t + ((<usize> (c0 - bx) * cn) << 2);
    memory.fill(t, 0, (<usize> bw * cn) << 2);
    for (let dy = 0; dy < size; dy++) {
      const o = <usize> dy << 2;
      let r0 = by + load<i32>(ylo + o);
      let r1 = by + load<i32>(yhi + o);
      let w1 = load<i32>(yw + o);
      let w0 = COEF_ONE - w1;
      if (r0 < 0 || r0 >= srcH) {
        w0 = 0;
        r0 = 0;
      }
      if (r1 < 0 || r1 >= srcH) {
        w1 = 0;
        r1 = 0;
      }
      if (span > 0) {
        const a = src + <usize> r0 * stride + <usize> c0 * cn;
        const c = src + <usize> r1 * stride + <usize> c0 * cn;
        verticalU8(a, c, w0, w1, tIn, span);
      }
      if (norm) horizontalU8ToF32(t, out, size, cn, xlo, xhi, xw, mean, scale);
      else horizontalU8(t, out, size, cn, xlo, xhi, xw);
      out += outRow;
    }
  }
}

/** n boxes of a u8 image -> n*size*size*cn u8 crops. */
export function cropResizeU8(
  src: usize,
  srcW: i32,
  srcH: i32,
  cn: i32,
  boxes: usize,
  n: i32,
  size: i32,
  dst: usize,
  scratch: usize,
): void {
  cropResize(src, srcW, srcH, cn, boxes, n, size, dst, scratch, false, 0, 0);
}

/** As cropResizeU8, writing f32 (v - mean) * scale. */
export function cropResizeU8ToF32(
  src: usize,
  srcW: i32,
  srcH: i32,
  cn: i32,
  boxes: usize,
  n: i32,
  size: i32,
  mean: f32,
  scale: f32,
  dst: usize,
  scratch: usize,
): void {
  cropResize(src, srcW, srcH, cn, boxes, n, size, dst, scratch, true, mean, scale);
}
