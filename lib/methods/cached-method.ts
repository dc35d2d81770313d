import type { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import { CacheBackendError } from '../core/errors.js';
import { hashKey, isKeyTooLong } from '../core/keys.js';
import { Flights } from '../core/flights.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import { MISS } from '../interfaces/cache-backend.interface.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
import { versionedKeyPart } from '../invalidation/generations.js';
import { needsStampedeGuard } from '../stampede/stampede-guard.js';
import { compileMethodKey } from './method-keys.js';
import type {
  CacheableOptions,
  CacheConfigOptions,
  CacheEvictOptions,
  CachePutOptions,
  MethodCacheOperation,
} from './method-cache-options.interface.js';
import type { MethodWrapper } from './trampoline.js';

/** What a wrapper needs besides the operations: where it runs and with what. */
export interface CachedMethodContext {
  instance: object;
  original: (...args: unknown[]) => unknown;
  className: string;
  methodName: string;
  classDefaults: CacheConfigOptions;
  caches: Caches;
  random: () => number;
}

/** One operation resolved at wiring: its alias, key function and timeout. */
interface Resolved<O> {
  options: O;
  cache: Cache;
  /** `undefined`: the call leaves the cache alone (`vary` knows no caller). */
  keyOf: (args: unknown[]) => string | undefined;
  timeout: TimeoutSeconds | undefined;
}

/**
 * Builds the function the trampoline calls for one decorated method. Fail open: when the store
 * fails (`CacheBackendError`, already counted and logged once per burst by `Cache`), the method's
 * own result is returned as on a miss, still computed once per key in this process for all
 * concurrent callers, and evictions and puts are skipped.
 */
export function buildCachedMethod(
  operations: readonly MethodCacheOperation[],
  context: CachedMethodContext,
): MethodWrapper {
  const resolve = <O extends CacheableOptions | CachePutOptions | CacheEvictOptions>(options: O): Resolved<O> => {
    const cache = context.caches.get(options.cache ?? context.classDefaults.cache ?? 'default');
    const makeKey = (key: string) => cache.makeKey(key);
    const ownTimeout = 'timeout' in options ? (options.timeout as TimeoutSeconds | undefined) : undefined;
    return {
      options,
      cache,
      keyOf: compileMethodKey(
        { key: options.key, vary: options.vary, className: context.className, methodName: context.methodName },
        makeKey,
      ),
      timeout: ownTimeout !== undefined ? ownTimeout : context.classDefaults.timeout,
    };
  };
  const pick = <K extends MethodCacheOperation['kind']>(kind: K) =>
    operations
      .filter((op): op is Extract<MethodCacheOperation, { kind: K }> => op.kind === kind)
      .map((op) => resolve(op.options as Extract<MethodCacheOperation, { kind: K }>['options']));
  const cacheable = pick('cacheable')[0];
  const puts = pick('put');
  const evictions = pick('evict');
  const evictBefore = evictions.filter((e) => e.options.beforeInvocation);
  const evictAfter = evictions.filter((e) => !e.options.beforeInvocation);

  const { instance, original } = context;
  const invoke =
    cacheable === undefined ? (args: unknown[]) => original.apply(instance, args) : cacheableCall(cacheable, context);
  if (puts.length === 0 && evictions.length === 0) return invoke;
  return async (args) => {
    for (const eviction of evictBefore) await evict(eviction, args);
    const result = await invoke(args);
    for (const put of puts) await store(put, result, args);
    for (const eviction of evictAfter) await evict(eviction, args);
    return result;
  };
}

/**
 * A `@Cacheable` call always answers a promise, whether it reads the cache or not (`condition`
 * false, `vary` knowing no caller): a sync method's callers see one shape, and its throw rejects.
 */
function cacheableCall(resolved: Resolved<CacheableOptions>, context: CachedMethodContext): MethodWrapper {
  const { options, cache, keyOf, timeout } = resolved;
  const { condition, dependsOn } = options;
  const { instance, original } = context;
  const uncached = async (args: unknown[]) => original.apply(instance, args);
  const lookup = cachedLookup(resolved, context);
  if (dependsOn === undefined || dependsOn.length === 0) {
    return (args) => {
      let key: string | undefined;
      try {
        key = condition !== undefined && !condition(args) ? undefined : keyOf(args);
      } catch (error) {
        // A key that cannot be made (a cyclic argument, a throwing callback) rejects, as the
        // async method would, rather than throwing from a call that returns a promise.
        return Promise.reject(error);
      }
      return key === undefined ? uncached(args) : lookup.read(key, args);
    };
  }
  // Generations must outlive every entry stored under them, stale and grace windows included.
  const kept = keptLifetime(cache, timeout, options);
  // The generations are read before the method runs: a result computed from rows that change
  // meanwhile is stored under the old generations, which no later call reads.
  return async (args) => {
    const key = condition !== undefined && !condition(args) ? undefined : keyOf(args);
    if (key === undefined) return original.apply(instance, args);
    const readNumber = lookup.readStarted();
    let part: string;
    try {
      part = await versionedKeyPart(cache, dependsOn, args, kept);
    } catch (error) {
      if (!(error instanceof CacheBackendError)) throw error;
      return lookup.bypass(key, args, readNumber);
    }
    // The store answered: an outage run of the key is over. Its runs are by the key without
    // generations (unknown while the store fails), its flights by the versioned key.
    lookup.answered(key);
    return lookup.read(withGenerations(cache, key, part), args);
  };
}

/** How long an entry is physically kept (seconds): its timeout plus the stale and grace windows. */
function keptLifetime(
  cache: Cache,
  timeout: TimeoutSeconds | undefined,
  { staleWhileRevalidate, grace }: CacheableOptions,
): TimeoutSeconds {
  const fresh = timeout === undefined ? cache.defaultTimeout : timeout;
  return fresh === null ? null : fresh + (staleWhileRevalidate ?? 0) + (grace ?? 0);
}

/** `key~generations`, hashing the key part when the whole would not fit memcached's limit. */
function withGenerations(cache: Cache, key: string, part: string): string {
  const versioned = `${key}~${part}`;
  if (!isKeyTooLong(cache.makeKey(versioned))) return versioned;
  return `${hashKey(key)}~${part}`;
}

interface Lookup {
  /** Reads a key and, on a miss, runs the method once per key in this process and stores its result. */
  read(key: string, args: unknown[]): Promise<unknown>;
  /** Numbers a read of the store made outside `read` (the generations), for `bypass`. */
  readStarted(): number;
  /** That read failed: runs the method, shared with the callers concurrent with this one. */
  bypass(key: string, args: unknown[], readNumber: number): Promise<unknown>;
  /** A read of `key` outside `read` succeeded: forgets the key's outage run. */
  answered(key: string): void;
}

/**
 * The lookups of one `@Cacheable` method. Its runs go through flights of its own, by key, around
 * the whole `getOrSet`, and through their outage runs when a read fails: while the store is down,
 * `getOrSet` shares nothing (its read fails before it joins a computation, its write fails after),
 * and without these every caller of a cold key would run the method during an outage.
 */
function cachedLookup(
  { options, cache, timeout }: Resolved<CacheableOptions>,
  { instance, original, random }: CachedMethodContext,
): Lookup {
  const { unless, lock, staleWhileRevalidate, grace, earlyRefresh } = options;
  const base: GetOrSetOptions = { lock, staleWhileRevalidate, grace, earlyRefresh, random };
  // Without options, the plain getOrSet (its fastest path) is used.
  const needsOptions = unless !== undefined || needsStampedeGuard(base);
  const flights = new Flights();
  const computeAndStore = (key: string, args: unknown[]) =>
    flights.run(key, async () => {
      const run = { started: false, done: false, result: undefined as unknown };
      const compute = async () => {
        run.started = true;
        run.result = await original.apply(instance, args);
        run.done = true;
        return run.result;
      };
      const getOrSetOptions = !needsOptions
        ? undefined
        : unless === undefined
          ? base
          : { ...base, unless: (value: unknown) => unless(value, args) };
      try {
        return await cache.getOrSet(key, compute, timeout, undefined, getOrSetOptions);
      } catch (error) {
        // A method that threw (even a CacheBackendError of its own) is not run again.
        if (!(error instanceof CacheBackendError) || (run.started && !run.done)) throw error;
        // Fail open: the result when the write failed, else a run of the method's own.
        return run.done ? run.result : original.apply(instance, args);
      }
    });
  const readStarted = () => flights.readStarted();
  const bypass = (key: string, args: unknown[], readNumber: number) =>
    // A computation of the key that runs already (its read succeeded) is joined.
    flights.runningNow(key) !== undefined
      ? computeAndStore(key, args)
      : flights.runAfterFailedRead(key, readNumber, async () => original.apply(instance, args));
  const answered = (key: string) => flights.answered(key);
  if (needsOptions) return { read: computeAndStore, readStarted, bypass, answered };
  // The common case reads first, so that a hit costs one `get`: a miss then reads once more in
  // getOrSet, which joins or starts the one computation of the key in this process.
  const read = async (key: string, args: unknown[]) => {
    const readNumber = flights.readStarted();
    let cached: unknown;
    try {
      cached = await cache.get(key, MISS);
    } catch (error) {
      if (!(error instanceof CacheBackendError)) throw error;
      // Not through getOrSet: it would read the failing store again, and pay its timeout twice.
      return bypass(key, args, readNumber);
    }
    flights.answered(key);
    return cached !== MISS ? cached : computeAndStore(key, args);
  };
  return { read, readStarted, bypass, answered };
}

async function store({ options, cache, keyOf, timeout }: Resolved<CachePutOptions>, result: unknown, args: unknown[]) {
  if (options.condition !== undefined && !options.condition(args)) return;
  if (options.unless?.(result, args)) return;
  const key = keyOf(args);
  if (key !== undefined) await failOpen(cache.set(key, result, timeout));
}

async function evict({ options, cache, keyOf }: Resolved<CacheEvictOptions>, args: unknown[]) {
  if (options.condition !== undefined && !options.condition(args)) return;
  if (options.allEntries) return failOpen(cache.clear());
  const key = keyOf(args);
  if (key !== undefined) await failOpen(cache.delete(key));
}

async function failOpen(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (!(error instanceof CacheBackendError)) throw error;
  }
}
