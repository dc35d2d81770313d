// Every injection token and metadata key of the library, in one place (as Nest's own packages keep them).
import { Cache } from './core/cache.js';

/**
 * The injection token of an alias's `Cache`. The `default` alias is the `Cache` class itself.
 *
 * @example { provide: ReportService, useFactory: (cache: Cache) => new ReportService(cache), inject: [getCacheToken('redis')] }
 */
export function getCacheToken(alias = 'default'): string | typeof Cache {
  return alias === 'default' ? Cache : `nestjs-caches:${alias}`;
}

/** Holds what `forRootAsync`'s factory returned, before it is split into the options below. */
export const ASYNC_CONFIG = Symbol('nestjs-caches:async-config');
/** Holds the validated entries of every alias; the `Caches` registry is built from it. */
export const CACHES_CONFIG = Symbol('nestjs-caches:config');
/** Holds the validated `CacheModuleOptions`. */
export const CACHE_HTTP_OPTIONS = Symbol('nestjs-caches:http-options');
/** The resolved `invalidation` option of `CacheModule`. */
export const CACHE_INVALIDATION_OPTIONS = Symbol('nestjs-caches:invalidation-options');
/** Holds the resolved `metrics` option of `CacheModule`. */
export const CACHE_METRICS_OPTIONS = Symbol('nestjs-caches:metrics-options');
/**
 * The random source of `earlyRefresh` in decorated methods, uniform in [0, 1) (default `Math.random`);
 * tests replace it with `.overrideProvider(EARLY_REFRESH_RANDOM).useValue(seeded)`.
 */
export const EARLY_REFRESH_RANDOM = Symbol('nestjs-caches:early-refresh-random');

/** Metadata on a class: the aliases it injects with `@InjectCache`. */
export const INJECTED_ALIASES_METADATA = 'nestjs-caches:injected-aliases';

/** Metadata keys of the HTTP cache decorators, read by the page cache interceptor. */
export const CACHE_PAGE_METADATA = 'nestjs-caches:cache-page';
export const NEVER_CACHE_METADATA = 'nestjs-caches:never-cache';
export const CACHE_CONTROL_METADATA = 'nestjs-caches:cache-control';
export const VARY_ON_METADATA = 'nestjs-caches:vary-on';

/** The operations recorded on a method (prototype + method name). */
export const CACHE_OPERATIONS = Symbol('nestjs-caches:operations');
/** The instance property where the explorer puts a method's wrapper for its trampoline. */
export const CACHE_WRAPPER_SLOT = Symbol('nestjs-caches:wrapper-slot');
/** The class defaults of `@CacheConfig`. */
export const CACHE_CONFIG = Symbol('nestjs-caches:cache-config');
