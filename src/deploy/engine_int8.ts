/**
 * The int8 path of the AssemblyScript engine (kernels/assembly/engine_int8.ts):
 * runs a net quantised by src/optimize/quantize.ts (int8 weights per output
 * channel, uint8 activations per tensor) with int32 accumulation
 * (`i32x4.dot_i16x8_s`) and float requantisation per output channel; PReLU
 * is applied in the dequantised domain between the two (see the kernel's
 * header), max pooling on the uint8 codes. The image goes in through a
 * 256-entry table per channel (normalisation + channel order + input
 * quantisation in one lookup); the heads come out as floats.
 *
 * {@linkcode int8Reference} is the TypeScript twin: same integer and float32
 * operations, so its head outputs equal the kernels' bit for bit.
 * `createEngine` (src/deploy/engine.ts) picks this path when the NetData holds
 * int8 tensors ({@linkcode int8Unsupported} says why not otherwise).
 *
 * @example
 * ```ts
 * const pnet = await createInt8Engine(await loadNetData("pnet.int8.mtcnn"));
 * const { cls, box } = pnet.run(rgb, 1, 480, 640);
 * ```
 */
import { HEAD_UNITS, type NetArch } from "../nets/arch.ts";
import type { ActQuant, NetData } from "../nets/net.ts";
import type { Engine, EngineOutput, LayerTime } from "./engine.ts";
import { quantizeValue } from "../optimize/quantize.ts";
import { relaxedSimdSupported } from "../../kernels/mod.ts";

/** One compiled int8 step. */
interface Step {
  name: string;
  kind: "conv" | "dense" | "heads";
  kh: number;
  kw: number;
  stride: number;
  oc: number;
  /** Input channels (dense: flat input length). */
  ic: number;
  zIn: number;
  invOut: number;
  zOut: number;
  pools: { size: number; stride: number; rounding: "ceil" | "floor" }[];
  /** Pair-packed weights (the kernel's layout). */
  packed: Uint8Array;
  /** The int8 weights as [oc][kp] int16, for the twin. */
  w: Int16Array; // [oc][kp]
  mul: Float32Array;
  bias: Float32Array;
  alpha: Float32Array;
  kp: number;
}

interface Compiled {
  arch: NetArch;
  steps: Step[];
  lut: Uint8Array; // c * 256
  order: Uint8Array;
  input: ActQuant;
  units: number;
  heads: { kind: "cls" | "box" | "landmarks"; at: number }[];
  spatial: boolean;
  /** Largest activation code: 255 (8 bits, int16 pair kernels) or 127 (7 bits, i8 quad kernels). */
  maxCode: number;
}

const f = Math.fround;

const requant = quantizeValue;

/** Why `data` cannot run on the int8 path, or undefined when it can. */
export function int8Unsupported(data: NetData): string | undefined {
  const q = data.quant;
  if (!q) return "the net holds no int8 tensors";
  let seenCompute = false;
  let state = 0; // 0: after compute, 1: after activation, 2: after pool/flatten
  for (const l of data.arch.layers) {
    if (l.kind === "depthwise") return `depthwise layer ${l.name} has no int8 kernel`;
    if (l.kind === "gconv") return `grouped 1x1 layer ${l.name} (gconv) has no int8 kernel`;
    if (l.kind === "conv" || l.kind === "dense") {
      if (!q.weights[`${l.name}.weight`]) return `layer ${l.name} has float32 weights`;
      seenCompute = true;
      state = 0;
    } else if (l.kind === "prelu" || l.kind === "relu") {
      if (!seenCompute || state !== 0) return `activation after a pool or a flatten`;
      state = 1;
    } else if (l.kind === "maxpool" || l.kind === "flatten") state = 2;
    else if (!q.weights[`${l.name}.weight`]) return `head ${l.name} has float32 weights`;
  }
  return undefined;
}

