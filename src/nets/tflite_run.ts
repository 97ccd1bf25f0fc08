/**
 * A direct interpreter of a parsed TFLite graph in tfjs, op by op, with the
 * file's own layouts (OHWI kernels, [out, in] dense weights, TF "SAME"
 * padding). It is the reference the importer is checked against: whatever the
 * importer folds, the imported net must compute what this computes.
 *
 * @example
 * ```ts
 * const model = parseTflite(await Deno.readFile("rnet.tflite"), "rnet.tflite");
 * const outs = runTflite(model, [input]); // { "rnet/prob1": ..., "rnet/conv5-2/conv5-2": ... }
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  tfliteConstant,
  type TfliteModel,
  type TfliteOperator,
  type TfliteTensor,
} from "./tflite.ts";

/**
 * Runs subgraph 0 of `model` on `inputs` (one per graph input, float32,
 * any spatial size the ops allow) and returns every graph output by tensor
 * name. Intermediates are freed. Throws a one-line TypeError naming the
 * operator for ops it does not know.
 */
export function runTflite(
  model: TfliteModel,
  inputs: tf.Tensor[],
  file = "model.tflite",
): Record<string, tf.Tensor> {
  const sg = model.subgraphs[0];
  if (inputs.length !== sg.inputs.length) {
    throw new RangeError(
      `runTflite("${file}"): the graph has ${sg.inputs.length} inputs, got ${inputs.length}`,
    );
  }
  return tf.tidy(() => {
    const values = new Map<number, tf.Tensor>();
    sg.inputs.forEach((t, i) => values.set(t, inputs[i]));
    const get = (i: number): tf.Tensor => {
      const v = values.get(i);
      if (v) return v;
      const t = sg.tensors[i];
      if (!t.data) {
        throw new RangeError(
          `runTflite("${file}"): tensor "${t.name}" is used before it is computed`,
        );
      }
      const c = t.type === "int32"
        ? tf.tensor(Array.from(tfliteConstant(t, file)), t.shape, "int32")
        : tf.tensor(tfliteConstant(t, file), t.shape);
      values.set(i, c);
      return c;
    };
    const ints = (i: number): number[] => Array.from(tfliteConstant(sg.tensors[i], file));
    for (const op of sg.operators) {
      const y = runOp(op, sg.tensors, get, ints, file);
      values.set(op.outputs[0], y);
    }
    const out: Record<string, tf.Tensor> = {};
    for (const o of sg.outputs) out[sg.tensors[o].name] = get(o);
    return out;
  });
}

function activate(
  y: tf.Tensor,
  act: string | undefined,
  op: TfliteOperator,
  file: string,
): tf.Tensor {
  switch (act ?? "NONE") {
    case "NONE":
      return y;
    case "RELU":
      return tf.relu(y);
    case "RELU6":
      return tf.relu6(y);
    case "TANH":
      return tf.tanh(y);
    default:
      throw new TypeError(
        `runTflite("${file}"): operator ${op.index} (${op.op}) has fused activation ${act}`,
      );
  }
}

function runOp(
  op: TfliteOperator,
  tensors: TfliteTensor[],
  get: (i: number) => tf.Tensor,
  ints: (i: number) => number[],
  file: string,
): tf.Tensor {
  const o = op.options;
  const x = () => get(op.inputs[0]);
  const bias = (
    y: tf.Tensor,
  ) => (op.inputs.length > 2 && op.inputs[2] >= 0 ? tf.add(y, get(op.inputs[2])) : y);
  const pad = (o.padding === "SAME" ? "same" : "valid") as "same" | "valid";
  switch (op.op) {
    case "CONV_2D": {
      const w = tf.transpose(get(op.inputs[1]), [1, 2, 3, 0]) as tf.Tensor4D; // OHWI → HWIO
      const y = tf.conv2d(x() as tf.Tensor4D, w, [o.strideH!, o.strideW!], pad, "NHWC", [
        o.dilationH ?? 1,
        o.dilationW ?? 1,
      ]);
      return activate(bias(y), o.activation, op, file);
    }
    case "DEPTHWISE_CONV_2D": {
      const raw = get(op.inputs[1]); // [1, kh, kw, C*m]
      const [, kh, kw, cm] = raw.shape;
      const c = x().shape[3]!;
      const w = tf.reshape(raw, [kh, kw, c, cm / c]) as tf.Tensor4D;
      const y = tf.depthwiseConv2d(x() as tf.Tensor4D, w, [o.strideH!, o.strideW!], pad, "NHWC", [
        o.dilationH ?? 1,
        o.dilationW ?? 1,
      ]);
      return activate(bias(y), o.activation, op, file);
    }
    case "MAX_POOL_2D":
      return activate(
        tf.maxPool(x() as tf.Tensor4D, [o.filterH!, o.filterW!], [o.strideH!, o.strideW!], pad),
        o.activation,
        op,
        file,
      );
    case "AVERAGE_POOL_2D":
      return activate(
        tf.avgPool(x() as tf.Tensor4D, [o.filterH!, o.filterW!], [o.strideH!, o.strideW!], pad),
        o.activation,
        op,
        file,
      );
    case "FULLY_CONNECTED": {
      const w = get(op.inputs[1]) as tf.Tensor2D; // [out, in]
      const a = tf.reshape(x(), [-1, w.shape[1]]) as tf.Tensor2D;
      return activate(bias(tf.matMul(a, w, false, true)), o.activation, op, file);
    }
    case "RELU":
      return tf.relu(x());
    case "RELU6":
      return tf.relu6(x());
    case "LOGISTIC":
      return tf.sigmoid(x());
    case "TANH":
      return tf.tanh(x());
    case "NEG":
      return tf.neg(x());
    case "EXP":
      return tf.exp(x());
    case "ADD":
      return activate(tf.add(x(), get(op.inputs[1])), o.activation, op, file);
    case "SUB":
      return activate(tf.sub(x(), get(op.inputs[1])), o.activation, op, file);
    case "MUL":
      return activate(tf.mul(x(), get(op.inputs[1])), o.activation, op, file);
    case "DIV":
      return activate(tf.div(x(), get(op.inputs[1])), o.activation, op, file);
    case "PRELU":
      return tf.prelu(x(), get(op.inputs[1]));
    case "REDUCE_MAX":
      return tf.max(x(), ints(op.inputs[1]), o.keepDims);
    case "SUM":
      return tf.sum(x(), ints(op.inputs[1]), o.keepDims);
    case "MEAN":
      return tf.mean(x(), ints(op.inputs[1]), o.keepDims);
    case "SOFTMAX":
      return tf.softmax(tf.mul(x(), o.beta ?? 1));
    case "RESHAPE": {
      const shape = op.inputs.length > 1 && op.inputs[1] >= 0
        ? ints(op.inputs[1])
        : o.newShape ?? [];
      return tf.reshape(x(), shape);
    }
    case "TRANSPOSE":
      return tf.transpose(x(), ints(op.inputs[1]));
    case "PAD": {
      const p = ints(op.inputs[1]);
      const pairs: [number, number][] = [];
      for (let i = 0; i < p.length; i += 2) pairs.push([p[i], p[i + 1]]);
      return tf.pad(x(), pairs);
    }
    default:
      throw new TypeError(
        `runTflite("${file}"): operator ${op.index} (${op.op}, output "${
          tensors[op.outputs[0]]?.name
        }") is not supported`,
      );
  }
}
