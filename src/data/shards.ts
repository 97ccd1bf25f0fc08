/**
 * The sample dataset format shared by gen-pnet, gen-rnet, gen-onet and
 * gen-landmarks, and read by the trainer.
 *
 * A dataset is a folder:
 *
 * ```
 * manifest.json          format version, sample size, seed, source, counts, shards, resume cursor
 * pos-00000.bin ...      shards, one label per shard (pos / neg / part / landmark)
 * ```
 *
 * A shard is little-endian, struct-of-arrays, so that a batch is a few copies:
 *
 * ```
 * 0   "MTCNNSHD"         8-byte magic
 * 8   u32 version (1), u32 count, u32 size, u32 channels, u32 label, u32 reserved
 * 32  u8  pixels[count * size * size * channels]   RGB, row-major
 *     pad to 4 bytes
 *     f32 boxes[count * 4]                          (x1, y1, x2, y2) offsets / crop side; NaN if absent
 *     f32 landmarks[count * 10]                     (x1, y1, ..., x5, y5) in crop units; NaN if absent
 * ```
 *
 * Shards are written atomically (temp + rename) and the manifest is rewritten
 * atomically after them, listing only complete shards and the number of source
 * items (`cursor`) whose samples they hold: an interrupted run leaves a valid,
 * smaller dataset that {@linkcode ShardWriter.open} resumes from `cursor`.
 *
 * @example
 * ```ts
 * const w = await ShardWriter.open("data/pnet12", { size: 12, seed: 1, source: {} });
 * w.add(Label.Positive, pixels, [0.1, -0.05, 0.02, 0.0]);
 * await w.commit(1);          // one source image done
 * await w.close();
 * for await (const batch of readBatches(["data/pnet12"], { batchSize: 256, seed: 1 })) { ... }
 * ```
 */
import { writeFileAtomic, writeJsonAtomic } from "../io/mod.ts";
import { Rng } from "../util/random.ts";

/** Sample labels. The numeric values are the MTCNN conventions' order, not the seed's -1/-2. */
export enum Label {
  Negative = 0,
  Positive = 1,
  Part = 2,
  Landmark = 3,
}

/** Label names as used in file names and manifests. */
export const LABEL_NAMES = ["neg", "pos", "part", "landmark"] as const;
export type LabelName = typeof LABEL_NAMES[number];

export const FORMAT_VERSION = 1;
const MAGIC = "MTCNNSHD";
const HEADER_BYTES = 32;

/** One shard as listed in the manifest. */
export interface ShardInfo {
  file: string;
  label: LabelName;
  count: number;
  bytes: number;
}

/** The manifest of a dataset folder. */
export interface Manifest {
  format: "mtcnn-shards";
  version: number;
  /** Side of the square samples in pixels (12, 24 or 48). */
  size: number;
  channels: number;
  seed: number;
  /** What the samples were made from and how (annotations, images, config). */
  source: Record<string, unknown>;
  counts: Record<LabelName, number>;
  /** Number of source items (images) whose samples are all in the shards. */
  cursor: number;
  /** True once the producer finished all its source items. */
  complete: boolean;
  shards: ShardInfo[];
}

function emptyCounts(): Record<LabelName, number> {
  return { neg: 0, pos: 0, part: 0, landmark: 0 };
}

/** Reads and checks `dir/manifest.json`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = `${dir}/manifest.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TypeError(`Cannot open dataset "${dir}": no manifest.json`);
    }
    throw e;
  }
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`Cannot read "${path}": ${(e as Error).message}`);
  }
  if (m.format !== "mtcnn-shards") {
    throw new TypeError(`Cannot read "${path}": not an mtcnn-shards manifest`);
  }
  if (m.version !== FORMAT_VERSION) {
    throw new TypeError(
      `Cannot read "${path}": format version ${m.version}, this build reads ${FORMAT_VERSION}`,
    );
  }
  for (const key of ["size", "channels", "cursor"] as const) {
    if (!Number.isInteger(m[key]) || m[key] < 0) {
      throw new TypeError(`Cannot read "${path}": bad field "${key}"`);
    }
  }
  if (!Array.isArray(m.shards)) throw new TypeError(`Cannot read "${path}": bad field "shards"`);
  return m;
}

class LabelBuffer {
  pixels: Uint8Array;
  boxes: Float32Array;
  landmarks: Float32Array;
  count = 0;
  constructor(readonly sampleBytes: number, capacity: number) {
    this.pixels = new Uint8Array(sampleBytes * capacity);
    this.boxes = new Float32Array(4 * capacity);
    this.landmarks = new Float32Array(10 * capacity);
  }
  get capacity() {
    return this.boxes.length / 4;
  }
  grow() {
    const cap = this.capacity * 2;
    const p = new Uint8Array(this.sampleBytes * cap);
    p.set(this.pixels);
    const b = new Float32Array(4 * cap);
    b.set(this.boxes);
    const l = new Float32Array(10 * cap);
    l.set(this.landmarks);
    this.pixels = p;
    this.boxes = b;
    this.landmarks = l;
  }
}

/** Options of {@linkcode ShardWriter.open}. */
export interface ShardWriterOptions {
  size: number;
  channels?: number;
  seed: number;
  source: Record<string, unknown>;
  /** Flush a label's buffer to a shard once it holds this many bytes of pixels (default 16 MiB). */
  shardBytes?: number;
  /** Start afresh even if the folder holds a dataset (default: resume when compatible). */
  overwrite?: boolean;
}

