import { coarseNow } from '../../core/coarse-clock.js';
import { deleteEach, getEach, setEach } from '../../core/complete-backend.js';
import { clearPatternOf, type KeyFunction } from '../../core/keys.js';
import type { TtlMs } from '../../core/timeouts.js';
import { addDelta } from '../../core/values.js';
import {
  MISS,
  type Awaitable,
  type CacheBackend,
  type Miss,
  type ValueWithTtl,
} from '../../interfaces/cache-backend.interface.js';
import type { InvalidationBus } from './invalidation-bus.js';

const MAX_TRACKED_INVALIDATIONS = 10_000;

interface TieredSettings {
  /** Back-fill lifetime when a tier cannot tell the time a value has left. */
  defaultTtlMs: TtlMs;
  keyFunction: KeyFunction;
  keyPrefix: string;
  bus: InvalidationBus | undefined;
}

/**
 * A chain of stores: reads go down until a hit and back-fill the tiers above with the time the
 * value has left; writes go to every tier, the last (authoritative) first. With a bus, other
 * instances drop their copies in the upper tiers after each write.
 */
export class TieredBackend implements CacheBackend {
  readonly failsOnlyThroughTiers = true;
  private readonly upper: CacheBackend[];
  private readonly lowestIndex: number;
  private readonly lowest: CacheBackend;
  private readonly bus: InvalidationBus | undefined;
  /** `Date.now()` until which the upper tiers may answer: always without a bus, else as it vouches. */
  private upperTrustedUntil = Infinity;
  /**
   * Invalidation clock: an upper-tier copy (a back-fill or a write's) is dropped when its key was
   * invalidated (here or by another instance) after the lower-tier read or write began, since the
   * value may be the one that invalidation replaced.
   */
  private clock = 0;
  private clearedAt = 0;
  private readonly invalidatedAt = new Map<string, number>();
  /**
   * Keys of lower-tier writes that failed (`null`: a clear): a write that timed out may land
   * later, after another instance back-filled the old value. Announced again once the lowest
   * tier answers (on one connection, as redis's, that answer comes after the write's).
   */
  private readonly unsettled = new Set<string>();
  private unsettledAll = false;
  private settling = false;

  constructor(
    private readonly tiers: CacheBackend[],
    private readonly settings: TieredSettings,
  ) {
    this.upper = tiers.slice(0, -1);
    this.lowestIndex = tiers.length - 1;
    this.lowest = tiers[this.lowestIndex]!;
    this.bus = settings.bus;
    this.bus?.onInvalidate((keys) => this.dropUpper(keys));
    this.bus?.onTick(() => this.settle());
    this.bus?.onVouch((until) => (this.upperTrustedUntil = until));
  }

  /** A key one tier cannot store (memcached) is refused before any tier is written. */
  get rejectsUnsafeKeys(): boolean {
    return this.tiers.some((tier) => tier.rejectsUnsafeKeys === true);
  }

  async connected(): Promise<void> {
    await this.bus?.init();
  }

  /**
   * An upper-tier hit from an in-process store is answered synchronously, as that store does.
   * Checking the bus's vouch is one comparison with the coarse clock, no I/O.
   */
  get(key: string): Awaitable<unknown> {
    if (!(coarseNow() < this.upperTrustedUntil)) return this.getBelow(key, MISS);
    const first = this.tiers[0]!.get(key);
    if (first !== MISS && !(first instanceof Promise)) return first;
    return this.getBelow(key, first);
  }

  private async getBelow(key: string, first: Awaitable<unknown>): Promise<unknown> {
    const value = await first;
    if (value !== MISS) return value;
    const found = await this.find(key, 1);
    return found === MISS ? MISS : found.value;
  }

  /** So that a tiered alias can itself be the tier of another. */
  async getWithTtl(key: string): Promise<ValueWithTtl | Miss> {
    return this.find(key);
  }

  async has(key: string): Promise<boolean> {
    for (const tier of this.tiers.slice(this.firstReadable()))
      if (tier.has ? await tier.has(key) : (await tier.get(key)) !== MISS) return true;
    return false;
  }

