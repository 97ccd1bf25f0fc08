/**
 * Exports a net as a TensorFlow Lite model (the `TFL3` FlatBuffer of
 * tensorflow/lite/schema/schema.fbs), float32, NHWC.
 *
 * Graph: CONV_2D / DEPTHWISE_CONV_2D (OHWI / 1HWC kernels, VALID, a following
 * ReLU fused), PRELU (alpha [1, 1, C] or [C]), MAX_POOL_2D, RESHAPE to
 * [-1, features] before the first FULLY_CONNECTED ([out, in] weights, our HWC
 * flatten order is TF's), then the heads: 1×1 CONV_2D (fully convolutional
 * nets) or FULLY_CONNECTED, the cls head through SOFTMAX. Outputs, in order:
 * `prob` (softmax of not-face, face), `box`, `landmarks` (when the net has it).
 *
 * Caffe's ceil pooling, exactly: VALID where ceil and floor agree at every
 * input size the model can see, TF SAME where it pads only at the end
 * (e.g. 2/2 at any size), else PADV2 by stride − 1 at the bottom/right with
 * −FLT_MAX, then VALID. The input normalisation is folded into conv1 (see
 * export_common.ts), so the model takes RGB 0..255.
 *
 * Shapes: the input is stored as [batch, H, W, 3] (default batch 1 and the
 * training size) with `shape_signature` [-1, H, W, 3], or [-1, -1, -1, 3] for
 * fully convolutional nets: runtimes that resize inputs run any batch (and any
 * PNet size); the others run the stored shape.
 *
 * int8: a net with int8 tensors (`data.quant`, from `deno task quantize`)
 * exports as a fully quantised model (export_tflite_int8.ts) unless
 * `float` is set, which writes its dequantised weights as a float model.
 *
 * @example
 * ```ts
 * const bytes = exportTflite(await loadNetData("weights/original/onet.mtcnn"));
 * await writeFileAtomic("onet.tflite", bytes);
 * ```
 */
import { HEAD_UNITS, type Layer, planArch } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import {
  denseOutIn,
  exportedInput,
  type ExportOptions,
  isFullyConvolutional,
  poolPlan,
  prepareExport,
} from "./export_common.ts";
import { fb, type FbTable, type FbValue, writeFlatBuffer } from "./flatbuffer_writer.ts";
import { exportTfliteInt8, type TfliteInt8Options } from "./export_tflite_int8.ts";

/** Builtin operator codes (schema.fbs `BuiltinOperator`). */
export const TFLITE_OPS = {
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  FULLY_CONNECTED: 9,
  MAX_POOL_2D: 17,
  RELU: 19,
  RESHAPE: 22,
  SOFTMAX: 25,
  PRELU: 54,
  PADV2: 60,
  DEQUANTIZE: 6,
  MINIMUM: 57,
  MUL: 18,
  SUB: 41,
  QUANTIZE: 114,
  ROUND: 116,
} as const;

/** `BuiltinOptions` union members (schema.fbs order, 1-based). */
export const TFLITE_OPTIONS = {
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  ReshapeOptions: 17,
  PadV2Options: 43,
} as const;
const OPTIONS = TFLITE_OPTIONS;

/** Tensor types (schema.fbs `TensorType`). */
export const TFLITE_TYPES = { float32: 0, int32: 2, uint8: 3, int8: 9 } as const;

const PADDING = { SAME: 0, VALID: 1 } as const;
const ACT = { NONE: 0, RELU: 1 } as const;

/** Per-channel (or per-tensor) quantization of a tensor: value = scale · (q − zeroPoint). */
export interface TfliteQuantization {
  scale: number[];
  zeroPoint: number[];
  /** Axis the scales run along (TFLite: 0 for conv and dense weights, 3 for depthwise). */
  dimension?: number;
}

/** A tensor to add to a {@linkcode TfliteGraph}. */
export interface TfliteTensorSpec {
  name: string;
  shape: number[];
  type?: keyof typeof TFLITE_TYPES;
  /** Constant data (little-endian bytes of `type`). */
  data?: Uint8Array;
  /** Shape with -1 for free dimensions (defaults to `shape`). */
  signature?: number[];
  quantization?: TfliteQuantization;
}

/**
 * A single-subgraph TFLite model under construction: tensors, buffers,
 * operators. {@linkcode exportTflite} drives it; the quantization hook is here.
 *
 * @example
 * ```ts
 * const g = new TfliteGraph();
 * const x = g.tensor({ name: "x", shape: [1, 4] });
 * const y = g.tensor({ name: "y", shape: [1, 4] });
 * g.op(TFLITE_OPS.RELU, [x], [y]);
 * const bytes = g.finish([x], [y], "relu");
 * ```
 */
