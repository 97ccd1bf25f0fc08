/**
 * Imports MTCNN-like nets from ONNX models (e.g. PyTorch exports: NCHW,
 * OIHW kernels, CHW flatten order) into our architecture and layout (NHWC,
 * HWIO kernels, HWC flatten order).
 *
 * The graph is walked from its input: Conv (plain or depthwise), PRelu,
 * LeakyRelu, Relu, MaxPool (ceil_mode 0 or 1), Flatten / Reshape to
 * [N, features] (shape subgraphs such as Shape → Gather → Concat are
 * evaluated), Transpose, Gemm or MatMul (+ Add), Identity/Dropout; then the
 * heads (1×1 Conv or Gemm/MatMul consumers of the last trunk tensor, told
 * apart by width 2 / 4 / 10), optionally followed by Softmax. Anything else is
 * a one-line TypeError naming the node and op.
 *
 * ONNX files do not say how pixels are normalised: the input convention comes
 * from the options and is recorded in the weights file. The default is the
 * seed models' (RGB, (x − 127.5) / 127.5).
 *
 * @example
 * ```ts
 * const model = parseOnnx(await Deno.readFile("rnet.onnx"), "rnet.onnx");
 * const data = onnxToNetData(model, { file: "rnet.onnx" });
 * data.arch.layers; // conv1, prelu1, maxpool (floor), ...
 * ```
 */
import type { HeadLayer, InputSpec, Layer, NetArch } from "./arch.ts";
import { planArch, receptiveField } from "./arch.ts";
import type { NetData, Provenance } from "./net.ts";
import {
  type Axis,
  denseFromOutIn,
  dimsOf,
  flattenPermutation,
  LANDMARKS_FROM_X5Y5,
  permuted,
} from "./import_common.ts";
import { type OnnxModel, type OnnxNode, parseOnnx } from "./onnx.ts";

/** The input convention of the seed's ONNX models: RGB, (x − 127.5) / 127.5. */
export const SEED_ONNX_INPUT = { channelOrder: "RGB" as const, mean: 127.5, scale: 1 / 127.5 };

/** Options of {@linkcode onnxToNetData}. */
export interface OnnxImportOptions {
  /** File name for error messages. */
  file?: string;
  /** Net name; default from the graph (spatial trunk → pnet, else by input size 24 → rnet, 48 → onet). */
  name?: string;
  /** How the source net wants its pixels (default {@linkcode SEED_ONNX_INPUT}). */
  input?: { channelOrder: "RGB" | "BGR"; mean: number | number[]; scale: number | number[] };
  /** Layout of a landmark head: x1..x5, y1..y5 (default) or x1, y1, ... */
  landmarkLayout?: "x5y5" | "xy";
  provenance?: Provenance;
}

type State =
  | { kind: "spatial"; axes: Axis[]; dims: Record<Axis, number> }
  | { kind: "flat"; size: number; perm: Int32Array | null };

/**
 * Converts a parsed ONNX model to our net (plain arrays). Throws one-line
 * TypeErrors naming the file, node and op for anything it cannot map.
 */
