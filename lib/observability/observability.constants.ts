/** Holds the resolved `metrics` option of `CacheModule`. */
export const CACHE_METRICS_OPTIONS = Symbol('nestjs-caches:metrics-options');
