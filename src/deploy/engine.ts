/**
 * The AssemblyScript inference engine (kernels/assembly/engine.ts) for
 * MTCNN-shaped nets of any channel counts: a {@linkcode NetData} is compiled
 * once into packed weights in a WebAssembly instance of its own, and each
 * input size (H, W, and a batch capacity) into a plan: a list of kernel
 * calls over regions of that instance's memory laid out once (input,
 * ping-pong activations, fused conv+pool scratch, head rows, outputs), so a
 * run allocates nothing in WebAssembly and copies only the input in and the
 * outputs out.
 *
 * Layout: activations NHWC float32 with exact channel counts; convolution
 * weights packed in blocks of 8 (last block 8 or 4) output channels,
 * `[bias][alpha][K rows]`, so the inner loop is one f32x4 multiply-add per
 * input value and 4 output channels, 6 pixels × 8 channels in registers.
 * Conv + bias + PReLU (or ReLU, or none) is one kernel; a max pool right
 * after a convolution is fused into it (the convolution rows go through a
 * small ring); flatten is free (NHWC is HWC order); a dense layer is a
 * convolution over its flat input; the heads are one 1×1 convolution with
 * every head's outputs side by side (in a fully convolutional net fused into
 * the last convolution, a chunk of rows at a time), then a split with the
 * 2-way softmax.
 *
 * Two builds, plain SIMD and relaxed SIMD (fused multiply-add), chosen when
 * the engine is created (relaxed when the runtime validates it).
 *
 * @example
 * ```ts
 * const pnet = await createEngine(await loadNetData("weights/original/pnet.mtcnn"));
 * const { cls, box, outH, outW } = pnet.run(rgb, 1, 480, 640); // cls: outH*outW face probabilities
 * const rnet = await createEngine(await loadNetData("weights/original/rnet.mtcnn"));
 * const r = rnet.runNormalized(crops, 256); // crops: cropResizeU8ToF32 output, 256×24×24×3
 * ```
 */
import { HEAD_UNITS, type NetArch, planArch, windowOut } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import { relaxedSimdSupported, simdSupported } from "../../kernels/mod.ts";
import { createInt8Engine, int8Unsupported } from "./engine_int8.ts";
import {
  checkEngineParams,
  checkEngineWindow,
  checkPositive,
  type HeadOutputs,
  poolOutSide,
} from "../../kernels/reference.ts";

/** What a run returns. Spatial nets (PNet) give maps of outH × outW per image; others outH = outW = 1. */
export interface EngineOutput {
  /** Face probability (softmax of the cls logits): n × outH × outW. */
  cls: Float32Array;
  /** Box regression (dx1, dy1, dx2, dy2): n × outH × outW × 4. */
  box: Float32Array;
  /** Landmarks (x1, y1, ..., x5, y5) when the net has the head: n × outH × outW × 10. */
  landmarks?: Float32Array;
  outH: number;
  outW: number;
}

/** One kernel call of a plan, with its share of the work. */
export interface LayerTime {
  /** The layers it runs, e.g. `conv1+prelu1+pool`. */
  name: string;
  ms: number;
  /** 2 × multiply-adds. */
  flops: number;
}

/** A net compiled for the engine. */
export interface Engine {
  readonly arch: NetArch;
  /** Which build runs. */
  readonly variant: "simd" | "relaxed-simd";
  /**
   * Runs the net on `n` images of `h` × `w` pixels, NHWC RGB 0..255 (u8 or
   * float), applying the net's own input normalisation and channel order.
   * Non-spatial nets (RNet, ONet) want h = w = their input size.
   */
  run(pixels: Uint8Array | Float32Array, n: number, h: number, w: number): EngineOutput;
  /**
   * Runs the net on inputs already normalised and in the net's channel
   * order (e.g. the detector's `cropResizeU8ToF32` crops): n × h × w × c
   * floats; h and w default to the net's input size.
   */
  runNormalized(x: Float32Array, n: number, h?: number, w?: number): EngineOutput;
  /**
   * {@linkcode Engine.run} with each kernel call timed (inputs as `run`) by
   * `clock` (milliseconds; default `performance.now`, e.g. a process CPU
   * clock on a shared machine).
   */
  profile(
    pixels: Uint8Array | Float32Array,
    n: number,
    h: number,
    w: number,
    clock?: () => number,
  ): LayerTime[];
  /** 2 × multiply-adds of one run on n × h × w. */
  flops(n: number, h: number, w: number): number;
  /** Size in bytes of the engine's WebAssembly memory (it grows, never shrinks). */
  memoryBytes(): number;
}

/** Options of {@linkcode createEngine}. */
export interface EngineOptions {
  /**
   * Use the relaxed-SIMD build: true requires engine support (else
   * TypeError); false forces plain SIMD; default: when supported.
   */
  relaxedSimd?: boolean;
  /**
   * Int8 nets (`data.quant`): run the int8 kernels (default) or, false, the
   * float kernels on the dequantised weights.
   */
  int8?: boolean;
}

// ---------------------------------------------------------------------------
// WebAssembly module and memory

/** The kernel exports of engine.wasm. */
interface EngineExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  convPackedBytes(k: number, oc: number): number;
  convPoolScratchBytes(...args: number[]): number;
  convPrelu(...args: number[]): void;
  convPreluPool(...args: number[]): void;
  convPreluThen1x1(...args: number[]): void;
  thenScratchBytes(w: number, kw: number, stride: number, oc: number): number;
  depthwisePrelu(...args: number[]): void;
  groupConvPrelu(...args: number[]): void;
  maxPool(...args: number[]): void;
  preluInPlace(buf: number, pixels: number, c: number, alpha: number): void;
  normalize(...args: number[]): void;
  splitHeads(...args: number[]): void;
}

