/** An 8-bit RGB image, pixels interleaved row-major: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}
