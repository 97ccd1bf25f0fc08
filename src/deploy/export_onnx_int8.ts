/**
 * Exports an int8-quantised net ({@linkcode NetQuant}) as an ONNX QDQ model
 * (opset 13): the float graph of export_onnx.ts with
 *
 * - every weight an int8 initializer (symmetric, per output channel: axis 0
 *   of OIHW conv and [out, in] Gemm weights) read through DequantizeLinear;
 * - a QuantizeLinear → DequantizeLinear pair (uint8, our scale and zero
 *   point) at each of our quantisation points: the normalised input and each
 *   compute layer's output after its PReLU / ReLU and pooling; 7-bit nets
 *   (codes 0..127) clip before quantising;
 * - biases and PReLU slopes float32, as our int8 kernels apply them.
 *
 * So the model computes exactly what {@linkcode forwardSim} computes with
 * fake-quantised activations (QuantizeLinear rounds half to even, as our
 * kernels do); runtimes that fuse QDQ into int8 kernels requantise with their
 * own rounding. The input is NCHW RGB 0..255 (`input: "pixels"`): Sub / Mul
 * apply the arch's normalisation (channel order folded into conv1's int8
 * weights), or the normalised input in the net's channel order
 * (`input: "normalized"`).
 *
 * @example
 * ```ts
 * const bytes = exportOnnxInt8(await loadNetData("w/pnet.int8.mtcnn"));
 * const session = await ort.InferenceSession.create(bytes);
 * ```
 */
import { HEAD_UNITS, type Layer, planArch } from "../nets/arch.ts";
import type { ActQuant, Int8Tensor, NetData } from "../nets/net.ts";
import { quantBlocks } from "../optimize/quantize.ts";
import {
  checkExportable,
  chwToHwc,
  exportedInput,
  type ExportOptions,
  FORMAT_NAMES,
  isFullyConvolutional,
} from "./export_common.ts";
import {
  Msg,
  node,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  ONNX_TYPES,
  rawTensorProto,
  tensorProto,
  valueInfo,
} from "./export_onnx.ts";

/**
 * Exports an int8 net (`data.quant` set) as an ONNX QDQ model. Throws a
 * one-line TypeError naming the source for what it cannot express.
 *
 * @example
 * ```ts
 * const bytes = exportOnnxInt8(quantizeNet(data, samples), { file: "rnet.int8.mtcnn" });
 * ```
 */
