/**
 * MTCNN architectures as plain data: a net is an input convention plus a list
 * of layers, so pruned nets with any channel counts, imported nets and
 * quantized nets all flow through the same code (forward pass, weights file,
 * AssemblyScript engine, exporters).
 *
 * Tensor convention: NHWC, float32. The net's `input` says what its first
 * layer expects: channel order and per-channel `(x - mean) * scale` applied to
 * 0..255 pixel values. Ours is RGB, mean 127.5, scale 0.0078125.
 * Heads come last and all read the trunk's output: 1×1 convolutions when the
 * trunk ends spatial (PNet, fully convolutional), dense layers when it ends flat.
 *
 * @example
 * ```ts
 * const arch = rnetArch({ channels: [20, 40, 64], dense: 96 }); // a pruned RNet
 * for (const p of paramSpecs(arch)) console.log(p.name, p.shape);
 * ```
 */

/** How the pixels must be prepared for the first layer. */
export interface InputSpec {
  /** Side of the square input the net was trained on (12, 24, 48). */
  size: number;
  /** Number of input channels (3). */
  channels: number;
  /** Order of the colour channels the first layer expects. */
  channelOrder: "RGB" | "BGR";
  /** Per-channel value subtracted from 0..255 pixels. */
  mean: number[];
  /** Per-channel factor applied after subtracting the mean. */
  scale: number[];
}

export interface ConvLayer {
  kind: "conv";
  name: string;
  kh: number;
  kw: number;
  stride: number;
  filters: number;
  padding: "valid";
}
/** Depthwise convolution, channel multiplier 1. */
export interface DepthwiseLayer {
  kind: "depthwise";
  name: string;
  kh: number;
  kw: number;
  stride: number;
  padding: "valid";
}
/**
 * Grouped 1×1 convolution with ShuffleNet's channel shuffle fused into its
 * output order (stride 1, valid). With `g = groups`, `cin` input channels and
 * `filters` outputs: group k reads input channels [k·cin/g, (k+1)·cin/g) and
 * makes filters/g outputs; group k's j-th output is output channel j·g + k
 * (reshape (g, n) → transpose → flatten). Weight `[1, 1, cin/g, filters]`,
 * columns in the final (shuffled) order: weight[0, 0, i, o] connects input
 * channel (o mod g)·cin/g + i to output o. Bias `[filters]`.
 */
export interface GroupConvLayer {
  kind: "gconv";
  name: string;
  filters: number;
  groups: number;
}
/** PReLU with one alpha per channel. */
export interface PreluLayer {
  kind: "prelu";
  name: string;
}
export interface ReluLayer {
  kind: "relu";
}
/** Max pooling; `ceil` is Caffe's rounding (the last window may hang over the edge). */
export interface MaxPoolLayer {
  kind: "maxpool";
  size: number;
  stride: number;
  rounding: "ceil" | "floor";
}
/** Flattens H×W×C in HWC order. */
export interface FlattenLayer {
  kind: "flatten";
}
export interface DenseLayer {
  kind: "dense";
  name: string;
  units: number;
}
/** Face classification head: 2 logits (not-face, face), softmax gives the face probability. */
export interface ClsHead {
  kind: "cls";
  name: string;
}
/** Box regression head: (dx1, dy1, dx2, dy2) relative to the window size. */
export interface BoxHead {
  kind: "box";
  name: string;
}
/** Landmark head: (x1, y1, ..., x5, y5) relative to the window. */
export interface LandmarksHead {
  kind: "landmarks";
  name: string;
}

export type HeadLayer = ClsHead | BoxHead | LandmarksHead;
export type Layer =
  | ConvLayer
  | DepthwiseLayer
  | GroupConvLayer
  | PreluLayer
  | ReluLayer
  | MaxPoolLayer
  | FlattenLayer
  | DenseLayer
  | HeadLayer;

/** A whole net: its name (pnet, rnet, onet or anything), input convention and layers. */
export interface NetArch {
  name: string;
  input: InputSpec;
  layers: Layer[];
}

