import { MISS } from '../interfaces/cache-backend.interface.js';
import type { GetOrSetOptions } from '../interfaces/get-or-set-options.interface.js';
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

/** How `cache.getOrSet` reads, computes and stores; `Cache` is given one when it is built. */
export interface GetOrSetStrategy {
  getOrSet<T>(
    key: string,
    valueOrFactory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T>;
}

/** Makes a store's strategy once the store exists (the strategy reads and writes through it). */
export type GetOrSetStrategyFactory = (store: GetOrSetStore) => GetOrSetStrategy;

/**
 * Django's `get_or_set`, with concurrent misses of a key in this process sharing one run of the
 * factory: read; on a miss compute, `add`, and re-read (another process may have added first).
 */
export class PlainGetOrSet implements GetOrSetStrategy {
  constructor(
    private readonly store: GetOrSetStore,
    /** The store's computations running now, by made key; shared with the other strategies. */
    private readonly computing: Flights = new Flights(),
  ) {}

  async getOrSet<T>(
    key: string,
    valueOrFactory: ValueOrFactory<T>,
    timeout: TimeoutSeconds | undefined,
    version: number | undefined,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    const cached = await this.store.get<unknown>(key, MISS, version);
    if (cached !== MISS) return cached as T;
    return this.computing.run(this.store.makeKey(key, version), async () => {
      const value = await valueOf(valueOrFactory);
      if (options?.unless?.(value)) return value;
      await this.store.add(key, value, timeout, version);
      // Re-read: another process may have added its value between our miss and our add.
      return this.store.get<T>(key, value, version);
    });
  }
}

/** The value itself, or what the factory answers. */
export async function valueOf<T>(valueOrFactory: ValueOrFactory<T>): Promise<T> {
  return typeof valueOrFactory === 'function' ? (valueOrFactory as () => T | Promise<T>)() : valueOrFactory;
}
