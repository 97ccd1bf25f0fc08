/**
 * Post-training int8 quantisation (PTQ) of MTCNN-shaped nets.
 *
 * - Weights of every convolution, dense layer and head: int8, symmetric, per
 *   output channel (scale = max|w| / 127 over that channel).
 * - Activations: uint8, asymmetric, per tensor, at each compute layer's input
 *   (the normalised image for the first one) and output (after its PReLU /
 *   ReLU and max pooling: pooling commutes with a monotone quantiser). Ranges
 *   come from calibration data: `minmax` (the observed extremes) or
 *   `percentile` (the p-th and (100 − p)-th percentiles of a subsample).
 *   Measured on the synthetic sample (original weights, gen-pnet crops for
 *   calibration): percentile ranges win on crop-level losses by a hair but
 *   cost up to 4 points of WIDER-style easy AP in the cascade; min/max
 *   matches fp32 AP. Min/max is the task's default.
 * - Biases and PReLU slopes stay float32: the int8 engine applies them in the
 *   dequantised domain (kernels/assembly/engine_int8.ts).
 *
 * {@linkcode forwardSim} is a plain-TypeScript float forward pass that can
 * fake-quantise (quantise then dequantise) every activation and use the
 * dequantised weights: the accuracy of the quantised model is measured with
 * it, and the int8 engine must agree with it to within rounding.
 *
 * @example
 * ```ts
 * const data = await loadNetData("weights/original/pnet.mtcnn");
 * const q = await calibrate(data, batchesOf(["/tmp/p12val"], 2048), { method: "minmax" });
 * await saveNet("pnet.int8.mtcnn", q);
 * ```
 */
import type {
  ConvLayer,
  DenseLayer,
  DepthwiseLayer,
  HeadLayer,
  Layer,
  NetArch,
} from "../nets/arch.ts";
import { HEAD_UNITS, planArch } from "../nets/arch.ts";
import type { ActQuant, Int8Tensor, NetData, NetQuant } from "../nets/net.ts";
import { type Batch, readBatches } from "../data/shards.ts";

/** A compute layer with the layers that follow it up to the next one. */
export interface QuantBlock {
  layer: ConvLayer | DenseLayer | DepthwiseLayer;
  /** PReLU / ReLU / max pool / flatten after it, in order. */
  after: Layer[];
}

/** Splits an arch into compute blocks and heads. */
export function quantBlocks(arch: NetArch): { blocks: QuantBlock[]; heads: HeadLayer[] } {
  const blocks: QuantBlock[] = [];
  const heads: HeadLayer[] = [];
  for (const l of arch.layers) {
    if (l.kind === "gconv") {
      throw new RangeError(
        `quantBlocks(${arch.name}): layer ${l.name} (gconv, grouped 1x1 with shuffle) has no int8 path`,
      );
    }
    if (l.kind === "conv" || l.kind === "dense" || l.kind === "depthwise") {
      blocks.push({ layer: l, after: [] });
    } else if (l.kind === "cls" || l.kind === "box" || l.kind === "landmarks") heads.push(l);
    else if (blocks.length) blocks[blocks.length - 1].after.push(l);
    else {throw new RangeError(
        `quantBlocks(${arch.name}): layer ${l.kind} before any compute layer`,
      );}
  }
  return { blocks, heads };
}

/**
 * Symmetric per-output-channel int8 quantisation of a weight (output channel
 * = last axis; depthwise: axis 2).
 */
export function quantizeWeight(
  w: Float32Array,
  shape: number[],
  axis = shape.length - 1,
): Int8Tensor {
  const dim = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const maxAbs = new Float64Array(dim);
  for (let i = 0; i < w.length; i++) {
    const k = Math.floor(i / inner) % dim;
    const a = Math.abs(w[i]);
    if (a > maxAbs[k]) maxAbs[k] = a;
  }
  const scale = Array.from(maxAbs, (m) => (m > 0 ? Math.fround(m / 127) : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const k = Math.floor(i / inner) % dim;
    q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale[k])));
  }
  return { q, scale, axis };
}

