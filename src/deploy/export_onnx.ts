/**
 * Exports a net as an ONNX model (onnx.proto, IR version 7, opset 13),
 * float32, NCHW as ONNX expects.
 *
 * Graph: Conv (OIHW weights from our HWIO; depthwise as group = C), PRelu
 * (slope [C, 1, 1] or [C]), Relu, MaxPool (ceil_mode 1 for Caffe's ceil
 * rounding), Flatten (axis 1, CHW order: the first dense layer's rows are
 * permuted from our HWC order), Gemm (transB), then the heads: 1×1 Conv for
 * fully convolutional nets or Gemm, the cls head through Softmax over axis 1.
 * Outputs: `prob` ([N, 2, H', W'] or [N, 2]), `box`, `landmarks` (when the net
 * has it). The input `input` is [N, 3, H, W] with N free, and H, W free for
 * fully convolutional nets (PNet). The input normalisation is folded into
 * conv1 (see export_common.ts): the model takes RGB 0..255; the convention is
 * also written to the model's metadata_props (`mtcnn.input`).
 *
 * An int8 net (`data.quant`) exports as a QDQ model (export_onnx_int8.ts)
 * unless `float` is set.
 *
 * @example
 * ```ts
 * const bytes = exportOnnx(await loadNetData("weights/original/pnet.mtcnn"));
 * const session = await ort.InferenceSession.create(bytes);
 * ```
 */
import { HEAD_UNITS, planArch } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import {
  chwToHwc,
  denseOutIn,
  exportedInput,
  type ExportOptions,
  hwioToOihw,
  isFullyConvolutional,
  prepareExport,
} from "./export_common.ts";
import { exportOnnxInt8 } from "./export_onnx_int8.ts";

/** ONNX opset the exporter targets. */
export const ONNX_OPSET = 13;
/** ONNX IR version matching {@linkcode ONNX_OPSET}. */
export const ONNX_IR_VERSION = 7;

// ---------- protobuf wire format ----------

/** @internal bytes of a protobuf message under construction. */
export type Part = Uint8Array | number[];

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