/** Number of outputs of each head kind. */
export const HEAD_UNITS = { cls: 2, box: 4, landmarks: 10 } as const;

/** Our input convention: RGB, (x − 127.5) × 0.0078125. */
export function defaultInput(size: number): InputSpec {
  return {
    size,
    channels: 3,
    channelOrder: "RGB",
    mean: [127.5, 127.5, 127.5],
    scale: [0.0078125, 0.0078125, 0.0078125],
  };
}

const conv = (name: string, k: number, filters: number): ConvLayer => ({
  kind: "conv",
  name,
  kh: k,
  kw: k,
  stride: 1,
  filters,
  padding: "valid",
});
const prelu = (name: string): PreluLayer => ({ kind: "prelu", name });
const pool = (size: number, stride: number, rounding: "ceil" | "floor"): MaxPoolLayer => ({
  kind: "maxpool",
  size,
  stride,
  rounding,
});
const heads = (landmarks: boolean): HeadLayer[] => [
  { kind: "cls", name: "cls" },
  { kind: "box", name: "box" },
  ...(landmarks ? [{ kind: "landmarks", name: "landmarks" } as const] : []),
];

/** Options shared by the builders. */
export interface ArchOptions {
  /** Pool rounding; the paper (Caffe) uses ceil. */
  rounding?: "ceil" | "floor";
  input?: InputSpec;
}

/**
 * PNet (12×12, fully convolutional): conv3×3 c1 → PReLU → maxpool 2/2 →
 * conv3×3 c2 → PReLU → conv3×3 c3 → PReLU → 1×1 heads (cls, box).
 *
 * @example
 * ```ts
 * pnetArch();                          // the paper's [10, 16, 32]
 * pnetArch({ channels: [8, 16, 24] }); // a pruned PNet
 * ```
 */
export function pnetArch(
  opts: ArchOptions & { channels?: [number, number, number] } = {},
): NetArch {
  const [c1, c2, c3] = opts.channels ?? [10, 16, 32];
  const r = opts.rounding ?? "ceil";
  return {
    name: "pnet",
    input: opts.input ?? defaultInput(12),
    layers: [
      conv("conv1", 3, c1),
      prelu("prelu1"),
      pool(2, 2, r),
      conv("conv2", 3, c2),
      prelu("prelu2"),
      conv("conv3", 3, c3),
      prelu("prelu3"),
      ...heads(false),
    ],
  };
}

/**
 * RNet (24×24): conv3×3 c1 → PReLU → maxpool 3/2 → conv3×3 c2 → PReLU →
 * maxpool 3/2 → conv2×2 c3 → PReLU → flatten → dense → PReLU → heads (cls, box).
 *
 * @example
 * ```ts
 * rnetArch();                       // [28, 48, 64], dense 128
 * rnetArch({ rounding: "floor" });  // the seed's variant (fc sees 2×2×64)
 * ```
 */
export function rnetArch(
  opts: ArchOptions & { channels?: [number, number, number]; dense?: number } = {},
): NetArch {
  const [c1, c2, c3] = opts.channels ?? [28, 48, 64];
  const r = opts.rounding ?? "ceil";
  return {
    name: "rnet",
    input: opts.input ?? defaultInput(24),
    layers: [
      conv("conv1", 3, c1),
      prelu("prelu1"),
      pool(3, 2, r),
      conv("conv2", 3, c2),
      prelu("prelu2"),
      pool(3, 2, r),
      conv("conv3", 2, c3),
      prelu("prelu3"),
      { kind: "flatten" },
      { kind: "dense", name: "fc", units: opts.dense ?? 128 },
      prelu("prelu4"),
      ...heads(false),
    ],
  };
}

