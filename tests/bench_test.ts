/**
 * `deno task bench` end to end on small inputs (--quick): it runs, prints
 * the configuration and the table, and writes JSON with a row per model and
 * engine, the SIMD peak and the cascade's frames per second on 1 and 2 workers.
 */
import { BENCH_ENGINES, BENCH_MODELS, summarize } from "../src/deploy/bench.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";

Deno.test("summarize() gives min, max, mean and the median of odd and even counts", () => {
  assertEquals(summarize([3, 1, 2]), { min: 1, max: 3, avg: 2, median: 2 });
  assertEquals(summarize([4, 1, 2, 3]), { min: 1, max: 4, avg: 2.5, median: 2.5 });
  assertThrows(() => summarize([]), RangeError, "no times");
});

Deno.test("deno task bench --quick --loops 1 --warmup 0 --json writes every row of every engine", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const json = `${dir}/bench.json`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "bench",
        "--quick",
        "--loops",
        "1",
        "--warmup",
        "0",
        "--json",
        json,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, `bench failed: ${new TextDecoder().decode(out.stderr)}`);
    for (
      const line of ["cpu:", "runtime:", "wasm:", "threads:", "loops:", "SIMD peak:", "median"]
    ) {
      assert(text.includes(line), `no "${line}" in the output`);
    }
    const r = JSON.parse(await Deno.readTextFile(json));
    assert(r.peakGflops.simd > 0, "no SIMD peak");
    const ran = BENCH_ENGINES.filter((e) =>
      !(e in r.unavailable) && (e !== "as-relaxed" || r.config.relaxedSimd)
    );
    for (const e of ["as-simd", "tfjs-wasm", "ort-web"]) {
      assert(ran.includes(e as never), `${e} did not run`);
    }
    for (const model of BENCH_MODELS) {
      for (const engine of ran) {
        if (model === "cascade" && engine.startsWith("ort")) continue;
        const row = r.rows.find((x: { model: string; engine: string; variant: string }) =>
          x.model === model && x.engine === engine && x.variant === "base"
        );
        assert(row, `no row ${model} / ${engine}`);
        const s = row.stats;
        assert(
          s.min > 0 && s.min <= s.median && s.median <= s.max,
          `${model}/${engine}: ${JSON.stringify(s)}`,
        );
        if (model !== "cascade") {
          assert(row.flops > 0 && row.gflops > 0, `${model}/${engine}: no GFLOP/s`);
        }
      }
    }
    for (const workers of [1, 2]) {
      assert(
        r.cascadeFps.some((f: { workers: number; fps: number }) =>
          f.workers === workers && f.fps > 0
        ),
        `no cascade frames/s on ${workers} worker(s)`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
