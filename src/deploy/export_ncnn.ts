/**
 * Exports a net as an ncnn model: the `.param` text (magic 7767517, layer and
 * blob counts, one line per layer: type, name, input and output counts, blob
 * names, `k=v` params) and the `.bin` weights (float32; conv and dense weights
 * behind a 4-byte zero flag, biases and slopes raw).
 *
 * Layers: Input; Convolution (0=num_output 1=kernel_w 11=kernel_h 3=stride_w
 * 13=stride_h 5=bias_term 6=weight_data_size, OIHW weights); ConvolutionDepthWise
 * (the same plus 7=group); PReLU (0=num_slope); ReLU; Pooling (0=0 max,
 * 1/11 kernel, 2/12 stride, 5=pad_mode: 0 "full" = Caffe ceil, 1 valid = floor);
 * InnerProduct (0=num_output 1=bias_term 2=weight_data_size; ncnn flattens
 * CHW, so the rows of the first dense layer are permuted from our HWC order;
 * no Flatten layer is needed); Split where a blob feeds several layers (the
 * heads); Softmax (0=0 over channels, 1=1) for the face probability.
 *
 * Blobs: input `input` (ncnn Mat w×h×3, RGB 0..255 with the normalisation
 * folded into conv1, see export_common.ts; or normalised in the arch's channel
 * order with `input: "normalized"`, e.g. for apps that call
 * `substract_mean_normalize`), outputs `prob` (2 channels: not-face, face),
 * `box` (4), `landmarks` (10, when the net has it). PNet's Input layer has no
 * fixed size: ncnn runs it on any image.
 *
 * @example
 * ```ts
 * const { param, bin } = exportNcnn(await loadNetData("weights/original/pnet.mtcnn"));
 * await writeTextFileAtomic("pnet.param", param);
 * await writeFileAtomic("pnet.bin", bin);
 * ```
 */
import { HEAD_UNITS, planArch } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import {
  chwToHwc,
  denseOutIn,
  type ExportOptions,
  hwioToOihw,
  isFullyConvolutional,
  prepareExport,
} from "./export_common.ts";

/** First line of every ncnn .param file. */
export const NCNN_MAGIC = 7767517;

/** An ncnn model: param text and weights. */
export interface NcnnModel {
  param: string;
  bin: Uint8Array;
}

interface LayerLine {
  type: string;
  name: string;
  inputs: string[];
  outputs: string[];
  params: [number, number][];
}

/**
 * Exports `data` as an ncnn `.param` / `.bin` pair. Throws a one-line
 * TypeError for what the export cannot express (see {@linkcode prepareExport}).
 *
 * @example
 * ```ts
 * const { param, bin } = exportNcnn(onetData);
 * ```
 */
