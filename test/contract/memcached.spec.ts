import { describeCacheBackendContract } from '../../lib/testing/index.js';

// clear() is flush_all, which empties both servers: only this file uses MEMCACHED_SERVERS (the
// backend's own tests start servers of their own), so no other file's keys can vanish under it.
// No keyPrefix: the contract checks made keys against Django's default (':1:key'), and aliases
// built from the same name share the servers as Django's test caches share a location.
describeCacheBackendContract(
  'memcached',
  () => ({ backend: 'memcached', location: (process.env.MEMCACHED_SERVERS ?? '').split(',') }),
  { shortTimeout: 1, rejectsUnsafeKeys: true, unsignedServerCounters: true },
);
