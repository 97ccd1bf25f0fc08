/**
 * Deployment: the AssemblyScript inference engine (fp32, v128 SIMD, relaxed
 * SIMD when the runtime has it) for MTCNN-shaped nets of any channel counts.
 * The inference bench's workload (`deno task bench`) is ./bench.ts, imported
 * on its own (it loads the detector, tfjs and onnxruntime on demand).
 *
 * @example
 * ```ts
 * import { createEngine } from "./src/deploy/mod.ts";
 * import { loadNetData } from "./src/nets/mod.ts";
 * const pnet = await createEngine(await loadNetData("weights/original/pnet.mtcnn"));
 * const { cls, box, outH, outW } = pnet.run(rgb, 1, 480, 640);
 * ```
 */
export * from "./engine.ts";