export class TfliteGraph {
  private tensors: FbTable[] = [];
  private buffers: FbTable[] = [fb.table([])];
  private opcodes: number[] = [];
  private ops: FbTable[] = [];
  private metadata: FbTable[] = [];

  /** Adds a tensor (with a buffer when it has data) and returns its index. */
  tensor(spec: TfliteTensorSpec): number {
    let buffer = 0;
    if (spec.data) {
      buffer = this.buffers.length;
      this.buffers.push(fb.table([fb.bytes(spec.data, 16)]));
    }
    const q = spec.quantization;
    const quant = q
      ? fb.table([
        undefined,
        undefined,
        fb.floats(q.scale),
        fb.longs(q.zeroPoint),
        undefined,
        undefined,
        fb.i32(q.dimension ?? 0),
      ])
      : undefined;
    const sig = spec.signature && spec.signature.some((d, i) => d !== spec.shape[i])
      ? fb.ints(spec.signature)
      : undefined;
    this.tensors.push(
      fb.table([
        fb.ints(spec.shape),
        fb.i8(TFLITE_TYPES[spec.type ?? "float32"]),
        fb.u32(buffer),
        fb.string(spec.name),
        quant,
        undefined,
        undefined,
        sig,
      ]),
    );
    return this.tensors.length - 1;
  }

  /** A float32 constant. */
  constant(name: string, shape: number[], values: ArrayLike<number>): number {
    const f = Float32Array.from(values);
    return this.tensor({ name, shape, data: new Uint8Array(f.buffer) });
  }

  /** An int32 constant. */
  constantInt(name: string, shape: number[], values: number[]): number {
    const v = Int32Array.from(values);
    return this.tensor({ name, shape, type: "int32", data: new Uint8Array(v.buffer) });
  }

  /** Adds an operator; `options` is [union member, table]. */
  op(code: number, inputs: number[], outputs: number[], options?: [number, FbTable]): void {
    let index = this.opcodes.indexOf(code);
    if (index < 0) {
      index = this.opcodes.length;
      this.opcodes.push(code);
    }
    this.ops.push(
      fb.table([
        fb.u32(index),
        fb.ints(inputs),
        fb.ints(outputs),
        options ? fb.u8(options[0]) : undefined,
        options ? options[1] : undefined,
      ]),
    );
  }

  /** Attaches a named metadata buffer (e.g. JSON describing the input convention). */
  addMetadata(name: string, bytes: Uint8Array): void {
    const buffer = this.buffers.length;
    this.buffers.push(fb.table([fb.bytes(bytes, 16)]));
    this.metadata.push(fb.table([fb.string(name), fb.u32(buffer)]));
  }

  /** Serialises the model. */
  finish(inputs: number[], outputs: number[], name: string, description = ""): Uint8Array {
    const opcodes = this.opcodes.map((c) =>
      fb.table([fb.i8(Math.min(c, 127)), undefined, fb.i32(1), fb.i32(c)])
    );
    const subgraph = fb.table([
      fb.tables(this.tensors),
      fb.ints(inputs),
      fb.ints(outputs),
      fb.tables(this.ops),
      fb.string(name),
    ]);
    const fields: (FbValue | undefined)[] = [
      fb.u32(3),
      fb.tables(opcodes),
      fb.tables([subgraph]),
      fb.string(description),
      fb.tables(this.buffers),
      undefined,
      this.metadata.length ? fb.tables(this.metadata) : undefined,
    ];
    return writeFlatBuffer(fb.table(fields), "TFL3");
  }
}

/** Options of {@linkcode exportTflite}. */
export interface TfliteExportOptions extends ExportOptions {
  /** Stored batch size of the input (default 1; the signature leaves it free). */
  batch?: number;
  /** Stored input height and width of a fully convolutional net (default: the training size). */
  height?: number;
  width?: number;
}

/**
 * Exports `data` as TFLite model bytes. Throws a one-line TypeError for what
 * TFLite export cannot express (see {@linkcode prepareExport}).
 *
 * @example
 * ```ts
 * const bytes = exportTflite(pnetData, { height: 480, width: 640 });
 * ```
 */