/** Dequantised floats of an int8 tensor. */
export function dequantizeWeight(t: Int8Tensor, shape: number[]): Float32Array {
  const dim = shape[t.axis];
  const inner = shape.slice(t.axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(t.q.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = t.scale[t.scale.length === 1 ? 0 : Math.floor(i / inner) % dim] * t.q[i];
  }
  return out;
}

/** Quantisation of the range [lo, hi] (widened to hold 0) to codes 0..maxCode (255: 8 bits, 127: 7). */
export function actQuant(lo: number, hi: number, maxCode = 255): ActQuant {
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  if (!(hi > lo)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / maxCode);
  const zeroPoint = Math.max(0, Math.min(maxCode, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Round half to even (what f32x4.nearest does). */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * uint8 code of a value as the int8 kernels compute it: float32 multiply by
 * `inv` (float32 1 / scale), round half to even, add the zero point, saturate.
 */
export function quantizeValue(y: number, inv: number, zeroPoint: number, maxCode = 255): number {
  let r = roundEven(Math.fround(y * inv));
  r = Math.max(-2147483648, Math.min(2147483647, r));
  r = (r + zeroPoint) | 0;
  return r < 0 ? 0 : r > maxCode ? maxCode : r;
}

/** Quantise then dequantise `x` in place (the kernels' rounding). */
export function fakeQuant(x: Float32Array, q: ActQuant, maxCode = 255): void {
  const inv = Math.fround(1 / q.scale);
  for (let i = 0; i < x.length; i++) {
    x[i] = (quantizeValue(x[i], inv, q.zeroPoint, maxCode) - q.zeroPoint) * q.scale;
  }
}

/** An image-shaped float activation (one image, HWC) or a flat vector (h = w = 1). */
interface Act {
  h: number;
  w: number;
  c: number;
  data: Float32Array;
}

function conv(
  x: Act,
  wt: Float32Array,
  bias: Float32Array,
  kh: number,
  kw: number,
  s: number,
  oc: number,
): Act {
  const oh = Math.floor((x.h - kh) / s) + 1;
  const ow = Math.floor((x.w - kw) / s) + 1;
  const out = new Float32Array(oh * ow * oc);
  const acc = new Float64Array(oc);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      acc.fill(0);
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const xo = ((oy * s + ky) * x.w + ox * s + kx) * x.c;
          const wo = (ky * kw + kx) * x.c * oc;
          for (let ic = 0; ic < x.c; ic++) {
            const v = x.data[xo + ic];
            if (v === 0) continue;
            const r = wo + ic * oc;
            for (let o = 0; o < oc; o++) acc[o] += v * wt[r + o];
          }
        }
      }
      const p = (oy * ow + ox) * oc;
      for (let o = 0; o < oc; o++) out[p + o] = acc[o] + bias[o];
    }
  }
  return { h: oh, w: ow, c: oc, data: out };
}

function depthwise(
  x: Act,
  wt: Float32Array,
  bias: Float32Array,
  kh: number,
  kw: number,
  s: number,
): Act {
  const oh = Math.floor((x.h - kh) / s) + 1;
  const ow = Math.floor((x.w - kw) / s) + 1;
  const c = x.c;
  const out = new Float32Array(oh * ow * c);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ch = 0; ch < c; ch++) {
        let a = 0;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            a += x.data[((oy * s + ky) * x.w + ox * s + kx) * c + ch] * wt[(ky * kw + kx) * c + ch];
          }
        }
        out[(oy * ow + ox) * c + ch] = a + bias[ch];
      }
    }
  }
  return { h: oh, w: ow, c, data: out };
}

function maxPool(x: Act, size: number, stride: number, rounding: "ceil" | "floor"): Act {
  const side = (n: number) =>
    (rounding === "ceil" ? Math.ceil((n - size) / stride) : Math.floor((n - size) / stride)) + 1;
  const oh = side(x.h);
  const ow = side(x.w);
  const out = new Float32Array(oh * ow * x.c).fill(-Infinity);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const p = (oy * ow + ox) * x.c;
      for (let y = oy * stride; y < Math.min(oy * stride + size, x.h); y++) {
        for (let xx = ox * stride; xx < Math.min(ox * stride + size, x.w); xx++) {
          const q = (y * x.w + xx) * x.c;
          for (let ch = 0; ch < x.c; ch++) {
            if (x.data[q + ch] > out[p + ch]) out[p + ch] = x.data[q + ch];
          }
        }
      }
    }
  }
  return { h: oh, w: ow, c: x.c, data: out };
}

