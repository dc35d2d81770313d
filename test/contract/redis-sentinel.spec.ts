import { describeCacheContract } from './cache-contract.js';
import { redisSentinels } from '../support/addresses.js';

// The master the sentinel names, database 5: no other file uses it, even where REDIS_SENTINELS
// watches the REDIS_URL server itself.
describeCacheContract('redis through sentinels', {
  entry: (name, overrides) => ({
    backend: 'redis',
    location: redisSentinels(),
    ...overrides,
    options: { redisOptions: { db: 5 } },
  }),
});
