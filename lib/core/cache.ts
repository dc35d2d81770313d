import { MISS, type CacheBackend } from '../interfaces/cache-backend.interface.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
import type { CacheParts, CacheSettings } from './cache-settings.js';
import type { CacheStats } from './cache-stats.js';
import { completeBackend, type CompleteBackend } from './complete-backend.js';
import { CacheBackendError, CacheKeyError, CacheValueError } from './errors.js';
import { needsStampedeGuard, StoreGetOrSet, valueOf, type ValueOrFactory } from './get-or-set.js';
import { CacheInstrumentation, type CommandKey } from './instrumentation.js';
import { roundTrip } from './round-trip.js';
import { StoreKeys } from './keys.js';
import { toTtlMs, type TimeoutSeconds } from './timeouts.js';
import { checkDelta, isSafeCount, unsafeCountError } from './values.js';

export type { ValueOrFactory } from './get-or-set.js';
export type { CacheParts, CacheSettings } from './cache-settings.js';

const found = (value: unknown): boolean => value !== MISS;

/**
 * One named store: Django's cache API, in camelCase and async, over a backend's primitives:
 * keys made and checked, timeouts in seconds, versions, and backend failures either thrown as
 * `CacheBackendError` or, with `ignoreErrors`, answered as misses. Also the injection token of
 * the `default` alias, so `constructor(private readonly cache: Cache)` needs no decorator.
 *
 * @example await cache.set('recipe:7', recipe, 600); const hit = await cache.get('recipe:7');
 */
export class Cache {
  readonly alias: string;
  readonly defaultTimeout: TimeoutSeconds;
  readonly keyPrefix: string;
  readonly version: number;
  /** The lifetime of this store's generation keys (`invalidation/`), per store. @internal */
  readonly generationLifetime: { timeout: TimeoutSeconds | undefined } = { timeout: undefined };
  private readonly keys: StoreKeys;
  private readonly ignoreErrors: boolean;
  private readonly backend: CompleteBackend;
  private readonly instruments: CacheInstrumentation;
  private readonly computing: StoreGetOrSet;

  constructor(settings: CacheSettings, backend: CacheBackend, parts: CacheParts = {}) {
    this.alias = settings.alias;
    this.defaultTimeout = settings.timeout;
    this.keyPrefix = settings.keyPrefix;
    this.version = settings.version;
    this.ignoreErrors = settings.ignoreErrors;
    this.backend = completeBackend(backend, toTtlMs(undefined, settings.timeout));
    this.keys = new StoreKeys(settings, this.backend.rejectsUnsafeKeys === true);
    this.instruments =
      parts.instrumentation ?? new CacheInstrumentation(settings.alias, settings.measureLatency ?? true);
    this.computing = new StoreGetOrSet(this, parts.getOrSet);
  }

  /** The key as stored in the backend: the key function applied to key, prefix and version. */
  makeKey(key: string, version?: number): string {
    return this.keys.make(key, version);
  }

  /**
   * Checks that a made key would work on memcached: backends that cannot store it throw a
   * `CacheKeyError`, the others emit a `CacheKeyWarning` once per key (as Django does).
   */
  validateKey(key: string): void {
    this.keys.check(key);
  }

  get<T = unknown>(key: string): Promise<T | undefined>;
  get<T = unknown>(key: string, defaultValue: T, version?: number): Promise<T>;
  get<T = unknown>(key: string, defaultValue: T | undefined, version?: number): Promise<T | undefined>;
  async get(key: string, defaultValue?: unknown, version?: number): Promise<unknown> {
    let value = this.read(key, version);
    if (value instanceof Promise) value = await value;
    return value === MISS ? defaultValue : value;
  }

