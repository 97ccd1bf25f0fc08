/**
 * The project's weights file (`.mtcnn`): one binary file holding a net's
 * architecture, input convention, provenance, training config, metrics and
 * every parameter tensor.
 *
 * Layout (all integers little-endian):
 *
 * | bytes | content |
 * | --- | --- |
 * | 0..7 | magic `MTCNNWTS` |
 * | 8..11 | format version (u32, currently 1) |
 * | 12..15 | header length H in bytes (u32) |
 * | 16..16+H | header: UTF-8 JSON, see {@linkcode WeightsHeader} |
 * | … | zero padding up to the next multiple of 64: the data section starts there |
 * | data | tensors, each at `offset` (relative to the data section, a multiple of 64) |
 *
 * Tensor dtypes: `float32`; `int8` (value = scale[k] · (q − zeroPoint[k]), k the
 * index along `axis`, default the last axis) for quantized nets (weights,
 * symmetric per output channel: zeroPoint 0), read back as float32 in
 * `params` and as the raw int8 and scales in `quant.weights`; the header's
 * `quantization.activations` then holds each layer's input/output range
 * (uint8 scale + zero point). The header's `crc32` covers the data section.
 *
 * @example
 * ```ts
 * await saveNet("weights/mine/pnet.mtcnn", net);
 * const again = await loadNet("weights/mine/pnet.mtcnn");
 * ```
 */
import { type NetArch, planArch, validateArch } from "./arch.ts";
import {
  createNet,
  type Net,
  type NetData,
  type NetMeta,
  type NetQuant,
  netToData,
} from "./net.ts";
import { readFileChecked, writeFileAtomic } from "../io/mod.ts";

/** File extension of weights files. */
export const WEIGHTS_EXT = ".mtcnn";
/** The 8 magic bytes at the start of every weights file. */
export const WEIGHTS_MAGIC = "MTCNNWTS";
/** Current format version. */
export const WEIGHTS_VERSION = 1;
const ALIGN = 64;

/** One tensor's entry in the header. */
export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: "float32" | "int8";
  /** Byte offset from the start of the data section. */
  offset: number;
  /** Byte length. */
  bytes: number;
  /** int8 only: per-slice scales along `axis` (or one scale). */
  scale?: number[];
  /** int8 only: zero points matching `scale`. */
  zeroPoint?: number[];
  /** int8 only: quantization axis (default: last). */
  axis?: number;
}