const PAGE = 65536;
const MAX_MEMORY = 2 ** 31;
const modules = new Map<string, Promise<WebAssembly.Module>>();

function compileModule(name: string): Promise<WebAssembly.Module> {
  let m = modules.get(name);
  if (!m) {
    m = (async () => {
      const url = new URL(`../../kernels/build/${name}.wasm`, import.meta.url);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        if (typeof Deno !== "undefined") bytes = await Deno.readFile(url);
        else {
          const res = await fetch(url);
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          bytes = new Uint8Array(await res.arrayBuffer());
        }
        return await WebAssembly.compile(bytes);
      } catch (e) {
        const notFound = typeof Deno !== "undefined" && e instanceof Deno.errors.NotFound;
        throw new TypeError(
          `Cannot load "kernels/build/${name}.wasm": ${
            notFound ? "no such file" : (e as Error).message
          } (run deno task build:kernels)`,
        );
      }
    })();
    modules.set(name, m);
    m.catch(() => modules.delete(name));
  }
  return m;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

/** One engine instance: its exports and views over its memory, re-made after growth. */
class Instance {
  readonly k: EngineExports;
  readonly base: number;
  #buffer: ArrayBufferLike | undefined;
  #u8: Uint8Array = new Uint8Array(0);
  #f32: Float32Array = new Float32Array(0);

  constructor(instance: WebAssembly.Instance) {
    this.k = instance.exports as unknown as EngineExports;
    this.base = align16(this.k.heapBase());
  }

  /** Makes the memory at least `end` bytes long. */
  reserve(fn: string, end: number): void {
    const memory = this.k.memory;
    const have = memory.buffer.byteLength;
    if (end <= have) return;
    const mib = Math.ceil(end / 2 ** 20);
    if (end > MAX_MEMORY) {
      throw new RangeError(`${fn}: needs ${mib} MiB of WASM memory, more than the 2048 MiB limit`);
    }
    try {
      memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      throw new RangeError(`${fn}: cannot grow WASM memory to ${mib} MiB`);
    }
  }

  #views(): void {
    const buffer = this.k.memory.buffer;
    if (this.#buffer === buffer) return;
    this.#buffer = buffer;
    this.#u8 = new Uint8Array(buffer);
    this.#f32 = new Float32Array(buffer);
  }

  get u8(): Uint8Array {
    this.#views();
    return this.#u8;
  }

  get f32(): Float32Array {
    this.#views();
    return this.#f32;
  }
}

/** Hands out 16-aligned regions, each followed by 16 bytes of slack for SIMD tails. */
class Layout {
  end: number;
  constructor(base: number) {
    this.end = base;
  }
  take(bytes: number): number {
    const at = this.end;
    this.end = align16(at + bytes + 16);
    return at;
  }
}

async function instantiate(options: EngineOptions): Promise<[Instance, Engine["variant"]]> {
  if (!simdSupported()) {
    throw new TypeError("Cannot create the engine: this runtime lacks WebAssembly SIMD");
  }
  const relaxed = options.relaxedSimd ?? relaxedSimdSupported();
  if (relaxed && !relaxedSimdSupported()) {
    throw new TypeError("Cannot create the relaxed-SIMD engine: this runtime lacks relaxed SIMD");
  }
  const module = await compileModule(relaxed ? "engine_relaxed" : "engine");
  const instance = new Instance(await WebAssembly.instantiate(module, {}));
  return [instance, relaxed ? "relaxed-simd" : "simd"];
}

// ---------------------------------------------------------------------------
// Weight packing

/**
 * Widths of the blocks of output channels the convolution kernel computes
 * at once: 8, except that a remainder of 1..4 channels joins the last 8
 * into a block of 12 (a lone remainder of 1..4 is a block of 4), and one of
 * 5..7 is a block of 8.
 */
export function convBlockWidths(oc: number): number[] {
  const full = oc >> 3;
  const rem = oc & 7;
  const widths = new Array<number>(full).fill(8);
  if (rem > 4) widths.push(8);
  else if (rem > 0) {
    if (full > 0) widths[full - 1] = 12;
    else widths.push(4);
  }
  return widths;
}

/**
 * Packs HWIO weights (K × oc, K = kh*kw*c), bias and PReLU alpha (undefined:
 * none, 1) into the kernel's blocks ({@linkcode convBlockWidths}), each
 * `[bias][alpha][K rows]` of the block's width, zeros past the last channel.
 */
export function packConv(
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  k: number,
): Float32Array {
  const oc = bias.length;
  const blocks: [number, number][] = [];
  let o = 0;
  for (const bw of convBlockWidths(oc)) {
    blocks.push([o, bw]);
    o += bw;
  }
  const out = new Float32Array(blocks.reduce((s, [, bw]) => s + bw * (2 + k), 0));
  let at = 0;
  for (const [o0, bw] of blocks) {
    const lanes = Math.min(bw, oc - o0);
    for (let l = 0; l < lanes; l++) {
      out[at + l] = bias[o0 + l];
      out[at + bw + l] = alpha ? alpha[o0 + l] : 1;
    }
    at += 2 * bw;
    for (let r = 0; r < k; r++, at += bw) {
      for (let l = 0; l < lanes; l++) out[at + l] = weight[r * oc + o0 + l];
    }
  }
  return out;
}

