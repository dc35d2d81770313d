import { EventEmitter } from 'node:events';
import type { Cache } from '../core/cache.js';

const MISSING = Symbol('nestjs-caches.keyv-miss');

/**
 * A Keyv storage adapter over one of this library's stores (what `toKeyvStore` returns). Keyv's
 * key is the store's key, so `cache.get(key)` reads what Keyv set: Keyv's serialized text by
 * default, or `{ value, expires }` itself when Keyv is built with `serialize: undefined` (the
 * store copies values by structured clone, so Date, Map and Buffer survive).
 */
export class KeyvCacheStore extends EventEmitter {
  /** Keyv reads `opts` of every adapter; this one has nothing to configure. */
  readonly opts: { alias: string };
  /** Set by Keyv to its namespace; `clear()` removes only the keys in it. */
  namespace?: string;

  constructor(readonly cache: Cache) {
    super();
    this.opts = { alias: cache.alias };
  }

  async get(key: string): Promise<unknown> {
    const value = await this.cache.get<unknown>(key, MISSING);
    return value === MISSING ? undefined : value;
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    const found = await this.cache.getMany(keys);
    return keys.map((key) => found.get(key));
  }

  async has(key: string): Promise<boolean> {
    return this.cache.has(key);
  }

  /** `ttl` in milliseconds, as Keyv gives it; without one the entry never expires, as in Keyv. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(key, value, ttl === undefined ? null : ttl / 1000);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  /** Whether any key was removed (as `@keyv/redis` answers), so one delete per key. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const deleted = await Promise.all(keys.map((key) => this.cache.delete(key)));
    return deleted.includes(true);
  }

  /** Keyv's namespace only (`namespace:*`, Keyv's key prefix); without a namespace, the whole alias. */
  async clear(): Promise<void> {
    if (this.namespace) await this.cache.clearStartingWith(`${this.namespace}:`);
    else await this.cache.clear();
  }
}

/**
 * A Keyv storage adapter over one of this library's stores, for Keyv, cache-manager and
 * `@nestjs/cache-manager`. Keyv's key is the store's key (Keyv adds `namespace:`), so
 * `cache.get('keyv:user:7')` sees what `keyv.set('user:7', ...)` wrote.
 *
 * @example new Keyv({ store: toKeyvStore(caches.get('redis')) })
 */
export function toKeyvStore(cache: Cache): KeyvCacheStore {
  return new KeyvCacheStore(cache);
}
