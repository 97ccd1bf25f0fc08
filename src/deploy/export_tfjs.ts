/**
 * Exports a net as a TensorFlow.js graph model for browsers: `model.json`
 * (format "graph-model": a GraphDef in JSON plus the weights manifest) and
 * one weights file, loadable by `tf.loadGraphModel` (@tensorflow/tfjs-converter).
 *
 * A graph model rather than a layers model: Caffe's ceil pooling is exact
 * with TF ops (MaxPool VALID / SAME or PadV2 by −FLT_MAX, as in the TFLite
 * export), which Keras layers cannot express without zero padding.
 *
 * Graph (NHWC): Placeholder `input` [-1, H, W, 3] (H, W -1 for fully
 * convolutional nets), Conv2D / DepthwiseConv2dNative (HWIO, VALID) + BiasAdd,
 * Prelu, Relu, MaxPool, Reshape [-1, features], MatMul + BiasAdd, then the
 * heads and Softmax; the outputs are Identity nodes `prob`, `box`,
 * `landmarks`. Normalisation folded into conv1 (see export_common.ts): the
 * model takes RGB 0..255.
 *
 * @example
 * ```ts
 * const { modelJson, weights } = exportTfjs(await loadNetData("weights/original/rnet.mtcnn"));
 * await writeJsonAtomic("rnet/model.json", modelJson);
 * await writeFileAtomic(`rnet/${TFJS_WEIGHTS_FILE}`, weights);
 * ```
 */
import { HEAD_UNITS, planArch } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import {
  exportedInput,
  type ExportOptions,
  isFullyConvolutional,
  poolPlan,
  prepareExport,
} from "./export_common.ts";

/** Name of the weights file next to model.json. */
export const TFJS_WEIGHTS_FILE = "weights.bin";

/** A node of the GraphDef, as tfjs-converter reads it from JSON. */
export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

/** The model.json of a tfjs graph model. */
export interface TfjsModelJson {
  format: "graph-model";
  generatedBy: string;
  convertedBy: string;
  modelTopology: {
    node: TfjsNode[];
    library: Record<string, never>;
    versions: { producer: number };
  };
  weightsManifest: {
    paths: string[];
    weights: { name: string; shape: number[]; dtype: "float32" | "int32" }[];
  }[];
  userDefinedMetadata?: Record<string, unknown>;
}

const b64 = (s: string) => btoa(s);
const dim = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const FLOAT = { type: "DT_FLOAT" };

/**
 * Exports `data` as a tfjs graph model (model.json object and weights bytes).
 * Throws a one-line TypeError for what the export cannot express (see
 * {@linkcode prepareExport}).
 */
