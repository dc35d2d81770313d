export { CacheModule } from './cache.module.js';
export { getCacheToken } from './cache.constants.js';
export { Caches } from './caches.js';
export { InjectCache } from './inject-cache.decorator.js';
export { FragmentCache, type FragmentCacheOptions } from './fragments/fragment-cache.js';
export { makeTemplateFragmentKey } from './fragments/make-template-fragment-key.js';
export { registerNunjucksCache, type NunjucksEnvironment } from './fragments/nunjucks-cache.extension.js';
export {
  CacheControl,
  CachePage,
  NeverCache,
  VaryOnCookie,
  VaryOnHeaders,
  type CachePageOptions,
} from './http/http-cache.decorators.js';
export { CachePageInterceptor } from './http/cache-page.interceptor.js';
export type { PageCache } from './http/page-cache.js';
export type { CacheControlDirectives } from './http/response-headers.js';
export {
  addNeverCacheHeaders,
  getMaxAge,
  hasVaryHeader,
  patchCacheControl,
  patchResponseHeaders,
  patchVaryHeaders,
  type PatchableResponse,
} from './http/header-helpers.js';
export { Cache, type CacheSettings, type ValueOrFactory } from './core/cache.js';
export { LATENCY_BUCKETS_MS, type CacheLatency, type CacheStats } from './core/cache-stats.js';
export { CacheHealthIndicator, type CacheHealthOptions, type CacheHealthResult } from './observability/cache.health.js';
export { CacheMetrics } from './observability/cache-metrics.js';
export type { CacheMetricsOptions, PrometheusRegistry } from './interfaces/cache-metrics-options.interface.js';
export type { CachePanelOptions, CacheTracingOptions } from './interfaces/observability-options.interface.js';
export type { PanelCall, PanelRequest } from './observability/cache-panel.js';
export {
  CACHE_COMMAND_CHANNEL,
  CACHE_LOCK_WAIT_CHANNEL,
  CACHE_STALE_CHANNEL,
  type CacheCommandEvent,
  type CacheLockWaitEvent,
  type CacheStaleEvent,
} from './core/cache-diagnostics.js';
export { parseCacheUrl } from './core/cache-url.js';
export { KeyvCacheStore, toKeyvStore } from './interop/to-keyv-store.js';
export { CacheBackendError, CacheConfigError, CacheError, CacheKeyError, CacheValueError } from './core/errors.js';
export { defaultKeyFunction, MAX_KEY_LENGTH, type KeyFunction } from './core/keys.js';
export type { TimeoutSeconds, TtlMs } from './core/timeouts.js';
export {
  MISS,
  type Awaitable,
  type CacheBackend,
  type EntryTally,
  type Miss,
  type ValueWithTtl,
} from './interfaces/cache-backend.interface.js';
export type {
  BackendContext,
  BuiltInBackendName,
  CacheBackendClass,
  CacheEntryOptions,
  CacheLocation,
  CacheModuleAsyncConfig,
  CacheModuleAsyncOptions,
  CacheModuleOptions,
  CachesOptions,
  CommonEntryOptions,
  CullingOptions,
  CustomEntryOptions,
  DatabaseEntryOptions,
  DummyEntryOptions,
  FileSystemEntryOptions,
  KeyvEntryOptions,
  LocMemEntryOptions,
  MemcachedEntryOptions,
  RedisClusterLocation,
  RedisEntryOptions,
  RedisSentinelLocation,
  ResolvedCacheEntry,
  TieredEntryOptions,
} from './interfaces/cache-options.interface.js';
export type { SiteCacheOptions } from './interfaces/cache-options.interface.js';
export type { GetOrSetOptions } from './interfaces/get-or-set-options.interface.js';
export { Cacheable } from './methods/cacheable.decorator.js';
export { CacheConfig } from './methods/cache-config.decorator.js';
export { CacheEvict } from './methods/cache-evict.decorator.js';
export { CachePut } from './methods/cache-put.decorator.js';
export { EARLY_REFRESH_RANDOM } from './cache.constants.js';
export type {
  CacheableOptions,
  CacheConfigOptions,
  CacheEvictOptions,
  CachePutOptions,
  MethodCacheKey,
} from './methods/method-cache-options.interface.js';
export { CacheInvalidator } from './invalidation/cache-invalidator.js';
export { InvalidatesAlso } from './invalidation/invalidates-also.decorator.js';
export { versionedKeyPart } from './invalidation/generations.js';
export type { Dependency } from './invalidation/dependencies.js';
export type {
  EntityRef,
  InvalidationOptions,
  InvalidationRelation,
} from './interfaces/invalidation-options.interface.js';
