/**
 * A reader for TensorFlow Lite model files (the `TFL3` FlatBuffer of
 * tensorflow/lite/schema/schema.fbs), written from the schema: model →
 * subgraphs → tensors, operators, buffers. Only what an importer needs is
 * decoded: shapes, types, names, constant data, quantization, the builtin
 * opcode and the options of the ops MTCNN-like nets use.
 *
 * @example
 * ```ts
 * const model = parseTflite(await Deno.readFile("pnet.tflite"), "pnet.tflite");
 * console.log(model.subgraphs[0].operators.map((o) => o.op));
 * ```
 */

/** Names of the TFLite builtin operators, by code (schema.fbs `BuiltinOperator`). */
const BUILTIN_NAMES: Record<number, string> = {
  0: "ADD",
  1: "AVERAGE_POOL_2D",
  2: "CONCATENATION",
  3: "CONV_2D",
  4: "DEPTHWISE_CONV_2D",
  6: "DEQUANTIZE",
  9: "FULLY_CONNECTED",
  14: "LOGISTIC",
  17: "MAX_POOL_2D",
  18: "MUL",
  19: "RELU",
  21: "RELU6",
  22: "RESHAPE",
  25: "SOFTMAX",
  28: "TANH",
  34: "PAD",
  39: "TRANSPOSE",
  40: "MEAN",
  41: "SUB",
  42: "DIV",
  43: "SQUEEZE",
  45: "STRIDED_SLICE",
  47: "EXP",
  49: "SPLIT",
  54: "PRELU",
  55: "MAXIMUM",
  57: "MINIMUM",
  59: "NEG",
  60: "PADV2",
  65: "SLICE",
  74: "SUM",
  82: "REDUCE_MAX",
  114: "QUANTIZE",
  116: "ROUND",
};

/** Names of the TFLite tensor types (schema.fbs `TensorType`). */
const TENSOR_TYPES = [
  "float32",
  "float16",
  "int32",
  "uint8",
  "int64",
  "string",
  "bool",
  "int16",
  "complex64",
  "int8",
];

/** A tensor of a subgraph; `data` is set for constants. */
export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: string;
  /** Raw little-endian bytes of a constant tensor, else undefined. */
  data?: Uint8Array;
  /** value = scale[k] · (q − zeroPoint[k]), k the index along `dimension` (per-axis) or 0. */
  quantization?: { scale: number[]; zeroPoint: number[]; dimension: number };
}

/** Options of an operator; which keys exist depends on the op. */
export interface TfliteOptions {
  padding?: "SAME" | "VALID";
  strideW?: number;
  strideH?: number;
  filterW?: number;
  filterH?: number;
  dilationW?: number;
  dilationH?: number;
  depthMultiplier?: number;
  /** Fused activation: NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT. */
  activation?: string;
  beta?: number;
  newShape?: number[];
  keepNumDims?: boolean;
  keepDims?: boolean;
}

/** One operator: its builtin name (or `CUSTOM:<code>`), tensor indices and options. */
export interface TfliteOperator {
  index: number;
  op: string;
  inputs: number[];
  outputs: number[];
  options: TfliteOptions;
}

