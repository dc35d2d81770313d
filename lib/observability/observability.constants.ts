/** Holds the resolved `metrics` option of `CacheModule`. */
export const CACHE_METRICS_OPTIONS = Symbol('nestjs-caches:metrics-options');

/** Holds the app's `CacheObservability` (spans and the panel), or `null` when there is neither. */
export const CACHE_OBSERVABILITY = Symbol('nestjs-caches:observability');
