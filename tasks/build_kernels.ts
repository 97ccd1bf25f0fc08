/**
 * Task `build:kernels`: compiles the AssemblyScript kernels (kernels/assembly/)
 * to WebAssembly (kernels/build/*.wasm) with the AssemblyScript compiler run
 * in-process from npm, so a fresh clone needs nothing but Deno.
 *
 * The builds are deterministic (same sources, same bytes); the committed
 * binaries are checked against a fresh build by tests/kernels_test.ts, and by
 * `deno task build:kernels --check`.
 *
 * @example
 * ```sh
 * deno task build:kernels            # rebuild kernels/build/*.wasm
 * deno task build:kernels --check    # exit 1 naming any stale binary
 * ```
 */
import asc from "assemblyscript/asc";
import type { Task } from "../src/cli/mod.ts";
import { writeFileAtomic } from "../src/io/mod.ts";

/** One compiled kernel binary: which source, which WebAssembly features. */
export interface KernelBuild {
  /** Output name: `<name>.wasm` in the build folder. */
  name: string;
  /** Entry file, relative to kernels/assembly/. */
  source: string;
  /** WebAssembly features passed to `asc --enable`. */
  features: readonly string[];
  /**
   * Import the linear memory (`env.memory`) instead of defining one, so the
   * kernels can run on another module's heap (grad: on tfjs-backend-wasm's).
   */
  importMemory?: boolean;
}

/**
 * Every binary the project ships. The float resize and the gradient kernels
 * are built twice: plain SIMD, and relaxed SIMD (fused multiply-add), chosen
 * at load time by kernels/mod.ts.
 */
export const KERNEL_BUILDS: readonly KernelBuild[] = [
  { name: "resize", source: "resize.ts", features: ["simd"] },
  { name: "resize_relaxed", source: "resize.ts", features: ["simd", "relaxed-simd"] },
  { name: "boxes", source: "boxes.ts", features: ["simd"] },
  { name: "crop", source: "crop.ts", features: ["simd"] },
  { name: "area", source: "area.ts", features: ["simd"] },
  { name: "area_relaxed", source: "area.ts", features: ["simd", "relaxed-simd"] },
  { name: "engine", source: "engine.ts", features: ["simd"] },
  { name: "engine_relaxed", source: "engine.ts", features: ["simd", "relaxed-simd"] },
  { name: "engine_int8", source: "engine_int8.ts", features: ["simd"] },
  { name: "engine_int8_relaxed", source: "engine_int8.ts", features: ["simd", "relaxed-simd"] },
  { name: "grad", source: "grad.ts", features: ["simd"], importMemory: true },
  {
    name: "grad_relaxed",
    source: "grad.ts",
    features: ["simd", "relaxed-simd"],
    importMemory: true,
  },
];

/** The kernels/ folder (holds assembly/ and build/). */
export const KERNELS_DIR = new URL("../kernels/", import.meta.url).pathname;

/** The folder holding the committed binaries. */
export const DEFAULT_BUILD_DIR = KERNELS_DIR + "build";

/**
 * Compiles one kernel and returns the .wasm bytes. Throws a one-line Error
 * quoting the compiler's first diagnostic when compilation fails.
 *
 * @example
 * ```ts
 * const wasm = await compileKernel(KERNEL_BUILDS[0]);
 * await WebAssembly.instantiate(wasm);
 * ```
 */
export async function compileKernel(build: KernelBuild): Promise<Uint8Array> {
  let binary: Uint8Array | undefined;
  let messages = "";
  const sink = { write: (chunk: Uint8Array | string) => void (messages += String(chunk)) };
  const result = await asc.main([
    `assembly/${build.source}`,
    "--outFile",
    `${build.name}.wasm`,
    "-O3",
    "--noAssert",
    "--runtime",
    "stub",
    "--enable",
    build.features.join(","),
    ...(build.importMemory ? ["--importMemory"] : []),
    "--noColors",
    "--baseDir",
    KERNELS_DIR,
  ], {
    stdout: sink,
    stderr: sink,
    writeFile(_name, contents) {
      if (typeof contents === "string") throw new TypeError("asc wrote text, expected .wasm bytes");
      binary = contents;
    },
  });
  if (result.error || !binary) {
    const first = messages.split("\n").map((l) => l.trim()).find((l) => l.length > 0);
    throw new Error(
      `Cannot compile "kernels/assembly/${build.source}" (${build.name}): ${
        first ?? result.error?.message ?? "no output"
      }`,
    );
  }
  return binary;
}

/** What happened to one binary during {@linkcode buildKernels}. */
export interface BuiltKernel {
  name: string;
  path: string;
  bytes: number;
  /** True when the file was absent or had different bytes. */
  changed: boolean;
}

/**
 * Compiles every kernel of {@linkcode KERNEL_BUILDS} into `outDir` (written
 * atomically; unchanged files are not rewritten).
 *
 * @example
 * ```ts
 * const built = await buildKernels(await Deno.makeTempDir());
 * console.log(built.map((k) => k.name));
 * ```
 */
export async function buildKernels(outDir: string = DEFAULT_BUILD_DIR): Promise<BuiltKernel[]> {
  const built: BuiltKernel[] = [];
  for (const build of KERNEL_BUILDS) {
    const wasm = await compileKernel(build);
    const path = `${outDir}/${build.name}.wasm`;
    const old = await Deno.readFile(path).catch(() => undefined);
    const changed = !old || !sameBytes(old, wasm);
    if (changed) await writeFileAtomic(path, wasm);
    built.push({ name: build.name, path, bytes: wasm.length, changed });
  }
  return built;
}

/**
 * Compiles every kernel in memory and returns the paths of the committed
 * binaries in `buildDir` that are missing or differ from a fresh build
 * (`kernels/build/<name>.wasm` for the default folder).
 */
export async function staleKernels(buildDir: string = DEFAULT_BUILD_DIR): Promise<string[]> {
  const stale: string[] = [];
  for (const build of KERNEL_BUILDS) {
    const wasm = await compileKernel(build);
    const path = `${buildDir}/${build.name}.wasm`;
    const old = await Deno.readFile(path).catch(() => undefined);
    if (!old || !sameBytes(old, wasm)) {
      stale.push(buildDir === DEFAULT_BUILD_DIR ? `kernels/build/${build.name}.wasm` : path);
    }
  }
  return stale;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const task: Task = {
  name: "build:kernels",
  description: "Compile the AssemblyScript kernels (kernels/assembly) to kernels/build/*.wasm",
  flags: {
    out: { type: "string", meta: "DIR", help: "output folder [default: kernels/build]" },
    check: {
      type: "boolean",
      help: "compile in memory and fail if a committed binary in --out is stale",
    },
  },
  async run({ flags }) {
    const out = flags.out === undefined ? DEFAULT_BUILD_DIR : String(flags.out);
    if (flags.check) {
      const stale = await staleKernels(out);
      if (stale.length) {
        throw new Error(`stale kernel binaries: ${stale.join(", ")} (run deno task build:kernels)`);
      }
      console.log(`${KERNEL_BUILDS.length} kernel binaries are up to date`);
      return;
    }
    for (const k of await buildKernels(out)) {
      console.log(`${k.changed ? "wrote    " : "unchanged"} ${k.path} (${k.bytes} bytes)`);
    }
  },
};

export default task;
