import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  computeShared,
  needsStampedeGuard,
  PlainGetOrSet,
  type GetOrSetStore,
  type GetOrSetStrategy,
  type ValueOrFactory,
} from '../core/get-or-set.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import type { Flights } from '../core/flights.js';
import { toTtlMs, type TimeoutSeconds } from '../core/timeouts.js';
import { MISS } from '../interfaces/cache-backend.interface.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
import { asEnvelope, isFresh, wrapInEnvelope, type Envelope } from './envelope.js';
import { Lease, type LeaseStore } from './lease.js';
import { shouldRefreshEarly } from './xfetch.js';

const DEFAULT_LOCK_TTL_SECONDS = 10;
// Waiters poll for the owner's value; short at first (most computations are quick), then calmer.
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;
// After a failed refresh the stale value is served without retrying for a while: 1 s, 2 s, 4 s… 30 s.
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
// Bounds on the bookkeeping: a flood of distinct keys must not grow memory without limit.
const MAX_BACKGROUND_REFRESHES = 1000;
const MAX_TRACKED_FAILURES = 1000;

/** Where the guard reports what it did (the alias's counters and diagnostics channels). */
export interface StampedeEvents {
  recordStaleServe(key: string, source: 'getOrSet'): void;
  recordLockWait(key: string, waitedMs: number): void;
}

/** What the options of one call mean in milliseconds. */
interface Plan<T> {
  key: string;
  version: number | undefined;
  factory: ValueOrFactory<T>;
  timeout: TimeoutSeconds | undefined;
  ttlMs: number | null;
  enveloped: boolean;
  staleMs: number;
  graceMs: number;
  lock: { ttlMs: number; waitMs: number } | undefined;
  options: GetOrSetOptions<T>;
}

/**
 * `getOrSet` with the layers of `GetOrSetOptions` on top of the in-process single flight: a
 * cross-process lease, logical expiry with stale-while-revalidate and grace, and XFetch early
 * refresh. Calls whose options ask for none of them take the plain strategy. One per store.
 */
export class StampedeGuard implements GetOrSetStrategy {
  /** Keys whose last refresh failed: not retried before `retryAt`. */
  private readonly failures = new Map<string, { count: number; retryAt: number }>();
  private readonly failureLog: RateLimitedLog;
  private readonly plain: PlainGetOrSet;
  /** Background refreshes running now: bounded on their own, whatever else computes. */
  private refreshing = 0;

  constructor(
    private readonly cache: GetOrSetStore,
    private readonly leases: LeaseStore,
    /**
     * The store's computations running in this process, by made key: foreground, background and
     * plain `getOrSet` calls of one key share one run.
     */
    private readonly computing: Flights,
    private readonly events: StampedeEvents,
  ) {
    this.failureLog = new RateLimitedLog(new Logger(`Cache:${cache.alias}`), 'failed refreshes');
    this.plain = new PlainGetOrSet(cache, computing);
  }

  async answer<T>(
    key: string,
    stored: unknown,
    factory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    if (options === undefined || !needsStampedeGuard(options)) {
      return this.plain.answer(key, stored, factory, timeout, version, options);
    }
    const plan = this.plan(key, factory, timeout, version, options);
    if (stored === MISS) return this.computeOnce(plan, undefined);
    const envelope = asEnvelope<T>(stored);
    // A plain value (stored by `set` or `@CachePut`) has no logical expiry: its TTL is its life.
    if (envelope === undefined) return stored as T;
    const now = Date.now();
    if (isFresh(envelope, now)) {
      if (
        options.earlyRefresh !== undefined &&
        shouldRefreshEarly(envelope, options.earlyRefresh, now, options.random ?? Math.random)
      ) {
        this.refreshInBackground(plan, envelope);
      }
      return envelope.value;
    }
    const staleFor = now - envelope.freshUntil!;
    if (staleFor < plan.staleMs) {
      this.refreshInBackground(plan, envelope);
      this.events.recordStaleServe(key, 'getOrSet');
      return envelope.value;
    }
    const made = this.cache.makeKey(key, version);
    if (this.backingOff(made, now)) {
      this.events.recordStaleServe(key, 'getOrSet');
      return envelope.value;
    }
    try {
      return await this.computeOnce(plan, envelope);
    } catch (error) {
      if (staleFor < plan.staleMs + plan.graceMs) {
        this.recordFailure(made, error);
        this.events.recordStaleServe(key, 'getOrSet');
        return envelope.value;
      }
      throw error;
    }
  }

  private plan<T>(
    key: string,
    factory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T>,
  ): Plan<T> {
    const seconds = (value: number | undefined) => (value === undefined ? 0 : value * 1000);
    const lock = options.lock;
    const lockTtl = typeof lock === 'object' ? (lock.ttl ?? DEFAULT_LOCK_TTL_SECONDS) : DEFAULT_LOCK_TTL_SECONDS;
    const lockWait = typeof lock === 'object' ? (lock.wait ?? lockTtl) : lockTtl;
    return {
      key,
      version,
      factory,
      timeout,
      ttlMs: toTtlMs(timeout, this.cache.defaultTimeout),
      enveloped:
        options.staleWhileRevalidate !== undefined || options.grace !== undefined || options.earlyRefresh !== undefined,
      staleMs: seconds(options.staleWhileRevalidate),
      graceMs: seconds(options.grace),
      lock: lock ? { ttlMs: lockTtl * 1000, waitMs: lockWait * 1000 } : undefined,
      options,
    };
  }