function compile(data: NetData): Compiled {
  const why = int8Unsupported(data);
  if (why) throw new TypeError(`int8 engine (${data.arch.name}): ${why}`);
  const { arch, params } = data;
  const quant = data.quant!;
  const maxCode = quant.bits === 7 ? 127 : 255;
  const steps: Step[] = [];
  let c = arch.input.channels;
  const layers = arch.layers;
  let firstInput: ActQuant | undefined;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (l.kind !== "conv" && l.kind !== "dense") continue;
    const aq = quant.activations[l.name];
    if (!aq?.output) {
      throw new TypeError(`int8 engine (${arch.name}): no activation range for ${l.name}`);
    }
    firstInput ??= aq.input;
    let alpha: Float32Array | undefined;
    let relu = false;
    for (let j = i + 1; j < layers.length; j++) {
      const a = layers[j];
      if (a.kind === "prelu") alpha = params[`${a.name}.alpha`];
      else if (a.kind === "relu") relu = true;
      else if (a.kind !== "maxpool" && a.kind !== "flatten") break;
    }
    const oc = l.kind === "conv" ? l.filters : l.units;
    const ic = c; // dense: makeStep sets its flat input length
    const kh = l.kind === "conv" ? l.kh : 1;
    const kw = l.kind === "conv" ? l.kw : 1;
    const wq = quant.weights[`${l.name}.weight`];
    const mul = new Float32Array(oc);
    const al = new Float32Array(oc);
    for (let o = 0; o < oc; o++) {
      mul[o] = f(aq.input.scale * wq.scale[wq.scale.length === 1 ? 0 : o]);
      al[o] = alpha ? alpha[o] : relu ? 0 : 1;
    }
    steps.push(
      makeStep(
        l.name,
        l.kind,
        kh,
        kw,
        l.kind === "conv" ? l.stride : 1,
        ic,
        oc,
        wq.q,
        mul,
        params[`${l.name}.bias`],
        al,
        aq.input,
        aq.output,
      ),
    );
    c = oc;
  }
  // heads: one 1×1 step with every head's outputs side by side
  const heads: Compiled["heads"] = [];
  let units = 0;
  const headLayers = layers.filter((l) =>
    l.kind === "cls" || l.kind === "box" || l.kind === "landmarks"
  );
  for (const h of headLayers) {
    heads.push({ kind: h.kind as "cls" | "box" | "landmarks", at: units });
    units += HEAD_UNITS[h.kind as "cls"];
  }
  const last = steps[steps.length - 1];
  const hin = quant.activations[headLayers[0].name].input;
  const hic = last.oc; // spatial: channels; flat: set at plan time when a conv ends the trunk
  const hw = new Int8Array(hic * units);
  const hmul = new Float32Array(units);
  const hbias = new Float32Array(units);
  for (const h of headLayers) {
    const at = heads.find((x) => x.kind === h.kind)!.at;
    const u = HEAD_UNITS[h.kind as "cls"];
    const wq = quant.weights[`${h.name}.weight`];
    const b = params[`${h.name}.bias`];
    if (wq.q.length !== hic * u) {
      throw new TypeError(
        `int8 engine (${arch.name}): head ${h.name} reads a flattened conv output (unsupported)`,
      );
    }
    for (let k = 0; k < hic; k++) {
      for (let o = 0; o < u; o++) hw[k * units + at + o] = wq.q[k * u + o];
    }
    for (let o = 0; o < u; o++) {
      hmul[at + o] = f(hin.scale * wq.scale[wq.scale.length === 1 ? 0 : o]);
      hbias[at + o] = b[o];
    }
  }
  steps.push(
    makeStep(
      "heads",
      "heads",
      1,
      1,
      1,
      hic,
      units,
      hw,
      hmul,
      hbias,
      new Float32Array(units).fill(1),
      hin,
      { scale: 1, zeroPoint: 0 },
    ),
  );
  // input table
  const inp = arch.input;
  const lut = new Uint8Array(inp.channels * 256);
  const inv = f(1 / firstInput!.scale);
  for (let j = 0; j < inp.channels; j++) {
    for (let p = 0; p < 256; p++) {
      lut[j * 256 + p] = requant(
        f(f(p - inp.mean[j]) * f(inp.scale[j])),
        inv,
        firstInput!.zeroPoint,
        maxCode,
      );
    }
  }
  const order = Uint8Array.from(
    inp.channels === 3 && inp.channelOrder === "BGR"
      ? [2, 1, 0]
      : Array.from({ length: inp.channels }, (_, j) => j),
  );
  if (maxCode === 127) {
    for (const s of steps) s.packed = packQuads(s);
  }
  return {
    arch,
    steps,
    lut,
    order,
    input: firstInput!,
    units,
    heads,
    spatial: last.kind === "conv",
    maxCode,
  };
}