/**
 * ONet (48×48): conv3×3 c1 → PReLU → maxpool 3/2 → conv3×3 c2 → PReLU →
 * maxpool 3/2 → conv3×3 c3 → PReLU → maxpool 2/2 → conv2×2 c4 → PReLU →
 * flatten → dense → PReLU → heads (cls, box, landmarks unless `landmarks: false`).
 *
 * @example
 * ```ts
 * onetArch();                     // [32, 64, 64, 128], dense 256, landmarks
 * onetArch({ landmarks: false }); // cls and box only
 * ```
 */
export function onetArch(
  opts: ArchOptions & {
    channels?: [number, number, number, number];
    dense?: number;
    landmarks?: boolean;
  } = {},
): NetArch {
  const [c1, c2, c3, c4] = opts.channels ?? [32, 64, 64, 128];
  const r = opts.rounding ?? "ceil";
  return {
    name: "onet",
    input: opts.input ?? defaultInput(48),
    layers: [
      conv("conv1", 3, c1),
      prelu("prelu1"),
      pool(3, 2, r),
      conv("conv2", 3, c2),
      prelu("prelu2"),
      pool(3, 2, r),
      conv("conv3", 3, c3),
      prelu("prelu3"),
      pool(2, 2, r),
      conv("conv4", 2, c4),
      prelu("prelu4"),
      { kind: "flatten" },
      { kind: "dense", name: "fc", units: opts.dense ?? 256 },
      prelu("prelu5"),
      ...heads(opts.landmarks ?? true),
    ],
  };
}

const depthwise = (name: string, k: number): DepthwiseLayer => ({
  kind: "depthwise",
  name,
  kh: k,
  kw: k,
  stride: 1,
  padding: "valid",
});

/**
 * Slim PNet (12×12, fully convolutional): PNet's layout with every 3×3
 * convolution replaced by a depthwise-separable block (depthwise 3×3 → PReLU →
 * pointwise 1×1 → PReLU). Same 12 px receptive field and stride 2 as PNet.
 *
 * @example
 * ```ts
 * slimPnetArch();                           // [12, 24, 32]
 * receptiveField(slimPnetArch());           // 12
 * ```
 */
export function slimPnetArch(
  opts: ArchOptions & { channels?: [number, number, number] } = {},
): NetArch {
  return shufflePnetArch({ ...opts, groups: 1 });
}

/**
 * Slim RNet (24×24): RNet's layout with depthwise-separable blocks in place of
 * the convolutions (3×3, 3×3, 2×2), then flatten → dense → PReLU → heads.
 *
 * @example
 * ```ts
 * slimRnetArch();                 // [28, 48, 64], dense 128
 * ```
 */
export function slimRnetArch(
  opts: ArchOptions & { channels?: [number, number, number]; dense?: number } = {},
): NetArch {
  return shuffleRnetArch({ ...opts, groups: 1 });
}

/**
 * Slim ONet (48×48): ONet's layout with depthwise-separable blocks in place of
 * the convolutions (3×3, 3×3, 3×3, 2×2), then flatten → dense → PReLU → heads.
 *
 * @example
 * ```ts
 * slimOnetArch({ landmarks: false });
 * ```
 */
export function slimOnetArch(
  opts: ArchOptions & {
    channels?: [number, number, number, number];
    dense?: number;
    landmarks?: boolean;
  } = {},
): NetArch {
  return shuffleOnetArch({ ...opts, groups: 1 });
}

/**
 * ShuffleNet-style block: depthwise k×k → PReLU → grouped 1×1 (shuffled
 * outputs) → PReLU; with `groups` 1, the plain depthwise-separable block of
 * the slim nets (depthwise k×k → PReLU → pointwise 1×1 → PReLU).
 */
const shuffleBlock = (n: number, k: number, filters: number, groups: number): Layer[] => [
  depthwise(`conv${n}_dw`, k),
  prelu(`prelu${n}_dw`),
  groups > 1
    ? { kind: "gconv", name: `conv${n}_pw`, filters, groups }
    : conv(`conv${n}_pw`, 1, filters),
  prelu(`prelu${n}_pw`),
];

