/**
 * Counters of one alias since the process started.
 *
 * @example const { hits, misses } = cache.stats(); const hitRatio = hits / (hits + misses);
 */
export interface CacheStats {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
}

export function emptyStats(): CacheStats {
  return { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 };
}
