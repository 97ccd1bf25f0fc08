/**
 * What every exporter shares: the input convention of an exported model,
 * folding our input normalisation into the first convolution, the checks that
 * refuse what a target format cannot express, and the permutation between our
 * HWC flatten order and the CHW order of NCHW runtimes.
 *
 * Input convention of exported models (`input: "pixels"`, the default): the
 * model takes RGB pixel values 0..255 (NHWC for TFLite and tfjs, NCHW for ONNX
 * and ncnn). The arch's channel order and `(x − mean) · scale` are folded into
 * conv1, which is exact with valid padding:
 * `w'[ky,kx,i,o] = w[ky,kx,c(i),o] · scale[c(i)]`,
 * `b'[o] = b[o] − Σ w[ky,kx,c,o] · scale[c] · mean[c]` (c(i) the net's channel
 * that reads RGB channel i). With `input: "normalized"` nothing is folded and
 * the model takes what {@linkcode forward} takes with `normalized: true`
 * (the arch's channel order, already normalised; e.g. for ncnn apps that call
 * `substract_mean_normalize` themselves).
 *
 * @example
 * ```ts
 * const folded = foldInputNormalization(data); // conv1 now reads 0..255 RGB
 * const net = prepareExport(data, "ncnn", { file: "pnet.mtcnn" });
 * ```
 */
import { type Layer, type MaxPoolLayer, type NetArch, planArch } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";

/** The formats `deno task export` writes. */
export type ExportFormat = "tflite" | "onnx" | "ncnn" | "tfjs";

/** Human names of the formats, for messages. */
export const FORMAT_NAMES: Record<ExportFormat, string> = {
  tflite: "TFLite",
  onnx: "ONNX",
  ncnn: "ncnn",
  tfjs: "tfjs",
};

/** Options every exporter takes. */
export interface ExportOptions {
  /**
   * `pixels` (default): the model takes RGB 0..255, normalisation folded into
   * conv1. `normalized`: the model takes normalised input in the arch's
   * channel order.
   */
  input?: "pixels" | "normalized";
  /**
   * Names of the tensors the weights file stores as int8 (see
   * {@linkcode quantizedTensors}). A net with int8 tensors (or `quant`)
   * exports as an int8 model where the format has one (TFLite, ONNX QDQ);
   * the other formats refuse it in one line unless `float` is set.
   */
  quantized?: string[];
  /** Export an int8 net's dequantised float32 weights as a float model. */
  float?: boolean;
  /** Name of the source (weights file) for error messages. */
  file?: string;
}

/** What the exported graph's input expects, recorded in each format's metadata. */
export interface ExportedInput {
  layout: "NHWC" | "NCHW";
  channelOrder: "RGB" | "BGR";
  /** Per-channel value subtracted from 0..255 pixels before the model ([0,0,0] when folded). */
  mean: number[];
  /** Per-channel factor after the mean ([1,1,1] when folded). */
  scale: number[];
  /** The training size (PNet: the smallest input, any larger size works). */
  size: number;
  /** True for fully convolutional nets (height and width free). */
  dynamicSize: boolean;
}

/**
 * Checks that `data` can be exported to `format` and returns the net the
 * exporter should write (normalisation folded unless `input: "normalized"`).
 * Throws a one-line TypeError naming the source, the format and the reason.
 */
export function prepareExport(
  data: NetData,
  format: ExportFormat,
  opts: ExportOptions = {},
): NetData {
  const where = `Cannot export "${opts.file ?? data.arch.name}" to ${FORMAT_NAMES[format]}`;
  const fail = (what: string): never => {
    throw new TypeError(`${where}: ${what}`);
  };
  if (isInt8Source(data, opts) && !opts.float) {
    const first = opts.quantized?.[0] ?? Object.keys(data.quant?.weights ?? {})[0];
    fail(`tensor ${first} is int8 and ${INT8_REFUSALS[format]}; export with --float to dequantise`);
  }
  checkExportable(data, format, opts);
  if ((opts.input ?? "pixels") === "normalized") return data;
  try {
    return foldInputNormalization(data);
  } catch (e) {
    return fail((e as Error).message);
  }
}

/** Why a format's exporter does not write int8 models (the ones that do are absent). */
export const INT8_REFUSALS: Record<ExportFormat, string> = {
  tflite: "the file has no activation ranges for an int8 TFLite model (run deno task quantize)",
  onnx: "the file has no activation ranges for an int8 ONNX model (run deno task quantize)",
  ncnn:
    "ncnn's int8 layers quantise activations symmetrically (a scale, no zero point), which cannot hold our asymmetric uint8 activation ranges",
  tfjs: "a tfjs graph model runs float32 kernels only (its weight compression dequantises on load)",
};

