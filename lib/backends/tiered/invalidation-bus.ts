import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis as RedisClient } from 'ioredis';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { quitRedis } from '../redis/quit-redis.js';

/** What a bus message carries: keys only, never values. `keys: null` is a clear. */
interface Invalidation {
  from: string;
  keys: string[] | null;
}

// Announcements kept for a bus that is down: past this many keys, one clear is announced instead.
const MAX_UNSENT_KEYS = 1000;
// PINGs sent before the first is answered: a tick that waited for the answer of the last would
// renew the vouch every other turn of a busy event loop only, and let it lapse under load.
const MAX_PINGS_IN_FLIGHT = 4;

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
  /** `Date.now()` until which the upper tiers may answer; handed to the `onVouch` listener. */
  private vouchedUntil = -Infinity;
  private vouchListener: ((until: number) => void) | undefined;
  private readonly instanceId = randomUUID();
  private readonly logger: Logger;
  private listener: ((keys: string[] | null) => Promise<unknown>) | undefined;
  private tickListener: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Counts subscriber connections: a PING sent on an earlier one vouches for nothing. */
  private connection = 0;
  private subscribedConnection = -1;
  private subscribing = false;
  private pingsInFlight = 0;
  /** The clear of the upper tiers after a lapse, while it runs: PINGs answered meanwhile wait for it. */
  private recovering: Promise<unknown> | undefined;
  private firstVouch: () => void = () => {};
  private readonly vouched = new Promise<void>((resolve) => (this.firstVouch = resolve));
  /** Announcements that failed, retried on each tick until the bus takes them; `all`: a clear. */
  private readonly unsent = new Set<string>();
  private unsentAll = false;
  private readonly errors: RateLimitedLog;

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
    this.errors = new RateLimitedLog(this.logger, 'bus errors');
    const onError = (error: Error) => this.logError(error);
    publisher.on('error', onError);
    subscriber.on('error', onError);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // Messages published while the subscriber was away are lost: nothing it vouched for before counts.
    subscriber.on('close', () => {
      this.connection++;
      this.setVouch(-Infinity);
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

  /**
   * Told each new vouch, so that a read compares the coarse clock with one number it holds (the
   * clock locmem's hits already read: the bound holds to within one synchronous stretch of work).
   */
  onVouch(listener: (until: number) => void): void {
    this.vouchListener = listener;
    listener(this.vouchedUntil);
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
    await Promise.all([this.publisher, this.subscriber].map((client) => quitRedis(client, this.commandTimeoutMs)));
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
    if (this.pingsInFlight < MAX_PINGS_IN_FLIGHT) {
      this.pingsInFlight++;
      const connection = this.connection;
      const sentAt = Date.now();
      subscriber.ping().then(
        () => {
          this.pingsInFlight--;
          void this.vouch(sentAt + this.maxStalenessMs, connection);
        },
        (error: Error) => {
          this.pingsInFlight--;
          this.logError(error);
        },
      );
    }
    this.resend();
  }

  /** A PING sent on connection `connection` was answered: the upper tiers may answer until `until`. */
  private async vouch(until: number, connection: number): Promise<void> {
    if (connection !== this.connection) return;
    const listener = this.listener;
    if ((this.recovering !== undefined || Date.now() >= this.vouchedUntil) && listener !== undefined) {
      // The vouch had lapsed: copies kept meanwhile may be stale, so none is kept (one clear
      // for all the answers that arrive while it runs).
      this.recovering ??= listener(null).finally(() => (this.recovering = undefined));
      try {
        await this.recovering;
      } catch (error) {
        this.logError(error as Error);
        return;
      }
    }
    // A connection lost during the clear lost messages too.
    if (connection !== this.connection) return;
    if (until > this.vouchedUntil) this.setVouch(until);
    this.firstVouch();
  }

  private setVouch(until: number): void {
    this.vouchedUntil = until;
    this.vouchListener?.(until);
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
    // Said in full because other instances keep serving their upper-tier copies after our writes
    // until the bus is back; the URL shows which server to look at.
    this.errors.warn(
      `caches.${this.alias}.bus ${this.url}: invalidation bus error (until it is back, other instances do not hear of this alias's writes): ${error.message}`,
    );
  }
}
