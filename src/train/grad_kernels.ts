/**
 * Training kernels for the tfjs WebAssembly backend: the gradient kernels
 * tfjs-backend-wasm 4.22 lacks, and faster versions of the ones it runs
 * slowly, registered on the "wasm" backend by {@linkcode enableTrainingKernels}.
 *
 * | kernel | how (fast mode) |
 * | --- | --- |
 * | Conv2DBackpropFilter (missing) | AssemblyScript GEMM over positions (kernels/assembly/grad.ts), on tfjs' heap |
 * | Conv2DBackpropInput | AssemblyScript (padded stride-1 convs: XNNPACK convolution of dy with the flipped filter) |
 * | DepthwiseConv2dNativeBackpropFilter / Input (missing) | AssemblyScript |
 * | MaxPoolGrad | AssemblyScript (the wasm one is ~20x slower, and wrong for most shapes, e.g. [2, 10, 10, c] 2/2) |
 * | PreluGrad (new) and the gradient of Prelu | AssemblyScript, dx and dalpha in one pass |
 * | Sum over leading axes (bias gradients) | AssemblyScript column sums (the wasm one transposes first) |
 * | BatchMatMul with a transposed operand | explicit Transpose, then XNNPACK (the wasm one loops naively) |
 * | UnsortedSegmentSum (missing: no gradient through gather) | AssemblyScript |
 * | Identity (copies on wasm; tfjs clones every tensor a gradient saves) | shares the data, as the cpu backend |
 *
 * The AssemblyScript module imports tfjs-backend-wasm's own linear memory, so
 * kernels read their inputs where tfjs keeps them and write outputs tfjs
 * allocated (`backend.makeOutput`): no copies. Importing this module also
 * registers tfjs' gradient functions (they ship in the `@tensorflow/tfjs`
 * bundle, not in tfjs-core's), without which `tf.grads` fails for every op.
 *
 * Mode "composed" registers only tfjs-op compositions (Conv2DBackpropFilter as
 * Transpose + dilated Conv2D, stride-1 Conv2DBackpropInput as above) and
 * leaves the other wasm kernels as they are: the baseline tests/train_bench.ts
 * compares against.
 *
 * @example
 * ```ts
 * import { initBackend } from "../nets/mod.ts";
 * import { enableTrainingKernels } from "./grad_kernels.ts";
 * await initBackend("wasm");
 * enableTrainingKernels();
 * const [dw] = tf.grads((w: tf.Tensor4D) => tf.sum(tf.conv2d(x, w, 1, "valid")))([w]);
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";
// Side effect: registers tfjs' gradient functions (see the module comment).
import "@tensorflow/tfjs";
import { bindGradKernels, type GradKernelsRaw } from "../../kernels/mod.ts";

/** Which kernels {@linkcode enableTrainingKernels} registers. */
export type TrainingKernelMode = "fast" | "composed";