/** What {@linkcode forwardSim} returns for one image. */
export interface SimOutput {
  /** Face probability per output position. */
  cls: Float32Array;
  box: Float32Array;
  landmarks?: Float32Array;
  outH: number;
  outW: number;
}

/** Options of {@linkcode forwardSim}. */
export interface SimOptions {
  /** Fake-quantise every activation at these ranges (use the dequantised weights in `data.params`). */
  activations?: NetQuant["activations"];
  /** Activation code width of `activations` (default 8). */
  bits?: 7 | 8;
  /** Sees every quantisation point's float values: "input" then each block's layer name. */
  observe?: (point: string, values: Float32Array) => void;
}

/**
 * Float forward pass of one image (h × w × c pixels 0..255, RGB) in plain
 * TypeScript, optionally with fake-quantised activations.
 *
 * @example
 * ```ts
 * const { cls } = forwardSim(data, pixels, 12, 12, { activations: q.quant!.activations });
 * ```
 */
export function forwardSim(
  data: NetData,
  pixels: Uint8Array | Float32Array,
  h: number,
  w: number,
  opts: SimOptions = {},
): SimOutput {
  const { arch, params } = data;
  const { input } = arch;
  const c = input.channels;
  const x = new Float32Array(h * w * c);
  const order = input.channelOrder === "BGR" ? [2, 1, 0] : [0, 1, 2];
  for (let i = 0; i < h * w; i++) {
    for (let j = 0; j < c; j++) {
      const p = pixels[i * c + (c === 3 ? order[j] : j)];
      x[i * c + j] = Math.fround(Math.fround(p - input.mean[j]) * Math.fround(input.scale[j]));
    }
  }
  let a: Act = { h, w, c, data: x };
  const { blocks, heads } = quantBlocks(arch);
  const acts = opts.activations;
  const point = (name: string, q: ActQuant | undefined) => {
    opts.observe?.(name, a.data);
    if (acts && q) fakeQuant(a.data, q, opts.bits === 7 ? 127 : 255);
  };
  point("input", acts?.[blocks[0].layer.name]?.input);
  for (const b of blocks) {
    const l = b.layer;
    const wt = params[`${l.name}.weight`];
    const bias = params[`${l.name}.bias`];
    if (l.kind === "conv") a = conv(a, wt, bias, l.kh, l.kw, l.stride, l.filters);
    else if (l.kind === "depthwise") a = depthwise(a, wt, bias, l.kh, l.kw, l.stride);
    else a = conv({ h: 1, w: 1, c: a.data.length, data: a.data }, wt, bias, 1, 1, 1, l.units);
    for (const op of b.after) {
      if (op.kind === "prelu") {
        const al = params[`${op.name}.alpha`];
        for (let i = 0; i < a.data.length; i++) {
          const v = a.data[i];
          if (v < 0) a.data[i] = v * al[i % a.c];
        }
      } else if (op.kind === "relu") {
        for (let i = 0; i < a.data.length; i++) if (a.data[i] < 0) a.data[i] = 0;
      } else if (op.kind === "maxpool") a = maxPool(a, op.size, op.stride, op.rounding);
      else if (op.kind === "flatten") a = { h: 1, w: 1, c: a.data.length, data: a.data };
    }
    point(l.name, acts?.[l.name]?.output);
  }
  const spatial = blocks[blocks.length - 1].layer.kind !== "dense" &&
    !blocks[blocks.length - 1].after.some((o) => o.kind === "flatten");
  const flat: Act = spatial ? a : { h: 1, w: 1, c: a.data.length, data: a.data };
  const n = flat.h * flat.w;
  const out: SimOutput = {
    cls: new Float32Array(n),
    box: new Float32Array(n * 4),
    outH: flat.h,
    outW: flat.w,
  };
  for (const hd of heads) {
    const r = conv(
      flat,
      params[`${hd.name}.weight`],
      params[`${hd.name}.bias`],
      1,
      1,
      1,
      HEAD_UNITS[hd.kind],
    ).data;
    if (hd.kind === "cls") {
      for (let i = 0; i < n; i++) out.cls[i] = 1 / (1 + Math.exp(r[2 * i] - r[2 * i + 1]));
    } else if (hd.kind === "box") out.box = r;
    else out.landmarks = r;
  }
  return out;
}

