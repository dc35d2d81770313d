import type { DynamicModule, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { CircuitBreakerSettings } from '../core/circuit-breaker.js';
import type { KeyFunction } from '../core/keys.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import type { Awaitable, CacheBackend } from './cache-backend.interface.js';
import type { CacheMetricsOptions } from './cache-metrics-options.interface.js';
import type { SiteCacheOptions } from './http-cache-options.interface.js';
import type { InvalidationOptions } from './invalidation-options.interface.js';

export type BuiltInBackendName = 'locmem' | 'filesystem' | 'dummy' | 'database' | 'memcached' | 'redis' | 'tiered';

/** A custom backend: a class whose constructor takes the alias's resolved entry. */
export type CacheBackendClass = new (entry: ResolvedCacheEntry, context: BackendContext) => CacheBackend;

/** What a backend may need from the application while it is built. */
export interface BackendContext {
  /** Resolves providers, e.g. a TypeORM DataSource. */
  moduleRef: ModuleRef;
  /** The backend of another alias (for `tiered`); only aliases built before this one. */
  backendOf(alias: string): CacheBackend;
}

/**
 * One alias of `CacheModule.forRoot`, with Django's settings in camelCase.
 *
 * @example { backend: 'locmem', location: 'unique-snowflake', timeout: 300, options: { maxEntries: 300 } }
 */
export interface CacheEntryOptions {
  backend: BuiltInBackendName | CacheBackendClass;
  /**
   * Where the data lives: a locmem name, a directory, a table, a redis URL, memcached servers,
   * or `{ cluster: ['h1:6379', ...] }` / `{ sentinels: [...], name }` for redis.
   */
  location?: CacheLocation;
  /** Default timeout in seconds (300); `null` never expires, `0` keeps nothing. */
  timeout?: TimeoutSeconds;
  keyPrefix?: string;
  /** Default version of keys (1). */
  version?: number;
  /** Makes the stored key; default `${keyPrefix}:${version}:${key}`. */
  keyFunction?: KeyFunction;
  /** Backend-specific: `maxEntries` (300) and `cullFrequency` (3) for locmem and filesystem. */
  options?: Record<string, unknown>;
  /** Backend failures count as misses (reads) or pass silently (writes) instead of throwing. */
  ignoreErrors?: boolean;
  /**
   * How long a command may take before it counts as failed (500): passed to the redis and memcached
   * clients, enforced around every call for the database, filesystem and custom backends.
   */
  commandTimeoutMs?: number;
  /** `tiered` only: the aliases to chain, fastest first, e.g. `['default', 'redis']`. */
  tiers?: string[];
  /** `tiered` only: a redis URL on which writes publish invalidations to other instances. */
  bus?: string;
  /**
   * After `failures` failed calls in a row (5), calls fail at once for `breakSeconds` (2) instead
   * of each waiting for the command timeout; `false` turns it off. Not used by locmem, dummy and
   * tiered (whose tiers have their own).
   */
  circuitBreaker?: Partial<CircuitBreakerSettings> | false;
}

export type CacheLocation = string | string[] | Record<string, unknown>;

/**
 * The aliases and their entries, as Django's `CACHES`; an entry may also be a cache URL
 * (`'locmem://name'`, `'file:///var/tmp/cache'`, `'dummy://'`). `default` is required.
 */
export type CachesOptions = { default: CacheEntryOptions | string } & Record<string, CacheEntryOptions | string>;

/** An entry after validation and defaults, as backends receive it. */
export interface ResolvedCacheEntry {
  alias: string;
  backend: BuiltInBackendName | CacheBackendClass;
  location: CacheLocation | undefined;
  timeout: TimeoutSeconds;
  keyPrefix: string;
  version: number;
  keyFunction: KeyFunction;
  options: Record<string, unknown>;
  ignoreErrors: boolean;
  commandTimeoutMs: number;
  tiers: string[] | undefined;
  bus: string | undefined;
  circuitBreaker: CircuitBreakerSettings | false;
}

/** What `forRootAsync`'s factory returns: the aliases, and `forRoot`'s HTTP options. */
export interface CacheModuleAsyncConfig extends CacheModuleOptions {
  caches: CachesOptions;
}

/**
 * @example CacheModule.forRootAsync({ inject: [ConfigService], useFactory: (config) => ({ caches: { default: config.get('CACHE_URL') } }) })
 */
export interface CacheModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: any[]) => Awaitable<CacheModuleAsyncConfig>;
  /**
   * Aliases to make injectable with `@InjectCache(alias)`, which must be known before the
   * factory runs. Aliases named in an `@InjectCache` anywhere in the app are added on their own.
   */
  aliases?: string[];
}

/** `CacheModule.forRoot`'s second argument: HTTP settings, and invalidation when rows change. */
export interface CacheModuleOptions {
  /** Turns on the per-site cache. */
  site?: SiteCacheOptions;
  /** The response header that tells HIT, MISS or BYPASS (`X-Cache`). */
  statusHeader?: string;
  /**
   * Hosts whose pages may be cached, as Django's `ALLOWED_HOSTS`: `'example.com'`, `'.example.com'`
   * (and its subdomains), `'*'`. Without it any well-formed `Host` is; a malformed one never is.
   */
  allowedHosts?: string[];
  /**
   * The TypeORM subscriber that invalidates `dependsOn` entries when rows change: on the default
   * DataSource unless told otherwise; `false` turns it off.
   */
  invalidation?: InvalidationOptions | false;
  /** Prometheus metrics of every alias (`{ prometheus: true }`), through prom-client. */
  metrics?: CacheMetricsOptions;
}