/** Options of {@linkcode enableTrainingKernels}. */
export interface TrainingKernelOptions {
  /** "fast" (default): everything in the table above; "composed": tfjs-op compositions only. */
  mode?: TrainingKernelMode;
}

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackend {
  wasm: {
    asm: { memory: WebAssembly.Memory };
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    HEAPF32: Float32Array;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

type Attrs = Record<string, unknown>;
type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs: Attrs };
type KernelImpl = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const BACKEND = "wasm";
/** The wasm kernels this module wraps (fast paths, else the original). */
const WRAPPED_KERNELS = ["Conv2DBackpropInput", "MaxPoolGrad", "Sum", "BatchMatMul", "Identity"];

let enabledMode: TrainingKernelMode | undefined;
const originals = new Map<string, tf.KernelConfig>();
let originalPreluGrad: tf.GradConfig | undefined;
const rawKernels = new WeakMap<object, GradKernelsRaw>();

/**
 * Registers the training kernels on the "wasm" backend (see the module
 * comment). Idempotent; calling it with the other mode switches modes. Call
 * it after `initBackend("wasm")` (the wasm kernels must be registered); it
 * throws a one-line Error otherwise. The cpu backend is left alone.
 *
 * @example
 * ```ts
 * await initBackend("wasm");
 * enableTrainingKernels();
 * ```
 */
export function enableTrainingKernels(options: TrainingKernelOptions = {}): void {
  const mode = options.mode ?? "fast";
  if (mode !== "fast" && mode !== "composed") {
    throw new TypeError(`enableTrainingKernels: mode must be "fast" or "composed", got "${mode}"`);
  }
  if (enabledMode === mode) return;
  if (enabledMode) disableTrainingKernels();
  for (const name of WRAPPED_KERNELS) {
    const k = tf.getKernel(name, BACKEND);
    if (!k) {
      throw new Error(
        `enableTrainingKernels: the wasm backend has no ${name} kernel; call initBackend("wasm") first`,
      );
    }
    originals.set(name, k);
  }
  const added: string[] = [];
  const add = (name: string, impl: KernelImpl) => {
    // whatever was registered before (the wasm backend's, or someone's shim) comes back on disable
    const old = tf.getKernel(name, BACKEND);
    if (old) {
      originals.set(name, old);
      tf.unregisterKernel(name, BACKEND);
    }
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      // keep the original's setup (cwrap), in case the backend is (re)initialised later
      setupFunc: old?.setupFunc,
      kernelFunc: impl as unknown as tf.KernelFunc,
    });
    added.push(name);
  };
  if (mode === "fast") {
    add("Conv2DBackpropFilter", conv2DBackpropFilterFast);
    add("Conv2DBackpropInput", conv2DBackpropInputFast);
    add("DepthwiseConv2dNativeBackpropFilter", depthwiseBackpropFilter);
    add("DepthwiseConv2dNativeBackpropInput", depthwiseBackpropInput);
    add("MaxPoolGrad", maxPoolGrad);
    add("PreluGrad", preluGradKernel);
    add("Sum", sum);
    add("BatchMatMul", batchMatMul);
    add("UnsortedSegmentSum", unsortedSegmentSum);
    add("Identity", identity);
    originalPreluGrad = tf.getGradient("Prelu");
    tf.registerGradient(PRELU_GRAD);
  } else {
    add("Conv2DBackpropFilter", conv2DBackpropFilterComposed);
    add("Conv2DBackpropInput", conv2DBackpropInputComposed);
  }
  addedKernels = added;
  enabledMode = mode;
}

let addedKernels: string[] = [];

/**
 * Undoes {@linkcode enableTrainingKernels}: the wasm backend's own kernels
 * and tfjs' Prelu gradient come back. Does nothing when not enabled.
 */
export function disableTrainingKernels(): void {
  if (!enabledMode) return;
  for (const name of addedKernels) {
    tf.unregisterKernel(name, BACKEND);
    const old = originals.get(name);
    if (old) tf.registerKernel(old);
  }
  if (originalPreluGrad) {
    tf.unregisterGradient("Prelu");
    tf.registerGradient(originalPreluGrad);
    originalPreluGrad = undefined;
  }
  originals.clear();
  addedKernels = [];
  enabledMode = undefined;
}

/** The mode the training kernels run in, or undefined when not enabled. */
export function trainingKernelMode(): TrainingKernelMode | undefined {
  return enabledMode;
}

// ---------------------------------------------------------------------------
// Helpers

function raw(backend: WasmBackend): GradKernelsRaw {
  let k = rawKernels.get(backend);
  if (!k) {
    const memory = backend.wasm.asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new Error("training kernels: cannot find the wasm backend's memory (wasm.asm.memory)");
    }
    k = bindGradKernels(memory);
    rawKernels.set(backend, k);
  }
  return k;
}

function addr(backend: WasmBackend, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error("training kernels: a tensor is not on the wasm backend");
  return d.memoryOffset;
}

/** Runs a kernel as registered before this module touched it (or as registered now). */
function run(backend: WasmBackend, name: string, inputs: KernelArgs["inputs"], attrs: Attrs) {
  const k = originals.get(name) ?? tf.getKernel(name, BACKEND);
  if (!k) throw new Error(`training kernels: the wasm backend has no ${name} kernel`);
  return k.kernelFunc({ inputs, backend, attrs } as never) as tf.TensorInfo;
}

function free(backend: WasmBackend, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}

/** Calls `f` with `bytes` of scratch on the wasm heap (16 bytes of slack added). */
function withScratch<T>(backend: WasmBackend, bytes: number, f: (p: number) => T): T {
  const p = backend.wasm._malloc(bytes + 16);
  try {
    return f(p);
  } finally {
    backend.wasm._free(p);
  }
}

function float32(fn: string, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") throw new TypeError(`${fn}: wants float32 tensors, got ${t.dtype}`);
  }
}

