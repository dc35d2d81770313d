import { Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { MISS, type CacheBackend } from '../interfaces/cache-backend.interface.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
import type { LeaseStore } from '../stampede/lease.js';
import { needsStampedeGuard, StampedeGuard } from '../stampede/stampede-guard.js';
import { commandChannel, lockWaitChannel, staleChannel } from '../observability/cache-diagnostics.js';
import { emptyCounters, recordLatency, toStats, type CacheStats } from './cache-stats.js';
import { describeValue } from './describe-value.js';
import { CacheBackendError, CacheError, CacheKeyError, CacheValueError } from './errors.js';
import { keyProblem, warnAboutKey, type KeyFunction } from './keys.js';
import { SingleFlight } from './single-flight.js';
import { toTtlMs, type TimeoutSeconds } from './timeouts.js';

/** The settings of one alias that `Cache` applies around its backend. */
export interface CacheSettings {
  alias: string;
  /** Default timeout in seconds; `null` never expires. */
  timeout: TimeoutSeconds;
  keyPrefix: string;
  version: number;
  keyFunction: KeyFunction;
  ignoreErrors: boolean;
  /**
   * Time backend commands for `stats().latency` (default `true`). The module turns it off for
   * in-process stores, whose calls take less time than reading the clock twice.
   */
  measureLatency?: boolean;
}

/** A value to store, or a function (sync or async) that computes it on a miss. */
export type ValueOrFactory<T> = T | (() => T | Promise<T>);

const FAILURE_LOG_INTERVAL_MS = 10_000;
// Written and removed by health checks, under the alias's prefix and version like any key.
const HEALTH_KEY = '__nestjs_caches_health__';
const HEALTH_TTL_MS = 10_000;

const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;
// The start time of a call the backend answered synchronously: it took 0 ms.
const ANSWERED_AT_ONCE = -2;

/**
 * One named store: Django's cache API, in camelCase and async. Also the injection token of the
 * `default` alias, so `constructor(private readonly cache: Cache)` needs no decorator.
 *
 * @example await cache.set('recipe:7', recipe, 600); const hit = await cache.get('recipe:7');
 */
export class Cache {
  readonly alias: string;
  readonly defaultTimeout: TimeoutSeconds;
  readonly keyPrefix: string;
  readonly version: number;
  private readonly keyFunction: KeyFunction;
  private readonly ignoreErrors: boolean;
  private readonly counters = emptyCounters();
  private readonly measureLatency: boolean;
  private readonly logger: Logger;
  private lastFailureLoggedAt = -Infinity;
  private failuresSinceLog = 0;
  /**
   * Factories running right now, by made key: concurrent misses share one run, with or without
   * `GetOrSetOptions` (the stampede guard computes through it too).
   */
  private readonly inFlight = new SingleFlight();
  /** The layers of `GetOrSetOptions` (leases, logical expiry), made on first use. */
  private stampedeGuard: StampedeGuard | undefined;

  constructor(
    settings: CacheSettings,
    private readonly backend: CacheBackend,
  ) {
    this.alias = settings.alias;
    this.defaultTimeout = settings.timeout;
    this.keyPrefix = settings.keyPrefix;
    this.version = settings.version;
    this.keyFunction = settings.keyFunction;
    this.ignoreErrors = settings.ignoreErrors;
    this.measureLatency = settings.measureLatency ?? true;
    this.logger = new Logger(`Cache:${settings.alias}`);
  }

  /** The key as stored in the backend: the key function applied to key, prefix and version. */
  makeKey(key: string, version?: number): string {
    return this.keyFunction(String(key), this.keyPrefix, version ?? this.version);
  }

  /**
   * Checks that a made key would work on memcached: backends that cannot store it throw a
   * `CacheKeyError`, the others emit a `CacheKeyWarning` once per key (as Django does).
   */
  validateKey(key: string): void {
    const problem = keyProblem(key);
    if (problem === undefined) return;
    if (this.backend.rejectsUnsafeKeys)
      throw new CacheKeyError(`Cache '${this.alias}' cannot store this key: ${problem}`);
    warnAboutKey(key, problem);
  }

  get<T = unknown>(key: string): Promise<T | undefined>;
  get<T = unknown>(key: string, defaultValue: T, version?: number): Promise<T>;
  get<T = unknown>(key: string, defaultValue: T | undefined, version?: number): Promise<T | undefined>;
  async get(key: string, defaultValue?: unknown, version?: number): Promise<unknown> {
    const made = this.validKey(key, version);
    const timed = this.isTimed();
    // The hottest call: the clock is read only once the backend answers with a promise. A value
    // answered at once (locmem, a tiered L1 hit) took no time worth two clock reads, and counts as 0 ms.
    let started = ANSWERED_AT_ONCE;
    try {
      let value = this.backend.get(made);
      if (isPromise(value)) {
        if (timed) started = performance.now();
        value = await value;
      }
      if (value === MISS) {
        this.counters.misses++;
        if (timed) this.finish(started, 'get', key, false);
        return defaultValue;
      }
      this.counters.hits++;
      if (timed) this.finish(started, 'get', key, true);
      return value;
    } catch (error) {
      if (timed) this.finish(started, 'get', key, undefined, error);
      this.fail(error, 'get', key);
      this.counters.misses++;
      return defaultValue;
    }
  }

  /** Stores a value; `timeout` in seconds (`undefined`: the alias default, `null`: forever, `0`: not kept). */
  async set(key: string, value: unknown, timeout?: TimeoutSeconds, version?: number): Promise<void> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const made = this.validKey(key, version);
    const started = this.startTimer();
    try {
      if (ttlMs !== null && ttlMs <= 0) await this.backend.delete(made);
      else await this.backend.set(made, value, ttlMs);
      this.counters.sets++;
      if (started >= 0) this.finish(started, 'set', key);
    } catch (error) {
      if (started >= 0) this.finish(started, 'set', key, undefined, error);
      this.fail(error, 'set', key);
    }
  }

  /** Stores only if the key is absent; `true` when it was absent (even with a timeout of 0). */
  async add(key: string, value: unknown, timeout?: TimeoutSeconds, version?: number): Promise<boolean> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const made = this.validKey(key, version);
    const started = this.startTimer();
    try {
      if (ttlMs !== null && ttlMs <= 0) return !(await this.hasMade(made));
      const added = await this.backend.add(made, value, ttlMs);
      if (added) this.counters.sets++;
      if (started >= 0) this.finish(started, 'add', key);
      return added;
    } catch (error) {
      if (started >= 0) this.finish(started, 'add', key, undefined, error);
      this.fail(error, 'add', key);
      return false;
    }
  }

  /**
   * Returns the cached value, or computes it (a factory runs only on a miss), stores it and
   * returns it. Concurrent misses of a key in this process share one run of the factory;
   * `options` adds a cross-process lock, stale-while-revalidate, grace and early refresh.
   */
  async getOrSet<T>(
    key: string,
    valueOrFactory: ValueOrFactory<T>,
    timeout?: TimeoutSeconds,
    version?: number,
    options?: GetOrSetOptions<T>,
  ): Promise<T> {
    if (options !== undefined && needsStampedeGuard(options)) {
      this.stampedeGuard ??= new StampedeGuard(this, this.leaseStore(), this.inFlight);
      return this.stampedeGuard.getOrSet(key, valueOrFactory, timeout, version, options);
    }
    const cached = await this.get<unknown>(key, MISS, version);
    if (cached !== MISS) return cached as T;
    return this.inFlight.run(this.makeKey(key, version), () =>
      this.computeAndStore(key, valueOrFactory, timeout, version, options?.unless),
    );
  }

  async has(key: string, version?: number): Promise<boolean> {
    const made = this.validKey(key, version);
    const started = this.startTimer();
    try {
      const found = await this.hasMade(made);
      if (started >= 0) this.finish(started, 'has', key, found);
      return found;
    } catch (error) {
      if (started >= 0) this.finish(started, 'has', key, undefined, error);
      this.fail(error, 'has', key);
      return false;
    }
  }

  /** Adds `delta` to a stored number, keeping its expiry; atomic where the backend is. */
  async incr(key: string, delta = 1, version?: number): Promise<number> {
    const made = this.validKey(key, version);
    if (typeof delta !== 'number' || !Number.isFinite(delta)) {
      throw new CacheValueError(
        `Cannot increment key '${key}' of cache '${this.alias}' by ${describeValue(delta)}: the delta must be a finite number.`,
      );
    }
    let result: number | bigint | typeof MISS;
    const started = this.startTimer();
    try {
      result = this.backend.incr ? await this.backend.incr(made, delta) : await this.incrByGetAndSet(made, delta);
      if (started >= 0) this.finish(started, 'incr', key, result !== MISS);
    } catch (error) {
      if (started >= 0) this.finish(started, 'incr', key, undefined, error);
      throw this.asCacheError(error, 'incr', key); // even with ignoreErrors: no count to invent
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
    const madeKeys = userKeys.map((key) => this.validKey(key, version));
    const found = new Map<string, T>();
    const started = this.startTimer();
    try {
      const values = this.backend.getMany ? await this.backend.getMany(madeKeys) : await this.getEachMade(madeKeys);
      for (let i = 0; i < values.length; i++) {
        if (values[i] !== MISS) found.set(userKeys[i]!, values[i] as T);
      }
      if (started >= 0) this.finish(started, 'getMany', userKeys, found.size === userKeys.length);
    } catch (error) {
      if (started >= 0) this.finish(started, 'getMany', userKeys, undefined, error);
      this.fail(error, 'getMany', userKeys.join(', '));
    }
    this.counters.hits += found.size;
    this.counters.misses += userKeys.length - found.size;
    return found;
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
      const madeKey = this.validKey(key, version);
      userKeyOf.set(madeKey, key);
      made.push([madeKey, value]);
    }
    if (ttlMs !== null && ttlMs <= 0) {
      await this.deleteMany(userKeyOf.values(), version);
      return [];
    }
    const started = this.startTimer();
    try {
      const failed = this.backend.setMany
        ? await this.backend.setMany(made, ttlMs)
        : await this.setEachMade(made, ttlMs);
      this.counters.sets += made.length - failed.length;
      if (started >= 0) this.finish(started, 'setMany', [...userKeyOf.values()]);
      return failed.map((madeKey) => userKeyOf.get(madeKey)!);
    } catch (error) {
      if (started >= 0) this.finish(started, 'setMany', [...userKeyOf.values()], undefined, error);
      this.fail(error, 'setMany', [...userKeyOf.values()].join(', '));
      return [...userKeyOf.values()];
    }
  }

  /** `true` when a key was removed. */
  async delete(key: string, version?: number): Promise<boolean> {
    const made = this.validKey(key, version);
    const started = this.startTimer();
    try {
      const deleted = await this.backend.delete(made);
      if (deleted) this.counters.deletes++;
      if (started >= 0) this.finish(started, 'delete', key);
      return deleted;
    } catch (error) {
      if (started >= 0) this.finish(started, 'delete', key, undefined, error);
      this.fail(error, 'delete', key);
      return false;
    }
  }

  async deleteMany(keys: Iterable<string>, version?: number): Promise<void> {
    const userKeys = [...keys];
    const made = userKeys.map((key) => this.validKey(key, version));
    const started = this.startTimer();
    try {
      if (this.backend.deleteMany) await this.backend.deleteMany(made);
      else for (const key of made) await this.backend.delete(key);
      this.counters.deletes += made.length;
      if (started >= 0) this.finish(started, 'deleteMany', userKeys);
    } catch (error) {
      if (started >= 0) this.finish(started, 'deleteMany', userKeys, undefined, error);
      this.fail(error, 'deleteMany', made.join(', '));
    }
  }

  /** Gives a key a new timeout (seconds); `true` if the key existed. */
  async touch(key: string, timeout?: TimeoutSeconds, version?: number): Promise<boolean> {
    const ttlMs = toTtlMs(timeout, this.defaultTimeout);
    const made = this.validKey(key, version);
    const started = this.startTimer();
    try {
      const touched = await this.backend.touch(made, ttlMs);
      if (started >= 0) this.finish(started, 'touch', key, touched);
      return touched;
    } catch (error) {
      if (started >= 0) this.finish(started, 'touch', key, undefined, error);
      this.fail(error, 'touch', key);
      return false;
    }
  }

  /** Removes every key of this alias (and, for shared backends, only this alias's keys). */
  async clear(): Promise<void> {
    const started = this.startTimer();
    try {
      await this.backend.clear();
      if (started >= 0) this.finish(started, 'clear', '*');
    } catch (error) {
      if (started >= 0) this.finish(started, 'clear', '*', undefined, error);
      this.fail(error, 'clear', '*');
    }
  }

  /** Releases connections and timers; the module calls it on application shutdown. */
  async close(): Promise<void> {
    await this.backend.close?.();
  }

  /** The alias's counters since the process started (see `CacheStats`). */
  stats(): CacheStats {
    return toStats(this.counters);
  }

  /**
   * Counts a value answered past its freshness. For the stampede layer and the page cache.
   * @internal
   */
  recordStaleServe(key: string, source: 'getOrSet' | 'page'): void {
    this.counters.staleServes++;
    if (staleChannel.hasSubscribers) staleChannel.publish({ alias: this.alias, key, source });
  }

  /**
   * Counts a `getOrSet` that waited for another process's lease. For the stampede layer.
   * @internal
   */
  recordLockWait(key: string, waitedMs: number): void {
    this.counters.lockWaits++;
    this.counters.lockWaitMs += waitedMs;
    if (lockWaitChannel.hasSubscribers) lockWaitChannel.publish({ alias: this.alias, key, waitedMs });
  }

  /**
   * Writes, reads back and deletes a reserved key straight on the backend: failures are thrown
   * whatever `ignoreErrors` says, and nothing is counted. For the health indicator and the CLI.
   * `readBack` is false for a store that keeps nothing (dummy) or dropped the key at once.
   * @internal
   */
  async roundTrip(): Promise<{ readBack: boolean }> {
    const made = this.makeKey(HEALTH_KEY);
    const token = randomUUID();
    await this.backend.set(made, token, HEALTH_TTL_MS);
    const readBack = (await this.backend.get(made)) === token;
    await this.backend.delete(made);
    return { readBack };
  }

  /** Whether `stats()` or a diagnostics subscriber wants calls timed. */
  private isTimed(): boolean {
    return this.measureLatency || commandChannel.hasSubscribers;
  }

  /** When this call started, or -1 when it is not timed. */
  private startTimer(): number {
    return this.isTimed() ? performance.now() : -1;
  }

  private finish(
    started: number,
    operation: string,
    key: string | readonly string[],
    hit?: boolean,
    error?: unknown,
  ): void {
    const durationMs = started === ANSWERED_AT_ONCE ? 0 : performance.now() - started;
    if (this.measureLatency) recordLatency(this.counters, durationMs);
    if (commandChannel.hasSubscribers) {
      commandChannel.publish({
        alias: this.alias,
        operation,
        key: typeof key === 'string' ? key : key.join(', '),
        hit,
        durationMs,
        error,
      });
    }
  }

  private validKey(key: string, version: number | undefined): string {
    const made = this.makeKey(key, version);
    this.validateKey(made);
    return made;
  }

  private async hasMade(made: string): Promise<boolean> {
    if (this.backend.has) return this.backend.has(made);
    return (await this.backend.get(made)) !== MISS;
  }

  private async computeAndStore<T>(
    key: string,
    valueOrFactory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    unless: ((value: T) => boolean) | undefined,
  ): Promise<T> {
    const value =
      typeof valueOrFactory === 'function' ? await (valueOrFactory as () => T | Promise<T>)() : valueOrFactory;
    if (unless?.(value)) return value;
    await this.add(key, value, timeout, version);
    // Re-read: another process may have added its value between our miss and our add.
    return this.get<T>(key, value, version);
  }

  /**
   * Leases live under a lock key users cannot make: the key function gets `lock.<version>` where
   * the version goes, and user keys always have a number there. A custom key function that drops
   * the version gets `lock.<version>:` before the key instead (there, in the users' key space).
   * Keys too long for memcached with that addition are hashed.
   */
  private leaseStore(): LeaseStore {
    const keepsVersion = this.keyFunction('k', this.keyPrefix, 1) !== this.keyFunction('k', this.keyPrefix, 2);
    const lockKey = (key: string, version: number | undefined) => {
      const lockVersion = `lock.${version ?? this.version}`;
      const make = (k: string) =>
        keepsVersion
          ? this.keyFunction(k, this.keyPrefix, lockVersion as unknown as number)
          : this.keyFunction(`${lockVersion}:${k}`, this.keyPrefix, version ?? this.version);
      const made = make(key);
      return keyProblem(made) === undefined ? made : make(createHash('sha256').update(key).digest('base64url'));
    };
    return {
      tryTake: async (key, version, token, ttlMs) => {
        try {
          return await this.backend.add(lockKey(key, version), token, ttlMs);
        } catch (error) {
          this.fail(error, 'lock', key);
          return true; // ignoreErrors: a store that is down cannot lock; compute, as on a miss
        }
      },
      release: async (key, version, token) => {
        const made = lockKey(key, version);
        try {
          if (this.backend.deleteIfEquals) await this.backend.deleteIfEquals(made, token);
          // Without an atomic primitive: read, compare, delete. The lease could expire and be
          // taken by another owner between the read and the delete; its TTL bounds the damage.
          else if ((await this.backend.get(made)) === token) await this.backend.delete(made);
        } catch (error) {
          // Counted and logged (once per burst), never thrown, whatever `ignoreErrors` says: the
          // value is computed and stored, and the lease's TTL frees the lock key anyway.
          this.asCacheError(error, 'unlock', key);
        }
      },
    };
  }

  private async incrByGetAndSet(made: string, delta: number): Promise<number | bigint | typeof MISS> {
    const current = await this.backend.get(made);
    if (current === MISS) return MISS;
    const next = addDelta(current, delta, made);
    await this.backend.set(made, next, toTtlMs(undefined, this.defaultTimeout));
    return next;
  }

  private async getEachMade(made: readonly string[]): Promise<unknown[]> {
    const values: unknown[] = [];
    for (const key of made) values.push(await this.backend.get(key));
    return values;
  }

  private async setEachMade(
    entries: ReadonlyArray<readonly [string, unknown]>,
    ttlMs: number | null,
  ): Promise<string[]> {
    for (const [key, value] of entries) await this.backend.set(key, value, ttlMs);
    return [];
  }

  /** Backend failures are swallowed when the alias sets `ignoreErrors`; the rest is thrown. */
  private fail(error: unknown, operation: string, key: string): void {
    const failure = this.asCacheError(error, operation, key);
    if (failure instanceof CacheBackendError && this.ignoreErrors) return;
    throw failure;
  }

  /** Errors about the caller's input stay as they are; backend failures become `CacheBackendError`. */
  private asCacheError(error: unknown, operation: string, key: string): CacheError {
    if (error instanceof CacheError && !(error instanceof CacheBackendError)) return error;
    this.counters.errors++;
    const failure =
      error instanceof CacheBackendError
        ? error
        : new CacheBackendError(
            `Cache '${this.alias}' failed to ${operation} '${key}': ${(error as Error)?.message ?? String(error)}. Check that the backend is reachable, or set ignoreErrors: true on the alias to treat failures as misses.`,
            { cause: error },
          );
    this.logFailure(failure);
    return failure;
  }

  /** A backend that is down fails every call: say so once per burst, not once per call. */
  private logFailure(failure: CacheBackendError): void {
    const now = Date.now();
    if (now - this.lastFailureLoggedAt < FAILURE_LOG_INTERVAL_MS) {
      this.failuresSinceLog++;
      return;
    }
    const suppressed =
      this.failuresSinceLog > 0 ? ` (${this.failuresSinceLog} more failures since the last report)` : '';
    this.logger.warn(`${failure.message}${suppressed}`);
    this.lastFailureLoggedAt = now;
    this.failuresSinceLog = 0;
  }
}