function makeStep(
  name: string,
  kind: Step["kind"],
  kh: number,
  kw: number,
  stride: number,
  ic: number,
  oc: number,
  wq: Int8Array,
  mul: Float32Array,
  bias: Float32Array,
  alpha: Float32Array,
  input: ActQuant,
  output: ActQuant,
): Step {
  const k = wq.length / oc; // kh*kw*ic (dense: its input length)
  if (kind === "dense") ic = k;
  const kp = (k + 7) & ~7;
  const w = new Int16Array(oc * kp);
  for (let kk = 0; kk < k; kk++) for (let o = 0; o < oc; o++) w[o * kp + kk] = wq[kk * oc + o];
  const packed = packPairs(
    wq,
    kind === "dense" ? 1 : kh,
    kind === "dense" ? k : kw * ic,
    oc,
    mul,
    bias,
    alpha,
  );
  return {
    name,
    kind,
    kh,
    kw,
    stride,
    oc,
    ic,
    zIn: input.zeroPoint,
    invOut: f(1 / output.scale),
    zOut: output.zeroPoint,
    pools: [],
    packed,
    w,
    mul,
    bias: Float32Array.from(bias),
    alpha,
    kp,
  };
}

/**
 * Packs int8 weights (HWIO, k = ky * rowLen + t) for convPairs: blocks of 8
 * output channels (a remainder of 1..4: one 4-wide block), each [mul][bias]
 * [alpha] then per kernel row and input pair the block's channels × 2 int16.
 */
export function packPairs(
  wq: Int8Array,
  kh: number,
  rowLen: number,
  oc: number,
  mul: Float32Array,
  bias: Float32Array,
  alpha: Float32Array,
): Uint8Array {
  const pairsRow = (rowLen + 1) >> 1;
  const pairs = kh * pairsRow;
  const full = oc >> 3;
  const r = oc & 7;
  const widths = Array.from({ length: full }, () => 8);
  if (r > 0) widths.push(r <= 4 ? 4 : 8);
  const total = widths.reduce((a, bw) => a + bw * 12 + pairs * bw * 4, 0);
  const out = new Uint8Array(total + 16);
  const dv = new DataView(out.buffer);
  let at = 0;
  widths.forEach((bw, b) => {
    for (let j = 0; j < bw; j++) {
      const o = b * 8 + j;
      const ok = o < oc;
      dv.setFloat32(at + 4 * j, ok ? mul[o] : 0, true);
      dv.setFloat32(at + bw * 4 + 4 * j, ok ? bias[o] : 0, true);
      dv.setFloat32(at + bw * 8 + 4 * j, ok ? alpha[o] : 1, true);
    }
    at += bw * 12;
    for (let ky = 0; ky < kh; ky++) {
      for (let p = 0; p < pairsRow; p++) {
        for (let j = 0; j < bw; j++) {
          const o = b * 8 + j;
          for (let e = 0; e < 2; e++) {
            const t = 2 * p + e;
            const v = o < oc && t < rowLen ? wq[(ky * rowLen + t) * oc + o] : 0;
            dv.setInt16(at, v, true);
            at += 2;
          }
        }
      }
    }
  });
  return out.subarray(0, total);
}

/**
 * Packs a step's weights for convQuads: blocks as packPairs, each [mul][bias]
 * [alpha][corr = -zIn · Σw (i32)] then per kernel row and group of 4 inputs
 * the block's channels × 4 int8.
 */