function nhwc(fn: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC" && dataFormat !== "channelsLast") {
    throw new TypeError(`${fn} on wasm: dataFormat ${dataFormat} is not supported (use NHWC)`);
  }
}

type Shape4 = [number, number, number, number];

/** Zero-pads x [n, h, w, c] by the conv's padInfo (a no-op view when all pads are 0). */
function padInput(
  backend: WasmBackend,
  x: tf.TensorInfo,
  pad: { top: number; bottom: number; left: number; right: number },
): tf.TensorInfo | undefined {
  if (pad.top === 0 && pad.bottom === 0 && pad.left === 0 && pad.right === 0) return undefined;
  return run(backend, "PadV2", { x }, {
    paddings: [[0, 0], [pad.top, pad.bottom], [pad.left, pad.right], [0, 0]],
    constantValue: 0,
  });
}

// ---------------------------------------------------------------------------
// Convolutions

function convInfo(x: Shape4, filter: Shape4, attrs: Attrs, depthwise = false) {
  return tf.backend_util.computeConv2DInfo(
    x,
    filter,
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as "valid",
    attrs.dimRoundingMode as "floor" | undefined,
    depthwise,
    "channelsLast",
  );
}

/** Conv2DBackpropFilter by the AssemblyScript GEMM (x zero-padded first when the conv pads). */
function conv2DBackpropFilterFast({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const fn = "Conv2DBackpropFilter";
  const { x, dy } = inputs;
  float32(fn, x, dy);
  nhwc(fn, attrs.dataFormat);
  const fs = attrs.filterShape as Shape4;
  const info = convInfo(x.shape as Shape4, fs, attrs);
  const padded = padInput(backend, x, info.padInfo);
  const xp = padded ?? x;
  const [n, h, w, ci] = xp.shape;
  const out = backend.makeOutput([...fs], "float32");
  raw(backend).conv2dFilterGrad(
    addr(backend, xp),
    addr(backend, dy),
    addr(backend, out),
    n,
    h,
    w,
    ci,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
  );
  if (padded) free(backend, padded);
  return out;
}

/**
 * Conv2DBackpropFilter from tfjs kernels only: with x as [ci, h, w, n] and
 * dy as a [oh, ow, n, co] filter, a Conv2D dilated by the stride gives
 * [ci, kh', kw', co] (kh' >= kh: sliced), transposed to HWIO.
 */
function conv2DBackpropFilterComposed({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const fn = "Conv2DBackpropFilter";
  const { x, dy } = inputs;
  float32(fn, x, dy);
  nhwc(fn, attrs.dataFormat);
  const fs = attrs.filterShape as Shape4;
  const info = convInfo(x.shape as Shape4, fs, attrs);
  const padded = padInput(backend, x, info.padInfo);
  const xt = run(backend, "Transpose", { x: padded ?? x }, { perm: [3, 1, 2, 0] });
  if (padded) free(backend, padded);
  const dyt = run(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
  const r = run(backend, "Conv2D", { x: xt, filter: dyt }, {
    strides: 1,
    pad: "valid",
    dataFormat: "NHWC",
    dilations: [info.strideHeight, info.strideWidth],
  });
  free(backend, xt, dyt);
  let rs = r;
  if (r.shape[1] !== fs[0] || r.shape[2] !== fs[1]) {
    rs = run(backend, "Slice", { x: r }, {
      begin: [0, 0, 0, 0],
      size: [fs[2], fs[0], fs[1], fs[3]],
    });
    free(backend, r);
  }
  const out = run(backend, "Transpose", { x: rs }, { perm: [1, 2, 0, 3] });
  free(backend, rs);
  return out;
}

/**
 * Conv2DBackpropInput, fast mode: the AssemblyScript kernel for any stride
 * (a padded convolution's dx is computed over the padded input, then
 * sliced), except padded stride-1 convolutions, which go to XNNPACK as in
 * {@linkcode conv2DBackpropInputComposed}.
 */
function conv2DBackpropInputFast(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const inShape = attrs.inputShape as Shape4;
  const fs = filter.shape as Shape4;
  if (!conv2DInputSupported(dy, filter, attrs)) {
    return run(backend, "Conv2DBackpropInput", inputs, attrs);
  }
  const info = convInfo(inShape, fs, attrs);
  const { top, bottom, left, right } = info.padInfo;
  const padded = top !== 0 || bottom !== 0 || left !== 0 || right !== 0;
  if (padded && info.strideHeight === 1 && info.strideWidth === 1) {
    return conv2DBackpropInputComposed(args);
  }
  const [n, h, w, ci] = inShape;
  const hp = h + top + bottom;
  const wp = w + left + right;
  const full = backend.makeOutput([n, hp, wp, ci], "float32");
  withScratch(
    backend,
    4 * fs[0] * fs[1] * fs[2] * fs[3] + 16,
    (scratch) =>
      raw(backend).conv2dInputGrad(
        addr(backend, dy),
        addr(backend, filter),
        addr(backend, full),
        n,
        hp,
        wp,
        ci,
        info.outHeight,
        info.outWidth,
        info.outChannels,
        info.filterHeight,
        info.filterWidth,
        info.strideHeight,
        info.strideWidth,
        scratch,
      ),
  );
  if (!padded) return full;
  const out = run(backend, "Slice", { x: full }, { begin: [0, top, left, 0], size: [n, h, w, ci] });
  free(backend, full);
  return out;
}

/** NHWC float32 with dilation 1 (what the fast and composed paths handle). */
function conv2DInputSupported(dy: tf.TensorInfo, filter: tf.TensorInfo, attrs: Attrs): boolean {
  const d = attrs.dilations as number | number[] | undefined;
  const dilated = d !== undefined && (Array.isArray(d) ? d.some((v) => v !== 1) : d !== 1);
  return dy.dtype === "float32" && filter.dtype === "float32" && !dilated &&
    (attrs.dataFormat === undefined || attrs.dataFormat === "NHWC");
}

/**
 * Conv2DBackpropInput from tfjs kernels: for stride 1, dx is the "full"
 * convolution of dy with the filter rotated by 180° and its in/out channels
 * swapped, run by the wasm Conv2D kernel (XNNPACK) with explicit padding;
 * other strides go to the wasm backend's own kernel.
 */
function conv2DBackpropInputComposed({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, filter } = inputs;
  const inShape = attrs.inputShape as Shape4;
  const fs = filter.shape as Shape4;
  const native = () => run(backend, "Conv2DBackpropInput", inputs, attrs);
  if (!conv2DInputSupported(dy, filter, attrs)) return native();
  const info = convInfo(inShape, fs, attrs);
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return native();
  const [kh, kw, ci, co] = fs;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = inShape[1] - info.outHeight - top + kh - 1;
  const right = inShape[2] - info.outWidth - left + kw - 1;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return native();
  // flipped[ky, kx, co, ci] = filter[kh-1-ky, kw-1-kx, ci, co] (small: done in JS)
  const flipped = backend.makeOutput([kh, kw, co, ci], "float32");
  const heap = backend.wasm.HEAPF32;
  const src = addr(backend, filter) >> 2;
  const dst = addr(backend, flipped) >> 2;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const s = src + ((kh - 1 - ky) * kw + (kw - 1 - kx)) * ci * co;
      const d = dst + (ky * kw + kx) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) heap[d + o * ci + i] = heap[s + i * co + o];
      }
    }
  }
  const out = run(backend, "Conv2D", { x: dy, filter: flipped }, {
    strides: 1,
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: "NHWC",
    dilations: 1,
  });
  free(backend, flipped);
  return out;
}

