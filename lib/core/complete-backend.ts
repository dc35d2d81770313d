import { MISS, type CacheBackend, type Miss } from '../interfaces/cache-backend.interface.js';
import type { TtlMs } from './timeouts.js';
import { addDelta } from './values.js';

/** The optional primitives that have a generic fallback: a completed backend has them all. */
type WithFallback = 'has' | 'incr' | 'getMany' | 'setMany' | 'deleteMany';
export type CompleteBackend = CacheBackend & Required<Pick<CacheBackend, WithFallback>>;

/**
 * A backend with every optional primitive of `WithFallback`, written in terms of the required
 * ones where the backend has none of its own (as Django's `BaseCache` does for `get_many` & co).
 * A backend that has them all is returned as it is; otherwise a plain object whose methods are
 * the backend's own, bound to it (state a backend keeps on `this` stays on the backend).
 *
 * `defaultTtlMs` is the lifetime an `incr` by get-and-set writes, as Django's fallback does.
 */
export function completeBackend(backend: CacheBackend, defaultTtlMs: TtlMs): CompleteBackend {
  const fallbacks: Pick<CompleteBackend, WithFallback> = {
    has: async (key) => (await backend.get(key)) !== MISS,
    incr: async (key, delta): Promise<number | bigint | Miss> => {
      const current = await backend.get(key);
      if (current === MISS) return MISS;
      const next = addDelta(current, delta, key);
      await backend.set(key, next, defaultTtlMs);
      return next;
    },
    getMany: (keys) => getEach(backend, keys),
    setMany: (entries, ttlMs) => setEach(backend, entries, ttlMs),
    deleteMany: (keys) => deleteEach(backend, keys),
  };
  const missing = (Object.keys(fallbacks) as WithFallback[]).filter((name) => backend[name] === undefined);
  if (missing.length === 0) return backend as CompleteBackend;
  const completed = Object.create(backend) as Record<string, unknown>;
  for (const name of methodNames(backend)) {
    const method = (backend as unknown as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
    completed[name] = method.bind(backend);
  }
  for (const name of missing) completed[name] = fallbacks[name];
  return completed as unknown as CompleteBackend;
}

/** `getMany` in terms of `get`. */
export async function getEach(backend: CacheBackend, keys: readonly string[]): Promise<unknown[]> {
  const values: unknown[] = [];
  for (const key of keys) values.push(await backend.get(key));
  return values;
}

/** `setMany` in terms of `set`: no key is reported failed, since a failing `set` throws. */
export async function setEach(
  backend: CacheBackend,
  entries: ReadonlyArray<readonly [string, unknown]>,
  ttlMs: TtlMs,
): Promise<string[]> {
  for (const [key, value] of entries) await backend.set(key, value, ttlMs);
  return [];
}

/** `deleteMany` with the backend's own where it has one, else in terms of `delete`. */
export async function deleteEach(backend: CacheBackend, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  if (backend.deleteMany) await backend.deleteMany(keys);
  else for (const key of keys) await backend.delete(key);
}

/** The methods of an object, its own and its classes', but Object's. */
export function methodNames(object: object): Set<string> {
  const names = new Set<string>();
  for (
    let level: object | null = object;
    level !== null && level !== Object.prototype;
    level = Object.getPrototypeOf(level) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(level)) {
      if (name === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(level, name);
      if (typeof descriptor?.value === 'function') names.add(name);
    }
  }
  return names;
}
