/**
 * `deno task bench`: inference speed of the MTCNN nets, in the spirit of
 * ncnn's benchncnn. Prints the configuration (CPU, Deno / V8, SIMD and
 * relaxed SIMD, threads, loops), this machine's WASM SIMD peak (the fmaPeak
 * kernel), then after the warm-up runs one row per model and engine with
 * min / max / avg / median ms, GFLOP/s and the share of the SIMD peak:
 * PNet 640×480, the PNet pyramid (min face 20), RNet ×256, ONet ×64 and the
 * whole cascade, on our AS engine (relaxed and plain SIMD), tfjs-wasm,
 * onnxruntime-web and onnxruntime-node (ONNX export of the same weights).
 * Ends with the cascade's frames per second on 1 and 2 workers.
 *
 * With more weights variants (`--weights-extra`), each row's variants are
 * timed interleaved (one run of each in turn, `--loops` rounds), printed side
 * by side with the speed-up over the base variant (median against median), and
 * each variant's WIDER AP is printed when its folder holds a `wider_ap*.json`.
 *
 *   deno task bench                                   # base weights, 1 thread
 *   deno task bench --threads 2 --loops 20            # two Workers at once: throughput
 *   deno task bench --weights weights/demo --weights-extra pruned=weights/pruned,int8=weights/pruned/int8
 *   deno task bench --engines as-relaxed --clock cpu ...   # CPU time: a shared machine's load cancels out
 *   deno task bench --quick --loops 1 --warmup 0      # small inputs, a smoke test
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { writeJsonAtomic } from "../src/io/mod.ts";
import { readImage, type RgbImage } from "../src/image/mod.ts";
import { ensureOriginalWeights } from "../src/nets/mod.ts";
import { renderSyntheticImage } from "../src/data/synthetic/mod.ts";
import { resolveWeightPaths } from "../src/detect/load.ts";
import { relaxedSimdSupported, resizeBilinearU8, simdSupported } from "../kernels/mod.ts";
import {
  BENCH_ENGINES,
  type BenchClock,
  type BenchEngine,
  type BenchRowSpec,
  type BenchStats,
  type BenchVariant,
  type BenchWorkloadInit,
  createBenchWorkload,
  createWorkerBench,
  measureSimdPeak,
  summarize,
} from "../src/deploy/bench.ts";

/** Engines that run the whole cascade. */
const CASCADE_ENGINES: readonly BenchEngine[] = ["as-relaxed", "as-simd", "tfjs-wasm"];

