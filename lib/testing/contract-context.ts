import type { Caches } from '../caches.js';
import type { CacheEntryOptions } from '../interfaces/cache-options.interface.js';

/** What the backend under test does differently, and what it needs besides CacheModule. */
export interface CacheBackendContractOptions {
  /** Shortest timeout (seconds) the backend honours precisely (0.3); memcached counts whole seconds. */
  shortTimeout?: number;
  /** The backend refuses unsafe keys (memcached) with `CacheKeyError` instead of warning. */
  rejectsUnsafeKeys?: boolean;
  /**
   * Counters the server keeps as unsigned 64-bit numbers (memcached): they cannot go below 0, and
   * the server has stored a result past `Number.MAX_SAFE_INTEGER` before the library refuses it.
   */
  unsignedServerCounters?: boolean;
  /** The backend culls as Django's do, by `options.maxEntries` and `options.cullFrequency`. */
  culls?: boolean;
  /** Modules the backend needs beside CacheModule, e.g. `TypeOrmModule.forRoot(...)`. */
  imports?: () => unknown[];
  /** Aliases the backend needs beside the contract's own, e.g. the tiers of a tiered alias. */
  extraCaches?: () => Record<string, CacheEntryOptions>;
}

/** What the parts of the contract share: set before their tests run. */
export interface ContractContext {
  readonly target: CacheBackendContractOptions;
  readonly shortTimeout: number;
  afterExpiry(): Promise<unknown>;
  caches: Caches;
}
