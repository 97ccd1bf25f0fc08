import {
  encodeMat,
  type MatArray,
  matCellOf,
  matCharRows,
  matFromRows,
  matFromString,
  matNumbers,
  matRows,
  matString,
  matStructOf,
  matVariable,
  numel,
  parseMat,
  readMat,
} from "../src/data/mat.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  needsShared,
  SHARED,
} from "./assert.ts";

// ---------------------------------------------------------------------------
// Hand-assembled files (independent of encodeMat), little- or big-endian.

class Bytes {
  parts: number[] = [];
  constructor(readonly le: boolean) {}
  u8(...v: number[]) {
    this.parts.push(...v);
    return this;
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, this.le);
    return this.u8(...b);
  }
  i32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, this.le);
    return this.u8(...b);
  }
  f64(v: number) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, this.le);
    return this.u8(...b);
  }
  header(version = 0x0100, text = "MATLAB 5.0 MAT-file, test") {
    for (let i = 0; i < 116; i++) this.u8(i < text.length ? text.charCodeAt(i) : 0x20);
    for (let i = 0; i < 8; i++) this.u8(0);
    const v = new Uint8Array(2);
    new DataView(v.buffer).setUint16(0, version, this.le);
    this.u8(...v);
    return this.u8(...(this.le ? [0x49, 0x4d] : [0x4d, 0x49]));
  }
  /** A packed tag: 2-byte size and 2-byte type in one uint32, data in the next 4 bytes. */
  small(type: number, data: number[]) {
    this.u32((data.length << 16) | type).u8(...data);
    for (let i = data.length; i < 4; i++) this.u8(0);
    return this;
  }
  get length() {
    return this.parts.length;
  }
  bytes() {
    return new Uint8Array(this.parts);
  }
}

/**
 * `x = [7 9]` (a 1×2 double stored as miUINT8) written with a full tag for the
 * flags and dimensions and packed tags for the name and the data, as MATLAB does.
 */
function handMadeFile(le: boolean): Uint8Array {
  const b = new Bytes(le).header();
  b.u32(14).u32(48); // miMATRIX, 48 bytes
  b.u32(6).u32(8).u32(6).u32(0); // array flags: miUINT32, class double (6)
  b.u32(5).u32(8).i32(1).i32(2); // dimensions: miINT32 [1, 2]
  b.small(1, [0x78]); // name "x": miINT8, packed
  b.small(2, [7, 9]); // real part: miUINT8 [7, 9], packed
  return b.bytes();
}

Deno.test("parseMat() reads packed (small) tags and converts miUINT8 data to double, little-endian", () => {
  const mat = parseMat(handMadeFile(true), "hand.mat");
  assert(mat.littleEndian);
  assertEquals(mat.header, "MATLAB 5.0 MAT-file, test");
  const x = matVariable(mat, "x");
  assertEquals(x.className, "double");
  assertEquals(x.dims, [1, 2]);
  assert(x.data instanceof Float64Array, "double data is a Float64Array");
  assertEquals(Array.from(x.data as Float64Array), [7, 9]);
});

Deno.test("parseMat() reads a big-endian ('MI') file", () => {
  const mat = parseMat(handMadeFile(false), "hand-be.mat");
  assert(!mat.littleEndian);
  assertEquals(matRows(matVariable(mat, "x")), [[7, 9]]);
});

Deno.test("parseMat() reads an empty (0-byte) miMATRIX as a 0×0 double inside a cell", () => {
  const b = new Bytes(true).header();
  // c = {[] , 5}: a 1×2 cell whose first element is a 0-byte miMATRIX.
  const body = new Bytes(true);
  body.u32(6).u32(8).u32(1).u32(0); // class cell
  body.u32(5).u32(8).i32(1).i32(2);
  body.small(1, [0x63]); // "c"
  body.u32(14).u32(0); // empty element
  body.u32(14).u32(48); // 5 as a 1×1 double
  body.u32(6).u32(8).u32(6).u32(0).u32(5).u32(8).i32(1).i32(1).u32(1).u32(0); // flags, dims, empty name
  body.small(2, [5]);
  b.u32(14).u32(body.length).u8(...body.parts);
  const c = matVariable(parseMat(b.bytes(), "cells.mat"), "c");
  assert(c.className === "cell");
  assertEquals(c.data[0].className, "double");
  assertEquals(c.data[0].dims, [0, 0]);
  assertEquals(matNumbers(c.data[1]), [5]);
});

// ---------------------------------------------------------------------------
// Round trips through encodeMat