  async set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    await this.write(
      [key],
      async () => this.lowest.set(key, value, ttlMs),
      () => new Map([[key, { value, ttlMs }]]),
    );
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    let added = false;
    await this.write(
      [key],
      async () => (added = await this.lowest.add(key, value, ttlMs)),
      () => (added ? new Map([[key, { value, ttlMs }]]) : undefined),
    );
    return added;
  }

  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    // The upper copies are dropped rather than rewritten: the next read back-fills them with
    // the lowest tier's lifetime.
    return this.write([key], async () => {
      if (this.lowest.incr) return this.lowest.incr(key, delta);
      const found = await this.findIn(this.lowest, key);
      if (found === MISS) return MISS;
      const result = addDelta(found.value, delta, key);
      await this.lowest.set(key, result, found.ttlMs);
      return result;
    });
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    return this.write([key], async () => this.lowest.touch(key, ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    let deletedAbove = false;
    for (const tier of this.upper) deletedAbove = (await tier.delete(key)) || deletedAbove;
    // The lowest tier's delete drops the upper copies again, after it.
    return (await this.write([key], async () => this.lowest.delete(key))) || deletedAbove;
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    const found = new Map<string, unknown>();
    const startedAt = this.clock;
    let missing = [...keys];
    for (let i = this.firstReadable(); i < this.tiers.length && missing.length > 0; i++) {
      const tier = this.tiers[i]!;
      let hits: Map<string, ValueWithTtl>;
      if (i > 0 && tier.getManyWithTtl) hits = await tier.getManyWithTtl(missing);
      else {
        const values = tier.getMany ? await tier.getMany(missing) : await getEach(tier, missing);
        hits = new Map();
        values.forEach((value, index) => {
          if (value !== MISS) hits.set(missing[index]!, { value, ttlMs: this.settings.defaultTtlMs });
        });
      }
      for (const [key, hit] of hits) found.set(key, hit.value);
      if (i > 0 && hits.size > 0) await this.fillUpper(i, hits, startedAt);
      missing = missing.filter((key) => !hits.has(key));
    }
    return keys.map((key) => (found.has(key) ? found.get(key) : MISS));
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    const keys = entries.map(([key]) => key);
    let failed: string[] = [];
    await this.write(
      keys,
      async () => {
        failed = this.lowest.setMany
          ? await this.lowest.setMany(entries, ttlMs)
          : await setEach(this.lowest, entries, ttlMs);
      },
      () => {
        const stored = new Map<string, ValueWithTtl>();
        for (const [key, value] of entries) if (!failed.includes(key)) stored.set(key, { value, ttlMs });
        return stored;
      },
    );
    // A key the lowest tier refused may still have landed there: no copy of it is kept above.
    if (failed.length > 0) await this.dropUpper(failed);
    return failed;
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await this.write(keys, () => deleteEach(this.lowest, keys));
  }

  /**
   * Clears the tiers, the last first. A tier that can (redis) removes only the keys this alias
   * makes, since it may hold another alias's keys too; the others are cleared whole.
   */
  async clear(): Promise<void> {
    await this.write(null, async () => {
      const pattern = clearPatternOf(this.settings.keyFunction, this.settings.keyPrefix);
      for (const tier of [...this.tiers].reverse()) {
        if (tier.clearMatching) await tier.clearMatching(pattern);
        else await tier.clear();
      }
    });
  }

  /** Closes the bus only: the tiers belong to their own aliases, which close them. */
  async close(): Promise<void> {
    await this.bus?.close();
  }

  /**
   * Every write: the lowest tier first, then the upper tiers lose the keys, the bus announces
   * them, and `fill` (if given) copies what was written into the upper tiers, key by key only if
   * no invalidation of it arrived since the lower-tier write began. A lower-tier write that fails
   * or times out may still land, so it is dropped and announced all the same.
   */
  private async write<T>(
    keys: readonly string[] | null,
    lowerWrite: () => Promise<T>,
    fill?: () => Map<string, ValueWithTtl> | undefined,
  ): Promise<T> {
    const began = this.invalidate(keys);
    let result: T;
    try {
      result = await lowerWrite();
    } catch (error) {
      await this.dropUpper(keys);
      await this.bus?.publish(keys === null ? null : [...keys]);
      if (this.bus !== undefined) this.keepUnsettled(keys);
      throw error;
    }
    const raced = keys === null ? [] : keys.filter((key) => !this.untouchedSince(key, began));
    // Again: a read that began during the write may hold the old value.
    const written = await this.dropUpper(keys);
    await this.bus?.publish(keys === null ? null : [...keys]);
    const copies = fill?.();
    if (copies !== undefined) {
      for (const key of raced) copies.delete(key);
      await this.fillUpper(this.lowestIndex, copies, written);
    }
    return result;
  }

  private keepUnsettled(keys: readonly string[] | null): void {
    if (keys === null || this.unsettled.size + keys.length > MAX_TRACKED_INVALIDATIONS) {
      this.unsettledAll = true;
      this.unsettled.clear();
    } else if (!this.unsettledAll) for (const key of keys) this.unsettled.add(key);
  }

  /** On the bus's tick: once the lowest tier answers again, drops and announces the failed writes' keys again. */
  private settle(): void {
    if (this.settling || (!this.unsettledAll && this.unsettled.size === 0)) return;
    const keys = this.unsettledAll ? null : [...this.unsettled];
    this.settling = true;
    const probe = keys?.[0] ?? '';
    Promise.resolve()
      .then(() => (this.lowest.has ? this.lowest.has(probe) : this.lowest.get(probe)))
      .then(async () => {
        if (keys === null) this.unsettledAll = false;
        else for (const key of keys) this.unsettled.delete(key);
        await this.dropUpper(keys);
        await this.bus?.publish(keys);
      })
      .catch(() => {
        // still down: tried again on the next tick
      })
      .finally(() => (this.settling = false));
  }

  private async find(key: string, from = 0): Promise<ValueWithTtl | Miss> {
    const startedAt = this.clock;
    for (let i = Math.max(from, this.firstReadable()); i < this.tiers.length; i++) {
      const found = await this.findIn(this.tiers[i]!, key, i === 0);
      if (found === MISS) continue;
      if (i > 0) await this.fillUpper(i, new Map([[key, found]]), startedAt);
      return found;
    }
    return MISS;
  }

  private async findIn(tier: CacheBackend, key: string, ttlNotNeeded = false): Promise<ValueWithTtl | Miss> {
    if (!ttlNotNeeded && tier.getWithTtl) return tier.getWithTtl(key);
    const value = await tier.get(key);
    return value === MISS ? MISS : { value, ttlMs: this.settings.defaultTtlMs };
  }

  /** 0, or the lowest tier's index while the bus cannot vouch for the upper tiers' copies. */
  private firstReadable(): number {
    return coarseNow() < this.upperTrustedUntil ? 0 : this.lowestIndex;
  }

  /**
   * Copies values into the tiers above tier `below`, each only if its key was not invalidated
   * after `since` (checked before every tier, since an invalidation may land between them), and
   * only while the bus vouches for the upper tiers. Best effort: a failing upper tier must not
   * fail an operation the lower one answered.
   */
  private async fillUpper(below: number, copies: Map<string, ValueWithTtl>, since: number): Promise<void> {
    for (let i = 0; i < below; i++) {
      for (const [key, { value, ttlMs }] of copies) {
        if (!this.untouchedSince(key, since) || this.firstReadable() !== 0) continue;
        try {
          if (ttlMs === null || ttlMs > 0) await this.tiers[i]!.set(key, value, ttlMs);
        } catch {
          // the value stays readable from the lower tier
        }
      }
    }
  }

  private untouchedSince(key: string, since: number): boolean {
    return this.clearedAt <= since && (this.invalidatedAt.get(key) ?? 0) <= since;
  }

  /** Records an invalidation of the keys (`null`: every key) at a new clock value, which it returns. */
  private invalidate(keys: readonly string[] | null): number {
    const now = ++this.clock;
    // Bounded: past the limit, forget the keys and treat everything as invalidated now.
    if (keys === null || this.invalidatedAt.size + keys.length > MAX_TRACKED_INVALIDATIONS) {
      this.invalidatedAt.clear();
      this.clearedAt = now;
      return now;
    }
    for (const key of keys) {
      this.invalidatedAt.delete(key); // re-inserted last: the map stays in clock order
      this.invalidatedAt.set(key, now);
    }
    return now;
  }

  /**
   * Drops keys from the upper tiers (`null`: every key), after a write here or elsewhere; returns
   * the clock value of that invalidation.
   */
  private async dropUpper(keys: readonly string[] | null): Promise<number> {
    const now = this.invalidate(keys);
    const pattern = keys === null ? clearPatternOf(this.settings.keyFunction, this.settings.keyPrefix) : undefined;
    for (const tier of this.upper) {
      if (keys !== null) await deleteEach(tier, keys);
      else if (tier.clearMatching) await tier.clearMatching(pattern);
      else await tier.clear();
    }
    return now;
  }
}
