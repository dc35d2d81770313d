import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis as RedisClient } from 'ioredis';
import { coarseNow } from '../core/coarse-clock.js';
import { addDelta } from '../core/values.js';
import { CacheConfigError } from '../core/errors.js';
import { clearPatternOf, type KeyFunction } from '../core/keys.js';
import { requirePeers } from '../core/optional-peers.js';
import { checkOptionNames } from '../core/resolve-config.js';
import { toTtlMs, type TtlMs } from '../core/timeouts.js';
import {
  MISS,
  type Awaitable,
  type CacheBackend,
  type Miss,
  type ValueWithTtl,
} from '../interfaces/cache-backend.interface.js';
import type { BackendContext, ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';

/** What a bus message carries: keys only, never values. `keys: null` is a clear. */
interface Invalidation {
  from: string;
  keys: string[] | null;
}

// Announcements kept for a bus that is down: past this many keys, one clear is announced instead.
const MAX_UNSENT_KEYS = 1000;
const ERROR_LOG_INTERVAL_MS = 10_000;
const MAX_TRACKED_INVALIDATIONS = 10_000;

/**
 * Builds a tiered alias over other aliases' backends, fastest first.
 *
 * @example { backend: 'tiered', tiers: ['default', 'redis'], bus: 'redis://127.0.0.1:6379' }
 */
export async function createTieredBackend(entry: ResolvedCacheEntry, context: BackendContext): Promise<TieredBackend> {
  checkOptionNames(entry, []);
  const tiers = entry.tiers;
  if (!Array.isArray(tiers) || tiers.length < 2 || !tiers.every((t) => typeof t === 'string')) {
    throw new CacheConfigError(
      `caches.${entry.alias}.tiers: a tiered cache chains two or more aliases, fastest first, e.g. tiers: ['default', 'redis'].`,
    );
  }
  if (tiers.includes(entry.alias)) {
    throw new CacheConfigError(`caches.${entry.alias}.tiers: a tiered cache cannot include itself.`);
  }
  const backends = tiers.map((alias) => context.backendOf(alias) as CacheBackend);
  let bus: InvalidationBus | undefined;
  if (entry.bus !== undefined) {
    if (typeof entry.bus !== 'string' || !/^rediss?:\/\//.test(entry.bus) || !URL.canParse(entry.bus)) {
      throw new CacheConfigError(
        `caches.${entry.alias}.bus: the invalidation bus is a redis URL, e.g. 'redis://127.0.0.1:6379'.`,
      );
    }
    await requirePeers(`caches.${entry.alias}.bus publishes invalidations over redis`, ['ioredis']);
    const { Redis } = await import('ioredis');
    const connect = () =>
      new Redis(entry.bus!, {
        commandTimeout: entry.commandTimeoutMs,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        retryStrategy: (times) => Math.min(times * 100, 2000),
        autoResubscribe: false,
      });
    const maxStalenessMs = (entry.maxStaleness ?? 0.25) * 1000;
    bus = new InvalidationBus(
      entry.alias,
      withoutPassword(entry.bus),
      connect(),
      connect(),
      entry.commandTimeoutMs,
      maxStalenessMs,
    );
  }
  return new TieredBackend(backends, {
    defaultTtlMs: toTtlMs(undefined, entry.timeout),
    keyFunction: entry.keyFunction,
    keyPrefix: entry.keyPrefix,
    bus,
  });
}

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
  /** Its tiers are guarded as aliases of their own: it fails only through them. */
  readonly failsOnlyThroughTiers = true;
  private readonly upper: CacheBackend[];
  private readonly lowest: CacheBackend;
  private readonly lowestIndex: number;
  private readonly bus: InvalidationBus | undefined;
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
   * Checking the bus's vouch is a comparison with the coarse clock, no I/O.
   */
  get(key: string): Awaitable<unknown> {
    if (this.bus !== undefined && !(coarseNow() < this.bus.vouchedUntil)) return this.getBelow(key, MISS);
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
    for (const tier of this.readable())
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
    return this.bus === undefined || coarseNow() < this.bus.vouchedUntil ? 0 : this.lowestIndex;
  }

  private readable(): CacheBackend[] {
    return this.tiers.slice(this.firstReadable());
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

async function getEach(tier: CacheBackend, keys: readonly string[]): Promise<unknown[]> {
  const values: unknown[] = [];
  for (const key of keys) values.push(await tier.get(key));
  return values;
}

async function setEach(tier: CacheBackend, entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs) {
  for (const [key, value] of entries) await tier.set(key, value, ttlMs);
  return [] as string[];
}

async function deleteEach(tier: CacheBackend, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  if (tier.deleteMany) await tier.deleteMany(keys);
  else for (const key of keys) await tier.delete(key);
}

/**
 * Redis pub/sub between instances sharing a tiered alias: one connection publishes, one
 * subscribes to `nestjs-caches:invalidate:<alias>`; each instance skips its own messages.
 *
 * It also vouches for the upper tiers: a PING on the subscriber connection is answered after
 * every message redis queued for it before, so once the answer to a PING sent at time t has
 * arrived, every invalidation acknowledged before t has been applied here, and the upper tiers
 * may answer until t + maxStaleness. Past that (bus down, reconnecting, slow, this process
 * paused) reads go to the lowest tier, and the upper tiers are cleared before they answer again.
 */
export class InvalidationBus {
  readonly channel: string;
  /**
   * `Date.now()` until which the upper tiers may answer. Reads compare it with the coarse clock
   * locmem's hits already read (a clock read costs about as much as the hit), so the bound holds
   * to within one synchronous stretch of work, as locmem's expiry does.
   */
  vouchedUntil = -Infinity;
  private readonly instanceId = randomUUID();
  private readonly logger: Logger;
  private listener: ((keys: string[] | null) => Promise<unknown>) | undefined;
  private tickListener: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Counts subscriber connections: a PING sent on an earlier one vouches for nothing. */
  private connection = 0;
  private subscribedConnection = -1;
  private subscribing = false;
  private pinging = false;
  private firstVouch: () => void = () => {};
  private readonly vouched = new Promise<void>((resolve) => (this.firstVouch = resolve));
  /** Announcements that failed, retried on each tick until the bus takes them; `all`: a clear. */
  private readonly unsent = new Set<string>();
  private unsentAll = false;
  private lastErrorLoggedAt = -Infinity;

  constructor(
    private readonly alias: string,
    /** The bus URL as logs may show it (no password). */
    private readonly url: string,
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly commandTimeoutMs: number,
    private readonly maxStalenessMs: number,
  ) {
    this.channel = `nestjs-caches:invalidate:${alias}`;
    this.logger = new Logger(`Cache:${alias}:bus`);
    const onError = (error: Error) => this.logError(error);
    publisher.on('error', onError);
    subscriber.on('error', onError);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // Messages published while the subscriber was away are lost: nothing it vouched for before counts.
    subscriber.on('close', () => {
      this.connection++;
      this.vouchedUntil = -Infinity;
    });
    subscriber.on('ready', () => this.tick());
    // A few PINGs per bound, so that one slow answer does not lapse the vouch.
    this.timer = setInterval(() => this.tick(), Math.max(maxStalenessMs / 4, 10));
    this.timer.unref();
    this.tick();
  }

  onInvalidate(listener: (keys: string[] | null) => Promise<unknown>): void {
    this.listener = listener;
  }

  /** Called on every tick of the bus's one timer. */
  onTick(listener: () => void): void {
    this.tickListener = listener;
  }

  /** Waits, at most about the command timeout, until the bus first vouches for the upper tiers. */
  async init(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.vouched,
      new Promise((resolve) => (timer = setTimeout(resolve, Math.max(this.commandTimeoutMs, 1000)))),
    ]);
    clearTimeout(timer);
  }

  /**
   * Tells the other instances to drop these keys (`null`: all). Awaited so that a write's
   * promise resolves after the message left; a bus that is down is logged, never thrown (the
   * write itself succeeded), and the keys are announced again once it is back.
   */
  async publish(keys: string[] | null): Promise<void> {
    if (keys !== null && keys.length === 0) return;
    try {
      await this.send(keys);
    } catch (error) {
      this.logError(error as Error);
      this.keepUnsent(keys);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.publisher, this.subscriber].map((client) => quit(client, this.commandTimeoutMs)));
  }

  private send(keys: string[] | null): Promise<unknown> {
    const message: Invalidation = { from: this.instanceId, keys };
    return this.publisher.publish(this.channel, JSON.stringify(message));
  }

  /** Bounded and deduplicated: past the limit, one clear stands for every key. */
  private keepUnsent(keys: string[] | null): void {
    if (keys === null || this.unsent.size + keys.length > MAX_UNSENT_KEYS) {
      this.unsentAll = true;
      this.unsent.clear();
    } else if (!this.unsentAll) for (const key of keys) this.unsent.add(key);
  }

  private tick(): void {
    this.tickListener?.();
    const subscriber = this.subscriber;
    if (subscriber.status !== 'ready') return;
    if (this.subscribedConnection !== this.connection) {
      // Subscribed by hand (autoResubscribe is off) so that it is known on which connection.
      if (this.subscribing) return;
      this.subscribing = true;
      const connection = this.connection;
      subscriber.subscribe(this.channel).then(
        () => {
          this.subscribing = false;
          if (connection === this.connection) this.subscribedConnection = connection;
          this.tick();
        },
        (error: Error) => {
          this.subscribing = false;
          this.logError(error);
        },
      );
      return;
    }
    if (!this.pinging) {
      this.pinging = true;
      const connection = this.connection;
      const sentAt = Date.now();
      subscriber.ping().then(
        () => {
          this.pinging = false;
          if (connection === this.connection) void this.vouch(sentAt + this.maxStalenessMs);
        },
        (error: Error) => {
          this.pinging = false;
          this.logError(error);
        },
      );
    }
    this.resend();
  }

  private async vouch(until: number): Promise<void> {
    if (Date.now() >= this.vouchedUntil && this.listener !== undefined) {
      // The vouch had lapsed: copies kept meanwhile may be stale, so none is kept.
      try {
        await this.listener(null);
      } catch (error) {
        this.logError(error as Error);
        return;
      }
    }
    if (until > this.vouchedUntil) this.vouchedUntil = until;
    this.firstVouch();
  }

  private resend(): void {
    if (!this.unsentAll && this.unsent.size === 0) return;
    if (this.publisher.status !== 'ready') return;
    const keys = this.unsentAll ? null : [...this.unsent];
    this.unsentAll = false;
    this.unsent.clear();
    void this.publish(keys);
  }

  private receive(raw: string): void {
    let message: Invalidation;
    try {
      message = JSON.parse(raw) as Invalidation;
    } catch {
      return;
    }
    if (message.from === this.instanceId || this.listener === undefined) return;
    this.listener(message.keys).catch((error: unknown) => this.logError(error as Error));
  }

  private logError(error: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLoggedAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLoggedAt = now;
    // Said in full because other instances keep serving their upper-tier copies after our writes
    // until the bus is back; the URL shows which server to look at.
    this.logger.warn(
      `caches.${this.alias}.bus ${this.url}: invalidation bus error (reported once per ${ERROR_LOG_INTERVAL_MS / 1000} s; ` +
        `until it is back, other instances do not hear of this alias's writes): ${error.message}`,
    );
  }
}

/** A redis URL without its password, for logs. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.href;
}

async function quit(client: RedisClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise((resolve) => (timer = setTimeout(resolve, Math.max(timeoutMs, 200)))),
    ]);
  } catch {
    // a dead connection cannot quit; disconnecting is what matters
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
