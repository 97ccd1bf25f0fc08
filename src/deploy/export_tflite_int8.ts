/**
 * Exports an int8-quantised net (a `.mtcnn` file written by `deno task
 * quantize`: {@linkcode NetQuant}) as a fully quantised TensorFlow Lite model,
 * laid out as TFLite's converter writes one:
 *
 * - the input stays float (RGB 0..255 pixels, NHWC); SUB / MUL apply the
 *   arch's normalisation, then MUL by 1/scale, ROUND (half to even, like our
 *   int8 kernels) and QUANTIZE give exactly the codes of
 *   {@linkcode quantizeValue} (a bare QUANTIZE rounds ties away from zero, and
 *   with mean 127.5, scale 1/128 every pixel is a tie);
 * - CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: int8 weights, symmetric per
 *   output channel (zero point 0, `quantized_dimension` 0, depthwise 3), int32
 *   biases at scale input_scale · weight_scale, int8 activations; a following
 *   ReLU fused;
 * - activations: our uint8 codes (scale s, zero point z) are TFLite's int8
 *   codes with zero point z − 128; PRELU has int8 slopes (per tensor,
 *   asymmetric); MAX_POOL_2D and RESHAPE keep the scale (PADV2 pads ceil
 *   pools with the lowest code);
 * - the heads read the last activation through DEQUANTIZE and run in float on
 *   the dequantised int8 weights (stored int8, DEQUANTIZE'd at load), then
 *   SOFTMAX: the quantisation holds no ranges for the head outputs, and this
 *   is what {@linkcode forwardSim} and the int8 engine compute.
 *
 * One quantisation point has no range in {@linkcode NetQuant}: a convolution's
 * output before its PReLU (we quantise after the PReLU and pooling; TFLite has
 * no fused PReLU). Without calibration samples its range is bounded from the
 * PReLU's output range and slopes (x ≥ lo/α for α > 0, x ≥ hi/α for α < 0,
 * capped at {@linkcode PRELU_RANGE_CAP} times the output range); with
 * `calibration` samples it is the observed min/max of the conv output, as
 * TFLite's converter measures it.
 *
 * 7-bit nets (`bits: 7`, codes 0..127) export with the same scales and zero
 * points and a MINIMUM at each quantisation point that clamps at code 127
 * (int8 −1), as our 7-bit kernels do.
 *
 * @example
 * ```ts
 * const q = await loadNetData("weights/demo/best_rnet.int8.mtcnn");
 * await writeFileAtomic("rnet.int8.tflite", exportTfliteInt8(q));
 * ```
 */
import { HEAD_UNITS, type Layer, planArch } from "../nets/arch.ts";
import type { ActQuant, Int8Tensor, NetData } from "../nets/net.ts";
import { actQuant, forwardSim, quantBlocks } from "../optimize/quantize.ts";
import {
  checkExportable,
  exportedInput,
  FORMAT_NAMES,
  isFullyConvolutional,
  poolPlan,
} from "./export_common.ts";
import { fb } from "./flatbuffer_writer.ts";
import {
  TFLITE_OPS,
  TFLITE_OPTIONS,
  type TfliteExportOptions,
  TfliteGraph,
  type TfliteQuantization,
} from "./export_tflite.ts";

/**
 * Without calibration samples, the range of a conv output that feeds a PReLU
 * reaches at most this many output ranges below the PReLU's lowest output.
 */
export const PRELU_RANGE_CAP = 0.5;

/** Calibration samples (n × size × size × 3 pixels) for the ranges {@linkcode NetQuant} lacks. */
export interface Int8Calibration {
  pixels: Uint8Array;
  count: number;
  size: number;
}

/** Options of {@linkcode exportTfliteInt8}. */
export interface TfliteInt8Options extends TfliteExportOptions {
  /** Samples to measure the conv outputs that feed a PReLU (else bounded from the PReLU's range). */
  calibration?: Int8Calibration;
}

/** TFLite int8 quantization of one of our uint8 activation ranges. */
function int8Act(q: ActQuant): TfliteQuantization {
  return { scale: [q.scale], zeroPoint: [q.zeroPoint - 128] };
}

/**
 * The range the conv output of block `name` (before its PReLU with slopes
 * `alpha`) gets: measured on `calib` when given, else bounded from the
 * PReLU's output range `out`.
 */