function sample(): Record<string, MatArray> {
  return {
    d: matFromRows("double", [[1.5, -2, 3], [4, 5e10, -0.25]]),
    ints: matFromRows("double", [[1, 2], [300, 4]]),
    s: matFromRows("single", [[0.5, 2]]),
    i8: matFromRows("int8", [[-128, 127]]),
    u8: matFromRows("uint8", [[0, 255]]),
    i16: matFromRows("int16", [[-32768], [32767]]),
    u16: matFromRows("uint16", [[65535, 1]]),
    i32: matFromRows("int32", [[-2147483648, 2147483647, 0, 12]]),
    u32: matFromRows("uint32", [[4294967295]]),
    i64: {
      className: "int64",
      dims: [1, 2],
      data: BigInt64Array.from([-(2n ** 62n), 2n ** 62n + 1n]),
    },
    u64: { className: "uint64", dims: [1, 1], data: BigUint64Array.from([2n ** 64n - 1n]) },
    z: {
      className: "double",
      dims: [1, 2],
      data: Float64Array.from([1, 2]),
      imag: Float64Array.from([-1, 0.5]),
    },
    flags: { className: "logical", dims: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) },
    name: matFromString("0--Parade"),
    block: {
      className: "char",
      dims: [2, 3],
      data: Uint16Array.from("adbecf", (c) => c.charCodeAt(0)),
    },
    empty: matFromRows("double", []),
    nested: matCellOf([
      matFromString("a"),
      matCellOf([matFromRows("int32", [[1, 2, 3, 4]])]),
      matFromRows("double", []),
    ]),
    grid: matCellOf([
      matFromString("a"),
      matFromString("b"),
      matFromString("c"),
      matFromString("d"),
    ], [2, 2]),
    st: matStructOf([
      { id: matFromRows("double", [[1]]), label: matFromString("one") },
      { id: matFromRows("double", [[2]]), label: matFromString("two") },
    ]),
  };
}

function roundTrip(opts: Parameters<typeof encodeMat>[1]) {
  const vars = sample();
  const mat = parseMat(encodeMat(vars, opts), "rt.mat");
  assertEquals([...mat.variables.keys()], Object.keys(vars));
  for (const [name, want] of Object.entries(vars)) {
    const got = mat.variables.get(name)!;
    assertEquals(got, want, `variable ${name} (${JSON.stringify(opts)})`);
  }
}

Deno.test("encodeMat()/parseMat() round-trip every class, compressed, little-endian", () => {
  roundTrip({});
});

Deno.test("encodeMat()/parseMat() round-trip every class, uncompressed, big-endian, unnarrowed", () => {
  roundTrip({ compress: false, endian: "big", narrowIntegers: false });
});

Deno.test("encodeMat()/parseMat() round-trip char data stored as uint8, utf8 and utf16", () => {
  for (const charType of ["uint8", "utf8", "utf16", "uint16"] as const) {
    const text = charType === "uint8" ? "Zoë 1.jpg" : "Zoë 面 1.jpg";
    const mat = parseMat(
      encodeMat({ t: matFromString(text) }, { charType, compress: false }),
      "t.mat",
    );
    assertEquals(matString(matVariable(mat, "t")), text, charType);
  }
});

Deno.test("encodeMat() stores integer-valued doubles as the smallest integer type, like MATLAB", () => {
  const bytes = encodeMat({ ints: matFromRows("double", [[1, 2], [300, 4]]) }, { compress: false });
  // The real part is the last element: a full tag with type miUINT16 (4) and 8 bytes.
  const dv = new DataView(bytes.buffer);
  assertEquals(dv.getUint32(bytes.length - 16, true), 4);
  assertEquals(dv.getUint32(bytes.length - 12, true), 8);
  const ints = matVariable(parseMat(bytes, "n.mat"), "ints");
  assert(ints.data instanceof Float64Array);
  assertEquals(matRows(ints), [[1, 2], [300, 4]]);
});

Deno.test("matRows() and matCharRows() turn column-major data into rows", () => {
  const a: MatArray = {
    className: "double",
    dims: [2, 3],
    data: Float64Array.from([1, 4, 2, 5, 3, 6]),
  };
  assertEquals(matRows(a), [[1, 2, 3], [4, 5, 6]]);
  assertEquals(matNumbers(a), [1, 4, 2, 5, 3, 6]);
  assertEquals(numel(a), 6);
  const c: MatArray = {
    className: "char",
    dims: [2, 3],
    data: Uint16Array.from("adbecf", (ch) => ch.charCodeAt(0)),
  };
  assertEquals(matCharRows(c), ["abc", "def"]);
  assertThrows(() => matString(c), TypeError, "expected a char vector, got a 2×3 char array");
  assertThrows(() => matRows(matCellOf([])), TypeError, "expected a numeric array");
});

Deno.test("parseMat() with `only` decodes just the named variables", () => {
  const mat = parseMat(encodeMat(sample()), "rt.mat", { only: ["name", "st"] });
  assertEquals([...mat.variables.keys()], ["name", "st"]);
});

// ---------------------------------------------------------------------------
// Errors