/** Packs depthwise weights [kh, kw, c, 1]: `[bias C4][alpha C4][kh*kw rows of C4]`, C4 = c rounded up to 4. */
export function packDepthwise(
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  taps: number,
): Float32Array {
  const c = bias.length;
  const c4 = Math.ceil(c / 4) * 4;
  const out = new Float32Array(c4 * (2 + taps));
  out.set(bias, 0);
  if (alpha) out.set(alpha, c4);
  else out.fill(1, c4, c4 + c);
  for (let t = 0; t < taps; t++) out.set(weight.subarray(t * c, t * c + c), c4 * (2 + t));
  return out;
}

/**
 * Packs a grouped 1×1 convolution with the shuffle fused (`gconv`: weight
 * [cin/g, oc] in the final output order, bias, alpha or none) for the
 * kernel's `groupConvPrelu`: per group k, `[bias N4][alpha N4][cin/g rows
 * of N4]`, N4 = oc/g rounded up to 4, lane j = output j·g + k.
 */
export function packGroupConv(
  weight: Float32Array,
  bias: Float32Array,
  alpha: Float32Array | undefined,
  cin: number,
  groups: number,
): Float32Array {
  const oc = bias.length;
  const per = cin / groups;
  const npg = oc / groups;
  const n4 = Math.ceil(npg / 4) * 4;
  const block = n4 * (2 + per);
  const out = new Float32Array(groups * block);
  for (let k = 0; k < groups; k++) {
    const at = k * block;
    for (let j = 0; j < npg; j++) {
      const o = j * groups + k;
      out[at + j] = bias[o];
      out[at + n4 + j] = alpha ? alpha[o] : 1;
      for (let i = 0; i < per; i++) out[at + (2 + i) * n4 + j] = weight[i * oc + o];
    }
  }
  return out;
}

/** An alpha vector padded to a multiple of 4 (for preluInPlace). */
function packAlpha(alpha: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(alpha.length / 4) * 4);
  out.set(alpha);
  return out;
}

// ---------------------------------------------------------------------------
// Compiling a net into steps

/** A max pool fused after a convolution. */
interface PoolSpec {
  size: number;
  stride: number;
  rounding: "ceil" | "floor";
}

/** A layer group the plan runs as one kernel call, independent of the input size. */
type Step =
  | {
    kind: "conv";
    name: string;
    kh: number;
    kw: number;
    stride: number;
    oc: number;
    packed: number;
    /** A max pool fused after the convolution. */
    pool?: PoolSpec;
    /** A dense layer: a 1×1 convolution over the flattened input. */
    dense?: boolean;
    /** The heads: one convolution, outputs split afterwards. */
    heads?: boolean;
  }
  | { kind: "depthwise"; name: string; kh: number; kw: number; stride: number; packed: number }
  | { kind: "gconv"; name: string; groups: number; oc: number; packed: number }
  | { kind: "pool"; name: string; size: number; stride: number; rounding: "ceil" | "floor" }
  | { kind: "prelu"; name: string; alpha: number }
  | { kind: "flatten"; name: string };

