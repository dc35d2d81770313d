import { CacheConfigError } from '../core/errors.js';
import { requirePeers, type OptionalPeer } from '../core/optional-peers.js';
import { checkOptionNames, integerOption } from '../core/resolve-config.js';
import type { CacheBackend } from '../interfaces/cache-backend.interface.js';
import type { BackendContext, ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';
import { DummyBackend } from './dummy.backend.js';
import { FileSystemBackend } from './filesystem.backend.js';
import { LocMemBackend } from './locmem.backend.js';

const CULLING_OPTIONS = ['maxEntries', 'cullFrequency'];

/** The client libraries of the server backends: optional peers, checked before the backend is imported. */
const PEERS_OF: Record<string, readonly OptionalPeer[]> = {
  redis: ['ioredis'],
  memcached: ['memjs'],
  database: ['typeorm', '@nestjs/typeorm'],
  keyv: ['keyv'],
};

/**
 * Builds the backend an entry names, checking the settings that backend needs. Server backends
 * are imported only when configured, so their client libraries stay optional dependencies.
 */
export async function createBackend(entry: ResolvedCacheEntry, context: BackendContext): Promise<CacheBackend> {
  if (typeof entry.backend === 'function') return new entry.backend(entry, context);
  const peers = PEERS_OF[entry.backend];
  if (peers) await requirePeers(`caches.${entry.alias} uses backend '${entry.backend}'`, peers);
  switch (entry.backend) {
    case 'locmem':
      checkOptionNames(entry, CULLING_OPTIONS);
      return new LocMemBackend(singleLocation(entry) ?? '', cullingOptions(entry));
    case 'filesystem': {
      checkOptionNames(entry, CULLING_OPTIONS);
      const directory = singleLocation(entry);
      if (!directory) {
        throw new CacheConfigError(
          `caches.${entry.alias}.location: the filesystem backend needs a directory, e.g. '/var/tmp/nest_cache'.`,
        );
      }
      return new FileSystemBackend(directory, cullingOptions(entry));
    }
    case 'dummy':
      checkOptionNames(entry, []);
      return new DummyBackend();
    case 'redis':
      return (await import('./redis/create-redis-backend.js')).createRedisBackend(entry, context);
    case 'memcached':
      return (await import('./memcached.backend.js')).createMemcachedBackend(entry, context);
    case 'database':
      return (await import('./database/create-database-backend.js')).createDatabaseBackend(entry, context);
    case 'tiered':
      return (await import('./tiered/create-tiered-backend.js')).createTieredBackend(entry, context);
    case 'keyv':
      return (await import('./keyv.backend.js')).createKeyvBackend(entry);
  }
}

function cullingOptions(entry: ResolvedCacheEntry) {
  return {
    maxEntries: integerOption(entry, 'maxEntries', 300, 1),
    cullFrequency: integerOption(entry, 'cullFrequency', 3, 0),
  };
}

export function singleLocation(entry: ResolvedCacheEntry): string | undefined {
  if (entry.location !== undefined && typeof entry.location !== 'string') {
    throw new CacheConfigError(
      `caches.${entry.alias}.location: the ${String(entry.backend)} backend takes one location as a string.`,
    );
  }
  return entry.location;
}
