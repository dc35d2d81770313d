import type { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import { CacheBackendError } from '../core/errors.js';
import { hashKey, isKeyTooLong } from '../core/keys.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
import { versionedKeyPart } from '../invalidation/generations.js';
import { compileMethodKey } from './method-keys.js';
import type {
  CacheableOptions,
  CacheConfigOptions,
  CacheEvictOptions,
  CachePutOptions,
  MethodCacheOperation,
} from './method-cache-options.interface.js';
import type { MethodWrapper } from './trampoline.js';
import type { CacheObservability } from '../observability/cache-observability.js';

/** What a wrapper needs besides the operations: where it runs and with what. */
export interface CachedMethodContext {
  instance: object;
  original: (...args: unknown[]) => unknown;
  className: string;
  methodName: string;
  classDefaults: CacheConfigOptions;
  caches: Caches;
  random: () => number;
  /** Spans and the panel; `null` when there are neither. */
  observability?: CacheObservability | null;
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
 * own result is returned as on a miss (`failOpen`: still computed once per key in this process
 * for all concurrent callers), and evictions and puts are skipped.
 */
export function buildCachedMethod(
  operations: readonly MethodCacheOperation[],
  methodContext: CachedMethodContext,
): MethodWrapper {
  const { observability } = methodContext;
  // A run of the method itself is what makes a call a miss, in its span and in the panel.
  const context: CachedMethodContext = !observability
    ? methodContext
    : {
        ...methodContext,
        original: function (this: unknown, ...args: unknown[]) {
          observability.markRan();
          return methodContext.original.apply(this, args);
        },
      };
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
  const wrapper: MethodWrapper =
    puts.length === 0 && evictions.length === 0
      ? invoke
      : async (args) => {
          for (const eviction of evictBefore) await evict(eviction, args);
          const result = await invoke(args);
          for (const put of puts) await store(put, result, args);
          for (const eviction of evictAfter) await evict(eviction, args);
          return result;
        };
  if (!observability) return wrapper;
  const first = cacheable ?? puts[0] ?? evictions[0]!;
  const decorator = cacheable ? '@Cacheable' : puts.length > 0 ? '@CachePut' : '@CacheEvict';
  const origin = `${decorator} ${context.className}.${context.methodName}`;
  const attributes = {
    'cache.alias': first.cache.alias,
    'cache.operation': 'method',
    'cache.backend': first.cache.backendName,
    'cache.decorator': decorator,
    'code.namespace': context.className,
    'code.function': context.methodName,
  };
  // `cache.hit` when the method did not run: only `@Cacheable` answers from the cache.
  const hitOf = (ran: boolean) => (cacheable === undefined ? undefined : !ran);
  return (args) =>
    observability.observing
      ? observability.observe('cache.method', origin, attributes, async () => wrapper(args), hitOf)
      : wrapper(args);
}

/**
 * A `@Cacheable` call always answers a promise, whether it reads the cache or not (`condition`
 * false, `vary` knowing no caller): a sync method's callers see one shape, and its throw rejects.
 * It reads through `Cache.readThrough`, failing open: the store shares the method's runs.
 */
function cacheableCall(resolved: Resolved<CacheableOptions>, context: CachedMethodContext): MethodWrapper {
  const { options, cache, keyOf, timeout } = resolved;
  const { condition, dependsOn, unless, lock, staleWhileRevalidate, grace, earlyRefresh } = options;
  const { instance, original, random } = context;
  const uncached = async (args: unknown[]) => original.apply(instance, args);
  const base: GetOrSetOptions = { lock, staleWhileRevalidate, grace, earlyRefresh, random, failOpen: true };
  const optionsOf = (args: unknown[]): GetOrSetOptions =>
    unless === undefined ? base : { ...base, unless: (value: unknown) => unless(value, args) };
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
      return key === undefined ? uncached(args) : cache.readThrough(key, uncached, args, timeout, optionsOf(args));
    };
  }
  // Generations must outlive every entry stored under them, stale and grace windows included.
  const kept = keptLifetime(cache, timeout, options);
  // The generations are read before the method runs: a result computed from rows that change
  // meanwhile is stored under the old generations, which no later call reads. While the store
  // fails, the method's runs are shared by the key without generations (unknown then).
  return async (args) => {
    const key = condition !== undefined && !condition(args) ? undefined : keyOf(args);
    if (key === undefined) return original.apply(instance, args);
    const versioned = async (plain: string) =>
      withGenerations(cache, plain, await versionedKeyPart(cache, dependsOn, args, kept));
    return cache.readThrough(key, uncached, args, timeout, optionsOf(args), versioned);
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