/** Packs every parameter of `data` and lists the steps; `put` places packed arrays. */
function compileSteps(
  data: NetData,
  put: (a: Float32Array) => number,
): { steps: Step[]; units: number; landmarks: boolean } {
  const { arch, params } = data;
  const plan = planArch(arch);
  const where = `createEngine(${arch.name})`;
  for (const p of plan.params) {
    const v = params[p.name];
    const count = p.shape.reduce((a, b) => a * b, 1);
    if (!v) throw new RangeError(`${where}: tensor ${p.name} is missing`);
    if (v.length !== count) {
      throw new RangeError(
        `${where}: tensor ${p.name} has ${v.length} values, arch wants [${p.shape}] (${count})`,
      );
    }
  }
  const steps: Step[] = [];
  const layers = arch.layers;
  let c = arch.input.channels;
  let shape = [arch.input.size, arch.input.size, c];
  /** The activation right after layer i, fused: its alpha and name, or undefined. */
  const activation = (i: number) => {
    const next = layers[i + 1];
    if (next?.kind === "prelu") return { alpha: params[`${next.name}.alpha`], name: next.name };
    if (next?.kind === "relu") {
      const s = plan.shapes[i];
      return { alpha: new Float32Array(s[s.length - 1]), name: "relu" };
    }
    return undefined;
  };
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    switch (layer.kind) {
      case "conv":
      case "dense": {
        const act = activation(i);
        const k = layer.kind === "conv" ? layer.kh * layer.kw * c : shape[0];
        const packed = put(
          packConv(params[`${layer.name}.weight`], params[`${layer.name}.bias`], act?.alpha, k),
        );
        const oc = layer.kind === "conv" ? layer.filters : layer.units;
        let name = layer.name + (act ? `+${act.name}` : "");
        if (act) i++;
        let pool: PoolSpec | undefined;
        const after = layers[i + 1];
        if (layer.kind === "conv" && after?.kind === "maxpool") {
          pool = { size: after.size, stride: after.stride, rounding: after.rounding };
          name += `+pool${after.size}/${after.stride}`;
          i++;
        }
        steps.push(
          layer.kind === "conv"
            ? {
              kind: "conv",
              name,
              kh: layer.kh,
              kw: layer.kw,
              stride: layer.stride,
              oc,
              packed,
              pool,
            }
            : { kind: "conv", name, kh: 1, kw: 1, stride: 1, oc, packed, dense: true },
        );
        break;
      }
      case "depthwise": {
        const act = activation(i);
        const packed = put(
          packDepthwise(
            params[`${layer.name}.weight`],
            params[`${layer.name}.bias`],
            act?.alpha,
            layer.kh * layer.kw,
          ),
        );
        const name = layer.name + (act ? `+${act.name}` : "");
        if (act) i++;
        steps.push({
          kind: "depthwise",
          name,
          kh: layer.kh,
          kw: layer.kw,
          stride: layer.stride,
          packed,
        });
        break;
      }
      case "gconv": {
        const act = activation(i);
        const packed = put(
          packGroupConv(
            params[`${layer.name}.weight`],
            params[`${layer.name}.bias`],
            act?.alpha,
            c,
            layer.groups,
          ),
        );
        const name = layer.name + (act ? `+${act.name}` : "");
        if (act) i++;
        steps.push({ kind: "gconv", name, groups: layer.groups, oc: layer.filters, packed });
        break;
      }
      case "maxpool":
        steps.push({
          kind: "pool",
          name: `pool${layer.size}/${layer.stride}`,
          size: layer.size,
          stride: layer.stride,
          rounding: layer.rounding,
        });
        break;
      case "prelu":
        steps.push({
          kind: "prelu",
          name: layer.name,
          alpha: put(packAlpha(params[`${layer.name}.alpha`])),
        });
        break;
      case "relu":
        steps.push({
          kind: "prelu",
          name: "relu",
          alpha: put(new Float32Array(Math.ceil(c / 4) * 4)),
        });
        break;
      case "flatten":
        steps.push({ kind: "flatten", name: "flatten" });
        break;
      case "cls":
      case "box":
      case "landmarks":
        i = layers.length; // heads come last; they are compiled below
        continue;
    }
    shape = plan.shapes[i] as number[];
    c = shape[shape.length - 1];
  }
  // heads: one convolution with [cls 2 | box 4 | landmarks 10] outputs per pixel
  const cin = plan.trunkOut[plan.trunkOut.length - 1];
  const landmarks = plan.heads.some((h) => h.kind === "landmarks");
  const order = (["cls", "box", "landmarks"] as const).filter((k) =>
    k !== "landmarks" || landmarks
  );
  const units = order.reduce((s, k) => s + HEAD_UNITS[k], 0);
  const w = new Float32Array(cin * units);
  const b = new Float32Array(units);
  let u0 = 0;
  for (const kind of order) {
    const head = plan.heads.find((h) => h.kind === kind)!;
    const hw = params[`${head.name}.weight`];
    const hu = HEAD_UNITS[kind];
    for (let r = 0; r < cin; r++) {
      for (let u = 0; u < hu; u++) w[r * units + u0 + u] = hw[r * hu + u];
    }
    b.set(params[`${head.name}.bias`], u0);
    u0 += hu;
  }
  steps.push({
    kind: "conv",
    name: "heads",
    kh: 1,
    kw: 1,
    stride: 1,
    oc: units,
    packed: put(packConv(w, b, undefined, cin)),
    heads: true,
  });
  return { steps, units, landmarks };
}

/** One kernel call of a plan. */
interface Op {
  name: string;
  /** 2 × multiply-adds per image. */
  flops: number;
  run(n: number): void;
}

/** Everything one input size needs: regions and calls, for up to `capacity` images. */
interface Plan {
  h: number;
  w: number;
  capacity: number;
  raw: number;
  input: number;
  ops: Op[];
  outH: number;
  outW: number;
  cls: number;
  box: number;
  landmarks: number;
  /** Layout end: the memory the plan needs. */
  end: number;
}

/**
 * Compiles `data` (architecture and float32 parameters, e.g. from
 * `loadNetData`) for the engine. Throws a one-line RangeError when a tensor
 * is missing or has the wrong size, TypeError when the runtime lacks SIMD.
 *
 * @example
 * ```ts
 * const onet = await createEngine(await loadNetData("weights/original/onet.mtcnn"));
 * const { cls, box, landmarks } = onet.runNormalized(crops, crops.length / (48 * 48 * 3));
 * ```
 */
