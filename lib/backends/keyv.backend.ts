import { Keyv, type KeyvStoreAdapter } from 'keyv';
import { describeValue } from '../core/describe-value.js';
import { CacheConfigError, CacheValueError } from '../core/errors.js';
import { checkOptionNames } from '../core/resolve-config.js';
import { decodeValue, encodeValue, isJsonExact } from '../core/serializer.js';
import type { TtlMs } from '../core/timeouts.js';
import { addDelta } from '../core/values.js';
import { MISS, type CacheBackend, type Miss, type ValueWithTtl } from '../interfaces/cache-backend.interface.js';
import type { ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';

// Values are text, the one form every Keyv store holds (SQL text columns, redis strings, a Map):
// JSON after a marker when JSON keeps them exactly (several times cheaper), else V8-serialized
// (structured clone, as every backend) in base64, which starts with V8's version tag.
const JSON_MARKER = 'J';
const ENCODING = 'base64';
const V8_VERSION_TAG_BASE64 = '/w';

/**
 * Builds the keyv backend of an alias over `options.store`: a `Keyv` instance, a Keyv storage
 * adapter (`new KeyvRedis(url)`, `new KeyvPostgres(url)`...) or a `Map`.
 *
 * @example { backend: 'keyv', options: { store: new KeyvRedis('redis://127.0.0.1:6379', { throwOnErrors: true }) } }
 */
export function createKeyvBackend(entry: ResolvedCacheEntry): KeyvBackend {
  checkOptionNames(entry, ['store']);
  const { store } = entry.options as { store?: unknown };
  const isAdapter =
    store instanceof Map ||
    (typeof store === 'object' &&
      store !== null &&
      ['get', 'set', 'delete', 'clear'].every(
        (name) => typeof (store as Record<string, unknown>)[name] === 'function',
      ));
  if (!isAdapter) {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.store must be a Keyv instance or a Keyv storage adapter (get, set, delete, clear), e.g. new Keyv() or new KeyvRedis('redis://127.0.0.1:6379'); got ${describeValue(store)}.`,
    );
  }
  return new KeyvBackend(ownKeyv(store as Keyv | KeyvStoreAdapter | Map<unknown, unknown>));
}

/**
 * A Keyv of our own over the given store, in the given Keyv's namespace: Keyv swallows store
 * errors unless `throwOnErrors` is set, and a failure read as a miss would bypass the alias's
 * error handling (CacheBackendError, ignoreErrors, the circuit breaker). The envelope
 * (`{ value, expires }`) is plain JSON: the value inside it is already text.
 */
function ownKeyv(store: Keyv | KeyvStoreAdapter | Map<unknown, unknown>): Keyv {
  const common = { throwOnErrors: true, emitErrors: false, serialize: JSON.stringify, deserialize: JSON.parse };
  if (store instanceof Keyv) {
    return new Keyv({ ...common, store: store.store, namespace: store.namespace, useKeyPrefix: store.useKeyPrefix });
  }
  // Keyv would put an adapter in its 'keyv' namespace: keep the adapter's own (or none).
  return new Keyv({ ...common, store, namespace: (store as { namespace?: string }).namespace });
}

/**
 * Django's API over any Keyv store. Keyv's calls are what the store offers: `getMany`, `setMany`,
 * `deleteMany` and `has` use the adapter's native ones where it has them (Keyv loops otherwise).
 * Keyv has no conditional or counting writes, so `add`, `incr` and `touch` read, then write: not
 * atomic across processes (docs/backends.md). `clear()` is Keyv's: it empties the Keyv namespace,
 * so aliases that must be cleared apart need namespaces of their own.
 */
export class KeyvBackend implements CacheBackend {
  /** A `Map` cannot be down: no breaker or deadline, as for locmem. */
  readonly inProcess: boolean;

  constructor(readonly keyv: Keyv) {
    this.inProcess = keyv.store instanceof Map;
  }

  // get and set hand on Keyv's promise (no async wrapper): one microtask less per call.
  get(key: string): Promise<unknown> {
    return this.keyv.get<string>(key).then((stored) => decodeStored(stored, key));
  }

  async getWithTtl(key: string): Promise<ValueWithTtl | Miss> {
    const raw = await this.keyv.getRaw<string>(key);
    if (raw === undefined) return MISS;
    return { value: decodeStored(raw.value, key), ttlMs: raw.expires == null ? null : raw.expires - Date.now() };
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    const values = await this.keyv.getMany<string>([...keys]);
    return values.map((value, i) => decodeStored(value, keys[i]!));
  }

  async has(key: string): Promise<boolean> {
    return this.keyv.has(key);
  }

  set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    // Keyv's answer (true, or false from stores that refuse) says nothing the throw would not.
    const answer =
      ttlMs !== null && ttlMs <= 0
        ? this.keyv.delete(key)
        : this.keyv.set(key, encodeStored(value, key), keyvTtl(ttlMs));
    return answer as Promise<unknown> as Promise<void>;
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    // Encoded first: a value that cannot be stored stores none.
    const encoded = entries.map(([key, value]) => ({ key, value: encodeStored(value, key), ttl: keyvTtl(ttlMs) }));
    if (encoded.length === 0) return [];
    const results = await this.keyv.setMany(encoded);
    // Adapters with a native setMany answer nothing: no answer means stored.
    return Array.isArray(results) ? encoded.filter((_, i) => results[i] === false).map(({ key }) => key) : [];
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    const encoded = encodeStored(value, key);
    if (await this.keyv.has(key)) return false;
    await this.keyv.set(key, encoded, keyvTtl(ttlMs));
    return true;
  }

  /** Read, add, write back with the time the key had left. */
  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    const current = await this.getWithTtl(key);
    if (current === MISS || (current.ttlMs !== null && current.ttlMs <= 0)) return MISS;
    const next = addDelta(current.value, delta, key);
    await this.keyv.set(key, encodeStored(next, key), keyvTtl(current.ttlMs));
    return next;
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    const raw = await this.keyv.getRaw<string>(key);
    if (raw === undefined) return false;
    if (ttlMs !== null && ttlMs <= 0) await this.keyv.delete(key);
    else await this.keyv.set(key, raw.value, keyvTtl(ttlMs));
    return true;
  }

  /**
   * Whether a live value was removed. Stores without expiry of their own (a `Map`, SQL tables) keep
   * a dead entry until Keyv reads it, and would answer true for it: Keyv's `get` drops it first.
   */
  async delete(key: string): Promise<boolean> {
    if ((await this.keyv.get(key)) === undefined) return false;
    return this.keyv.delete(key);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.keyv.deleteMany([...keys]);
  }

  async clear(): Promise<void> {
    await this.keyv.clear();
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }
}

/** Keyv's ttl: milliseconds, where `undefined` never expires and 0 would mean "never" too. */
function keyvTtl(ttlMs: TtlMs): number | undefined {
  return ttlMs === null ? undefined : Math.max(1, Math.ceil(ttlMs));
}

function encodeStored(value: unknown, key: string): string {
  if (isJsonExact(value)) return JSON_MARKER + JSON.stringify(value);
  return encodeValue(value, key).toString(ENCODING);
}

function decodeStored(stored: unknown, key: string): unknown {
  if (stored === undefined || stored === null) return MISS;
  const isJson = typeof stored === 'string' && stored.startsWith(JSON_MARKER);
  if (!isJson && (typeof stored !== 'string' || !stored.startsWith(V8_VERSION_TAG_BASE64))) {
    throw new CacheValueError(
      `Value of key '${key}' was not written by nestjs-caches (it is not a serialized value); another Keyv client uses the same namespace. Give the alias a Keyv namespace of its own.`,
    );
  }
  try {
    return isJson ? JSON.parse(stored.slice(JSON_MARKER.length)) : decodeValue(Buffer.from(stored, ENCODING));
  } catch (error) {
    throw new CacheValueError(`Value of key '${key}' cannot be decoded: ${(error as Error).message}.`, {
      cause: error,
    });
  }
}
