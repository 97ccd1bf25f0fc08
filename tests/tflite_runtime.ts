/**
 * The official TFLite runtime for tests: tfjs-tflite's WebAssembly build
 * (TFLite with XNNPACK) loaded directly under Deno, or a one-line reason why
 * it did not load (tests that need it are then ignored).
 */
import { assert } from "./assert.ts";

// deno-lint-ignore no-explicit-any
type TfliteModule = any;

/** The loaded runtime, or undefined with {@linkcode tfliteSkip} saying why. */
export let tfliteModule: TfliteModule | undefined;
/** Why the runtime did not load ("" when it did). */
export let tfliteSkip = "";
try {
  const js = "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js";
  // a computed specifier: a missing package skips the tests instead of failing the module
  const factory = (await import(js)).default;
  const wasm = await Deno.readFile(new URL(import.meta.resolve(js).replace(/\.js$/, ".wasm")));
  tfliteModule = await factory({ wasmBinary: wasm, print: () => {}, printErr: () => {} });
} catch (e) {
  tfliteSkip = `tfjs-tflite's wasm runtime did not load under Deno (${
    (e as Error).message.split("\n")[0]
  })`;
}

/**
 * Runs TFLite model bytes on one float input with the official interpreter
 * (XNNPACK), at its stored shape; outputs by tensor name, as floats.
 */
export function runOfficialTflite(
  bytes: Uint8Array,
  x: Float32Array,
): Record<string, Float32Array> {
  const m = tfliteModule;
  const ptr = m._malloc(bytes.length);
  m.HEAPU8.set(bytes, ptr);
  const status = m.TFLiteWebModelRunner.CreateFromBufferAndOptions(ptr, bytes.length, {
    numThreads: 1,
    enableProfiling: false,
    maxProfilingBufferEntries: 1024,
  });
  if (!status.ok()) throw new Error(`TFLite runtime refused the model: ${status.errorMessage()}`);
  const runner = status.value();
  const inputs = runner.GetInputs();
  inputs.get(0).data().set(x);
  assert(runner.Infer(), "TFLite Infer() failed");
  const outs = runner.GetOutputs();
  const res: Record<string, Float32Array> = {};
  for (let k = 0; k < outs.size(); k++) {
    const o = outs.get(k);
    res[o.name] = Float32Array.from(o.data());
  }
  inputs.delete();
  outs.delete();
  runner.delete();
  m._free(ptr);
  return res;
}