function depthwiseGeometry(fn: string, x: Shape4, fs: Shape4, attrs: Attrs) {
  nhwc(fn, attrs.dataFormat);
  const info = convInfo(x, fs, attrs, true);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new TypeError(`${fn} on wasm: dilations other than 1 are not supported`);
  }
  if (fs[3] !== 1) {
    throw new TypeError(`${fn} on wasm: channel multiplier ${fs[3]} is not supported (only 1)`);
  }
  return info;
}

function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const fn = "DepthwiseConv2dNativeBackpropFilter";
  const { x, dy } = inputs;
  float32(fn, x, dy);
  const fs = attrs.filterShape as Shape4;
  const g = depthwiseGeometry(fn, x.shape as Shape4, fs, attrs);
  const out = backend.makeOutput([...fs], "float32");
  raw(backend).depthwiseFilterGrad(
    addr(backend, x),
    addr(backend, dy),
    addr(backend, out),
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.padInfo.top,
    g.padInfo.left,
  );
  return out;
}

function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const fn = "DepthwiseConv2dNativeBackpropInput";
  const { dy, filter } = inputs;
  float32(fn, dy, filter);
  const inShape = attrs.inputShape as Shape4;
  const g = depthwiseGeometry(fn, inShape, filter.shape as Shape4, attrs);
  const out = backend.makeOutput([...inShape], "float32");
  raw(backend).depthwiseInputGrad(
    addr(backend, dy),
    addr(backend, filter),
    addr(backend, out),
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.padInfo.top,
    g.padInfo.left,
  );
  return out;
}