export interface TfliteSubgraph {
  name: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

export interface TfliteModel {
  version: number;
  description: string;
  subgraphs: TfliteSubgraph[];
}

const ACTIVATIONS = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"];

/** Minimal FlatBuffers table access over one byte array, with bounds checks. */
class FlatReader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(what: string): never {
    throw new RangeError(`Cannot read "${this.file}": ${what}`);
  }
  check(pos: number, size: number, what: string) {
    if (pos < 0 || pos + size > this.bytes.length) {
      this.fail(`${what} lies outside the file (truncated?)`);
    }
  }
  u8(pos: number) {
    this.check(pos, 1, "a field");
    return this.view.getUint8(pos);
  }
  u16(pos: number) {
    this.check(pos, 2, "a field");
    return this.view.getUint16(pos, true);
  }
  i32(pos: number) {
    this.check(pos, 4, "a field");
    return this.view.getInt32(pos, true);
  }
  u32(pos: number) {
    this.check(pos, 4, "a field");
    return this.view.getUint32(pos, true);
  }
  f32(pos: number) {
    this.check(pos, 4, "a field");
    return this.view.getFloat32(pos, true);
  }
  /** Position of field `id`'s value inside the table at `table`, or 0 when absent. */
  field(table: number, id: number): number {
    const vtable = table - this.i32(table);
    const vsize = this.u16(vtable);
    const at = 4 + 2 * id;
    if (at >= vsize) return 0;
    const off = this.u16(vtable + at);
    return off ? table + off : 0;
  }
  /** The table/vector/string an offset field points to, or 0. */
  ref(table: number, id: number): number {
    const p = this.field(table, id);
    return p ? p + this.u32(p) : 0;
  }
  scalarU8(table: number, id: number, dflt = 0) {
    const p = this.field(table, id);
    return p ? this.u8(p) : dflt;
  }
  scalarI32(table: number, id: number, dflt = 0) {
    const p = this.field(table, id);
    return p ? this.i32(p) : dflt;
  }
  scalarU32(table: number, id: number, dflt = 0) {
    const p = this.field(table, id);
    return p ? this.u32(p) : dflt;
  }
  scalarF32(table: number, id: number, dflt = 0) {
    const p = this.field(table, id);
    return p ? this.f32(p) : dflt;
  }
  /** Length and first-element position of the vector field `id` (length 0 when absent). */
  vector(table: number, id: number): [number, number] {
    const v = this.ref(table, id);
    if (!v) return [0, 0];
    const n = this.u32(v);
    return [n, v + 4];
  }
  tables(table: number, id: number): number[] {
    const [n, start] = this.vector(table, id);
    this.check(start, 4 * n, "a vector");
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(start + 4 * i + this.u32(start + 4 * i));
    return out;
  }
  ints(table: number, id: number): number[] {
    const [n, start] = this.vector(table, id);
    this.check(start, 4 * n, "a vector");
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.i32(start + 4 * i));
    return out;
  }
  floats(table: number, id: number): number[] {
    const [n, start] = this.vector(table, id);
    this.check(start, 4 * n, "a vector");
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.f32(start + 4 * i));
    return out;
  }
  longs(table: number, id: number): number[] {
    const [n, start] = this.vector(table, id);
    this.check(start, 8 * n, "a vector");
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(Number(this.view.getBigInt64(start + 8 * i, true)));
    return out;
  }
  bytesOf(table: number, id: number): Uint8Array | undefined {
    const [n, start] = this.vector(table, id);
    if (!start) return undefined;
    this.check(start, n, "a byte vector");
    return this.bytes.subarray(start, start + n);
  }
  string(table: number, id: number): string {
    const b = this.bytesOf(table, id);
    return b ? new TextDecoder().decode(b) : "";
  }
}

/**
 * Parses a `.tflite` file. Throws a one-line RangeError naming `file` when the
 * bytes are not a TFLite model or are truncated.
 *
 * @example
 * ```ts
 * const m = parseTflite(bytes, "rnet.tflite");
 * const sg = m.subgraphs[0];
 * console.log(sg.tensors[sg.inputs[0]].shape); // e.g. [1, 24, 24, 3]
 * ```
 */
export function parseTflite(bytes: Uint8Array, file = "model.tflite"): TfliteModel {
  const r = new FlatReader(bytes, file);
  if (bytes.length < 8) r.fail("too short for a TFLite model");
  const ident = new TextDecoder().decode(bytes.subarray(4, 8));
  if (ident !== "TFL3") {
    r.fail(`file identifier is "${ident.replace(/[^\x20-\x7e]/g, "?")}", not "TFL3"`);
  }
  const root = r.u32(0);
  const version = r.scalarU32(root, 0);
  const opcodes = r.tables(root, 1).map((t) => {
    const deprecated = r.scalarU8(t, 0);
    const code = Math.max(deprecated, r.scalarI32(t, 3));
    if (code === 32) return `CUSTOM:${r.string(t, 1)}`;
    return BUILTIN_NAMES[code] ?? `BUILTIN_${code}`;
  });
  const buffers = r.tables(root, 4).map((t) => {
    const data = r.bytesOf(t, 0);
    if (data && data.length) return data;
    // Large models keep data outside the FlatBuffer at (offset, size).
    const offP = r.field(t, 1);
    const sizeP = r.field(t, 2);
    if (offP && sizeP) {
      const off = Number(r.view.getBigUint64(offP, true));
      const size = Number(r.view.getBigUint64(sizeP, true));
      if (off > 1 && size > 0) {
        r.check(off, size, "a buffer");
        return bytes.subarray(off, off + size);
      }
    }
    return undefined;
  });
  const subgraphs = r.tables(root, 2).map((sg): TfliteSubgraph => {
    const tensors = r.tables(sg, 0).map((t, index): TfliteTensor => {
      const typeCode = r.scalarU8(t, 1);
      const buf = r.scalarU32(t, 2);
      const tensor: TfliteTensor = {
        index,
        name: r.string(t, 3),
        shape: r.ints(t, 0),
        type: TENSOR_TYPES[typeCode] ?? `type${typeCode}`,
      };
      if (buf >= buffers.length) {
        r.fail(`tensor "${tensor.name}" refers to buffer ${buf} of ${buffers.length}`);
      }
      const data = buffers[buf];
      if (buf > 0 && data) tensor.data = data;
      const q = r.ref(t, 4);
      if (q) {
        const scale = r.floats(q, 2);
        if (scale.length) {
          tensor.quantization = { scale, zeroPoint: r.longs(q, 3), dimension: r.scalarI32(q, 6) };
        }
      }
      return tensor;
    });
    const operators = r.tables(sg, 3).map((o, index): TfliteOperator => {
      const code = r.scalarU32(o, 0);
      if (code >= opcodes.length) {
        r.fail(`operator ${index} uses opcode ${code} of ${opcodes.length}`);
      }
      const op = opcodes[code];
      const opt = r.ref(o, 4);
      return {
        index,
        op,
        inputs: r.ints(o, 1),
        outputs: r.ints(o, 2),
        options: opt ? readOptions(r, op, opt) : {},
      };
    });
    return {
      name: r.string(sg, 4),
      tensors,
      inputs: r.ints(sg, 1),
      outputs: r.ints(sg, 2),
      operators,
    };
  });
  return { version, description: r.string(root, 3), subgraphs };
}

