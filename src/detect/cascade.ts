/**
 * The MTCNN cascade (Zhang et al. 2016) over a batch of images: an image
 * pyramid through PNet, candidate windows refined by RNet on 24×24 crops,
 * then by ONet on 48×48 crops, which also places five landmarks.
 * {@linkcode detectFacesBatch} is the whole pipeline in one function; the box
 * arithmetic lives in ./boxes.ts.
 *
 * Each stage runs either on the AssemblyScript engine (src/deploy, an
 * {@linkcode Engine} per net: no tfjs needed) or on tfjs (a {@linkcode Net};
 * call `initBackend` first; every tensor made here is freed before returning).
 *
 * @example
 * ```ts
 * const detector = await loadDetector();            // the original weights, AS engine
 * for (const f of detectFaces(detector, await readImage("group.jpg"))) {
 *   console.log(f.box, f.score, f.landmarks);
 * }
 * ```
 */
import * as tf from "@tensorflow/tfjs-core";
import { cropResizeU8ToF32, resizeBilinearU8 } from "../../kernels/mod.ts";
import type { RgbImage } from "../image/types.ts";
import {
  forward,
  type Net,
  type NetData,
  outputSize,
  planArch,
  receptiveField,
} from "../nets/mod.ts";
import { createEngine, type Engine, type EngineOptions } from "../deploy/engine.ts";
import {
  type BoxList,
  calibrateBoxes,
  concatBoxes,
  type DetectedFace,
  emptyBoxList,
  generateBoxes,
  imageRuns,
  nmsPerImage,
  padToImage,
  placeLandmarks,
  pyramidScales,
  selectBoxes,
  squareBoxes,
  toFaces,
  truncateBoxes,
} from "./boxes.ts";
import {
  type DetectorConfig,
  type DetectorConfigInput,
  resolveDetectorConfig,
  type Stage,
  STAGES,
} from "./config.ts";
import { cropResizeAreaU8ToF32, resizeAreaU8 } from "./resample.ts";

/** A stage's net: tfjs tensors ({@linkcode Net}) or compiled for the AS engine ({@linkcode Engine}). */
export type StageNet = Net | Engine;

/** True when `net` runs on the AssemblyScript engine. */
export function isEngine(net: StageNet): net is Engine {
  return typeof (net as Engine).runNormalized === "function";
}

/**
 * The nets of a cascade; RNet and ONet are needed only when the config's
 * stage reaches them. Each is a tfjs {@linkcode Net} or an AS {@linkcode Engine}
 * (a detector may mix them).
 */
export interface DetectorNets {
  pnet: StageNet;
  rnet?: StageNet;
  onet?: StageNet;
}

/** Nets plus a resolved config: what every detect call takes. */
export interface Detector {
  nets: DetectorNets;
  config: DetectorConfig;
}

/**
 * A detector from loaded nets (any channel counts, ONet with or without a
 * landmark head) and a partial config. Throws a one-line error when a net the
 * stage needs is missing or a net has the wrong shape for its place.
 *
 * @example
 * ```ts
 * const pnetOnly = createDetector({ pnet }, { stage: "pnet", thresholds: [0.5, 0.7, 0.7] });
 * ```
 */
export function createDetector(nets: DetectorNets, config: DetectorConfigInput = {}): Detector {
  // the engine follows the nets unless the config names one
  const kind = nets?.pnet && !isEngine(nets.pnet) ? "tfjs" : "as";
  const cfg = resolveDetectorConfig({ engine: kind, ...config });
  const need = STAGES.slice(0, STAGES.indexOf(cfg.stage) + 1);
  for (const stage of need) {
    const net = nets[stage];
    if (!net) throw new TypeError(`createDetector: stage "${cfg.stage}" needs a ${stage} net`);
    const spatial = planArch(net.arch).trunkOut.length === 3;
    if (spatial !== (stage === "pnet")) {
      throw new TypeError(
        `createDetector: the ${stage} net "${net.arch.name}" must be ${
          stage === "pnet" ? "fully convolutional" : "a fixed-size net with dense heads"
        }`,
      );
    }
    if (config.engine !== undefined && (isEngine(net) ? "as" : "tfjs") !== cfg.engine) {
      throw new TypeError(
        `createDetector: engine "${cfg.engine}" but the ${stage} net is ${
          isEngine(net) ? "an AS engine" : "a tfjs Net"
        } (use createEngineDetector or loadDetector for "as")`,
      );
    }
    if (net.arch.input.channels !== 3) {
      throw new TypeError(
        `createDetector: the ${stage} net takes ${net.arch.input.channels} channels, want 3`,
      );
    }
  }
  return { nets, config: cfg };
}