export async function createEngine(data: NetData, options: EngineOptions = {}): Promise<Engine> {
  // int8 nets (src/optimize/quantize.ts) run on the int8 kernels (src/deploy/engine_int8.ts)
  if (data.quant && options.int8 !== false && !int8Unsupported(data)) {
    return await createInt8Engine(data, { relaxedSimd: options.relaxedSimd });
  }
  const [inst, variant] = await instantiate(options);
  const { arch } = data;
  const fnName = `engine(${arch.name})`;
  // pack every weight first, then copy them to the start of the heap
  const packedArrays: Float32Array[] = [];
  const weights = new Layout(inst.base);
  const { steps, units, landmarks } = compileSteps(data, (a) => {
    packedArrays.push(a);
    return weights.take(4 * a.length);
  });
  inst.reserve(fnName, weights.end);
  {
    let at = inst.base;
    const f32 = inst.f32;
    for (const a of packedArrays) {
      f32.set(a, at >> 2);
      at = align16(at + 4 * a.length + 16);
    }
  }
  const c0 = arch.input.channels;
  const spatial = planArch(arch).trunkOut.length === 3;
  const k = inst.k;

  // normalisation parameters: mean then scale, each repeated over 4 pixels
  const normParams = new Layout(weights.end);
  const normAt = normParams.take(8 * 4 * c0);
  const heapStart = normParams.end;
  inst.reserve(fnName, heapStart);
  {
    const f32 = inst.f32;
    const { mean, scale } = arch.input;
    for (let i = 0; i < 4 * c0; i++) {
      // the SIMD path (RGB) reads these patterns; the BGR path reads the first c0
      f32[(normAt >> 2) + i] = mean[i % c0];
      f32[(normAt >> 2) + 4 * c0 + i] = scale[i % c0];
    }
  }
  const bgr = arch.input.channelOrder === "BGR" ? 1 : 0;

  function compilePlan(h: number, w: number, capacity: number): Plan {
    planArch(arch, h, w); // throws the one-line RangeError when the input is too small
    const layout = new Layout(heapStart);
    const per = h * w * c0;
    const raw = layout.take(4 * capacity * per);
    const input = layout.take(4 * capacity * per);
    // sizes of every activation, to size the ping-pong buffers
    let sh = h, sw = w, sc = c0;
    let maxAct = 0;
    let scratchBytes = 0;
    interface Pending {
      step: Step;
      h: number;
      w: number;
      c: number;
      oh: number;
      ow: number;
      oc: number;
    }
    const pending: Pending[] = [];
    for (const step of steps) {
      let oh = sh, ow = sw, oc = sc;
      if (step.kind === "conv") {
        if (step.dense || (step.heads && !spatial)) {
          // dense / flat heads: 1 × 1 over the flattened input
          oh = 1;
          ow = 1;
        } else {
          oh = windowOut(sh, step.kh, step.stride);
          ow = windowOut(sw, step.kw, step.stride);
        }
        oc = step.oc;
        if (step.pool) {
          scratchBytes = Math.max(
            scratchBytes,
            k.convPoolScratchBytes(
              sh,
              sw,
              step.kh,
              step.kw,
              step.stride,
              step.oc,
              step.pool.size,
              capacity,
            ),
          );
          oh = windowOut(oh, step.pool.size, step.pool.stride, step.pool.rounding);
          ow = windowOut(ow, step.pool.size, step.pool.stride, step.pool.rounding);
        }
      } else if (step.kind === "gconv") {
        oc = step.oc;
      } else if (step.kind === "depthwise") {
        oh = windowOut(sh, step.kh, step.stride);
        ow = windowOut(sw, step.kw, step.stride);
      } else if (step.kind === "pool") {
        oh = windowOut(sh, step.size, step.stride, step.rounding);
        ow = windowOut(sw, step.size, step.stride, step.rounding);
      } else if (step.kind === "flatten") {
        oh = 1;
        ow = 1;
        oc = sh * sw * sc;
      }
      pending.push({ step, h: sh, w: sw, c: sc, oh, ow, oc });
      sh = oh;
      sw = ow;
      sc = oc;
    }
    // a spatial net's last convolution runs straight into the heads, a chunk of rows at a time
    const last = pending[pending.length - 2];
    const intoHeads = spatial && last?.step.kind === "conv" && !last.step.pool && !last.step.dense
      ? last
      : undefined;
    if (intoHeads) {
      const st = intoHeads.step as Step & { kind: "conv" };
      scratchBytes = Math.max(
        scratchBytes,
        k.thenScratchBytes(intoHeads.w, st.kw, st.stride, st.oc),
      );
    }
    for (const p of pending) {
      const skip = (p.step.kind === "conv" && p.step.heads) || p === intoHeads;
      if (!skip) maxAct = Math.max(maxAct, p.oh * p.ow * p.oc);
    }
    const ping = layout.take(4 * capacity * maxAct);
    const pong = layout.take(4 * capacity * maxAct);
    const scratch = layout.take(scratchBytes);
    const outPixels = sh * sw;
    const heads = layout.take(4 * capacity * outPixels * units);
    const cls = layout.take(4 * capacity * outPixels);
    const box = layout.take(16 * capacity * outPixels);
    const lm = landmarks ? layout.take(40 * capacity * outPixels) : 0;

    const ops: Op[] = [];
    let src = input;
    let other = ping;
    for (const p of pending) {
      const { step } = p;
      const from = src;
      const to = step.kind === "conv" && step.heads ? heads : other;
      const px = p.oh * p.ow;
      switch (step.kind) {
        case "conv": {
          const flat = step.dense || (step.heads && !spatial);
          if (step.heads && intoHeads) continue; // already run with the last convolution
          if (p === intoHeads) {
            const hs = pending[pending.length - 1].step as Step & { kind: "conv" };
            ops.push({
              name: `${step.name}+heads`,
              flops: 2 * px * (step.kh * step.kw * p.c * step.oc + step.oc * hs.oc),
              run: (n) =>
                k.convPreluThen1x1(
                  from,
                  n,
                  p.h,
                  p.w,
                  p.c,
                  step.kh,
                  step.kw,
                  step.stride,
                  step.packed,
                  step.oc,
                  hs.packed,
                  hs.oc,
                  scratch,
                  heads,
                ),
            });
            continue;
          }
          if (flat) {
            const kin = p.h * p.w * p.c;
            ops.push({
              name: step.name,
              flops: 2 * kin * step.oc,
              run: (n) => k.convPrelu(from, n, 1, 1, kin, 1, 1, 1, step.packed, step.oc, to),
            });
          } else if (step.pool) {
            const pool = step.pool;
            const ch = windowOut(p.h, step.kh, step.stride);
            const cw = windowOut(p.w, step.kw, step.stride);
            ops.push({
              name: step.name,
              flops: 2 * ch * cw * step.kh * step.kw * p.c * step.oc,
              run: (n) =>
                k.convPreluPool(
                  from,
                  n,
                  p.h,
                  p.w,
                  p.c,
                  step.kh,
                  step.kw,
                  step.stride,
                  step.packed,
                  step.oc,
                  pool.size,
                  pool.stride,
                  p.oh,
                  p.ow,
                  scratch,
                  to,
                ),
            });
          } else {
            ops.push({
              name: step.name,
              flops: 2 * px * step.kh * step.kw * p.c * step.oc,
              run: (n) =>
                k.convPrelu(
                  from,
                  n,
                  p.h,
                  p.w,
                  p.c,
                  step.kh,
                  step.kw,
                  step.stride,
                  step.packed,
                  step.oc,
                  to,
                ),
            });
          }
          break;
        }
        case "depthwise":
          ops.push({
            name: step.name,
            flops: 2 * px * step.kh * step.kw * p.c,
            run: (n) =>
              k.depthwisePrelu(
                from,
                n,
                p.h,
                p.w,
                p.c,
                step.kh,
                step.kw,
                step.stride,
                step.packed,
                to,
              ),
          });
          break;
        case "gconv":
          ops.push({
            name: step.name,
            flops: 2 * px * (p.c / step.groups) * step.oc,
            run: (n) => k.groupConvPrelu(from, n * px, p.c, step.groups, step.packed, step.oc, to),
          });
          break;
        case "pool":
          ops.push({
            name: step.name,
            flops: 0,
            run: (n) => k.maxPool(from, n, p.h, p.w, p.c, step.size, step.stride, p.oh, p.ow, to),
          });
          break;
        case "prelu":
          ops.push({
            name: step.name,
            flops: 0,
            run: (n) => k.preluInPlace(from, n * p.h * p.w, p.c, step.alpha),
          });
          continue; // in place: the activations stay where they are
        case "flatten":
          continue;
      }
      // the next layer reads what this one wrote
      if (to !== heads) {
        src = to;
        other = to === ping ? pong : ping;
      }
    }
    ops.push({
      name: "split heads",
      flops: 0,
      run: (n) => k.splitHeads(heads, n * outPixels, units, cls, box, lm),
    });
    return {
      h,
      w,
      capacity,
      raw,
      input,
      ops,
      outH: spatial ? sh : 1,
      outW: spatial ? sw : 1,
      cls,
      box,
      landmarks: lm,
      end: layout.end,
    };
  }

  const plans = new Map<string, Plan>();
  function planFor(fn: string, n: number, h: number, w: number): Plan {
    const key = `${h}x${w}`;
    let plan = plans.get(key);
    if (!plan || plan.capacity < n) {
      plan = compilePlan(h, w, Math.max(n, plan ? 2 * plan.capacity : 0));
      plans.set(key, plan);
    }
    inst.reserve(fn, plan.end);
    return plan;
  }

  function checkRun(fn: string, x: ArrayLike<number>, n: number, h: number, w: number): void {
    checkPositive(fn, "n", n);
    checkPositive(fn, "h", h);
    checkPositive(fn, "w", w);
    if (x.length !== n * h * w * c0) {
      throw new RangeError(`${fn}: input length ${x.length} != ${n}*${h}*${w}*${c0}`);
    }
    if (!spatial && (h !== arch.input.size || w !== arch.input.size)) {
      throw new RangeError(
        `${fn}: input must be ${arch.input.size}x${arch.input.size}, got ${h}x${w}`,
      );
    }
  }

  function load(
    fn: string,
    x: Uint8Array | Float32Array,
    n: number,
    h: number,
    w: number,
    normalized: boolean,
  ): Plan {
    checkRun(fn, x, n, h, w);
    const plan = planFor(fn, n, h, w);
    const count = n * h * w;
    if (normalized) {
      inst.f32.set(x as Float32Array, plan.input >> 2);
      return plan;
    }
    const isU8 = x instanceof Uint8Array;
    if (isU8) inst.u8.set(x, plan.raw);
    else inst.f32.set(x, plan.raw >> 2);
    k.normalize(plan.raw, isU8 ? 0 : 1, count, c0, normAt, bgr, plan.input);
    return plan;
  }

  function collect(plan: Plan, n: number): EngineOutput {
    const px = n * plan.outH * plan.outW;
    const f32 = inst.f32;
    const out: EngineOutput = {
      cls: f32.slice(plan.cls >> 2, (plan.cls >> 2) + px),
      box: f32.slice(plan.box >> 2, (plan.box >> 2) + 4 * px),
      outH: plan.outH,
      outW: plan.outW,
    };
    if (plan.landmarks) {
      out.landmarks = f32.slice(plan.landmarks >> 2, (plan.landmarks >> 2) + 10 * px);
    }
    return out;
  }

  return {
    arch,
    variant,
    run(pixels, n, h, w) {
      if (!(pixels instanceof Uint8Array) && !(pixels instanceof Float32Array)) {
        throw new TypeError(`${fnName}.run: pixels must be a Uint8Array or Float32Array`);
      }
      const plan = load(`${fnName}.run`, pixels, n, h, w, false);
      for (const op of plan.ops) op.run(n);
      return collect(plan, n);
    },
    runNormalized(x, n, h = arch.input.size, w = arch.input.size) {
      if (!(x instanceof Float32Array)) {
        throw new TypeError(`${fnName}.runNormalized: x must be a Float32Array`);
      }
      const plan = load(`${fnName}.runNormalized`, x, n, h, w, true);
      for (const op of plan.ops) op.run(n);
      return collect(plan, n);
    },
    profile(pixels, n, h, w, clock = () => performance.now()) {
      let t = clock();
      const plan = load(`${fnName}.profile`, pixels, n, h, w, false);
      const times: LayerTime[] = [{ name: "copy in, normalize", ms: clock() - t, flops: 0 }];
      for (const op of plan.ops) {
        t = clock();
        op.run(n);
        times.push({ name: op.name, ms: clock() - t, flops: n * op.flops });
      }
      t = clock();
      collect(plan, n);
      times.push({ name: "copy out", ms: clock() - t, flops: 0 });
      return times;
    },
    flops(n, h, w) {
      checkPositive(`${fnName}.flops`, "n", n);
      const plan = compilePlan(h, w, 1);
      return n * plan.ops.reduce((s, op) => s + op.flops, 0);
    },
    memoryBytes() {
      return inst.k.memory.buffer.byteLength;
    },
  };
}

