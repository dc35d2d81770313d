/**
 * Stampede protection for `cache.getOrSet` and `@Cacheable`. In-process single flight is always on;
 * each option adds a layer.
 *
 * @example await cache.getOrSet('report', build, 600, undefined, { lock: true, staleWhileRevalidate: 60, grace: 3600 })
 */
export interface GetOrSetOptions<T = unknown> {
  /**
   * One computation across processes: a lease taken with `add` (`ttl` seconds, default 10; it
   * expires if its owner dies) while the others wait up to `wait` seconds (default `ttl`) for the
   * value, then compute anyway.
   */
  lock?: boolean | { ttl?: number; wait?: number };
  /** Seconds after the timeout during which the stale value is served while one refresh runs in the background. */
  staleWhileRevalidate?: number;
  /** Seconds during which the stale value keeps being served while refreshes fail (retried with back-off). */
  grace?: number;
  /** XFetch's beta (1 is the paper's default; more refreshes earlier): hot keys are refreshed before they expire. */
  earlyRefresh?: number;
  /** Values for which this returns true are returned but not stored (Spring's `unless`). */
  unless?: (value: T) => boolean;
  /**
   * When the store fails (`CacheBackendError`), answer the computed value instead of throwing, as
   * `@Cacheable` does. Callers of a key whose reads fail together still share one computation.
   */
  failOpen?: boolean;
  /** The random source of `earlyRefresh`, uniform in [0, 1) (default `Math.random`); tests seed it. */
  random?: () => number;
}
