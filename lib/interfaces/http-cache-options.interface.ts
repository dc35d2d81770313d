import type { CacheMetricsOptions } from '../observability/cache-metrics-options.interface.js';
import type { CachePanelOptions, CacheTracingOptions } from '../observability/observability-options.interface.js';
import type { InvalidationOptions } from '../invalidation/invalidation-options.interface.js';

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
  /**
   * OpenTelemetry spans, recorded when `@opentelemetry/api` is installed and a tracer provider is
   * registered (no option needed); `{ recordKeys: true }` adds keys, `false` turns spans off.
   */
  tracing?: CacheTracingOptions | false;
  /** The per-request cache panel and `Server-Timing` totals (off; refused under NODE_ENV=production unless forced). */
  panel?: boolean | CachePanelOptions;
}
