/**
 * `deno task gen-landmarks`: landmark samples (label `landmark`) from an
 * LFW+Net list (`trainImageList.txt`) or CelebA (`list_landmarks_celeba.txt`
 * with `list_bbox_celeba.txt`), jittered crops as the seed's
 * gen_Onet_landmark.py plus mirrored copies.
 *
 * ```
 * deno task gen-landmarks --size 48 --list data/lfw/trainImageList.txt --out data/landmarks48
 * deno task gen-landmarks --size 24 --list Anno/list_landmarks_celeba.txt --images Img/img_celeba
 * ```
 */
import { progress, type Task, UsageError } from "../src/cli/mod.ts";
import { detectAnnotationFormat, readCelebA, readLfwLandmarks } from "../src/data/mod.ts";
import { readFileChecked } from "../src/io/mod.ts";
import { generateLandmarkDataset } from "../src/sampling/generate_landmarks.ts";
import { DEFAULT_LANDMARK_SAMPLING } from "../src/sampling/landmarks.ts";

const d = DEFAULT_LANDMARK_SAMPLING;

function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

const task: Task = {
  name: "gen-landmarks",
  description: "Sample landmark crops (12/24/48 px, mirrored copies) from LFW or CelebA lists",
  flags: {
    size: { type: "integer", default: 48, help: "sample side in pixels (12, 24 or 48)" },
    list: {
      type: "string",
      required: true,
      meta: "FILE",
      help: "LFW+Net trainImageList.txt or CelebA list_landmarks_celeba.txt",
    },
    bbox: {
      type: "string",
      meta: "FILE",
      help: "CelebA box list [default: list_bbox_celeba.txt beside --list]",
    },
    images: {
      type: "string",
      meta: "DIR",
      help: "folder the list's paths are relative to [default: the list's folder]",
    },
    out: {
      type: "string",
      meta: "DIR",
      help: "output dataset folder [default: data/landmarks<size>]",
    },
    seed: {
      type: "integer",
      default: 1,
      help: "random seed (same seed, same bytes, any --workers)",
    },
    workers: {
      type: "integer",
      default: navigator.hardwareConcurrency,
      help: "worker threads (0: inline)",
    },
    limit: { type: "integer", meta: "N", help: "use only the first N list entries" },
    "crops-per-face": {
      type: "integer",
      default: d.cropsPerFace,
      help: "jittered crops tried per face (the seed: 15)",
    },
    "min-face": {
      type: "integer",
      default: d.minFace,
      help: "faces smaller than this (max side) get no samples",
    },
    "min-iou": {
      type: "number",
      default: d.minIou,
      help: "keep crops whose IoU with the face is above this",
    },
    flip: {
      type: "boolean",
      default: d.flip,
      help: "also store each crop mirrored (--no-flip: don't)",
    },
    "landmarks-inside": {
      type: "boolean",
      default: d.landmarksInside,
      help: "drop crops with a landmark outside them (--no-landmarks-inside: keep)",
    },
    overwrite: { type: "boolean", default: false, help: "start afresh instead of resuming" },
  },
  async run({ flags }) {
    const size = flags.size as number;
    if (![12, 24, 48].includes(size)) {
      throw new UsageError(`gen-landmarks: --size must be 12, 24 or 48, got ${size}`);
    }
    const workers = flags.workers as number;
    if (workers < 0) throw new UsageError(`gen-landmarks: --workers must be >= 0, got ${workers}`);
    const limit = flags.limit as number | undefined;
    if (limit !== undefined && limit < 1) {
      throw new UsageError(`gen-landmarks: --limit must be >= 1, got ${limit}`);
    }
    const list = flags.list as string;
    const images = (flags.images as string | undefined) ?? folderOf(list);
    const out = (flags.out as string | undefined) ?? `data/landmarks${size}`;

    const text = new TextDecoder().decode(await readFileChecked(list));
    const format = detectAnnotationFormat(text);
    let entries;
    let bbox: string | null = null;
    if (format === "lfw") {
      entries = await readLfwLandmarks(list);
    } else if (format === "celeba") {
      bbox = (flags.bbox as string | undefined) ?? `${folderOf(list)}/list_bbox_celeba.txt`;
      entries = await readCelebA(list, bbox);
    } else {
      throw new TypeError(
        `Cannot read "${list}": not an LFW+Net landmark list (path + 14 numbers per line) ` +
          `nor CelebA's list_landmarks_celeba.txt`,
      );
    }
    if (entries.length === 0) throw new TypeError(`Cannot read "${list}": no entries`);
    if (limit !== undefined) entries = entries.slice(0, limit);

    const bar = progress("gen-landmarks", entries.length, "face");
    const summary = await generateLandmarkDataset({
      entries,
      imagesDir: images,
      out,
      seed: flags.seed as number,
      size,
      workers,
      overwrite: flags.overwrite as boolean,
      source: { list, bbox, images, format, limit: limit ?? null },
      config: {
        cropsPerFace: flags["crops-per-face"] as number,
        minFace: flags["min-face"] as number,
        minIou: flags["min-iou"] as number,
        flip: flags.flip as boolean,
        landmarksInside: flags["landmarks-inside"] as boolean,
      },
      onEntries: (done) => bar.tick(done - bar.count),
    });
    bar.done();
    if (summary.resumed) console.log(`resumed after ${summary.resumed} entries already in ${out}`);
    const s = summary.skipped;
    console.log(
      `${out}: ${summary.entries} faces in ${summary.seconds.toFixed(1)} s ` +
        `(${(summary.entries / summary.seconds).toFixed(1)} faces/s, ` +
        `${(summary.samples / summary.seconds).toFixed(0)} samples/s); ` +
        `${summary.samples} new samples, ${summary.manifest.counts.landmark} in total; ` +
        `faces skipped: ${s.small} small, ${s.outside} partly outside, ${s.landmarks} without landmarks`,
    );
    if (summary.failed) {
      console.log(`skipped ${summary.failed} entries with unreadable images:`);
      for (const f of summary.failures) console.log(`  ${f}`);
    }
  },
};
export default task;