/** True when `data` (or the file it came from, `opts.quantized`) holds int8 tensors. */
export function isInt8Source(data: NetData, opts: ExportOptions = {}): boolean {
  return !!data.quant || !!opts.quantized?.length;
}

/**
 * The checks every export makes before writing (arch plans, pools, padding),
 * without folding anything. Throws a one-line TypeError naming the source and
 * the format (`what` is appended to the format's name, e.g. " int8").
 */
export function checkExportable(
  data: NetData,
  format: ExportFormat,
  opts: ExportOptions = {},
  what = "",
): void {
  const where = `Cannot export "${opts.file ?? data.arch.name}" to ${FORMAT_NAMES[format]}${what}`;
  const fail = (msg: string): never => {
    throw new TypeError(`${where}: ${msg}`);
  };
  try {
    planArch(data.arch);
  } catch (e) {
    fail((e as Error).message);
  }
  data.arch.layers.forEach((l: Layer, i) => {
    if (l.kind === "maxpool" && l.rounding === "ceil" && l.size < l.stride) {
      fail(
        `layer ${i} (maxpool ${l.size}/${l.stride} ceil) has windows past the edge, which ${
          FORMAT_NAMES[format]
        } computes differently`,
      );
    }
    if (l.kind === "gconv" && (format !== "onnx" || what !== "")) {
      fail(
        `layer ${i} (gconv "${l.name}", grouped 1x1 with channel shuffle) exports to float ONNX only`,
      );
    }
    if ((l.kind === "conv" || l.kind === "depthwise") && l.padding !== "valid") {
      fail(`layer ${i} (${l.kind} "${l.name}") has padding ${l.padding}; only valid is exported`);
    }
  });
}

/**
 * A copy of `data` whose conv1 reads RGB 0..255 pixels directly: the arch's
 * channel order and (x − mean) · scale folded into conv1's weights and bias;
 * `arch.input` becomes RGB, mean 0, scale 1. Throws a one-line TypeError when
 * the first layer is not a convolution (or is depthwise on BGR input).
 *
 * @example
 * ```ts
 * const raw = foldInputNormalization(await loadNetData("weights/original/onet.mtcnn"));
 * raw.arch.input.mean; // [0, 0, 0]
 * ```
 */
export function foldInputNormalization(data: NetData): NetData {
  const { arch } = data;
  const inp = arch.input;
  const first = arch.layers[0];
  const identity = inp.channelOrder === "RGB" && inp.mean.every((m) => m === 0) &&
    inp.scale.every((s) => s === 1);
  if (identity) return data;
  if (!first || (first.kind !== "conv" && first.kind !== "depthwise")) {
    throw new TypeError(
      `the first layer is ${
        first ? first.kind : "missing"
      }, so the input normalisation cannot be folded (export with input "normalized")`,
    );
  }
  const bgr = inp.channelOrder === "BGR";
  if (bgr && first.kind === "depthwise") {
    throw new TypeError(
      'a depthwise first layer on BGR input cannot fold the channel order (export with input "normalized")',
    );
  }
  const C = inp.channels;
  const w = data.params[`${first.name}.weight`];
  const b = data.params[`${first.name}.bias`];
  const outC = first.kind === "conv" ? first.filters : C;
  const inC = first.kind === "conv" ? C : 1;
  const taps = first.kh * first.kw;
  const w2 = new Float32Array(w.length);
  const shift = new Float64Array(outC);
  for (let k = 0; k < taps; k++) {
    for (let i = 0; i < inC; i++) {
      for (let o = 0; o < outC; o++) {
        const idx = (k * inC + i) * outC + o;
        // depthwise: output channel o reads input channel o
        const c = first.kind === "conv" ? i : o;
        shift[o] += w[idx] * inp.scale[c] * inp.mean[c];
        // RGB channel i feeds the net's channel c = C-1-i on BGR input
        const src = bgr ? (k * inC + (C - 1 - i)) * outC + o : idx;
        const cs = bgr ? C - 1 - i : c;
        w2[idx] = w[src] * inp.scale[cs];
      }
    }
  }
  const b2 = new Float32Array(outC);
  for (let o = 0; o < outC; o++) b2[o] = b[o] - shift[o];
  const foldedArch: NetArch = {
    ...arch,
    input: {
      ...inp,
      channelOrder: "RGB",
      mean: new Array(C).fill(0),
      scale: new Array(C).fill(1),
    },
  };
  const notes = [
    ...(data.meta.provenance?.notes ?? []),
    `input normalisation (${inp.channelOrder}, mean ${JSON.stringify(inp.mean)}, scale ${
      JSON.stringify(inp.scale)
    }) folded into ${first.name}: the model takes RGB 0..255`,
  ];
  return {
    arch: foldedArch,
    params: { ...data.params, [`${first.name}.weight`]: w2, [`${first.name}.bias`]: b2 },
    meta: {
      ...data.meta,
      provenance: { ...(data.meta.provenance ?? { source: arch.name }), notes },
    },
  };
}

