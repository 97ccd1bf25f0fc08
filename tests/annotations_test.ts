import { encodeMat, matCellOf, matFromRows, matFromString } from "../src/data/mat.ts";
import {
  parseCelebA,
  parseLfwLandmarks,
  readCelebA,
  readLfwLandmarks,
} from "../src/data/landmarks.ts";
import {
  detectAnnotationFormat,
  formatPrivateAnnotations,
  parsePrivateAnnotations,
  readAnnotations,
  readPrivateAnnotations,
} from "../src/data/private.ts";
import type { ImageAnnotation } from "../src/data/types.ts";
import { formatWiderGt } from "../src/data/wider.ts";
import { assertEquals, assertRejects, assertThrows } from "./assert.ts";

const LM = [30, 40, 60, 41, 45, 55, 33, 70, 58, 71];

const PRIVATE: ImageAnnotation[] = [
  {
    path: "party/img_001.jpg",
    faces: [{ x: 10, y: 20, w: 100, h: 120 }, { x: 200, y: 40, w: 60, h: 80, landmarks: LM }],
  },
  { path: "holiday 2019/beach\t1.jpg", faces: [{ x: 5.5, y: 5, w: 44.5, h: 55 }] },
  { path: "party/no_faces.jpg", faces: [] },
  { path: '"quoted".jpg', faces: [{ x: 0, y: 0, w: 0, h: 0 }] },
  { path: "#hash.jpg", faces: [] },
  { path: "C:\\photos\\a.jpg", faces: [] },
];

Deno.test("formatPrivateAnnotations()/parsePrivateAnnotations() round-trip, paths with spaces, tabs and quotes", () => {
  const text = formatPrivateAnnotations(PRIVATE);
  assertEquals(text.split("\n"), [
    "party/img_001.jpg 10,20,110,140 200,40,260,120;30,40,60,41,45,55,33,70,58,71",
    '"holiday 2019/beach\\t1.jpg" 5.5,5,50,60',
    "party/no_faces.jpg",
    '"\\"quoted\\".jpg" 0,0,0,0',
    '"#hash.jpg"',
    "C:\\photos\\a.jpg",
    "",
  ]);
  assertEquals(parsePrivateAnnotations(text, "faces.txt"), PRIVATE);
});

Deno.test("parsePrivateAnnotations() skips comments and blank lines, accepts tabs and CRLF", () => {
  const text = "# my faces\r\n\r\n  # indented comment\r\na.jpg\t1,2,11,12  \t3,4,13,14\r\n";
  assertEquals(parsePrivateAnnotations(text, "faces.txt"), [
    { path: "a.jpg", faces: [{ x: 1, y: 2, w: 10, h: 10 }, { x: 3, y: 4, w: 10, h: 10 }] },
  ]);
});

Deno.test("parsePrivateAnnotations() names the file, line and box of each mistake", () => {
  const cases: [string, string][] = [
    [
      "a.jpg 1,2,3,4\nb.jpg 1,2,3,4 10,20,30\n",
      'Cannot read "faces.txt": line 2: box 2 "10,20,30": expected 4 numbers x1,y1,x2,y2, got 3',
    ],
    ["a.jpg 1,2,x,4\n", 'line 1: box 1 "1,2,x,4": "x" is not a number'],
    ["a.jpg 5,2,3,4\n", 'line 1: box 1 "5,2,3,4": x2,y2 must not be left of or above x1,y1'],
    [
      "\n\na.jpg 1,2,3,4;1,2,3\n",
      'line 3: box 1 "1,2,3,4;1,2,3": expected 10 numbers lx1,ly1,...,lx5,ly5 after ;, got 3',
    ],
    ['"a b.jpg 1,2,3,4\n', "line 1: the quoted path has no closing quote"],
    ['"a b.jpg"1,2,3,4\n', "line 1: expected a space or tab after the quoted path"],
  ];
  for (const [text, message] of cases) {
    const e = assertThrows(() => parsePrivateAnnotations(text, "faces.txt"), TypeError, message);
    assertEquals(e.message.split("\n").length, 1);
  }
});

// ---------------------------------------------------------------------------
// LFW and CelebA

