import type { DynamicModule, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { CircuitBreakerSettings } from '../core/circuit-breaker.js';
import type { KeyFunction } from '../core/keys.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import type { Awaitable, CacheBackend } from './cache-backend.interface.js';
import type { CacheMetricsOptions } from './cache-metrics-options.interface.js';
import type { InvalidationOptions } from './invalidation-options.interface.js';
import type { CachePanelOptions, CacheTracingOptions } from './observability-options.interface.js';

export type BuiltInBackendName =
  'locmem' | 'filesystem' | 'dummy' | 'database' | 'memcached' | 'redis' | 'tiered' | 'keyv';

/** A custom backend: a class whose constructor takes the alias's resolved entry. */
export type CacheBackendClass = new (entry: ResolvedCacheEntry, context: BackendContext) => CacheBackend;

/** What a backend may need from the application while it is built. */
export interface BackendContext {
  /** Resolves providers, e.g. a TypeORM DataSource. */
  moduleRef: ModuleRef;
  /** The backend of another alias (for `tiered`); only aliases built before this one. */
  backendOf(alias: string): CacheBackend;
}

/** The settings every alias takes, whatever its backend, with Django's settings in camelCase. */
export interface CommonEntryOptions {
  /** Default timeout in seconds (300); `null` never expires, `0` keeps nothing. */
  timeout?: TimeoutSeconds;
  keyPrefix?: string;
  /** Default version of keys (1). */
  version?: number;
  /** Makes the stored key; default `${keyPrefix}:${version}:${key}`. */
  keyFunction?: KeyFunction;
  /** Backend failures count as misses (reads) or pass silently (writes) instead of throwing. */
  ignoreErrors?: boolean;
  /**
   * How long a command may take before it counts as failed (500): passed to the redis and memcached
   * clients, enforced around every call for the database, filesystem and custom backends.
   */
  commandTimeoutMs?: number;
  /**
   * After `failures` failed calls in a row (5), calls fail at once for `breakSeconds` (2) instead
   * of each waiting for the command timeout; `false` turns it off. Not used by locmem, dummy and
   * tiered (whose tiers have their own).
   */
  circuitBreaker?: Partial<CircuitBreakerSettings> | false;
}

/** Django's culling: at `maxEntries` (300) entries, a set first removes 1/`cullFrequency` (3) of them; `0` empties. */
export type CullingOptions = {
  maxEntries?: number;
  cullFrequency?: number;
};

/** @example { backend: 'locmem', location: 'unique-snowflake', options: { maxEntries: 300 } } */
export interface LocMemEntryOptions extends CommonEntryOptions {
  backend: 'locmem';
  /** The store's name: aliases with the same name share one store. */
  location?: string;
  options?: CullingOptions;
}

/** @example { backend: 'filesystem', location: '/var/tmp/nest_cache' } */
export interface FileSystemEntryOptions extends CommonEntryOptions {
  backend: 'filesystem';
  /** The directory, created when missing. */
  location: string;
  options?: CullingOptions;
}

/** @example { backend: 'dummy' } */
export interface DummyEntryOptions extends CommonEntryOptions {
  backend: 'dummy';
  location?: string;
  options?: Record<string, never>;
}

/** @example { backend: 'database', location: 'my_cache_table', options: { dataSource: 'cache', createTable: true } } */
export interface DatabaseEntryOptions extends CommonEntryOptions {
  backend: 'database';
  /** The table. */
  location: string;
  options?: CullingOptions & {
    /** The name of a `TypeOrmModule.forRoot({ name })` connection; the default one when absent. */
    dataSource?: string;
    /** Creates the table and its index at boot when missing (false: `nestjs-caches createcachetable`). */
    createTable?: boolean;
  };
}

/** @example { backend: 'memcached', location: ['10.0.0.1:11211', '10.0.0.2:11211'] } */
export interface MemcachedEntryOptions extends CommonEntryOptions {
  backend: 'memcached';
  /** One `'host:port'` or a list of them. */
  location: string | string[];
  options?: {
    /** Extra attempts after a failure (1). */
    retries?: number;
    /** memjs moves the keys of a failed server to the next one (false). */
    failover?: boolean;
    keepAlive?: boolean;
  };
}

/** @example { backend: 'redis', location: 'redis://127.0.0.1:6379/1' } */
export interface RedisEntryOptions extends CommonEntryOptions {
  backend: 'redis';
  /** A redis URL, `{ cluster: ['h1:6379', ...] }` or `{ sentinels: [{ host, port }], name }`. */
  location: string | RedisClusterLocation | RedisSentinelLocation;
  options?: {
    /** `clear()` empties the whole database (FLUSHDB) rather than this alias's keys (false). */
    clearAll?: boolean;
    /** Passed to ioredis, e.g. `{ password: 'secret' }` (typed loosely: ioredis is an optional peer). */
    redisOptions?: Record<string, unknown>;
  };
}

export type RedisClusterLocation = { cluster: Array<string | { host: string; port: number }> };
export type RedisSentinelLocation = { sentinels: Array<{ host: string; port: number }>; name: string };

/** @example { backend: 'tiered', tiers: ['default', 'redis'], bus: 'redis://127.0.0.1:6379' } */
export interface TieredEntryOptions extends CommonEntryOptions {
  backend: 'tiered';
  /** The aliases to chain, fastest first, e.g. `['default', 'redis']`. */
  tiers: string[];
  /** A redis URL on which writes publish invalidations to other instances. */
  bus?: string;
  /**
   * With a `bus` only: seconds (0.25) after another instance's acknowledged write, delete
   * or clear of a key during which this instance may still answer from an upper-tier copy. When
   * the bus cannot vouch for that, reads go to the lowest tier.
   */
  maxStaleness?: number;
  options?: Record<string, never>;
}

/**
 * Any Keyv store as an alias. Keyv's own types are not imported: keyv is an optional peer.
 *
 * @example { backend: 'keyv', options: { store: new KeyvRedis('redis://127.0.0.1:6379', { throwOnErrors: true }) } }
 */
export interface KeyvEntryOptions extends CommonEntryOptions {
  backend: 'keyv';
  location?: undefined;
  options: {
    /**
     * A `Keyv` instance (its namespace is kept), a Keyv storage adapter or a `Map`. An adapter that
     * swallows errors (e.g. `@keyv/redis` without `throwOnErrors: true`) makes failures look like misses.
     */
    store: object;
  };
}

/** An alias whose backend is your class; it reads `location` and `options` as it likes. */
export interface CustomEntryOptions extends CommonEntryOptions {
  backend: CacheBackendClass;
  location?: CacheLocation;
  options?: Record<string, unknown>;
}

/**
 * One alias of `CacheModule.forRoot`, typed by its `backend`: a setting or option that backend
 * does not take, or a required one left out, fails to compile.
 *
 * @example { backend: 'locmem', location: 'unique-snowflake', timeout: 300, options: { maxEntries: 300 } }
 */
export type CacheEntryOptions =
  | LocMemEntryOptions
  | FileSystemEntryOptions
  | DummyEntryOptions
  | DatabaseEntryOptions
  | MemcachedEntryOptions
  | RedisEntryOptions
  | TieredEntryOptions
  | KeyvEntryOptions
  | CustomEntryOptions;

export type CacheLocation = string | string[] | Record<string, unknown>;

/** Every field some backend takes, as validation reads an entry before it knows the backend. */
export type AnyCacheEntryOptions = CommonEntryOptions & {
  backend: BuiltInBackendName | CacheBackendClass;
  location?: CacheLocation;
  options?: Record<string, unknown>;
  tiers?: string[];
  bus?: string;
  maxStaleness?: number;
};

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
  /** Seconds; set for tiered aliases with a bus only. */
  maxStaleness: number | undefined;
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
   * Whether page hits may be answered at the HTTP server's `request` event, before the framework,
   * on routes where nothing else (middleware, hooks, guards, interceptors) would run for them
   * (default `true`); `false` answers them after the framework's middleware, before Nest's
   * pipeline, as on routes where something else runs.
   */
  serverHits?: boolean;
  /**
   * The TypeORM subscriber that invalidates `dependsOn` entries when rows change: on the default
   * DataSource unless told otherwise; `false` turns it off.
   */
  invalidation?: InvalidationOptions | false;
  /** Prometheus metrics of every alias (`{ prometheus: true }`), through prom-client. */
  metrics?: CacheMetricsOptions;
  /**
   * OpenTelemetry spans, recorded when `@opentelemetry/api` is installed and a tracer provider is
   * registered (no option needed); `{ recordKeys: true }` adds keys, `false` turns spans off.
   */
  tracing?: CacheTracingOptions | false;
  /** The per-request cache panel and `Server-Timing` totals (off; refused under NODE_ENV=production unless forced). */
  panel?: boolean | CachePanelOptions;
}

/**
 * The per-site cache (Django's `UpdateCacheMiddleware` + `FetchFromCacheMiddleware`): every GET and
 * HEAD route is page-cached, unless it says `@NeverCache()`.
 *
 * @example CacheModule.forRoot({ default: { backend: 'locmem' } }, { site: { timeout: 600 } })
 */
export interface SiteCacheOptions {
  /** The alias pages are kept in (`default`). */
  cache?: string;
  /**
   * Seconds, for responses without a `max-age` of their own (Django's `CACHE_MIDDLEWARE_SECONDS`):
   * a response's `max-age` wins; when omitted too, the alias's default timeout.
   */
  timeout?: number;
  /** Keeps this site's pages apart from others sharing the store (Django's `CACHE_MIDDLEWARE_KEY_PREFIX`). */
  keyPrefix?: string;
  /** Seconds a page is kept past its timeout, to answer `STALE` while one request recomputes it. */
  staleWhileRevalidate?: number;
}
