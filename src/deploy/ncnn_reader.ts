/**
 * A reader for ncnn models: the `.param` text (magic 7767517, "layer_count
 * blob_count", one line per layer: type, name, input count, output count,
 * input blobs, output blobs, `k=v` params where v is an int, a float, or an
 * array written `-23300-k=n,v1,...,vn`) and the `.bin` weights of the layers
 * MTCNN-like nets use (Convolution, ConvolutionDepthWise, InnerProduct: weights
 * behind a 4-byte flag — 0 for float32, 0x01306B47 for float16 — then raw
 * float32 biases; PReLU: raw slopes). It checks what the format declares: the
 * layer and blob counts, that every blob is produced before it is read and
 * read by at most one layer (ncnn wants a Split otherwise), and that the
 * weights fill the .bin exactly.
 *
 * @example
 * ```ts
 * const net = readNcnn(await Deno.readTextFile("pnet.param"), await Deno.readFile("pnet.bin"), "pnet");
 * net.layers.map((l) => l.type); // ["Input", "Convolution", "PReLU", ...]
 * ```
 */

/** NCNN_MAGIC of .param files. */
const MAGIC = "7767517";
const FLAG_FP16 = 0x01306b47;
const FLAG_INT8 = 0x000d4b38;

/** One layer of a .param file, with its weights once the .bin is read. */
export interface NcnnLayer {
  type: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** Params by id; arrays for `-23300-id` entries. */
  params: Map<number, number | number[]>;
  /** Weights by role (`weight`, `bias`, `slope`), float32. */
  weights: Record<string, Float32Array>;
  /** 1-based line number in the .param file. */
  line: number;
}

/** A parsed ncnn model. */
export interface NcnnNet {
  layers: NcnnLayer[];
  /** The blob count the .param file declares (checked against the layers). */
  blobCount: number;
  /** Every blob name, in order of production. */
  blobs: string[];
}

/** A param of a layer as a number, or `dflt` when absent. */
export function ncnnParam(layer: NcnnLayer, id: number, dflt = 0): number {
  const v = layer.params.get(id);
  if (v === undefined) return dflt;
  if (Array.isArray(v)) {
    throw new TypeError(`ncnn layer "${layer.name}": param ${id} is an array, want a number`);
  }
  return v;
}

/**
 * Parses the text of a `.param` file (no weights). Throws a one-line
 * RangeError naming the file and line for anything malformed.
 */
export function parseNcnnParam(text: string, file = "model.param"): NcnnNet {
  const bad = (line: number, what: string): never => {
    throw new RangeError(`Cannot read "${file}": line ${line}: ${what}`);
  };
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== MAGIC) {
    bad(1, `magic is "${(lines[0] ?? "").trim().slice(0, 20)}", want ${MAGIC}`);
  }
  const counts = (lines[1] ?? "").trim().split(/\s+/);
  if (counts.length !== 2 || !counts.every((c) => /^\d+$/.test(c))) {
    bad(2, `want "layer_count blob_count", got "${(lines[1] ?? "").trim()}"`);
  }
  const layerCount = Number(counts[0]);
  const blobCount = Number(counts[1]);
  const layers: NcnnLayer[] = [];
  const produced = new Set<string>();
  const blobs: string[] = [];
  const consumer = new Map<string, string>();
  for (let i = 2; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    const tok = raw.split(/\s+/);
    const ln = i + 1;
    if (tok.length < 4) bad(ln, `want "type name inputs outputs ...", got "${raw.slice(0, 40)}"`);
    const [type, name] = tok;
    const nin = Number(tok[2]);
    const nout = Number(tok[3]);
    if (!Number.isInteger(nin) || !Number.isInteger(nout) || nin < 0 || nout < 0) {
      bad(ln, `layer "${name}": blob counts "${tok[2]} ${tok[3]}" are not integers`);
    }
    if (tok.length < 4 + nin + nout) {
      bad(ln, `layer "${name}" names ${tok.length - 4} blobs, declares ${nin + nout}`);
    }
    const inputs = tok.slice(4, 4 + nin);
    const outputs = tok.slice(4 + nin, 4 + nin + nout);
    for (const b of inputs) {
      if (!produced.has(b)) bad(ln, `layer "${name}" reads blob "${b}" before any layer writes it`);
      const other = consumer.get(b);
      if (other) {
        bad(ln, `blob "${b}" feeds "${other}" and "${name}" (ncnn needs a Split layer)`);
      }
      consumer.set(b, name);
    }
    for (const b of outputs) {
      if (produced.has(b)) bad(ln, `blob "${b}" is written twice`);
      produced.add(b);
      blobs.push(b);
    }
    const params = new Map<number, number | number[]>();
    for (const kv of tok.slice(4 + nin + nout)) {
      const m = /^(-?\d+)=(.+)$/.exec(kv);
      if (!m) bad(ln, `layer "${name}": param "${kv}" is not k=v`);
      let id = Number(m![1]);
      const value = m![2];
      const num = (s: string) => {
        const v = Number(s);
        if (s === "" || !Number.isFinite(v)) {
          bad(ln, `layer "${name}": param ${id} value "${s}" is not a number`);
        }
        return v;
      };
      if (id <= -23300) {
        id = -id - 23300;
        const parts = value.split(",");
        const n = num(parts[0]);
        if (parts.length - 1 !== n) {
          bad(
            ln,
            `layer "${name}": array param ${id} declares ${n} values, has ${parts.length - 1}`,
          );
        }
        params.set(id, parts.slice(1).map(num));
      } else params.set(id, num(value));
    }
    layers.push({ type, name, inputs, outputs, params, weights: {}, line: ln });
  }
  if (layers.length !== layerCount) {
    bad(2, `declares ${layerCount} layers, the file has ${layers.length}`);
  }
  if (blobs.length !== blobCount) {
    bad(2, `declares ${blobCount} blobs, the layers write ${blobs.length}`);
  }
  return { layers, blobCount, blobs };
}