export function exportOnnxInt8(data: NetData, opts: ExportOptions = {}): Uint8Array {
  const where = `Cannot export "${opts.file ?? data.arch.name}" to ${FORMAT_NAMES.onnx} int8`;
  const fail = (what: string): never => {
    throw new TypeError(`${where}: ${what}`);
  };
  const quant = data.quant;
  if (!quant) return fail("the net has no int8 quantisation (run deno task quantize first)");
  checkExportable(data, "onnx", opts, " int8");
  const { arch, params } = data;
  const inp = arch.input;
  const C = inp.channels;
  const normalized = (opts.input ?? "pixels") === "normalized";
  const bgr = !normalized && inp.channelOrder === "BGR";
  const { blocks, heads } = quantBlocks(arch);
  if (bgr && blocks[0].layer.kind === "depthwise") {
    fail(
      'a depthwise first layer on BGR input cannot take RGB pixels (export with input "normalized")',
    );
  }
  const maxCode = quant.bits === 7 ? 127 : 255;
  const spatialNet = isFullyConvolutional(arch);
  const plan = planArch(arch);
  const nodes: Msg[] = [];
  const inits: Msg[] = [];
  const floats = (name: string, dims: number[], values: ArrayLike<number>) => {
    inits.push(tensorProto(name, dims, values));
    return name;
  };
  const int8Weight = (name: string, dims: number[], q: Int8Array, scale: number[]) => {
    inits.push(
      rawTensorProto(
        `${name}_q`,
        dims,
        new Uint8Array(q.buffer, q.byteOffset, q.length),
        ONNX_TYPES.int8,
      ),
    );
    floats(`${name}_scale`, [scale.length], scale);
    inits.push(
      rawTensorProto(`${name}_zero`, [scale.length], new Uint8Array(scale.length), ONNX_TYPES.int8),
    );
    nodes.push(
      node(
        "DequantizeLinear",
        `${name}_dq`,
        [`${name}_q`, `${name}_scale`, `${name}_zero`],
        [name],
        {
          axis: 0,
        },
      ),
    );
    return name;
  };
  /** QuantizeLinear → DequantizeLinear of `x` at `q` (clipped first for 7-bit codes). */
  const qdq = (x: string, name: string, q: ActQuant): string => {
    floats(`${name}_scale`, [], [q.scale]);
    inits.push(rawTensorProto(`${name}_zero`, [], Uint8Array.of(q.zeroPoint), ONNX_TYPES.uint8));
    let src = x;
    if (maxCode < 255) {
      floats(`${name}_lo`, [], [-q.zeroPoint * q.scale]);
      floats(`${name}_hi`, [], [(maxCode - q.zeroPoint) * q.scale]);
      nodes.push(node("Clip", `${name}_clip`, [x, `${name}_lo`, `${name}_hi`], [`${name}_clip`]));
      src = `${name}_clip`;
    }
    nodes.push(
      node("QuantizeLinear", `${name}_q`, [src, `${name}_scale`, `${name}_zero`], [`${name}_q`]),
    );
    nodes.push(
      node("DequantizeLinear", `${name}_dq`, [`${name}_q`, `${name}_scale`, `${name}_zero`], [
        `${name}_dq`,
      ]),
    );
    return `${name}_dq`;
  };
  const weightOf = (name: string): Int8Tensor => {
    const w = quant.weights[`${name}.weight`];
    if (!w) fail(`tensor ${name}.weight is not int8`);
    return w;
  };
  const actOf = (name: string) => {
    const a = quant.activations[name];
    if (!a) fail(`the quantisation has no activation range for layer "${name}"`);
    return a;
  };

  // ---- input: normalisation, then our first quantisation point
  let cur = "input";
  const perC = (v: number[]) => (bgr ? v.slice().reverse() : v);
  if (!normalized && inp.mean.some((m) => m !== 0)) {
    floats("input_mean", [C, 1, 1], perC(inp.mean));
    nodes.push(node("Sub", "input_centered", [cur, "input_mean"], ["input_centered"]));
    cur = "input_centered";
  }
  if (!normalized && inp.scale.some((s) => s !== 1)) {
    floats("input_scale", [C, 1, 1], perC(inp.scale));
    nodes.push(node("Mul", "input_normalized", [cur, "input_scale"], ["input_normalized"]));
    cur = "input_normalized";
  }
  cur = qdq(cur, "input_q", actOf(blocks[0].layer.name).input);

  let hwc: number[] = [inp.size, inp.size, C];
  let flatSize = 0;
  let flattened: number[] | null = null;
  const layerIndex = (l: Layer) => arch.layers.indexOf(l);
  for (const b of blocks) {
    const l = b.layer;
    const a = actOf(l.name);
    if (!a.output) fail(`the quantisation has no output range for layer "${l.name}"`);
    const wq = weightOf(l.name);
    const bias = floats(
      `${l.name}.bias`,
      [params[`${l.name}.bias`].length],
      params[`${l.name}.bias`],
    );
    if (l.kind === "conv" || l.kind === "depthwise") {
      const inC = hwc[2];
      const outC = l.kind === "conv" ? l.filters : inC;
      const ci = l.kind === "conv" ? inC : 1;
      // OIHW from HWIO (depthwise [kh, kw, C, 1] → [C, 1, kh, kw]); BGR reversed into conv1's inputs
      const w = new Int8Array(wq.q.length);
      const rev = bgr && b === blocks[0];
      for (let o = 0; o < outC; o++) {
        for (let i = 0; i < ci; i++) {
          for (let y = 0; y < l.kh; y++) {
            for (let x = 0; x < l.kw; x++) {
              const src = rev ? ci - 1 - i : i;
              w[((o * ci + i) * l.kh + y) * l.kw + x] =
                wq.q[((y * l.kw + x) * ci + src) * outC + o];
            }
          }
        }
      }
      const wn = int8Weight(`${l.name}.weight`, [outC, ci, l.kh, l.kw], w, wq.scale);
      nodes.push(
        node("Conv", l.name, [cur, wn, bias], [l.name], {
          kernel_shape: [l.kh, l.kw],
          strides: [l.stride, l.stride],
          pads: [0, 0, 0, 0],
          dilations: [1, 1],
          group: l.kind === "conv" ? 1 : inC,
        }),
      );
      hwc = plan.shapes[layerIndex(l)];
    } else {
      const inN = flatSize;
      const rows = flattened ? chwToHwc(flattened[0], flattened[1], flattened[2]) : null;
      flattened = null;
      const w = new Int8Array(wq.q.length);
      for (let o = 0; o < l.units; o++) {
        for (let r = 0; r < inN; r++) w[o * inN + r] = wq.q[(rows ? rows[r] : r) * l.units + o];
      }
      const wn = int8Weight(`${l.name}.weight`, [l.units, inN], w, wq.scale);
      nodes.push(node("Gemm", l.name, [cur, wn, bias], [l.name], { transB: 1 }));
      flatSize = l.units;
    }
    cur = l.name;
    for (const op of b.after) {
      const i = layerIndex(op);
      if (op.kind === "prelu") {
        const al = params[`${op.name}.alpha`];
        const an = floats(`${op.name}.alpha`, isSpatial() ? [al.length, 1, 1] : [al.length], al);
        nodes.push(node("PRelu", op.name, [cur, an], [op.name]));
        cur = op.name;
      } else if (op.kind === "relu") {
        nodes.push(node("Relu", `relu${i}`, [cur], [`relu${i}`]));
        cur = `relu${i}`;
      } else if (op.kind === "maxpool") {
        nodes.push(
          node("MaxPool", `pool${i}`, [cur], [`pool${i}`], {
            kernel_shape: [op.size, op.size],
            strides: [op.stride, op.stride],
            pads: [0, 0, 0, 0],
            ceil_mode: op.rounding === "ceil" ? 1 : 0,
          }),
        );
        cur = `pool${i}`;
        hwc = plan.shapes[i];
      } else if (op.kind === "flatten") {
        nodes.push(node("Flatten", `flatten${i}`, [cur], [`flatten${i}`], { axis: 1 }));
        cur = `flatten${i}`;
        flattened = hwc;
        flatSize = hwc[0] * hwc[1] * hwc[2];
        hwc = [flatSize];
      } else {
        fail(`layer ${i} (${op.kind}) is not supported`);
      }
    }
    cur = qdq(cur, `${l.name}_out`, a.output!);
  }
  function isSpatial() {
    return hwc.length === 3;
  }

  // ---- heads: float on the dequantised int8 weights
  const outputs: Msg[] = [];
  const spatialDims = spatialNet ? ["H_out", "W_out"] : [];
  const flat = !isSpatial();
  const headRows = flat && flattened ? chwToHwc(flattened[0], flattened[1], flattened[2]) : null;
  for (const h of heads) {
    const units = HEAD_UNITS[h.kind];
    const wq = weightOf(h.name);
    const inN = flat ? flatSize : hwc[2];
    const w = new Int8Array(wq.q.length);
    for (let o = 0; o < units; o++) {
      for (let r = 0; r < inN; r++) w[o * inN + r] = wq.q[(headRows ? headRows[r] : r) * units + o];
    }
    const wn = int8Weight(
      `${h.name}.weight`,
      flat ? [units, inN] : [units, inN, 1, 1],
      w,
      wq.scale,
    );
    const bn = floats(`${h.name}.bias`, [units], params[`${h.name}.bias`]);
    const outName = h.kind === "cls" ? "cls_logits" : h.kind;
    if (flat) nodes.push(node("Gemm", h.name, [cur, wn, bn], [outName], { transB: 1 }));
    else {
      nodes.push(
        node("Conv", h.name, [cur, wn, bn], [outName], { kernel_shape: [1, 1], strides: [1, 1] }),
      );
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
  graph.string(2, `mtcnn_${arch.name}_int8`);
  for (const t of inits) graph.msg(5, t);
  graph.msg(
    11,
    valueInfo("input", ["N", C, ...(spatialNet ? ["H", "W"] : [inp.size, inp.size])]),
  );
  for (const o of outputs) graph.msg(12, o);
  const model = new Msg();
  model.int(1, ONNX_IR_VERSION);
  model.string(2, "mtcnn-deno");
  model.string(3, "1");
  model.msg(7, graph);
  model.msg(8, new Msg().string(1, "").int(2, ONNX_OPSET));
  const meta = (k: string, v: string) => model.msg(14, new Msg().string(1, k).string(2, v));
  const info = exportedInput(data, "NCHW");
  if (!normalized) {
    Object.assign(info, {
      channelOrder: "RGB",
      mean: new Array(C).fill(0),
      scale: new Array(C).fill(1),
    });
  }
  meta("mtcnn.net", arch.name);
  meta("mtcnn.input", JSON.stringify(info));
  meta(
    "mtcnn.int8",
    JSON.stringify({ format: "QDQ", method: quant.method, bits: quant.bits ?? 8 }),
  );
  if (data.meta.provenance?.source) meta("mtcnn.source", data.meta.provenance.source);
  return model.encode();
}