/**
 * A detector on the AssemblyScript engine from plain weights (e.g.
 * `loadNetData`): one engine per net, compiled once. Needs no tfjs backend.
 *
 * @example
 * ```ts
 * const d = await createEngineDetector({ pnet: await loadNetData("weights/original/pnet.mtcnn") }, { stage: "pnet" });
 * ```
 */
export async function createEngineDetector(
  data: { pnet: NetData; rnet?: NetData; onet?: NetData },
  config: DetectorConfigInput = {},
  options: EngineOptions = {},
): Promise<Detector> {
  if (config.engine === "tfjs") {
    throw new TypeError(
      'createEngineDetector: engine "tfjs" asked for; use loadDetector for tfjs nets',
    );
  }
  const cfg = resolveDetectorConfig({ ...config, engine: "as" });
  const nets: Partial<Record<Stage, Engine>> = {};
  for (const stage of stagesOf(cfg)) {
    const d = data[stage];
    if (!d) throw new TypeError(`createEngineDetector: stage "${cfg.stage}" needs a ${stage} net`);
    nets[stage] = await createEngine(d, options);
  }
  return createDetector({ pnet: nets.pnet!, rnet: nets.rnet, onet: nets.onet }, cfg);
}

/**
 * Finds the faces in one image. See {@linkcode detectFacesBatch}.
 *
 * @example
 * ```ts
 * const faces = detectFaces(detector, img); // [{ box: [x1, y1, x2, y2], score, landmarks }]
 * ```
 */
export function detectFaces(detector: Detector, image: RgbImage): DetectedFace[] {
  return detectFacesBatch(detector, [image])[0];
}

/** Milliseconds spent per phase of the cascade, summed over calls (see {@linkcode detectFacesBatch}). */
export type CascadeProfile = Record<string, number>;

/**
 * Runs the cascade on many images; returns the faces of each image, in
 * image order, by descending score within the last stage's NMS. Boxes are
 * 0-based pixel indexes with x2/y2 inclusive ({@linkcode DetectedFace});
 * with `stage` "pnet" or "rnet" they are that stage's calibrated boxes.
 * Candidates of all images travel together with their image index, so one
 * RNet / ONet batch may hold crops of several images. Images with no
 * pixels, or smaller than one PNet window at the first pyramid level, give
 * no faces. With `profile`, adds the milliseconds of each phase to it.
 *
 * @example
 * ```ts
 * const [a, b] = detectFacesBatch(detector, [imgA, imgB]);
 * ```
 */
export function detectFacesBatch(
  detector: Detector,
  images: readonly RgbImage[],
  profile?: CascadeProfile,
): DetectedFace[][] {
  const { nets, config } = detector;
  const [t1, t2, t3] = config.thresholds;
  images.forEach(checkImage);
  const lap = stopwatch(profile);

  // Stage 1: PNet over each image's pyramid. Per level: windows whose face
  // probability passes t1, NMS 0.5; per image across levels: NMS 0.7.
  const pnet = nets.pnet;
  const cell = receptiveField(pnet.arch);
  const stride = totalStride(pnet.arch);
  const resize = config.resize === "area" ? resizeAreaU8 : resizeBilinearRgb;
  const perImage: BoxList[] = [];
  images.forEach((img, index) => {
    const levels: BoxList[] = [];
    const { minFaceSize, scaleFactor } = config;
    for (const scale of pyramidScales(img.width, img.height, minFaceSize, scaleFactor, cell)) {
      const ws = Math.ceil(img.width * scale), hs = Math.ceil(img.height * scale);
      const level = resize(img.data, img.width, img.height, ws, hs);
      lap("pyramid resize");
      const { prob, reg, width, height } = runPnet(pnet, level, ws, hs, config.maxPnetPixels, lap);
      const found = generateBoxes(prob, reg, width, height, scale, t1, index, stride, cell);
      lap("generate boxes");
      levels.push(nmsPerImage(found, config.nms.scale, "union"));
      lap("nms");
    }
    perImage.push(nmsPerImage(concatBoxes(levels), config.nms.pnet, "union"));
    lap("nms");
  });
  // the original measures w = x2 - x1 (no + 1) for PNet's regression
  let boxes = calibrateBoxes(concatBoxes(perImage), false);
  lap("boxes");
  if (config.stage === "pnet") return toFaces(boxes, images.length);

  // Stage 2: RNet on 24×24 crops of the squared, truncated windows (zero
  // padded outside the image); keep scores above t2, NMS 0.7, regression.
  boxes = truncateBoxes(squareBoxes(boxes));
  lap("boxes");
  let out = runOnCrops(nets.rnet!, images, boxes, config, lap, "rnet");
  boxes = withScores(boxes, out, (p) => p > t2);
  lap("boxes");
  boxes = nmsPerImage(boxes, config.nms.rnet, "union");
  lap("nms");
  boxes = calibrateBoxes(boxes, true);
  if (config.stage === "rnet") return toFaces(boxes, images.length);

  // Stage 3: ONet on 48×48 crops; keep scores above t3, landmarks from crop
  // units to pixels, regression, then NMS 0.7 in "min" mode.
  boxes = truncateBoxes(squareBoxes(boxes));
  lap("boxes");
  out = runOnCrops(nets.onet!, images, boxes, config, lap, "onet");
  boxes = withScores(boxes, out, (p) => p > t3);
  boxes = placeLandmarks(boxes);
  boxes = calibrateBoxes(boxes, true);
  lap("boxes");
  boxes = nmsPerImage(boxes, config.nms.onet, "min");
  lap("nms");
  return toFaces(boxes, images.length);
}

