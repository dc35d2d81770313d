import { Injectable } from '@nestjs/common';
import { Caches } from '../caches.js';

const DEFAULT_TIMEOUT_MS = 1000;

/** What `CacheHealthIndicator.isHealthy` takes besides the alias. */
export interface CacheHealthOptions {
  /** The key of the result in the health check's report (`cache:<alias>`). */
  key?: string;
  /** The round trip's limit in milliseconds (1000); slower is down. */
  timeoutMs?: number;
}

/**
 * terminus's `HealthIndicatorResult`, written out here: the emitted types then name no module of
 * `@nestjs/terminus`, and apps without it compile against this package's types.
 *
 * @example const report: CacheHealthResult<'cache:redis'> = await cacheHealth.isHealthy('redis');
 */
export type CacheHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down'; [detail: string]: unknown }
>;

/**
 * A `@nestjs/terminus` health indicator: writes and reads back a reserved key of the alias, and
 * reports it down with the error when the backend fails or is slower than the timeout. It makes
 * terminus's result shape itself, so apps without terminus load this package unharmed.
 *
 * @example this.health.check([() => this.cacheHealth.isHealthy('default'), () => this.cacheHealth.isHealthy('redis')])
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(private readonly caches: Caches) {}

  async isHealthy<const Key extends string = string>(
    alias: string,
    options: CacheHealthOptions & { key?: Key } = {},
  ): Promise<CacheHealthResult<Key>> {
    const cache = this.caches.get(alias); // an alias that is not configured is a bug: thrown
    const key = (options.key ?? `cache:${alias}`) as Key;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const trip = cache.roundTrip();
      trip.catch(() => undefined); // after a timeout, its late failure is no longer anyone's
      const { readBack } = await Promise.race([trip, timedOut]);
      const responseTimeMs = Math.round((performance.now() - started) * 1000) / 1000;
      return entry(key, { status: 'up', alias, readBack, responseTimeMs });
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      return entry(key, { status: 'down', alias, message });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The report of one alias. (A computed key of a generic type widens to `string`: hence the cast.) */
function entry<Key extends string>(key: Key, details: CacheHealthResult[string]): CacheHealthResult<Key> {
  return { [key]: details } as CacheHealthResult<Key>;
}
