/**
 * `deno task quantize`: int8 post-training quantisation of a net's weights
 * file, with activation ranges from calibration samples (shard datasets), and
 * the seed's accuracy table (cls loss, offset loss, cls acc) fp32 vs int8 on
 * validation samples (fake-quantised float simulation of the int8 engine).
 *
 *   deno task quantize --weights weights/original/pnet.mtcnn --calib /tmp/p12 --val /tmp/p12val
 *   deno task quantize --weights w/rnet.mtcnn --calib /tmp/p24 --method percentile --out w/rnet.int8.mtcnn
 *   deno task quantize --weights w/onet.mtcnn --calib /tmp/p48 --bits 7   # 7-bit activations: i8 dot kernels
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { loadNetData, saveNet } from "../src/nets/weights_io.ts";
import { encodeWeights } from "../src/nets/weights_io.ts";
import { type CalibrateOptions, ptq, readSamples, weightBytes } from "../src/optimize/mod.ts";

const task: Task = {
  name: "quantize",
  description: "Int8 post-training quantisation of a .mtcnn net (calibration on shard datasets)",
  flags: {
    weights: { type: "string", meta: "FILE", required: true, help: "fp32 .mtcnn file" },
    calib: { type: "list", meta: "DIR", required: true, help: "calibration shard dataset(s)" },
    val: {
      type: "list",
      meta: "DIR",
      help:
        "validation shard dataset(s) for the accuracy table and the method choice [default: --calib]",
    },
    out: {
      type: "string",
      meta: "FILE",
      help: "output [default: <weights without .mtcnn>.int8.mtcnn]",
    },
    samples: { type: "integer", default: 2048, help: "calibration samples" },
    "val-samples": { type: "integer", default: 2000, help: "validation samples" },
    method: {
      type: "string",
      choices: ["minmax", "percentile", "best"],
      default: "minmax",
      help:
        "activation ranges: observed min/max (best detection AP in our measurements), percentiles, or whichever has the lower validation loss on the crops",
    },
    percentile: { type: "number", default: 99.99, help: "percentile kept by --method percentile" },
    bits: {
      type: "integer",
      default: 8,
      help: "activation codes: 8, or 7 for the int8 engine's faster i8-dot kernels (relaxed SIMD)",
    },
    seed: { type: "integer", default: 1, help: "sample shuffle seed" },
  },
  async run({ flags }) {
    const weights = flags.weights as string;
    if (!weights.endsWith(".mtcnn")) {
      throw new UsageError(`quantize: --weights "${weights}" is not a .mtcnn file`);
    }
    const out = (flags.out as string | undefined) ?? weights.replace(/\.mtcnn$/, ".int8.mtcnn");
    const samples = flags.samples as number;
    const valSamples = flags["val-samples"] as number;
    if (samples < 1 || valSamples < 1) {
      throw new UsageError("quantize: --samples and --val-samples must be at least 1");
    }
    const pct = flags.percentile as number;
    if (!(pct > 50 && pct <= 100)) {
      throw new UsageError(`quantize: --percentile must be in (50, 100], got ${pct}`);
    }
    const data = await loadNetData(weights);
    if (data.quant) throw new UsageError(`quantize: "${weights}" is already int8`);
    const calibDirs = flags.calib as string[];
    const valDirs = (flags.val as string[] | undefined) ?? calibDirs;
    const seed = flags.seed as number;
    const calib = await readSamples(calibDirs, samples, seed);
    const val = await readSamples(valDirs, valSamples, seed + 1);
    const bits = flags.bits as number;
    if (bits !== 7 && bits !== 8) {
      throw new UsageError(`quantize: --bits must be 7 or 8, got ${bits}`);
    }
    const m = flags.method as string;
    const methods: CalibrateOptions[] = [];
    if (m !== "percentile") methods.push({ method: "minmax", bits });
    if (m !== "minmax") methods.push({ method: "percentile", percentile: pct, bits });
    const t0 = performance.now();
    const r = ptq(data, calib, val, methods);
    await saveNet(out, r.net);
    const fpBytes = encodeWeights(data).length;
    const qBytes = encodeWeights(r.net).length;
    console.log(
      `${data.arch.name}: calibrated on ${calib.count} samples, validated on ${val.count} (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s); wrote ${out} (${r.net.quant!.method}, ${bits}-bit activations)`,
    );
    console.log(
      `file ${fpBytes} -> ${qBytes} bytes (${(fpBytes / qBytes).toFixed(2)}x); weights ${
        weightBytes(data)
      } -> ${weightBytes(r.net)} bytes (${(weightBytes(data) / weightBytes(r.net)).toFixed(2)}x)`,
    );
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "-");
    const rows = [
      { method: "fp32", metrics: r.fp32 },
      ...r.candidates.map((c) => ({ ...c, method: `int8 ${c.method}` })),
    ];
    console.log(`| ${data.arch.name} | ${rows.map((x) => x.method).join(" | ")} |`);
    console.log(`| --- | ${rows.map(() => "---").join(" | ")} |`);
    console.log(`| cls loss | ${rows.map((x) => f(x.metrics.clsLoss)).join(" | ")} |`);
    console.log(`| offset loss | ${rows.map((x) => f(x.metrics.offsetLoss)).join(" | ")} |`);
    console.log(`| cls acc | ${rows.map((x) => f(x.metrics.clsAcc)).join(" | ")} |`);
  },
};

export default task;
