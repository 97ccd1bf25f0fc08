/**
 * The inference benchmark's workload (what `deno task bench` times, in the
 * spirit of ncnn's benchncnn): for each weights variant, PNet on one
 * 640×480 image, the PNet pyramid of that image (min face 20, factor
 * 0.709), RNet on 256 crops, ONet on 64 crops and the whole cascade, on
 * each engine: our AssemblyScript engine (relaxed and plain SIMD builds),
 * tfjs on its wasm backend, onnxruntime-web (wasm SIMD, 1 thread) and
 * onnxruntime-node (native) on the ONNX export of the same weights. The same
 * workload runs on the main thread or in each of N Deno Workers
 * (./bench_worker.ts), so the rows are timed the same way everywhere.
 *
 * @example
 * ```ts
 * const w = await createBenchWorkload({ variants: [{ name: "base", dir: "weights/original" }], image });
 * for (const row of w.rows) console.log(row.key, summarize(await w.time(row.key, 3, 10)));
 * ```
 */
import { createKernels, relaxedSimdSupported } from "../../kernels/mod.ts";
import type { RgbImage } from "../image/types.ts";
import { loadNetData } from "../nets/weights_io.ts";
import { resolveWeightPaths } from "../detect/load.ts";
import type { NetData } from "../nets/net.ts";
import { createEngine, type Engine } from "./engine.ts";
import { exportOnnx } from "./export_onnx.ts";
import { createDetector, detectFaces } from "../detect/cascade.ts";
import { pyramidScales } from "../detect/boxes.ts";
import { cropResizeAreaU8ToF32, resizeAreaU8 } from "../../kernels/mod.ts";
import { Rng } from "../util/random.ts";
import process from "node:process";

/** The engines a row can run on. */
export type BenchEngine = "as-relaxed" | "as-simd" | "tfjs-wasm" | "ort-web" | "ort-node";
export const BENCH_ENGINES: readonly BenchEngine[] = [
  "as-relaxed",
  "as-simd",
  "tfjs-wasm",
  "ort-web",
  "ort-node",
];

/** The models of the table, in order. */
export type BenchModel = "pnet" | "pyramid" | "rnet" | "onet" | "cascade";
export const BENCH_MODELS: readonly BenchModel[] = ["pnet", "pyramid", "rnet", "onet", "cascade"];

/**
 * A weights folder (pnet/rnet/onet.mtcnn, or a training run's
 * best_pnet/rnet/onet.mtcnn) under a name: "base", or e.g. "pruned", "int8".
 */
export interface BenchVariant {
  name: string;
  dir: string;
}

/** What a workload is made of (plain data: it is posted to workers). */
export interface BenchWorkloadInit {
  variants: BenchVariant[];
  /** The cascade's photo (RGB); PNet and the pyramid run on it too. */
  image: RgbImage;
  /** Crops per RNet / ONet run (default 256 / 64). */
  rnetBatch?: number;
  onetBatch?: number;
  /** Engines to include (default: all that load). */
  engines?: readonly BenchEngine[];
  /**
   * What a run's time is: "wall" (default, `performance.now`) or "cpu": the
   * process's user + system CPU time (`process.cpuUsage`), which other jobs
   * on a shared machine do not inflate (one thread only: with workers it
   * would add up every worker's time).
   */
  clock?: BenchClock;
}

/** How the bench measures a run: elapsed time, or the process's CPU time. */
export type BenchClock = "wall" | "cpu";

/** Milliseconds of the given clock, from an arbitrary origin. */
export function benchClock(kind: BenchClock = "wall"): () => number {
  if (kind === "wall") return () => performance.now();
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
}

/** One row of the table. */
export interface BenchRowSpec {
  key: string;
  variant: string;
  model: BenchModel;
  engine: BenchEngine;
  /** What one run is, e.g. `640x480`, `x256`. */
  shape: string;
  /** 2 × multiply-adds of one run (0 for the cascade: it depends on the image). */
  flops: number;
  /** The arithmetic of the model's nets: fp32, int8, or mixed (the cascade of both). */
  precision: "fp32" | "int8" | "mixed";
}

/** Timing summary of a row, milliseconds. */
export interface BenchStats {
  min: number;
  max: number;
  avg: number;
  median: number;
}

/** A prepared workload: its rows, and a timer for each. */
export interface BenchWorkload {
  rows: BenchRowSpec[];
  /** Engines that did not load, with the one-line reason. */
  unavailable: Partial<Record<BenchEngine, string>>;
  /** Rows left out on purpose, one line each (e.g. int8 nets on engines without int8 kernels). */
  skipped: string[];
  /** Runs row `key` `warmup` times untimed, then `loops` times; the ms of each timed run. */
  time(key: string, warmup: number, loops: number): Promise<number[]>;
}

