import KeyvRedis from '@keyv/redis';
import { describeCacheBackendContract } from '../../lib/testing/index.js';
import { redisDb } from '../support/addresses.js';

// Database 5 of the test server belongs to the keyv backend tests, each file in namespaces of its
// own. One adapter per alias, as apps configure them; aliases built for one store share its Keyv
// namespace, so they see each other's keys.
describeCacheBackendContract('keyv (@keyv/redis)', (store) => ({
  backend: 'keyv',
  options: { store: new KeyvRedis(redisDb(5), { namespace: `contract-${store}`, throwOnErrors: true }) },
}));
