import { CacheConfigError } from '../../core/errors.js';
import { requirePeers } from '../../core/optional-peers.js';
import { checkOptionNames } from '../../core/resolve-config.js';
import { toTtlMs } from '../../core/timeouts.js';
import type { CacheBackend } from '../../interfaces/cache-backend.interface.js';
import type { BackendContext, ResolvedCacheEntry } from '../../interfaces/cache-options.interface.js';
import { InvalidationBus } from './invalidation-bus.js';
import { TieredBackend } from './tiered.backend.js';

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

/** A redis URL without its password, for logs. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.href;
}
