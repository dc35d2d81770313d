import KeyvRedis from '@keyv/redis';
import { redisDb } from '../support/addresses.js';
import { describeCacheContract } from './cache-contract.js';

// Database 5 of the test server belongs to the keyv backend tests, each file in namespaces of its own. One adapter per alias, as apps configure
// them; aliases built from one name share its Keyv namespace, so they see each other's keys.
describeCacheContract('keyv (@keyv/redis)', {
  entry: (name, overrides) => ({
    backend: 'keyv',
    options: { store: new KeyvRedis(redisDb(5), { namespace: `contract-${name}`, throwOnErrors: true }) },
    ...overrides,
  }),
});
