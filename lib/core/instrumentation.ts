import { Logger } from '@nestjs/common';
import type { Awaitable } from '../interfaces/cache-backend.interface.js';
import { commandChannel, lockWaitChannel, staleChannel } from './cache-diagnostics.js';
import { emptyCounters, recordLatency, toStats, type CacheStats } from './cache-stats.js';
import { CacheBackendError, CacheError } from './errors.js';
import type { CommandKey, CommandObserver, CommandWatch, ObservedCommand } from './command-observer.js';
import { RateLimitedLog } from './rate-limited-log.js';

export type { CommandKey } from './command-observer.js';

const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;

/** What a backend call answered; a synchronous throw becomes a rejection, recorded like any failure. */
function answerOf<T>(call: () => Awaitable<T>): Awaitable<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * What one alias counts, times and reports about its backend: the counters behind `stats()`, the
 * latency histogram, the `diagnostics_channel` events, the command spans and the panel's records,
 * and backend failures turned into `CacheBackendError`s that are logged once per burst. `Cache`
 * calls its backend through `timed`.
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
    /** The backend's name for spans (`cache.backend`): `redis`, `locmem`, a custom class's name. */
    readonly backendName = 'custom',
    /** Spans and the panel; `null` when the app asked for neither and the API is absent. */
    private readonly observer: CommandObserver | null = null,
  ) {
    this.failureLog = new RateLimitedLog(new Logger(`Cache:${alias}`), 'failures');
  }

  stats(): CacheStats {
    return toStats(this.counters);
  }

  /**
   * Nothing would record the next command: no latency histogram, no diagnostics subscriber, no
   * span or panel. The hottest callers then call the backend directly, without `timed`'s closure.
   */
  get quiet(): boolean {
    return !this.measureLatency && !commandChannel.hasSubscribers && this.observer?.observing !== true;
  }

  /**
   * Runs one backend command and records it from its answer. When `stats()` or a diagnostics
   * subscriber wants it, times it from the moment the backend answered with a promise until it
   * settles: what the command spent waiting on the store. An answer given synchronously (locmem, a
   * tiered L1 hit) took no time worth two clock reads and counts as 0 ms, unless a span or the panel
   * watches the command: then it is timed from the call, inside its span, so that the spans of an
   * ioredis or memjs instrumentation nest under it. `hitOf` says, for reads, whether it found.
   */
  timed<T>(operation: string, key: CommandKey, run: () => Awaitable<T>, hitOf?: (result: T) => boolean): Awaitable<T> {
    const watch = this.observer?.observing === true ? this.observer.watch(this.command(operation, key)) : undefined;
    if (watch === undefined && !this.measureLatency && !commandChannel.hasSubscribers) return answerOf(run);
    const answer = watch === undefined ? answerOf(run) : this.observer!.within(watch, () => answerOf(run));
    if (!isPromise(answer)) {
      this.finish(
        watch === undefined ? 0 : performance.now() - watch.started,
        operation,
        key,
        hitOf?.(answer),
        undefined,
        watch,
      );
      return answer;
    }
    const started = watch?.started ?? performance.now();
    return answer.then(
      (result) => {
        this.finish(performance.now() - started, operation, key, hitOf?.(result), undefined, watch);
        return result;
      },
      (error: unknown) => {
        this.finish(performance.now() - started, operation, key, undefined, error, watch);
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

  /** Whether spans are recorded now (a tracer provider is registered). */
  get tracing(): boolean {
    return this.observer?.tracing === true;
  }

  /**
   * A call made of several commands (`getOrSet`) in a span of its own, their parent; `hit`
   * says once it settled whether the cache answered. Only while `tracing`.
   */
  spanned<T>(operation: string, key: string, work: () => Promise<T>, hit: () => boolean): Promise<T> {
    return this.observer!.spanned(this.command(operation, key), work, hit);
  }

  private command(operation: string, key: CommandKey): ObservedCommand {
    return { alias: this.alias, operation, key, backend: this.backendName };
  }

  private finish(
    durationMs: number,
    operation: string,
    key: CommandKey,
    hit: boolean | undefined,
    error: unknown,
    watch: CommandWatch | undefined,
  ): void {
    if (this.measureLatency) recordLatency(this.counters, durationMs);
    if (commandChannel.hasSubscribers) {
      commandChannel.publish({ alias: this.alias, operation, key: joined(key), hit, durationMs, error });
    }
    if (watch !== undefined) this.observer!.settled(watch, this.command(operation, key), { hit, durationMs, error });
  }
}

const joined = (key: CommandKey): string => (typeof key === 'string' ? key : key.join(', '));