/**
 * `current + delta` for a stored number (or bigint), before anything is written: a result past
 * `Number.MAX_SAFE_INTEGER`, where numbers are rounded, and a value that is not a number are a
 * `CacheValueError`, and the store keeps the value it had.
 */
export function addDelta(current: unknown, delta: number, key: string): number | bigint {
  let next: number | bigint;
  if (typeof current === 'number') next = current + delta;
  else if (typeof current === 'bigint') next = current + BigInt(delta);
  else throw new CacheValueError(`Cannot increment key '${key}': its value is a ${typeof current}, not a number.`);
  if (!isSafeCount(next)) throw unsafeCountError(key, next, 'the stored value is unchanged');
  return next;
}

/** Whether a count is within ±`Number.MAX_SAFE_INTEGER`, where every integer is exact. */
export function isSafeCount(count: number | bigint): boolean {
  return typeof count === 'number'
    ? Math.abs(count) <= Number.MAX_SAFE_INTEGER
    : count <= MAX_SAFE_BIGINT && count >= -MAX_SAFE_BIGINT;
}

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The error of an `incr`/`decr` whose result `Number` cannot hold exactly; `afterwards` says what
 * the store holds now (a server that counts, such as memcached, has already stored the result).
 */
export function unsafeCountError(
  key: string,
  result: number | bigint | undefined,
  afterwards: string,
): CacheValueError {
  const shown = result === undefined ? 'the result' : `the result ${describeValue(result)}`;
  return new CacheValueError(
    `Cannot increment key '${key}': ${shown} is outside ±Number.MAX_SAFE_INTEGER (2^53 - 1), where counts are rounded; ${afterwards}. Set the key to a smaller number, or keep larger counts as BigInt with get and set.`,
  );
}
