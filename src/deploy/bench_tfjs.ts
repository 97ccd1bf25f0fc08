/**
 * The tfjs-wasm rows of the inference bench (./bench.ts), in a module of
 * their own so a workload without tfjs never loads it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createNet, forward, type Net, type NetData } from "../nets/net.ts";
import { initBackend } from "../nets/backend.ts";
import { createDetector, detectFaces } from "../detect/cascade.ts";
import type { RgbImage } from "../image/types.ts";

/** Starts the tfjs wasm backend (1 thread). */
export async function init(): Promise<void> {
  await initBackend("wasm");
}

/** Runners of the five rows on tfjs-wasm; the input tensors are made once, outside the timing. */
export function prepare(
  data: Record<"pnet" | "rnet" | "onet", NetData>,
  image: RgbImage,
  levels: { w: number; h: number; data: Uint8Array }[],
  crops24: Float32Array,
  rnetN: number,
  crops48: Float32Array,
  onetN: number,
): Record<"pnet" | "pyramid" | "rnet" | "onet" | "cascade", () => unknown> {
  const nets: Record<"pnet" | "rnet" | "onet", Net> = {
    pnet: createNet(data.pnet.arch, data.pnet.params, data.pnet.meta),
    rnet: createNet(data.rnet.arch, data.rnet.params, data.rnet.meta),
    onet: createNet(data.onet.arch, data.onet.params, data.onet.meta),
  };
  const t = (x: Uint8Array | Float32Array, n: number, h: number, w: number) =>
    tf.tensor4d(Float32Array.from(x), [n, h, w, 3]);
  const img = t(image.data, 1, image.height, image.width);
  const lv = levels.map((l) => t(l.data, 1, l.h, l.w));
  const r = t(crops24, rnetN, 24, 24), o = t(crops48, onetN, 48, 48);
  const run = (net: Net, x: tf.Tensor4D) =>
    tf.tidy(() => {
      const out = forward(net, x);
      out.cls.dataSync();
      out.box.dataSync();
      out.landmarks?.dataSync();
    });
  const det = createDetector(nets);
  return {
    pnet: () => run(nets.pnet, img),
    pyramid: () => lv.forEach((x) => run(nets.pnet, x)),
    rnet: () => run(nets.rnet, r),
    onet: () => run(nets.onet, o),
    cascade: () => detectFaces(det, image),
  };
}
