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

// Only until page-cache.ts imports it from cache-options.interface.ts, where it now lives.
export type { CacheModuleOptions } from './cache-options.interface.js';