function packQuads(s: Step): Uint8Array {
  const kh = s.kh;
  const total = s.kh * s.kw * s.ic; // inputs per output (dense, heads: kh = kw = 1)
  const rowLen = total / kh;
  const quadsRow = (rowLen + 3) >> 2;
  const oc = s.oc;
  const full = oc >> 3;
  const r = oc & 7;
  const widths = Array.from({ length: full }, () => 8);
  if (r > 0) widths.push(r <= 4 ? 4 : 8);
  const bytes = widths.reduce((a, bw) => a + bw * 16 + kh * quadsRow * bw * 4, 0);
  const out = new Uint8Array(bytes + 16);
  const dv = new DataView(out.buffer);
  let at = 0;
  widths.forEach((bw, b) => {
    for (let j = 0; j < bw; j++) {
      const o = b * 8 + j;
      const ok = o < oc;
      let sum = 0;
      if (ok) { for (let t = 0; t < total; t++) sum += s.w[o * s.kp + t]; }
      dv.setFloat32(at + 4 * j, ok ? s.mul[o] : 0, true);
      dv.setFloat32(at + bw * 4 + 4 * j, ok ? s.bias[o] : 0, true);
      dv.setFloat32(at + bw * 8 + 4 * j, ok ? s.alpha[o] : 1, true);
      dv.setInt32(at + bw * 12 + 4 * j, ok ? -s.zIn * sum : 0, true);
    }
    at += bw * 16;
    for (let ky = 0; ky < kh; ky++) {
      for (let q = 0; q < quadsRow; q++) {
        for (let j = 0; j < bw; j++) {
          const o = b * 8 + j;
          for (let e = 0; e < 4; e++) {
            const t = 4 * q + e;
            dv.setInt8(at++, o < oc && t < rowLen ? s.w[o * s.kp + ky * rowLen + t] : 0);
          }
        }
      }
    }
  });
  return out.subarray(0, bytes);
}

// pools are attached after makeStep (kept out of its long argument list)
function attachPools(data: NetData, c: Compiled): void {
  const layers = data.arch.layers;
  for (const s of c.steps) {
    if (s.kind === "heads") continue;
    const i = layers.findIndex((l) =>
      (l.kind === "conv" || l.kind === "dense") && l.name === s.name
    );
    for (let j = i + 1; j < layers.length; j++) {
      const a = layers[j];
      if (a.kind === "maxpool") {
        s.pools.push({ size: a.size, stride: a.stride, rounding: a.rounding });
      } else if (
        a.kind === "conv" || a.kind === "dense" || a.kind === "cls" || a.kind === "box" ||
        a.kind === "landmarks"
      ) break;
    }
  }
}

function compileNet(data: NetData): Compiled {
  const c = compile(data);
  attachPools(data, c);
  return c;
}

const poolSide = (n: number, p: Step["pools"][number]) =>
  (p.rounding === "ceil"
    ? Math.ceil((n - p.size) / p.stride)
    : Math.floor((n - p.size) / p.stride)) + 1;

/** Shapes of every step for an h × w input. */
function shapes(c: Compiled, h: number, w: number) {
  const out: { h: number; w: number; c: number; oh: number; ow: number; ph: number; pw: number }[] =
    [];
  const size = c.arch.input.size;
  if (!c.spatial && (h !== size || w !== size)) {
    throw new RangeError(
      `int8 engine (${c.arch.name}): input must be ${size}x${size}, got ${h}x${w}`,
    );
  }
  if (!(h >= 1 && w >= 1)) {
    throw new RangeError(`int8 engine (${c.arch.name}): empty input ${h}x${w}`);
  }
  let ch = c.arch.input.channels;
  for (const s of c.steps) {
    if (s.kind === "dense" || (s.kind === "heads" && !c.spatial)) {
      const len = h * w * ch;
      if (len !== s.ic) {
        throw new RangeError(
          `int8 engine (${c.arch.name}): layer ${s.name} wants ${s.ic} inputs, gets ${h}x${w}x${ch} (input must be ${c.arch.input.size}x${c.arch.input.size})`,
        );
      }
      out.push({ h: 1, w: 1, c: len, oh: 1, ow: 1, ph: 1, pw: 1 });
      h = 1;
      w = 1;
    } else {
      if (h < s.kh || w < s.kw) {
        throw new RangeError(
          `int8 engine (${c.arch.name}): input too small at layer ${s.name} (${h}x${w})`,
        );
      }
      const oh = Math.floor((h - s.kh) / s.stride) + 1;
      const ow = Math.floor((w - s.kw) / s.stride) + 1;
      let ph = oh, pw = ow;
      for (const p of s.pools) {
        ph = poolSide(ph, p);
        pw = poolSide(pw, p);
      }
      out.push({ h, w, c: ch, oh, ow, ph, pw });
      h = ph;
      w = pw;
    }
    ch = s.oc;
  }
  return out;
}

