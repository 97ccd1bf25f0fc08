/**
 * One entry point for every export format: the files a format produces for a
 * net, written atomically (weights before the file that names them), and the
 * weights-file loader that tells the exporters which tensors are int8.
 *
 * | format | files |
 * | --- | --- |
 * | tflite | `<net>.tflite` |
 * | onnx | `<net>.onnx` |
 * | ncnn | `<net>.param`, `<net>.bin` |
 * | tfjs | `<net>/model.json`, `<net>/weights.bin` |
 *
 * @example
 * ```ts
 * const src = await loadExportSource("weights/original/pnet.mtcnn");
 * const written = await writeExport(src.data, "ncnn", "out/export/ncnn/", { quantized: src.quantized });
 * // ["out/export/ncnn/pnet.bin", "out/export/ncnn/pnet.param"]
 * ```
 */
import type { NetData } from "../nets/net.ts";
import { decodeWeights, decodeWeightsHeader } from "../nets/weights_io.ts";
import { readFileChecked, writeFileAtomic } from "../io/mod.ts";
import { type ExportFormat, type ExportOptions, quantizedTensors } from "./export_common.ts";
import { exportTflite } from "./export_tflite.ts";
import type { TfliteInt8Options } from "./export_tflite_int8.ts";
import { exportOnnx } from "./export_onnx.ts";
import { exportNcnn } from "./export_ncnn.ts";
import { exportTfjs, TFJS_WEIGHTS_FILE } from "./export_tfjs.ts";

/** The export formats, in the order `--help` lists them. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["tflite", "onnx", "ncnn", "tfjs"];

/** One output file: its path relative to the output folder, and its bytes. */
export interface ExportFile {
  name: string;
  bytes: Uint8Array;
}

/** Options of {@linkcode exportFiles}: the common ones plus TFLite's stored input shape and int8 calibration. */
export type AnyExportOptions = ExportOptions & TfliteInt8Options;

/**
 * The files `format` produces for `data`, named after `base` (default the
 * net's name), weights first. Throws the exporter's one-line TypeError for
 * what the format cannot express.
 *
 * @example
 * ```ts
 * exportFiles(onet, "ncnn").map((f) => f.name); // ["onet.bin", "onet.param"]
 * ```
 */
export function exportFiles(
  data: NetData,
  format: ExportFormat,
  opts: AnyExportOptions = {},
  base = data.arch.name,
): ExportFile[] {
  const enc = new TextEncoder();
  switch (format) {
    case "tflite":
      return [{ name: `${base}.tflite`, bytes: exportTflite(data, opts) }];
    case "onnx":
      return [{ name: `${base}.onnx`, bytes: exportOnnx(data, opts) }];
    case "ncnn": {
      const m = exportNcnn(data, opts);
      return [
        { name: `${base}.bin`, bytes: m.bin },
        { name: `${base}.param`, bytes: enc.encode(m.param) },
      ];
    }
    case "tfjs": {
      const m = exportTfjs(data, opts);
      return [
        { name: `${base}/${TFJS_WEIGHTS_FILE}`, bytes: m.weights },
        { name: `${base}/model.json`, bytes: enc.encode(JSON.stringify(m.modelJson) + "\n") },
      ];
    }
    default:
      throw new TypeError(
        `Cannot export: unknown format "${format}" (want ${EXPORT_FORMATS.join(", ")})`,
      );
  }
}

/** File extension of a format's main file (`.param` for ncnn, none for tfjs folders). */
export function exportExtension(format: ExportFormat): string {
  return format === "ncnn" ? ".param" : format === "tfjs" ? "" : `.${format}`;
}

/**
 * Writes the export of `data` under `out` and returns the paths written.
 * `out` is a folder (ending in `/`, or anything without the format's
 * extension) or, for one net, the main file's path (`x.tflite`, `x.onnx`,
 * `x.param` — its `.bin` goes beside it). Every file is written atomically,
 * weights before the file that refers to them.
 */
export async function writeExport(
  data: NetData,
  format: ExportFormat,
  out: string,
  opts: AnyExportOptions = {},
): Promise<string[]> {
  const ext = exportExtension(format);
  let dir: string;
  let base: string;
  if (ext && out.endsWith(ext)) {
    const slash = out.lastIndexOf("/");
    dir = slash >= 0 ? out.slice(0, slash + 1) : "";
    base = out.slice(slash + 1, out.length - ext.length);
  } else {
    dir = out.replace(/\/*$/, "/");
    base = data.arch.name;
  }
  const files = exportFiles(data, format, opts, base);
  const written: string[] = [];
  for (const f of files) {
    const path = `${dir}${f.name}`;
    await writeFileAtomic(path, f.bytes);
    written.push(path);
  }
  return written;
}

/**
 * Reads a `.mtcnn` weights file for export: the net (float32 arrays, plus
 * `quant` for an int8 file) and the names of the tensors the file stores as
 * int8. TFLite (fully int8) and ONNX (QDQ) write such a net as an int8
 * model; ncnn and tfjs refuse it unless the export sets `float`.
 */
export async function loadExportSource(
  path: string,
): Promise<{ data: NetData; quantized: string[] }> {
  const bytes = await readFileChecked(path);
  const { header } = decodeWeightsHeader(bytes, path);
  return { data: decodeWeights(bytes, path), quantized: quantizedTensors(header) };
}