Deno.test("parseMat() refuses MAT 7.3 (HDF5) files with one line", () => {
  const b = new Bytes(true).header(
    0x0200,
    "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .",
  );
  while (b.length < 512) b.u8(0);
  b.u8(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a);
  for (let i = 0; i < 64; i++) b.u8(0);
  const e = assertThrows(() => parseMat(b.bytes(), "x.mat"), TypeError);
  assertEquals(
    e.message,
    'Cannot read "x.mat": MAT 7.3 (HDF5) files are not supported; save with -v7',
  );
});

Deno.test("parseMat() reports truncated files", () => {
  const whole = encodeMat(sample());
  assertThrows(
    () => parseMat(whole.subarray(0, 100), "x.mat"),
    TypeError,
    'Cannot read "x.mat": truncated',
  );
  assertThrows(
    () => parseMat(whole.subarray(0, whole.length - 10), "x.mat"),
    TypeError,
    'Cannot read "x.mat": truncated',
  );
  const plain = encodeMat(sample(), { compress: false });
  assertThrows(
    () => parseMat(plain.subarray(0, 300), "x.mat"),
    TypeError,
    'Cannot read "x.mat": truncated',
  );
});

Deno.test("parseMat() reports an element type that MATLAB 5 does not define", () => {
  const bytes = handMadeFile(true);
  new DataView(bytes.buffer).setUint32(128 + 8 + 16, 19, true); // the dimensions tag
  const e = assertThrows(() => parseMat(bytes, "x.mat"), TypeError);
  assertEquals(e.message.split("\n").length, 1);
  assert(
    e.message.startsWith('Cannot read "x.mat": element type 19 is not a MATLAB 5 type'),
    e.message,
  );
});

Deno.test("parseMat() reports a file without the MATLAB 5 endian indicator", () => {
  const bytes = handMadeFile(true);
  bytes[126] = 0x20;
  assertThrows(
    () => parseMat(bytes, "v4.mat"),
    TypeError,
    'Cannot read "v4.mat": not a MATLAB 5 MAT-file',
  );
});

Deno.test("parseMat() reports corrupt compressed data", () => {
  const bytes = encodeMat({ a: matFromRows("double", [[1.25, 2.5, 3.75]]) });
  bytes[128 + 8 + 2] ^= 0xff; // first deflate block header
  assertThrows(() => parseMat(bytes, "z.mat"), TypeError, 'Cannot read "z.mat": ');
});

Deno.test("readMat() reports a corrupt compressed variable (native zlib path)", async () => {
  const bytes = encodeMat({ a: matFromRows("double", [[1.25, 2.5, 3.75], [4.5, 5.25, 6.125]]) });
  bytes[140] ^= 0x55;
  const dir = await Deno.makeTempDir({ prefix: "mat_test_" });
  try {
    await Deno.writeFile(`${dir}/z.mat`, bytes);
    await assertRejects(
      () => readMat(`${dir}/z.mat`),
      TypeError,
      `Cannot read "${dir}/z.mat": compressed variable at byte 128 is corrupt`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("matVariable() names the file and the missing variable", () => {
  const mat = parseMat(handMadeFile(true), "x.mat");
  const e = assertThrows(() => matVariable(mat, "face_bbx_list"), TypeError);
  assertEquals(e.message, 'Cannot read "x.mat": no variable "face_bbx_list"');
});

Deno.test("readMat() names a missing file", async () => {
  const e = await assertRejects(() => readMat("/nonexistent/x.mat"), TypeError);
  assertEquals(e.message, 'Cannot read "/nonexistent/x.mat": no such file');
});

// ---------------------------------------------------------------------------
// Real files

Deno.test({
  name: "readMat() reads wider_face_val.mat (MATLAB-written, compressed) like parseMat() does",
  ...needsShared("wider_face_val.mat"),
  async fn() {
    const path = `${SHARED}wider/wider_face_val.mat`;
    const mat = await readMat(path);
    assert(mat.header.startsWith("MATLAB 5.0 MAT-file"));
    assertEquals([...mat.variables.keys()].sort(), [
      "blur_label_list",
      "event_list",
      "expression_label_list",
      "face_bbx_list",
      "file_list",
      "illumination_label_list",
      "invalid_label_list",
      "occlusion_label_list",
      "pose_label_list",
    ]);
    for (const v of mat.variables.values()) assertEquals([v.className, v.dims], ["cell", [61, 1]]);
    const bbx = matVariable(mat, "face_bbx_list");
    assert(bbx.className === "cell" && bbx.data[0].className === "cell");
    const first = bbx.data[0].data[0];
    assertEquals([first.className, first.dims], ["int32", [126, 4]]);
    // The native-zlib path (readMat) and the fflate path (parseMat) agree.
    const sync = parseMat(await Deno.readFile(path), path);
    assertEquals(sync.variables, mat.variables);
  },
});