/** Adds the time since its previous call to `profile[phase]` (no-op without a profile). */
type Lap = (phase: string) => void;
function stopwatch(profile?: CascadeProfile): Lap {
  if (!profile) return () => {};
  let last = performance.now();
  return (phase) => {
    const now = performance.now();
    profile[phase] = (profile[phase] ?? 0) + now - last;
    last = now;
  };
}

/** The bilinear resize kernel with the area resize's signature. */
function resizeBilinearRgb(src: Uint8Array, w: number, h: number, dw: number, dh: number) {
  return resizeBilinearU8(src, w, h, 3, dw, dh);
}

/** What a net said about a list of crops, one row per crop. */
interface CropOutput {
  prob: Float32Array;
  reg: Float32Array;
  landmarks?: Float32Array;
}

/** The boxes whose new score passes `keep`, with the net's score, regression and landmarks. */
function withScores(list: BoxList, out: CropOutput, keep: (p: number) => boolean): BoxList {
  const pass: number[] = [];
  for (let i = 0; i < list.n; i++) if (keep(out.prob[i])) pass.push(i);
  const next = selectBoxes({ ...list, landmarks: undefined }, pass);
  if (out.landmarks) next.landmarks = new Float32Array(10 * pass.length);
  pass.forEach((i, k) => {
    next.scores[k] = out.prob[i];
    next.reg.set(out.reg.subarray(4 * i, 4 * i + 4), 4 * k);
    next.landmarks?.set(out.landmarks!.subarray(10 * i, 10 * i + 10), 10 * k);
  });
  return next;
}

/** The normalisation a net's input wants, when the crop and resize kernels can apply it. */
function kernelNormalisation(net: StageNet): { mean: number; scale: number; done: boolean } {
  const { channelOrder, mean, scale } = net.arch.input;
  const uniform = mean.every((m) => m === mean[0]) && scale.every((s) => s === scale[0]);
  return channelOrder === "RGB" && uniform
    ? { mean: mean[0], scale: scale[0], done: true }
    : { mean: 0, scale: 1, done: false };
}

/** Product of the strides of a net's layers (PNet: 2). */
function totalStride(arch: Net["arch"]): number {
  let s = 1;
  for (const l of arch.layers) {
    if (l.kind === "conv" || l.kind === "depthwise" || l.kind === "maxpool") s *= l.stride;
  }
  return s;
}

/**
 * PNet on one pyramid level (u8 RGB, `width`×`height`): the face
 * probability map and the regression map. A level of more than `maxPixels`
 * runs in horizontal bands starting on multiples of the stride and
 * overlapping by `cell - stride` rows, so every output cell sees exactly the
 * pixels it would see in one pass.
 */