// ---------------------------------------------------------------------------
// The kernels one by one (for parity tests and benches against the twins)

/** Each engine kernel on its own, with the signatures of its twin in kernels/reference.ts. */
export interface EngineKernels {
  readonly variant: Engine["variant"];
  convPreluF32(
    x: Float32Array,
    n: number,
    h: number,
    w: number,
    c: number,
    weight: Float32Array,
    bias: Float32Array,
    alpha: Float32Array | undefined,
    kh: number,
    kw: number,
    stride: number,
  ): Float32Array;
  convPreluPoolF32(
    x: Float32Array,
    n: number,
    h: number,
    w: number,
    c: number,
    weight: Float32Array,
    bias: Float32Array,
    alpha: Float32Array | undefined,
    kh: number,
    kw: number,
    stride: number,
    size: number,
    poolStride: number,
    rounding: "ceil" | "floor",
  ): Float32Array;
  convPreluThen1x1F32(
    x: Float32Array,
    n: number,
    h: number,
    w: number,
    c: number,
    weight: Float32Array,
    bias: Float32Array,
    alpha: Float32Array | undefined,
    kh: number,
    kw: number,
    stride: number,
    weight2: Float32Array,
    bias2: Float32Array,
    alpha2: Float32Array | undefined,
  ): Float32Array;
  depthwisePreluF32(
    x: Float32Array,
    n: number,
    h: number,
    w: number,
    c: number,
    weight: Float32Array,
    bias: Float32Array,
    alpha: Float32Array | undefined,
    kh: number,
    kw: number,
    stride: number,
  ): Float32Array;
  maxPoolF32(
    x: Float32Array,
    n: number,
    h: number,
    w: number,
    c: number,
    size: number,
    stride: number,
    rounding: "ceil" | "floor",
  ): Float32Array;
  preluF32(x: Float32Array, alpha: Float32Array): Float32Array;
  normalizePixels(
    src: Uint8Array | Float32Array,
    c: number,
    mean: ArrayLike<number>,
    scale: ArrayLike<number>,
    bgr: boolean,
  ): Float32Array;
  splitHeads(rows: Float32Array, units: 6 | 16): HeadOutputs;
  /** Current size in bytes of the kernels' WebAssembly memory. */
  memoryBytes(): number;
}

