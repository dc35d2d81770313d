// The backend of CONTRIBUTING.md, as written there: a custom backend passes the exported contract.
import { serialize, deserialize } from 'node:v8';
import { describeCacheBackendContract } from '../../lib/testing/index.js';
import {
  CacheConfigError,
  CacheValueError,
  MISS,
  type BackendContext,
  type CacheBackend,
  type Miss,
  type ResolvedCacheEntry,
} from '../../lib/index.js';

interface Stored {
  bytes: Buffer;
  expiresAt: number;
}

// Stores of one location share their data, as Django's locmem caches do.
const locations = new Map<string, Map<string, Stored>>();

export class MapBackend implements CacheBackend {
  private readonly data: Map<string, Stored>;

  // The entry is the alias's resolved settings; the context resolves providers (a DataSource…).
  constructor(entry: ResolvedCacheEntry, _context: BackendContext) {
    if (typeof entry.location !== 'string') {
      throw new CacheConfigError(`caches.${entry.alias}.location: give the map a name, e.g. location: 'main'.`);
    }
    let data = locations.get(entry.location);
    if (data === undefined) locations.set(entry.location, (data = new Map()));
    this.data = data;
  }

  get(key: string): unknown {
    const found = this.live(key);
    return found === undefined ? MISS : deserialize(found.bytes);
  }

  set(key: string, value: unknown, ttlMs: number | null): void {
    this.data.set(key, { bytes: encode(value, key), expiresAt: expiry(ttlMs) });
  }

  add(key: string, value: unknown, ttlMs: number | null): boolean {
    if (this.live(key) !== undefined) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  // Optional, but the fallback (get, then set with the alias default) does not keep the expiry.
  incr(key: string, delta: number): number | Miss {
    const found = this.live(key);
    if (found === undefined) return MISS;
    const current: unknown = deserialize(found.bytes);
    if (typeof current !== 'number') throw new CacheValueError(`Cannot increment key '${key}': not a number.`);
    const next = current + delta;
    if (!Number.isSafeInteger(next)) {
      throw new CacheValueError(
        `Cannot increment key '${key}': the result is outside ±Number.MAX_SAFE_INTEGER; the stored value is unchanged.`,
      );
    }
    found.bytes = serialize(next);
    return next;
  }

  // Optional, but the fallback stores the entries one by one: this one stores all or none.
  setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: number | null): string[] {
    const encoded = entries.map(([key, value]) => [key, encode(value, key)] as const);
    for (const [key, bytes] of encoded) this.data.set(key, { bytes, expiresAt: expiry(ttlMs) });
    return [];
  }

  delete(key: string): boolean {
    const live = this.live(key) !== undefined;
    this.data.delete(key);
    return live;
  }

  touch(key: string, ttlMs: number | null): boolean {
    const found = this.live(key);
    if (found !== undefined) found.expiresAt = expiry(ttlMs);
    return found !== undefined;
  }

  clear(): void {
    this.data.clear();
  }

  private live(key: string): Stored | undefined {
    const found = this.data.get(key);
    return found !== undefined && found.expiresAt > Date.now() ? found : undefined;
  }
}

function expiry(ttlMs: number | null): number {
  return ttlMs === null ? Infinity : Date.now() + ttlMs;
}

function encode(value: unknown, key: string): Buffer {
  try {
    return serialize(value);
  } catch (error) {
    throw new CacheValueError(`Value for key '${key}' cannot be serialized: ${(error as Error).message}.`);
  }
}

describeCacheBackendContract('a custom Map backend', (store) => ({ backend: MapBackend, location: store }));