/** Options of the shuffle builders: groups of the grouped pointwise convolutions after the first block. */
export interface ShuffleOptions extends ArchOptions {
  groups?: number;
}

/**
 * Shuffle PNet: {@linkcode slimPnetArch}'s layout with the pointwise
 * convolutions of blocks 2 and 3 grouped (2 groups by default) with the
 * channel shuffle fused ({@linkcode GroupConvLayer}); block 1's pointwise
 * reads the 3 input channels and stays a plain 1×1 convolution.
 *
 * @example
 * ```ts
 * shufflePnetArch();                // [12, 24, 32], 2 groups
 * shufflePnetArch({ groups: 4 });
 * ```
 */
export function shufflePnetArch(
  opts: ShuffleOptions & { channels?: [number, number, number] } = {},
): NetArch {
  const [c1, c2, c3] = opts.channels ?? [12, 24, 32];
  const g = opts.groups ?? 2;
  return {
    name: "pnet",
    input: opts.input ?? defaultInput(12),
    layers: [
      ...shuffleBlock(1, 3, c1, 1),
      pool(2, 2, opts.rounding ?? "ceil"),
      ...shuffleBlock(2, 3, c2, g),
      ...shuffleBlock(3, 3, c3, g),
      ...heads(false),
    ],
  };
}

/**
 * Shuffle RNet: {@linkcode slimRnetArch}'s layout with grouped, shuffled
 * pointwise convolutions after the first block (4 groups by default).
 *
 * @example
 * ```ts
 * shuffleRnetArch();                // [28, 48, 64], dense 128, 4 groups
 * ```
 */
export function shuffleRnetArch(
  opts: ShuffleOptions & { channels?: [number, number, number]; dense?: number } = {},
): NetArch {
  const [c1, c2, c3] = opts.channels ?? [28, 48, 64];
  const g = opts.groups ?? 4;
  const r = opts.rounding ?? "ceil";
  return {
    name: "rnet",
    input: opts.input ?? defaultInput(24),
    layers: [
      ...shuffleBlock(1, 3, c1, 1),
      pool(3, 2, r),
      ...shuffleBlock(2, 3, c2, g),
      pool(3, 2, r),
      ...shuffleBlock(3, 2, c3, g),
      { kind: "flatten" },
      { kind: "dense", name: "fc", units: opts.dense ?? 128 },
      prelu("prelu4"),
      ...heads(false),
    ],
  };
}

/**
 * Shuffle ONet: {@linkcode slimOnetArch}'s layout with grouped, shuffled
 * pointwise convolutions after the first block (4 groups by default).
 *
 * @example
 * ```ts
 * shuffleOnetArch({ landmarks: false });
 * ```
 */
export function shuffleOnetArch(
  opts: ShuffleOptions & {
    channels?: [number, number, number, number];
    dense?: number;
    landmarks?: boolean;
  } = {},
): NetArch {
  const [c1, c2, c3, c4] = opts.channels ?? [32, 64, 64, 128];
  const g = opts.groups ?? 4;
  const r = opts.rounding ?? "ceil";
  return {
    name: "onet",
    input: opts.input ?? defaultInput(48),
    layers: [
      ...shuffleBlock(1, 3, c1, 1),
      pool(3, 2, r),
      ...shuffleBlock(2, 3, c2, g),
      pool(3, 2, r),
      ...shuffleBlock(3, 3, c3, g),
      pool(2, 2, r),
      ...shuffleBlock(4, 2, c4, g),
      { kind: "flatten" },
      { kind: "dense", name: "fc", units: opts.dense ?? 256 },
      prelu("prelu5"),
      ...heads(opts.landmarks ?? true),
    ],
  };
}

/**
 * Large PNet: PNet's layout (same 12 px receptive field, stride 2) with wider
 * convolutions, [16, 32, 64] by default.
 *
 * @example
 * ```ts
 * largePnetArch().layers[0]; // conv3x3·16
 * ```
 */