const task: Task = {
  name: "bench",
  description:
    "Inference speed (benchncnn style): PNet, pyramid, RNet, ONet, cascade on the AS engine, tfjs-wasm, onnxruntime",
  flags: {
    loops: { type: "integer", default: 10, meta: "N", help: "timed runs per row" },
    warmup: { type: "integer", default: 3, meta: "N", help: "untimed runs per row first" },
    threads: {
      type: "integer",
      default: 1,
      meta: "1|2",
      help: "1: the main thread; 2: two Deno Workers each running the workload (throughput)",
    },
    weights: {
      type: "string",
      meta: "DIR",
      help: "the base variant's weights folder (default: the original weights)",
    },
    "weights-extra": {
      type: "list",
      meta: "NAME=DIR,..",
      help:
        "more variants (pruned, int8, ...): folders with pnet/rnet/onet.mtcnn (or best_*.mtcnn)",
      default: [],
    },
    engines: {
      type: "list",
      meta: "E,..",
      help: `engines to time (${BENCH_ENGINES.join(", ")})`,
      default: [...BENCH_ENGINES],
    },
    quick: {
      type: "boolean",
      default: false,
      help: "small inputs (160x120 image, RNet x16, ONet x8, short peak probe): a smoke test",
    },
    clock: {
      type: "string",
      choices: ["wall", "cpu"],
      default: "wall",
      help:
        "time a run by the wall clock, or by the process's CPU time (not inflated by other jobs; 1 thread only)",
    },
    json: { type: "string", meta: "FILE", help: "also write every row as JSON" },
  },
  async run({ flags }) {
    const loops = flags.loops as number, warmup = flags.warmup as number;
    const threads = flags.threads as number;
    if (loops < 1) throw new UsageError(`bench: --loops must be >= 1, got ${loops}`);
    if (warmup < 0) throw new UsageError(`bench: --warmup must be >= 0, got ${warmup}`);
    if (threads !== 1 && threads !== 2) {
      throw new UsageError(`bench: --threads must be 1 or 2, got ${threads}`);
    }
    const engines = flags.engines as string[];
    for (const e of engines) {
      if (!BENCH_ENGINES.includes(e as BenchEngine)) {
        throw new UsageError(
          `bench: --engines: "${e}" is not one of ${BENCH_ENGINES.join(", ")}`,
        );
      }
    }
    const quick = flags.quick as boolean;
    const clock = flags.clock as BenchClock;
    if (clock === "cpu" && threads !== 1) {
      throw new UsageError("bench: --clock cpu needs --threads 1 (CPU time is per process)");
    }
    const variants: BenchVariant[] = [{
      name: "base",
      dir: (flags.weights as string | undefined) ??
        (await ensureOriginalWeights()).pnet.replace(/\/[^/]*$/, ""),
    }];
    for (const spec of flags["weights-extra"] as string[]) {
      const m = /^([\w.-]+)=(.+)$/.exec(spec);
      if (!m) throw new UsageError(`bench: --weights-extra wants NAME=DIR, got "${spec}"`);
      if (variants.some((v) => v.name === m[1])) {
        throw new UsageError(`bench: --weights-extra: variant "${m[1]}" given twice`);
      }
      variants.push({ name: m[1], dir: m[2] });
    }
    for (const v of variants) {
      try {
        await resolveWeightPaths(v.dir);
      } catch (e) {
        throw new UsageError(`bench: variant "${v.name}": ${(e as Error).message}`);
      }
    }

    const { image, imageLabel } = await benchImage(quick);
    const init: BenchWorkloadInit = {
      variants,
      image,
      rnetBatch: quick ? 16 : 256,
      onetBatch: quick ? 8 : 64,
      engines: engines as BenchEngine[],
      clock,
    };

    // configuration
    console.log("deno task bench: MTCNN inference (benchncnn style)");
    console.log(`cpu:        ${cpuModel()}`);
    console.log(
      `runtime:    Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}`,
    );
    console.log(
      `wasm:       SIMD ${simdSupported() ? "yes" : "no"}, relaxed SIMD ${
        relaxedSimdSupported() ? "yes" : "no"
      }`,
    );
    console.log(
      `threads:    ${
        threads === 1
          ? "1 (main thread)"
          : "2 (two Deno Workers, one thread each, same rows at once)"
      }`,
    );
    console.log(
      `loops:      ${loops} timed after ${warmup} warm-up runs per row` +
        (variants.length > 1 ? `; the ${variants.length} variants of a row interleaved` : ""),
    );
    console.log(`load:       ${loadAverage()} (1, 5, 15 min; /proc/loadavg)`);
    console.log(
      `clock:      ${
        clock === "wall"
          ? "wall (performance.now)"
          : "CPU time of this process (user + system, process.cpuUsage)"
      }`,
    );
    console.log(`image:      ${imageLabel}`);
    console.log(`variants:   ${variants.map((v) => `${v.name} (${v.dir})`).join(", ")}`);
    const aps = new Map<string, Record<string, number>>();
    for (const v of variants) {
      const ap = await readAp(v.dir);
      if (ap) {
        aps.set(v.name, ap.ap);
        console.log(
          `accuracy:   ${v.name.padEnd(8)} WIDER AP ${
            Object.entries(ap.ap).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(", ")
          } (${ap.file})`,
        );
      }
    }
    const peakIters = quick ? 1e5 : 2e7;
    const peak = await measureSimdPeak(peakIters);
    const best = Math.max(peak.simd, peak.relaxed ?? 0);
    console.log(
      `SIMD peak:  ${peak.relaxed ? `relaxed_madd ${peak.relaxed.toFixed(1)} GFLOP/s, ` : ""}` +
        `mul+add ${peak.simd.toFixed(1)} GFLOP/s (fmaPeak kernel, 8 f32x4 accumulators, 1 thread)`,
    );

    // Cascade frames per second on the worker count the table does not use,
    // measured first: Workers started after onnxruntime-web loaded on the main
    // thread never answer.
    const cascadeEngines = CASCADE_ENGINES.filter((e) =>
      engines.includes(e) && (e !== "as-relaxed" || relaxedSimdSupported())
    );
    const fps: { variant: string; engine: BenchEngine; workers: number; fps: number }[] = [];
    if (cascadeEngines.length) {
      const other = threads === 1 ? 2 : 1;
      // workers: wall clock (the CPU time of the process would add up both)
      const sub: BenchWorkloadInit = {
        ...init,
        engines: cascadeEngines,
        clock: other === 2 ? "wall" : clock,
      };
      const keys = (list: BenchRowSpec[]) => list.filter((r) => r.model === "cascade");
      if (other === 2) {
        const pool = await createWorkerBench(2, sub);
        try {
          for (const group of groups(keys(pool.rows))) {
            const per = await timeInterleaved(
              group,
              warmup,
              loops,
              (key, w, n) => pool.time(key, w, n),
            );
            group.forEach((spec, i) => {
              const total = per[i].reduce((s, p) => s + 1000 * loops / p.wallMs, 0);
              fps.push({ variant: spec.variant, engine: spec.engine, workers: 2, fps: total });
            });
          }
        } finally {
          pool.close();
        }
      } else {
        const w = await createBenchWorkload(sub);
        for (const group of groups(keys(w.rows))) {
          const per = await timeInterleaved(group, warmup, loops, async (key, wu, n) => {
            const t0 = performance.now();
            const times = await w.time(key, wu, n);
            return [{ times, wallMs: performance.now() - t0 }];
          });
          group.forEach((spec, i) => {
            const times = per[i][0].times;
            fps.push({
              variant: spec.variant,
              engine: spec.engine,
              workers: 1,
              fps: 1000 / summarize(times).avg,
            });
          });
        }
      }
    }

    // the table
    interface Row extends BenchRowSpec {
      stats: BenchStats;
      gflops: number;
      peakShare: number;
      runsPerSecond: number;
      workers: number;
    }
    const rows: Row[] = [];
    const finish = (spec: BenchRowSpec, times: number[], runsPerSecond: number): Row => {
      const stats = summarize(times);
      // one thread: from the median run; two: from the throughput of both
      const gflops = !spec.flops
        ? 0
        : threads === 1
        ? spec.flops / (stats.median * 1e6)
        : spec.flops * runsPerSecond / 1e9;
      return {
        ...spec,
        stats,
        gflops,
        peakShare: gflops / (best * threads),
        runsPerSecond,
        workers: threads,
      };
    };
    let unavailable: Partial<Record<BenchEngine, string>>;
    let skipped: string[];
    // the base row of a row's model and engine, for the speed-up column
    const speedUp = (row: Row): number | undefined => {
      const base = rows.find((r) =>
        r.variant === variants[0].name && r.model === row.model && r.engine === row.engine
      );
      if (!base) return undefined;
      return threads === 1
        ? base.stats.median / row.stats.median
        : row.runsPerSecond / base.runsPerSecond;
    };
    const emit = (row: Row) => {
      rows.push(row);
      printRow(row, threads, variants.length > 1 ? speedUp(row) : undefined);
    };
    if (threads === 1) {
      const w = await createBenchWorkload(init);
      unavailable = w.unavailable;
      skipped = w.skipped;
      printUnavailable(unavailable, skipped);
      printHeader(threads, variants.length > 1);
      for (const group of groups(w.rows)) {
        const per = await timeInterleaved(group, warmup, loops, async (key, wu, n) => {
          const t0 = performance.now();
          const times = await w.time(key, wu, n);
          return [{ times, wallMs: performance.now() - t0 }];
        });
        group.forEach((spec, i) => {
          const times = per[i][0].times;
          emit(finish(spec, times, 1000 / summarize(times).avg));
        });
      }
    } else {
      const pool = await createWorkerBench(threads, init);
      unavailable = pool.unavailable;
      skipped = pool.skipped;
      printUnavailable(unavailable, skipped);
      printHeader(threads, variants.length > 1);
      try {
        for (const group of groups(pool.rows)) {
          const per = await timeInterleaved(
            group,
            warmup,
            loops,
            (key, wu, n) => pool.time(key, wu, n),
          );
          group.forEach((spec, i) => {
            const runsPerSecond = per[i].reduce((s, p) => s + 1000 * loops / p.wallMs, 0);
            emit(finish(spec, per[i].flatMap((p) => p.times), runsPerSecond));
          });
        }
      } finally {
        pool.close();
      }
    }

    for (const r of rows) {
      if (r.model !== "cascade") continue;
      fps.push({ variant: r.variant, engine: r.engine, workers: threads, fps: r.runsPerSecond });
    }
    if (cascadeEngines.length) {
      console.log("");
      console.log(
        `cascade frames/s on ${image.width}x${image.height} (1 worker | 2 workers${
          clock === "cpu" ? "; 1 worker by CPU time, 2 by the wall clock: not a ratio" : ""
        })` +
          (variants.length > 1
            ? `, speed-up over ${variants[0].name} on 1 worker, WIDER AP:`
            : ":"),
      );
      for (const e of cascadeEngines) {
        for (const v of variants) {
          const f = (name: string, n: number) =>
            fps.find((x) => x.variant === name && x.engine === e && x.workers === n)?.fps;
          const one = f(v.name, 1), two = f(v.name, 2), base = f(variants[0].name, 1);
          const ap = aps.get(v.name);
          console.log(
            `  ${v.name.padEnd(8)} ${e.padEnd(11)} ${fmt(one).padStart(7)} | ${
              fmt(two).padStart(7)
            }${one && two && clock === "wall" ? `  (x${(two / one).toFixed(2)})` : ""}` +
              (variants.length > 1 && one && base ? `  ${(one / base).toFixed(2)}x` : "") +
              (ap ? `  AP ${Object.values(ap).map((x) => x.toFixed(3)).join("/")}` : ""),
          );
        }
      }
    }

    if (flags.json) {
      await writeJsonAtomic(flags.json as string, {
        config: {
          cpu: cpuModel(),
          deno: Deno.version.deno,
          v8: Deno.version.v8,
          simd: simdSupported(),
          relaxedSimd: relaxedSimdSupported(),
          threads,
          loops,
          warmup,
          quick,
          image: imageLabel,
          variants,
          clock,
          loadAverage: loadAverage(),
        },
        peakGflops: peak,
        unavailable,
        skipped,
        ap: Object.fromEntries(aps),
        rows,
        cascadeFps: fps,
      });
    }
  },
};

