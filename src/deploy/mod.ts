/**
 * Deployment: the AssemblyScript inference engine (fp32, v128 SIMD, relaxed
 * SIMD when the runtime has it) for MTCNN-shaped nets of any channel counts,
 * and its int8 path (./engine_int8.ts), which `createEngine` picks for nets
 * quantised by src/optimize.
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
export { createInt8Engine, type Int8Engine, int8Reference, int8Unsupported } from "./engine_int8.ts";
