/**
 * Starts the tfjs backend a trainer runs on: `wasm` with the training kernels
 * of src/train/grad_kernels.ts (the gradient kernels the wasm backend lacks
 * and faster ones), or `cpu` (slow, every kernel built in).
 *
 * @example
 * ```ts
 * await initTrainingBackend("wasm");
 * ```
 */
import { type BackendName, initBackend } from "../nets/backend.ts";
import { enableTrainingKernels } from "./grad_kernels.ts";

/** {@linkcode initBackend}, then the training kernels on wasm. */
export async function initTrainingBackend(name: BackendName = "wasm"): Promise<void> {
  await initBackend(name);
  if (name === "wasm") enableTrainingKernels();
}
