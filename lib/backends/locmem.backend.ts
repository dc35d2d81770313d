import { addDelta } from '../core/cache.js';
import { coarseNow } from '../core/coarse-clock.js';
import { readSnapshot, takeSnapshot, type Snapshot } from '../core/snapshot.js';
import type { TtlMs } from '../core/timeouts.js';
import { MISS, type CacheBackend, type Miss } from '../interfaces/cache-backend.interface.js';

interface Entry extends Snapshot {
  /** Epoch ms; `Infinity` never expires. */
  expiresAt: number;
  /** When the entry was last stored or read, on the store's own counter. */
  usedAt: number;
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
 * Process memory, least recently used first out. Each read stamps its entry with a counter
 * instead of reordering the map: a hit stays a lookup and a store, and only a cull (rare: the
 * store must be full) sorts by the stamps.
 */
export class LocMemBackend implements CacheBackend {
  private readonly entries: Map<string, Entry>;
  private uses = 0;
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
    entry.usedAt = ++this.uses;
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
    this.entries.set(key, { frozen: next, bytes: undefined, expiresAt: entry.expiresAt, usedAt: ++this.uses });
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

  clear(): void {
    this.entries.clear();
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
    this.entries.set(key, { frozen: snapshot.frozen, bytes: snapshot.bytes, expiresAt, usedAt: ++this.uses });
  }

  private cull(): void {
    if (this.options.cullFrequency === 0) return this.entries.clear();
    const count = Math.floor(this.entries.size / this.options.cullFrequency);
    const leastRecentlyUsed = [...this.entries].sort(([, a], [, b]) => a.usedAt - b.usedAt).slice(0, count);
    for (const [key] of leastRecentlyUsed) this.entries.delete(key);
  }
}
