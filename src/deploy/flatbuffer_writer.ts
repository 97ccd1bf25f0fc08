/**
 * A small FlatBuffers writer (the wire format of TFLite models): a tree of
 * tables, vectors, strings and scalars serialised front to back. Children are
 * laid out after the fields that point to them (FlatBuffers offsets are
 * unsigned, forward), each vtable right before its table, every scalar and
 * vector aligned to its size so the official verifier accepts the buffer.
 *
 * @example
 * ```ts
 * const bytes = writeFlatBuffer(
 *   fb.table([fb.u32(3), undefined, undefined, fb.string("hello")]),
 *   "TFL3",
 * );
 * ```
 */

/** A value in the tree: scalar, string, vector, table. */
export type FbValue =
  | { t: "u8" | "i8" | "bool"; v: number }
  | { t: "i32" | "u32" | "f32"; v: number }
  | { t: "i64" | "u64"; v: bigint }
  | { t: "string"; v: string }
  | { t: "bytes"; v: Uint8Array; align: number }
  | { t: "ints"; v: ArrayLike<number> }
  | { t: "floats"; v: ArrayLike<number> }
  | { t: "longs"; v: ArrayLike<number> }
  | { t: "tables"; v: FbTable[] }
  | FbTable;

/** A table: fields by id (undefined = absent, the schema default applies). */
export interface FbTable {
  t: "table";
  fields: (FbValue | undefined)[];
}

/** Constructors for {@linkcode FbValue}s. */
export const fb = {
  u8: (v: number): FbValue => ({ t: "u8", v }),
  i8: (v: number): FbValue => ({ t: "i8", v }),
  bool: (v: boolean): FbValue => ({ t: "bool", v: v ? 1 : 0 }),
  i32: (v: number): FbValue => ({ t: "i32", v }),
  u32: (v: number): FbValue => ({ t: "u32", v }),
  f32: (v: number): FbValue => ({ t: "f32", v }),
  i64: (v: number | bigint): FbValue => ({ t: "i64", v: BigInt(v) }),
  string: (v: string): FbValue => ({ t: "string", v }),
  bytes: (v: Uint8Array, align = 16): FbValue => ({ t: "bytes", v, align }),
  ints: (v: ArrayLike<number>): FbValue => ({ t: "ints", v }),
  floats: (v: ArrayLike<number>): FbValue => ({ t: "floats", v }),
  longs: (v: ArrayLike<number>): FbValue => ({ t: "longs", v }),
  tables: (v: FbTable[]): FbValue => ({ t: "tables", v }),
  table: (fields: (FbValue | undefined)[]): FbTable => ({ t: "table", fields }),
};

const SCALAR_SIZE: Record<string, number> = {
  u8: 1,
  i8: 1,
  bool: 1,
  i32: 4,
  u32: 4,
  f32: 4,
  i64: 8,
  u64: 8,
};

