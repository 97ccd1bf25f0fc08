/**
 * The MTCNN nets: architectures as data (any channel counts), the forward
 * pass on tfjs (wasm or cpu backend) and the `.mtcnn` weights file.
 *
 * @example
 * ```ts
 * import { forward, initBackend, loadNet } from "./src/nets/mod.ts";
 * await initBackend("wasm");
 * const pnet = await loadNet("weights/original/pnet.mtcnn");
 * const { cls, box } = forward(pnet, image); // image: [1, H, W, 3] RGB 0..255
 * ```
 */
export * from "./arch.ts";
export * from "./backend.ts";
export * from "./net.ts";
export * from "./weights_io.ts";