export function exportNcnn(source: NetData, opts: ExportOptions = {}): NcnnModel {
  const data = prepareExport(source, "ncnn", opts);
  const { arch, params } = data;
  const plan = planArch(arch);
  const lines: LayerLine[] = [];
  const chunks: Uint8Array[] = [];
  const floats = (v: ArrayLike<number>, flagged: boolean) => {
    if (flagged) chunks.push(new Uint8Array(4)); // flag 0: raw float32 follows
    chunks.push(new Uint8Array(Float32Array.from(v).buffer));
  };
  const C = arch.input.channels;
  const spatialNet = isFullyConvolutional(arch);
  lines.push({
    type: "Input",
    name: "input",
    inputs: [],
    outputs: ["input"],
    params: spatialNet ? [[2, C]] : [[0, arch.input.size], [1, arch.input.size], [2, C]],
  });
  let cur = "input";
  let hwc: number[] = [arch.input.size, arch.input.size, C];
  let flat = false;
  let flatSize = 0;
  let flattened: number[] | null = null;
  const denseRows = () => {
    const rows = flattened ? chwToHwc(flattened[0], flattened[1], flattened[2]) : null;
    flattened = null;
    return rows;
  };
  const add = (type: string, name: string, ps: [number, number][]) => {
    lines.push({ type, name, inputs: [cur], outputs: [name], params: ps });
    cur = name;
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
        const ps: [number, number][] = [
          [0, outC],
          [1, l.kw],
          [11, l.kh],
          [3, l.stride],
          [13, l.stride],
          [5, 1],
          [6, w.length],
        ];
        if (l.kind === "depthwise") ps.push([7, inC]);
        add(l.kind === "conv" ? "Convolution" : "ConvolutionDepthWise", l.name, ps);
        floats(w, true);
        floats(params[`${l.name}.bias`], false);
        hwc = plan.shapes[i];
        break;
      }
      case "prelu": {
        const a = params[`${l.name}.alpha`];
        add("PReLU", l.name, [[0, a.length]]);
        floats(a, false);
        break;
      }
      case "relu":
        add("ReLU", `relu${i}`, []);
        break;
      case "maxpool":
        add("Pooling", `pool${i}`, [
          [0, 0],
          [1, l.size],
          [11, l.size],
          [2, l.stride],
          [12, l.stride],
          [5, l.rounding === "ceil" ? 0 : 1],
        ]);
        hwc = plan.shapes[i];
        break;
      case "flatten":
        // InnerProduct flattens its input itself (in CHW order)
        flattened = hwc;
        flat = true;
        flatSize = hwc[0] * hwc[1] * hwc[2];
        break;
      case "dense": {
        const w = denseOutIn(params[`${l.name}.weight`], flatSize, l.units, denseRows());
        add("InnerProduct", l.name, [[0, l.units], [1, 1], [2, w.length]]);
        floats(w, true);
        floats(params[`${l.name}.bias`], false);
        flatSize = l.units;
        break;
      }
    }
  });
  // the heads all read `cur`: split it
  const heads = plan.heads;
  const trunk = cur;
  if (heads.length > 1) {
    const outs = heads.map((_, k) => `${trunk}_splitncnn_${k}`);
    lines.push({
      type: "Split",
      name: "splitncnn_0",
      inputs: [trunk],
      outputs: outs,
      params: [],
    });
  }
  const headRows = flat ? denseRows() : null;
  heads.forEach((h, k) => {
    const units = HEAD_UNITS[h.kind];
    cur = heads.length > 1 ? `${trunk}_splitncnn_${k}` : trunk;
    const outName = h.kind === "cls" ? "cls_logits" : h.kind;
    const w = params[`${h.name}.weight`];
    if (!flat) {
      const c = hwc[2];
      const wt = denseOutIn(w, c, units, null); // [units, c] = OIHW of a 1×1 conv
      add("Convolution", outName, [[0, units], [1, 1], [11, 1], [5, 1], [6, wt.length]]);
      floats(wt, true);
    } else {
      const wt = denseOutIn(w, flatSize, units, headRows);
      add("InnerProduct", outName, [[0, units], [1, 1], [2, wt.length]]);
      floats(wt, true);
    }
    floats(params[`${h.name}.bias`], false);
    if (h.kind === "cls") add("Softmax", "prob", [[0, 0], [1, 1]]);
  });
  const blobs = new Set<string>();
  for (const l of lines) for (const o of l.outputs) blobs.add(o);
  const text = [
    String(NCNN_MAGIC),
    `${lines.length} ${blobs.size}`,
    ...lines.map((l) =>
      [
        l.type.padEnd(20),
        l.name.padEnd(24),
        String(l.inputs.length),
        String(l.outputs.length),
        ...l.inputs,
        ...l.outputs,
        ...l.params.map(([k, v]) => `${k}=${v}`),
      ].join(" ").trimEnd()
    ),
  ].join("\n") + "\n";
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const bin = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    bin.set(c, o);
    o += c.length;
  }
  return { param: text, bin };
}