export function onnxToNetData(model: OnnxModel, opts: OnnxImportOptions = {}): NetData {
  const file = opts.file ?? "model.onnx";
  const g = model.graph;
  const fail = (what: string): never => {
    throw new TypeError(`Cannot import "${file}": ${what}`);
  };
  const nodeName = (n: OnnxNode) => `node ${n.index}${n.name ? ` "${n.name}"` : ""} (${n.opType})`;
  const inputSpec = opts.input ?? SEED_ONNX_INPUT;
  const notes: string[] = [];

  // ---- constants (initializers, Constant nodes, and what folds from them) ----
  const producer = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const shapes = new Map<string, number[]>(); // source-layout shapes of activations met so far
  const constants = new Map<string, { dims: number[]; values: ArrayLike<number> }>();
  for (const [name, t] of g.initializers) constants.set(name, { dims: t.dims, values: t.values });
  const constOf = (
    name: string,
    depth = 0,
  ): { dims: number[]; values: ArrayLike<number> } | undefined => {
    const c = constants.get(name);
    if (c || depth > 32) return c;
    const n = producer.get(name);
    if (!n) return undefined;
    const v = foldConstant(n, (x) => constOf(x, depth + 1), (x) => shapes.get(x));
    if (v) constants.set(name, v);
    return v;
  };
  const needConst = (n: OnnxNode, k: number) => {
    const c = n.inputs[k] ? constOf(n.inputs[k]) : undefined;
    if (!c) return fail(`${nodeName(n)}: input ${k} ("${n.inputs[k]}") is not a constant`);
    return c;
  };

  const consumers = (t: string) =>
    g.nodes.filter((n) =>
      n.inputs.includes(t) && n.opType !== "Shape" && !n.outputs.every((o) => isShapeOnly(o))
    );
  const shapeOnly = new Map<string, boolean>();
  // A tensor is "shape only" when it feeds nothing but shape computations (e.g. Reshape's target).
  function isShapeOnly(t: string): boolean {
    if (shapeOnly.has(t)) return shapeOnly.get(t)!;
    shapeOnly.set(t, false);
    const users = g.nodes.filter((n) => n.inputs.includes(t));
    const r = users.length > 0 &&
      users.every((u) =>
        (u.opType === "Reshape" && u.inputs[1] === t) ||
        (["Gather", "Unsqueeze", "Concat", "Cast", "Slice", "Squeeze"].includes(u.opType) &&
          u.outputs.every(isShapeOnly))
      );
    shapeOnly.set(t, r);
    return r;
  }

  // ---- the input ----
  const initNames = new Set(g.initializers.keys());
  const realInputs = g.inputs.filter((i) => !initNames.has(i.name));
  if (realInputs.length !== 1) fail(`the graph has ${realInputs.length} inputs, want 1`);
  const input = realInputs[0];
  if (input.shape.length !== 4) {
    fail(`input "${input.name}" has shape [${input.shape}], want [N, C, H, W]`);
  }
  const channels = typeof input.shape[1] === "number"
    ? input.shape[1]
    : fail(`input "${input.name}" has a symbolic channel count`);
  const fixedH = typeof input.shape[2] === "number" ? input.shape[2] : undefined;
  const fixedW = typeof input.shape[3] === "number" ? input.shape[3] : undefined;
  const inDims = [1, channels, fixedH ?? 1, fixedW ?? 1];
  let state: State = {
    kind: "spatial",
    axes: ["n", "c", "y", "x"],
    dims: dimsOf(["n", "c", "y", "x"], inDims),
  };
  const layers: Layer[] = [];
  const params: Record<string, Float32Array> = {};
  let nConv = 0;
  let nPrelu = 0;
  let nDense = 0;
  let first = true;
  let cur = input.name;
  const recordShape = (t: string) => {
    if (state.kind === "spatial") {
      shapes.set(
        t,
        state.axes.map((a) => (state as Extract<State, { kind: "spatial" }>).dims[a]),
      );
    } else shapes.set(t, [1, state.size]);
  };
  recordShape(cur);
  const spatial = (n: OnnxNode) => {
    if (state.kind !== "spatial") return fail(`${nodeName(n)} follows a flatten`);
    if (state.axes[0] !== "n" || state.axes[1] !== "c") {
      fail(`${nodeName(n)}: input axes are not NCHW after a transpose`);
    }
    return state;
  };
  const attrInts = (n: OnnxNode, key: string, dflt: number[]) => {
    const v = n.attributes[key];
    return Array.isArray(v) ? v : dflt;
  };
  const attrNum = (n: OnnxNode, key: string, dflt: number) => {
    const v = n.attributes[key];
    return typeof v === "number" ? v : dflt;
  };
  const checkPads = (n: OnnxNode, k: number[]) => {
    const pads = attrInts(n, "pads", [0, 0, 0, 0]);
    if (pads.some((p) => p !== 0)) {
      fail(`${nodeName(n)}: padding [${pads}] is not supported (arch layers are unpadded)`);
    }
    const auto = n.attributes["auto_pad"];
    if (
      typeof auto === "string" && auto !== "NOTSET" && auto !== "VALID" &&
      !(k[0] === 1 && k[1] === 1)
    ) {
      fail(`${nodeName(n)}: auto_pad ${auto} is not supported`);
    }
    if (attrInts(n, "dilations", [1, 1]).some((d) => d !== 1)) {
      fail(`${nodeName(n)}: dilations are not supported`);
    }
  };
  const addPrelu = (alpha: ArrayLike<number>, n: OnnxNode) => {
    const c = state.kind === "spatial" ? state.dims.c : state.size;
    const a = alpha.length === 1 ? new Float32Array(c).fill(alpha[0]) : Float32Array.from(alpha);
    if (a.length !== c) fail(`${nodeName(n)}: ${alpha.length} slopes for ${c} channels`);
    const name = `prelu${++nPrelu}`;
    layers.push({ kind: "prelu", name });
    params[`${name}.alpha`] = a;
  };
  const flatten = () => {
    if (state.kind !== "spatial") return;
    const perm = flattenPermutation(state.axes, state.dims);
    if (perm) notes.push("dense rows permuted from the source's flatten order to HWC");
    layers.push({ kind: "flatten" });
    state = { kind: "flat", size: state.dims.y * state.dims.x * state.dims.c, perm };
  };
  /** Dense weights [out, in] and bias of a Gemm, or of a MatMul with its Add; returns the node whose output ends it. */
  const denseOf = (
    n: OnnxNode,
  ): { w: Float32Array; b: Float32Array; outN: number; inN: number; last: OnnxNode } => {
    if (n.opType === "Gemm") {
      if (attrNum(n, "transA", 0) !== 0) fail(`${nodeName(n)}: transA is not supported`);
      const B = needConst(n, 1);
      const transB = attrNum(n, "transB", 0) !== 0;
      const [outN, inN] = transB ? B.dims : [B.dims[1], B.dims[0]];
      const alpha = attrNum(n, "alpha", 1);
      const beta = attrNum(n, "beta", 1);
      const w = new Float32Array(outN * inN);
      for (let o = 0; o < outN; o++) {
        for (let i = 0; i < inN; i++) {
          w[o * inN + i] = alpha * B.values[transB ? o * inN + i : i * outN + o];
        }
      }
      const b = new Float32Array(outN);
      if (n.inputs[2]) {
        const C = needConst(n, 2);
        if (C.values.length !== outN && C.values.length !== 1) {
          fail(`${nodeName(n)}: bias of ${C.values.length} values for ${outN} outputs`);
        }
        for (let o = 0; o < outN; o++) b[o] = beta * C.values[C.values.length === 1 ? 0 : o];
      }
      return { w, b, outN, inN, last: n };
    }
    // MatMul(x, W[in, out]) [+ Add(bias)]
    const B = needConst(n, 1);
    if (B.dims.length !== 2) fail(`${nodeName(n)}: weights of rank ${B.dims.length}`);
    const [inN, outN] = B.dims;
    const w = new Float32Array(outN * inN);
    for (let o = 0; o < outN; o++) {
      for (let i = 0; i < inN; i++) w[o * inN + i] = B.values[i * outN + o];
    }
    const b = new Float32Array(outN);
    const next = consumers(n.outputs[0]);
    if (next.length === 1 && next[0].opType === "Add") {
      const add = next[0];
      const other = add.inputs.find((i) => i !== n.outputs[0])!;
      const C = constOf(other);
      if (C && (C.values.length === outN || C.values.length === 1)) {
        for (let o = 0; o < outN; o++) b[o] = C.values[C.values.length === 1 ? 0 : o];
        return { w, b, outN, inN, last: add };
      }
    }
    return { w, b, outN, inN, last: n };
  };

  // ---- the trunk ----
  for (;;) {
    const cs = consumers(cur);
    if (cs.length === 0) fail(`tensor "${cur}" feeds nothing before the heads were found`);
    if (cs.length > 1) break; // the heads
    const n = cs[0];
    let out = n.outputs[0];
    switch (n.opType) {
      case "Conv": {
        const s = spatial(n);
        const W = needConst(n, 1);
        const [outC, inPerGroup, kh0, kw0] = W.dims;
        const k = attrInts(n, "kernel_shape", [kh0, kw0]);
        checkPads(n, k);
        const strides = attrInts(n, "strides", [1, 1]);
        if (strides[0] !== strides[1]) fail(`${nodeName(n)}: strides [${strides}] differ`);
        const group = attrNum(n, "group", 1);
        const inC = s.dims.c;
        const depthwise = group !== 1;
        if (depthwise && !(group === inC && outC === inC && inPerGroup === 1)) {
          fail(`${nodeName(n)}: grouped convolution (group ${group}) other than depthwise`);
        }
        if (!depthwise && inPerGroup !== inC) {
          fail(
            `${nodeName(n)}: weights want ${inPerGroup} input channels, the activation has ${inC}`,
          );
        }
        if (first && inputSpec.channelOrder === "BGR" && depthwise) {
          fail(`${nodeName(n)}: a depthwise first layer on BGR input`);
        }
        const bgr = first && inputSpec.channelOrder === "BGR";
        // kernel axis 2 runs along the activation's axis 2
        const yFirst = s.axes[2] === "y";
        const kh = yFirst ? kh0 : kw0;
        const kw = yFirst ? kw0 : kh0;
        const ic = depthwise ? 1 : inC;
        const w = new Float32Array(kh * kw * ic * outC);
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const [a, b] = yFirst ? [ky, kx] : [kx, ky];
            for (let i = 0; i < ic; i++) {
              const si = bgr ? ic - 1 - i : i;
              for (let o = 0; o < outC; o++) {
                w[((ky * kw + kx) * ic + i) * outC + o] =
                  W.values[((o * inPerGroup + si) * kh0 + a) * kw0 + b];
              }
            }
          }
        }
        const name = `conv${++nConv}`;
        if (depthwise) {
          layers.push({ kind: "depthwise", name, kh, kw, stride: strides[0], padding: "valid" });
        } else {layers.push({
            kind: "conv",
            name,
            kh,
            kw,
            stride: strides[0],
            filters: outC,
            padding: "valid",
          });}
        params[`${name}.weight`] = w;
        params[`${name}.bias`] = n.inputs[2]
          ? Float32Array.from(needConst(n, 2).values)
          : new Float32Array(outC);
        if (bgr) notes.push("conv1 input channels reversed: BGR source, RGB input");
        const oh = Math.floor((s.dims.y - kh) / strides[0]) + 1;
        const ow = Math.floor((s.dims.x - kw) / strides[0]) + 1;
        state = { kind: "spatial", axes: s.axes, dims: { ...s.dims, c: outC, y: oh, x: ow } };
        break;
      }
      case "PRelu":
        addPrelu(needConst(n, 1).values, n);
        break;
      case "LeakyRelu":
        addPrelu([attrNum(n, "alpha", 0.01)], n);
        break;
      case "Relu":
        layers.push({ kind: "relu" });
        break;
      case "MaxPool": {
        const s = spatial(n);
        const k = attrInts(n, "kernel_shape", []);
        const st = attrInts(n, "strides", [1, 1]);
        if (k.length !== 2 || k[0] !== k[1] || st[0] !== st[1]) {
          fail(`${nodeName(n)}: non-square pooling ${k}/${st}`);
        }
        checkPads(n, [2, 2]);
        const rounding = attrNum(n, "ceil_mode", 0) ? "ceil" : "floor";
        layers.push({ kind: "maxpool", size: k[0], stride: st[0], rounding });
        const f = rounding === "ceil" ? Math.ceil : Math.floor;
        state = {
          kind: "spatial",
          axes: s.axes,
          dims: {
            ...s.dims,
            y: f((s.dims.y - k[0]) / st[0]) + 1,
            x: f((s.dims.x - k[0]) / st[0]) + 1,
          },
        };
        break;
      }
      case "Transpose": {
        if (state.kind !== "spatial") return fail(`${nodeName(n)} follows a flatten`);
        const perm = attrInts(n, "perm", [3, 2, 1, 0]);
        const axes = perm.map((i) => (state as Extract<State, { kind: "spatial" }>).axes[i]);
        state = { kind: "spatial", axes, dims: state.dims };
        break;
      }
      case "Flatten":
        if (attrNum(n, "axis", 1) !== 1) fail(`${nodeName(n)}: flatten axis other than 1`);
        flatten();
        break;
      case "Reshape": {
        const target = needConst(n, 1).values;
        if (target.length !== 2 || !(target[0] === 1 || target[0] === 0 || target[0] === -1)) {
          fail(
            `${nodeName(n)}: only reshapes to [N, features] are supported, got [${
              Array.from(target)
            }]`,
          );
        }
        flatten();
        break;
      }
      case "Gemm":
      case "MatMul": {
        flatten();
        const s = state as Extract<State, { kind: "flat" }>;
        const d = denseOf(n);
        if (d.inN !== s.size) {
          fail(`${nodeName(n)}: weights want ${d.inN} inputs, the activation has ${s.size}`);
        }
        const name = nDense++ === 0 ? "fc" : `fc${nDense}`;
        layers.push({ kind: "dense", name, units: d.outN });
        params[`${name}.weight`] = denseFromOutIn(d.w, d.outN, d.inN, s.perm);
        params[`${name}.bias`] = d.b;
        state = { kind: "flat", size: d.outN, perm: null };
        out = d.last.outputs[0];
        break;
      }
      case "Identity":
      case "Dropout":
        break;
      default:
        fail(`${nodeName(n)} is not supported`);
    }
    if (n.opType === "Conv") first = false;
    cur = out;
    recordShape(cur);
  }

  // ---- the heads ----
  const heads: { layer: HeadLayer; w: Float32Array; b: Float32Array; out: string }[] = [];
  for (const n of consumers(cur)) {
    let w: Float32Array;
    let b: Float32Array;
    let outN: number;
    let last = n;
    let perm: Int32Array | null = null;
    if (n.opType === "Conv") {
      if (state.kind !== "spatial") return fail(`${nodeName(n)}: a conv head after a flatten`);
      const W = needConst(n, 1);
      if (W.dims[2] !== 1 || W.dims[3] !== 1) {
        fail(`${nodeName(n)}: conv heads must be 1x1, got ${W.dims[2]}x${W.dims[3]}`);
      }
      if (attrNum(n, "group", 1) !== 1) fail(`${nodeName(n)}: a grouped conv head`);
      checkPads(n, [1, 1]);
      outN = W.dims[0];
      w = Float32Array.from(W.values);
      b = n.inputs[2] ? Float32Array.from(needConst(n, 2).values) : new Float32Array(outN);
    } else if (n.opType === "Gemm" || n.opType === "MatMul") {
      if (state.kind === "spatial") return fail(`${nodeName(n)}: a dense head on a spatial trunk`);
      const d = denseOf(n);
      if (d.inN !== state.size) {
        fail(`${nodeName(n)}: weights want ${d.inN} inputs, the activation has ${state.size}`);
      }
      ({ w, b, outN, last } = d);
      perm = state.perm;
    } else {
      return fail(`${nodeName(n)}: heads must be 1x1 Conv, Gemm or MatMul`);
    }
    const kind = outN === 2
      ? "cls"
      : outN === 4
      ? "box"
      : outN === 10
      ? "landmarks"
      : fail(`${nodeName(n)}: a head of ${outN} outputs (want 2, 4 or 10)`);
    let outPerm: number[] | undefined;
    if (kind === "landmarks" && (opts.landmarkLayout ?? "x5y5") === "x5y5") {
      outPerm = LANDMARKS_FROM_X5Y5;
      notes.push("landmark outputs reordered from x1..x5, y1..y5 to x1, y1, ..., x5, y5");
    }
    const inN = w.length / outN;
    heads.push({
      layer: { kind, name: kind } as HeadLayer,
      w: denseFromOutIn(w, outN, inN, perm, outPerm),
      b: permuted(b, outPerm),
      out: last.outputs[0],
    });
  }
  const order = ["cls", "box", "landmarks"];
  heads.sort((a, b) => order.indexOf(a.layer.kind) - order.indexOf(b.layer.kind));
  for (const h of heads) {
    layers.push(h.layer);
    params[`${h.layer.name}.weight`] = h.w;
    params[`${h.layer.name}.bias`] = h.b;
  }
  // every graph output must be a head, possibly through Softmax / Flatten / Reshape / Squeeze
  for (const o of g.outputs) {
    let t = o.name;
    for (let guard = 0; guard < 8 && !heads.some((h) => h.out === t); guard++) {
      const n = producer.get(t);
      if (!n) break;
      if (!["Softmax", "Flatten", "Reshape", "Squeeze", "Identity", "Sigmoid"].includes(n.opType)) {
        fail(`${nodeName(n)} after the heads is not supported`);
      }
      t = n.inputs[0];
    }
    if (!heads.some((h) => h.out === t)) fail(`output "${o.name}" does not come from the heads`);
  }

  // ---- name and input ----
  const spatialTrunk = state.kind === "spatial";
  const probe: NetArch = { name: "probe", input: { ...specOf(inputSpec, channels, 1) }, layers };
  const size = fixedH !== undefined && fixedH === fixedW
    ? fixedH
    : spatialTrunk
    ? receptiveField(probe)
    : fail(`input "${input.name}" has no fixed square size`);
  const name = opts.name ??
    (spatialTrunk ? "pnet" : size === 24 ? "rnet" : size === 48 ? "onet" : `net${size}`);
  const arch: NetArch = { name, input: specOf(inputSpec, channels, size), layers };
  planArch(arch);
  notes.push("kernels OIHW → HWIO (NCHW source)");
  notes.push(
    `input convention: ${inputSpec.channelOrder}, mean ${JSON.stringify(inputSpec.mean)}, scale ${
      JSON.stringify(inputSpec.scale)
    }`,
  );
  const provenance: Provenance = {
    ...(opts.provenance ?? { source: file }),
    notes: [...new Set([...(opts.provenance?.notes ?? []), ...notes])],
  };
  return { arch, params, meta: { provenance } };
}