function readOptions(r: FlatReader, op: string, t: number): TfliteOptions {
  const pad = (id: number) => (r.scalarU8(t, id) === 0 ? "SAME" : "VALID") as "SAME" | "VALID";
  const act = (id: number) => ACTIVATIONS[r.scalarU8(t, id)] ?? `ACT${r.scalarU8(t, id)}`;
  switch (op) {
    case "CONV_2D":
      return {
        padding: pad(0),
        strideW: r.scalarI32(t, 1),
        strideH: r.scalarI32(t, 2),
        activation: act(3),
        dilationW: r.scalarI32(t, 4, 1),
        dilationH: r.scalarI32(t, 5, 1),
      };
    case "DEPTHWISE_CONV_2D":
      return {
        padding: pad(0),
        strideW: r.scalarI32(t, 1),
        strideH: r.scalarI32(t, 2),
        depthMultiplier: r.scalarI32(t, 3),
        activation: act(4),
        dilationW: r.scalarI32(t, 5, 1),
        dilationH: r.scalarI32(t, 6, 1),
      };
    case "MAX_POOL_2D":
    case "AVERAGE_POOL_2D":
      return {
        padding: pad(0),
        strideW: r.scalarI32(t, 1),
        strideH: r.scalarI32(t, 2),
        filterW: r.scalarI32(t, 3),
        filterH: r.scalarI32(t, 4),
        activation: act(5),
      };
    case "FULLY_CONNECTED":
      return { activation: act(0), keepNumDims: r.scalarU8(t, 2) !== 0 };
    case "SOFTMAX":
      return { beta: r.scalarF32(t, 0) };
    case "RESHAPE":
      return { newShape: r.ints(t, 0) };
    case "ADD":
    case "MUL":
    case "SUB":
    case "DIV":
      return { activation: act(0) };
    case "SUM":
    case "MEAN":
    case "REDUCE_MAX":
      return { keepDims: r.scalarU8(t, 0) !== 0 };
    default:
      return {};
  }
}

/** The float32 values of a constant tensor (dequantized when int8/uint8 with a scale). */
export function tfliteConstant(t: TfliteTensor, file = "model.tflite"): Float32Array {
  if (!t.data) {
    throw new TypeError(`Cannot read "${file}": tensor "${t.name}" has no constant data`);
  }
  const n = t.shape.reduce((a, b) => a * b, 1);
  const d = t.data;
  if (t.type === "float32") {
    if (d.length !== 4 * n) {
      throw new RangeError(
        `Cannot read "${file}": tensor "${t.name}" holds ${d.length} bytes, shape wants ${4 * n}`,
      );
    }
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(d);
    return out;
  }
  if (t.type === "int32") {
    // quantized int32 (int8 models' biases): value = scale[k] · q, per axis 0
    const scale = t.quantization?.scale ?? [1];
    const out = new Float32Array(n);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    for (let i = 0; i < n; i++) {
      out[i] = scale[scale.length > 1 ? i % scale.length : 0] * v.getInt32(4 * i, true);
    }
    return out;
  }
  if ((t.type === "int8" || t.type === "uint8") && t.quantization) {
    const { scale, zeroPoint, dimension } = t.quantization;
    const out = new Float32Array(n);
    const signed = t.type === "int8";
    // per-axis: the slices along `dimension` (0 for conv and dense weights, 3 for depthwise)
    const inner = t.shape.slice(dimension + 1).reduce((a, b) => a * b, 1);
    const dim = t.shape[dimension] ?? 1;
    if (scale.length > 1 && scale.length !== dim) {
      throw new RangeError(
        `Cannot read "${file}": tensor "${t.name}" has ${scale.length} scales along dimension ${dimension} of [${t.shape}]`,
      );
    }
    for (let i = 0; i < n; i++) {
      const q = signed ? (d[i] << 24) >> 24 : d[i];
      const k = scale.length > 1 ? Math.floor(i / inner) % dim : 0;
      out[i] = scale[k] * (q - (zeroPoint[k] ?? 0));
    }
    return out;
  }
  throw new TypeError(
    `Cannot read "${file}": tensor "${t.name}" has type ${t.type}, which the importer does not read`,
  );
}