/**
 * Reads a `.param` text and its `.bin` weights. Throws a one-line
 * RangeError/TypeError naming the file for malformed input, unknown layer
 * types, weight encodings it does not read (int8, quantized tables) and a
 * .bin that is too short or too long.
 *
 * @example
 * ```ts
 * const net = readNcnn(paramText, binBytes, "onet");
 * net.layers.find((l) => l.type === "InnerProduct")!.weights.weight.length;
 * ```
 */
export function readNcnn(paramText: string, bin: Uint8Array, file = "model"): NcnnNet {
  const net = parseNcnnParam(paramText, `${file}.param`);
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let pos = 0;
  const where = `Cannot read "${file}.bin"`;
  const need = (n: number, l: NcnnLayer) => {
    if (pos + n > bin.length) {
      throw new RangeError(
        `${where}: layer "${l.name}" needs ${n} bytes at ${pos}, the file has ${bin.length} (truncated?)`,
      );
    }
  };
  const raw = (n: number, l: NcnnLayer): Float32Array => {
    need(4 * n, l);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(pos + 4 * i, true);
    pos += 4 * n;
    return out;
  };
  const tagged = (n: number, l: NcnnLayer): Float32Array => {
    need(4, l);
    const flag = view.getUint32(pos, true);
    pos += 4;
    if (flag === 0) return raw(n, l);
    if (flag === FLAG_FP16) {
      const bytes = Math.ceil((2 * n) / 4) * 4;
      need(bytes, l);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(pos + 2 * i, true));
      pos += bytes;
      return out;
    }
    throw new TypeError(
      `${where}: layer "${l.name}" stores ${
        flag === FLAG_INT8 ? "int8" : `quantized (flag 0x${flag.toString(16)})`
      } weights, which this reader does not read`,
    );
  };
  for (const l of net.layers) {
    switch (l.type) {
      case "Convolution":
      case "ConvolutionDepthWise":
        l.weights.weight = tagged(ncnnParam(l, 6), l);
        if (ncnnParam(l, 5)) l.weights.bias = raw(ncnnParam(l, 0), l);
        break;
      case "InnerProduct":
        l.weights.weight = tagged(ncnnParam(l, 2), l);
        if (ncnnParam(l, 1)) l.weights.bias = raw(ncnnParam(l, 0), l);
        break;
      case "PReLU":
        l.weights.slope = raw(ncnnParam(l, 0), l);
        break;
      case "Input":
      case "Pooling":
      case "ReLU":
      case "Softmax":
      case "Split":
        break;
      default:
        throw new TypeError(
          `Cannot read "${file}.param": line ${l.line}: layer type ${l.type} is not supported by this reader`,
        );
    }
  }
  if (pos !== bin.length) {
    throw new RangeError(
      `${where}: ${bin.length - pos} bytes are left after the last layer's weights`,
    );
  }
  return net;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