/** Min / max / mean / median of some times. */
export function summarize(times: readonly number[]): BenchStats {
  if (!times.length) throw new RangeError("summarize: no times");
  const t = [...times].sort((a, b) => a - b);
  const mid = t.length >> 1;
  return {
    min: t[0],
    max: t[t.length - 1],
    avg: t.reduce((a, b) => a + b, 0) / t.length,
    median: t.length % 2 ? t[mid] : (t[mid - 1] + t[mid]) / 2,
  };
}

/**
 * This machine's WebAssembly SIMD peak in GFLOP/s: the `fmaPeak` kernel
 * (8 independent f32x4 accumulators; relaxed_madd or mul + add), best of
 * `rounds` runs of `iters` rounds.
 *
 * @example
 * ```ts
 * const { relaxed, simd } = await measureSimdPeak(1e7);
 * ```
 */
export async function measureSimdPeak(
  iters = 1e7,
  rounds = 3,
): Promise<{ simd: number; relaxed?: number }> {
  const best = async (relaxedSimd: boolean) => {
    const k = await createKernels({ relaxedSimd });
    k.fmaPeak(Math.min(iters, 1e5), 0.5, 1);
    let ms = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      k.fmaPeak(iters, 0.5, 1);
      ms = Math.min(ms, performance.now() - t);
    }
    return (64 * iters) / (Math.max(ms, 1e-3) * 1e6);
  };
  return {
    simd: await best(false),
    relaxed: relaxedSimdSupported() ? await best(true) : undefined,
  };
}

/** ONNX Runtime's API as far as the bench uses it (web and node have the same). */
interface OrtLike {
  env: { wasm?: { numThreads?: number }; logLevel?: string };
  InferenceSession: {
    create(model: Uint8Array, opts?: Record<string, unknown>): Promise<OrtSession>;
  };
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
}
interface OrtSession {
  inputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<unknown>;
}

async function loadOrt(engine: "ort-web" | "ort-node"): Promise<OrtLike> {
  // computed specifiers: a missing package skips the engine instead of failing the import
  const name = engine === "ort-web" ? "onnxruntime-web" : "onnxruntime-node";
  const ort = (await import(name)) as unknown as OrtLike & { default?: OrtLike };
  const api = ort.InferenceSession ? ort : ort.default!;
  if (engine === "ort-web" && api.env.wasm) api.env.wasm.numThreads = 1;
  api.env.logLevel = "error";
  return api;
}

/** NHWC → NCHW (floats). */
function toNchw(x: Uint8Array | Float32Array, n: number, h: number, w: number): Float32Array {
  const out = new Float32Array(n * 3 * h * w);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h * w; i++) {
      for (let c = 0; c < 3; c++) out[((b * 3 + c) * h * w) + i] = x[(b * h * w + i) * 3 + c];
    }
  }
  return out;
}

/**
 * Loads every variant's weights, builds every engine once and prepares the
 * inputs (the pyramid levels and the crops with the area kernels, the ONNX
 * tensors in NCHW). An engine that does not load (e.g. onnxruntime-node
 * without its native library) is left out and named in `unavailable`.
 */
