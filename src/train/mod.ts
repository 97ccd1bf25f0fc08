/**
 * Training: the gradient kernels that make tfjs' WebAssembly backend able to
 * train the nets, fast (importing this module also registers tfjs' gradient
 * functions, which `tf.grads` needs on any backend).
 *
 * @example
 * ```ts
 * import { initBackend } from "../nets/mod.ts";
 * import { enableTrainingKernels } from "./mod.ts";
 * await initBackend("wasm");
 * enableTrainingKernels();
 * ```
 */
export * from "./grad_kernels.ts";
