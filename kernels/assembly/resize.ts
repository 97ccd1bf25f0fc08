// Resize kernels: bilinear resize (OpenCV INTER_LINEAR semantics, see
// shared/bilinear.ts) of images with `cn` interleaved channels.
// Built twice: resize.wasm (SIMD) and resize_relaxed.wasm (relaxed SIMD:
// fused multiply-add in the f32 path; the u8 paths are the same code).
//
// Memory regions (linear memory, laid out by kernels/mod.ts on each call,
// every region 16-byte aligned):
//   [0, heapBase())        the compiler's static data; never written
//   src                    srcW*srcH*cn elements (u8 or f32), + 16 bytes slack
//   dst                    dstW*dstH*cn elements (u8 or f32), + 16 bytes slack
//   scratch                resizeScratchBytes(srcW, cn, dstW, dstH) bytes:
//     xlo, xhi, xw         dstW i32 each: column taps (element offsets, weight)
//     ylo, yhi, yw         dstH i32 each: row taps (element offsets, weight)
//     t                    srcW*cn i32 or f32: one blended row, + 16 bytes slack
// The kernels write only dst and scratch.

import {
  align16,
  axisTaps,
  COEF_ONE,
  fixedWeights,
  horizontalF32,
  horizontalU8,
  horizontalU8ToF32,
  verticalF32,
  verticalU8,
} from "./shared/bilinear";

/** First byte free for the caller's regions. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of scratch the resize kernels need for these sizes. */
export function resizeScratchBytes(srcW: i32, cn: i32, dstW: i32, dstH: i32): usize {
  return 3 * align16(<usize> dstW << 2) + 3 * align16(<usize> dstH << 2) +
    align16(<usize> srcW * cn * 4) + 16;
}

// Scratch offsets, set by taps().
let xlo: usize = 0;
let xhi: usize = 0;
let xw: usize = 0;
let ylo: usize = 0;
let yhi: usize = 0;
let yw: usize = 0;
let row: usize = 0;

function taps(
  srcW: i32,
  srcH: i32,
  cn: i32,
  dstW: i32,
  dstH: i32,
  scratch: usize,
  fixed: bool,
): void {
  const xs = align16(<usize> dstW << 2);
  const ys = align16(<usize> dstH << 2);
  xlo = scratch;
  xhi = xlo + xs;
  xw = xhi + xs;
  ylo = xw + xs;
  yhi = ylo + ys;
  yw = yhi + ys;
  row = yw + ys;
  axisTaps(srcW, dstW, cn, xlo, xhi, xw);
  axisTaps(srcH, dstH, srcW * cn, ylo, yhi, yw);
  if (fixed) {
    fixedWeights(xw, dstW);
    fixedWeights(yw, dstH);
  }
}

/** u8 -> u8 resize: dst (dstW x dstH x cn) from src (srcW x srcH x cn). */
export function resizeU8(
  src: usize,
  srcW: i32,
  srcH: i32,
  cn: i32,
  dst: usize,
  dstW: i32,
  dstH: i32,
  scratch: usize,
): void {
  taps(srcW, srcH, cn, dstW, dstH, scratch, true);
  const n = srcW * cn;
  const dstRow = <usize> dstW * cn;
  for (let dy = 0; dy < dstH; dy++) {
    const o = <usize> dy << 2;
    const w1 = load<i32>(yw + o);
    const a = src + <usize> load<i32>(ylo + o);
    const b = src + <usize> load<i32>(yhi + o);
    verticalU8(a, b, COEF_ONE - w1, w1, row, n);
    horizontalU8(row, dst + <usize> dy * dstRow, dstW, cn, xlo, xhi, xw);
  }
}

/** u8 -> f32 resize then normalisation: dst = (resizeU8 value - mean) * scale. */
export function resizeU8ToF32(
  src: usize,
  srcW: i32,
  srcH: i32,
  cn: i32,
  dst: usize,
  dstW: i32,
  dstH: i32,
  mean: f32,
  scale: f32,
  scratch: usize,
): void {
  taps(srcW, srcH, cn, dstW, dstH, scratch, true);
  const n = srcW * cn;
  const dstRow = (<usize> dstW * cn) << 2;
  for (let dy = 0; dy < dstH; dy++) {
    const o = <usize> dy << 2;
    const w1 = load<i32>(yw + o);
    const a = src + <usize> load<i32>(ylo + o);
    const b = src + <usize> load<i32>(yhi + o);
    verticalU8(a, b, COEF_ONE - w1, w1, row, n);
    horizontalU8ToF32(row, dst + <usize> dy * dstRow, dstW, cn, xlo, xhi, xw, mean, scale);
  }
}

/** f32 -> f32 resize. */
export function resizeF32(
  src: usize,
  srcW: i32,
  srcH: i32,
  cn: i32,
  dst: usize,
  dstW: i32,
  dstH: i32,
  scratch: usize,
): void {
  taps(srcW, srcH, cn, dstW, dstH, scratch, false);
  const n = srcW * cn;
  const dstRow = (<usize> dstW * cn) << 2;
  for (let dy = 0; dy < dstH; dy++) {
    const o = <usize> dy << 2;
    const w1 = load<f32>(yw + o);
    const a = src + (<usize> load<i32>(ylo + o) << 2);
    const b = src + (<usize> load<i32>(yhi + o) << 2);
    verticalF32(a, b, <f32> 1 - w1, w1, row, n);
    horizontalF32(row, dst + <usize> dy * dstRow, dstW, cn, xlo, xhi, xw);
  }
}