function runPnet(
  net: StageNet,
  level: Uint8Array,
  width: number,
  height: number,
  maxPixels: number,
  lap: Lap,
): { prob: Float32Array; reg: Float32Array; width: number; height: number } {
  const cell = receptiveField(net.arch), stride = totalStride(net.arch);
  const [mapH, mapW] = outputSize(net.arch, height, width);
  const prob = new Float32Array(mapH * mapW);
  const reg = new Float32Array(4 * mapH * mapW);
  const norm = kernelNormalisation(net);
  // output rows per band: its input (stride * (rows - 1) + cell rows) stays under maxPixels
  const rowsPerBand = Math.max(1, Math.floor((Math.floor(maxPixels / width) - cell) / stride) + 1);
  for (let r0 = 0; r0 < mapH; r0 += rowsPerBand) {
    const last = r0 + rowsPerBand >= mapH;
    const y0 = r0 * stride;
    const y1 = last ? height : y0 + stride * (rowsPerBand - 1) + cell;
    const rows = last ? mapH - r0 : rowsPerBand;
    const band = level.subarray(y0 * width * 3, y1 * width * 3);
    if (isEngine(net)) {
      // the engine normalises the bytes itself
      const o = net.run(band, 1, y1 - y0, width);
      if (o.cls.length < rows * mapW) {
        throw new RangeError(`runPnet: band gave ${o.cls.length} cells, want ${rows * mapW}`);
      }
      prob.set(o.cls.subarray(0, rows * mapW), r0 * mapW);
      reg.set(o.box.subarray(0, 4 * rows * mapW), 4 * r0 * mapW);
      lap("pnet");
      continue;
    }
    const x = new Float32Array(band.length);
    for (let i = 0; i < band.length; i++) x[i] = (band[i] - norm.mean) * norm.scale;
    lap("pnet input");
    tf.tidy(() => {
      const input = tf.tensor4d(x, [1, y1 - y0, width, 3]);
      const out = forward(net, input, { normalized: norm.done });
      const p = out.cls.dataSync() as Float32Array;
      const r = out.box.dataSync() as Float32Array;
      if (p.length < rows * mapW) {
        throw new RangeError(`runPnet: band gave ${p.length} cells, want ${rows * mapW}`);
      }
      prob.set(p.subarray(0, rows * mapW), r0 * mapW);
      reg.set(r.subarray(0, 4 * rows * mapW), 4 * r0 * mapW);
    });
    lap("pnet");
  }
  return { prob, reg, width: mapW, height: mapH };
}

/**
 * Crops every box of `list` from its image, resizes to the net's input size
 * and runs the net in batches of at most `maxBatch` crops (a batch may mix
 * images). Returns one face probability, regression and (if the net has the
 * head) landmarks per box.
 */
function runOnCrops(
  net: StageNet,
  images: readonly RgbImage[],
  list: BoxList,
  config: DetectorConfig,
  lap: Lap,
  phase: string,
): CropOutput {
  const maxBatch = config.maxBatch;
  const size = net.arch.input.size;
  const hasLandmarks = planArch(net.arch).heads.some((h) => h.kind === "landmarks");
  const out: CropOutput = {
    prob: new Float32Array(list.n),
    reg: new Float32Array(4 * list.n),
    ...(hasLandmarks ? { landmarks: new Float32Array(10 * list.n) } : {}),
  };
  const norm = kernelNormalisation(net);
  const rects = padToImage(list);
  const step = size * size * 3;
  // one input buffer for every batch of the stage: the engines copy their input, and the
  // tfjs tensors made of it are disposed before the next batch is written
  const buffer = new Float32Array(Math.min(list.n, maxBatch) * step);
  for (let s = 0; s < list.n; s += maxBatch) {
    const e = Math.min(list.n, s + maxBatch);
    const batch = buffer.subarray(0, (e - s) * step);
    for (const [a, b] of imageRuns(selectRange(list, s, e))) {
      const { data, width, height } = images[list.image[s + a]];
      const r = rects.subarray(4 * (s + a), 4 * (s + b));
      const { mean, scale } = norm;
      if (config.resize === "area") {
        const into = batch.subarray(a * step, b * step);
        cropResizeAreaU8ToF32(data, width, height, r, size, mean, scale, into);
      } else {
        batch.set(cropResizeU8ToF32(data, width, height, 3, r, size, mean, scale), a * step);
      }
    }
    lap("crops");
    if (isEngine(net)) {
      const o = norm.done ? net.runNormalized(batch, e - s) : net.run(batch, e - s, size, size);
      out.prob.set(o.cls, s);
      out.reg.set(o.box, 4 * s);
      if (out.landmarks && o.landmarks) out.landmarks.set(o.landmarks, 10 * s);
      lap(phase);
      continue;
    }
    tf.tidy(() => {
      const o = forward(net, tf.tensor4d(batch, [e - s, size, size, 3]), { normalized: norm.done });
      out.prob.set(o.cls.dataSync(), s);
      out.reg.set(o.box.dataSync(), 4 * s);
      if (out.landmarks && o.landmarks) out.landmarks.set(o.landmarks.dataSync(), 10 * s);
    });
    lap(phase);
  }
  return out;
}

/** A view of boxes `[s, e)` (only the image indexes are read). */
function selectRange(list: BoxList, s: number, e: number): BoxList {
  return { ...emptyBoxList(0), n: e - s, image: list.image.subarray(s, e) };
}

/** Every stage a detector with this config runs. */
export function stagesOf(config: DetectorConfig): Stage[] {
  return STAGES.slice(0, STAGES.indexOf(config.stage) + 1);
}

function checkImage(img: RgbImage, i: number) {
  const { width, height, data } = img ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`detectFaces: image ${i} has a bad size ${width}x${height}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new RangeError(
      `detectFaces: image ${i} (${width}x${height}) needs ${width * height * 3} RGB bytes, has ${
        data instanceof Uint8Array ? data.length : "no pixel data"
      }`,
    );
  }
}
