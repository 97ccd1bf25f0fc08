/**
 * Forward and backward passes of a net for training, layer by layer on tfjs
 * kernels, with the parameters as one flat Float32Array.
 *
 * Why not `tf.grads`: the loss is computed on the host between the two passes
 * (src/train/losses.ts), so that hard example mining sees the whole batch even
 * when workers each hold a slice of it; the backward pass then starts from
 * the host's gradient of the outputs. Keeping the activations between the two
 * calls needs an explicit tape, which a sequential MTCNN net makes short:
 * convolutions (Conv2DBackpropFilter / Conv2DBackpropInput kernels), PReLU,
 * ReLU, max pooling (MaxPoolGrad; Caffe's ceil windows by explicit padding),
 * flatten, dense layers, and the heads as one dense layer of 2 + 4 (+ 10)
 * units on the trunk's 1×1 (PNet at 12 px) or flat output.
 *
 * The gradient kernels the wasm backend lacks (Conv2DBackpropFilter, ...) come
 * from src/train/grad_kernels.ts; on the cpu backend everything is built in.
 *
 * @example
 * ```ts
 * const g = new TrainGraph(pnetArch());
 * g.setParams(flat);                         // packParams(arch, data.params)
 * const out = g.forward(pixels, n, true);    // keep activations
 * const r = computeLoss(out, batch, cfg);
 * const grads = g.backward(r);               // flat, same layout as the params
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  expandGroupWeight,
  gatherGroupWeight,
  HEAD_UNITS,
  type InputSpec,
  type Layer,
  type NetArch,
  planArch,
} from "../nets/arch.ts";
import { type ActQuant, createNet, forward as netForward, type Net } from "../nets/net.ts";
import { preluBackward } from "./grad_kernels.ts";

/** One parameter tensor's place in the flat vector. */
export interface ParamSlot {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** The flat parameter layout of an arch: planArch's parameter order, packed. */
export interface ParamLayout {
  slots: ParamSlot[];
  total: number;
}

/** The flat layout of `arch`'s parameters. */
export function paramLayout(arch: NetArch): ParamLayout {
  let offset = 0;
  const slots = planArch(arch).params.map((p) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const s = { name: p.name, shape: p.shape, offset, size };
    offset += size;
    return s;
  });
  return { slots, total: offset };
}

/** Packs named parameter arrays into one flat vector (layout order). */
export function packParams(arch: NetArch, params: Record<string, Float32Array>): Float32Array {
  const layout = paramLayout(arch);
  const flat = new Float32Array(layout.total);
  for (const s of layout.slots) {
    const v = params[s.name];
    if (!v || v.length !== s.size) {
      throw new RangeError(
        `packParams(${arch.name}): tensor ${s.name} is missing or has the wrong size`,
      );
    }
    flat.set(v, s.offset);
  }
  return flat;
}

/** Splits a flat vector into named parameter arrays (copies). */
export function unpackParams(arch: NetArch, flat: Float32Array): Record<string, Float32Array> {
  const layout = paramLayout(arch);
  if (flat.length !== layout.total) {
    throw new RangeError(
      `unpackParams(${arch.name}): ${flat.length} values, arch has ${layout.total}`,
    );
  }
  const out: Record<string, Float32Array> = {};
  for (const s of layout.slots) out[s.name] = flat.slice(s.offset, s.offset + s.size);
  return out;
}

/** Turns 0..255 pixels (NHWC) into the net's normalised float input on the host. */
export function normalizeInput(input: InputSpec, pixels: Uint8Array, count: number): Float32Array {
  const c = input.channels;
  const n = count * input.size * input.size * c;
  if (pixels.length < n) {
    throw new RangeError(
      `normalizeInput: ${pixels.length} bytes for ${count} samples of ${n / count}`,
    );
  }
  const out = new Float32Array(n);
  const bgr = input.channelOrder === "BGR";
  const { mean, scale } = input;
  for (let i = 0; i < n; i += c) {
    for (let k = 0; k < c; k++) {
      const src = bgr ? c - 1 - k : k;
      out[i + k] = (pixels[i + src] - mean[k]) * scale[k];
    }
  }
  return out;
}