export function exportTfjs(
  source: NetData,
  opts: ExportOptions = {},
): { modelJson: TfjsModelJson; weights: Uint8Array } {
  const data = prepareExport(source, "tfjs", opts);
  const { arch, params } = data;
  const spatialNet = isFullyConvolutional(arch);
  const plan = planArch(arch);
  const nodes: TfjsNode[] = [];
  const specs: TfjsModelJson["weightsManifest"][number]["weights"] = [];
  const chunks: Uint8Array[] = [];
  const constant = (name: string, shape: number[], values: ArrayLike<number>, int = false) => {
    const dtype = int ? "DT_INT32" : "DT_FLOAT";
    nodes.push({
      name,
      op: "Const",
      attr: { value: { tensor: { dtype, tensorShape: dim(shape) } }, dtype: { type: dtype } },
    });
    specs.push({ name, shape, dtype: int ? "int32" : "float32" });
    chunks.push(
      new Uint8Array((int ? Int32Array.from(values) : Float32Array.from(values)).buffer),
    );
    return name;
  };
  const S = arch.input.size;
  const C = arch.input.channels;
  nodes.push({
    name: "input",
    op: "Placeholder",
    attr: {
      dtype: FLOAT,
      shape: { shape: dim([-1, spatialNet ? -1 : S, spatialNet ? -1 : S, C]) },
    },
  });
  let cur = "input";
  let hwc: number[] = [S, S, C];
  let flat = false;
  const op = (name: string, kind: string, inputs: string[], attr: Record<string, unknown> = {}) => {
    nodes.push({ name, op: kind, input: inputs, attr: { T: FLOAT, ...attr } });
    cur = name;
    return name;
  };
  const biasAdd = (name: string, bias: Float32Array) =>
    op(`${name}/BiasAdd`, "BiasAdd", [cur, constant(`${name}/bias`, [bias.length], bias)], {
      data_format: { s: b64("NHWC") },
    });
  arch.layers.forEach((l, i) => {
    switch (l.kind) {
      case "conv":
      case "depthwise": {
        const inC = hwc[2];
        const outC = l.kind === "conv" ? l.filters : inC;
        const w = constant(
          `${l.name}/weight`,
          [l.kh, l.kw, inC, l.kind === "conv" ? outC : 1],
          params[`${l.name}.weight`],
        );
        op(
          `${l.name}/${l.kind === "conv" ? "Conv2D" : "depthwise"}`,
          l.kind === "conv" ? "Conv2D" : "DepthwiseConv2dNative",
          [cur, w],
          {
            strides: ints([1, l.stride, l.stride, 1]),
            padding: { s: b64("VALID") },
            data_format: { s: b64("NHWC") },
            dilations: ints([1, 1, 1, 1]),
          },
        );
        biasAdd(l.name, params[`${l.name}.bias`]);
        hwc = plan.shapes[i];
        break;
      }
      case "prelu": {
        const a = params[`${l.name}.alpha`];
        op(l.name, "Prelu", [cur, constant(`${l.name}/alpha`, [a.length], a)]);
        break;
      }
      case "relu":
        op(`relu${i}`, "Relu", [cur]);
        break;
      case "maxpool": {
        const p = poolPlan(l, spatialNet ? "any" : [hwc[0], hwc[1]]);
        if (p.padEnd > 0) {
          const pads = constant(
            `pool${i}/paddings`,
            [4, 2],
            [0, 0, 0, p.padEnd, 0, p.padEnd, 0, 0],
            true,
          );
          const lowest = constant(`pool${i}/lowest`, [], [-3.4028234663852886e38]);
          op(`pool${i}/pad`, "PadV2", [cur, pads, lowest], { Tpaddings: { type: "DT_INT32" } });
        }
        op(`pool${i}`, "MaxPool", [cur], {
          ksize: ints([1, l.size, l.size, 1]),
          strides: ints([1, l.stride, l.stride, 1]),
          padding: { s: b64(p.padding) },
          data_format: { s: b64("NHWC") },
        });
        hwc = plan.shapes[i];
        break;
      }
      case "flatten": {
        const n = hwc[0] * hwc[1] * hwc[2];
        op(`flatten${i}`, "Reshape", [cur, constant(`flatten${i}/shape`, [2], [-1, n], true)], {
          Tshape: { type: "DT_INT32" },
        });
        flat = true;
        break;
      }
      case "dense": {
        const w = params[`${l.name}.weight`];
        const inN = w.length / l.units;
        op(`${l.name}/MatMul`, "MatMul", [cur, constant(`${l.name}/weight`, [inN, l.units], w)], {
          transpose_a: { b: false },
          transpose_b: { b: false },
        });
        biasAdd(l.name, params[`${l.name}.bias`]);
        break;
      }
    }
  });
  const trunk = cur;
  const outs: string[] = [];
  for (const h of plan.heads) {
    const units = HEAD_UNITS[h.kind];
    const w = params[`${h.name}.weight`];
    cur = trunk;
    if (!flat) {
      op(`${h.name}/Conv2D`, "Conv2D", [
        cur,
        constant(`${h.name}/weight`, [1, 1, hwc[2], units], w),
      ], {
        strides: ints([1, 1, 1, 1]),
        padding: { s: b64("VALID") },
        data_format: { s: b64("NHWC") },
        dilations: ints([1, 1, 1, 1]),
      });
    } else {
      const inN = w.length / units;
      op(`${h.name}/MatMul`, "MatMul", [cur, constant(`${h.name}/weight`, [inN, units], w)], {
        transpose_a: { b: false },
        transpose_b: { b: false },
      });
    }
    biasAdd(h.name, params[`${h.name}.bias`]);
    if (h.kind === "cls") op("cls/Softmax", "Softmax", [cur]);
    outs.push(cur);
  }
  plan.heads.forEach((h, k) => {
    nodes.push({
      name: h.kind === "cls" ? "prob" : h.kind,
      op: "Identity",
      input: [outs[k]],
      attr: { T: FLOAT },
    });
  });
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const weights = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    weights.set(c, o);
    o += c.length;
  }
  return {
    modelJson: {
      format: "graph-model",
      generatedBy: "mtcnn-deno",
      convertedBy: "mtcnn-deno export_tfjs",
      modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: specs }],
      userDefinedMetadata: {
        net: arch.name,
        input: exportedInput(data, "NHWC"),
        outputs: plan.heads.map((h) => (h.kind === "cls" ? "prob" : h.kind)),
        source: source.meta.provenance?.source,
      },
    },
    weights,
  };
}