/** Options of {@linkcode calibrate}. */
export interface CalibrateOptions {
  /** `minmax` or `percentile` (default minmax). */
  method?: "minmax" | "percentile";
  /** Percentile kept for `percentile` (default 99.99). */
  percentile?: number;
  /** Values kept per quantisation point for percentiles (default 1e6). */
  maxValues?: number;
  /** Activation codes: 8 bits (default) or 7 (the relaxed-SIMD path of the int8 engine). */
  bits?: 7 | 8;
}

/**
 * Post-training quantisation: int8 weights and activation ranges observed on
 * `samples` (n × size × size × 3 pixels). Returns a NetData whose `params`
 * hold the dequantised weights and whose `quant` holds the int8 tensors.
 */
export function quantizeNet(
  data: NetData,
  samples: { pixels: Uint8Array; count: number; size: number },
  opts: CalibrateOptions = {},
): NetData {
  const method = opts.method ?? "minmax";
  const pct = opts.percentile ?? 99.99;
  const maxValues = opts.maxValues ?? 1_000_000;
  const lo = new Map<string, number>();
  const hi = new Map<string, number>();
  const kept = new Map<string, number[]>();
  const { size, count } = samples;
  const per = size * size * 3;
  for (let i = 0; i < count; i++) {
    forwardSim(data, samples.pixels.subarray(i * per, (i + 1) * per), size, size, {
      observe: (name, v) => {
        let a = lo.get(name) ?? Infinity;
        let b = hi.get(name) ?? -Infinity;
        for (let j = 0; j < v.length; j++) {
          if (v[j] < a) a = v[j];
          if (v[j] > b) b = v[j];
        }
        lo.set(name, a);
        hi.set(name, b);
        if (method === "percentile") {
          const step = Math.max(1, Math.ceil((v.length * count) / maxValues));
          const arr = kept.get(name) ?? [];
          for (let j = (i * 7) % step; j < v.length; j += step) arr.push(v[j]);
          kept.set(name, arr);
        }
      },
    });
  }
  const range = (name: string): ActQuant => {
    const maxCode = opts.bits === 7 ? 127 : 255;
    if (method === "minmax") return actQuant(lo.get(name)!, hi.get(name)!, maxCode);
    const v = Float32Array.from(kept.get(name)!).sort();
    const at = (p: number) =>
      v[Math.min(v.length - 1, Math.max(0, Math.round((p / 100) * (v.length - 1))))];
    return actQuant(at(100 - pct), at(pct), maxCode);
  };
  const { blocks, heads } = quantBlocks(data.arch);
  const activations: NetQuant["activations"] = {};
  let prev = "input";
  for (const b of blocks) {
    activations[b.layer.name] = { input: range(prev), output: range(b.layer.name) };
    prev = b.layer.name;
  }
  for (const hd of heads) activations[hd.name] = { input: range(prev) };
  const weights: NetQuant["weights"] = {};
  const params = { ...data.params };
  const shapes = weightShapes(data);
  for (const name of [...blocks.map((b) => b.layer.name), ...heads.map((h) => h.name)]) {
    const key = `${name}.weight`;
    const shape = shapes[key];
    const axis = blocks.find((b) => b.layer.name === name)?.layer.kind === "depthwise"
      ? 2
      : shape.length - 1;
    weights[key] = quantizeWeight(data.params[key], shape, axis);
    params[key] = dequantizeWeight(weights[key], shape);
  }
  return {
    arch: data.arch,
    params,
    meta: data.meta,
    quant: {
      weights,
      activations,
      method: method === "minmax" ? "minmax" : `percentile:${pct}`,
      ...(opts.bits === 7 ? { bits: 7 as const } : {}),
    },
  };
}

function weightShapes(data: NetData): Record<string, number[]> {
  return Object.fromEntries(planArch(data.arch).params.map((p) => [p.name, p.shape]));
}

/** Accuracy on a labelled sample set: the seed's table. */
export interface QuantMetrics {
  /** Cross-entropy over positives and negatives. */
  clsLoss: number;
  /** Mean squared error of the box offsets over positives and parts. */
  offsetLoss: number;
  /** Accuracy at 0.5 over positives and negatives. */
  clsAcc: number;
  samples: number;
}