// ---------------------------------------------------------------------------
// Pooling, PReLU, reductions, matmul, segment sums

function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, input, output } = inputs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    attrs.filterSize as number,
    attrs.strides as number,
    1,
    attrs.pad as "valid",
    attrs.dimRoundingMode as "floor" | undefined,
  );
  const { top, left } = info.padInfo;
  const windowsInside = top >= 0 && left >= 0 && top < info.filterHeight &&
    left < info.filterWidth &&
    (info.outHeight - 1) * info.strideHeight - top < info.inHeight &&
    (info.outWidth - 1) * info.strideWidth - left < info.inWidth;
  if (
    !windowsInside || info.dilationHeight !== 1 || info.dilationWidth !== 1 ||
    input.dtype !== "float32" || dy.dtype !== "float32" || output.dtype !== "float32"
  ) {
    return run(backend, "MaxPoolGrad", inputs, attrs);
  }
  const dx = backend.makeOutput([...input.shape], "float32");
  raw(backend).maxPoolGrad(
    addr(backend, input),
    addr(backend, output),
    addr(backend, dy),
    addr(backend, dx),
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    top,
    left,
  );
  return dx;
}

/** Inputs x, alpha (one per channel: [x's last dim]), dy; outputs [dx, dalpha]. */
function preluGradKernel({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const fn = "PreluGrad";
  const { x, alpha, dy } = inputs;
  float32(fn, x, alpha, dy);
  const c = x.shape[x.shape.length - 1];
  if (!preluPerChannel(x.shape, alpha.shape) || dy.shape.join() !== x.shape.join()) {
    throw new RangeError(
      `${fn}: wants alpha [${c}] and dy like x [${x.shape}], got alpha [${alpha.shape}], dy [${dy.shape}]`,
    );
  }
  const rows = x.shape.reduce((a, b) => a * b, 1) / c;
  const dx = backend.makeOutput([...x.shape], "float32");
  const da = backend.makeOutput([...alpha.shape], "float32");
  withScratch(backend, 4 * c, (scratch) =>
    raw(backend).preluGrad(
      addr(backend, x),
      addr(backend, alpha),
      addr(backend, dy),
      addr(backend, dx),
      addr(backend, da),
      rows,
      c,
      scratch,
    ));
  return [dx, da];
}

/** True when alpha holds one value per channel of x (all of alpha's dims but the last are 1). */
function preluPerChannel(xShape: readonly number[], alphaShape: readonly number[]): boolean {
  const c = xShape[xShape.length - 1];
  const a = alphaShape.reduce((p, q) => p * q, 1);
  return xShape.length >= 1 && a === c && alphaShape[alphaShape.length - 1] === c &&
    alphaShape.length <= xShape.length && c > 0;
}

/**
 * tfjs' Prelu gradient, with the "PreluGrad" kernel (one pass) where the
 * active backend has it and alpha is per channel; tfjs' own formula otherwise.
 */
const PRELU_GRAD: tf.GradConfig = {
  kernelName: "Prelu",
  inputsToSave: ["x", "alpha"],
  gradFunc: (dy, saved, attrs) => {
    const [x, alpha] = saved;
    const d = dy as tf.Tensor;
    if (
      tf.getBackend() === BACKEND && x.dtype === "float32" && tf.getKernel("PreluGrad", BACKEND) &&
      preluPerChannel(x.shape, alpha.shape)
    ) {
      const [dx, dalpha] = tf.engine().runKernel("PreluGrad", { x, alpha, dy: d }) as tf.Tensor[];
      return { x: () => dx, alpha: () => dalpha };
    }
    if (!originalPreluGrad) throw new Error("Prelu gradient: tfjs' original is not registered");
    return originalPreluGrad.gradFunc(dy, saved, attrs);
  },
};

/**
 * The backward pass of PReLU for explicit-tape trainers: dx = x > 0 ? dy :
 * alpha · dy and dalpha = Σ over all axes but the last of (x > 0 ? 0 : dy · x),
 * alpha holding one value per channel. One kernel on wasm with the training
 * kernels enabled; tfjs ops otherwise. The caller disposes both results.
 *
 * @example
 * ```ts
 * const { dx, dalpha } = preluBackward(x, alpha, dy);
 * ```
 */
export function preluBackward(
  x: tf.Tensor,
  alpha: tf.Tensor,
  dy: tf.Tensor,
): { dx: tf.Tensor; dalpha: tf.Tensor } {
  if (
    tf.getBackend() === BACKEND && enabledMode === "fast" && x.dtype === "float32" &&
    preluPerChannel(x.shape, alpha.shape)
  ) {
    const [dx, dalpha] = tf.engine().runKernel("PreluGrad", { x, alpha, dy }) as tf.Tensor[];
    return { dx, dalpha };
  }
  return tf.tidy(() => {
    const pos = tf.greater(x, 0);
    const dx = tf.where(pos, dy, tf.mul(dy, alpha));
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const contrib = tf.where(pos, tf.zerosLike(dy), tf.mul(dy, x));
    const dalpha = tf.reshape(axes.length ? tf.sum(contrib, axes) : contrib, alpha.shape);
    return { dx, dalpha };
  });
}

/** Sum: over leading axes (e.g. [0, 1, 2] of NHWC: bias gradients) by column sums. */
function sum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x } = inputs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape as number[])
    .slice().sort((a, b) => a - b);
  const k = axes.length;
  const leading = k > 0 && k < rank && axes.every((a, i) => a === i);
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (!leading || x.dtype !== "float32" || size === 0) {
    return run(backend, "Sum", inputs, attrs);
  }
  const rest = x.shape.slice(k);
  const cols = rest.reduce((a, b) => a * b, 1);
  const shape = attrs.keepDims ? [...Array(k).fill(1), ...rest] : rest;
  const out = backend.makeOutput(shape, "float32");
  withScratch(
    backend,
    4 * cols,
    (scratch) =>
      raw(backend).sumRows(addr(backend, x), addr(backend, out), size / cols, cols, scratch),
  );
  return out;
}