/**
 * Instantiates the engine's kernels for calling one at a time: each call
 * checks its arguments as the twin does, packs the weights, copies the
 * inputs into WebAssembly memory (grown on demand) and returns a fresh array.
 *
 * @example
 * ```ts
 * const k = await createEngineKernels({ relaxedSimd: false });
 * const y = k.convPreluF32(x, 1, 13, 17, 3, w, b, alpha, 3, 3, 1); // as convPreluF32 in kernels/reference.ts
 * ```
 */
export async function createEngineKernels(options: EngineOptions = {}): Promise<EngineKernels> {
  const [inst, variant] = await instantiate(options);
  const k = inst.k;

  /** Places float arrays one after another from the heap base; returns their offsets and the end. */
  function place(fn: string, arrays: (Float32Array | Uint8Array)[], extra: number[]) {
    const layout = new Layout(inst.base);
    const at = arrays.map((a) => layout.take(a.byteLength));
    const more = extra.map((bytes) => layout.take(bytes));
    inst.reserve(fn, layout.end);
    arrays.forEach((a, i) => {
      if (a instanceof Uint8Array) inst.u8.set(a, at[i]);
      else inst.f32.set(a, at[i] >> 2);
    });
    return [...at, ...more];
  }
  const read = (at: number, count: number) => inst.f32.slice(at >> 2, (at >> 2) + count);
  const pooled = (size: number, stride: number, rounding: string) => {
    if (rounding !== "ceil" && rounding !== "floor") {
      throw new RangeError(`maxPoolF32: rounding must be "ceil" or "floor", got "${rounding}"`);
    }
    return (side: number) => poolOutSide(side, size, stride, rounding);
  };

  return {
    variant,
    convPreluF32(x, n, h, w, c, weight, bias, alpha, kh, kw, stride) {
      const fn = "convPreluF32";
      const { oh, ow } = checkEngineWindow(fn, x, n, h, w, c, kh, kw, stride);
      const oc = checkEngineParams(fn, weight, bias, alpha, kh * kw * c);
      const packed = packConv(weight, bias, alpha, kh * kw * c);
      const count = n * oh * ow * oc;
      const [src, pk, dst] = place(fn, [x, packed], [4 * count]);
      k.convPrelu(src, n, h, w, c, kh, kw, stride, pk, oc, dst);
      return read(dst, count);
    },
    convPreluPoolF32(
      x,
      n,
      h,
      w,
      c,
      weight,
      bias,
      alpha,
      kh,
      kw,
      stride,
      size,
      poolStride,
      rounding,
    ) {
      const fn = "convPreluPoolF32";
      const { oh, ow } = checkEngineWindow(fn, x, n, h, w, c, kh, kw, stride);
      const oc = checkEngineParams(fn, weight, bias, alpha, kh * kw * c);
      // the twin pools the convolution's output with maxPoolF32: same checks, same messages
      checkPositive("maxPoolF32", "kh", size);
      checkPositive("maxPoolF32", "stride", poolStride);
      if (oh < size || ow < size) {
        throw new RangeError(
          `maxPoolF32: input ${oh}x${ow} is smaller than the ${size}x${size} window`,
        );
      }
      const side = pooled(size, poolStride, rounding);
      const [ph, pw] = [side(oh), side(ow)];
      const packed = packConv(weight, bias, alpha, kh * kw * c);
      const count = n * ph * pw * oc;
      const [src, pk, dst, scratch] = place(fn, [x, packed], [
        4 * count,
        k.convPoolScratchBytes(h, w, kh, kw, stride, oc, size, n),
      ]);
      k.convPreluPool(
        src,
        n,
        h,
        w,
        c,
        kh,
        kw,
        stride,
        pk,
        oc,
        size,
        poolStride,
        ph,
        pw,
        scratch,
        dst,
      );
      return read(dst, count);
    },
    convPreluThen1x1F32(
      x,
      n,
      h,
      w,
      c,
      weight,
      bias,
      alpha,
      kh,
      kw,
      stride,
      weight2,
      bias2,
      alpha2,
    ) {
      // the twin is two convPreluF32 calls: same checks, same messages
      const fn = "convPreluF32";
      const { oh, ow } = checkEngineWindow(fn, x, n, h, w, c, kh, kw, stride);
      const oc = checkEngineParams(fn, weight, bias, alpha, kh * kw * c);
      const units = checkEngineParams(fn, weight2, bias2, alpha2, oc);
      const packed = packConv(weight, bias, alpha, kh * kw * c);
      const packed2 = packConv(weight2, bias2, alpha2, oc);
      const count = n * oh * ow * units;
      const [src, pk, pk2, dst, scratch] = place(fn, [x, packed, packed2], [
        4 * count,
        k.thenScratchBytes(w, kw, stride, oc),
      ]);
      k.convPreluThen1x1(src, n, h, w, c, kh, kw, stride, pk, oc, pk2, units, scratch, dst);
      return read(dst, count);
    },
    depthwisePreluF32(x, n, h, w, c, weight, bias, alpha, kh, kw, stride) {
      const fn = "depthwisePreluF32";
      const { oh, ow } = checkEngineWindow(fn, x, n, h, w, c, kh, kw, stride);
      if (bias.length !== c) throw new RangeError(`${fn}: bias.length ${bias.length} != ${c} (c)`);
      checkEngineParams(fn, weight, bias, alpha, kh * kw);
      const packed = packDepthwise(weight, bias, alpha, kh * kw);
      const count = n * oh * ow * c;
      const [src, pk, dst] = place(fn, [x, packed], [4 * count]);
      k.depthwisePrelu(src, n, h, w, c, kh, kw, stride, pk, dst);
      return read(dst, count);
    },
    maxPoolF32(x, n, h, w, c, size, stride, rounding) {
      const fn = "maxPoolF32";
      checkEngineWindow(fn, x, n, h, w, c, size, size, stride);
      const side = pooled(size, stride, rounding);
      const [ph, pw] = [side(h), side(w)];
      const count = n * ph * pw * c;
      const [src, dst] = place(fn, [x], [4 * count]);
      k.maxPool(src, n, h, w, c, size, stride, ph, pw, dst);
      return read(dst, count);
    },
    preluF32(x, alpha) {
      const c = alpha.length;
      checkPositive("preluF32", "alpha.length", c);
      if (x.length % c !== 0) {
        throw new RangeError(
          `preluF32: x.length ${x.length} is not a multiple of ${c} (alpha.length)`,
        );
      }
      const [buf, al] = place("preluF32", [x, packAlpha(alpha)], []);
      k.preluInPlace(buf, x.length / c, c, al);
      return read(buf, x.length);
    },
    normalizePixels(src, c, mean, scale, bgr) {
      const fn = "normalizePixels";
      checkPositive(fn, "c", c);
      if (mean.length !== c || scale.length !== c) {
        throw new RangeError(`${fn}: mean and scale need ${c} values each`);
      }
      if (src.length % c !== 0) {
        throw new RangeError(`${fn}: src.length ${src.length} is not a multiple of ${c}`);
      }
      const params = new Float32Array(8 * c);
      for (let i = 0; i < 4 * c; i++) {
        params[i] = mean[i % c];
        params[4 * c + i] = scale[i % c];
      }
      const [s, p, dst] = place(fn, [src, params], [4 * src.length]);
      k.normalize(s, src instanceof Uint8Array ? 0 : 1, src.length / c, c, p, bgr ? 1 : 0, dst);
      return read(dst, src.length);
    },
    splitHeads(rows, units) {
      if (units !== 6 && units !== 16) {
        throw new RangeError(`splitHeads: units must be 6 or 16, got ${units}`);
      }
      if (rows.length % units !== 0) {
        throw new RangeError(
          `splitHeads: rows.length ${rows.length} is not a multiple of ${units}`,
        );
      }
      const n = rows.length / units;
      const [src, cls, box, lm] = place("splitHeads", [rows], [4 * n, 16 * n, 40 * n]);
      k.splitHeads(src, n, units, cls, box, units === 16 ? lm : 0);
      const out: HeadOutputs = { cls: read(cls, n), box: read(box, 4 * n) };
      if (units === 16) out.landmarks = read(lm, 10 * n);
      return out;
    },
    memoryBytes() {
      return k.memory.buffer.byteLength;
    },
  };
}