const LFW_TEXT = [
  "lfw_5590\\Aaron_Eckhart_0001.jpg 84 161 92 169 106.250000 107.750000 146.750000 112.250000 125.250000 142.750000 105.250000 157.750000 139.750000 161.750000",
  "net_7876\\0001.jpg 10 60 20 80 20 40 45 41 33 55 25 65 44 66\r",
  "",
].join("\n");

Deno.test("parseLfwLandmarks() reads left right top bottom boxes and 5 landmark pairs, normalising backslashes", () => {
  const images = parseLfwLandmarks(LFW_TEXT, "trainImageList.txt");
  assertEquals(images, [
    {
      path: "lfw_5590/Aaron_Eckhart_0001.jpg",
      faces: [{
        x: 84,
        y: 92,
        w: 77,
        h: 77,
        landmarks: [106.25, 107.75, 146.75, 112.25, 125.25, 142.75, 105.25, 157.75, 139.75, 161.75],
      }],
    },
    {
      path: "net_7876/0001.jpg",
      faces: [{ x: 10, y: 20, w: 50, h: 60, landmarks: [20, 40, 45, 41, 33, 55, 25, 65, 44, 66] }],
    },
  ]);
});

Deno.test("parseLfwLandmarks() reports a line with the wrong field count", () => {
  const text = LFW_TEXT + "lfw_5590\\b.jpg 1 2 3 4 5 6 7 8 9 10 11 12\n";
  const e = assertThrows(() => parseLfwLandmarks(text, "trainImageList.txt"), TypeError);
  assertEquals(
    e.message,
    'Cannot read "trainImageList.txt": line 3: expected 15 fields (path, left right top bottom, 5 landmark x y pairs), got 13',
  );
  assertThrows(
    () => parseLfwLandmarks("a.jpg 9 1 0 10 1 1 1 1 1 1 1 1 1 1\n", "l.txt"),
    TypeError,
    "line 1: box left 9 right 1",
  );
});

const CELEBA_LM = [
  "3",
  "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y",
  "000001.jpg 69  109  106  113   77  142   73  152  108  154",
  "000002.jpg 69  110  107  112   81  135   70  151  108  153",
  "000003.jpg 76  112  104  106  108  128   74  156   98  158",
  "",
].join("\n");
const CELEBA_BB = [
  "3",
  "image_id x_1 y_1 width height",
  "000003.jpg   216  59  91 126",
  "000001.jpg    95  71 226 313",
  "000002.jpg    72  94 221 306",
  "",
].join("\n");

Deno.test("parseCelebA() joins landmarks and boxes by image id, in the landmark file's order", () => {
  const images = parseCelebA(
    CELEBA_LM,
    CELEBA_BB,
    "list_landmarks_celeba.txt",
    "list_bbox_celeba.txt",
  );
  assertEquals(images.map((im) => im.path), ["000001.jpg", "000002.jpg", "000003.jpg"]);
  assertEquals(images[0].faces, [{
    x: 95,
    y: 71,
    w: 226,
    h: 313,
    landmarks: [69, 109, 106, 113, 77, 142, 73, 152, 108, 154],
  }]);
  assertEquals(images[2].faces[0].x, 216);
});

Deno.test("parseCelebA() reports count mismatches, missing ids and wrong field counts, naming the file", () => {
  const lmShort = CELEBA_LM.replace(/^3/, "4");
  assertThrows(
    () => parseCelebA(lmShort, CELEBA_BB, "lm.txt", "bb.txt"),
    TypeError,
    'Cannot read "lm.txt": line 1 says 4 images, the file lists 3',
  );
  const bbTwo = CELEBA_BB.replace(/^3/, "2").replace("000002.jpg    72  94 221 306\n", "");
  assertThrows(
    () => parseCelebA(CELEBA_LM, bbTwo, "lm.txt", "bb.txt"),
    TypeError,
    'Cannot read "bb.txt": it lists 2 images, "lm.txt" lists 3',
  );
  const bbOther = CELEBA_BB.replace("000002.jpg", "000009.jpg");
  assertThrows(
    () => parseCelebA(CELEBA_LM, bbOther, "lm.txt", "bb.txt"),
    TypeError,
    'Cannot read "bb.txt": no box for "000002.jpg" (line 4 of "lm.txt")',
  );
  const lmBad = CELEBA_LM.replace("000002.jpg 69  110  107  112   81", "000002.jpg 69  110  107");
  assertThrows(
    () => parseCelebA(lmBad, CELEBA_BB, "lm.txt", "bb.txt"),
    TypeError,
    'Cannot read "lm.txt": line 4: expected 11 fields (image id and 10 numbers), got 9',
  );
});