function specOf(
  s: NonNullable<OnnxImportOptions["input"]>,
  channels: number,
  size: number,
): InputSpec {
  const arr = (
    v: number | number[],
  ) => (Array.isArray(v) ? v.slice() : new Array(channels).fill(v));
  const mean = arr(s.mean);
  const scale = arr(s.scale);
  // means and scales are given in the source's channel order; ours is RGB
  if (s.channelOrder === "BGR") {
    mean.reverse();
    scale.reverse();
  }
  return { size, channels, channelOrder: "RGB", mean, scale };
}

/** Evaluates shape-computation and constant nodes; undefined when `n` is not constant. */
function foldConstant(
  n: OnnxNode,
  constOf: (name: string) => { dims: number[]; values: ArrayLike<number> } | undefined,
  shapeOf: (name: string) => number[] | undefined,
): { dims: number[]; values: ArrayLike<number> } | undefined {
  const ins = () => n.inputs.map((i) => (i ? constOf(i) : undefined));
  const ints = (v: unknown) => (Array.isArray(v) ? (v as number[]) : undefined);
  switch (n.opType) {
    case "Constant": {
      const v = n.attributes["value"];
      if (v && typeof v === "object" && !Array.isArray(v)) {
        return { dims: v.dims, values: v.values };
      }
      const f = n.attributes["value_float"] ?? n.attributes["value_int"];
      if (typeof f === "number") return { dims: [], values: [f] };
      const fs = ints(n.attributes["value_floats"] ?? n.attributes["value_ints"]);
      return fs ? { dims: [fs.length], values: fs } : undefined;
    }
    case "Shape": {
      const s = shapeOf(n.inputs[0]);
      return s ? { dims: [s.length], values: s } : undefined;
    }
    case "Identity":
    case "Cast":
      return ins()[0];
    case "Unsqueeze":
    case "Squeeze":
    case "Reshape":
    case "Flatten": {
      const [x, second] = ins();
      if (!x) return undefined;
      let dims = x.dims.slice();
      if (n.opType === "Unsqueeze") {
        const axes = ints(n.attributes["axes"]) ?? (second ? Array.from(second.values) : []);
        const rank = dims.length + axes.length;
        for (const a of axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q)) {
          dims.splice(a, 0, 1);
        }
      } else if (n.opType === "Squeeze") {
        const axes = ints(n.attributes["axes"]) ?? (second ? Array.from(second.values) : undefined);
        dims = axes
          ? dims.filter((_, i) => !axes.map((a) => (a < 0 ? a + x.dims.length : a)).includes(i))
          : dims.filter((d) => d !== 1);
      } else if (n.opType === "Reshape") {
        if (!second) return undefined;
        const total = x.values.length;
        const t = Array.from(second.values).map((d, i) => (d === 0 ? x.dims[i] : d));
        const known = t.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        dims = t.map((d) => (d === -1 ? total / known : d));
      } else dims = [dims[0] ?? 1, x.values.length / (dims[0] ?? 1)];
      return { dims, values: x.values };
    }
    case "Gather": {
      const [x, idx] = ins();
      if (!x || !idx || x.dims.length !== 1) return undefined;
      const values = Array.from(idx.values).map((i) => x.values[i < 0 ? i + x.values.length : i]);
      return { dims: idx.dims, values };
    }
    case "Concat": {
      const xs = ins();
      if (xs.some((x) => !x) || xs.some((x) => x!.dims.length > 1)) return undefined;
      const values = xs.flatMap((x) => Array.from(x!.values));
      return { dims: [values.length], values };
    }
    default:
      return undefined;
  }
}

/** Parses and converts `.onnx` bytes in one step. */
export function importOnnxBytes(bytes: Uint8Array, opts: OnnxImportOptions = {}): NetData {
  return onnxToNetData(parseOnnx(bytes, opts.file), opts);
}
