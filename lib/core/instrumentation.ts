import { Logger } from '@nestjs/common';
import type { Awaitable } from '../interfaces/cache-backend.interface.js';
import { commandChannel, lockWaitChannel, staleChannel } from './cache-diagnostics.js';
import { emptyCounters, recordLatency, toStats, type CacheStats } from './cache-stats.js';
import { CacheBackendError, CacheError } from './errors.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** The key of a command as the caller gave it; several keys for the `*Many` commands. */
export type CommandKey = string | readonly string[];

const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;

/**
 * What one alias counts, times and reports about its backend: the counters behind `stats()`, the
 * latency histogram, the `diagnostics_channel` events, and backend failures turned into
 * `CacheBackendError`s that are logged once per burst. `Cache` calls its backend through `timed`.
 */
export class CacheInstrumentation {
  /** The counters behind `stats()`; `Cache` bumps them after each command. */
  readonly counters = emptyCounters();
  private readonly failureLog: RateLimitedLog;

  constructor(
    readonly alias: string,
    /**
     * Time backend commands for `stats().latency`. Off for in-process stores, whose calls take
     * less time than reading the clock twice.
     */
    private readonly measureLatency: boolean,
  ) {
    this.failureLog = new RateLimitedLog(new Logger(`Cache:${alias}`), 'failures');
  }

  stats(): CacheStats {
    return toStats(this.counters);
  }

  /**
   * Records one backend command from its answer and, when `stats()` or a diagnostics subscriber
   * wants it, times it from the moment the backend answered with a promise until it settles: what
   * the command spent waiting on the store. An answer given synchronously (locmem, a tiered L1 hit)
   * took no time worth two clock reads and counts as 0 ms. `hitOf` says, for reads, whether it found.
   */
  timed<T>(operation: string, key: CommandKey, answer: Awaitable<T>, hitOf?: (result: T) => boolean): Awaitable<T> {
    if (!this.measureLatency && !commandChannel.hasSubscribers) return answer;
    if (!isPromise(answer)) {
      this.finish(0, operation, key, hitOf?.(answer));
      return answer;
    }
    const started = performance.now();
    return answer.then(
      (result) => {
        this.finish(performance.now() - started, operation, key, hitOf?.(result));
        return result;
      },
      (error: unknown) => {
        this.finish(performance.now() - started, operation, key, undefined, error);
        throw error;
      },
    );
  }

  /**
   * The error to give the caller: errors about the caller's input (`CacheKeyError`,
   * `CacheValueError`…) stay as they are; anything else is a backend failure, counted, logged once
   * per burst, and returned as a `CacheBackendError` that says what to do.
   */
  failure(error: unknown, operation: string, key: CommandKey): CacheError {
    if (error instanceof CacheError && !(error instanceof CacheBackendError)) return error;
    this.counters.errors++;
    const failure =
      error instanceof CacheBackendError
        ? error
        : new CacheBackendError(
            `Cache '${this.alias}' failed to ${operation} '${joined(key)}': ${(error as Error)?.message ?? String(error)}. Check that the backend is reachable, or set ignoreErrors: true on the alias to treat failures as misses.`,
            { cause: error },
          );
    this.failureLog.warn(failure.message);
    return failure;
  }

  /** Counts a value answered past its freshness (`getOrSet`'s stale windows, a `STALE` page). */
  recordStaleServe(key: string, source: 'getOrSet' | 'page'): void {
    this.counters.staleServes++;
    if (staleChannel.hasSubscribers) staleChannel.publish({ alias: this.alias, key, source });
  }

  /** Counts a `getOrSet` that waited for another process's lease. */
  recordLockWait(key: string, waitedMs: number): void {
    this.counters.lockWaits++;
    this.counters.lockWaitMs += waitedMs;
    if (lockWaitChannel.hasSubscribers) lockWaitChannel.publish({ alias: this.alias, key, waitedMs });
  }

  private finish(durationMs: number, operation: string, key: CommandKey, hit?: boolean, error?: unknown): void {
    if (this.measureLatency) recordLatency(this.counters, durationMs);
    if (commandChannel.hasSubscribers) {
      commandChannel.publish({ alias: this.alias, operation, key: joined(key), hit, durationMs, error });
    }
  }
}

const joined = (key: CommandKey): string => (typeof key === 'string' ? key : key.join(', '));
