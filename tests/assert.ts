/**
 * The assertions the tests use, with Deno std's names (JSR is unreachable
 * here). Equality is node:assert's deep strict equality.
 */
import nodeAssert from "node:assert";

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.deepStrictEqual(actual, expected);
  } catch (e) {
    throw new AssertionError((msg ? msg + ": " : "") + (e as Error).message);
  }
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.notDeepStrictEqual(actual, expected);
  } catch (e) {
    throw new AssertionError((msg ? msg + ": " : "") + (e as Error).message);
  }
}

export function assertAlmostEquals(actual: number, expected: number, tolerance = 1e-7, msg?: string) {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${actual} to be within ${tolerance} of ${expected}`,
    );
  }
}

/** Largest absolute difference between two arrays of equal length (throws on length mismatch). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new AssertionError(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

type ErrorClass = new (...args: any[]) => Error;

export function assertThrows(fn: () => unknown, cls?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as Error;
  }
  throw new AssertionError("expected function to throw");
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as Error;
  }
  throw new AssertionError("expected promise to reject");
}

function checkError(e: unknown, cls?: ErrorClass, includes?: string) {
  if (cls && !(e instanceof cls)) {
    throw new AssertionError(`expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  if (includes && !String((e as Error)?.message).includes(includes)) {
    throw new AssertionError(`expected message to include "${includes}", got "${(e as Error)?.message}"`);
  }
}

/** The shared folder (../shared) when present, else undefined. */
export const SHARED = (() => {
  const url = new URL("../../shared/", import.meta.url);
  try {
    Deno.statSync(url);
    return url.pathname;
  } catch {
    return undefined;
  }
})();

/** Options for a Deno.test that needs ../shared: ignored (with one line) when it is absent. */
export function needsShared(what: string): { ignore: boolean } {
  if (!SHARED) console.log(`skip: ../shared is absent (${what})`);
  return { ignore: !SHARED };
}
