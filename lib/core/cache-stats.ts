/**
 * Upper bounds, in milliseconds, of the latency histogram's buckets (a last one, +Inf, holds the
 * rest). Fixed, so that the histogram of an alias costs the same memory whatever its traffic.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000];

/**
 * How long the backend took to answer the commands of one alias. Timed for networked backends
 * (and for every alias while `diagnostics_channel` has a subscriber); in-process stores (locmem,
 * dummy) answer in nanoseconds, and timing them would cost more than the call itself.
 */
export interface CacheLatency {
  /** Commands timed. */
  count: number;
  /** Their total time in milliseconds: `totalMs / count` is the mean. */
  totalMs: number;
  /** Cumulative counts as Prometheus has them: `count` of commands that took at most `leMs`. */
  buckets: Array<{ leMs: number; count: number }>;
}

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
  /** Backend failures (each also logged, once per burst). */
  errors: number;
  /** Values answered past their freshness: `getOrSet`'s stale-while-revalidate and grace, pages answered `STALE`. */
  staleServes: number;
  /** `getOrSet` calls with `lock` that waited for another process's computation. */
  lockWaits: number;
  /** Their total wait in milliseconds. */
  lockWaitMs: number;
  latency: CacheLatency;
}

/** The counters as `Cache` keeps them: plain fields and a flat bucket array, cheap to bump. */
export interface CacheCounters {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
  staleServes: number;
  lockWaits: number;
  lockWaitMs: number;
  latencyCount: number;
  latencyTotalMs: number;
  /** One slot per bucket of `LATENCY_BUCKETS_MS`, plus +Inf; not cumulative. */
  latencyBuckets: number[];
}

export function emptyCounters(): CacheCounters {
  return {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
    staleServes: 0,
    lockWaits: 0,
    lockWaitMs: 0,
    latencyCount: 0,
    latencyTotalMs: 0,
    latencyBuckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0),
  };
}

export function recordLatency(counters: CacheCounters, durationMs: number): void {
  counters.latencyCount++;
  counters.latencyTotalMs += durationMs;
  let bucket = 0;
  while (bucket < LATENCY_BUCKETS_MS.length && durationMs > LATENCY_BUCKETS_MS[bucket]!) bucket++;
  counters.latencyBuckets[bucket]!++;
}

export function toStats(counters: CacheCounters): CacheStats {
  let cumulative = 0;
  const buckets = LATENCY_BUCKETS_MS.map((leMs, i) => ({ leMs, count: (cumulative += counters.latencyBuckets[i]!) }));
  buckets.push({ leMs: Infinity, count: counters.latencyCount });
  return {
    hits: counters.hits,
    misses: counters.misses,
    sets: counters.sets,
    deletes: counters.deletes,
    errors: counters.errors,
    staleServes: counters.staleServes,
    lockWaits: counters.lockWaits,
    lockWaitMs: counters.lockWaitMs,
    latency: { count: counters.latencyCount, totalMs: counters.latencyTotalMs, buckets },
  };
}
