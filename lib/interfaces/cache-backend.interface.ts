import type { TtlMs } from '../core/timeouts.js';

/** A value or a promise of it: in-process backends answer synchronously and skip a microtask. */
export type Awaitable<T> = T | Promise<T>;

/** What a backend's `get` returns for a key it does not hold (`null` and `undefined` are values). */
export const MISS: unique symbol = Symbol('nestjs-caches.miss');
export type Miss = typeof MISS;

/** A value with the time it has left (`null`: never expires). */
export interface ValueWithTtl {
  value: unknown;
  ttlMs: TtlMs;
}

/** What a backend's `count()` found, for `nestjs-caches stats`. */
export interface EntryTally {
  /**
   * Entries the store holds for this alias (expired ones may be included until removed), or
   * `undefined` when it cannot tell (a store shared in ways it cannot see through).
   */
  entries: number | undefined;
  /** What was counted, as `stats` prints it: `3 files, 120 bytes`, `2 keys matching p:*:*`. */
  description: string;
}

/**
 * The primitives a store implements; `Cache` adds keys, versions, timeouts, statistics and error
 * handling on top. Keys arrive already made (prefixed, versioned, validated); lifetimes arrive in
 * milliseconds (`null`: never expires; `<= 0`: already expired). Each backend copies values in and
 * out, so that callers mutating them later never change what is stored.
 *
 * Optional methods have generic fallbacks in `Cache`, written in terms of the required ones.
 *
 * @example CacheModule.forRoot({ default: { backend: MyBackend } }) // a class implementing CacheBackend
 */
export interface CacheBackend {
  get(key: string): Awaitable<unknown>;
  set(key: string, value: unknown, ttlMs: TtlMs): Awaitable<void>;
  /** Stores only when the key is absent or expired; `true` when it stored. */
  add(key: string, value: unknown, ttlMs: TtlMs): Awaitable<boolean>;
  delete(key: string): Awaitable<boolean>;
  /** Gives an existing key a new lifetime; `true` when the key existed. */
  touch(key: string, ttlMs: TtlMs): Awaitable<boolean>;
  /** Removes every key of this store, and nothing that belongs to others. */
  clear(): Awaitable<void>;

  has?(key: string): Awaitable<boolean>;
  /** Adds `delta` keeping the lifetime; `MISS` when the key is absent. */
  incr?(key: string, delta: number): Awaitable<number | bigint | Miss>;
  /** The values in the order of `keys`, `MISS` where a key is absent. */
  getMany?(keys: readonly string[]): Awaitable<unknown[]>;
  /** Stores every entry or, when a value cannot be serialized, none; returns the keys that failed. */
  setMany?(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Awaitable<string[]>;
  deleteMany?(keys: readonly string[]): Awaitable<void>;
  /** The value and its remaining lifetime, so a tiered alias back-fills faster tiers exactly. */
  getWithTtl?(key: string): Awaitable<ValueWithTtl | Miss>;
  getManyWithTtl?(keys: readonly string[]): Awaitable<Map<string, ValueWithTtl>>;
  /** Removes the key only while it holds `expected` (a string), atomically; for lock owners. */
  deleteIfEquals?(key: string, expected: string): Awaitable<boolean>;
  /** Removes only keys matching a glob pattern (see `clearPatternOf`), in a store shared by aliases. */
  clearMatching?(pattern: string | undefined): Awaitable<void>;
  /** Throw a `CacheKeyError` for keys this backend cannot store; without it, unsafe keys only warn. */
  readonly rejectsUnsafeKeys?: boolean;
  /**
   * Lives in this process (locmem, dummy): it cannot be down, so it gets no circuit breaker or
   * deadline; and its calls take less time than two clock reads, so they are not timed.
   */
  readonly inProcess?: boolean;
  /**
   * Its entries live in the memory of each application process (locmem): another process, such
   * as the CLI, sees none of them, so `nestjs-caches stats` and `clear` leave it to the app.
   */
  readonly processLocal?: boolean;
  /** Its client times commands out itself (it is given `commandTimeoutMs`): no deadline is added. */
  readonly timesOutCommands?: boolean;
  /** Built from other aliases (tiered), which are guarded on their own: no breaker around it. */
  readonly failsOnlyThroughTiers?: boolean;
  /**
   * Counts what the store holds, where that is cheap enough to do on request (`nestjs-caches
   * stats`); stores that cannot count leave it out, and the CLI says n/a.
   */
  count?(): Awaitable<EntryTally>;
  /**
   * Waits, for a bounded time, for a first connection to its server. Awaited while the module is
   * built, for every alias at once, so that other providers' `onModuleInit` find it connected.
   */
  connected?(): Promise<void>;
  /** Runs at application bootstrap, after every provider exists (e.g. to check a table). */
  init?(): Promise<void>;
  close?(): Awaitable<void>;
}