function preluInputRange(
  data: NetData,
  name: string,
  alpha: Float32Array,
  out: ActQuant,
  maxCode: number,
  calib?: Int8Calibration,
): ActQuant {
  const lo = -out.zeroPoint * out.scale;
  const hi = (maxCode - out.zeroPoint) * out.scale;
  // conv outputs the PReLU maps below lo or above hi are clamped there anyway
  let need = 0;
  let top = hi;
  for (const s of alpha) {
    if (s > 1e-6) need = Math.min(need, lo / s);
    else if (s < -1e-6) {
      need = Math.min(need, hi / s);
      top = Math.max(top, lo / s);
    }
  }
  if (!calib) {
    const reach = PRELU_RANGE_CAP * (hi - lo);
    return actQuant(Math.max(need, lo - reach), Math.min(top, hi + reach), maxCode);
  }
  // the net up to this conv (nothing after it): forwardSim observes its raw output
  const idx = data.arch.layers.findIndex((l) => "name" in l && l.name === name);
  const arch = { ...data.arch, layers: data.arch.layers.slice(0, idx + 1) };
  let a = 0, b = 0;
  const per = calib.size * calib.size * 3;
  for (let i = 0; i < calib.count; i++) {
    forwardSim(
      { ...data, arch },
      calib.pixels.subarray(i * per, (i + 1) * per),
      calib.size,
      calib.size,
      {
        activations: data.quant!.activations,
        bits: data.quant!.bits,
        observe: (point, v) => {
          if (point !== name) return;
          for (let j = 0; j < v.length; j++) {
            if (v[j] < a) a = v[j];
            if (v[j] > b) b = v[j];
          }
        },
      },
    );
  }
  return actQuant(Math.max(a, need), Math.min(b, top), maxCode);
}

/**
 * Exports an int8 net (`data.quant` set) as a fully quantised TFLite model.
 * Throws a one-line TypeError naming the source for what it cannot express.
 *
 * @example
 * ```ts
 * const bytes = exportTfliteInt8(quantizeNet(data, samples), { file: "pnet.int8.mtcnn" });
 * ```
 */