/** Outputs of a batch, one row per sample. */
export interface BatchOutputs {
  logits: Float32Array;
  box: Float32Array;
  landmarks?: Float32Array;
}

/** Gradient of the loss with respect to {@linkcode BatchOutputs}. */
export interface OutputGrads {
  dLogits?: Float32Array;
  dBox?: Float32Array;
  dLandmarks?: Float32Array;
}

type PoolPad = "valid" | [[0, 0], [0, number], [0, number], [0, 0]];
type Saved = { layer: Layer; x: tf.Tensor; y: tf.Tensor; pad?: PoolPad; fq?: FakeQuantStep };
type FakeQuantStep = { q: ActQuant; maxCode: number };

/**
 * Opt-in fake quantisation of the activations (quantisation-aware training,
 * src/optimize/qat.ts), at the points post-training quantisation uses: the
 * normalised input ("input") and each compute layer's output after its
 * activation and pooling (named by the compute layer). Forward: uint8 codes
 * as the int8 kernels round them (float32 multiply by 1 / scale, half to even,
 * saturate), dequantised; backward: the straight-through estimator (the
 * gradient passes where the code did not saturate, 0 elsewhere).
 */
export interface ActFakeQuant {
  /** Largest code: 255 (8-bit activations) or 127 (7-bit). */
  maxCode: number;
  /** Hand {@linkcode ActFakeQuant.range} each batch's float min and max at the point. */
  observe: boolean;
  /** The range point `name` is quantised to in this pass (undefined: left float). */
  range(name: string, batch?: { lo: number; hi: number }): ActQuant | undefined;
}

/**
 * A net's training graph on the current tfjs backend. Not thread-safe; one
 * per worker. Call {@linkcode TrainGraph.dispose} when done.
 */
export class TrainGraph {
  readonly arch: NetArch;
  readonly layout: ParamLayout;
  /** Head kinds in output-column order (cls, box, landmarks). */
  readonly headKinds: ("cls" | "box" | "landmarks")[];
  readonly headUnits: number;
  #params: Record<string, tf.Tensor> = {};
  /** Grouped 1×1 layers: the full block-sparse [1, 1, cin, filters] weight, and cin. */
  #full: Record<string, { w: tf.Tensor4D; cin: number }> = {};
  #headW?: tf.Tensor2D;
  #headB?: tf.Tensor1D;
  #saved: Saved[] = [];
  #trunkOut?: tf.Tensor;
  #trunkShape: number[] = [];
  #count = 0;
  #fq?: ActFakeQuant;
  /** Layer index → quantisation point after it (fake-quant mode). */
  #points = new Map<number, string>();

  constructor(arch: NetArch) {
    this.arch = arch;
    this.layout = paramLayout(arch);
    const plan = planArch(arch);
    const t = plan.trunkOut;
    if (t.length === 3 && (t[0] !== 1 || t[1] !== 1)) {
      throw new RangeError(
        `${arch.name}: training needs the trunk to end at 1x1 for its ${arch.input.size}px input, it ends at ${
          t[0]
        }x${t[1]}`,
      );
    }
    const kinds = plan.heads.map((h) => h.kind);
    this.headKinds = (["cls", "box", "landmarks"] as const).filter((k) => kinds.includes(k));
    this.headUnits = this.headKinds.reduce((a, k) => a + HEAD_UNITS[k], 0);
  }

  /** True when the net has a landmark head. */
  get hasLandmarks(): boolean {
    return this.headKinds.includes("landmarks");
  }

