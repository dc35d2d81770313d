import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis as RedisClient } from 'ioredis';
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

// Publishing is fire-and-forget with a cap: a bus that is down must not grow memory.
const MAX_PENDING_PUBLISHES = 1000;
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
      });
    bus = new InvalidationBus(entry.alias, withoutPassword(entry.bus), connect(), connect(), entry.commandTimeoutMs);
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
  private readonly upper: CacheBackend[];
  private readonly lowest: CacheBackend;
  /**
   * Invalidation clock: a back-fill is dropped when its key was invalidated (here or by another
   * instance) after the read began, since the value read may be the one the write replaced.
   */
  private clock = 0;
  private clearedAt = 0;
  private readonly invalidatedAt = new Map<string, number>();

  constructor(
    private readonly tiers: CacheBackend[],
    private readonly settings: TieredSettings,
  ) {
    this.upper = tiers.slice(0, -1);
    this.lowest = tiers[tiers.length - 1]!;
    settings.bus?.onInvalidate((keys) => this.dropUpper(keys));
  }

  /** A key one tier cannot store (memcached) is refused before any tier is written. */
  get rejectsUnsafeKeys(): boolean {
    return this.tiers.some((tier) => tier.rejectsUnsafeKeys === true);
  }

  async connected(): Promise<void> {
    await this.settings.bus?.init();
  }

  /** An upper-tier hit from an in-process store is answered synchronously, as that store does. */
  get(key: string): Awaitable<unknown> {
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
    for (const tier of this.tiers) if (tier.has ? await tier.has(key) : (await tier.get(key)) !== MISS) return true;
    return false;
  }

  async set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    this.invalidate([key]);
    await this.lowest.set(key, value, ttlMs);
    this.invalidate([key]); // again: a read that began during the write may hold the old value
    await this.settings.bus?.publish([key]);
    for (const tier of this.upper) await tier.set(key, value, ttlMs);
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    this.invalidate([key]);
    if (!(await this.lowest.add(key, value, ttlMs))) return false;
    this.invalidate([key]);
    await this.settings.bus?.publish([key]);
    for (const tier of this.upper) await tier.set(key, value, ttlMs);
    return true;
  }

  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    let result: number | bigint | Miss;
    if (this.lowest.incr) result = await this.lowest.incr(key, delta);
    else {
      const found = await this.findIn(this.lowest, key);
      if (found === MISS) return MISS;
      result = addDelta(found.value, delta, key);
      await this.lowest.set(key, result, found.ttlMs);
    }
    // The upper copies are dropped rather than rewritten: the next read back-fills them with
    // the lowest tier's lifetime.
    await this.dropUpper([key]);
    await this.settings.bus?.publish([key]);
    return result;
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    const existed = await this.lowest.touch(key, ttlMs);
    await this.dropUpper([key]);
    await this.settings.bus?.publish([key]);
    return existed;
  }

  async delete(key: string): Promise<boolean> {
    this.invalidate([key]);
    const deleted = await this.lowest.delete(key);
    this.invalidate([key]);
    let deletedAbove = false;
    for (const tier of this.upper) deletedAbove = (await tier.delete(key)) || deletedAbove;
    await this.settings.bus?.publish([key]);
    return deleted || deletedAbove;
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    const found = new Map<string, unknown>();
    const startedAt = this.clock;
    let missing = [...keys];
    for (let i = 0; i < this.tiers.length && missing.length > 0; i++) {
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
      if (i > 0 && hits.size > 0) await this.backFill(i, hits, startedAt);
      missing = missing.filter((key) => !hits.has(key));
    }
    return keys.map((key) => (found.has(key) ? found.get(key) : MISS));
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    this.invalidate(entries.map(([key]) => key));
    const failed = this.lowest.setMany
      ? await this.lowest.setMany(entries, ttlMs)
      : await setEach(this.lowest, entries, ttlMs);
    const stored = entries.filter(([key]) => !failed.includes(key));
    this.invalidate(entries.map(([key]) => key));
    await this.settings.bus?.publish(stored.map(([key]) => key));
    for (const tier of this.upper) {
      if (tier.setMany) await tier.setMany(stored, ttlMs);
      else await setEach(tier, stored, ttlMs);
    }
    return failed;
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await deleteEach(this.lowest, keys);
    await this.dropUpper(keys);
    await this.settings.bus?.publish([...keys]);
  }

  /**
   * Clears the tiers, the last first. A tier that can (redis) removes only the keys this alias
   * makes, since it may hold another alias's keys too; the others are cleared whole.
   */
  async clear(): Promise<void> {
    this.invalidate(null);
    const pattern = clearPatternOf(this.settings.keyFunction, this.settings.keyPrefix);
    for (const tier of [...this.tiers].reverse()) {
      if (tier.clearMatching) await tier.clearMatching(pattern);
      else await tier.clear();
    }
    await this.settings.bus?.publish(null);
  }

  /** Closes the bus only: the tiers belong to their own aliases, which close them. */
  async close(): Promise<void> {
    await this.settings.bus?.close();
  }

  private async find(key: string, from = 0): Promise<ValueWithTtl | Miss> {
    const startedAt = this.clock;
    for (let i = from; i < this.tiers.length; i++) {
      const found = await this.findIn(this.tiers[i]!, key, i === 0);
      if (found === MISS) continue;
      if (i > 0) await this.backFill(i, new Map([[key, found]]), startedAt);
      return found;
    }
    return MISS;
  }

  private async findIn(tier: CacheBackend, key: string, ttlNotNeeded = false): Promise<ValueWithTtl | Miss> {
    if (!ttlNotNeeded && tier.getWithTtl) return tier.getWithTtl(key);
    const value = await tier.get(key);
    return value === MISS ? MISS : { value, ttlMs: this.settings.defaultTtlMs };
  }

  /**
   * Copies hits of tier `below` into the tiers above it. Skipped when an invalidation arrived
   * since the read began: the value read may be the one it replaced. Best effort: a failing
   * upper tier must not fail a read the lower one answered.
   */
  private async backFill(below: number, hits: Map<string, ValueWithTtl>, startedAt: number): Promise<void> {
    if (this.clearedAt > startedAt) return;
    for (let i = 0; i < below; i++) {
      for (const [key, { value, ttlMs }] of hits) {
        if ((this.invalidatedAt.get(key) ?? 0) > startedAt) continue;
        try {
          if (ttlMs === null || ttlMs > 0) await this.tiers[i]!.set(key, value, ttlMs);
        } catch {
          // the value stays readable from the lower tier
        }
      }
    }
  }

  private invalidate(keys: readonly string[] | null): void {
    const now = ++this.clock;
    // Bounded: past the limit, forget the keys and treat everything as invalidated now.
    if (keys === null || this.invalidatedAt.size + keys.length > MAX_TRACKED_INVALIDATIONS) {
      this.invalidatedAt.clear();
      this.clearedAt = now;
      return;
    }
    for (const key of keys) {
      this.invalidatedAt.delete(key); // re-inserted last: the map stays in clock order
      this.invalidatedAt.set(key, now);
    }
  }

  /** Drops keys from the upper tiers (`null`: every key), after a write here or elsewhere. */
  private async dropUpper(keys: readonly string[] | null): Promise<void> {
    this.invalidate(keys);
    const pattern = keys === null ? clearPatternOf(this.settings.keyFunction, this.settings.keyPrefix) : undefined;
    for (const tier of this.upper) {
      if (keys !== null) await deleteEach(tier, keys);
      else if (tier.clearMatching) await tier.clearMatching(pattern);
      else await tier.clear();
    }
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
 */
export class InvalidationBus {
  readonly channel: string;
  private readonly instanceId = randomUUID();
  private readonly logger: Logger;
  private listener: ((keys: string[] | null) => Promise<void>) | undefined;
  private pendingPublishes = 0;
  private readonly subscribed: Promise<void>;
  private lastErrorLoggedAt = -Infinity;

  constructor(
    private readonly alias: string,
    /** The bus URL as logs may show it (no password). */
    private readonly url: string,
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly commandTimeoutMs: number,
  ) {
    this.channel = `nestjs-caches:invalidate:${alias}`;
    this.logger = new Logger(`Cache:${alias}:bus`);
    const onError = (error: Error) => this.logError(error);
    publisher.on('error', onError);
    subscriber.on('error', onError);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // The offline queue is off, so subscribe once the connection is up; ioredis subscribes
    // again by itself after later reconnects.
    this.subscribed = new Promise<void>((resolve) => {
      const subscribe = () =>
        subscriber.subscribe(this.channel).then(
          () => resolve(),
          (error: Error) => {
            onError(error);
            subscriber.once('ready', subscribe);
          },
        );
      if (subscriber.status === 'ready') void subscribe();
      else subscriber.once('ready', subscribe);
    });
  }

  onInvalidate(listener: (keys: string[] | null) => Promise<void>): void {
    this.listener = listener;
  }

  /** Waits, at most about the command timeout, until the subscription is in place. */
  async init(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.subscribed,
      new Promise((resolve) => (timer = setTimeout(resolve, Math.max(this.commandTimeoutMs, 1000)))),
    ]);
    clearTimeout(timer);
  }

  /**
   * Tells the other instances to drop these keys (`null`: all). Awaited so that a write's
   * promise resolves after the message left; a bus that is down is logged, never thrown: the
   * write itself succeeded.
   */
  async publish(keys: string[] | null): Promise<void> {
    if (keys !== null && keys.length === 0) return;
    if (this.pendingPublishes >= MAX_PENDING_PUBLISHES) return;
    this.pendingPublishes++;
    try {
      const message: Invalidation = { from: this.instanceId, keys };
      await this.publisher.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      this.logError(error as Error);
    } finally {
      this.pendingPublishes--;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher, this.subscriber].map((client) => quit(client, this.commandTimeoutMs)));
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
