import {
  encodeMat,
  type MatArray,
  matCellOf,
  matFromRows,
  matFromString,
} from "../src/data/mat.ts";
import type { ImageAnnotation } from "../src/data/types.ts";
import {
  formatWiderGt,
  parseWiderGt,
  readWiderGt,
  readWiderGtList,
  readWiderMat,
  WIDER_ATTRIBUTES,
} from "../src/data/wider.ts";
import wider from "../tasks/wider_convert.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  needsShared,
  SHARED,
} from "./assert.ts";

/** A face row: x y w h blur expression illumination invalid occlusion pose. */
type Row = number[];
interface FakeEvent {
  name: string;
  images: { file: string; faces: Row[]; keep?: number[] }[];
}

/** A WIDER-shaped .mat, laid out as the official files are (61×1 cells of n×1 cells). */
function widerMatBytes(
  events: FakeEvent[],
  opts: { gt?: boolean; drop?: string } = {},
): Uint8Array {
  const perImage = (f: (im: FakeEvent["images"][number]) => MatArray) =>
    matCellOf(events.map((e) => matCellOf(e.images.map(f))));
  const vars: Record<string, MatArray> = {
    event_list: matCellOf(events.map((e) => matFromString(e.name))),
    file_list: perImage((im) => matFromString(im.file)),
    face_bbx_list: perImage((im) =>
      im.faces.length
        ? matFromRows("int32", im.faces.map((r) => r.slice(0, 4)))
        : matFromRows("int32", [], 4)
    ),
  };
  WIDER_ATTRIBUTES.forEach((a, k) => {
    vars[`${a}_label_list`] = perImage((im) =>
      matFromRows("double", im.faces.map((r) => [r[4 + k]]), 1)
    );
  });
  if (opts.gt) {
    vars.gt_list = perImage((im) => matFromRows("double", (im.keep ?? []).map((i) => [i]), 1));
  }
  if (opts.drop) delete vars[opts.drop];
  return encodeMat(vars);
}

const EVENTS: FakeEvent[] = [
  {
    name: "0--Parade",
    images: [
      {
        file: "0_Parade_1",
        faces: [[10, 20, 30, 40, 1, 0, 0, 0, 2, 0], [5, 6, 7, 8, 2, 1, 1, 0, 1, 1]],
        keep: [2],
      },
      { file: "0_Parade_2", faces: [], keep: [] },
    ],
  },
  {
    name: "1--Handshaking",
    images: [{
      file: "1_Handshaking_1",
      faces: [[100, 200, 300, 400, 0, 0, 0, 1, 0, 0]],
      keep: [1],
    }],
  },
];

const tmp = () => Deno.makeTempDir({ prefix: "wider_test_" });

