/**
 * The MTCNN nets: architectures as data (any channel counts), the forward
 * pass on tfjs (wasm or cpu backend), the `.mtcnn` weights file, and importers
 * for pretrained weights (the original release's TFLite files, ONNX models).
 *
 * @example
 * ```ts
 * import { ensureOriginalWeights, forward, initBackend, loadNet } from "./src/nets/mod.ts";
 * await initBackend("wasm");
 * const pnet = await loadNet((await ensureOriginalWeights()).pnet);
 * const { cls, box } = forward(pnet, image); // image: [1, H, W, 3] RGB 0..255
 * ```
 */
export * from "./arch.ts";
export * from "./backend.ts";
export * from "./net.ts";
export * from "./weights_io.ts";
export * from "./tflite.ts";
export * from "./tflite_run.ts";
export * from "./onnx.ts";
export * from "./import_common.ts";
export * from "./import_tflite.ts";
export * from "./import_onnx.ts";
export * from "./npm_tarball.ts";
export * from "./original.ts";
