/**
 * The trainer's checkpoint file (`checkpoint_<net>.ckpt`): everything a run
 * needs to continue exactly where it stopped — the parameters, Adam's moments
 * and step count, the epoch and step to continue from, the running training
 * sums of the unfinished epoch, the history and the best epoch so far, and the
 * resolved config. Every random stream of the trainer is derived from
 * (seed, epoch, step), so (epoch, step) is the whole random state.
 *
 * Layout (little-endian): magic `MTCNNCKP`, u32 version (1), u32 header
 * length H, H bytes of JSON ({@linkcode CheckpointHeader}), zero padding to a
 * multiple of 4, then float32 params, Adam m, Adam v (`paramCount` each).
 * Written atomically.
 *
 * @example
 * ```ts
 * await saveCheckpoint("weights/run1/checkpoint_pnet.ckpt", ckpt);
 * const again = await loadCheckpoint("weights/run1/checkpoint_pnet.ckpt");
 * ```
 */
import { readFileChecked, writeFileAtomic } from "../io/mod.ts";
import { crc32 } from "../nets/weights_io.ts";

const MAGIC = "MTCNNCKP";
const VERSION = 1;

/** The JSON part of a checkpoint. */
export interface CheckpointHeader {
  format: "mtcnn-checkpoint";
  version: number;
  /** The epoch to continue with (0-based) and the number of its steps already done. */
  epoch: number;
  step: number;
  adamT: number;
  paramCount: number;
  /** CRC-32 of the float data. */
  crc32: number;
  /** Free-form trainer state: config, history, best, running sums. */
  state: Record<string, unknown>;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  epoch: number;
  step: number;
  adamT: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  state: Record<string, unknown>;
}

/** Encodes a checkpoint (deterministic bytes). */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const n = c.params.length;
  if (c.m.length !== n || c.v.length !== n) {
    throw new RangeError(`encodeCheckpoint: ${n} params but ${c.m.length}/${c.v.length} moments`);
  }
  const floats = new Float32Array(3 * n);
  floats.set(c.params, 0);
  floats.set(c.m, n);
  floats.set(c.v, 2 * n);
  const body = new Uint8Array(floats.buffer);
  const header: CheckpointHeader = {
    format: "mtcnn-checkpoint",
    version: VERSION,
    epoch: c.epoch,
    step: c.step,
    adamT: c.adamT,
    paramCount: n,
    crc32: crc32(body),
    state: c.state,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = (16 + json.length + 3) & ~3;
  const out = new Uint8Array(start + body.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(body, start);
  return out;
}

/** Decodes checkpoint bytes; one-line errors name the file. */
export function decodeCheckpoint(bytes: Uint8Array, file = "checkpoint"): Checkpoint {
  const bad = (what: string): never => {
    throw new RangeError(`Cannot read checkpoint "${file}": ${what}`);
  };
  if (bytes.length < 16) bad("file is too short (truncated?)");
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) bad("not a checkpoint (bad magic)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== VERSION) bad(`version ${version}, this build reads ${VERSION}`);
  const hlen = dv.getUint32(12, true);
  if (16 + hlen > bytes.length) bad("header runs past the end of the file (truncated)");
  let h: CheckpointHeader;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    return bad(`header is not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (h.format !== "mtcnn-checkpoint") bad(`header.format is not "mtcnn-checkpoint"`);
  const n = h.paramCount;
  const start = (16 + hlen + 3) & ~3;
  if (!Number.isInteger(n) || n < 0 || start + 12 * n !== bytes.length) {
    bad(`file holds ${bytes.length} bytes, header says ${start + 12 * n} (truncated?)`);
  }
  const body = bytes.slice(start, start + 12 * n);
  if (crc32(body) !== h.crc32) bad("data checksum mismatch (file is corrupt)");
  const floats = new Float32Array(body.buffer);
  return {
    epoch: h.epoch,
    step: h.step,
    adamT: h.adamT,
    params: floats.slice(0, n),
    m: floats.slice(n, 2 * n),
    v: floats.slice(2 * n, 3 * n),
    state: h.state,
  };
}

/** Writes a checkpoint atomically. */
export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(c));
}

/** Reads a checkpoint. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readFileChecked(path), path);
}