class Out {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  pos = 0;
  ensure(n: number) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length;
    while (size < this.pos + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  align(a: number, after = 0) {
    // pad so that (pos + after) is a multiple of a
    while ((this.pos + after) % a !== 0) this.u8(0);
  }
  u8(v: number) {
    this.ensure(1);
    this.view.setUint8(this.pos++, v & 0xff);
  }
  u16(v: number) {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number) {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }
  i32(v: number) {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  f32(v: number) {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }
  i64(v: bigint) {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  patchOffset(at: number, target: number) {
    this.view.setUint32(at, target - at, true);
  }
}

function writeScalar(out: Out, v: FbValue) {
  switch (v.t) {
    case "u8":
    case "i8":
    case "bool":
      out.u8(v.v);
      break;
    case "i32":
      out.i32(v.v);
      break;
    case "u32":
      out.u32(v.v);
      break;
    case "f32":
      out.f32(v.v);
      break;
    case "i64":
    case "u64":
      out.i64(v.v);
      break;
    default:
      throw new TypeError(`writeFlatBuffer: ${v.t} is not a scalar`);
  }
}

/** Writes any non-scalar value at the current position (aligned) and returns where it starts. */
function writeObject(out: Out, v: FbValue): number {
  switch (v.t) {
    case "table":
      return writeTable(out, v);
    case "string": {
      const b = new TextEncoder().encode(v.v);
      out.align(4);
      const at = out.pos;
      out.u32(b.length);
      out.bytes(b);
      out.u8(0);
      return at;
    }
    case "bytes": {
      out.align(Math.max(4, v.align), 4);
      const at = out.pos;
      out.u32(v.v.length);
      out.bytes(v.v);
      return at;
    }
    case "ints":
    case "floats": {
      out.align(4);
      const at = out.pos;
      out.u32(v.v.length);
      for (let i = 0; i < v.v.length; i++) {
        if (v.t === "ints") out.i32(v.v[i]);
        else out.f32(v.v[i]);
      }
      return at;
    }
    case "longs": {
      out.align(8, 4);
      const at = out.pos;
      out.u32(v.v.length);
      for (let i = 0; i < v.v.length; i++) out.i64(BigInt(v.v[i]));
      return at;
    }
    case "tables": {
      out.align(4);
      const at = out.pos;
      out.u32(v.v.length);
      const slots = v.v.map(() => {
        const s = out.pos;
        out.u32(0);
        return s;
      });
      v.v.forEach((t, i) => out.patchOffset(slots[i], writeTable(out, t)));
      return at;
    }
    default:
      throw new TypeError(`writeFlatBuffer: ${v.t} is a scalar, not an object`);
  }
}

function writeTable(out: Out, table: FbTable): number {
  const fields = table.fields;
  let n = fields.length;
  while (n > 0 && fields[n - 1] === undefined) n--;
  // inline layout: soffset (4 bytes), then fields largest first so each is aligned
  const order = [...Array(n).keys()].filter((i) => fields[i] !== undefined);
  const sizeOf = (v: FbValue) => SCALAR_SIZE[v.t] ?? 4; // offsets are 4 bytes
  order.sort((a, b) => sizeOf(fields[b]!) - sizeOf(fields[a]!) || a - b);
  const offsets = new Array<number>(n).fill(0);
  let size = 4;
  let maxAlign = 4;
  for (const i of order) {
    const s = sizeOf(fields[i]!);
    while (size % s !== 0) size++;
    offsets[i] = size;
    size += s;
    maxAlign = Math.max(maxAlign, s);
  }
  // vtable: [vtable bytes, table bytes, field offsets...], right before the table
  const vtBytes = 4 + 2 * n;
  out.align(2);
  const vt = out.pos;
  out.u16(vtBytes);
  out.u16(size);
  for (let i = 0; i < n; i++) out.u16(offsets[i]);
  out.align(maxAlign);
  const at = out.pos;
  out.i32(at - vt); // soffset: vtable = table - soffset
  out.bytes(new Uint8Array(size - 4));
  const refs: [number, FbValue][] = [];
  for (const i of order) {
    const v = fields[i]!;
    const p = at + offsets[i];
    if (SCALAR_SIZE[v.t]) {
      const save = out.pos;
      out.pos = p;
      writeScalar(out, v);
      out.pos = save;
    } else refs.push([p, v]);
  }
  for (const [p, v] of refs) out.patchOffset(p, writeObject(out, v));
  return at;
}

/**
 * Serialises `root` as a FlatBuffer with a 4-character file identifier.
 * Deterministic: the same tree gives the same bytes.
 */
export function writeFlatBuffer(root: FbTable, identifier: string): Uint8Array {
  if (identifier.length !== 4) {
    throw new RangeError(`writeFlatBuffer: identifier "${identifier}" is not 4 characters`);
  }
  const out = new Out();
  out.u32(0);
  out.bytes(new TextEncoder().encode(identifier));
  out.patchOffset(0, writeTable(out, root));
  out.align(16);
  return out.buf.slice(0, out.pos);
}
