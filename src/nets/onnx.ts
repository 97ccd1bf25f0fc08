/**
 * A reader for ONNX model files: a small protobuf wire-format decoder and the
 * parts of onnx.proto an importer needs (ModelProto → GraphProto → NodeProto,
 * TensorProto initializers with raw_data or float_data, ValueInfoProto
 * inputs/outputs with their shapes, node attributes).
 *
 * @example
 * ```ts
 * const model = parseOnnx(await Deno.readFile("pnet.onnx"), "pnet.onnx");
 * console.log(model.graph.nodes.map((n) => n.opType));
 * ```
 */

/** Wire-format reader over one message's bytes. */
class Proto {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly file: string, readonly end = bytes.length) {}
  fail(what: string): never {
    throw new RangeError(`Cannot read "${this.file}": ${what}`);
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) this.fail("a varint runs past the end of its message (truncated?)");
      const b = this.bytes[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) this.fail("a varint is longer than 10 bytes");
    }
  }
  /** A varint as a JS number (int64 read as signed). */
  int(): number {
    return Number(BigInt.asIntN(64, this.varint()));
  }
  /** Reads the next (field, wireType) tag, or undefined at the end. */
  tag(): [number, number] | undefined {
    if (this.pos >= this.end) return undefined;
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }
  bytesField(): Uint8Array {
    const n = Number(this.varint());
    if (this.pos + n > this.end) {
      this.fail(`a field of ${n} bytes runs past the end of its message (truncated?)`);
    }
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  sub(): Proto {
    const b = this.bytesField();
    return new Proto(b, this.file);
  }
  string(): string {
    return new TextDecoder().decode(this.bytesField());
  }
  float(): number {
    if (this.pos + 4 > this.end) this.fail("a float runs past the end (truncated?)");
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(
      0,
      true,
    );
    this.pos += 4;
    return v;
  }
  skip(wire: number) {
    switch (wire) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.bytesField();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`wire type ${wire} is not protobuf (not an ONNX file?)`);
    }
    if (this.pos > this.end) this.fail("a field runs past the end (truncated?)");
  }
  /** Repeated int64/int32 field: packed (wire 2) or one value (wire 0). */
  ints(wire: number, into: number[]) {
    if (wire === 2) {
      const p = this.sub();
      while (p.pos < p.end) into.push(p.int());
    } else if (wire === 0) into.push(this.int());
    else this.fail(`an integer field has wire type ${wire}`);
  }
  /** Repeated float field: packed (wire 2) or one value (wire 5). */
  floats(wire: number, into: number[]) {
    if (wire === 2) {
      const b = this.bytesField();
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i + 4 <= b.length; i += 4) into.push(v.getFloat32(i, true));
    } else if (wire === 5) into.push(this.float());
    else this.fail(`a float field has wire type ${wire}`);
  }
}

/** ONNX TensorProto data types. */
export const ONNX_TYPES: Record<number, string> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
};

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Values as numbers (float and integer types). */
  values: Float32Array | number[];
}

export type OnnxAttribute = number | number[] | string | OnnxTensor | undefined;

export interface OnnxNode {
  index: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Dimensions; symbolic ones are strings. */
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  graph: OnnxGraph;
}

/**
 * Parses an ONNX model. Throws a one-line RangeError naming `file` on
 * malformed or truncated bytes.
 *
 * @example
 * ```ts
 * const m = parseOnnx(bytes, "rnet.onnx");
 * m.graph.inputs[0].shape; // [1, 3, 24, 24]
 * ```
 */
export function parseOnnx(bytes: Uint8Array, file = "model.onnx"): OnnxModel {
  const p = new Proto(bytes, file);
  let irVersion = 0;
  let producer = "";
  const opsets: { domain: string; version: number }[] = [];
  let graph: OnnxGraph | undefined;
  for (let t = p.tag(); t; t = p.tag()) {
    const [field, wire] = t;
    if (field === 1 && wire === 0) irVersion = p.int();
    else if (field === 2 && wire === 2) producer = p.string();
    else if (field === 7 && wire === 2) graph = readGraph(p.sub());
    else if (field === 8 && wire === 2) {
      const q = p.sub();
      const o = { domain: "", version: 0 };
      for (let u = q.tag(); u; u = q.tag()) {
        if (u[0] === 1 && u[1] === 2) o.domain = q.string();
        else if (u[0] === 2 && u[1] === 0) o.version = q.int();
        else q.skip(u[1]);
      }
      opsets.push(o);
    } else p.skip(wire);
  }
  if (!graph) return p.fail("no graph (not an ONNX model?)");
  return { irVersion, producer, opsets, graph };
}