  /** Stores a value; `timeout` in seconds (`undefined`: the alias default, `null`: forever, `0`: not kept). */
  async set(key: string, value: unknown, timeout?: TimeoutSeconds, version?: number): Promise<void> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const made = this.keys.valid(key, version);
    const stored = await this.attempt('set', key, false, async () => {
      if (ttlMs !== null && ttlMs <= 0) await this.backend.delete(made);
      else await this.backend.set(made, value, ttlMs);
      return true;
    });
    if (stored) this.instruments.counters.sets++;
  }

  /** Stores only if the key is absent; `true` when it was absent (even with a timeout of 0). */
  async add(key: string, value: unknown, timeout?: TimeoutSeconds, version?: number): Promise<boolean> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const made = this.keys.valid(key, version);
    if (ttlMs !== null && ttlMs <= 0) return !(await this.attempt('add', key, true, () => this.backend.has(made)));
    const added = await this.attempt('add', key, false, () => this.backend.add(made, value, ttlMs));
    if (added) this.instruments.counters.sets++;
    return added;
  }

  /**
   * Returns the cached value, or computes it (a factory runs only on a miss), stores it and
   * returns it. Concurrent misses of a key in this process share one run of the factory;
   * `options` adds a cross-process lock, stale-while-revalidate, grace and early refresh.
   */
  getOrSet<T>(
    key: string,
    valueOrFactory: ValueOrFactory<T>,
    timeout?: TimeoutSeconds,
    version?: number,
    options?: GetOrSetOptions<T>,
  ): Promise<T> {
    if (!this.instruments.tracing) return this.computing.getOrSet(key, valueOrFactory, timeout, version, options);
    // In a span of its own, the parent of its commands: a hit when the factory did not run.
    let computed = false;
    const counted = () => ((computed = true), valueOf(valueOrFactory));
    const run = () => this.computing.getOrSet(key, counted, timeout, version, options);
    return this.instruments.spanned('getOrSet', key, run, () => !computed);
  }

  /**
   * `get`, then `getOrSet` of `compute(input)` on a miss, for a layer with a source of its own
   * (`@Cacheable`, with `failOpen`): a plain hit costs one `get`, and no closure. `versioned` reads what the key depends on
   * (generations) and gives the key to use; while the store fails, callers share a run by `key`.
   * @internal
   */
  async readThrough<T, I>(
    key: string,
    compute: (input: I) => Promise<T>,
    input: I,
    timeout: TimeoutSeconds | undefined,
    options: GetOrSetOptions<T>,
    versioned?: (key: string) => Promise<string>,
  ): Promise<T> {
    const readNumber = ++this.computing.flights.reads;
    let stored: unknown;
    try {
      if (versioned !== undefined) key = await versioned(key);
      // With options the strategy reads first itself (an envelope, a lease); unawaited, so that
      // getOrSet's failures are its own.
      if (options.unless !== undefined || needsStampedeGuard(options))
        return this.getOrSet(key, () => compute(input), timeout, undefined, options);
      stored = this.read(key, undefined);
      if (stored instanceof Promise) stored = await stored;
    } catch (error) {
      if (options.failOpen !== true) throw error;
      return this.computing.afterFailedRead(error, key, undefined, readNumber, () => compute(input));
    }
    return stored !== MISS ? (stored as T) : this.getOrSet(key, () => compute(input), timeout, undefined, options);
  }

  async has(key: string, version?: number): Promise<boolean> {
    const made = this.keys.valid(key, version);
    return this.attempt('has', key, false, () => this.backend.has(made), Boolean);
  }

  /** Adds `delta` to a stored number, keeping its expiry; atomic where the backend is. */
  async incr(key: string, delta = 1, version?: number): Promise<number> {
    const made = this.keys.valid(key, version);
    checkDelta(delta, key, this.alias);
    let result: number | bigint | typeof MISS;
    try {
      result = await this.instruments.timed('incr', key, () => this.backend.incr(made, delta), found);
    } catch (error) {
      throw this.instruments.failure(error, 'incr', key); // even with ignoreErrors: no count to invent
    }
    if (result === MISS)
      throw new CacheKeyError(`Key '${key}' not found in cache '${this.alias}'; set it before incrementing.`);
    // Stores that count on their server (memcached, custom ones) have kept what they answered.
    if (!isSafeCount(result)) throw unsafeCountError(made, result, `cache '${this.alias}' has already stored it`);
    return result as number;
  }

  async decr(key: string, delta = 1, version?: number): Promise<number> {
    return this.incr(key, -delta, version);
  }

  /** Moves a value to `version + delta` and returns the new version (Django's `incr_version`). */
  async incrVersion(key: string, delta = 1, version?: number): Promise<number> {
    const current = version ?? this.version;
    const value = await this.get<unknown>(key, MISS, current);
    if (value === MISS)
      throw new CacheKeyError(`Key '${key}' not found in cache '${this.alias}' at version ${current}.`);
    await this.set(key, value, undefined, current + delta);
    await this.delete(key, current);
    return current + delta;
  }

  async decrVersion(key: string, delta = 1, version?: number): Promise<number> {
    return this.incrVersion(key, -delta, version);
  }

  /** The keys found, with their values; missing keys are left out. */
  async getMany<T = unknown>(keys: Iterable<string>, version?: number): Promise<Map<string, T>> {
    const userKeys = [...keys]; // a copy: the caller may change its array while we wait
    const madeKeys = userKeys.map((key) => this.keys.valid(key, version));
    const read = () => this.backend.getMany(madeKeys);
    const values = await this.attempt('getMany', userKeys, [] as unknown[], read, (v) => v.every(found));
    const result = new Map<string, T>();
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== MISS) result.set(userKeys[i]!, values[i] as T);
    }
    this.instruments.counters.hits += result.size;
    this.instruments.counters.misses += userKeys.length - result.size;
    return result;
  }

  /**
   * Stores several values at once. A value that cannot be serialized stores none of them and
   * throws; the keys the backend failed to store are returned.
   */
  async setMany(
    entries: Record<string, unknown> | Map<string, unknown>,
    timeout?: TimeoutSeconds,
    version?: number,
  ): Promise<string[]> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const userKeyOf = new Map<string, string>();
    const made: Array<[string, unknown]> = [];
    for (const [key, value] of entries instanceof Map ? entries : Object.entries(entries)) {
      const madeKey = this.keys.valid(key, version);
      userKeyOf.set(madeKey, key);
      made.push([madeKey, value]);
    }
    const userKeys = [...userKeyOf.values()];
    if (ttlMs !== null && ttlMs <= 0) return this.deleteMany(userKeys, version).then(() => []);
    const write = () => this.backend.setMany(made, ttlMs);
    const failed = await this.attempt('setMany', userKeys, [...userKeyOf.keys()], write);
    this.instruments.counters.sets += made.length - failed.length;
    return failed.map((madeKey) => userKeyOf.get(madeKey)!);
  }

  /** `true` when a key was removed. */
  async delete(key: string, version?: number): Promise<boolean> {
    const made = this.keys.valid(key, version);
    const deleted = await this.attempt('delete', key, false, () => this.backend.delete(made));
    if (deleted) this.instruments.counters.deletes++;
    return deleted;
  }

  async deleteMany(keys: Iterable<string>, version?: number): Promise<void> {
    const userKeys = [...keys];
    const made = userKeys.map((key) => this.keys.valid(key, version));
    const deleted = await this.attempt('deleteMany', userKeys, 0, async () => {
      await this.backend.deleteMany(made);
      return made.length;
    });
    this.instruments.counters.deletes += deleted;
  }

  /** Gives a key a new timeout (seconds); `true` if the key existed. */
  async touch(key: string, timeout?: TimeoutSeconds, version?: number): Promise<boolean> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const made = this.keys.valid(key, version);
    return this.attempt('touch', key, false, () => this.backend.touch(made, ttlMs), Boolean);
  }

  /** Removes every key of this alias (and, for shared backends, only this alias's keys). */
  async clear(): Promise<void> {
    await this.attempt('clear', '*', undefined, () => this.backend.clear());
  }

  /**
   * Removes this alias's keys starting with `start`, at every version, on backends that can match
   * keys (`clearMatching`); for `toKeyvStore`'s namespaces. No fallback: others cannot list keys.
   * @internal
   */
  async clearStartingWith(start: string): Promise<void> {
    const pattern = this.keys.clearPattern(start);
    if (this.backend.clearMatching === undefined || pattern === undefined) {
      throw new CacheValueError(
        `Cache '${this.alias}' cannot remove only the keys starting with '${start}': ${pattern === undefined ? 'its keyFunction hides the key' : 'its backend cannot match keys (locmem, redis and tiered over them can)'}. Give the Keyv an alias of its own and no namespace (new Keyv({ store, namespace: undefined })), whose clear() clears the alias.`,
      );
    }
    await this.attempt('clear', `${start}*`, undefined, () => this.backend.clearMatching!(pattern));
  }

  /** Releases connections and timers; the module calls it on application shutdown. */
  async close(): Promise<void> {
    await this.backend.close?.();
  }

  /** The backend's name, as spans give it in `cache.backend` (`redis`, `locmem`, a custom class's name). */
  get backendName(): string {
    return this.instruments.backendName;
  }

  /** The alias's counters since the process started (see `CacheStats`). */
  stats(): CacheStats {
    return this.instruments.stats();
  }

  /** Counts a page answered past its freshness (`X-Cache: STALE`). For the page cache. @internal */
  recordStaleServe(key: string, source: 'getOrSet' | 'page'): void {
    this.instruments.recordStaleServe(key, source);
  }

  /**
   * Writes, reads back and deletes a reserved key straight on the backend: failures are thrown
   * whatever `ignoreErrors` says, and nothing is counted. For the health indicator and the CLI.
   * @internal
   */
  roundTrip(): Promise<{ readBack: boolean }> {
    return roundTrip(this.backend, this.makeKey.bind(this));
  }

  /**
   * A get's value or `MISS`, counted: at once when the backend answers at once (locmem, an L1
   * hit), which is then not awaited: that would cost a turn of the microtask queue.
   */
  private read(key: string, version: number | undefined): unknown {
    const made = this.keys.valid(key, version);
    const instruments = this.instruments;
    let value: unknown;
    try {
      value = instruments.quiet
        ? this.backend.get(made)
        : instruments.timed('get', key, () => this.backend.get(made), found);
    } catch (error) {
      value = this.failedWith(MISS, error, 'get', key);
    }
    if (!(value instanceof Promise)) return this.counted(value);
    const failed = (error: unknown) => this.failedWith(MISS, error, 'get', key);
    return value.catch(failed).then((answer) => this.counted(answer));
  }

  private counted(value: unknown): unknown {
    if (value === MISS) this.instruments.counters.misses++;
    else this.instruments.counters.hits++;
    return value;
  }

  /** One backend command, timed; a failure is thrown, or answered by `fallback` under `ignoreErrors`. */
  private async attempt<T>(
    operation: string,
    key: CommandKey,
    fallback: T,
    run: () => T | Promise<T>,
    hitOf?: (result: T) => boolean,
  ): Promise<T> {
    try {
      return await this.instruments.timed(operation, key, run, hitOf);
    } catch (error) {
      return this.failedWith(fallback, error, operation, key);
    }
  }

  /** `fallback` for a backend failure under `ignoreErrors`; any other error is thrown. */
  private failedWith<T>(fallback: T, error: unknown, operation: string, key: CommandKey): T {
    const failure = this.instruments.failure(error, operation, key);
    if (failure instanceof CacheBackendError && this.ignoreErrors) return fallback;
    throw failure;
  }
}