export function exportTfliteInt8(data: NetData, opts: TfliteInt8Options = {}): Uint8Array {
  const where = `Cannot export "${opts.file ?? data.arch.name}" to ${FORMAT_NAMES.tflite} int8`;
  const fail = (what: string): never => {
    throw new TypeError(`${where}: ${what}`);
  };
  const quant = data.quant;
  if (!quant) {
    return fail("the net has no int8 quantisation (run deno task quantize first)");
  }
  checkExportable(data, "tflite", opts, " int8");
  const { arch, params } = data;
  const normalized = (opts.input ?? "pixels") === "normalized";
  const inp = arch.input;
  const C = inp.channels;
  const bgr = !normalized && inp.channelOrder === "BGR";
  const { blocks, heads } = quantBlocks(arch);
  if (bgr && blocks[0].layer.kind === "depthwise") {
    fail(
      'a depthwise first layer on BGR input cannot take RGB pixels (export with input "normalized")',
    );
  }
  const maxCode = quant.bits === 7 ? 127 : 255;
  const actOf = (name: string) => {
    const a = quant.activations[name];
    if (!a) fail(`the quantisation has no activation range for layer "${name}"`);
    return a;
  };
  const weightOf = (name: string): Int8Tensor => {
    const w = quant.weights[`${name}.weight`];
    if (!w) fail(`tensor ${name}.weight is not int8`);
    return w;
  };

  const spatialNet = isFullyConvolutional(arch);
  const batch = opts.batch ?? 1;
  const H = spatialNet ? opts.height ?? inp.size : inp.size;
  const W = spatialNet ? opts.width ?? inp.size : inp.size;
  const plan = planArch(arch, H, W);
  const g = new TfliteGraph();
  const sigOf = (shape: number[]) =>
    shape.map((d, i) => (i === 0 ? -1 : spatialNet && shape.length === 4 && i < 3 ? -1 : d));
  const act = (name: string, shape: number[], q?: TfliteQuantization) =>
    g.tensor({
      name,
      shape,
      signature: sigOf(shape),
      ...(q ? { type: "int8" as const, quantization: q } : {}),
    });
  const int8Const = (
    name: string,
    shape: number[],
    q: Int8Array,
    quantization: TfliteQuantization,
  ) =>
    g.tensor({
      name,
      shape,
      type: "int8",
      data: new Uint8Array(q.buffer, q.byteOffset, q.byteLength),
      quantization,
    });
  const biasConst = (name: string, b: Float32Array, sIn: number, sW: number[]) => {
    const scale = sW.map((s) => Math.fround(sIn * s));
    const v = Int32Array.from(
      b,
      (x, o) => Math.max(-2147483647, Math.min(2147483647, Math.round(x / scale[o]))),
    );
    return g.tensor({
      name,
      shape: [b.length],
      type: "int32",
      data: new Uint8Array(v.buffer),
      quantization: { scale, zeroPoint: scale.map(() => 0), dimension: 0 },
    });
  };

  // ---- float input → normalised → int8 codes exactly as quantizeValue() rounds them
  const shape0 = [batch, H, W, C];
  const input = act("input", shape0);
  let f = input;
  const rgb = (v: number[]) => (bgr ? v.slice().reverse() : v);
  const floatOp = (code: number, name: string, operand: number) => {
    const y = act(name, shape0);
    g.op(code, [f, operand], [y]);
    f = y;
  };
  if (!normalized && inp.mean.some((m) => m !== 0)) {
    floatOp(TFLITE_OPS.SUB, "input/centered", g.constant("input/mean", [C], rgb(inp.mean)));
  }
  if (!normalized && inp.scale.some((s) => s !== 1)) {
    floatOp(TFLITE_OPS.MUL, "input/normalized", g.constant("input/scale", [C], rgb(inp.scale)));
  }
  const q0 = actOf(blocks[0].layer.name).input;
  floatOp(
    TFLITE_OPS.MUL,
    "input/steps",
    g.constant("input/inv_scale", [], [Math.fround(1 / q0.scale)]),
  );
  const rounded = act("input/rounded", shape0);
  g.op(TFLITE_OPS.ROUND, [f], [rounded]);
  f = rounded;
  floatOp(TFLITE_OPS.MUL, "input/grid", g.constant("input/quant_scale", [], [q0.scale]));
  let cur = act("input/int8", shape0, int8Act(q0));
  g.op(TFLITE_OPS.QUANTIZE, [f], [cur]);
  /** 7-bit codes: clamp at code 127 (int8 −1) where our kernels saturate. */
  const clamp7 = (x: number, name: string, q: ActQuant, shape: number[]): number => {
    if (maxCode === 255) return x;
    const top = int8Const(`${name}/max_code`, [], Int8Array.of(maxCode - 128), int8Act(q));
    const y = act(`${name}/7bit`, shape, int8Act(q));
    g.op(TFLITE_OPS.MINIMUM, [x, top], [y]);
    return y;
  };
  cur = clamp7(cur, "input", q0, shape0);
  let shape = shape0;
  let curQ = q0;

  const layers = arch.layers;
  const layerIndex = (l: Layer) => layers.indexOf(l);
  for (const b of blocks) {
    const l = b.layer;
    const a = actOf(l.name);
    const qOut = a.output;
    if (!qOut) fail(`the quantisation has no output range for layer "${l.name}"`);
    const wq = weightOf(l.name);
    const sIn = curQ.scale;
    const bias = params[`${l.name}.bias`];
    const acts = b.after.filter((o) => o.kind === "prelu" || o.kind === "relu");
    if (acts.length > 1 || (acts.length && b.after[0] !== acts[0])) {
      fail(
        `layer "${l.name}" is followed by ${
          b.after.map((o) => o.kind).join(", ")
        }; an activation must come first and only once`,
      );
    }
    const actKind = acts[0]?.kind;
    const prelu = actKind === "prelu" ? acts[0] as Extract<Layer, { kind: "prelu" }> : undefined;
    const alpha = prelu ? params[`${prelu.name}.alpha`] : undefined;
    const qConv = prelu
      ? preluInputRange(data, l.name, alpha!, qOut!, maxCode, opts.calibration)
      : qOut!;
    const convName = `${l.name}${actKind === "relu" ? "/relu" : ""}`;
    let y: number;
    if (l.kind === "conv" || l.kind === "depthwise") {
      const inC = shape[3];
      const outC = l.kind === "conv" ? l.filters : inC;
      const out = plan.shapes[layerIndex(l)];
      let wt: number;
      if (l.kind === "conv") {
        const ohwi = new Int8Array(wq.q.length);
        const perm = bgr && b === blocks[0];
        for (let o = 0; o < outC; o++) {
          for (let k = 0; k < l.kh * l.kw; k++) {
            for (let c = 0; c < inC; c++) {
              const src = perm ? inC - 1 - c : c;
              ohwi[(o * l.kh * l.kw + k) * inC + c] = wq.q[(k * inC + src) * outC + o];
            }
          }
        }
        wt = int8Const(`${l.name}/weight`, [outC, l.kh, l.kw, inC], ohwi, {
          scale: wq.scale,
          zeroPoint: wq.scale.map(() => 0),
          dimension: 0,
        });
      } else {
        wt = int8Const(`${l.name}/weight`, [1, l.kh, l.kw, inC], wq.q, {
          scale: wq.scale,
          zeroPoint: wq.scale.map(() => 0),
          dimension: 3,
        });
      }
      const bt = biasConst(`${l.name}/bias`, bias, sIn, wq.scale);
      y = act(convName, [batch, ...out], int8Act(qConv));
      const fused = actKind === "relu" ? 1 : 0;
      if (l.kind === "conv") {
        g.op(TFLITE_OPS.CONV_2D, [cur, wt, bt], [y], [
          TFLITE_OPTIONS.Conv2DOptions,
          fb.table([fb.i8(1), fb.i32(l.stride), fb.i32(l.stride), fb.i8(fused)]),
        ]);
      } else {
        g.op(TFLITE_OPS.DEPTHWISE_CONV_2D, [cur, wt, bt], [y], [
          TFLITE_OPTIONS.DepthwiseConv2DOptions,
          fb.table([fb.i8(1), fb.i32(l.stride), fb.i32(l.stride), fb.i32(1), fb.i8(fused)]),
        ]);
      }
      shape = [batch, ...out];
    } else {
      const inN = shape[1];
      const wT = new Int8Array(wq.q.length);
      for (let o = 0; o < l.units; o++) {
        for (let r = 0; r < inN; r++) wT[o * inN + r] = wq.q[r * l.units + o];
      }
      const wt = int8Const(`${l.name}/weight`, [l.units, inN], wT, {
        scale: wq.scale,
        zeroPoint: wq.scale.map(() => 0),
        dimension: 0,
      });
      const bt = biasConst(`${l.name}/bias`, bias, sIn, wq.scale);
      y = act(convName, [batch, l.units], int8Act(qConv));
      g.op(TFLITE_OPS.FULLY_CONNECTED, [cur, wt, bt], [y], [
        TFLITE_OPTIONS.FullyConnectedOptions,
        fb.table([fb.i8(actKind === "relu" ? 1 : 0)]),
      ]);
      shape = [batch, l.units];
    }
    cur = y;
    const qo = int8Act(qOut!);
    for (const op of b.after) {
      const i = layerIndex(op);
      if (op.kind === "relu") continue; // fused
      if (op.kind === "prelu") {
        const aq = actQuant(Math.min(...alpha!), Math.max(...alpha!), 255);
        const codes = Int8Array.from(
          alpha!,
          (v) => Math.max(-128, Math.min(127, Math.round(v / aq.scale) + aq.zeroPoint - 128)),
        );
        const at = int8Const(
          `${op.name}/alpha`,
          shape.length === 4 ? [1, 1, alpha!.length] : [alpha!.length],
          codes,
          int8Act(aq),
        );
        const py = act(op.name, shape, qo);
        g.op(TFLITE_OPS.PRELU, [cur, at], [py]);
        cur = py;
      } else if (op.kind === "maxpool") {
        const out = plan.shapes[i];
        const p = poolPlan(op, spatialNet ? "any" : [shape[1], shape[2]]);
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
          const lowest = int8Const(`pool${i}/lowest`, [], Int8Array.of(-128), qo);
          const padded = act(`pool${i}/padded`, [
            batch,
            shape[1] + p.padEnd,
            shape[2] + p.padEnd,
            shape[3],
          ], qo);
          g.op(TFLITE_OPS.PADV2, [cur, paddings, lowest], [padded], [
            TFLITE_OPTIONS.PadV2Options,
            fb.table([]),
          ]);
          cur = padded;
        }
        const py = act(`pool${i}`, [batch, ...out], qo);
        g.op(TFLITE_OPS.MAX_POOL_2D, [cur], [py], [
          TFLITE_OPTIONS.Pool2DOptions,
          fb.table([
            fb.i8(p.padding === "SAME" ? 0 : 1),
            fb.i32(op.stride),
            fb.i32(op.stride),
            fb.i32(op.size),
            fb.i32(op.size),
            fb.i8(0),
          ]),
        ]);
        cur = py;
        shape = [batch, ...out];
      } else if (op.kind === "flatten") {
        const n = shape.slice(1).reduce((x, v) => x * v, 1);
        const st = g.constantInt(`flatten${i}/shape`, [2], [-1, n]);
        const py = act(`flatten${i}`, [batch, n], qo);
        g.op(TFLITE_OPS.RESHAPE, [cur, st], [py], [
          TFLITE_OPTIONS.ReshapeOptions,
          fb.table([fb.ints([-1, n])]),
        ]);
        cur = py;
        shape = [batch, n];
      } else {
        fail(`layer ${i} (${op.kind}) is not supported`);
      }
    }
    cur = clamp7(cur, l.name, qOut!, shape);
    curQ = qOut!;
  }

  // ---- heads: float on the dequantised int8 weights
  const feat = act("features", shape);
  g.op(TFLITE_OPS.DEQUANTIZE, [cur], [feat]);
  const outputs: number[] = [];
  for (const h of heads) {
    const units = HEAD_UNITS[h.kind];
    const wq = weightOf(h.name);
    const inN = shape[shape.length - 1];
    const wT = new Int8Array(wq.q.length);
    for (let o = 0; o < units; o++) {
      for (let r = 0; r < inN; r++) wT[o * inN + r] = wq.q[r * units + o];
    }
    const wShape = shape.length === 4 ? [units, 1, 1, inN] : [units, inN];
    const wi = int8Const(`${h.name}/weight_int8`, wShape, wT, {
      scale: wq.scale,
      zeroPoint: wq.scale.map(() => 0),
      dimension: 0,
    });
    const wt = g.tensor({ name: `${h.name}/weight`, shape: wShape });
    g.op(TFLITE_OPS.DEQUANTIZE, [wi], [wt]);
    const bt = g.constant(`${h.name}/bias`, [units], params[`${h.name}.bias`]);
    const outName = h.kind === "cls" ? "cls/logits" : h.kind;
    let y: number;
    if (shape.length === 4) {
      y = act(outName, [batch, shape[1], shape[2], units]);
      g.op(TFLITE_OPS.CONV_2D, [feat, wt, bt], [y], [
        TFLITE_OPTIONS.Conv2DOptions,
        fb.table([fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)]),
      ]);
    } else {
      y = act(outName, [batch, units]);
      g.op(TFLITE_OPS.FULLY_CONNECTED, [feat, wt, bt], [y], [
        TFLITE_OPTIONS.FullyConnectedOptions,
        fb.table([fb.i8(0)]),
      ]);
    }
    if (h.kind === "cls") {
      const prob = act("prob", shape.length === 4 ? [batch, shape[1], shape[2], 2] : [batch, 2]);
      g.op(TFLITE_OPS.SOFTMAX, [y], [prob], [TFLITE_OPTIONS.SoftmaxOptions, fb.table([fb.f32(1)])]);
      y = prob;
    }
    outputs.push(y);
  }
  const info = exportedInput(data, "NHWC");
  if (!normalized) {
    Object.assign(info, {
      channelOrder: "RGB",
      mean: new Array(C).fill(0),
      scale: new Array(C).fill(1),
    });
  }
  g.addMetadata(
    "mtcnn",
    new TextEncoder().encode(JSON.stringify({
      net: arch.name,
      input: info,
      outputs: plan.heads.map((h) => (h.kind === "cls" ? "prob" : h.kind)),
      int8: { method: quant.method, bits: quant.bits ?? 8, calibrated: !!opts.calibration },
      source: data.meta.provenance?.source,
    })),
  );
  return g.finish(
    [input],
    outputs,
    arch.name,
    `MTCNN ${arch.name} int8: input NHWC ${
      normalized ? "normalised" : "RGB 0..255"
    }; outputs prob, box${plan.heads.some((h) => h.kind === "landmarks") ? ", landmarks" : ""}`,
  );
}