export function largePnetArch(
  opts: ArchOptions & { channels?: [number, number, number] } = {},
): NetArch {
  return pnetArch({ ...opts, channels: opts.channels ?? [16, 32, 64] });
}

/** Architecture families the trainer offers (`--arch`). */
export const ARCH_VARIANTS = ["original", "slim", "large", "shuffle"] as const;
export type ArchVariant = typeof ARCH_VARIANTS[number];

/**
 * The builder for a standard net name, optionally in a variant (`original`,
 * `slim`, `shuffle`, or `large` for PNet only; RangeError otherwise).
 *
 * @example
 * ```ts
 * archFor("pnet");                 // pnetArch()
 * archFor("rnet", "slim");         // slimRnetArch()
 * archFor("onet", "slim", { landmarks: false });
 * ```
 */
export function archFor(
  name: "pnet" | "rnet" | "onet",
  variant: ArchVariant | ArchOptions = "original",
  opts: ArchOptions & { landmarks?: boolean } = {},
): NetArch {
  if (typeof variant !== "string") return archFor(name, "original", variant);
  if (variant === "original") {
    return name === "pnet" ? pnetArch(opts) : name === "rnet" ? rnetArch(opts) : onetArch(opts);
  }
  if (variant === "slim") {
    return name === "pnet"
      ? slimPnetArch(opts)
      : name === "rnet"
      ? slimRnetArch(opts)
      : slimOnetArch(opts);
  }
  if (variant === "shuffle") {
    return name === "pnet"
      ? shufflePnetArch(opts)
      : name === "rnet"
      ? shuffleRnetArch(opts)
      : shuffleOnetArch(opts);
  }
  if (variant === "large") {
    if (name !== "pnet") throw new RangeError(`arch "large" exists only for pnet, not ${name}`);
    return largePnetArch(opts);
  }
  throw new RangeError(
    `arch must be ${ARCH_VARIANTS.join(", ")}, got "${variant as string}"`,
  );
}

/** Output side of a valid (unpadded) window of `k` with stride `s` over `n`, with the given rounding. */
export function windowOut(
  n: number,
  k: number,
  s: number,
  rounding: "ceil" | "floor" = "floor",
): number {
  if (n < k) return 0;
  return (rounding === "ceil" ? Math.ceil((n - k) / s) : Math.floor((n - k) / s)) + 1;
}

/** Shape of the activations between layers: spatial [h, w, c] or flat [n]. */
export type ActShape = [number, number, number] | [number];

/** A parameter tensor of a net: stable name and shape. */
export interface ParamSpec {
  name: string;
  shape: number[];
}

/** The trunk/head layout of a net for one input size: shapes after every layer and all parameters. */
export interface ArchPlan {
  /** Shape after each layer of the trunk (heads excluded), index-aligned with `layers`. */
  shapes: ActShape[];
  /** Shape the heads read. */
  trunkOut: ActShape;
  /** Heads, in order. */
  heads: HeadLayer[];
  params: ParamSpec[];
}

/**
 * Walks `arch` for an input of `height`×`width` (default: the training size)
 * and returns every activation shape and parameter. Throws a one-line
 * RangeError when the input is too small or the layer list is malformed.
 *
 * @example
 * ```ts
 * planArch(pnetArch(), 480, 640).trunkOut; // [235, 315, 32]
 * ```
 */
