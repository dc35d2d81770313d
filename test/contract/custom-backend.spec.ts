import { deserialize, serialize } from 'node:v8';
import { describeCacheBackendContract } from '../../lib/testing/index.js';
import { CacheValueError, MISS, type CacheBackend, type Miss, type ResolvedCacheEntry } from '../../lib/index.js';

interface Stored {
  bytes: Buffer;
  expiresAt: number;
}

/**
 * What a custom backend author writes: the primitives over a store, here a Map per location, so
 * that aliases of one location share their data as the contract expects. Values are stored as
 * bytes, so that callers mutating them later never change what is stored.
 */
class MapBackend implements CacheBackend {
  private static readonly stores = new Map<string, Map<string, Stored>>();
  private readonly data: Map<string, Stored>;

  constructor(entry: ResolvedCacheEntry) {
    const location = String(entry.location);
    let data = MapBackend.stores.get(location);
    if (data === undefined) MapBackend.stores.set(location, (data = new Map()));
    this.data = data;
  }

  get(key: string): unknown {
    const found = this.live(key);
    return found === undefined ? MISS : deserialize(found.bytes);
  }

  set(key: string, value: unknown, ttlMs: number | null): void {
    this.data.set(key, { bytes: encode(value, key), expiresAt: ttlMs === null ? Infinity : Date.now() + ttlMs });
  }

  add(key: string, value: unknown, ttlMs: number | null): boolean {
    if (this.live(key) !== undefined) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  // Written here, not left to the generic fallback: all or none of the entries are stored.
  setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: number | null): string[] {
    const encoded = entries.map(([key, value]) => [key, encode(value, key)] as const);
    const expiresAt = ttlMs === null ? Infinity : Date.now() + ttlMs;
    for (const [key, bytes] of encoded) this.data.set(key, { bytes, expiresAt });
    return [];
  }

  // Written here, not left to the generic fallback, so that the key keeps its expiry.
  incr(key: string, delta: number): number | Miss {
    const found = this.live(key);
    if (found === undefined) return MISS;
    const current: unknown = deserialize(found.bytes);
    if (typeof current !== 'number') throw new CacheValueError(`Cannot increment key '${key}': not a number.`);
    const next = current + delta;
    if (Math.abs(next) > Number.MAX_SAFE_INTEGER) {
      throw new CacheValueError(
        `Cannot increment key '${key}': the result is outside ±Number.MAX_SAFE_INTEGER; the stored value is unchanged.`,
      );
    }
    found.bytes = serialize(next);
    return next;
  }

  delete(key: string): boolean {
    const live = this.live(key) !== undefined;
    this.data.delete(key);
    return live;
  }

  touch(key: string, ttlMs: number | null): boolean {
    const found = this.live(key);
    if (found === undefined) return false;
    found.expiresAt = ttlMs === null ? Infinity : Date.now() + ttlMs;
    return true;
  }

  clear(): void {
    this.data.clear();
  }

  private live(key: string): Stored | undefined {
    const found = this.data.get(key);
    return found !== undefined && found.expiresAt > Date.now() ? found : undefined;
  }
}

function encode(value: unknown, key: string): Buffer {
  try {
    return serialize(value);
  } catch (error) {
    throw new CacheValueError(`Value for key '${key}' cannot be serialized: ${(error as Error).message}.`);
  }
}

describeCacheBackendContract('a custom Map backend', (store) => ({ backend: MapBackend, location: store }));