/** Quantises normalised floats (net's channel order) to the input codes. */
function quantizeNormalized(c: Compiled, x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  const inv = f(1 / c.input.scale);
  for (let i = 0; i < x.length; i++) out[i] = requant(x[i], inv, c.input.zeroPoint, c.maxCode);
  return out;
}

function quantizePixels(c: Compiled, pixels: Uint8Array | Float32Array): Uint8Array {
  const ch = c.arch.input.channels;
  if (pixels instanceof Uint8Array) {
    const out = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i += ch) {
      for (let j = 0; j < ch; j++) out[i + j] = c.lut[j * 256 + pixels[i + c.order[j]]];
    }
    return out;
  }
  const inp = c.arch.input;
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i += ch) {
    for (let j = 0; j < ch; j++) {
      x[i + j] = f(f(pixels[i + c.order[j]] - inp.mean[j]) * f(inp.scale[j]));
    }
  }
  return quantizeNormalized(c, x);
}

const EXP_BITS = new Float64Array(1);
const EXP_WORDS = new Uint32Array(EXP_BITS.buffer);

/**
 * e^x in float64, as the kernel's headExp computes it (the same operations
 * in the same order, so the same bits): x clamped to +-700, x = k ln2 + r
 * (k = floor(x log2 e + 0.5), ln2 in two parts), e^r by its Taylor
 * polynomial to r^10 (|r| <= 0.35: relative error below 1e-12), times 2^k.
 */
export function headExp(x: number): number {
  x = x > 700 ? 700 : x < -700 ? -700 : x;
  const k = Math.floor(x * 1.4426950408889634 + 0.5);
  const r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10;
  const p = 1 + r * (1 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 +
                    r *
                      (0.008333333333333333 +
                        r * (0.001388888888888889 + r * (1.984126984126984e-4 +
                                r *
                                  (2.48015873015873e-5 +
                                    r * (2.7557319223985893e-6 + r * 2.755731922398589e-7)))))))));
  EXP_WORDS[0] = 0;
  EXP_WORDS[1] = (k + 1023) << 20;
  return p * EXP_BITS[0];
}

/**
 * The heads' rows split into the engine's outputs: face probability
 * 1 / (1 + e^(l0 - l1)) (float64, {@linkcode headExp}), boxes and landmarks
 * copied. The twin of the kernel splitHeadsQ.
 */
function splitHeads(
  c: Compiled,
  rows: Float32Array,
  n: number,
  outH: number,
  outW: number,
): EngineOutput {
  const m = n * outH * outW;
  const out: EngineOutput = { cls: new Float32Array(m), box: new Float32Array(m * 4), outH, outW };
  const u = c.units;
  for (const h of c.heads) {
    if (h.kind === "cls") {
      for (let i = 0; i < m; i++) {
        out.cls[i] = 1 / (1 + headExp(rows[i * u + h.at] - rows[i * u + h.at + 1]));
      }
    } else {
      const k = HEAD_UNITS[h.kind];
      const dst = h.kind === "box" ? out.box : (out.landmarks = new Float32Array(m * k));
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < k; j++) dst[i * k + j] = rows[i * u + h.at + j];
      }
    }
  }
  return out;
}

/**
 * The TypeScript twin of the int8 kernels: the head rows (float32, n × outH ×
 * outW × units) the engine computes for `n` images of h × w pixels.
 */