export function planArch(
  arch: NetArch,
  height = arch.input.size,
  width = arch.input.size,
): ArchPlan {
  let shape: ActShape = [height, width, arch.input.channels];
  const shapes: ActShape[] = [];
  const params: ParamSpec[] = [];
  const heads: HeadLayer[] = [];
  const where = (i: number) => `${arch.name} layer ${i} (${arch.layers[i].kind})`;
  arch.layers.forEach((layer, i) => {
    if (layer.kind === "cls" || layer.kind === "box" || layer.kind === "landmarks") {
      heads.push(layer);
      return;
    }
    if (heads.length) throw new RangeError(`${where(i)} follows a head; heads must come last`);
    const spatial = shape.length === 3;
    switch (layer.kind) {
      case "conv":
      case "depthwise": {
        if (!spatial) throw new RangeError(`${where(i)} needs a spatial input, got [${shape}]`);
        const [h, w, c] = shape as [number, number, number];
        const oh = windowOut(h, layer.kh, layer.stride);
        const ow = windowOut(w, layer.kw, layer.stride);
        if (oh < 1 || ow < 1) {
          throw new RangeError(
            `${
              where(i)
            } "${layer.name}": input ${h}x${w} is smaller than its ${layer.kh}x${layer.kw} kernel`,
          );
        }
        if (layer.kind === "conv") {
          params.push({
            name: `${layer.name}.weight`,
            shape: [layer.kh, layer.kw, c, layer.filters],
          });
          params.push({ name: `${layer.name}.bias`, shape: [layer.filters] });
          shape = [oh, ow, layer.filters];
        } else {
          params.push({ name: `${layer.name}.weight`, shape: [layer.kh, layer.kw, c, 1] });
          params.push({ name: `${layer.name}.bias`, shape: [c] });
          shape = [oh, ow, c];
        }
        break;
      }
      case "gconv": {
        if (!spatial) throw new RangeError(`${where(i)} needs a spatial input, got [${shape}]`);
        const [h, w, c] = shape as [number, number, number];
        const g = layer.groups;
        if (c % g !== 0 || layer.filters % g !== 0) {
          throw new RangeError(
            `${
              where(i)
            } "${layer.name}": ${c} input channels and ${layer.filters} filters must both be divisible by ${g} groups`,
          );
        }
        params.push({ name: `${layer.name}.weight`, shape: [1, 1, c / g, layer.filters] });
        params.push({ name: `${layer.name}.bias`, shape: [layer.filters] });
        shape = [h, w, layer.filters];
        break;
      }
      case "prelu":
        params.push({ name: `${layer.name}.alpha`, shape: [shape[shape.length - 1]] });
        break;
      case "relu":
        break;
      case "maxpool": {
        if (!spatial) throw new RangeError(`${where(i)} needs a spatial input, got [${shape}]`);
        const [h, w, c] = shape as [number, number, number];
        const oh = windowOut(h, layer.size, layer.stride, layer.rounding);
        const ow = windowOut(w, layer.size, layer.stride, layer.rounding);
        if (oh < 1 || ow < 1) {
          throw new RangeError(
            `${where(i)}: input ${h}x${w} is smaller than the ${layer.size}x${layer.size} window`,
          );
        }
        shape = [oh, ow, c];
        break;
      }
      case "flatten":
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case "dense":
        if (spatial) {
          throw new RangeError(
            `${where(i)} "${layer.name}" needs a flat input; add a flatten layer`,
          );
        }
        params.push({ name: `${layer.name}.weight`, shape: [shape[0], layer.units] });
        params.push({ name: `${layer.name}.bias`, shape: [layer.units] });
        shape = [layer.units];
        break;
      default:
        throw new RangeError(
          `${arch.name} layer ${i}: unknown kind "${(layer as { kind: string }).kind}"`,
        );
    }
    shapes.push(shape);
  });
  const kinds = heads.map((h) => h.kind);
  if (!kinds.includes("cls") || !kinds.includes("box")) {
    throw new RangeError(`${arch.name}: needs a cls and a box head, has [${kinds.join(", ")}]`);
  }
  if (new Set(kinds).size !== kinds.length) {
    throw new RangeError(`${arch.name}: a head kind appears twice`);
  }
  const c = shape[shape.length - 1];
  for (const h of heads) {
    const units = HEAD_UNITS[h.kind];
    params.push({
      name: `${h.name}.weight`,
      shape: shape.length === 3 ? [1, 1, c, units] : [c, units],
    });
    params.push({ name: `${h.name}.bias`, shape: [units] });
  }
  const names = new Set<string>();
  for (const p of params) {
    if (names.has(p.name)) {
      throw new RangeError(`${arch.name}: parameter ${p.name} is defined twice`);
    }
    names.add(p.name);
  }
  return { shapes, trunkOut: shape, heads, params };
}