function readGraph(p: Proto): OnnxGraph {
  const g: OnnxGraph = { name: "", nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  for (let t = p.tag(); t; t = p.tag()) {
    const [field, wire] = t;
    if (wire !== 2) {
      p.skip(wire);
      continue;
    }
    switch (field) {
      case 1:
        g.nodes.push(readNode(p.sub(), g.nodes.length));
        break;
      case 2:
        g.name = p.string();
        break;
      case 5: {
        const tensor = readTensor(p.sub());
        g.initializers.set(tensor.name, tensor);
        break;
      }
      case 11:
        g.inputs.push(readValueInfo(p.sub()));
        break;
      case 12:
        g.outputs.push(readValueInfo(p.sub()));
        break;
      default:
        p.skip(wire);
    }
  }
  return g;
}

function readNode(p: Proto, index: number): OnnxNode {
  const n: OnnxNode = {
    index,
    name: "",
    opType: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributes: {},
  };
  for (let t = p.tag(); t; t = p.tag()) {
    const [field, wire] = t;
    if (field === 1 && wire === 2) n.inputs.push(p.string());
    else if (field === 2 && wire === 2) n.outputs.push(p.string());
    else if (field === 3 && wire === 2) n.name = p.string();
    else if (field === 4 && wire === 2) n.opType = p.string();
    else if (field === 7 && wire === 2) n.domain = p.string();
    else if (field === 5 && wire === 2) {
      const [name, value] = readAttribute(p.sub());
      n.attributes[name] = value;
    } else p.skip(wire);
  }
  return n;
}

function readAttribute(p: Proto): [string, OnnxAttribute] {
  let name = "";
  let type = 0;
  let f: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let tensor: OnnxTensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  for (let t = p.tag(); t; t = p.tag()) {
    const [field, wire] = t;
    if (field === 1 && wire === 2) name = p.string();
    else if (field === 20 && wire === 0) type = p.int();
    else if (field === 2 && wire === 5) f = p.float();
    else if (field === 3 && wire === 0) i = p.int();
    else if (field === 4 && wire === 2) s = p.string();
    else if (field === 5 && wire === 2) tensor = readTensor(p.sub());
    else if (field === 7) p.floats(wire, floats);
    else if (field === 8) p.ints(wire, ints);
    else p.skip(wire);
  }
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7
  switch (type) {
    case 1:
      return [name, f ?? 0];
    case 2:
      return [name, i ?? 0];
    case 3:
      return [name, s ?? ""];
    case 4:
      return [name, tensor];
    case 6:
      return [name, floats];
    case 7:
      return [name, ints];
    default:
      return [
        name,
        f ?? i ?? s ?? tensor ?? (ints.length ? ints : floats.length ? floats : undefined),
      ];
  }
}

function readTensor(p: Proto): OnnxTensor {
  const dims: number[] = [];
  let dataType = 0;
  let name = "";
  let raw: Uint8Array | undefined;
  const floatData: number[] = [];
  const intData: number[] = [];
  const doubles: number[] = [];
  let external = false;
  for (let t = p.tag(); t; t = p.tag()) {
    const [field, wire] = t;
    if (field === 1) p.ints(wire, dims);
    else if (field === 2 && wire === 0) dataType = p.int();
    else if (field === 4) p.floats(wire, floatData);
    else if (field === 5 || field === 7) p.ints(wire, intData);
    else if (field === 8 && wire === 2) name = p.string();
    else if (field === 9 && wire === 2) raw = p.bytesField();
    else if (field === 10 && wire === 2) {
      const b = p.bytesField();
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let k = 0; k + 8 <= b.length; k += 8) doubles.push(v.getFloat64(k, true));
    } else if (field === 14 && wire === 0) external = p.int() === 1;
    else p.skip(wire);
  }
  if (external) {
    p.fail(`tensor "${name}" keeps its data in an external file, which is not supported`);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  let values: Float32Array | number[];
  if (raw) values = decodeRaw(raw, dataType, n, name, p);
  else if (dataType === 1) values = Float32Array.from(floatData);
  else if (dataType === 11) values = doubles;
  else values = intData;
  if (values.length !== n) {
    p.fail(`tensor "${name}" holds ${values.length} values, dims [${dims}] want ${n}`);
  }
  return { name, dims, dataType, values };
}

function decodeRaw(
  raw: Uint8Array,
  type: number,
  n: number,
  name: string,
  p: Proto,
): Float32Array | number[] {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const size: Record<number, number> = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 11: 8 };
  const s = size[type];
  if (!s) {
    p.fail(`tensor "${name}" has data type ${ONNX_TYPES[type] ?? type}, which is not supported`);
  }
  if (raw.length !== n * s) {
    p.fail(`tensor "${name}" raw_data holds ${raw.length} bytes, dims want ${n * s}`);
  }
  if (type === 1) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, true);
    return out;
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (type) {
      case 2:
      case 9:
        out.push(v.getUint8(i));
        break;
      case 3:
        out.push(v.getInt8(i));
        break;
      case 5:
        out.push(v.getInt16(2 * i, true));
        break;
      case 6:
        out.push(v.getInt32(4 * i, true));
        break;
      case 7:
        out.push(Number(v.getBigInt64(8 * i, true)));
        break;
      case 11:
        out.push(v.getFloat64(8 * i, true));
        break;
    }
  }
  return out;
}

