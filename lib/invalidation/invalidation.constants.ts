/** The resolved `invalidation` option of `CacheModule`. */
export const CACHE_INVALIDATION_OPTIONS = Symbol('nestjs-caches:invalidation-options');