// ---------------------------------------------------------------------------
// readAnnotations: one entry point for --annotations

Deno.test("detectAnnotationFormat() tells WIDER text, private, LFW and CelebA apart", () => {
  assertEquals(
    detectAnnotationFormat(
      formatWiderGt([{ path: "a/b.jpg", faces: [{ x: 1, y: 2, w: 3, h: 4 }] }]),
    ),
    "wider",
  );
  assertEquals(detectAnnotationFormat(formatPrivateAnnotations(PRIVATE)), "private");
  assertEquals(detectAnnotationFormat("# faces\na.jpg\n3\n"), "private");
  assertEquals(detectAnnotationFormat("a.jpg\nb.jpg 1,2,3,4\n"), "private");
  assertEquals(detectAnnotationFormat(""), "private");
  assertEquals(detectAnnotationFormat(LFW_TEXT), "lfw");
  assertEquals(detectAnnotationFormat(CELEBA_LM), "celeba");
});

Deno.test("readAnnotations() reads every format from a file, by its contents", async () => {
  const dir = await Deno.makeTempDir({ prefix: "annotations_test_" });
  try {
    const wider: ImageAnnotation[] = [
      {
        path: "0--Parade/a b.jpg",
        faces: [{
          x: 1,
          y: 2,
          w: 3,
          h: 4,
          attributes: {
            blur: 1,
            expression: 0,
            illumination: 0,
            invalid: 0,
            occlusion: 2,
            pose: 0,
          },
        }],
      },
      { path: "0--Parade/c.jpg", faces: [] },
    ];
    await Deno.writeTextFile(`${dir}/gt.txt`, formatWiderGt(wider));
    assertEquals(await readAnnotations(`${dir}/gt.txt`), wider);

    await Deno.writeTextFile(`${dir}/private.txt`, formatPrivateAnnotations(PRIVATE));
    assertEquals(await readAnnotations(`${dir}/private.txt`), PRIVATE);
    assertEquals(await readPrivateAnnotations(`${dir}/private.txt`), PRIVATE);

    await Deno.writeTextFile(`${dir}/trainImageList.txt`, LFW_TEXT);
    assertEquals(
      await readAnnotations(`${dir}/trainImageList.txt`),
      await readLfwLandmarks(`${dir}/trainImageList.txt`),
    );

    await Deno.writeTextFile(`${dir}/list_landmarks_celeba.txt`, CELEBA_LM);
    await assertRejects(
      () => readAnnotations(`${dir}/list_landmarks_celeba.txt`),
      TypeError,
      `Cannot read "${dir}/list_bbox_celeba.txt": no such file`,
    );
    await Deno.writeTextFile(`${dir}/list_bbox_celeba.txt`, CELEBA_BB);
    assertEquals(
      await readAnnotations(`${dir}/list_landmarks_celeba.txt`),
      await readCelebA(`${dir}/list_landmarks_celeba.txt`, `${dir}/list_bbox_celeba.txt`),
    );

    const mat = {
      event_list: matCellOf([matFromString("0--Parade")]),
      file_list: matCellOf([matCellOf([matFromString("x")])]),
      face_bbx_list: matCellOf([matCellOf([matFromRows("int32", [[1, 2, 3, 4]])])]),
    };
    await Deno.writeFile(`${dir}/wider.mat`, encodeMat(mat));
    assertEquals(await readAnnotations(`${dir}/wider.mat`), [{
      path: "0--Parade/x.jpg",
      faces: [{ x: 1, y: 2, w: 3, h: 4 }],
    }]);

    await Deno.writeTextFile(`${dir}/bad.txt`, "a.jpg 1,2,3,4\nb.jpg 1,2\n");
    await assertRejects(
      () => readAnnotations(`${dir}/bad.txt`),
      TypeError,
      `Cannot read "${dir}/bad.txt": line 2: box 1`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
