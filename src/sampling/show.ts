/**
 * A look at a shard dataset: the manifest as printable lines, and a contact
 * sheet of random samples per label with their labels drawn on them — the
 * face box recovered from the box offsets and the 5 landmarks as coloured
 * dots — so a person sees at a glance whether the labels are right.
 *
 * For a sample of side `S` with offsets `(o1, o2, o3, o4)` the face's pixels
 * run from `(o1 * S, o2 * S)` to `(S + o3 * S, S + o4 * S)` inclusive (the
 * gen-pnet / gen-landmarks convention), landmarks sit at `(x * S, y * S)`.
 *
 * @example
 * ```ts
 * const { image, manifest } = await renderContactSheet("data/pnet12", { perLabel: 32, seed: 1 });
 * console.log(describeManifest(manifest).join("\n"));
 * await writeImage("sheet.png", image);
 * ```
 *
 * @module
 */
import {
  Label,
  LABEL_NAMES,
  type LabelName,
  type Manifest,
  readManifest,
  readShard,
  type Shard,
  type ShardInfo,
} from "../data/shards.ts";
import { createImage, drawLabel, drawPoint, drawRect, pasteImage } from "../image/mod.ts";
import type { Rgb, RgbImage } from "../image/types.ts";
import { Rng } from "../util/random.ts";

/** Options of {@linkcode renderContactSheet}. */
export interface ContactSheetOptions {
  /** Random samples shown per label (default 32). */
  perLabel?: number;
  /** Seed of the pick (default 1). */
  seed?: number;
  /** Samples per row (default 8). */
  columns?: number;
  /** Samples are upscaled (nearest neighbour) by the integer factor closest to this size / S (default 72 px). */
  cell?: number;
}

/** Colours of the five landmarks: left eye, right eye, nose, left mouth corner, right mouth corner. */
export const LANDMARK_COLORS: readonly Rgb[] = [
  [255, 40, 40],
  [40, 140, 255],
  [255, 230, 0],
  [255, 0, 255],
  [0, 255, 255],
];

/** Box colour per label (neg has none). */
const BOX_COLORS: Record<LabelName, Rgb> = {
  neg: [255, 255, 255],
  pos: [0, 255, 0],
  part: [255, 160, 0],
  landmark: [0, 255, 0],
};

const GAP = 3;
const HEADER = 14;

/**
 * The manifest as a few printable lines: kind, size, seed, counts, shards, source.
 *
 * @example
 * ```ts
 * console.log(describeManifest(await readManifest("data/pnet12"), "data/pnet12").join("\n"));
 * ```
 */
export function describeManifest(m: Manifest, dir?: string): string[] {
  const total = LABEL_NAMES.reduce((a, l) => a + (m.counts[l] ?? 0), 0);
  const bytes = m.shards.reduce((a, s) => a + s.bytes, 0);
  const perLabel = LABEL_NAMES.map((l) => {
    const shards = m.shards.filter((s) => s.label === l).length;
    return `${l} ${m.counts[l] ?? 0}${shards ? ` (${shards} shard${shards > 1 ? "s" : ""})` : ""}`;
  });
  return [
    `${
      dir ? dir + ": " : ""
    }${m.format} v${m.version}, ${m.size}x${m.size}x${m.channels} samples, ` +
    `seed ${m.seed}, ${m.complete ? "complete" : "incomplete"} (cursor ${m.cursor})`,
    `counts: ${perLabel.join(", ")}; total ${total}`,
    `shards: ${m.shards.length}, ${(bytes / 1048576).toFixed(1)} MiB`,
    `source: ${JSON.stringify(m.source)}`,
  ];
}

/** `k` distinct integers of [0, n), ascending, drawn with `rng`. */
function pickIndices(rng: Rng, n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const set = new Set<number>();
  while (set.size < k) set.add(rng.int(0, n));
  return [...set].sort((a, b) => a - b);
}

/**
 * Upscales one sample (nearest neighbour) by `scale` and draws its labels:
 * the face box from the offsets and the landmarks as dots.
 *
 * @example
 * ```ts
 * const tile = renderSample(shard, 0, 4, shard.label);
 * ```
 */
