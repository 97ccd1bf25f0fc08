/**
 * `deno task export`: a net's weights as a model for a mobile or browser runtime.
 *
 *   deno task export --format tflite                       # weights/original/{pnet,rnet,onet}.mtcnn
 *   deno task export --format onnx --weights w/pnet.mtcnn --out pnet.onnx
 *   deno task export --format ncnn --net onet --out out/ncnn/
 *   deno task export --format tfjs --weights weights/mine/  # every net in the folder
 *   deno task export --format tflite --weights w/pnet.int8.mtcnn  # int8 file: a fully int8 TFLite model
 *   deno task export --format onnx --weights w/pnet.int8.mtcnn    # int8 file: an ONNX QDQ model
 *   deno task export --format tflite --weights w/rnet.int8.mtcnn --calib data/demo/rnet24/val
 *   deno task export --format ncnn --weights w/pnet.int8.mtcnn --float  # its dequantised weights, float
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { type ExportFormat } from "../src/deploy/export_common.ts";
import {
  EXPORT_FORMATS,
  exportExtension,
  loadExportSource,
  writeExport,
} from "../src/deploy/export.ts";
import { archSummary } from "../src/nets/arch.ts";
import { NET_NAMES, ORIGINAL_WEIGHTS_DIR } from "../src/nets/original.ts";
import { exists } from "../src/io/mod.ts";
import { readSamples } from "../src/optimize/quantize.ts";
import type { Int8Calibration } from "../src/deploy/export_tflite_int8.ts";

const task: Task = {
  name: "export",
  description: "Export nets to TFLite, ONNX, ncnn (.param/.bin) or a tfjs graph model",
  flags: {
    format: {
      type: "string",
      choices: EXPORT_FORMATS,
      required: true,
      help: "target format",
    },
    weights: {
      type: "string",
      meta: "PATH",
      help: "a .mtcnn file, or a folder of pnet/rnet/onet.mtcnn",
      default: "weights/original",
    },
    net: {
      type: "string",
      choices: NET_NAMES,
      help: "with a weights folder: export only this net",
    },
    out: {
      type: "string",
      meta: "FILE|DIR",
      help:
        "output folder (default out/export/<format>/), or the output file for one net (x.tflite, x.onnx, x.param)",
    },
    input: {
      type: "string",
      choices: ["pixels", "normalized"],
      default: "pixels",
      help:
        "pixels: model takes RGB 0..255 (normalisation folded into conv1); normalized: model takes (x - mean) * scale in the net's channel order",
    },
    float: {
      type: "boolean",
      help:
        "int8 weights file: export its dequantised weights as a float model (tflite and onnx write int8 otherwise; ncnn and tfjs need this)",
    },
    calib: {
      type: "list",
      meta: "DIR",
      help:
        "TFLite int8: shard dataset(s) to measure the conv outputs that feed a PReLU (else bounded from the PReLU's range; less accurate)",
    },
    "calib-samples": { type: "integer", default: 256, help: "TFLite int8: calibration samples" },
    batch: { type: "integer", help: "TFLite: stored batch size (the signature leaves it free)" },
    height: { type: "integer", help: "TFLite: stored input height of a fully convolutional net" },
    width: { type: "integer", help: "TFLite: stored input width of a fully convolutional net" },
  },
  async run({ flags }) {
    const format = flags.format as ExportFormat;
    for (const f of ["batch", "height", "width"]) {
      if (flags[f] !== undefined && format !== "tflite") {
        throw new UsageError(
          `export: --${f} sets the stored TFLite input shape; it needs --format tflite`,
        );
      }
      if (flags[f] !== undefined && (flags[f] as number) < 1) {
        throw new UsageError(`export: --${f} must be at least 1, got ${flags[f]}`);
      }
    }
    const calibDirs = flags.calib as string[] | undefined;
    if (calibDirs && (format !== "tflite" || flags.float)) {
      throw new UsageError(
        "export: --calib measures ranges for an int8 TFLite model; it needs --format tflite without --float",
      );
    }
    const calibSamples = (flags["calib-samples"] as number | undefined) ?? 256;
    if (calibSamples < 1) {
      throw new UsageError(`export: --calib-samples must be at least 1, got ${calibSamples}`);
    }
    const weights = flags.weights as string;
    const net = flags.net as string | undefined;
    let sources: string[];
    if (weights.endsWith(".mtcnn")) {
      if (net) throw new UsageError("export: --net goes with a weights folder, not a .mtcnn file");
      sources = [weights];
    } else {
      const dir = (weights === "weights/original" ? ORIGINAL_WEIGHTS_DIR : weights).replace(
        /\/*$/,
        "/",
      );
      const names = net ? [net] : NET_NAMES;
      sources = [];
      for (const n of names) if (await exists(`${dir}${n}.mtcnn`)) sources.push(`${dir}${n}.mtcnn`);
      if (!sources.length) {
        throw new UsageError(
          `export: no ${names.map((n) => `${n}.mtcnn`).join(", ")} in "${dir}"${
            weights === "weights/original" ? " (run deno task import --tflite first)" : ""
          }`,
        );
      }
    }
    const out = (flags.out as string | undefined) ?? `out/export/${format}/`;
    const ext = exportExtension(format);
    if (sources.length > 1 && ext && out.endsWith(ext)) {
      throw new UsageError(
        `export: --out "${out}" names one file but ${sources.length} nets are exported; give a folder`,
      );
    }
    for (const src of sources) {
      const { data, quantized } = await loadExportSource(src);
      let calibration: Int8Calibration | undefined;
      if (calibDirs) {
        if (!data.quant) {
          throw new UsageError(`export: --calib needs an int8 weights file; "${src}" is float32`);
        }
        const b = await readSamples(calibDirs, calibSamples, 1);
        if (b.size !== data.arch.input.size) {
          throw new UsageError(
            `export: --calib samples are ${b.size} px, ${data.arch.name} in "${src}" wants ${data.arch.input.size} px`,
          );
        }
        calibration = { pixels: b.pixels, count: b.count, size: b.size };
      }
      const written = await writeExport(data, format, out, {
        file: src,
        quantized,
        float: flags.float as boolean | undefined,
        calibration,
        input: flags.input as "pixels" | "normalized",
        batch: flags.batch as number | undefined,
        height: flags.height as number | undefined,
        width: flags.width as number | undefined,
      });
      const sizes = await Promise.all(written.map(async (p) => (await Deno.stat(p)).size));
      const kind = !quantized.length
        ? ""
        : flags.float || (format !== "tflite" && format !== "onnx")
        ? " (int8 file, dequantised: float32)"
        : ` int8${calibration ? ` (PReLU inputs calibrated on ${calibration.count} samples)` : ""}`;
      console.log(`${src} → ${format}${kind}: ${data.arch.name} ${archSummary(data.arch)}`);
      written.forEach((p, i) => console.log(`  ${p} (${sizes[i]} bytes)`));
    }
  },
};

export default task;
