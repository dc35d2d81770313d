import type { Dependency } from '../invalidation/dependencies.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';

/**
 * A cache key: a template over the method's arguments (`'recipe:{0}'`, `'user:{1.id}'`) or a
 * function of them. Keys built from arguments are hashed when memcached could not store them.
 */
export type MethodCacheKey = string | ((args: any[]) => string);

interface MethodCacheOperationOptions {
  /** The alias to use (default: the class's `@CacheConfig`, else `'default'`). */
  cache?: string;
  /** Default: class name + method name + a stable hash of the arguments. */
  key?: MethodCacheKey;
  /** Checked before the call: `false` leaves the cache alone. */
  condition?: (args: any[]) => boolean;
  /**
   * Whom the result is for, when the arguments do not say: a user id, a tenant, a locale, read
   * from the arguments or from a request context (AsyncLocalStorage). Its value is hashed into
   * the key, so each caller has an entry of their own. `undefined` (no one known) leaves the
   * cache alone: the method runs and nothing is stored, so a missing identity never shares one
   * caller's result with another; return `null` for an entry every unidentified caller shares.
   * Vary on an identity a guard verified, not on a raw header: every made-up token would get an
   * entry of its own.
   *
   * @example @Cacheable({ key: 'dashboard', vary: () => cls.get('userId') })
   */
  vary?: (args: any[]) => unknown;
}

/** `@Cacheable` options: the stampede layers of `getOrSet` included. */
export interface CacheableOptions extends MethodCacheOperationOptions, Omit<GetOrSetOptions, 'unless' | 'random'> {
  /** Seconds: `undefined` the class's or the alias's default, `null` forever, `0` not stored. */
  timeout?: TimeoutSeconds;
  /** Checked after the call: `true` returns the result without storing it. */
  unless?: (result: any, args: any[]) => boolean;
  /**
   * Entities the result is computed from (`[Recipe]`, or `[[Recipe, (args) => args[0]]]` for one
   * row): the key then includes their generations, read before the method runs, and a change
   * to those rows makes the entry unreachable (see "Invalidation when rows change").
   */
  dependsOn?: Dependency<any[]>[];
}

/** `@CachePut` options: the method always runs and its result is stored. */
export interface CachePutOptions extends MethodCacheOperationOptions {
  timeout?: TimeoutSeconds;
  unless?: (result: any, args: any[]) => boolean;
}

/** `@CacheEvict` options: removes the key (or, with `allEntries`, clears the alias) after the method succeeds. */
export interface CacheEvictOptions extends MethodCacheOperationOptions {
  allEntries?: boolean;
  /** Evict before the method runs, whether it succeeds or not. */
  beforeInvocation?: boolean;
}

/** `@CacheConfig` options: class defaults that each operation's own options override. */
export interface CacheConfigOptions {
  cache?: string;
  timeout?: TimeoutSeconds;
}

/** What the decorators record, read by the explorer. */
export type MethodCacheOperation =
  | { kind: 'cacheable'; options: CacheableOptions }
  | { kind: 'put'; options: CachePutOptions }
  | { kind: 'evict'; options: CacheEvictOptions };