export function renderSample(
  shard: Shard,
  index: number,
  scale: number,
  label: Label,
): RgbImage {
  const S = shard.size, C = shard.channels;
  const out = createImage(S * scale, S * scale);
  const base = index * S * S * C;
  for (let y = 0; y < S * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < S * scale; x++) {
      const s = base + (sy * S + Math.floor(x / scale)) * C, d = (y * S * scale + x) * 3;
      out.data[d] = shard.pixels[s];
      out.data[d + 1] = shard.pixels[s + (C > 1 ? 1 : 0)];
      out.data[d + 2] = shard.pixels[s + (C > 2 ? 2 : 0)];
    }
  }
  const o = shard.boxes.subarray(index * 4, index * 4 + 4);
  if (o.every(Number.isFinite)) {
    const x1 = o[0] * S, y1 = o[1] * S, x2 = S + o[2] * S, y2 = S + o[3] * S;
    drawRect(
      out,
      x1 * scale,
      y1 * scale,
      (x2 + 1) * scale - 1,
      (y2 + 1) * scale - 1,
      BOX_COLORS[LABEL_NAMES[label]],
      scale >= 4 ? 2 : 1,
    );
  }
  const lm = shard.landmarks.subarray(index * 10, index * 10 + 10);
  const radius = Math.max(2, Math.round(scale / 2));
  for (let k = 0; k < 5; k++) {
    const x = lm[2 * k], y = lm[2 * k + 1];
    if (Number.isFinite(x) && Number.isFinite(y)) {
      // A dark ring keeps the dot visible on any skin or background.
      drawPoint(out, x * S * scale, y * S * scale, [0, 0, 0], radius + 1);
      drawPoint(out, x * S * scale, y * S * scale, LANDMARK_COLORS[k], radius);
    }
  }
  return out;
}

/**
 * Reads `dir`'s manifest and draws up to `perLabel` random samples of each
 * label present, one block of rows per label under a title line.
 * Only the shards holding picked samples are read.
 *
 * @example
 * ```ts
 * const { image, shown } = await renderContactSheet("data/landmarks48", { perLabel: 16, seed: 2 });
 * ```
 */
export async function renderContactSheet(
  dir: string,
  opts: ContactSheetOptions = {},
): Promise<{ image: RgbImage; manifest: Manifest; shown: Record<LabelName, number> }> {
  const perLabel = opts.perLabel ?? 32, columns = opts.columns ?? 8, seed = opts.seed ?? 1;
  if (!(Number.isInteger(perLabel) && perLabel >= 1)) {
    throw new RangeError(`perLabel must be an integer >= 1, got ${perLabel}`);
  }
  if (!(Number.isInteger(columns) && columns >= 1)) {
    throw new RangeError(`columns must be an integer >= 1, got ${columns}`);
  }
  const manifest = await readManifest(dir);
  const S = manifest.size;
  const scale = Math.max(1, Math.round((opts.cell ?? 72) / S));
  const cell = S * scale;
  const blocks: { label: Label; total: number; tiles: RgbImage[] }[] = [];
  const shown = { neg: 0, pos: 0, part: 0, landmark: 0 } as Record<LabelName, number>;
  for (let label = 0; label < LABEL_NAMES.length; label++) {
    const name = LABEL_NAMES[label];
    const shards: ShardInfo[] = manifest.shards.filter((s) => s.label === name && s.count > 0);
    const total = shards.reduce((a, s) => a + s.count, 0);
    if (total === 0) continue;
    const picks = pickIndices(Rng.derive(seed, label), total, perLabel);
    const tiles: RgbImage[] = [];
    let first = 0, p = 0;
    for (const info of shards) {
      const end = first + info.count;
      if (p < picks.length && picks[p] < end) {
        const shard = await readShard(dir, info);
        for (; p < picks.length && picks[p] < end; p++) {
          tiles.push(renderSample(shard, picks[p] - first, scale, label));
        }
      }
      first = end;
    }
    shown[name] = tiles.length;
    blocks.push({ label, total, tiles });
  }
  if (blocks.length === 0) throw new TypeError(`Cannot show dataset "${dir}": it holds no samples`);
  const width = columns * (cell + GAP) + GAP;
  const height = blocks.reduce(
    (a, b) => a + HEADER + Math.ceil(b.tiles.length / columns) * (cell + GAP),
    GAP,
  );
  const sheet = createImage(Math.max(width, 320), height, [32, 32, 32]);
  let y = GAP;
  for (const b of blocks) {
    const name = LABEL_NAMES[b.label];
    let title = `${name}: ${b.tiles.length} of ${b.total}`;
    if (b.label !== Label.Negative) title += ", box from offsets";
    if (b.label === Label.Landmark) {
      title += "; eyes L red R blue, nose yellow, mouth L magenta R cyan";
    }
    drawLabel(sheet, GAP, y, title, [0, 0, 0], [220, 220, 220], 1, 2);
    y += HEADER;
    b.tiles.forEach((t, i) => {
      pasteImage(
        sheet,
        t,
        GAP + (i % columns) * (cell + GAP),
        y + Math.floor(i / columns) * (cell + GAP),
      );
    });
    y += Math.ceil(b.tiles.length / columns) * (cell + GAP);
  }
  return { image: sheet, manifest, shown };
}