/** Parameter names and shapes of `arch`, in a stable order. */
export function paramSpecs(arch: NetArch): ParamSpec[] {
  return planArch(arch).params;
}

/**
 * The grouped weight of a {@linkcode GroupConvLayer} (`[cin/g, filters]`) as
 * the equivalent full 1×1 weight `[cin, filters]`, zeros outside the groups:
 * full[(o mod g)·cin/g + i, o] = w[i, o].
 *
 * @example
 * ```ts
 * const full = expandGroupWeight(w, 8, 16, 2); // 8×16, half of it zeros
 * ```
 */
export function expandGroupWeight(
  w: ArrayLike<number>,
  cin: number,
  filters: number,
  groups: number,
): Float32Array {
  const per = cin / groups;
  if (!Number.isInteger(per) || filters % groups !== 0 || w.length !== per * filters) {
    throw new RangeError(
      `expandGroupWeight: ${w.length} values do not fit ${cin} inputs, ${filters} filters, ${groups} groups`,
    );
  }
  const full = new Float32Array(cin * filters);
  for (let i = 0; i < per; i++) {
    for (let o = 0; o < filters; o++) {
      full[((o % groups) * per + i) * filters + o] = w[i * filters + o];
    }
  }
  return full;
}

/**
 * The inverse of {@linkcode expandGroupWeight}: the grouped entries of a full
 * `[cin, filters]` 1×1 weight (or its gradient), `[cin/g, filters]`.
 */
export function gatherGroupWeight(
  full: ArrayLike<number>,
  cin: number,
  filters: number,
  groups: number,
): Float32Array {
  const per = cin / groups;
  if (!Number.isInteger(per) || filters % groups !== 0 || full.length !== cin * filters) {
    throw new RangeError(
      `gatherGroupWeight: ${full.length} values do not fit ${cin} inputs, ${filters} filters, ${groups} groups`,
    );
  }
  const w = new Float32Array(per * filters);
  for (let i = 0; i < per; i++) {
    for (let o = 0; o < filters; o++) {
      w[i * filters + o] = full[((o % groups) * per + i) * filters + o];
    }
  }
  return w;
}