/** The JSON header of a weights file. */
export interface WeightsHeader {
  format: "mtcnn-weights";
  version: number;
  arch: NetArch;
  provenance: NetMeta["provenance"] | null;
  training: NetMeta["training"] | null;
  metrics: NetMeta["metrics"] | null;
  tensors: TensorEntry[];
  /** Length of the data section. */
  dataBytes: number;
  /** CRC-32 (IEEE) of the data section, as an unsigned integer. */
  crc32: number;
  /** Int8 nets: activation ranges per layer (the int8 weights carry their own scales). */
  quantization?: { method?: string; bits?: 7 | 8; activations: NetQuant["activations"] };
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Encodes a net's arrays as a weights file. Deterministic: the same net gives
 * the same bytes.
 */
export function encodeWeights(data: NetData): Uint8Array {
  const specs = planArch(data.arch).params;
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const p of specs) {
    const v = data.params[p.name];
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (!v) throw new RangeError(`encodeWeights(${data.arch.name}): tensor ${p.name} is missing`);
    if (v.length !== n) {
      throw new RangeError(
        `encodeWeights(${data.arch.name}): tensor ${p.name} has ${v.length} values, arch wants ${
          JSON.stringify(p.shape)
        }`,
      );
    }
    const q = data.quant?.weights[p.name];
    if (q) {
      if (q.q.length !== n) {
        throw new RangeError(
          `encodeWeights(${data.arch.name}): int8 tensor ${p.name} has ${q.q.length} values, want ${n}`,
        );
      }
      tensors.push({
        name: p.name,
        shape: p.shape,
        dtype: "int8",
        offset,
        bytes: n,
        scale: q.scale.slice(),
        zeroPoint: q.scale.map(() => 0),
        axis: q.axis,
      });
      offset = align(offset + n);
      continue;
    }
    tensors.push({ name: p.name, shape: p.shape, dtype: "float32", offset, bytes: 4 * n });
    offset = align(offset + 4 * n);
  }
  const dataBytes = tensors.length
    ? tensors[tensors.length - 1].offset + tensors[tensors.length - 1].bytes
    : 0;
  const body = new Uint8Array(dataBytes);
  for (const t of tensors) {
    if (t.dtype === "int8") {
      const q = data.quant!.weights[t.name].q;
      body.set(new Uint8Array(q.buffer, q.byteOffset, t.bytes), t.offset);
      continue;
    }
    const v = data.params[t.name];
    body.set(new Uint8Array(v.buffer, v.byteOffset, t.bytes), t.offset);
  }
  const header: WeightsHeader = {
    format: "mtcnn-weights",
    version: WEIGHTS_VERSION,
    arch: data.arch,
    provenance: data.meta.provenance ?? null,
    training: data.meta.training ?? null,
    metrics: data.meta.metrics ?? null,
    tensors,
    dataBytes,
    crc32: crc32(body),
  };
  if (data.quant) {
    header.quantization = { method: data.quant.method, activations: data.quant.activations };
    if (data.quant.bits === 7) header.quantization.bits = 7;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align(16 + json.length);
  const out = new Uint8Array(dataStart + dataBytes);
  out.set(new TextEncoder().encode(WEIGHTS_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, WEIGHTS_VERSION, true);
  view.setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(body, dataStart);
  return out;
}

/** Reads only the header of weights file bytes (checks magic, version, lengths). */
export function decodeWeightsHeader(
  bytes: Uint8Array,
  file = "weights",
): { header: WeightsHeader; dataStart: number } {
  const bad = (what: string): never => {
    throw new RangeError(`Cannot load "${file}": ${what}`);
  };
  if (bytes.length < 16) {
    bad(`file is ${bytes.length} bytes, too short for a weights file (truncated?)`);
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== WEIGHTS_MAGIC) {
    bad(
      `not a weights file (magic is "${
        magic.replace(/[^\x20-\x7e]/g, "?")
      }", want "${WEIGHTS_MAGIC}")`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== WEIGHTS_VERSION) {
    bad(`format version ${version} is not supported (this reader knows ${WEIGHTS_VERSION})`);
  }
  const hlen = view.getUint32(12, true);
  if (16 + hlen > bytes.length) {
    bad(`header of ${hlen} bytes runs past the end of the ${bytes.length}-byte file (truncated)`);
  }
  let header: WeightsHeader;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(16, 16 + hlen)),
    );
  } catch (e) {
    return bad(`header is not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (typeof header !== "object" || header === null || header.format !== "mtcnn-weights") {
    bad(`header.format is not "mtcnn-weights"`);
  }
  if (!Array.isArray(header.tensors)) bad("header.tensors is missing");
  if (typeof header.dataBytes !== "number") bad("header.dataBytes is missing");
  const dataStart = align(16 + hlen);
  if (dataStart + header.dataBytes > bytes.length) {
    bad(
      `data section needs ${
        dataStart + header.dataBytes
      } bytes, file has ${bytes.length} (truncated)`,
    );
  }
  return { header, dataStart };
}

/**
 * Decodes weights file bytes to plain arrays, checking every tensor against
 * the arch: `Cannot load "w.mtcnn": tensor conv2.weight has shape [3,3,10,16], arch wants [3,3,10,15]`.
 */
export function decodeWeights(bytes: Uint8Array, file = "weights"): NetData {
  const { header, dataStart } = decodeWeightsHeader(bytes, file);
  const where = `Cannot load "${file}"`;
  const bad = (what: string): never => {
    throw new RangeError(`${where}: ${what}`);
  };
  const arch = validateArch(header.arch, where);
  const body = bytes.subarray(dataStart, dataStart + header.dataBytes);
  if (typeof header.crc32 === "number" && crc32(body) !== header.crc32) {
    bad("data checksum mismatch (file is corrupt)");
  }
  const specs = planArch(arch).params;
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  for (const t of header.tensors) {
    if (!specs.some((p) => p.name === t.name)) {
      bad(`tensor ${t.name} is not a parameter of the ${arch.name} arch`);
    }
  }
  const params: Record<string, Float32Array> = {};
  const weights: NetQuant["weights"] = {};
  for (const p of specs) {
    const t = byName.get(p.name);
    if (!t) return bad(`tensor ${p.name} is missing`);
    if (!Array.isArray(t.shape) || JSON.stringify(t.shape) !== JSON.stringify(p.shape)) {
      bad(
        `tensor ${p.name} has shape ${JSON.stringify(t.shape)}, arch wants ${
          JSON.stringify(p.shape)
        }`,
      );
    }
    const n = p.shape.reduce((a, b) => a * b, 1);
    const size = t.dtype === "float32"
      ? 4 * n
      : t.dtype === "int8"
      ? n
      : bad(`tensor ${p.name} has dtype ${JSON.stringify(t.dtype)} (want float32 or int8)`);
    if (t.bytes !== size || !(t.offset >= 0) || t.offset + size > body.length) {
      bad(
        `tensor ${p.name} at bytes ${t.offset}+${t.bytes} does not fit its shape or the data section`,
      );
    }
    const raw = body.subarray(t.offset, t.offset + size);
    params[p.name] = t.dtype === "float32" ? floatsOf(raw) : dequantize(raw, p.shape, t, where);
    // symmetric int8 tensors are kept raw too (the int8 engine wants zero points 0)
    if (t.dtype === "int8" && !(t.zeroPoint ?? []).some((z) => z !== 0)) {
      weights[p.name] = {
        q: new Int8Array(raw.slice().buffer),
        scale: t.scale!.slice(),
        axis: t.axis ?? p.shape.length - 1,
      };
    }
  }
  const meta: NetMeta = {};
  if (header.provenance) meta.provenance = header.provenance;
  if (header.training) meta.training = header.training;
  if (header.metrics) meta.metrics = header.metrics;
  const data: NetData = { arch, params, meta };
  if (header.quantization) {
    const acts = header.quantization.activations;
    if (!acts || typeof acts !== "object") bad("header.quantization.activations is missing");
    for (const [name, a] of Object.entries(acts!)) {
      for (const q of [a?.input, a?.output]) {
        if (q === undefined && a?.input !== undefined) continue;
        if (
          !q || !(q.scale > 0) || !Number.isInteger(q.zeroPoint) || q.zeroPoint < 0 ||
          q.zeroPoint > 255
        ) {
          bad(`header.quantization.activations.${name} needs a scale > 0 and a zero point 0..255`);
        }
      }
    }
    const bits = header.quantization.bits ?? 8;
    if (bits !== 7 && bits !== 8) bad(`header.quantization.bits is ${bits} (want 7 or 8)`);
    data.quant = { weights, activations: acts, method: header.quantization.method };
    if (bits === 7) data.quant.bits = 7;
  }
  return data;
}

function floatsOf(raw: Uint8Array): Float32Array {
  if (raw.byteOffset % 4 === 0) {
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  }
  const out = new Float32Array(raw.length / 4);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

function dequantize(raw: Uint8Array, shape: number[], t: TensorEntry, where: string): Float32Array {
  const axis = t.axis ?? shape.length - 1;
  const scale = t.scale ?? [];
  const zp = t.zeroPoint ?? scale.map(() => 0);
  const dim = shape[axis] ?? 1;
  if (!(scale.length === 1 || scale.length === dim) || zp.length !== scale.length) {
    throw new RangeError(
      `${where}: tensor ${t.name} is int8 with ${scale.length} scales, want 1 or ${dim}`,
    );
  }
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const k = scale.length === 1 ? 0 : Math.floor(i / inner) % dim;
    out[i] = scale[k] * (((raw[i] << 24) >> 24) - zp[k]);
  }
  return out;
}

/**
 * Writes a net (tensors or arrays) to `path` atomically.
 *
 * @example
 * ```ts
 * await saveNet("weights/original/pnet.mtcnn", net);
 * ```
 */
export async function saveNet(path: string, net: Net | NetData): Promise<void> {
  const data = isNetData(net) ? net : await netToData(net);
  await writeFileAtomic(path, encodeWeights(data));
}

function isNetData(net: Net | NetData): net is NetData {
  return Object.values(net.params).every((v) => v instanceof Float32Array);
}

/** Reads a weights file to plain arrays (no tfjs backend needed). */
export async function loadNetData(path: string): Promise<NetData> {
  return decodeWeights(await readFileChecked(path), path);
}

/**
 * Reads a weights file into tensors on the current tfjs backend. Throws a
 * one-line RangeError naming the file and tensor on any mismatch.
 *
 * @example
 * ```ts
 * const onet = await loadNet("weights/original/onet.mtcnn");
 * ```
 */
export async function loadNet(path: string): Promise<Net> {
  const data = await loadNetData(path);
  return createNet(data.arch, data.params, data.meta, `Cannot load "${path}"`);
}

let CRC_TABLES: Uint32Array[] | undefined;

/** CRC-32 (IEEE 802.3) of `bytes` (slicing by 4: ~1 ms per MB). */
export function crc32(bytes: Uint8Array): number {
  if (!CRC_TABLES) {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t0[n] = c >>> 0;
    }
    CRC_TABLES = [t0];
    for (let k = 1; k < 4; k++) {
      const prev = CRC_TABLES[k - 1];
      const t = new Uint32Array(256);
      for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
      CRC_TABLES.push(t);
    }
  }
  const [t0, t1, t2, t3] = CRC_TABLES;
  let c = 0xffffffff;
  const n = bytes.length;
  const end4 = n - (n % 4);
  let i = 0;
  for (; i < end4; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
