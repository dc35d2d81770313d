// Type-checked by config-types.spec.ts (and `tsc -p .`), never run: what an app's `tsc` must accept
// and refuse in CacheModule's configuration. Each `@ts-expect-error` must meet an error on the next
// line, so a loosened type fails the check as an unused directive.
import { CacheModule, type CacheBackendClass, type CacheEntryOptions, type CachesOptions } from '../../lib/index.js';

declare const MyBackend: CacheBackendClass;

export const valid: CachesOptions = {
  default: { backend: 'locmem', location: 'one', options: { maxEntries: 10, cullFrequency: 2 } },
  files: { backend: 'filesystem', location: '/var/tmp/nest_cache', timeout: null, keyPrefix: 'f', version: 2 },
  rows: { backend: 'database', location: 'cache_table', options: { dataSource: 'cache', createTable: true } },
  sessions: { backend: 'memcached', location: ['10.0.0.1:11211'], options: { retries: 2, failover: true } },
  shared: { backend: 'redis', location: 'redis://127.0.0.1:6379/1', options: { clearAll: true, redisOptions: {} } },
  cluster: { backend: 'redis', location: { cluster: ['10.0.0.1:6379', { host: '10.0.0.2', port: 6379 }] } },
  sentinels: { backend: 'redis', location: { sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'mymaster' } },
  layered: { backend: 'tiered', tiers: ['default', 'shared'], bus: 'redis://127.0.0.1:6379' },
  off: { backend: 'dummy', ignoreErrors: true, commandTimeoutMs: 100, circuitBreaker: false },
  custom: { backend: MyBackend, location: { anything: 1 }, options: { anything: true } },
  fromUrl: 'file:///var/tmp/nest_cache?timeout=60',
};
CacheModule.forRoot(valid);
CacheModule.forRoot({ default: { backend: 'locmem', options: { maxEntries: 10 } } });
CacheModule.forRootAsync({
  useFactory: () => ({ caches: { default: { backend: 'filesystem', location: '/tmp/c' } } }),
});

// @ts-expect-error locmem takes maxEntries, not maxEntry
CacheModule.forRoot({ default: { backend: 'locmem', options: { maxEntry: 10 } } });
// @ts-expect-error a filesystem alias needs its directory
CacheModule.forRoot({ default: { backend: 'filesystem' } });
// @ts-expect-error in forRootAsync's factory too
CacheModule.forRootAsync({ useFactory: () => ({ caches: { default: { backend: 'filesystem' } } }) });
// @ts-expect-error a database alias needs its table
export const noTable: CacheEntryOptions = { backend: 'database', options: { createTable: true } };
// @ts-expect-error a memcached alias needs its servers
export const noServers: CacheEntryOptions = { backend: 'memcached' };
// @ts-expect-error a redis alias needs its URL, cluster or sentinels
export const noRedis: CacheEntryOptions = { backend: 'redis' };
// @ts-expect-error a tiered alias needs its tiers
export const noTiers: CacheEntryOptions = { backend: 'tiered' };
// @ts-expect-error a keyv alias needs its store
export const noKeyvStore: CacheEntryOptions = { backend: 'keyv' };
// @ts-expect-error a keyv alias takes its store in options, not a location
export const keyvLocation: CacheEntryOptions = { backend: 'keyv', location: 'h', options: { store: {} } };
export const keyvStore: CacheEntryOptions = { backend: 'keyv', options: { store: new Map() } };
// @ts-expect-error culling is not a redis option
export const redisCulling: CacheEntryOptions = { backend: 'redis', location: 'redis://h', options: { maxEntries: 1 } };
// @ts-expect-error clearAll is redis's, not memcached's
export const memcachedClear: CacheEntryOptions = { backend: 'memcached', location: 'h:1', options: { clearAll: true } };
// @ts-expect-error the dummy backend takes no options
export const dummyOptions: CacheEntryOptions = { backend: 'dummy', options: { maxEntries: 1 } };
// @ts-expect-error tiers belong to tiered aliases
export const locmemTiers: CacheEntryOptions = { backend: 'locmem', tiers: ['a', 'b'] };
// @ts-expect-error culling settings go in options
export const topLevelOption: CacheEntryOptions = { backend: 'locmem', maxEntries: 10 };
// @ts-expect-error maxEntries is a number
export const stringOption: CacheEntryOptions = { backend: 'locmem', options: { maxEntries: '10' } };
// @ts-expect-error createTable is true or false
export const createTableText: CacheEntryOptions = {
  backend: 'database',
  location: 't',
  options: { createTable: 'yes' },
};
// @ts-expect-error no such backend
export const unknownBackend: CacheEntryOptions = { backend: 'mongo' };