function readValueInfo(p: Proto): OnnxValueInfo {
  const info: OnnxValueInfo = { name: "", elemType: 0, shape: [] };
  for (let t = p.tag(); t; t = p.tag()) {
    const [field, wire] = t;
    if (field === 1 && wire === 2) info.name = p.string();
    else if (field === 2 && wire === 2) {
      const type = p.sub();
      for (let u = type.tag(); u; u = type.tag()) {
        if (u[0] === 1 && u[1] === 2) {
          const tt = type.sub();
          for (let w = tt.tag(); w; w = tt.tag()) {
            if (w[0] === 1 && w[1] === 0) info.elemType = tt.int();
            else if (w[0] === 2 && w[1] === 2) {
              const shape = tt.sub();
              for (let d = shape.tag(); d; d = shape.tag()) {
                if (d[0] === 1 && d[1] === 2) {
                  const dim = shape.sub();
                  let value: number | string = "?";
                  for (let e = dim.tag(); e; e = dim.tag()) {
                    if (e[0] === 1 && e[1] === 0) value = dim.int();
                    else if (e[0] === 2 && e[1] === 2) value = dim.string();
                    else dim.skip(e[1]);
                  }
                  info.shape.push(value);
                } else shape.skip(d[1]);
              }
            } else tt.skip(w[1]);
          }
        } else type.skip(u[1]);
      }
    } else p.skip(wire);
  }
  return info;
}

// ---------- rewriting: free dimensions ----------

function varintBytes(v: number): number[] {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
  return out;
}

function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Re-encodes one message, letting `edit` replace the payload of
 * length-delimited fields (return undefined to keep a field as is).
 */
function mapMessage(
  bytes: Uint8Array,
  file: string,
  edit: (field: number, payload: Uint8Array, index: number) => Uint8Array | undefined,
): Uint8Array {
  const p = new Proto(bytes, file);
  const parts: (Uint8Array | number[])[] = [];
  const counts = new Map<number, number>();
  for (;;) {
    const start = p.pos;
    const t = p.tag();
    if (!t) break;
    const [field, wire] = t;
    if (wire !== 2) {
      p.skip(wire);
      parts.push(bytes.subarray(start, p.pos));
      continue;
    }
    const tagEnd = p.pos;
    const payload = p.bytesField();
    const index = counts.get(field) ?? 0;
    counts.set(field, index + 1);
    const replaced = edit(field, payload, index);
    if (replaced === undefined) parts.push(bytes.subarray(start, p.pos));
    else parts.push(bytes.subarray(start, tagEnd), varintBytes(replaced.length), replaced);
  }
  return concat(parts);
}

/**
 * A copy of an ONNX model whose graph inputs and outputs have the given
 * dimensions made symbolic, e.g. `{ 0: "N" }` frees the batch size and
 * `{ 0: "N", 2: "H", 3: "W" }` also the spatial size of a fully
 * convolutional net. Useful to run fixed-shape exports at other sizes.
 *
 * @example
 * ```ts
 * const batched = onnxFreeDims(bytes, { 0: "N" }); // RNet ×256 in one run
 * ```
 */
export function onnxFreeDims(
  bytes: Uint8Array,
  dims: Record<number, string>,
  file = "model.onnx",
): Uint8Array {
  const dimension = (payload: Uint8Array, i: number) => {
    const name = dims[i];
    if (name === undefined) return undefined;
    const s = new TextEncoder().encode(name);
    return concat([[(2 << 3) | 2], varintBytes(s.length), s]); // dim_param
  };
  const shape = (payload: Uint8Array) =>
    mapMessage(payload, file, (f, d, i) => (f === 1 ? dimension(d, i) : undefined));
  const tensorType = (payload: Uint8Array) =>
    mapMessage(payload, file, (f, d) => (f === 2 ? shape(d) : undefined));
  const typeProto = (payload: Uint8Array) =>
    mapMessage(payload, file, (f, d) => (f === 1 ? tensorType(d) : undefined));
  const valueInfo = (payload: Uint8Array) =>
    mapMessage(payload, file, (f, d) => (f === 2 ? typeProto(d) : undefined));
  // old exporters list initializers among the inputs: leave those alone
  const initializers = parseOnnx(bytes, file).graph.initializers;
  const graph = (payload: Uint8Array) =>
    mapMessage(payload, file, (f, d) => {
      if (f !== 11 && f !== 12) return undefined;
      return initializers.has(readValueInfo(new Proto(d, file)).name) ? undefined : valueInfo(d);
    });
  return mapMessage(bytes, file, (f, d) => (f === 7 ? graph(d) : undefined));
}