function fmt(v?: number): string {
  return v === undefined ? "-" : v.toFixed(1);
}

function printUnavailable(unavailable: Partial<Record<BenchEngine, string>>, skipped: string[]) {
  for (const [e, why] of Object.entries(unavailable)) console.log(`${e}: not run: ${why}`);
  for (const line of skipped) console.log(line);
}

/** Rows that differ only in their variant, in table order (the rows come sorted that way). */
function groups(rows: BenchRowSpec[]): BenchRowSpec[][] {
  const out: BenchRowSpec[][] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (last && last[0].model === r.model && last[0].engine === r.engine) last.push(r);
    else out.push([r]);
  }
  return out;
}

type Timer = (
  key: string,
  warmup: number,
  loops: number,
) => Promise<{ times: number[]; wallMs: number }[]>;

/**
 * Times the rows of a group interleaved: every row's warm-up, then `loops`
 * rounds of one run of each row in turn, so a change in the machine's load
 * hits every variant alike. Per row, per worker: the times and the wall time.
 */
async function timeInterleaved(
  group: BenchRowSpec[],
  warmup: number,
  loops: number,
  time: Timer,
): Promise<{ times: number[]; wallMs: number }[][]> {
  for (const r of group) await time(r.key, warmup, 0);
  const per = group.map(() => [] as { times: number[]; wallMs: number }[]);
  for (let i = 0; i < loops; i++) {
    for (const [g, r] of group.entries()) {
      const res = await time(r.key, 0, 1);
      res.forEach((x, w) => {
        per[g][w] ??= { times: [], wallMs: 0 };
        per[g][w].times.push(...x.times);
        per[g][w].wallMs += x.wallMs;
      });
    }
  }
  return per;
}