/**
 * The seed's metrics of `data` (fake-quantised when `activations` is given)
 * on labelled samples (labels: 0 neg, 1 pos, 2 part, 3 landmark).
 */
export function evaluateSim(
  data: NetData,
  batch: Pick<Batch, "pixels" | "labels" | "boxes" | "count" | "size">,
  activations?: NetQuant["activations"],
  bits?: 7 | 8,
): QuantMetrics {
  let ce = 0, nCls = 0, correct = 0, se = 0, nBox = 0;
  const per = batch.size * batch.size * 3;
  for (let i = 0; i < batch.count; i++) {
    const label = batch.labels[i];
    if (label === 3) continue;
    const r = forwardSim(
      data,
      batch.pixels.subarray(i * per, (i + 1) * per),
      batch.size,
      batch.size,
      {
        activations,
        bits,
      },
    );
    const p = Math.min(1 - 1e-7, Math.max(1e-7, r.cls[0]));
    if (label === 0 || label === 1) {
      ce += label === 1 ? -Math.log(p) : -Math.log(1 - p);
      correct += (p >= 0.5) === (label === 1) ? 1 : 0;
      nCls++;
    }
    if (label === 1 || label === 2) {
      for (let k = 0; k < 4; k++) se += (r.box[k] - batch.boxes[i * 4 + k]) ** 2;
      nBox++;
    }
  }
  return {
    clsLoss: nCls ? ce / nCls : NaN,
    offsetLoss: nBox ? se / (4 * nBox) : NaN,
    clsAcc: nCls ? correct / nCls : NaN,
    samples: batch.count,
  };
}

/** Reads up to `count` samples (shuffled with `seed`) from shard datasets into one batch. */
export async function readSamples(dirs: string[], count: number, seed = 1): Promise<Batch> {
  for await (const b of readBatches(dirs, { batchSize: count, seed })) return b;
  throw new RangeError(`no samples in ${dirs.join(", ")}`);
}

/** One candidate of {@linkcode ptq}: a calibration method and its validation metrics. */
export interface PtqCandidate {
  method: string;
  metrics: QuantMetrics;
  net: NetData;
}

/** What {@linkcode ptq} returns. */
export interface PtqResult {
  /** The chosen quantised net (lowest cls loss + offset loss on the validation samples). */
  net: NetData;
  fp32: QuantMetrics;
  candidates: PtqCandidate[];
}

/**
 * Post-training quantisation with each of `methods`, evaluated (fake-quant)
 * on `val`; picks the lowest cls loss + offset loss.
 *
 * @example
 * ```ts
 * const r = ptq(data, await readSamples(["/tmp/p12"], 2048), await readSamples(["/tmp/p12val"], 1000));
 * await saveNet("pnet.int8.mtcnn", r.net);
 * ```
 */
export function ptq(
  data: NetData,
  calib: Pick<Batch, "pixels" | "count" | "size">,
  val: Pick<Batch, "pixels" | "labels" | "boxes" | "count" | "size">,
  methods: CalibrateOptions[] = [{ method: "minmax" }, { method: "percentile", percentile: 99.99 }],
): PtqResult {
  if (calib.size !== data.arch.input.size || val.size !== data.arch.input.size) {
    throw new RangeError(
      `ptq(${data.arch.name}): samples are ${calib.size}/${val.size} px, the net wants ${data.arch.input.size} px`,
    );
  }
  const fp32 = evaluateSim(data, val);
  const candidates = methods.map((m) => {
    const net = quantizeNet(data, calib, m);
    const method = net.quant!.method! + (net.quant!.bits === 7 ? " 7-bit" : "");
    return { method, net, metrics: evaluateSim(net, val, net.quant!.activations, net.quant!.bits) };
  });
  const score = (m: QuantMetrics) => m.clsLoss + m.offsetLoss;
  const best = candidates.reduce((a, b) => (score(b.metrics) < score(a.metrics) ? b : a));
  return { net: best.net, fp32, candidates };
}

/** Bytes of the parameter tensors in a net's weights file (float32 4, int8 1 per value). */
export function weightBytes(data: NetData): number {
  let n = 0;
  for (const [name, v] of Object.entries(data.params)) {
    n += data.quant?.weights[name] ? v.length : 4 * v.length;
  }
  return n;
}
