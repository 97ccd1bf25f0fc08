/**
 * Chooses and starts the tfjs backend the nets run on: `wasm` (the SIMD
 * WebAssembly backend, single-threaded under Deno; needs --allow-read to find
 * its .wasm in Deno's npm cache) or `cpu` (plain JavaScript, slow, but it has
 * every gradient kernel).
 *
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * await initBackend("wasm");
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";

/** The backends the project runs on. */
export type BackendName = "wasm" | "cpu";

const loaded = new Set<BackendName>();

/**
 * Registers (once) and activates the named backend, then waits until it is ready.
 * Calling it again with the same name is cheap; switching backends is allowed.
 * Throws a one-line Error when the backend cannot start.
 */
export async function initBackend(name: BackendName = "wasm"): Promise<void> {
  if (name !== "wasm" && name !== "cpu") {
    throw new TypeError(`initBackend: unknown backend "${name}" (want wasm or cpu)`);
  }
  // PROD silences tfjs' "you are running in Node.js, install tfjs-node" banner
  tf.env().set("PROD", true);
  if (!loaded.has(name)) {
    if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
    else await import("@tensorflow/tfjs-backend-cpu");
    loaded.add(name);
  }
  if (tf.getBackend() !== name || !tf.engine().backend) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`initBackend: the tfjs ${name} backend failed to initialise`);
  }
  await tf.ready();
}

export { tf };
