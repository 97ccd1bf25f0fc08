/**
 * Training: the gradient kernels that make tfjs' WebAssembly backend able to
 * train the nets, fast (importing this module also registers tfjs' gradient
 * functions, which `tf.grads` needs on any backend), and the trainer built on
 * them: losses with OHEM, augmentation, Adam with a multi-step schedule, an
 * explicit-tape backward pass, data-parallel workers, checkpoints, metrics.
 *
 * @example
 * ```ts
 * import { resolveTrainConfig, train } from "./mod.ts";
 * const result = await train(resolveTrainConfig({ net: "pnet", trainData: ["data/pnet/train"], valData: ["data/pnet/val"] }), { out: "weights/run" });
 * ```
 */
export * from "./grad_kernels.ts";
export * from "./losses.ts";
export * from "./augment.ts";
export * from "./optimizer.ts";
export * from "./metrics.ts";
export * from "./checkpoint.ts";
export * from "./backprop.ts";
export * from "./parallel.ts";
export * from "./trainer.ts";
