/** The operations recorded on a method (prototype + method name). */
export const CACHE_OPERATIONS = Symbol('nestjs-caches:operations');
/** The instance property where the explorer puts a method's wrapper for its trampoline. */
export const CACHE_WRAPPER_SLOT = Symbol('nestjs-caches:wrapper-slot');
/** The class defaults of `@CacheConfig`. */
export const CACHE_CONFIG = Symbol('nestjs-caches:cache-config');

/**
 * The random source of `earlyRefresh` in decorated methods, uniform in [0, 1) (default `Math.random`);
 * tests replace it with `.overrideProvider(EARLY_REFRESH_RANDOM).useValue(seeded)`.
 */
export const EARLY_REFRESH_RANDOM = Symbol('nestjs-caches:early-refresh-random');
