import { MISS } from '../interfaces/cache-backend.interface.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
import { CacheBackendError } from './errors.js';
import { Flights } from './flights.js';
import type { TimeoutSeconds } from './timeouts.js';

/** A value to store, or a function (sync or async) that computes it on a miss. */
export type ValueOrFactory<T> = T | (() => T | Promise<T>);

/** What a `getOrSet` strategy needs of a store: Django's reads and writes by user key, nothing more. */
export interface GetOrSetStore {
  readonly alias: string;
  readonly defaultTimeout: TimeoutSeconds;
  makeKey(key: string, version?: number): string;
  get<T>(key: string, defaultValue: T, version?: number): Promise<T>;
  set(key: string, value: unknown, timeout?: TimeoutSeconds, version?: number): Promise<void>;
  add(key: string, value: unknown, timeout?: TimeoutSeconds, version?: number): Promise<boolean>;
}

/**
 * What `cache.getOrSet` does after its first read (`Cache` makes it, failing open where asked):
 * compute, store and answer. `Cache` is given one when it is built.
 */
export interface GetOrSetStrategy {
  /** `stored`: what the first read found, `MISS` or a value the options may not serve as it is. */
  answer<T>(
    key: string,
    stored: unknown,
    valueOrFactory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T>;
}

/** Makes a store's strategy once the store exists: it reads and writes through the store, and shares its flights. */
export type GetOrSetStrategyFactory = (store: GetOrSetStore, computing: Flights) => GetOrSetStrategy;

/** Whether the options ask for more than in-process single flight (the plain strategy). */
export function needsStampedeGuard(options: GetOrSetOptions<never> | undefined): boolean {
  return (
    options !== undefined &&
    (Boolean(options.lock) ||
      options.staleWhileRevalidate !== undefined ||
      options.grace !== undefined ||
      options.earlyRefresh !== undefined)
  );
}

/**
 * One store's `getOrSet`: the first read, then its strategy unless the read was a plain hit. With
 * `failOpen`, a read the store fails is answered by a run shared with the reads that failed with
 * it (`Flights.afterFailedRead`), and a write that fails by the computed value (`computeShared`).
 */
export class StoreGetOrSet {
  /** The store's computations running now, shared by its strategy and `Cache.readThrough`. */
  readonly flights = new Flights();
  private readonly strategy: GetOrSetStrategy;

  constructor(
    private readonly store: GetOrSetStore,
    strategyOf: GetOrSetStrategyFactory = (plainStore, flights) => new PlainGetOrSet(plainStore, flights),
  ) {
    this.strategy = strategyOf(store, this.flights);
  }

  async getOrSet<T>(
    key: string,
    valueOrFactory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    const readNumber = ++this.flights.reads;
    let stored: unknown;
    try {
      stored = await this.store.get(key, MISS, version);
    } catch (error) {
      if (options?.failOpen !== true) throw error;
      return this.afterFailedRead(error, key, version, readNumber, valueOrFactory);
    }
    // The store answers again: a run shared while it failed is no longer needed.
    if (this.flights.remembersOutages) this.flights.answered(this.store.makeKey(key, version));
    if (stored !== MISS && !needsStampedeGuard(options)) return stored as T;
    return this.strategy.answer(key, stored, valueOrFactory, timeout, version, options);
  }

  /** Failing open after read `readNumber` of `key` failed; any error but a store's is thrown. */
  afterFailedRead<T>(
    error: unknown,
    key: string,
    version: number | undefined,
    readNumber: number,
    valueOrFactory: ValueOrFactory<T>,
  ): Promise<T> {
    if (!(error instanceof CacheBackendError)) throw error;
    return this.flights.afterFailedRead(this.store.makeKey(key, version), readNumber, () => valueOf(valueOrFactory));
  }
}

/**
 * Django's `get_or_set` after a miss, with concurrent misses of a key in this process sharing one
 * run of the factory: compute, `add`, and re-read (another process may have added first).
 */
export class PlainGetOrSet implements GetOrSetStrategy {
  constructor(
    private readonly store: GetOrSetStore,
    /** The store's computations running now, by made key; shared with the other strategies. */
    private readonly computing: Flights,
  ) {}

  answer<T>(
    key: string,
    _stored: unknown,
    valueOrFactory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    return computeShared(this.computing, this.store.makeKey(key, version), valueOrFactory, options, async (compute) => {
      const value = await compute();
      if (options?.unless?.(value)) return value;
      await this.store.add(key, value, timeout, version);
      // Re-read: another process may have added its value between our miss and our add.
      return this.store.get<T>(key, value, version);
    });
  }
}

/**
 * The one computation of `made` in this process: callers that find it running join it. `run`
 * computes through the factory it is given and stores. With `failOpen`, a store that fails during
 * the run (`CacheBackendError`) does not fail the callers: they get the computed value, or, if
 * the store failed before the factory ran, a run of it; a factory that threw is not run again.
 */
export function computeShared<T>(
  computing: Flights,
  made: string,
  valueOrFactory: ValueOrFactory<T>,
  options: GetOrSetOptions<T> | undefined,
  run: (compute: () => Promise<T>) => Promise<T>,
): Promise<T> {
  if (options?.failOpen !== true) return computing.run(made, () => run(() => valueOf(valueOrFactory)));
  return computing.run(made, async () => {
    const factory = { started: false, done: false, result: undefined as T };
    const compute = async () => {
      factory.started = true;
      factory.result = await valueOf(valueOrFactory);
      factory.done = true;
      return factory.result;
    };
    try {
      return await run(compute);
    } catch (error) {
      if (!(error instanceof CacheBackendError) || (factory.started && !factory.done)) throw error;
      return factory.done ? factory.result : valueOf(valueOrFactory);
    }
  });
}

/** The value itself, or what the factory answers. */
export async function valueOf<T>(valueOrFactory: ValueOrFactory<T>): Promise<T> {
  return typeof valueOrFactory === 'function' ? (valueOrFactory as () => T | Promise<T>)() : valueOrFactory;
}