export function exportTflite(source: NetData, opts: TfliteInt8Options = {}): Uint8Array {
  if (source.quant && !opts.float) return exportTfliteInt8(source, opts);
  const data = prepareExport(source, "tflite", opts);
  const { arch, params } = data;
  const spatialNet = isFullyConvolutional(arch);
  const batch = opts.batch ?? 1;
  const H = spatialNet ? opts.height ?? arch.input.size : arch.input.size;
  const W = spatialNet ? opts.width ?? arch.input.size : arch.input.size;
  const plan = planArch(arch, H, W);
  const g = new TfliteGraph();
  const sigOf = (shape: number[]) =>
    shape.map((d, i) => (i === 0 ? -1 : spatialNet && shape.length === 4 && i < 3 ? -1 : d));
  const act = (name: string, shape: number[]) => g.tensor({ name, shape, signature: sigOf(shape) });
  const C = arch.input.channels;
  const input = act("input", [batch, H, W, C]);
  let cur = input;
  let shape: number[] = [batch, H, W, C];
  const layers = arch.layers;
  const fusedRelu = (i: number) => layers[i + 1]?.kind === "relu";
  const nameOf = (l: Layer, i: number) => ("name" in l ? l.name : `${l.kind}${i}`);

  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    const out = plan.shapes[i];
    if (l.kind === "cls" || l.kind === "box" || l.kind === "landmarks") break;
    switch (l.kind) {
      case "conv":
      case "depthwise": {
        const inC = shape[3];
        const w = params[`${l.name}.weight`];
        const b = params[`${l.name}.bias`];
        const outC = l.kind === "conv" ? l.filters : inC;
        let wt: number;
        if (l.kind === "conv") {
          const ohwi = new Float32Array(w.length);
          for (let o = 0; o < outC; o++) {
            for (let k = 0; k < l.kh * l.kw; k++) {
              for (let c = 0; c < inC; c++) {
                ohwi[(o * l.kh * l.kw + k) * inC + c] = w[(k * inC + c) * outC + o];
              }
            }
          }
          wt = g.constant(`${l.name}/weight`, [outC, l.kh, l.kw, inC], ohwi);
        } else {
          // HWIO [kh, kw, C, 1] has the memory layout of TFLite's [1, kh, kw, C]
          wt = g.constant(`${l.name}/weight`, [1, l.kh, l.kw, inC], w);
        }
        const bt = g.constant(`${l.name}/bias`, [outC], b);
        const relu = fusedRelu(i);
        const y = act(`${l.name}${relu ? "/relu" : ""}`, [batch, ...out]);
        const a = relu ? ACT.RELU : ACT.NONE;
        if (l.kind === "conv") {
          g.op(TFLITE_OPS.CONV_2D, [cur, wt, bt], [y], [
            OPTIONS.Conv2DOptions,
            fb.table([fb.i8(PADDING.VALID), fb.i32(l.stride), fb.i32(l.stride), fb.i8(a)]),
          ]);
        } else {
          g.op(TFLITE_OPS.DEPTHWISE_CONV_2D, [cur, wt, bt], [y], [
            OPTIONS.DepthwiseConv2DOptions,
            fb.table([
              fb.i8(PADDING.VALID),
              fb.i32(l.stride),
              fb.i32(l.stride),
              fb.i32(1),
              fb.i8(a),
            ]),
          ]);
        }
        cur = y;
        shape = [batch, ...out];
        if (relu) i++;
        break;
      }
      case "prelu": {
        const alpha = params[`${l.name}.alpha`];
        const at = g.constant(
          `${l.name}/alpha`,
          shape.length === 4 ? [1, 1, alpha.length] : [alpha.length],
          alpha,
        );
        const y = act(l.name, shape);
        g.op(TFLITE_OPS.PRELU, [cur, at], [y]);
        cur = y;
        break;
      }
      case "relu": {
        const y = act(`relu${i}`, shape);
        g.op(TFLITE_OPS.RELU, [cur], [y]);
        cur = y;
        break;
      }
      case "maxpool": {
        const sides = spatialNet ? "any" : [shape[1], shape[2]];
        const p = poolPlan(l, sides);
        if (p.padEnd > 0) {
          const paddings = g.constantInt(`pool${i}/paddings`, [4, 2], [
            0,
            0,
            0,
            p.padEnd,
            0,
            p.padEnd,
            0,
            0,
          ]);
          const lowest = g.constant(`pool${i}/lowest`, [], [-3.4028234663852886e38]);
          const padded = act(`pool${i}/padded`, [
            batch,
            shape[1] + p.padEnd,
            shape[2] + p.padEnd,
            shape[3],
          ]);
          g.op(TFLITE_OPS.PADV2, [cur, paddings, lowest], [padded], [
            OPTIONS.PadV2Options,
            fb.table([]),
          ]);
          cur = padded;
        }
        const y = act(`pool${i}`, [batch, ...out]);
        g.op(TFLITE_OPS.MAX_POOL_2D, [cur], [y], [
          OPTIONS.Pool2DOptions,
          fb.table([
            fb.i8(PADDING[p.padding]),
            fb.i32(l.stride),
            fb.i32(l.stride),
            fb.i32(l.size),
            fb.i32(l.size),
            fb.i8(ACT.NONE),
          ]),
        ]);
        cur = y;
        shape = [batch, ...out];
        break;
      }
      case "flatten": {
        const n = out[0];
        const st = g.constantInt(`flatten${i}/shape`, [2], [-1, n]);
        const y = act(`flatten${i}`, [batch, n]);
        g.op(TFLITE_OPS.RESHAPE, [cur, st], [y], [
          OPTIONS.ReshapeOptions,
          fb.table([fb.ints([-1, n])]),
        ]);
        cur = y;
        shape = [batch, n];
        break;
      }
      case "dense": {
        const inN = shape[1];
        const wt = g.constant(
          `${l.name}/weight`,
          [l.units, inN],
          denseOutIn(params[`${l.name}.weight`], inN, l.units, null),
        );
        const bt = g.constant(`${l.name}/bias`, [l.units], params[`${l.name}.bias`]);
        const relu = fusedRelu(i);
        const y = act(`${l.name}${relu ? "/relu" : ""}`, [batch, l.units]);
        g.op(TFLITE_OPS.FULLY_CONNECTED, [cur, wt, bt], [y], [
          OPTIONS.FullyConnectedOptions,
          fb.table([fb.i8(relu ? ACT.RELU : ACT.NONE)]),
        ]);
        cur = y;
        shape = [batch, l.units];
        if (relu) i++;
        break;
      }
      default:
        throw new TypeError(
          `Cannot export "${opts.file ?? arch.name}" to TFLite: layer ${i} (${
            nameOf(l, i)
          }) is not supported`,
        );
    }
  }

  const outputs: number[] = [];
  for (const h of plan.heads) {
    const units = HEAD_UNITS[h.kind];
    const w = params[`${h.name}.weight`];
    const b = params[`${h.name}.bias`];
    const bt = g.constant(`${h.name}/bias`, [units], b);
    let y: number;
    const outName = h.kind === "cls" ? "cls/logits" : h.kind;
    if (shape.length === 4) {
      const c = shape[3];
      const wt = g.constant(`${h.name}/weight`, [units, 1, 1, c], denseOutIn(w, c, units, null));
      y = act(outName, [batch, shape[1], shape[2], units]);
      g.op(TFLITE_OPS.CONV_2D, [cur, wt, bt], [y], [
        OPTIONS.Conv2DOptions,
        fb.table([fb.i8(PADDING.VALID), fb.i32(1), fb.i32(1), fb.i8(ACT.NONE)]),
      ]);
    } else {
      const inN = shape[1];
      const wt = g.constant(`${h.name}/weight`, [units, inN], denseOutIn(w, inN, units, null));
      y = act(outName, [batch, units]);
      g.op(TFLITE_OPS.FULLY_CONNECTED, [cur, wt, bt], [y], [
        OPTIONS.FullyConnectedOptions,
        fb.table([fb.i8(ACT.NONE)]),
      ]);
    }
    if (h.kind === "cls") {
      const prob = act("prob", shape.length === 4 ? [batch, shape[1], shape[2], 2] : [batch, 2]);
      g.op(TFLITE_OPS.SOFTMAX, [y], [prob], [OPTIONS.SoftmaxOptions, fb.table([fb.f32(1)])]);
      y = prob;
    }
    outputs.push(y);
  }
  const inputInfo = exportedInput(data, "NHWC");
  g.addMetadata(
    "mtcnn",
    new TextEncoder().encode(JSON.stringify({
      net: arch.name,
      input: inputInfo,
      outputs: plan.heads.map((h) => (h.kind === "cls" ? "prob" : h.kind)),
      source: source.meta.provenance?.source,
    })),
  );
  return g.finish(
    [input],
    outputs,
    arch.name,
    `MTCNN ${arch.name}: input NHWC RGB, (x - ${inputInfo.mean[0]}) * ${
      inputInfo.scale[0]
    }; outputs prob, box${plan.heads.some((h) => h.kind === "landmarks") ? ", landmarks" : ""}`,
  );
}
