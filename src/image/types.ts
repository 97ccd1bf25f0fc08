/** An 8-bit RGB image, pixels interleaved row-major: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Interleaved 8-bit pixels with any channel count: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
 * `data[(y * width + x) * channels + c]`. An {@linkcode RgbImage} is a `PixelBuffer` with 3 channels.
 */
export interface PixelBuffer {
  width: number;
  height: number;
  data: Uint8Array;
  channels: 1 | 2 | 3 | 4;
}

/** An RGB colour, each component 0..255. */
export type Rgb = readonly [number, number, number];
