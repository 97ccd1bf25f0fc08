/**
 * Reading the real WIDER FACE .mat files (skipped when ../shared is absent):
 * `deno bench -A tests/wider_bench.ts`.
 */
import { parseMat, readMat } from "../src/data/mat.ts";
import { formatWiderGt, parseWiderGt, readWiderGtList, readWiderMat } from "../src/data/wider.ts";
import { SHARED } from "./assert.ts";

if (SHARED) {
  const val = `${SHARED}wider/wider_face_val.mat`;
  const bytes = await Deno.readFile(val);
  const text = formatWiderGt((await readWiderMat(val)).images);

  Deno.bench("readMat(wider_face_val.mat) (native zlib)", { group: "mat" }, async () => {
    await readMat(val);
  });
  Deno.bench("parseMat(wider_face_val.mat bytes) (fflate)", { group: "mat" }, () => {
    parseMat(bytes, val);
  });
  Deno.bench(
    "readWiderMat(wider_face_val.mat): 3226 images, 39708 faces",
    { group: "wider" },
    async () => {
      await readWiderMat(val);
    },
  );
  Deno.bench("readWiderGtList(wider_hard_val.mat)", { group: "wider" }, async () => {
    await readWiderGtList(`${SHARED}wider/wider_hard_val.mat`);
  });
  Deno.bench("parseWiderGt(val as bbx_gt text)", { group: "wider" }, () => {
    parseWiderGt(text, "val.txt");
  });
}
