import { channel } from 'node:diagnostics_channel';

/**
 * One backend command of an alias, published on `nestjs-caches:command` once it has settled.
 *
 * @example subscribe(CACHE_COMMAND_CHANNEL, (event) => span((event as CacheCommandEvent).operation))
 */
export interface CacheCommandEvent {
  alias: string;
  /** The `Cache` method: `get`, `set`, `add`, `delete`, `has`, `touch`, `getMany`, `setMany`, `deleteMany`, `incr`, `clear`. */
  operation: string;
  /** The key as the caller gave it (not the made key); several keys joined by `, `; `*` for `clear`. */
  key: string;
  /** Reads only: whether the key was found (for `getMany`, every key). */
  hit?: boolean;
  durationMs: number;
  /** The backend failure, when the command failed. */
  error?: Error;
}

/** A value answered past its freshness, published on `nestjs-caches:stale`. */
export interface CacheStaleEvent {
  alias: string;
  key: string;
  /** `getOrSet` (stale-while-revalidate, grace, lock held elsewhere) or `page` (`X-Cache: STALE`). */
  source: 'getOrSet' | 'page';
}

/** A `getOrSet` that waited for another process's computation, published on `nestjs-caches:lock-wait`. */
export interface CacheLockWaitEvent {
  alias: string;
  key: string;
  waitedMs: number;
}

export const CACHE_COMMAND_CHANNEL = 'nestjs-caches:command';
export const CACHE_STALE_CHANNEL = 'nestjs-caches:stale';
export const CACHE_LOCK_WAIT_CHANNEL = 'nestjs-caches:lock-wait';

// Created once: `hasSubscribers` on a channel object is a field read, so publishing costs nothing
// while no one listens.
export const commandChannel = channel(CACHE_COMMAND_CHANNEL);
export const staleChannel = channel(CACHE_STALE_CHANNEL);
export const lockWaitChannel = channel(CACHE_LOCK_WAIT_CHANNEL);