/** Total number of parameters. */
export function paramCount(arch: NetArch): number {
  return paramSpecs(arch).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Output side of the spatial heads for an input side (PNet: (n-2)/2 ceil, -4). */
export function outputSize(arch: NetArch, height: number, width: number): [number, number] {
  const s = planArch(arch, height, width).trunkOut;
  return s.length === 3 ? [s[0], s[1]] : [1, 1];
}

/**
 * Checks that `value` (e.g. parsed JSON) is a well-formed NetArch and returns it.
 * `where` prefixes error messages, e.g. `Cannot load "w.mtcnn"`.
 */
export function validateArch(value: unknown, where = "arch"): NetArch {
  const bad = (what: string): never => {
    throw new TypeError(`${where}: ${what}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const posInt = (v: unknown, field: string) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      bad(`${field} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  };
  if (!isObj(value)) return bad("arch is not an object");
  if (typeof value.name !== "string") bad("arch.name must be a string");
  const input = value.input;
  if (!isObj(input)) return bad("arch.input is missing");
  posInt(input.size, "arch.input.size");
  posInt(input.channels, "arch.input.channels");
  if (input.channelOrder !== "RGB" && input.channelOrder !== "BGR") {
    bad(`arch.input.channelOrder must be RGB or BGR`);
  }
  for (const k of ["mean", "scale"]) {
    const v = input[k];
    if (
      !Array.isArray(v) || v.length !== input.channels ||
      v.some((x) => typeof x !== "number" || !Number.isFinite(x))
    ) {
      bad(`arch.input.${k} must be ${input.channels} numbers`);
    }
  }
  if (!Array.isArray(value.layers)) return bad("arch.layers must be an array");
  value.layers.forEach((l: unknown, i: number) => {
    if (!isObj(l) || typeof l.kind !== "string") return bad(`arch.layers[${i}] has no kind`);
    const f = (k: string) => `arch.layers[${i}].${k}`;
    switch (l.kind) {
      case "conv":
      case "depthwise":
        if (typeof l.name !== "string") bad(`${f("name")} must be a string`);
        posInt(l.kh, f("kh"));
        posInt(l.kw, f("kw"));
        posInt(l.stride, f("stride"));
        if (l.kind === "conv") posInt(l.filters, f("filters"));
        if (l.padding !== "valid") bad(`${f("padding")} must be "valid"`);
        break;
      case "gconv":
        if (typeof l.name !== "string") bad(`${f("name")} must be a string`);
        posInt(l.filters, f("filters"));
        posInt(l.groups, f("groups"));
        if ((l.filters as number) % (l.groups as number) !== 0) {
          bad(`${f("filters")} ${l.filters} is not divisible by ${f("groups")} ${l.groups}`);
        }
        break;
      case "dense":
        if (typeof l.name !== "string") bad(`${f("name")} must be a string`);
        posInt(l.units, f("units"));
        break;
      case "maxpool":
        posInt(l.size, f("size"));
        posInt(l.stride, f("stride"));
        if (l.rounding !== "ceil" && l.rounding !== "floor") {
          bad(`${f("rounding")} must be ceil or floor`);
        }
        break;
      case "prelu":
      case "cls":
      case "box":
      case "landmarks":
        if (typeof l.name !== "string") bad(`${f("name")} must be a string`);
        break;
      case "relu":
      case "flatten":
        break;
      default:
        bad(`arch.layers[${i}].kind "${l.kind}" is not a layer kind`);
    }
  });
  const arch = value as unknown as NetArch;
  try {
    planArch(arch);
  } catch (e) {
    bad((e as Error).message);
  }
  return arch;
}

/**
 * A one-line description of the layers, e.g.
 * `conv3x3·10 prelu pool2/2c conv3x3·16 prelu conv3x3·32 prelu → cls box`.
 */
export function archSummary(arch: NetArch): string {
  const trunk: string[] = [];
  const heads: string[] = [];
  for (const l of arch.layers) {
    switch (l.kind) {
      case "conv":
        trunk.push(`conv${l.kh}x${l.kw}${l.stride > 1 ? `/${l.stride}` : ""}·${l.filters}`);
        break;
      case "depthwise":
        trunk.push(`dw${l.kh}x${l.kw}${l.stride > 1 ? `/${l.stride}` : ""}`);
        break;
      case "gconv":
        trunk.push(`gconv1x1·${l.filters}/g${l.groups}`);
        break;
      case "maxpool":
        trunk.push(`pool${l.size}/${l.stride}${l.rounding === "ceil" ? "c" : "f"}`);
        break;
      case "dense":
        trunk.push(`fc·${l.units}`);
        break;
      case "cls":
      case "box":
      case "landmarks":
        heads.push(l.kind);
        break;
      default:
        trunk.push(l.kind);
    }
  }
  return `${trunk.join(" ")} → ${heads.join(" ")}`;
}

/**
 * Side of the input window one output of the trunk sees (PNet: 12). For a
 * fully convolutional net this is its training size.
 *
 * @example
 * ```ts
 * receptiveField(pnetArch()); // 12
 * ```
 */
export function receptiveField(arch: NetArch): number {
  let r = 1;
  for (let i = arch.layers.length - 1; i >= 0; i--) {
    const l = arch.layers[i];
    if (l.kind === "conv" || l.kind === "depthwise") r = (r - 1) * l.stride + Math.max(l.kh, l.kw);
    else if (l.kind === "maxpool") r = (r - 1) * l.stride + l.size;
  }
  return r;
}