function printHeader(threads: number, ratio: boolean) {
  console.log("");
  console.log(
    `${"model".padEnd(8)} ${"shape".padEnd(10)} ${"engine".padEnd(11)} ${"variant".padEnd(8)} ` +
      `${"prec".padEnd(5)} ` +
      `${"min".padStart(8)} ${"max".padStart(8)} ${"avg".padStart(8)} ${"median".padStart(8)} ` +
      `${"GFLOP/s".padStart(8)} ${"%peak".padStart(6)}` +
      (threads > 1 ? ` ${"runs/s".padStart(8)}` : ` ${"fps".padStart(7)}`) +
      (ratio ? ` ${"speed-up".padStart(8)}` : ""),
  );
}

function printRow(
  r: BenchRowSpec & { stats: BenchStats; gflops: number; peakShare: number; runsPerSecond: number },
  threads: number,
  ratio?: number,
) {
  const f = (v: number) => v.toFixed(2).padStart(8);
  console.log(
    `${r.model.padEnd(8)} ${r.shape.padEnd(10)} ${r.engine.padEnd(11)} ${r.variant.padEnd(8)} ` +
      `${r.precision.padEnd(5)} ` +
      `${f(r.stats.min)} ${f(r.stats.max)} ${f(r.stats.avg)} ${f(r.stats.median)} ` +
      `${(r.flops ? r.gflops.toFixed(1) : "-").padStart(8)} ${
        (r.flops ? `${(100 * r.peakShare).toFixed(0)}%` : "-").padStart(6)
      }` +
      (threads > 1
        ? ` ${r.runsPerSecond.toFixed(1).padStart(8)}`
        : ` ${(1000 / r.stats.median).toFixed(1).padStart(7)}`) +
      (ratio !== undefined ? ` ${`${ratio.toFixed(2)}x`.padStart(8)}` : ""),
  );
}