export function int8Reference(
  data: NetData,
  pixels: Uint8Array | Float32Array,
  n: number,
  h: number,
  w: number,
): { rows: Float32Array; output: EngineOutput } {
  const c = compileNet(data);
  const sh = shapes(c, h, w);
  let x = quantizePixels(c, pixels);
  let rows = new Float32Array(0);
  c.steps.forEach((s, si) => {
    const { h: H, w: W, c: C, oh, ow } = sh[si];
    const img = H * W * C;
    const heads = s.kind === "heads";
    const y = new Uint8Array(n * oh * ow * s.oc);
    const yf = new Float32Array(heads ? n * oh * ow * s.oc : 0);
    const kk = s.kh * s.kw * C;
    const patch = new Int32Array(s.kp);
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let p = 0;
          for (let ky = 0; ky < s.kh; ky++) {
            const row = b * img + ((oy * s.stride + ky) * W + ox * s.stride) * C;
            for (let j = 0; j < s.kw * C; j++) patch[p++] = x[row + j] - s.zIn;
          }
          const at = ((b * oh + oy) * ow + ox) * s.oc;
          for (let o = 0; o < s.oc; o++) {
            let acc = 0;
            for (let k = 0; k < kk; k++) acc += patch[k] * s.w[o * s.kp + k];
            let v = f(f(f(acc) * s.mul[o]) + s.bias[o]);
            if (v < 0) v = f(v * s.alpha[o]);
            if (heads) yf[at + o] = v;
            else y[at + o] = requant(v, s.invOut, s.zOut, c.maxCode);
          }
        }
      }
    }
    if (heads) {
      rows = yf;
      return;
    }
    let cur = y, ph = oh, pw = ow;
    for (const p of s.pools) {
      const qh = poolSide(ph, p), qw = poolSide(pw, p);
      const out = new Uint8Array(n * qh * qw * s.oc);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < qh; oy++) {
          for (let ox = 0; ox < qw; ox++) {
            for (let ch = 0; ch < s.oc; ch++) {
              let m = 0;
              for (let yy = oy * p.stride; yy < Math.min(oy * p.stride + p.size, ph); yy++) {
                for (let xx = ox * p.stride; xx < Math.min(ox * p.stride + p.size, pw); xx++) {
                  m = Math.max(m, cur[((b * ph + yy) * pw + xx) * s.oc + ch]);
                }
              }
              out[((b * qh + oy) * qw + ox) * s.oc + ch] = m;
            }
          }
        }
      }
      cur = out;
      ph = qh;
      pw = qw;
    }
    x = cur;
  });
  const last = sh[sh.length - 1];
  return { rows, output: splitHeads(c, rows, n, last.oh, last.ow) };
}

interface Int8Exports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  convPairs(...args: number[]): void;
  convQuads(...args: number[]): void;
  toI16(src: number, count: number, z: number, dst: number): void;
  quantizeF32(
    src: number,
    count: number,
    inv: number,
    z: number,
    maxCode: number,
    dst: number,
  ): void;
  maxPoolU8(...args: number[]): void;
  quantizePixelsLut(...args: number[]): void;
  quantizePixelsF32(...args: number[]): void;
  splitHeadsQ(...args: number[]): void;
}

const modulePromises = new Map<string, Promise<WebAssembly.Module>>();
function loadModule(name: string): Promise<WebAssembly.Module> {
  let m = modulePromises.get(name);
  if (!m) {
    m = (async () => {
      const url = new URL(`../../kernels/build/${name}.wasm`, import.meta.url);
      try {
        const bytes = typeof Deno !== "undefined"
          ? await Deno.readFile(url)
          : new Uint8Array(await (await fetch(url)).arrayBuffer());
        return await WebAssembly.compile(bytes);
      } catch (e) {
        modulePromises.delete(name);
        throw new TypeError(
          `Cannot load "kernels/build/${name}.wasm": ${
            (e as Error).message
          } (run deno task build:kernels)`,
        );
      }
    })();
    modulePromises.set(name, m);
  }
  return m;
}

const al16 = (n: number) => Math.ceil(n / 16) * 16 + 16;

/** An int8 engine: the {@linkcode Engine} interface plus its precision. */
export interface Int8Engine extends Engine {
  readonly precision: "int8";
}