function concat(parts: Part[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** @internal A protobuf message being encoded: fields appended in order. */
export class Msg {
  parts: Part[] = [];
  int(field: number, v: number | bigint) {
    this.parts.push(varint((field << 3) | 0), varint(v));
    return this;
  }
  float(field: number, v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(varint((field << 3) | 5), b);
    return this;
  }
  bytes(field: number, b: Uint8Array) {
    this.parts.push(varint((field << 3) | 2), varint(b.length), b);
    return this;
  }
  string(field: number, s: string) {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Msg) {
    return this.bytes(field, m.encode());
  }
  packedInts(field: number, vs: number[]) {
    return this.bytes(field, concat(vs.map((v) => varint(v))));
  }
  encode(): Uint8Array {
    return concat(this.parts);
  }
}

const FLOAT = 1;
/** ONNX TensorProto data types the exporters write. */
export const ONNX_TYPES = { float: 1, uint8: 2, int8: 3, int64: 7 } as const;

/** @internal A TensorProto with raw bytes (`type` an {@linkcode ONNX_TYPES} value). */
export function rawTensorProto(name: string, dims: number[], raw: Uint8Array, type: number): Msg {
  return new Msg().packedInts(1, dims).int(2, type).string(8, name).bytes(9, raw);
}

/** @internal A TensorProto with raw_data: float32, or int64 for any other `type`. */
export function tensorProto(
  name: string,
  dims: number[],
  values: ArrayLike<number>,
  type = FLOAT,
): Msg {
  const m = new Msg();
  m.packedInts(1, dims);
  m.int(2, type);
  m.string(8, name);
  if (type === FLOAT) {
    const f = Float32Array.from(values);
    m.bytes(9, new Uint8Array(f.buffer));
  } else {
    const b = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) b[i] = BigInt(values[i]);
    m.bytes(9, new Uint8Array(b.buffer));
  }
  return m;
}

/** @internal A float ValueInfoProto with named (free) or fixed dimensions. */
export function valueInfo(name: string, dims: (number | string)[]): Msg {
  const shape = new Msg();
  for (const d of dims) {
    const dim = new Msg();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.msg(1, dim);
  }
  const tensorType = new Msg().int(1, FLOAT).msg(2, shape);
  return new Msg().string(1, name).msg(2, new Msg().msg(1, tensorType));
}

type Attr = number | number[] | string;

/** @internal A NodeProto with int, ints or string attributes. */
export function node(
  op: string,
  name: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, Attr> = {},
): Msg {
  const m = new Msg();
  for (const i of inputs) m.string(1, i);
  for (const o of outputs) m.string(2, o);
  m.string(3, name);
  m.string(4, op);
  for (const [k, v] of Object.entries(attrs)) {
    const a = new Msg().string(1, k);
    if (typeof v === "number") a.int(3, v).int(20, 2);
    else if (typeof v === "string") a.bytes(4, new TextEncoder().encode(v)).int(20, 3);
    else a.packedInts(8, v).int(20, 7);
    m.msg(5, a);
  }
  return m;
}

/**
 * Exports `data` as ONNX model bytes. Throws a one-line TypeError for what
 * the export cannot express (see {@linkcode prepareExport}).
 *
 * @example
 * ```ts
 * await writeFileAtomic("rnet.onnx", exportOnnx(rnetData));
 * ```
 */
export function exportOnnx(source: NetData, opts: ExportOptions = {}): Uint8Array {
  if (source.quant && !opts.float) return exportOnnxInt8(source, opts);
  const data = prepareExport(source, "onnx", opts);
  const { arch, params } = data;
  const spatialNet = isFullyConvolutional(arch);
  const plan = planArch(arch);
  const nodes: Msg[] = [];
  const inits: Msg[] = [];
  const init = (name: string, dims: number[], values: ArrayLike<number>, type = FLOAT) => {
    inits.push(tensorProto(name, dims, values, type));
    return name;
  };
  let cur = "input";
  let hwc: number[] = [arch.input.size, arch.input.size, arch.input.channels];
  let flat = false;
  let flatSize = 0;
  // the spatial shape a flatten turned into rows, until a dense layer reads them
  let flattened: number[] | null = null;
  const denseRows = () => {
    const rows = flattened ? chwToHwc(flattened[0], flattened[1], flattened[2]) : null;
    flattened = null;
    return rows;
  };
  arch.layers.forEach((l, i) => {
    switch (l.kind) {
      case "conv":
      case "depthwise": {
        const inC = hwc[2];
        const outC = l.kind === "conv" ? l.filters : inC;
        const w = hwioToOihw(
          params[`${l.name}.weight`],
          l.kh,
          l.kw,
          l.kind === "conv" ? inC : 1,
          outC,
        );
        const wn = init(
          `${l.name}.weight`,
          l.kind === "conv" ? [outC, inC, l.kh, l.kw] : [inC, 1, l.kh, l.kw],
          w,
        );
        const bn = init(`${l.name}.bias`, [outC], params[`${l.name}.bias`]);
        nodes.push(
          node("Conv", l.name, [cur, wn, bn], [l.name], {
            kernel_shape: [l.kh, l.kw],
            strides: [l.stride, l.stride],
            pads: [0, 0, 0, 0],
            dilations: [1, 1],
            group: l.kind === "conv" ? 1 : inC,
          }),
        );
        cur = l.name;
        hwc = plan.shapes[i];
        break;
      }
      case "gconv": {
        // a grouped Conv (outputs in group order: group k's j-th at k·n + j),
        // then ShuffleNet's shuffle: [N, g, n, H·W] → transpose → [N, C, H, W]
        const inC = hwc[2];
        const g = l.groups;
        const per = inC / g;
        const n = l.filters / g;
        const src = params[`${l.name}.weight`];
        const w = new Float32Array(l.filters * per);
        for (let k = 0; k < g; k++) {
          for (let j = 0; j < n; j++) {
            for (let r = 0; r < per; r++) {
              w[(k * n + j) * per + r] = src[r * l.filters + j * g + k];
            }
          }
        }
        const b = new Float32Array(l.filters);
        for (let k = 0; k < g; k++) {
          for (let j = 0; j < n; j++) b[k * n + j] = params[`${l.name}.bias`][j * g + k];
        }
        const wn = init(`${l.name}.weight`, [l.filters, per, 1, 1], w);
        const bn = init(`${l.name}.bias`, [l.filters], b);
        const conv = `${l.name}_grouped`;
        nodes.push(
          node("Conv", conv, [cur, wn, bn], [conv], {
            kernel_shape: [1, 1],
            strides: [1, 1],
            pads: [0, 0, 0, 0],
            dilations: [1, 1],
            group: g,
          }),
        );
        const split = init(`${l.name}_split_shape`, [4], [0, g, n, -1], ONNX_TYPES.int64);
        nodes.push(node("Shape", `${l.name}_shape`, [conv], [`${l.name}_shape`]));
        nodes.push(node("Reshape", `${l.name}_split`, [conv, split], [`${l.name}_split`]));
        nodes.push(
          node("Transpose", `${l.name}_transpose`, [`${l.name}_split`], [`${l.name}_transpose`], {
            perm: [0, 2, 1, 3],
          }),
        );
        nodes.push(
          node("Reshape", l.name, [`${l.name}_transpose`, `${l.name}_shape`], [l.name]),
        );
        cur = l.name;
        hwc = plan.shapes[i];
        break;
      }
      case "prelu": {
        const a = params[`${l.name}.alpha`];
        const an = init(`${l.name}.alpha`, flat ? [a.length] : [a.length, 1, 1], a);
        nodes.push(node("PRelu", l.name, [cur, an], [l.name]));
        cur = l.name;
        break;
      }
      case "relu":
        nodes.push(node("Relu", `relu${i}`, [cur], [`relu${i}`]));
        cur = `relu${i}`;
        break;
      case "maxpool":
        nodes.push(
          node("MaxPool", `pool${i}`, [cur], [`pool${i}`], {
            kernel_shape: [l.size, l.size],
            strides: [l.stride, l.stride],
            pads: [0, 0, 0, 0],
            ceil_mode: l.rounding === "ceil" ? 1 : 0,
          }),
        );
        cur = `pool${i}`;
        hwc = plan.shapes[i];
        break;
      case "flatten":
        nodes.push(node("Flatten", `flatten${i}`, [cur], [`flatten${i}`], { axis: 1 }));
        cur = `flatten${i}`;
        flattened = hwc;
        flat = true;
        flatSize = hwc[0] * hwc[1] * hwc[2];
        break;
      case "dense": {
        const inN = flatSize;
        const wn = init(
          `${l.name}.weight`,
          [l.units, inN],
          denseOutIn(params[`${l.name}.weight`], inN, l.units, denseRows()),
        );
        const bn = init(`${l.name}.bias`, [l.units], params[`${l.name}.bias`]);
        nodes.push(node("Gemm", l.name, [cur, wn, bn], [l.name], { transB: 1 }));
        cur = l.name;
        flatSize = l.units;
        break;
      }
    }
  });
  const outputs: Msg[] = [];
  const spatialDims = spatialNet ? ["H_out", "W_out"] : [];
  const headRows = flat ? denseRows() : null;
  for (const h of plan.heads) {
    const units = HEAD_UNITS[h.kind];
    const w = params[`${h.name}.weight`];
    const outName = h.kind === "cls" ? "cls_logits" : h.kind;
    if (!flat) {
      const c = hwc[2];
      const wn = init(`${h.name}.weight`, [units, c, 1, 1], denseOutIn(w, c, units, null));
      const bn = init(`${h.name}.bias`, [units], params[`${h.name}.bias`]);
      nodes.push(
        node("Conv", h.name, [cur, wn, bn], [outName], { kernel_shape: [1, 1], strides: [1, 1] }),
      );
    } else {
      const wn = init(
        `${h.name}.weight`,
        [units, flatSize],
        denseOutIn(w, flatSize, units, headRows),
      );
      const bn = init(`${h.name}.bias`, [units], params[`${h.name}.bias`]);
      nodes.push(node("Gemm", h.name, [cur, wn, bn], [outName], { transB: 1 }));
    }
    let name = outName;
    if (h.kind === "cls") {
      nodes.push(node("Softmax", "prob", [outName], ["prob"], { axis: 1 }));
      name = "prob";
    }
    outputs.push(valueInfo(name, ["N", units, ...spatialDims]));
  }
  const graph = new Msg();
  for (const n of nodes) graph.msg(1, n);
  graph.string(2, `mtcnn_${arch.name}`);
  for (const t of inits) graph.msg(5, t);
  graph.msg(
    11,
    valueInfo("input", [
      "N",
      arch.input.channels,
      ...(spatialNet ? ["H", "W"] : [arch.input.size, arch.input.size]),
    ]),
  );
  for (const o of outputs) graph.msg(12, o);
  const model = new Msg();
  model.int(1, ONNX_IR_VERSION);
  model.string(2, "mtcnn-deno");
  model.string(3, "1");
  model.msg(7, graph);
  model.msg(8, new Msg().string(1, "").int(2, ONNX_OPSET));
  const meta = (k: string, v: string) => model.msg(14, new Msg().string(1, k).string(2, v));
  meta("mtcnn.net", arch.name);
  meta("mtcnn.input", JSON.stringify(exportedInput(data, "NCHW")));
  if (source.meta.provenance?.source) meta("mtcnn.source", source.meta.provenance.source);
  return model.encode();
}