/** The machine's load averages (other jobs share it), or "unknown". */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/**
 * The WIDER AP a weights folder ships (`wider_ap*.json`, as eval:wider
 * writes it), if any: AP per setting and the file's name.
 */
async function readAp(
  dir: string,
): Promise<{ ap: Record<string, number>; file: string } | undefined> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !/^wider_ap.*\.json$/.test(e.name)) continue;
      const j = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`));
      if (j && typeof j.ap === "object") return { ap: j.ap, file: `${dir}/${e.name}` };
    }
  } catch {
    // no folder listing: no AP to show
  }
  return undefined;
}

/** The CPU's model name from /proc/cpuinfo, with the logical CPU count. */
function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const name = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? "unknown CPU";
    return `${name} (${navigator.hardwareConcurrency} logical CPUs)`;
  } catch {
    return `unknown (${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs)`;
  }
}

/** The bench's photo: a ../shared/faces picture stretched to 640×480, else a synthetic one. */
async function benchImage(quick: boolean): Promise<{ image: RgbImage; imageLabel: string }> {
  const [W, H] = quick ? [160, 120] : [640, 480];
  const shared = new URL("../../shared/faces/2007_007763.jpg", import.meta.url).pathname;
  try {
    const img = await readImage(shared);
    return {
      image: {
        width: W,
        height: H,
        data: resizeBilinearU8(img.data, img.width, img.height, 3, W, H),
      },
      imageLabel: `${shared} stretched to ${W}x${H}`,
    };
  } catch {
    return {
      image: renderSyntheticImage(1, "val", 0, { width: W, height: H }).image,
      imageLabel: `synthetic (renderSyntheticImage seed 1, val 0) ${W}x${H}`,
    };
  }
}

export default task;
