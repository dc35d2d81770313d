import { Logger } from '@nestjs/common';
import type { Attributes, Span } from '@opentelemetry/api';
import type { Awaitable } from '../interfaces/cache-backend.interface.js';
import type { CacheObservability } from '../observability/cache-observability.js';
import { commandChannel, lockWaitChannel, staleChannel } from './cache-diagnostics.js';
import { emptyCounters, recordLatency, toStats, type CacheStats } from './cache-stats.js';
import { CacheBackendError, CacheError } from './errors.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** The key of a command as the caller gave it; several keys for the `*Many` commands. */
export type CommandKey = string | readonly string[];

const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;

/** What a backend call answered; a synchronous throw becomes a rejection, recorded like any failure. */
function answerOf<T>(call: () => Awaitable<T>): Awaitable<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A command being watched (spans recorded, or the panel collecting): its span, if any, and when it started. */
interface Watch {
  span: Span | undefined;
  started: number;
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
    private readonly observability: CacheObservability | null = null,
  ) {
    this.failureLog = new RateLimitedLog(new Logger(`Cache:${alias}`), 'failures');
  }

  stats(): CacheStats {
    return toStats(this.counters);
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
    const watch = this.observability?.observing === true ? this.watch(operation, key) : undefined;
    if (watch === undefined && !this.measureLatency && !commandChannel.hasSubscribers) return answerOf(run);
    const answer =
      watch?.span === undefined ? answerOf(run) : this.observability!.tracer!.within(watch.span, () => answerOf(run));
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
    return this.observability?.tracer?.active === true;
  }

  /**
   * A call made of several commands (`getOrSet`) in a span of its own, their parent; `hit`
   * says once it settled whether the cache answered. Only while `tracing`.
   */
  spanned<T>(operation: string, key: string, work: () => Promise<T>, hit: () => boolean): Promise<T> {
    return this.observability!.tracer!.span(`cache.${operation}`, this.attributesOf(operation, key), async (span) => {
      const result = await work();
      span.setAttribute('cache.hit', hit());
      return result;
    });
  }

  private attributesOf(operation: string, key: CommandKey): Attributes {
    return {
      'cache.alias': this.alias,
      'cache.operation': operation,
      'cache.backend': this.backendName,
      ...(this.observability!.tracer!.recordKeys ? { 'cache.key': joined(key) } : {}),
    };
  }

  private watch(operation: string, key: CommandKey): Watch {
    const tracer = this.observability!.tracer;
    const span = tracer?.active ? tracer.start(`cache.${operation}`, this.attributesOf(operation, key)) : undefined;
    return { span, started: performance.now() };
  }

  private finish(
    durationMs: number,
    operation: string,
    key: CommandKey,
    hit: boolean | undefined,
    error: unknown,
    watch: Watch | undefined,
  ): void {
    if (this.measureLatency) recordLatency(this.counters, durationMs);
    if (commandChannel.hasSubscribers) {
      commandChannel.publish({ alias: this.alias, operation, key: joined(key), hit, durationMs, error });
    }
    if (watch === undefined) return;
    if (watch.span !== undefined) {
      if (hit !== undefined) watch.span.setAttribute('cache.hit', hit);
      this.observability!.tracer!.end(watch.span, error);
    }
    const request = this.observability!.currentRequest();
    if (request !== undefined) {
      this.observability!.panel!.record(
        request,
        {
          alias: this.alias,
          operation,
          key: joined(key),
          hit,
          durationMs,
          origin: this.observability!.currentOrigin(),
          ...(error === undefined ? {} : { error: (error as Error)?.message ?? String(error) }),
        },
        watch.started,
      );
    }
  }
}

const joined = (key: CommandKey): string => (typeof key === 'string' ? key : key.join(', '));