  /** One computation per key in this process; later callers join the running one. */
  private computeOnce<T>(plan: Plan<T>, stale: Envelope<T> | undefined): Promise<T> {
    const made = this.cache.makeKey(plan.key, plan.version);
    return computeShared(this.computing, made, plan.factory, plan.options, (compute) =>
      plan.lock ? this.computeUnderLease(plan, stale, compute) : this.computeAndStore(plan, compute),
    );
  }

  /**
   * The lease owner computes; the others serve the stale value if there is one, or wait for the
   * owner's value (re-reading), at most `wait` seconds, and then compute anyway: a dead or slow
   * owner must not stall them longer than that.
   */
  private async computeUnderLease<T>(
    plan: Plan<T>,
    stale: Envelope<T> | undefined,
    compute: () => Promise<T>,
  ): Promise<T> {
    const { ttlMs, waitMs } = plan.lock!;
    const startedAt = Date.now();
    const deadline = startedAt + waitMs;
    let pollMs = FIRST_POLL_MS;
    let waited = false;
    const stopWaiting = () => {
      if (waited) this.events.recordLockWait(plan.key, Date.now() - startedAt);
    };
    for (;;) {
      const lease = await Lease.take(this.leases, plan.key, plan.version, ttlMs);
      if (lease !== undefined) {
        stopWaiting();
        try {
          // Re-read: the previous owner may have stored the value between our read and our lease.
          const current = await this.readUsable<T>(plan);
          return current !== MISS ? current : await this.computeAndStore(plan, compute);
        } finally {
          await lease.release();
        }
      }
      if (stale !== undefined) {
        // Another process holds the lease while the stale value may still be served (grace).
        this.events.recordStaleServe(plan.key, 'getOrSet');
        return stale.value;
      }
      if (Date.now() + pollMs > deadline) {
        stopWaiting();
        return this.computeAndStore(plan, compute);
      }
      waited = true;
      await sleep(pollMs, undefined, { ref: false });
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      const current = await this.readUsable<T>(plan);
      if (current !== MISS) {
        stopWaiting();
        return current;
      }
    }
  }

  /** The stored value if it may be served as is (present, and fresh when enveloped). */
  private async readUsable<T>(plan: Plan<T>): Promise<T | typeof MISS> {
    const stored = await this.cache.get<unknown>(plan.key, MISS, plan.version);
    if (stored === MISS) return MISS;
    const envelope = asEnvelope<T>(stored);
    if (envelope === undefined) return stored as T;
    return isFresh(envelope, Date.now()) ? envelope.value : MISS;
  }

  private async computeAndStore<T>(plan: Plan<T>, compute: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const value = await compute();
    const computeMs = performance.now() - started;
    if (plan.options.unless?.(value)) return value;
    if (!plan.enveloped) {
      await this.cache.set(plan.key, value, plan.timeout, plan.version);
    } else if (plan.ttlMs === null) {
      await this.cache.set(plan.key, wrapInEnvelope(value, null, computeMs), null, plan.version);
    } else if (plan.ttlMs > 0) {
      // The value outlives its freshness by the stale and grace windows, where it is served stale.
      const physicalSeconds = (plan.ttlMs + plan.staleMs + plan.graceMs) / 1000;
      await this.cache.set(plan.key, wrapInEnvelope(value, plan.ttlMs, computeMs), physicalSeconds, plan.version);
    }
    this.failures.delete(this.cache.makeKey(plan.key, plan.version));
    return value;
  }

  /** Starts one refresh of a key unless one runs, it is backing off, or too many run already. */
  private refreshInBackground<T>(plan: Plan<T>, stale: Envelope<T>): void {
    const made = this.cache.makeKey(plan.key, plan.version);
    if (this.computing.runningNow(made) !== undefined || this.refreshing >= MAX_BACKGROUND_REFRESHES) return;
    if (this.backingOff(made, Date.now())) return;
    this.refreshing++;
    this.computeOnce(plan, stale)
      .catch((error: unknown) => this.recordFailure(made, error))
      .finally(() => this.refreshing--);
  }

  private backingOff(made: string, now: number): boolean {
    const failure = this.failures.get(made);
    return failure !== undefined && now < failure.retryAt;
  }

  private recordFailure(made: string, error: unknown): void {
    const count = (this.failures.get(made)?.count ?? 0) + 1;
    const delayMs = Math.min(FIRST_BACKOFF_MS * 2 ** (count - 1), MAX_BACKOFF_MS);
    this.failures.delete(made);
    if (this.failures.size >= MAX_TRACKED_FAILURES) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(made, { count, retryAt: Date.now() + delayMs });
    this.failureLog.warn(
      `Refreshing '${made}' failed (serving the stale value, next try in ${delayMs / 1000} s): ${(error as Error)?.message ?? String(error)}`,
    );
  }
}