export async function createBenchWorkload(init: BenchWorkloadInit): Promise<BenchWorkload> {
  const { image } = init;
  const want = new Set(init.engines ?? BENCH_ENGINES);
  if (!relaxedSimdSupported()) want.delete("as-relaxed");
  const unavailable: Partial<Record<BenchEngine, string>> = {};
  const rnetN = init.rnetBatch ?? 256, onetN = init.onetBatch ?? 64;
  const W = image.width, H = image.height;

  // inputs shared by every engine and variant
  const levels = pyramidScales(W, H, 20, 0.709).map((s) => {
    const w = Math.ceil(W * s), h = Math.ceil(H * s);
    return { w, h, data: resizeAreaU8(image.data, W, H, w, h) };
  });
  const rng = new Rng(20261130);
  const rects = (n: number) => {
    const r = new Int32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const side = rng.int(20, Math.max(21, Math.min(W, H)));
      r.set([rng.int(-side >> 2, W - side), rng.int(-side >> 2, H - side), side, side], 4 * i);
    }
    return r;
  };
  // crops 0..255 (mean 0, scale 1): every engine normalises them itself
  const crops24 = cropResizeAreaU8ToF32(image.data, W, H, rects(rnetN), 24, 0, 1);
  const crops48 = cropResizeAreaU8ToF32(image.data, W, H, rects(onetN), 48, 0, 1);

  type Runner = () => unknown;
  const runners = new Map<string, Runner>();
  const rows: BenchRowSpec[] = [];

  let tfMod: typeof import("./bench_tfjs.ts") | undefined;
  if (want.has("tfjs-wasm")) {
    try {
      tfMod = await import("./bench_tfjs.ts");
      await tfMod.init();
    } catch (e) {
      unavailable["tfjs-wasm"] = (e as Error).message.split("\n")[0];
      want.delete("tfjs-wasm");
    }
  }
  const orts: Partial<Record<BenchEngine, OrtLike>> = {};
  for (const e of ["ort-web", "ort-node"] as const) {
    if (!want.has(e)) continue;
    try {
      orts[e] = await loadOrt(e);
    } catch (err) {
      unavailable[e] = (err as Error).message.split("\n")[0];
      want.delete(e);
    }
  }

  const skipped: string[] = [];
  for (const variant of init.variants) {
    const paths = await resolveWeightPaths(variant.dir);
    const data: Record<"pnet" | "rnet" | "onet", NetData> = {
      pnet: await loadNetData(paths.pnet!),
      rnet: await loadNetData(paths.rnet!),
      onet: await loadNetData(paths.onet!),
    };
    const precision = (net: "pnet" | "rnet" | "onet") => data[net].quant ? "int8" : "fp32";
    const precisions: Record<BenchModel, BenchRowSpec["precision"]> = {
      pnet: precision("pnet"),
      pyramid: precision("pnet"),
      rnet: precision("rnet"),
      onet: precision("onet"),
      cascade: new Set([precision("pnet"), precision("rnet"), precision("onet")]).size > 1
        ? "mixed"
        : precision("pnet"),
    };
    // tfjs and onnxruntime would run an int8 net's dequantised floats: not an int8 row
    const anyInt8 = Object.values(data).some((d) => d.quant);
    if (anyInt8) {
      const off = BENCH_ENGINES.filter((e) => !e.startsWith("as-") && want.has(e));
      if (off.length) {
        skipped.push(
          `${variant.name}: int8 nets run on the AS engine only (no ${off.join(", ")} rows)`,
        );
      }
    }
    // FLOPs from one engine (the same arithmetic on every engine)
    const counter = {
      pnet: await createEngine(data.pnet, { relaxedSimd: false }),
      rnet: await createEngine(data.rnet, { relaxedSimd: false }),
      onet: await createEngine(data.onet, { relaxedSimd: false }),
    };
    const flops: Record<BenchModel, number> = {
      pnet: counter.pnet.flops(1, H, W),
      pyramid: levels.reduce((s, l) => s + counter.pnet.flops(1, l.h, l.w), 0),
      rnet: counter.rnet.flops(rnetN, 24, 24),
      onet: counter.onet.flops(onetN, 48, 48),
      cascade: 0,
    };
    const shapes: Record<BenchModel, string> = {
      pnet: `${W}x${H}`,
      pyramid: `${levels.length} levels`,
      rnet: `x${rnetN}`,
      onet: `x${onetN}`,
      cascade: `${W}x${H}`,
    };
    const add = (model: BenchModel, engine: BenchEngine, run: Runner) => {
      const key = `${variant.name}/${model}/${engine}`;
      rows.push({
        key,
        variant: variant.name,
        model,
        engine,
        shape: shapes[model],
        flops: flops[model],
        precision: precisions[model],
      });
      runners.set(key, run);
    };

    for (const engine of ["as-relaxed", "as-simd"] as const) {
      if (!want.has(engine)) continue;
      const relaxedSimd = engine === "as-relaxed";
      const e: Record<"pnet" | "rnet" | "onet", Engine> = {
        pnet: await createEngine(data.pnet, { relaxedSimd }),
        rnet: await createEngine(data.rnet, { relaxedSimd }),
        onet: await createEngine(data.onet, { relaxedSimd }),
      };
      add("pnet", engine, () => e.pnet.run(image.data, 1, H, W));
      add("pyramid", engine, () => levels.forEach((l) => e.pnet.run(l.data, 1, l.h, l.w)));
      add("rnet", engine, () => e.rnet.run(crops24, rnetN, 24, 24));
      add("onet", engine, () => e.onet.run(crops48, onetN, 48, 48));
      const det = createDetector(e);
      add("cascade", engine, () => detectFaces(det, image));
    }
    if (tfMod && want.has("tfjs-wasm") && !anyInt8) {
      const t = tfMod.prepare(data, image, levels, crops24, rnetN, crops48, onetN);
      add("pnet", "tfjs-wasm", t.pnet);
      add("pyramid", "tfjs-wasm", t.pyramid);
      add("rnet", "tfjs-wasm", t.rnet);
      add("onet", "tfjs-wasm", t.onet);
      add("cascade", "tfjs-wasm", t.cascade);
    }
    for (const engine of ["ort-web", "ort-node"] as const) {
      const ort = orts[engine];
      if (!ort || anyInt8) continue;
      const session = async (d: NetData) => {
        const s = await ort.InferenceSession.create(exportOnnx(d), { logSeverityLevel: 3 });
        return (x: Uint8Array | Float32Array, n: number, h: number, w: number) => {
          const feed = {
            [s.inputNames[0]]: new ort.Tensor("float32", toNchw(x, n, h, w), [n, 3, h, w]),
          };
          return () => s.run(feed);
        };
      };
      try {
        const p = await session(data.pnet),
          r = await session(data.rnet),
          o = await session(data.onet);
        add("pnet", engine, p(image.data, 1, H, W));
        const lv = levels.map((l) => p(l.data, 1, l.h, l.w));
        add("pyramid", engine, async () => {
          for (const f of lv) await f();
        });
        add("rnet", engine, r(crops24, rnetN, 24, 24));
        add("onet", engine, o(crops48, onetN, 48, 48));
      } catch (err) {
        unavailable[engine] = (err as Error).message.split("\n")[0];
      }
    }
  }
  // table order: model, engine, variant (the variants of a row side by side)
  const vOrder = init.variants.map((v) => v.name);
  rows.sort((a, b) =>
    BENCH_MODELS.indexOf(a.model) - BENCH_MODELS.indexOf(b.model) ||
    BENCH_ENGINES.indexOf(a.engine) - BENCH_ENGINES.indexOf(b.engine) ||
    vOrder.indexOf(a.variant) - vOrder.indexOf(b.variant)
  );
  const now = benchClock(init.clock);
  return {
    rows,
    unavailable,
    skipped,
    async time(key, warmup, loops) {
      const run = runners.get(key);
      if (!run) throw new RangeError(`bench: no row "${key}"`);
      for (let i = 0; i < warmup; i++) await run();
      const times: number[] = [];
      for (let i = 0; i < loops; i++) {
        const t = now();
        await run();
        times.push(now() - t);
      }
      return times;
    },
  };
}