/** BatchMatMul with a transposed operand and no batching: transpose it, then XNNPACK. */
function batchMatMul({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const batch = (t: tf.TensorInfo) => t.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  if (
    (!transposeA && !transposeB) || a.shape.length < 2 || b.shape.length < 2 ||
    batch(a) !== 1 || batch(b) !== 1 || a.dtype !== "float32" || b.dtype !== "float32"
  ) {
    return run(backend, "BatchMatMul", inputs, attrs);
  }
  const flip = (t: tf.TensorInfo) => {
    const r = t.shape.length;
    const perm = [...Array(r - 2).keys(), r - 1, r - 2];
    return run(backend, "Transpose", { x: t }, { perm });
  };
  const at = transposeA ? flip(a) : a;
  const bt = transposeB ? flip(b) : b;
  const out = run(backend, "BatchMatMul", { a: at, b: bt }, {
    ...attrs,
    transposeA: false,
    transposeB: false,
  });
  if (transposeA) free(backend, at);
  if (transposeB) free(backend, bt);
  return out;
}

/**
 * Identity without a copy: tensors are immutable, so the output shares the
 * input's data (reference counted), as on the cpu backend. tfjs clones every
 * tensor a gradient saves; on wasm each clone was a full copy.
 */
function identity({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x } = inputs;
  if (x.dtype === "string") return run(backend, "Identity", inputs, attrs);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** UnsortedSegmentSum of float32 rows by a 1-D int32 segmentIds (the gradient of gather). */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const fn = "UnsortedSegmentSum";
  const { x, segmentIds } = inputs;
  float32(fn, x);
  const segments = attrs.numSegments as number;
  if (segmentIds.dtype !== "int32" || segmentIds.shape.length !== 1) {
    throw new TypeError(
      `${fn} on wasm: wants 1-D int32 segmentIds, got ${segmentIds.dtype} [${segmentIds.shape}]`,
    );
  }
  if (x.shape.length < 1 || x.shape[0] !== segmentIds.shape[0]) {
    throw new RangeError(`${fn}: x [${x.shape}] must have ${segmentIds.shape[0]} rows`);
  }
  const inner = x.shape.slice(1).reduce((p, q) => p * q, 1);
  const out = backend.makeOutput([segments, ...x.shape.slice(1)], "float32");
  if (inner > 0 && segments > 0) {
    raw(backend).unsortedSegmentSum(
      addr(backend, x),
      addr(backend, segmentIds),
      addr(backend, out),
      x.shape[0],
      inner,
      segments,
    );
  }
  return out;
}