Deno.test("readWiderMat() reads events, image paths, boxes and attributes of a generated .mat", async () => {
  const dir = await tmp();
  try {
    await Deno.writeFile(`${dir}/w.mat`, widerMatBytes(EVENTS));
    const w = await readWiderMat(`${dir}/w.mat`);
    assertEquals(w.events, ["0--Parade", "1--Handshaking"]);
    assertEquals(w.eventOfImage, [0, 0, 1]);
    assertEquals(w.images.map((im) => im.path), [
      "0--Parade/0_Parade_1.jpg",
      "0--Parade/0_Parade_2.jpg",
      "1--Handshaking/1_Handshaking_1.jpg",
    ]);
    assertEquals(w.images[0].faces[1], {
      x: 5,
      y: 6,
      w: 7,
      h: 8,
      attributes: { blur: 2, expression: 1, illumination: 1, invalid: 0, occlusion: 1, pose: 1 },
    });
    assertEquals(w.images[1].faces, []);
    assertEquals(w.images[2].faces[0].attributes?.invalid, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWiderMat() names the file and the missing variable", async () => {
  const dir = await tmp();
  try {
    await Deno.writeFile(`${dir}/x.mat`, widerMatBytes(EVENTS, { drop: "face_bbx_list" }));
    const e = await assertRejects(() => readWiderMat(`${dir}/x.mat`), TypeError);
    assertEquals(e.message, `Cannot read "${dir}/x.mat": no variable "face_bbx_list"`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWiderMat() names the cell whose shape is wrong", async () => {
  const dir = await tmp();
  try {
    const events = structuredClone(EVENTS);
    events[1].images[0].faces[0] = [1, 2, 3]; // a 1×3 box matrix
    await Deno.writeFile(`${dir}/x.mat`, widerMatBytes(events));
    await assertRejects(
      () => readWiderMat(`${dir}/x.mat`),
      TypeError,
      "face_bbx_list{2}{1} is a 1×3 int32 matrix, expected a k×4 numeric matrix",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWiderGtList() reads gt_list and rejects indices past the image's faces", async () => {
  const dir = await tmp();
  try {
    await Deno.writeFile(`${dir}/easy.mat`, widerMatBytes(EVENTS, { gt: true }));
    const g = await readWiderGtList(`${dir}/easy.mat`);
    assertEquals(g.images.map((im) => im.keep), [[2], [], [1]]);
    assertEquals(g.images[2].path, "1--Handshaking/1_Handshaking_1.jpg");
    const bad = structuredClone(EVENTS);
    bad[1].images[0].keep = [2];
    await Deno.writeFile(`${dir}/bad.mat`, widerMatBytes(bad, { gt: true }));
    await assertRejects(
      () => readWiderGtList(`${dir}/bad.mat`),
      TypeError,
      "gt_list{2}{1} holds face index 2, but the image has 1 faces",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Text format

const IMAGES: ImageAnnotation[] = [
  {
    path: "0--Parade/a.jpg",
    faces: [
      {
        x: 449,
        y: 330,
        w: 122,
        h: 149,
        attributes: { blur: 0, expression: 0, illumination: 0, invalid: 0, occlusion: 0, pose: 0 },
      },
      {
        x: 1,
        y: 2,
        w: 3,
        h: 4,
        attributes: { blur: 2, expression: 1, illumination: 0, invalid: 1, occlusion: 2, pose: 1 },
      },
    ],
  },
  { path: "0--Parade/empty.jpg", faces: [] },
  {
    path: "12--Group/b.jpg",
    faces: [{
      x: 7,
      y: 8,
      w: 9,
      h: 10,
      attributes: { blur: 1, expression: 0, illumination: 1, invalid: 0, occlusion: 0, pose: 0 },
    }],
  },
];

Deno.test("formatWiderGt()/parseWiderGt() round-trip, face-less images written with a dummy row", () => {
  const text = formatWiderGt(IMAGES);
  assertEquals(
    text.split("\n").slice(0, 8),
    [
      "0--Parade/a.jpg",
      "2",
      "449 330 122 149 0 0 0 0 0 0 ",
      "1 2 3 4 2 1 0 1 2 1 ",
      "0--Parade/empty.jpg",
      "0",
      "0 0 0 0 0 0 0 0 0 0 ",
      "12--Group/b.jpg",
    ],
  );
  assertEquals(parseWiderGt(text, "gt.txt"), IMAGES);
});

Deno.test("parseWiderGt() accepts CRLF, trailing whitespace, blank lines and a zero count without a dummy row", () => {
  const text =
    "0--Parade/a.jpg \r\n1\r\n1 2 3 4 0 0 0 0 0 0   \r\n\r\n0--Parade/empty.jpg\r\n0\r\n0--Parade/c.jpg\r\n0\r\n";
  assertEquals(parseWiderGt(text, "gt.txt").map((im) => [im.path, im.faces.length]), [
    ["0--Parade/a.jpg", 1],
    ["0--Parade/empty.jpg", 0],
    ["0--Parade/c.jpg", 0],
  ]);
});

Deno.test("parseWiderGt() names the file and line of a short face row", () => {
  const lines = formatWiderGt(IMAGES).split("\n"); // 11 lines of content
  lines.splice(10, 0, "x/y.jpg", "3", "1 1 1 1 0 0 0 0 0 0", "2 2 2 2 0 0 0 0 0 0", "5 6 7 8"); // line 15 is short
  const e = assertThrows(() => parseWiderGt(lines.join("\n"), "gt.txt"), TypeError);
  assertEquals(e.message, 'Cannot read "gt.txt": line 15: expected 10 numbers, got 4');
});

Deno.test("parseWiderGt() reports a bad count, a bad number and a file that ends early", () => {
  assertThrows(
    () => parseWiderGt("a.jpg\ntwo\n", "gt.txt"),
    TypeError,
    'line 2: expected the face count of "a.jpg", got "two"',
  );
  assertThrows(
    () => parseWiderGt("a.jpg\n1\n1 2 3 x 0 0 0 0 0 0\n", "gt.txt"),
    TypeError,
    'line 3: "x" is not a number',
  );
  assertThrows(
    () => parseWiderGt("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", "gt.txt"),
    TypeError,
    "line 4: expected face 2 of 2",
  );
  assertThrows(
    () => parseWiderGt("a.jpg\n", "gt.txt"),
    TypeError,
    "line 2: expected the face count",
  );
});

Deno.test("readWiderGt() reads a file and names it in errors", async () => {
  const dir = await tmp();
  try {
    await Deno.writeTextFile(`${dir}/gt.txt`, formatWiderGt(IMAGES));
    assertEquals(await readWiderGt(`${dir}/gt.txt`), IMAGES);
    await assertRejects(
      () => readWiderGt(`${dir}/none.txt`),
      TypeError,
      `Cannot read "${dir}/none.txt": no such file`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// wider:convert

Deno.test("wider:convert --mode val --data-dir writes wider_face_val_bbx_gt.txt beside the .mat", async () => {
  const dir = await tmp();
  const log = console.log;
  const printed: string[] = [];
  console.log = (...a: unknown[]) => void printed.push(a.join(" "));
  try {
    await Deno.mkdir(`${dir}/wider_face_split`);
    await Deno.writeFile(`${dir}/wider_face_split/wider_face_val.mat`, widerMatBytes(EVENTS));
    await wider.run({ flags: { mode: "val", "data-dir": dir }, positionals: [] });
    const out = `${dir}/wider_face_split/wider_face_val_bbx_gt.txt`;
    const images = await readWiderGt(out);
    assertEquals(images, (await readWiderMat(`${dir}/wider_face_split/wider_face_val.mat`)).images);
    assertEquals(printed.length, 1);
    assert(printed[0].includes("3 images, 3 faces"), printed[0]);
    // --mat with --out
    await wider.run({
      flags: {
        mat: `${dir}/wider_face_split/wider_face_val.mat`,
        out: `${dir}/o/gt.txt`,
        "data-dir": "x",
      },
      positionals: [],
    });
    assertEquals(await Deno.readTextFile(`${dir}/o/gt.txt`), await Deno.readTextFile(out));
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wider:convert exits 1 with one line for a MAT 7.3 file", async () => {
  const dir = await tmp();
  try {
    const bytes = new Uint8Array(1024);
    bytes.set(new TextEncoder().encode("MATLAB 7.3 MAT-file, Platform: GLNXA64"));
    bytes.set([0x00, 0x02, 0x49, 0x4d], 124);
    bytes.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 512);
    await Deno.writeFile(`${dir}/x.mat`, bytes);
    const main = new URL("../main.ts", import.meta.url).pathname;
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "wider:convert", "--mat", `${dir}/x.mat`],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const err = new TextDecoder().decode(p.stderr).trim();
    assertEquals(p.code, 1);
    assertEquals(
      err,
      `error: Cannot read "${dir}/x.mat": MAT 7.3 (HDF5) files are not supported; save with -v7`,
    );
    assert(!(await exists(`${dir}/x_bbx_gt.txt`)), "no output on failure");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(p: string) {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Real files

Deno.test({
  name: "readWiderMat() reads wider_face_val.mat: 61 events, 3226 images, 39708 faces",
  ...needsShared("wider_face_val.mat"),
  async fn() {
    const w = await readWiderMat(`${SHARED}wider/wider_face_val.mat`);
    assertEquals(w.events.length, 61);
    assertEquals(w.images.length, 3226);
    assertEquals(w.images.reduce((n, im) => n + im.faces.length, 0), 39708);
    // As scipy.io.loadmat reads it.
    assertEquals(w.images[0].path, "0--Parade/0_Parade_marchingband_1_465.jpg");
    assertEquals(w.images[0].faces[0], {
      x: 345,
      y: 211,
      w: 4,
      h: 4,
      attributes: { blur: 2, expression: 0, illumination: 0, invalid: 0, occlusion: 2, pose: 0 },
    });
    // The text format holds it all.
    assertEquals(parseWiderGt(formatWiderGt(w.images), "val.txt"), w.images);
  },
});

Deno.test({
  name: "readWiderGtList() keeps 7211 / 13319 / 31958 faces in wider_{easy,medium,hard}_val.mat",
  ...needsShared("wider_{easy,medium,hard}_val.mat"),
  async fn() {
    const val = await readWiderMat(`${SHARED}wider/wider_face_val.mat`);
    const kept: number[] = [];
    for (const setting of ["easy", "medium", "hard"]) {
      const g = await readWiderGtList(`${SHARED}wider/wider_${setting}_val.mat`);
      assertEquals(g.images.map((im) => im.path), val.images.map((im) => im.path));
      kept.push(g.images.reduce((n, im) => n + im.keep.length, 0));
    }
    assertEquals(kept, [7211, 13319, 31958]);
  },
});