/**
 * The workload in `n` Deno Workers (one thread each), timed together: each
 * `time` call runs the row in every worker at once and gives each worker's
 * times. `close` ends the workers.
 *
 * @example
 * ```ts
 * const pool = await createWorkerBench(2, init);
 * const [a, b] = await pool.time("base/cascade/as-relaxed", 2, 10);
 * pool.close();
 * ```
 */
export async function createWorkerBench(n: number, init: BenchWorkloadInit): Promise<{
  rows: BenchRowSpec[];
  unavailable: Partial<Record<BenchEngine, string>>;
  skipped: string[];
  time(key: string, warmup: number, loops: number): Promise<{ times: number[]; wallMs: number }[]>;
  close(): void;
}> {
  const url = new URL("./bench_worker.ts", import.meta.url);
  const workers: Worker[] = [];
  const ask = (w: Worker, msg?: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      w.onmessage = (e) =>
        e.data.type === "error" ? reject(new Error(e.data.message)) : resolve(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`bench worker: ${e.message}`));
      };
      w.onmessageerror = () => reject(new Error("bench worker: a message could not be read"));
      if (msg !== undefined) w.postMessage(msg);
    });
  try {
    // one at a time: two workers compiling at once only slows both
    let ready: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { type: "module" });
      workers.push(w);
      await ask(w); // its "hello": it listens now (a message sent before is lost)
      ready = await ask(w, { type: "init", init });
    }
    return {
      rows: ready.rows as BenchRowSpec[],
      unavailable: ready.unavailable as Partial<Record<BenchEngine, string>>,
      skipped: ready.skipped as string[],
      async time(key, warmup, loops) {
        // every worker warms up, then all start the timed loops together
        await Promise.all(workers.map((w) => ask(w, { type: "time", key, warmup, loops: 0 })));
        return Promise.all(workers.map(async (w) => {
          const t = performance.now();
          const r = await ask(w, { type: "time", key, warmup: 0, loops });
          return { times: r.times as number[], wallMs: performance.now() - t };
        }));
      },
      close: () => workers.forEach((w) => w.terminate()),
    };
  } catch (e) {
    workers.forEach((w) => w.terminate());
    throw e;
  }
}
