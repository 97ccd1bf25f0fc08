/**
 * The detector's `engine` option: the AssemblyScript engine and tfjs give
 * the same faces (count, boxes within 1e-3 px, scores, landmarks) on the
 * photos of ../shared/faces and on synthetic images, and the option is
 * checked like every other config field.
 */
import {
  createDetector,
  type DetectedFace,
  detectFacesBatch,
  type Detector,
  isEngine,
  loadDetector,
  resolveDetectorConfig,
} from "../src/detect/mod.ts";
import { readImage, type RgbImage } from "../src/image/mod.ts";
import { renderSyntheticImage } from "../src/data/synthetic/mod.ts";
import { initBackend } from "../src/nets/mod.ts";
import { assert, assertEquals, assertThrows, needsShared, SHARED } from "./assert.ts";

await initBackend("wasm");

let both: Promise<[Detector, Detector]> | undefined;
/** The original weights on both engines, loaded once. */
function detectors(): Promise<[Detector, Detector]> {
  return both ??= Promise.all([
    loadDetector(undefined, { engine: "as" }),
    loadDetector(undefined, { engine: "tfjs" }),
  ]);
}

function assertSameFaces(a: DetectedFace[][], b: DetectedFace[][], what: string) {
  assertEquals(a.length, b.length);
  let total = 0;
  a.forEach((fa, i) => {
    const fb = b[i];
    assertEquals(fa.length, fb.length, `${what} image ${i}: face count`);
    total += fa.length;
    fa.forEach((f, k) => {
      const g = fb[k];
      for (let j = 0; j < 4; j++) {
        assert(
          Math.abs(f.box[j] - g.box[j]) <= 1e-3,
          `${what} image ${i} face ${k}: box ${f.box} vs ${g.box}`,
        );
      }
      assert(Math.abs(f.score - g.score) <= 1e-5, `${what} image ${i} face ${k}: score`);
      f.landmarks?.forEach((v, j) =>
        assert(Math.abs(v - g.landmarks![j]) <= 1e-3, `${what} image ${i} face ${k}: landmarks`)
      );
    });
  });
  return total;
}

Deno.test('resolveDetectorConfig() defaults engine to "as" and rejects an unknown engine', () => {
  assertEquals(resolveDetectorConfig({}).engine, "as");
  assertEquals(resolveDetectorConfig({ engine: "tfjs" }).engine, "tfjs");
  assertThrows(
    () => resolveDetectorConfig({ engine: "onnx" as never }),
    RangeError,
    'engine must be one of as, tfjs, got "onnx"',
  );
});

Deno.test('loadDetector() builds AS engines for engine "as" and tfjs nets for "tfjs"; createDetector follows the nets', async () => {
  const [as, tfjs] = await detectors();
  assert(isEngine(as.nets.pnet) && isEngine(as.nets.rnet!) && isEngine(as.nets.onet!));
  assert(!isEngine(tfjs.nets.pnet) && !isEngine(tfjs.nets.onet!));
  assertEquals(createDetector(tfjs.nets, { stage: "rnet" }).config.engine, "tfjs");
  assertEquals(createDetector(as.nets, { stage: "rnet" }).config.engine, "as");
  assertThrows(
    () => createDetector(tfjs.nets, { engine: "as" }),
    TypeError,
    'engine "as" but the pnet net is a tfjs Net',
  );
});

Deno.test('engine "as" and "tfjs" find the same faces on synthetic images, at every stage', async () => {
  const [as, tfjs] = await detectors();
  const images: RgbImage[] = [0, 1, 2].map((i) =>
    renderSyntheticImage(7, "val", i, { width: 320, height: 240 }).image
  );
  let total = 0;
  for (const stage of ["pnet", "rnet", "onet"] as const) {
    const a = detectFacesBatch(createDetector(as.nets, { stage }), images);
    const b = detectFacesBatch(createDetector(tfjs.nets, { stage }), images);
    total += assertSameFaces(a, b, stage);
  }
  assert(total > 0, "the synthetic images gave no detections at all");
});

Deno.test({
  name: 'engine "as" and "tfjs" find the same faces on the photos of ../shared/faces',
  ...needsShared("the face photos"),
  async fn() {
    const [as, tfjs] = await detectors();
    const dir = `${SHARED}/faces`;
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.jpe?g$/i.test(n))
      .sort();
    const images = await Promise.all(files.map((f) => readImage(`${dir}/${f}`)));
    const total = assertSameFaces(
      detectFacesBatch(as, images),
      detectFacesBatch(tfjs, images),
      "faces",
    );
    assert(total >= images.length, `only ${total} faces in ${images.length} photos`);
  },
});

Deno.test("resolveWeightPaths() finds a training run's best_<net>.mtcnn in a folder", async () => {
  const { resolveWeightPaths } = await import("../src/detect/load.ts");
  const dir = await Deno.makeTempDir();
  for (const n of ["pnet", "rnet"]) {
    await Deno.writeFile(`${dir}/best_${n}.mtcnn`, new Uint8Array(1));
  }
  await Deno.writeFile(`${dir}/pnet.mtcnn`, new Uint8Array(1));
  const p = await resolveWeightPaths(dir, "rnet");
  if (p.pnet !== `${dir}/pnet.mtcnn` || p.rnet !== `${dir}/best_rnet.mtcnn`) {
    throw new Error(JSON.stringify(p));
  }
  let msg = "";
  try {
    await resolveWeightPaths(dir, "onet");
  } catch (e) {
    msg = (e as Error).message;
  }
  if (!msg.includes("no onet.mtcnn or best_onet.mtcnn")) throw new Error(msg);
});