/**
 * Writes a dataset folder streaming: samples are buffered per label and written
 * as shards when a buffer is full, at {@linkcode ShardWriter.commit} points only,
 * so memory stays bounded by one shard per label plus one source item.
 */
export class ShardWriter {
  readonly manifest: Manifest;
  readonly #dir: string;
  readonly #sampleBytes: number;
  readonly #shardBytes: number;
  readonly #buffers: LabelBuffer[];
  #next: Record<LabelName, number>;

  private constructor(dir: string, manifest: Manifest, shardBytes: number) {
    this.#dir = dir;
    this.manifest = manifest;
    this.#sampleBytes = manifest.size * manifest.size * manifest.channels;
    this.#shardBytes = shardBytes;
    const cap = Math.max(16, Math.min(4096, Math.ceil(shardBytes / this.#sampleBytes)));
    this.#buffers = LABEL_NAMES.map(() => new LabelBuffer(this.#sampleBytes, cap));
    this.#next = emptyCounts();
    for (const s of manifest.shards) {
      const n = Number(s.file.slice(s.label.length + 1, -4));
      if (n + 1 > this.#next[s.label]) this.#next[s.label] = n + 1;
    }
  }

  /**
   * Opens `dir` for writing. An existing dataset with the same size, seed and
   * source is resumed (see `manifest.cursor`); a different one is an error
   * unless `overwrite` is set.
   */
  static async open(dir: string, opts: ShardWriterOptions): Promise<ShardWriter> {
    const channels = opts.channels ?? 3;
    await Deno.mkdir(dir, { recursive: true });
    let manifest: Manifest | undefined;
    if (!opts.overwrite) {
      try {
        manifest = await readManifest(dir);
      } catch (e) {
        if (!(e instanceof TypeError && e.message.endsWith("no manifest.json"))) throw e;
      }
    }
    if (manifest) {
      const same = manifest.size === opts.size && manifest.channels === channels &&
        manifest.seed === opts.seed &&
        JSON.stringify(manifest.source) === JSON.stringify(opts.source);
      if (!same) {
        throw new TypeError(
          `Cannot write dataset "${dir}": it holds another dataset (size, seed or source differ); ` +
            `use another --out or --overwrite`,
        );
      }
    } else {
      if (opts.overwrite) await removeShards(dir);
      manifest = {
        format: "mtcnn-shards",
        version: FORMAT_VERSION,
        size: opts.size,
        channels,
        seed: opts.seed,
        source: opts.source,
        counts: emptyCounts(),
        cursor: 0,
        complete: false,
        shards: [],
      };
    }
    return new ShardWriter(dir, manifest, opts.shardBytes ?? 16 << 20);
  }

  /** Number of source items already done (resume from here). */
  get cursor(): number {
    return this.manifest.cursor;
  }

  /**
   * Adds one sample. `pixels` holds size*size*channels bytes; `box` 4 offsets
   * (or undefined: NaN); `landmarks` 10 values (or undefined: NaN).
   */
  add(
    label: Label,
    pixels: Uint8Array,
    box?: ArrayLike<number>,
    landmarks?: ArrayLike<number>,
  ): void {
    if (pixels.length !== this.#sampleBytes) {
      throw new RangeError(
        `ShardWriter.add: pixels.length ${pixels.length} != ${this.#sampleBytes}`,
      );
    }
    if (!(label in LABEL_NAMES)) throw new RangeError(`ShardWriter.add: bad label ${label}`);
    const buf = this.#buffers[label];
    if (buf.count === buf.capacity) buf.grow();
    const i = buf.count++;
    buf.pixels.set(pixels, i * this.#sampleBytes);
    for (let k = 0; k < 4; k++) buf.boxes[i * 4 + k] = box ? box[k] : NaN;
    for (let k = 0; k < 10; k++) buf.landmarks[i * 10 + k] = landmarks ? landmarks[k] : NaN;
  }

  /** Samples added since the last flush, per label. */
  pending(label: Label): number {
    return this.#buffers[label].count;
  }

  /**
   * Marks `items` more source items as done. Buffers that reached the shard
   * size are written now; the manifest then records the new cursor.
   */
  async commit(items: number): Promise<void> {
    this.manifest.cursor += items;
    let wrote = false;
    for (let l = 0; l < LABEL_NAMES.length; l++) {
      if (this.#buffers[l].count * this.#sampleBytes >= this.#shardBytes) {
        await this.#flush(l);
        wrote = true;
      }
    }
    if (wrote) await this.#writeManifest();
  }

  /** Writes every non-empty buffer and the manifest; `complete` marks the producer finished. */
  async close(complete = true): Promise<Manifest> {
    for (let l = 0; l < LABEL_NAMES.length; l++) {
      if (this.#buffers[l].count > 0) await this.#flush(l);
    }
    this.manifest.complete = complete;
    await this.#writeManifest();
    return this.manifest;
  }

  async #flush(label: number): Promise<void> {
    const buf = this.#buffers[label];
    const name = LABEL_NAMES[label];
    const file = `${name}-${String(this.#next[name]++).padStart(5, "0")}.bin`;
    const bytes = encodeShard(
      this.manifest.size,
      this.manifest.channels,
      label,
      buf.count,
      buf.pixels,
      buf.boxes,
      buf.landmarks,
    );
    await writeFileAtomic(`${this.#dir}/${file}`, bytes);
    this.manifest.shards.push({ file, label: name, count: buf.count, bytes: bytes.length });
    this.manifest.counts[name] += buf.count;
    buf.count = 0;
  }

  #writeManifest(): Promise<void> {
    return writeJsonAtomic(`${this.#dir}/manifest.json`, this.manifest);
  }
}

async function removeShards(dir: string) {
  for await (const e of Deno.readDir(dir)) {
    if (
      e.isFile && (/^(neg|pos|part|landmark)-\d+\.bin$/.test(e.name) || e.name === "manifest.json")
    ) {
      await Deno.remove(`${dir}/${e.name}`);
    }
  }
}

/** Serialises one shard (see the module doc for the layout). */
export function encodeShard(
  size: number,
  channels: number,
  label: number,
  count: number,
  pixels: Uint8Array,
  boxes: Float32Array,
  landmarks: Float32Array,
): Uint8Array {
  const pixBytes = count * size * size * channels;
  const pixEnd = HEADER_BYTES + pixBytes;
  const boxStart = (pixEnd + 3) & ~3;
  const total = boxStart + count * 14 * 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, size, true);
  dv.setUint32(20, channels, true);
  dv.setUint32(24, label, true);
  out.set(pixels.subarray(0, pixBytes), HEADER_BYTES);
  let o = boxStart;
  for (let i = 0; i < count * 4; i++, o += 4) dv.setFloat32(o, boxes[i], true);
  for (let i = 0; i < count * 10; i++, o += 4) dv.setFloat32(o, landmarks[i], true);
  return out;
}

/** A decoded shard. */
export interface Shard {
  label: Label;
  count: number;
  size: number;
  channels: number;
  pixels: Uint8Array;
  boxes: Float32Array;
  landmarks: Float32Array;
}

/** Parses a shard file's bytes, checking the header against the file length. */
export function decodeShard(bytes: Uint8Array, name = "shard"): Shard {
  const bad = (what: string) => new TypeError(`Cannot read "${name}": ${what}`);
  if (bytes.length < HEADER_BYTES) throw bad("truncated header");
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw bad("not a shard (bad magic)");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    throw bad(`shard version ${version}, this build reads ${FORMAT_VERSION}`);
  }
  const count = dv.getUint32(12, true);
  const size = dv.getUint32(16, true);
  const channels = dv.getUint32(20, true);
  const label = dv.getUint32(24, true);
  if (label >= LABEL_NAMES.length) throw bad(`label ${label} is not a sample label`);
  const pixBytes = count * size * size * channels;
  const boxStart = (HEADER_BYTES + pixBytes + 3) & ~3;
  const total = boxStart + count * 14 * 4;
  if (bytes.length !== total) throw bad(`${bytes.length} bytes, header says ${total}`);
  const pixels = bytes.slice(HEADER_BYTES, HEADER_BYTES + pixBytes);
  const floats = new Float32Array(count * 14);
  const fv = new DataView(bytes.buffer, bytes.byteOffset + boxStart, count * 56);
  for (let i = 0; i < floats.length; i++) floats[i] = fv.getFloat32(i * 4, true);
  return {
    label,
    count,
    size,
    channels,
    pixels,
    boxes: floats.subarray(0, count * 4),
    landmarks: floats.subarray(count * 4),
  };
}

/** Reads one shard of a dataset. */
export async function readShard(dir: string, info: ShardInfo): Promise<Shard> {
  const path = `${dir}/${info.file}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TypeError(`Cannot read "${path}": listed in the manifest but missing`);
    }
    throw e;
  }
  const shard = decodeShard(bytes, path);
  if (shard.count !== info.count) {
    throw new TypeError(
      `Cannot read "${path}": ${shard.count} samples, manifest says ${info.count}`,
    );
  }
  return shard;
}

/** A batch of samples, struct-of-arrays. */
export interface Batch {
  count: number;
  size: number;
  channels: number;
  pixels: Uint8Array;
  labels: Uint8Array;
  boxes: Float32Array;
  landmarks: Float32Array;
}

/** Options of {@linkcode readBatches}. */
export interface ReadOptions {
  batchSize: number;
  seed: number;
  /** Shuffle (shard order + a shuffle buffer). Default true. */
  shuffle?: boolean;
  /** Samples held in the shuffle buffer per label (default 8192). */
  shuffleBuffer?: number;
  /**
   * Resample labels to this ratio, in the order pos : neg : part : landmark
   * (MTCNN: [1, 3, 1, 2]). Omitted: every sample once, in proportion to the counts.
   */
  ratio?: [number, number, number, number];
  /** Samples per epoch with `ratio` (default: as many as the scarcest ratio label allows). */
  epochSize?: number;
  /** Which epoch (changes the shuffle; default 0). */
  epoch?: number;
  /** Keep the last, smaller batch (default true). */
  keepPartial?: boolean;
}

const RATIO_ORDER: Label[] = [Label.Positive, Label.Negative, Label.Part, Label.Landmark];

/** Counts per label over several dataset folders, with their manifests. */
export async function openDatasets(
  dirs: string[],
): Promise<{ manifests: Manifest[]; counts: number[]; size: number; channels: number }> {
  if (dirs.length === 0) throw new TypeError("no dataset folders given");
  const manifests = await Promise.all(dirs.map(readManifest));
  const { size, channels } = manifests[0];
  manifests.forEach((m, i) => {
    if (m.size !== size || m.channels !== channels) {
      throw new TypeError(
        `Cannot mix datasets: "${dirs[i]}" has ${m.size}px samples, "${dirs[0]}" ${size}px`,
      );
    }
  });
  const counts = [0, 0, 0, 0];
  for (const m of manifests) {
    for (const s of m.shards) counts[LABEL_NAMES.indexOf(s.label)] += s.count;
  }
  return { manifests, counts, size, channels };
}

/** How many samples of each label (indexed by Label) one epoch takes. */
export function epochPlan(counts: number[], ratio?: number[], epochSize?: number): number[] {
  if (!ratio) return counts.slice();
  const r = [0, 0, 0, 0];
  RATIO_ORDER.forEach((label, i) => (r[label] = ratio[i]));
  const active = r.map((x, l) => x > 0 && counts[l] > 0);
  const sum = r.reduce((a, x, l) => a + (active[l] ? x : 0), 0);
  if (sum === 0) return [0, 0, 0, 0];
  let total = epochSize ??
    Math.floor(Math.min(...r.map((x, l) => (active[l] ? counts[l] * sum / x : Infinity))));
  if (!Number.isFinite(total)) total = 0;
  return r.map((x, l) => (active[l] ? Math.round(total * x / sum) : 0));
}

/**
 * Streams shuffled batches from one or more dataset folders. Per label, shards
 * are visited in a shuffled order through a shuffle buffer; labels are mixed
 * by a seeded draw proportional to what the epoch still needs of each, so
 * memory stays at one shard per label plus the buffers. With `ratio`, a label
 * that runs out is read again from the start (sampling with replacement).
 */
export async function* readBatches(dirs: string[], opts: ReadOptions): AsyncGenerator<Batch> {
  const { manifests, counts, size, channels } = await openDatasets(dirs);
  const plan = epochPlan(counts, opts.ratio, opts.epochSize);
  const rng = Rng.derive(opts.seed, opts.epoch ?? 0);
  const shuffle = opts.shuffle ?? true;
  const bufferSize = Math.max(1, opts.shuffleBuffer ?? 8192);
  const sampleBytes = size * size * channels;

  const streams = LABEL_NAMES.map((name, label) => {
    const shards: { dir: string; info: ShardInfo }[] = [];
    manifests.forEach((m, i) => {
      for (const s of m.shards) {
        if (s.label === name && s.count > 0) shards.push({ dir: dirs[i], info: s });
      }
    });
    return new LabelStream(
      shards,
      Rng.derive(rng.nextUint32(), label),
      shuffle,
      bufferSize,
      sampleBytes,
      plan[label],
    );
  });

  const remaining = plan.slice();
  let left = remaining.reduce((a, b) => a + b, 0);
  const bs = opts.batchSize;
  while (left > 0) {
    const n = Math.min(bs, left);
    if (n < bs && opts.keepPartial === false) return;
    const batch: Batch = {
      count: n,
      size,
      channels,
      pixels: new Uint8Array(n * sampleBytes),
      labels: new Uint8Array(n),
      boxes: new Float32Array(n * 4),
      landmarks: new Float32Array(n * 10),
    };
    for (let i = 0; i < n; i++) {
      let pick = 0;
      if (shuffle) {
        let u = rng.next() * left;
        while (u >= remaining[pick] || remaining[pick] === 0) u -= remaining[pick++];
      } else {
        while (remaining[pick] === 0) pick++;
      }
      remaining[pick]--;
      left--;
      await streams[pick].take(batch, i);
      batch.labels[i] = pick;
    }
    yield batch;
  }
}

class LabelStream {
  #order: number[] = [];
  #current?: Shard;
  #pos = 0;
  #buffer: { shard: Shard; index: number }[] = [];

  constructor(
    readonly shards: { dir: string; info: ShardInfo }[],
    readonly rng: Rng,
    readonly shuffle: boolean,
    readonly bufferSize: number,
    readonly sampleBytes: number,
    /** Samples this epoch takes from the stream: the buffer never reads past them. */
    readonly need: number,
  ) {
    const total = shards.reduce((a, s) => a + s.info.count, 0);
    this.#capacity = Math.max(1, Math.min(bufferSize, total));
  }
  #capacity: number;
  #fetched = 0;

  async #nextSample(): Promise<{ shard: Shard; index: number }> {
    while (!this.#current || this.#pos >= this.#current.count) {
      if (this.#order.length === 0) {
        if (this.shards.length === 0) throw new RangeError("LabelStream: no samples of this label");
        this.#order = this.shards.map((_, i) => i);
        if (this.shuffle) this.rng.shuffle(this.#order);
        this.#order.reverse();
      }
      const s = this.shards[this.#order.pop()!];
      this.#current = await readShard(s.dir, s.info);
      this.#pos = 0;
    }
    return { shard: this.#current, index: this.#pos++ };
  }

  async take(batch: Batch, i: number): Promise<void> {
    let item: { shard: Shard; index: number };
    if (!this.shuffle) {
      item = await this.#nextSample();
    } else {
      while (this.#buffer.length < this.#capacity && this.#fetched < this.need) {
        this.#buffer.push(await this.#nextSample());
        this.#fetched++;
      }
      const j = Math.floor(this.rng.next() * this.#buffer.length);
      item = this.#buffer[j];
      this.#buffer[j] = this.#buffer[this.#buffer.length - 1];
      this.#buffer.pop();
    }
    const { shard, index } = item;
    const sb = this.sampleBytes;
    batch.pixels.set(shard.pixels.subarray(index * sb, (index + 1) * sb), i * sb);
    batch.boxes.set(shard.boxes.subarray(index * 4, index * 4 + 4), i * 4);
    batch.landmarks.set(shard.landmarks.subarray(index * 10, index * 10 + 10), i * 10);
  }
}
