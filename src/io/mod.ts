/**
 * File output that never leaves half-written files behind: everything is
 * written to a temporary sibling and renamed into place.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./mod.ts";
 * await writeFileAtomic("out/result.json", new TextEncoder().encode("{}"));
 * ```
 */

/** A temporary path next to `path`, unique to this process and call. */
export function tempPathFor(path: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  return `${dir}.${base}.tmp-${Deno.pid}-${++counter}`;
}
let counter = 0;

/** Creates the parent directory of `path` if it does not exist. */
export async function ensureParent(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
}

/** Writes `data` to `path` atomically (temp file + rename), creating parent folders. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await ensureParent(path);
  const tmp = tempPathFor(path);
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Writes `text` (UTF-8) to `path` atomically. */
export function writeTextFileAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text));
}

/** Writes `value` as pretty JSON (with a final newline) to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeTextFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** True when `path` exists (file or directory). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Reads a whole file, turning "not found" into a one-line TypeError naming the file. */
export async function readFileChecked(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new TypeError(`Cannot read "${path}": no such file`);
    if (e instanceof Deno.errors.IsADirectory) {
      throw new TypeError(`Cannot read "${path}": it is a directory`);
    }
    throw e;
  }
}
