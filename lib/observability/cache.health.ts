import { Injectable } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';
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
  ): Promise<HealthIndicatorResult<Key>> {
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
      return {
        [key]: { status: 'up' as const, alias, readBack, responseTimeMs },
      } as unknown as HealthIndicatorResult<Key>;
    } catch (error) {
      return {
        [key]: { status: 'down' as const, alias, message: (error as Error)?.message ?? String(error) },
      } as unknown as HealthIndicatorResult<Key>;
    } finally {
      clearTimeout(timer);
    }
  }
}
