import type { GetOrSetStrategyFactory } from './get-or-set.js';
import type { CacheInstrumentation } from './instrumentation.js';
import type { KeyFunction } from './keys.js';
import type { TimeoutSeconds } from './timeouts.js';

/** The settings of one alias that `Cache` applies around its backend. */
export interface CacheSettings {
  alias: string;
  /** Default timeout in seconds; `null` never expires. */
  timeout: TimeoutSeconds;
  keyPrefix: string;
  version: number;
  keyFunction: KeyFunction;
  ignoreErrors: boolean;
  /**
   * Time backend commands for `stats().latency` (default `true`). The module turns it off for
   * in-process stores, whose calls take less time than reading the clock twice.
   */
  measureLatency?: boolean;
}

/** What the module builds around a store besides its backend (each has a default). */
export interface CacheParts {
  instrumentation?: CacheInstrumentation;
  /** How `getOrSet` works; the module gives the stampede guard (leases, stale windows, XFetch). */
  getOrSet?: GetOrSetStrategyFactory;
}