/** The input convention of a prepared net, for the metadata each format carries. */
export function exportedInput(data: NetData, layout: "NHWC" | "NCHW"): ExportedInput {
  const plan = planArch(data.arch);
  return {
    layout,
    channelOrder: data.arch.input.channelOrder,
    mean: data.arch.input.mean.slice(),
    scale: data.arch.input.scale.slice(),
    size: data.arch.input.size,
    dynamicSize: plan.trunkOut.length === 3,
  };
}

/** True when the net's trunk stays spatial (PNet: any input size, heads are 1×1 convs). */
export function isFullyConvolutional(arch: NetArch): boolean {
  return planArch(arch).trunkOut.length === 3;
}

/**
 * For each row of a CHW-flattened activation, the row of our HWC-flattened
 * one: `hwc[chwToHwc[r]]` is CHW row r. Dense weights [in, out] in our order
 * become CHW-ordered by taking rows through it.
 */
export function chwToHwc(h: number, w: number, c: number): Int32Array {
  const perm = new Int32Array(h * w * c);
  let r = 0;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) perm[r++] = (y * w + x) * c + ch;
    }
  }
  return perm;
}

/**
 * Dense weights [in, out] (ours) as [out, in] with the input rows taken
 * through `rows` (new row r = our row rows[r]; identity when null).
 */
export function denseOutIn(
  w: Float32Array,
  inN: number,
  outN: number,
  rows: Int32Array | null,
): Float32Array {
  const out = new Float32Array(inN * outN);
  for (let o = 0; o < outN; o++) {
    for (let r = 0; r < inN; r++) out[o * inN + r] = w[(rows ? rows[r] : r) * outN + o];
  }
  return out;
}

/** Conv weights HWIO (ours) as OIHW (ONNX, ncnn). Depthwise [kh, kw, C, 1] becomes [C, 1, kh, kw]. */
export function hwioToOihw(
  w: Float32Array,
  kh: number,
  kw: number,
  inC: number,
  outC: number,
): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < outC; o++) {
    for (let i = 0; i < inC; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((o * inC + i) * kh + y) * kw + x] = w[((y * kw + x) * inC + i) * outC + o];
        }
      }
    }
  }
  return out;
}

/**
 * How to express a ceil/floor max pool with VALID/SAME pooling and an
 * optional explicit end padding (by -inf) at the given input sides, or for
 * every side ≥ the window when `sides` is "any". TF's SAME pads
 * ⌊total/2⌋ in front, so it equals Caffe's ceil only where that is 0.
 */
export function poolPlan(
  l: MaxPoolLayer,
  sides: number[] | "any",
): { padding: "VALID" | "SAME"; padEnd: number } {
  const ns = sides === "any" ? Array.from({ length: 4096 - l.size }, (_, i) => l.size + i) : sides;
  const floorOut = (n: number) => Math.floor((n - l.size) / l.stride) + 1;
  const ceilOut = (n: number) => Math.ceil((n - l.size) / l.stride) + 1;
  if (l.rounding === "floor" || ns.every((n) => floorOut(n) === ceilOut(n))) {
    return { padding: "VALID", padEnd: 0 };
  }
  const sameOk = ns.every((n) => {
    const o = Math.ceil(n / l.stride);
    const total = Math.max((o - 1) * l.stride + l.size - n, 0);
    return o === ceilOut(n) && Math.floor(total / 2) === 0;
  });
  if (sameOk) return { padding: "SAME", padEnd: 0 };
  // padding stride-1 at the end, then floor, is ceil for every side (window ≥ stride)
  return { padding: "VALID", padEnd: l.stride - 1 };
}

/** Names of int8 tensors in a weights file's header (what {@linkcode ExportOptions.quantized} wants). */
export function quantizedTensors(header: { tensors: { name: string; dtype: string }[] }): string[] {
  return header.tensors.filter((t) => t.dtype !== "float32").map((t) => t.name);
}
