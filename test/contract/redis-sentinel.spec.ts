import { describeCacheBackendContract } from '../../lib/testing/index.js';
import { redisSentinels } from '../support/addresses.js';

// The master the sentinel names, database 5: no other file uses it, even where REDIS_SENTINELS
// watches the REDIS_URL server itself.
describeCacheBackendContract('redis through sentinels', () => ({
  backend: 'redis',
  location: redisSentinels(),
  options: { redisOptions: { db: 5 } },
}));
