import { describeCacheBackendContract } from '../../lib/testing/index.js';

// A cluster has one database: this file is the only one writing keys with the contract's
// prefixes there (the cluster tests in test/backends use prefixes of their own).
describeCacheBackendContract('redis cluster', () => ({
  backend: 'redis',
  location: { cluster: (process.env.REDIS_CLUSTER_NODES ?? '').split(',') },
}));