/**
 * Compiles an int8 NetData (from `loadNetData` of an int8 file or
 * `quantizeNet`) for the int8 kernels. TypeError when the net has layers the
 * int8 path lacks ({@linkcode int8Unsupported}).
 *
 * @example
 * ```ts
 * const rnet = await createInt8Engine(await loadNetData("rnet.int8.mtcnn"));
 * const { cls } = rnet.run(crops, 256, 24, 24);
 * ```
 */
export async function createInt8Engine(
  data: NetData,
  options: { relaxedSimd?: boolean } = {},
): Promise<Int8Engine> {
  const c = compileNet(data);
  const canRelax = relaxedSimdSupported();
  if (options.relaxedSimd && !canRelax) {
    throw new TypeError("int8 engine: relaxed SIMD requested but this runtime does not support it");
  }
  // only the 7-bit (quad) kernels differ between the builds
  const relaxed = c.maxCode === 127 && canRelax && options.relaxedSimd !== false;
  const instance = await WebAssembly.instantiate(
    await loadModule(relaxed ? "engine_int8_relaxed" : "engine_int8"),
    {},
  );
  const k = instance.exports as unknown as Int8Exports;
  let top = al16(k.heapBase());
  const take = (bytes: number) => {
    const at = top;
    top += al16(bytes);
    return at;
  };
  const ensure = (end: number) => {
    const have = k.memory.buffer.byteLength;
    if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
  };
  const weightAt = c.steps.map((s) => take(s.packed.length));
  const lutAt = take(c.lut.length);
  const orderAt = take(c.order.length);
  const meanAt = take(8 * c.arch.input.channels);
  const scaleAt = take(4 * c.arch.input.channels);
  ensure(top);
  new Float64Array(k.memory.buffer, meanAt, c.arch.input.channels).set(c.arch.input.mean);
  new Float32Array(k.memory.buffer, scaleAt, c.arch.input.channels).set(c.arch.input.scale);
  c.steps.forEach((s, i) => new Uint8Array(k.memory.buffer).set(s.packed, weightAt[i]));
  new Uint8Array(k.memory.buffer).set(c.lut, lutAt);
  new Uint8Array(k.memory.buffer).set(c.order, orderAt);
  const heap = top;

  // input: u8 pixels (raw), u8 codes (!raw) or normalised floats (Float32Array)
  const exec = (
    input: Uint8Array | Float32Array,
    raw: boolean,
    n: number,
    h: number,
    w: number,
    clock?: () => number,
    times?: LayerTime[],
  ): EngineOutput => {
    const sh = shapes(c, h, w);
    if (input.length !== n * h * w * c.arch.input.channels) {
      throw new RangeError(
        `int8 engine (${c.arch.name}): input has ${input.length} values, want ${n}x${h}x${w}x${c.arch.input.channels}`,
      );
    }
    let biggest = n * h * w * c.arch.input.channels;
    for (let i = 0; i < sh.length - 1; i++) {
      biggest = Math.max(biggest, n * sh[i].oh * sh[i].ow * c.steps[i].oc);
    }
    const last = sh[sh.length - 1];
    const rowsBytes = n * last.oh * last.ow * c.units * 4;
    top = heap;
    const inAt = take(input.byteLength);
    const ping = take(biggest);
    const pong = take(biggest);
    const wide = take(2 * biggest + 16);
    const rowsAt = take(rowsBytes);
    ensure(top);
    if (input instanceof Float32Array) {
      new Float32Array(k.memory.buffer, inAt, input.length).set(input);
    } else new Uint8Array(k.memory.buffer).set(input, inAt);
    let t = clock?.() ?? 0;
    const mark = (name: string, flops: number) => {
      if (!clock) return;
      const now = clock();
      times!.push({ name, ms: now - t, flops });
      t = now;
    };
    let src = ping;
    if (input instanceof Float32Array && raw) {
      k.quantizePixelsF32(
        inAt,
        n * h * w,
        c.arch.input.channels,
        orderAt,
        meanAt,
        scaleAt,
        f(1 / c.input.scale),
        c.input.zeroPoint,
        c.maxCode,
        ping,
      );
    } else if (input instanceof Float32Array) {
      k.quantizeF32(inAt, input.length, f(1 / c.input.scale), c.input.zeroPoint, c.maxCode, ping);
    } else if (raw) {
      k.quantizePixelsLut(inAt, n * h * w, c.arch.input.channels, lutAt, orderAt, ping);
    } else src = inAt;
    mark("quantize", 0);
    c.steps.forEach((s, i) => {
      const g = sh[i];
      const heads = s.kind === "heads";
      const dst = heads ? rowsAt : src === ping ? pong : ping;
      const flat = g.h === 1 && g.w === 1 && s.kh === 1 && s.kw === 1; // dense: the batch is one row
      const m = heads ? 1 : 0;
      if (c.maxCode === 127) {
        if (flat) {
          k.convQuads(src, 1, 1, n, g.c, weightAt[i], 1, 1, 1, s.oc, m, s.invOut, s.zOut, 127, dst);
        } else {k.convQuads(
            src,
            n,
            g.h,
            g.w,
            g.c,
            weightAt[i],
            s.kh,
            s.kw,
            s.stride,
            s.oc,
            m,
            s.invOut,
            s.zOut,
            127,
            dst,
          );}
      } else {
        k.toI16(src, n * g.h * g.w * g.c, s.zIn, wide);
        if (flat) {
          k.convPairs(
            wide,
            1,
            1,
            n,
            g.c,
            weightAt[i],
            1,
            1,
            1,
            s.oc,
            m,
            s.invOut,
            s.zOut,
            255,
            dst,
          );
        } else {k.convPairs(
            wide,
            n,
            g.h,
            g.w,
            g.c,
            weightAt[i],
            s.kh,
            s.kw,
            s.stride,
            s.oc,
            m,
            s.invOut,
            s.zOut,
            255,
            dst,
          );}
      }
      let cur = dst, ph = g.oh, pw = g.ow;
      for (const p of s.pools) {
        const qh = poolSide(ph, p), qw = poolSide(pw, p);
        const to = cur === ping ? pong : ping;
        k.maxPoolU8(cur, n, ph, pw, s.oc, p.size, p.stride, qh, qw, to);
        cur = to;
        ph = qh;
        pw = qw;
      }
      src = cur;
      mark(
        s.name + (s.pools.length ? "+pool" : ""),
        2 * n * g.oh * g.ow * s.oc * s.kh * s.kw * g.c,
      );
    });
    const m = n * last.oh * last.ow;
    const at = (kind: string) => c.heads.find((x) => x.kind === kind)?.at ?? -1;
    const lmAt = at("landmarks");
    const clsAt = take(4 * m), boxAt = take(16 * m), lmOut = take(lmAt >= 0 ? 40 * m : 0);
    ensure(top);
    k.splitHeadsQ(rowsAt, m, c.units, at("cls"), at("box"), lmAt, clsAt, boxAt, lmOut);
    const buf = k.memory.buffer;
    const out: EngineOutput = {
      cls: new Float32Array(buf, clsAt, m).slice(),
      box: new Float32Array(buf, boxAt, 4 * m).slice(),
      outH: last.oh,
      outW: last.ow,
    };
    if (lmAt >= 0) out.landmarks = new Float32Array(buf, lmOut, 10 * m).slice();
    return out;
  };
  const flops = (n: number, h: number, w: number) => {
    const sh = shapes(c, h, w);
    return c.steps.reduce(
      (a, s, i) => a + 2 * n * sh[i].oh * sh[i].ow * s.oc * s.kh * s.kw * sh[i].c,
      0,
    );
  };
  return {
    arch: c.arch,
    variant: relaxed ? "relaxed-simd" : "simd",
    precision: "int8",
    // pixels (u8 or float): normalised and quantised in the kernels (quantizePixels' arithmetic)
    run: (pixels, n, h, w) => exec(pixels, true, n, h, w),
    runNormalized: (x, n, h = c.arch.input.size, w = c.arch.input.size) => exec(x, false, n, h, w),
    profile: (pixels, n, h, w, clock = () => performance.now()) => {
      const times: LayerTime[] = [];
      exec(pixels, true, n, h, w, clock, times);
      return times;
    },
    flops,
    memoryBytes: () => k.memory.buffer.byteLength,
  };
}
