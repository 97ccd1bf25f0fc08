/**
 * `deno task bench` end to end on small inputs (--quick): it runs, prints
 * the configuration and the table, and writes JSON with a row per model and
 * engine, the SIMD peak and the cascade's frames per second on 1 and 2 workers.
 */
import { BENCH_ENGINES, BENCH_MODELS, summarize } from "../src/deploy/bench.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { onetArch, pnetArch, rnetArch } from "../src/nets/arch.ts";
import { randomNetData } from "../src/nets/net.ts";
import { saveNet } from "../src/nets/weights_io.ts";
import { quantizeNet } from "../src/optimize/mod.ts";
import { Rng } from "../src/util/random.ts";

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

Deno.test("deno task bench with an int8 variant in a training-run folder: rows side by side with the speed-up, int8 on the AS engine only, AP from the folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // a pruned-looking int8 cascade saved as a training run saves it (best_<net>.mtcnn)
    const rng = new Rng(5);
    const archs = {
      pnet: pnetArch({ channels: [8, 8, 12] }),
      rnet: rnetArch({ channels: [12, 20, 24], dense: 64 }),
      onet: onetArch(),
    };
    for (const [net, arch] of Object.entries(archs)) {
      const s = arch.input.size;
      const px = Uint8Array.from({ length: s * s * 3 * 8 }, () => rng.nextUint32() & 255);
      const q = quantizeNet(randomNetData(arch, 7), { pixels: px, count: 8, size: s }, {
        bits: 7,
      });
      await saveNet(`${dir}/int8/best_${net}.mtcnn`, q);
    }
    await Deno.writeTextFile(
      `${dir}/int8/wider_ap_test.json`,
      JSON.stringify({ ap: { easy: 0.5, medium: 0.25, hard: 0.125 } }),
    );
    const json = `${dir}/bench.json`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "bench",
        "--quick",
        "--loops",
        "2",
        "--warmup",
        "0",
        "--engines",
        "as-simd,tfjs-wasm",
        "--clock",
        "cpu",
        "--weights-extra",
        `int8=${dir}/int8`,
        "--json",
        json,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, `bench failed: ${new TextDecoder().decode(out.stderr)}`);
    assert(text.includes("speed-up"), "no speed-up column");
    assert(
      text.includes("easy 0.5000, medium 0.2500, hard 0.1250"),
      "the folder's AP is not shown",
    );
    const r = JSON.parse(await Deno.readTextFile(json));
    assertEquals(r.config.clock, "cpu");
    assert(
      r.skipped.some((l: string) => l.startsWith("int8:") && l.includes("tfjs-wasm")),
      `int8 rows on tfjs-wasm not reported as skipped: ${JSON.stringify(r.skipped)}`,
    );
    type Row = { model: string; engine: string; variant: string; precision: string };
    const rows = r.rows as Row[];
    for (const model of BENCH_MODELS) {
      const int8 = rows.find((x) => x.model === model && x.variant === "int8");
      assert(int8 && int8.engine === "as-simd", `no int8 ${model} row on as-simd`);
      assertEquals(int8.precision, "int8", model);
      assert(!rows.some((x) => x.variant === "int8" && x.engine === "tfjs-wasm"), "int8 on tfjs");
      // side by side: the base row of the same model and engine comes right before
      const i = rows.indexOf(int8);
      assertEquals([rows[i - 1].variant, rows[i - 1].model], ["base", model]);
      assertEquals(rows[i - 1].precision, "fp32");
    }
    assertEquals(r.ap.int8, { easy: 0.5, medium: 0.25, hard: 0.125 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task bench refuses a variant folder without nets and --clock cpu on two threads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "bench", "--quick", ...args],
        cwd: new URL("..", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { ok: out.success, err: new TextDecoder().decode(out.stderr) };
    };
    const a = await run("--weights-extra", `empty=${dir}`);
    assert(!a.ok && a.err.includes(`variant "empty"`) && a.err.includes("pnet"), a.err);
    const b = await run("--threads", "2", "--clock", "cpu");
    assert(!b.ok && b.err.includes("--clock cpu needs --threads 1"), b.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
