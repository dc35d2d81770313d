import { addDelta } from '../core/values.js';
import { coarseNow } from '../core/coarse-clock.js';
import { globToRegExp } from '../core/keys.js';
import { readSnapshot, takeSnapshot, type Snapshot } from '../core/snapshot.js';
import type { TtlMs } from '../core/timeouts.js';
import { MISS, type CacheBackend, type EntryTally, type Miss } from '../interfaces/cache-backend.interface.js';

interface Entry extends Snapshot {
  /** Epoch ms; `Infinity` never expires. */
  expiresAt: number;
}

export interface LocMemOptions {
  /** Entries kept before culling (Django's MAX_ENTRIES). */
  maxEntries: number;
  /** A cull removes `1 / cullFrequency` of the entries; `0` removes them all. */
  cullFrequency: number;
}

// Stores with the same location share one map within the process, as in Django. A map lives
// as long as a store uses it, so the registry holds no more maps than there are open stores.
const sharedMaps = new Map<string, { entries: Map<string, Entry>; users: number }>();

function acquire(location: string): Map<string, Entry> {
  let shared = sharedMaps.get(location);
  if (!shared) sharedMaps.set(location, (shared = { entries: new Map(), users: 0 }));
  shared.users++;
  return shared.entries;
}

function release(location: string): void {
  const shared = sharedMaps.get(location);
  if (shared && --shared.users === 0) sharedMaps.delete(location);
}

/**
 * Process memory, least recently used first out. The map's insertion order is the order of use:
 * a read or a write moves its key to the end (Django's `OrderedDict.move_to_end`), so a cull
 * removes the first `1 / cullFrequency` keys without sorting, and every hit and write is O(1).
 */
export class LocMemBackend implements CacheBackend {
  readonly inProcess = true;
  readonly processLocal = true;
  private readonly entries: Map<string, Entry>;
  private closed = false;

  constructor(
    private readonly location: string,
    private readonly options: LocMemOptions,
  ) {
    this.entries = acquire(location);
  }

  get(key: string): unknown {
    const entry = this.live(key);
    if (entry === undefined) return MISS;
    this.moveToEnd(key, entry);
    return readSnapshot(entry);
  }

  has(key: string): boolean {
    return this.live(key) !== undefined;
  }

  set(key: string, value: unknown, ttlMs: TtlMs): void {
    this.store(key, takeSnapshot(value, key), ttlMs);
  }

  add(key: string, value: unknown, ttlMs: TtlMs): boolean {
    if (this.live(key) !== undefined) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): string[] {
    const snapshots = entries.map(([key, value]) => [key, takeSnapshot(value, key)] as const);
    for (const [key, snapshot] of snapshots) this.store(key, snapshot, ttlMs);
    return [];
  }

  incr(key: string, delta: number): number | bigint | Miss {
    const entry = this.live(key);
    if (entry === undefined) return MISS;
    const next = addDelta(readSnapshot(entry), delta, key);
    this.moveToEnd(key, { frozen: next, bytes: undefined, expiresAt: entry.expiresAt });
    return next;
  }

  touch(key: string, ttlMs: TtlMs): boolean {
    const entry = this.live(key);
    if (entry === undefined) return false;
    if (ttlMs !== null && ttlMs <= 0) this.entries.delete(key);
    else entry.expiresAt = ttlMs === null ? Infinity : coarseNow() + ttlMs;
    return true;
  }

  delete(key: string): boolean {
    return this.live(key) !== undefined && this.entries.delete(key);
  }

  // Its own getMany and deleteMany, answered synchronously: with every optional primitive, Cache
  // uses the backend as it is instead of a completed copy whose calls go through bound functions.
  getMany(keys: readonly string[]): unknown[] {
    return keys.map((key) => this.get(key));
  }

  deleteMany(keys: readonly string[]): void {
    for (const key of keys) this.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Removes the keys matching a glob pattern (from `clearPatternOf`): one pass over the map. */
  clearMatching(pattern: string | undefined): void {
    if (pattern === undefined) return this.clear();
    const matches = globToRegExp(pattern);
    for (const key of this.entries.keys()) if (matches.test(key)) this.entries.delete(key);
  }

  /** The entries of this location in this process (expired ones until read or culled). */
  count(): EntryTally {
    return { entries: this.entries.size, description: `${this.entries.size} entries in this process` };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    release(this.location);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    // Entries that never expire skip the clock.
    if (entry === undefined || entry.expiresAt === Infinity || entry.expiresAt > coarseNow()) return entry;
    this.entries.delete(key);
    return undefined;
  }

  private store(key: string, snapshot: Snapshot, ttlMs: TtlMs): void {
    const expiresAt = ttlMs === null ? Infinity : coarseNow() + ttlMs;
    if (!this.entries.has(key) && this.entries.size >= this.options.maxEntries) this.cull();
    this.moveToEnd(key, { frozen: snapshot.frozen, bytes: snapshot.bytes, expiresAt });
  }

  /** A Map keeps a re-inserted key at the end: the most recently used. */
  private moveToEnd(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  /** The first keys in the map are the least recently used. */
  private cull(): void {
    if (this.options.cullFrequency === 0) return this.entries.clear();
    let count = Math.floor(this.entries.size / this.options.cullFrequency);
    for (const key of this.entries.keys()) {
      if (count-- <= 0) break;
      this.entries.delete(key);
    }
  }
}