  #headName(kind: string): string {
    const l = this.arch.layers.find((l) => l.kind === kind) as { name: string };
    return l.name;
  }

  /** Uploads the parameters (flat, {@linkcode paramLayout} order). */
  setParams(flat: Float32Array): void {
    if (flat.length !== this.layout.total) {
      throw new RangeError(
        `TrainGraph.setParams(${this.arch.name}): ${flat.length} values, arch has ${this.layout.total}`,
      );
    }
    this.#disposeParams();
    for (const s of this.layout.slots) {
      this.#params[s.name] = tf.tensor(flat.subarray(s.offset, s.offset + s.size), s.shape);
    }
    const plan = planArch(this.arch);
    this.arch.layers.forEach((l, i) => {
      if (l.kind !== "gconv") return;
      const prev = i === 0 ? [this.arch.input.channels] : plan.shapes[i - 1];
      const cin = prev[prev.length - 1];
      const s = this.#slot(`${l.name}.weight`);
      const full = expandGroupWeight(
        flat.subarray(s.offset, s.offset + s.size),
        cin,
        l.filters,
        l.groups,
      );
      this.#full[l.name] = { w: tf.tensor4d(full, [1, 1, cin, l.filters]), cin };
    });
    // the heads as one [C, units] matrix, columns cls | box | landmarks
    const U = this.headUnits;
    const first = this.layout.slots.find((s) => s.name === `${this.#headName("cls")}.weight`)!;
    const C = first.size / HEAD_UNITS.cls;
    const W = new Float32Array(C * U);
    const B = new Float32Array(U);
    let col = 0;
    for (const kind of this.headKinds) {
      const u = HEAD_UNITS[kind];
      const name = this.#headName(kind);
      const w = this.#slot(`${name}.weight`);
      const b = this.#slot(`${name}.bias`);
      for (let c = 0; c < C; c++) {
        for (let j = 0; j < u; j++) W[c * U + col + j] = flat[w.offset + c * u + j];
      }
      for (let j = 0; j < u; j++) B[col + j] = flat[b.offset + j];
      col += u;
    }
    this.#headW = tf.tensor2d(W, [C, U]);
    this.#headB = tf.tensor1d(B);
  }

  #slot(name: string): ParamSlot {
    const s = this.layout.slots.find((s) => s.name === name);
    if (!s) throw new RangeError(`${this.arch.name}: no parameter ${name}`);
    return s;
  }

  /** The current parameters as a {@linkcode Net} sharing this graph's tensors (do not dispose it). */
  net(): Net {
    return createNet(this.arch, this.#params, {});
  }

  /**
   * Turns fake quantisation of the activations on (see {@linkcode ActFakeQuant})
   * or off (undefined). With it on, every forward pass runs layer by layer.
   * Weights are not touched: quantise them before {@linkcode TrainGraph.setParams}.
   */
  setFakeQuant(fq: ActFakeQuant | undefined): void {
    this.#fq = fq;
    this.#points.clear();
    if (!fq) return;
    const layers = this.arch.layers;
    let block: string | undefined;
    layers.forEach((l, i) => {
      if (l.kind === "conv" || l.kind === "dense" || l.kind === "depthwise" || l.kind === "gconv") {
        block = l.name;
      }
      const next = layers[i + 1];
      const ends = !next || next.kind === "conv" || next.kind === "dense" ||
        next.kind === "gconv" ||
        next.kind === "depthwise" || next.kind === "cls" || next.kind === "box" ||
        next.kind === "landmarks";
      if (block && ends && l.kind !== "cls" && l.kind !== "box" && l.kind !== "landmarks") {
        this.#points.set(i, block);
      }
    });
  }

  #fakeQuant(name: string, x: tf.Tensor): { y: tf.Tensor; step?: FakeQuantStep } {
    const fq = this.#fq!;
    let stats: { lo: number; hi: number } | undefined;
    if (fq.observe) {
      const v = tf.tidy(() => tf.stack([tf.min(x), tf.max(x)])).dataSync() as Float32Array;
      stats = { lo: v[0], hi: v[1] };
    }
    const q = fq.range(name, stats);
    if (!q) return { y: x };
    const maxCode = fq.maxCode;
    const y = tf.tidy(() =>
      tf.mul(
        tf.clipByValue(
          tf.round(tf.mul(x, tf.scalar(Math.fround(1 / q.scale)))),
          -q.zeroPoint,
          maxCode - q.zeroPoint,
        ),
        tf.scalar(q.scale),
      )
    );
    return { y, step: { q, maxCode } };
  }

  /**
   * Forward pass over `count` samples: 0..255 pixels (Uint8Array, NHWC), or
   * the net's normalised input (Float32Array, see {@linkcode normalizeInput}).
   * With `keep` the activations stay for {@linkcode TrainGraph.backward};
   * without, the inference path (`forward` of src/nets, fused kernels) runs.
   */
  forward(pixels: Uint8Array | Float32Array, count: number, keep = false): BatchOutputs {
    if (!this.#headW) throw new RangeError(`TrainGraph.forward: call setParams first`);
    this.releaseActivations();
    const s = this.arch.input.size;
    const c = this.arch.input.channels;
    const input = pixels instanceof Float32Array
      ? pixels
      : normalizeInput(this.arch.input, pixels, count);
    if (input.length !== count * s * s * c) {
      throw new RangeError(
        `TrainGraph.forward(${this.arch.name}): ${input.length} input values for ${count} samples of ${s}x${s}x${c}`,
      );
    }
    let x: tf.Tensor = tf.tensor4d(input, [count, s, s, c]);
    let out: tf.Tensor2D;
    if (this.#fq) {
      const q = this.#fakeQuant("input", x);
      if (q.y !== x) {
        x.dispose();
        x = q.y;
      }
    }
    if (!keep && !this.#fq) {
      out = tf.tidy(() => {
        const o = netForward(this.net(), x as tf.Tensor4D, { normalized: true });
        const parts = this.headKinds.map((k) =>
          tf.reshape(k === "cls" ? o.logits : k === "box" ? o.box : o.landmarks!, [count, -1])
        );
        return tf.concat(parts, 1) as tf.Tensor2D;
      });
      x.dispose();
    } else {
      let h: tf.Tensor = x;
      for (const [i, layer] of this.arch.layers.entries()) {
        if (layer.kind === "cls" || layer.kind === "box" || layer.kind === "landmarks") break;
        h = this.#forwardLayer(layer, h);
        const point = this.#fq && this.#points.get(i);
        if (point) {
          const q = this.#fakeQuant(point, h);
          if (q.step) this.#saved.push({ layer, x: h, y: q.y, fq: q.step });
          h = q.y;
        }
      }
      this.#trunkShape = h.shape;
      this.#trunkOut = tf.reshape(h, [count, -1]);
      out = tf.tidy(() =>
        tf.add(tf.matMul(this.#trunkOut as tf.Tensor2D, this.#headW!), this.#headB!) as tf.Tensor2D
      );
      this.#count = count;
    }
    const rows = out.dataSync() as Float32Array;
    out.dispose();
    if (!keep && this.#fq) this.releaseActivations();
    return this.#split(rows, count);
  }

  #split(rows: Float32Array, n: number): BatchOutputs {
    const U = this.headUnits;
    const res: BatchOutputs = { logits: new Float32Array(2 * n), box: new Float32Array(4 * n) };
    if (this.hasLandmarks) res.landmarks = new Float32Array(10 * n);
    let col = 0;
    for (const kind of this.headKinds) {
      const u = HEAD_UNITS[kind];
      const dst = kind === "cls" ? res.logits : kind === "box" ? res.box : res.landmarks!;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < u; j++) dst[i * u + j] = rows[i * U + col + j];
      }
      col += u;
    }
    return res;
  }

  #forwardLayer(layer: Layer, x: tf.Tensor): tf.Tensor {
    const p = this.#params;
    let y: tf.Tensor;
    switch (layer.kind) {
      case "conv":
      case "depthwise": {
        const args = {
          x: x as tf.Tensor4D,
          filter: p[`${layer.name}.weight`] as tf.Tensor4D,
          strides: layer.stride,
          pad: "valid" as const,
          bias: p[`${layer.name}.bias`],
        };
        y = layer.kind === "conv" ? tf.fused.conv2d(args) : tf.fused.depthwiseConv2d(args);
        break;
      }
      case "gconv":
        y = tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: this.#full[layer.name].w,
          strides: 1,
          pad: "valid",
          bias: p[`${layer.name}.bias`],
        });
        break;
      case "prelu":
        y = tf.prelu(x, p[`${layer.name}.alpha`]);
        break;
      case "relu":
        y = tf.relu(x);
        break;
      case "maxpool": {
        const [, h, w] = x.shape;
        const r = layer.rounding;
        const oh = Math.max(1, windowCount(h, layer.size, layer.stride, r));
        const ow = Math.max(1, windowCount(w, layer.size, layer.stride, r));
        const ph = Math.max(0, (oh - 1) * layer.stride + layer.size - h);
        const pw = Math.max(0, (ow - 1) * layer.stride + layer.size - w);
        // Caffe's ceil windows hang over the bottom/right edge: explicit padding,
        // which pooling ignores (as -inf), in the forward and the backward kernel
        const pad: PoolPad = ph > 0 || pw > 0 ? [[0, 0], [0, ph], [0, pw], [0, 0]] : "valid";
        y = tf.maxPool(x as tf.Tensor4D, layer.size, layer.stride, pad as "valid");
        this.#saved.push({ layer, x, y, pad });
        return y;
      }
      case "flatten":
        y = tf.reshape(x, [x.shape[0], -1]);
        break;
      case "dense":
        y = tf.fused.matMul({
          a: x as tf.Tensor2D,
          b: p[`${layer.name}.weight`] as tf.Tensor2D,
          bias: p[`${layer.name}.bias`],
        });
        break;
      default:
        throw new RangeError(`${this.arch.name}: cannot train a "${layer.kind}" layer`);
    }
    this.#saved.push({ layer, x, y });
    return y;
  }

  /**
   * Backward pass from the gradient of the outputs (as {@linkcode computeLoss}
   * returns it) for the batch of the last `forward(..., true)`. Returns the
   * parameter gradients, flat, and frees the activations.
   */
  backward(g: OutputGrads): Float32Array {
    if (!this.#trunkOut) throw new RangeError(`TrainGraph.backward: no forward pass kept`);
    const n = this.#count;
    const U = this.headUnits;
    const dRows = new Float32Array(n * U);
    let col = 0;
    for (const kind of this.headKinds) {
      const u = HEAD_UNITS[kind];
      const src = kind === "cls" ? g.dLogits : kind === "box" ? g.dBox : g.dLandmarks;
      if (src) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < u; j++) dRows[i * U + col + j] = src[i * u + j];
        }
      }
      col += u;
    }
    const grads = new Float32Array(this.layout.total);
    // heads: bias gradient on the host, weight gradient h^T · dY
    const dB = new Float64Array(U);
    for (let i = 0; i < n; i++) for (let j = 0; j < U; j++) dB[j] += dRows[i * U + j];
    const dY = tf.tensor2d(dRows, [n, U]);
    const dW = tf.matMul(this.#trunkOut as tf.Tensor2D, dY, true, false);
    const dWv = dW.dataSync();
    dW.dispose();
    col = 0;
    const C = dWv.length / U;
    for (const kind of this.headKinds) {
      const u = HEAD_UNITS[kind];
      const name = this.#headName(kind);
      const w = this.#slot(`${name}.weight`);
      const b = this.#slot(`${name}.bias`);
      for (let c = 0; c < C; c++) {
        for (let j = 0; j < u; j++) grads[w.offset + c * u + j] = dWv[c * U + col + j];
      }
      for (let j = 0; j < u; j++) grads[b.offset + j] = dB[col + j];
      col += u;
    }
    let dy: tf.Tensor = tf.tidy(() =>
      tf.reshape(tf.matMul(dY, this.#headW!, false, true), this.#trunkShape)
    );
    dY.dispose();
    const p = this.#params;
    const put = (name: string, t: tf.Tensor) => {
      const s = this.#slot(name);
      grads.set(t.dataSync() as Float32Array, s.offset);
      t.dispose();
    };
    for (let i = this.#saved.length - 1; i >= 0; i--) {
      const { layer, x, y, pad, fq } = this.#saved[i];
      const needDx = i > 0;
      let dx: tf.Tensor | undefined;
      if (fq) {
        // straight-through: pass where the code did not saturate
        dx = tf.tidy(() => {
          const r = tf.round(tf.mul(x, tf.scalar(Math.fround(1 / fq.q.scale))));
          const inside = tf.logicalAnd(
            tf.greaterEqual(r, -fq.q.zeroPoint),
            tf.lessEqual(r, fq.maxCode - fq.q.zeroPoint),
          );
          return tf.mul(dy, tf.cast(inside, "float32"));
        });
        dy.dispose();
        dy = dx;
        continue;
      }
      switch (layer.kind) {
        case "conv":
        case "depthwise": {
          const w = p[`${layer.name}.weight`];
          const attrs = {
            strides: [layer.stride, layer.stride],
            pad: "valid",
            dataFormat: "NHWC",
            dilations: [1, 1],
          };
          const grad = (kernel: string, inputs: Record<string, tf.Tensor>, extra: object) =>
            tf.engine().runKernel(kernel, inputs, { ...attrs, ...extra } as never) as tf.Tensor;
          if (layer.kind === "conv") {
            put(
              `${layer.name}.weight`,
              grad("Conv2DBackpropFilter", { x, dy }, { filterShape: w.shape }),
            );
            if (needDx) {
              dx = grad("Conv2DBackpropInput", { dy, filter: w }, { inputShape: x.shape });
            }
          } else {
            put(
              `${layer.name}.weight`,
              grad("DepthwiseConv2dNativeBackpropFilter", { x, dy }, { filterShape: w.shape }),
            );
            if (needDx) {
              dx = grad("DepthwiseConv2dNativeBackpropInput", { dy, filter: w }, {
                inputShape: x.shape,
              });
            }
          }
          put(`${layer.name}.bias`, tf.tidy(() => tf.sum(dy, [0, 1, 2])));
          break;
        }
        case "gconv": {
          // the gradient of the block-sparse weight, gathered back to the groups
          const { w, cin } = this.#full[layer.name];
          const attrs = { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: [1, 1] };
          const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
            ...attrs,
            filterShape: w.shape,
          } as never) as tf.Tensor;
          const s = this.#slot(`${layer.name}.weight`);
          grads.set(
            gatherGroupWeight(dw.dataSync(), cin, layer.filters, layer.groups),
            s.offset,
          );
          dw.dispose();
          if (needDx) {
            dx = tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: w }, {
              ...attrs,
              inputShape: x.shape,
            } as never) as tf.Tensor;
          }
          put(`${layer.name}.bias`, tf.tidy(() => tf.sum(dy, [0, 1, 2])));
          break;
        }
        case "prelu": {
          const r = preluBackward(x, p[`${layer.name}.alpha`], dy);
          put(`${layer.name}.alpha`, r.dalpha);
          dx = r.dx;
          break;
        }
        case "relu":
          dx = tf.tidy(() => tf.mul(dy, tf.step(x)));
          break;
        case "maxpool":
          dx = maxPoolGrad(dy, x, y, layer.size, layer.stride, pad ?? "valid");
          break;
        case "flatten":
          dx = tf.reshape(dy, x.shape);
          break;
        case "dense": {
          const w = p[`${layer.name}.weight`];
          put(`${layer.name}.weight`, tf.matMul(x as tf.Tensor2D, dy as tf.Tensor2D, true, false));
          put(`${layer.name}.bias`, tf.sum(dy, 0));
          if (needDx) dx = tf.matMul(dy as tf.Tensor2D, w as tf.Tensor2D, false, true);
          break;
        }
      }
      dy.dispose();
      if (!needDx) break;
      dy = dx!;
    }
    this.releaseActivations();
    return grads;
  }

  /** Frees the activations of a kept forward pass (done by backward). */
  releaseActivations(): void {
    const seen = new Set<number>();
    for (const s of this.#saved) {
      for (const t of [s.x, s.y]) {
        if (!seen.has(t.id)) {
          seen.add(t.id);
          t.dispose();
        }
      }
    }
    this.#saved = [];
    this.#trunkOut?.dispose();
    this.#trunkOut = undefined;
  }

  #disposeParams(): void {
    tf.dispose(Object.values(this.#params));
    this.#params = {};
    tf.dispose(Object.values(this.#full).map((f) => f.w));
    this.#full = {};
    this.#headW?.dispose();
    this.#headB?.dispose();
    this.#headW = undefined;
    this.#headB = undefined;
  }

  /** Frees everything. */
  dispose(): void {
    this.releaseActivations();
    this.#disposeParams();
  }
}

/**
 * True when the backend's MaxPoolGrad kernel drops the gradient of windows
 * whose maximum is negative. tfjs-backend-wasm 4.22's does: it starts its
 * running maximum at FLT_MIN (the smallest positive float) instead of −FLT_MAX.
 * Probed once per backend on a 4×4 example.
 */
export function maxPoolGradDropsNegatives(): boolean {
  const name = tf.getBackend();
  let broken = probed.get(name);
  if (broken === undefined) {
    broken = tf.tidy(() => {
      const x = tf.tensor4d([1, 9, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8], [1, 4, 4, 1]);
      const y = tf.maxPool(x, 2, 2, "valid");
      const dx = tf.engine().runKernel("MaxPoolGrad", { dy: tf.onesLike(y), input: x, output: y }, {
        filterSize: 2,
        strides: 2,
        pad: "valid",
      } as never) as tf.Tensor;
      // the windows of the bottom half have maxima -1 and -3 at flat positions 8 and 10
      const v = dx.dataSync();
      return v[8] !== 1 || v[10] !== 1;
    });
    probed.set(name, broken);
  }
  return broken;
}
const probed = new Map<string, boolean>();

/**
 * MaxPoolGrad (no padding in front; `pad` may add rows and columns at the
 * bottom/right that no window takes its maximum from; TF semantics: the first
 * maximum of a window gets its gradient). Where the backend's kernel ignores negative maxima
 * ({@linkcode maxPoolGradDropsNegatives}), input and output are shifted by a
 * constant that makes every window maximum positive; the chosen positions are
 * the same except between values closer than the shift's rounding.
 */
export function maxPoolGrad(
  dy: tf.Tensor,
  x: tf.Tensor,
  y: tf.Tensor,
  size: number,
  stride: number,
  pad: PoolPad = "valid",
): tf.Tensor4D {
  const run = (input: tf.Tensor, output: tf.Tensor) =>
    tf.engine().runKernel("MaxPoolGrad", { dy, input, output }, {
      filterSize: size,
      strides: stride,
      pad,
    } as never) as tf.Tensor4D;
  if (!maxPoolGradDropsNegatives()) return run(x, y);
  const lo = tf.min(y);
  const low = lo.dataSync()[0];
  lo.dispose();
  if (low > 1e-30) return run(x, y);
  const c = 1 - low;
  return tf.tidy(() => run(tf.add(x, c), tf.add(y, c)));
}

function windowCount(n: number, k: number, s: number, r: "ceil" | "floor"): number {
  if (n < k) return 0;
  return (r === "ceil" ? Math.ceil((n - k) / s) : Math.floor((n - k) / s)) + 1;
}
