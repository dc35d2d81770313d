import { describeCacheBackendContract } from '../../lib/testing/index.js';

/** REDIS_URL, on a database of this file's own. */
function redisDb(db: number): string {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  url.pathname = `/${db}`;
  return url.href;
}

// Database 2 of the test server belongs to this file. The tiers are aliases of their own
// (`extraCaches`); every contract alias chains them, told apart by its prefix and version.
// With the bus on, so that publishing runs too (a bus only adds messages to other instances);
// one run per file, since key warnings are emitted once per process.
describeCacheBackendContract(
  'tiered (locmem + redis, with a bus)',
  () => ({ backend: 'tiered', tiers: ['l1', 'l2'], bus: process.env.REDIS_URL }),
  {
    extraCaches: () => ({
      l1: { backend: 'locmem', location: 'tiered-contract-l1' },
      l2: { backend: 'redis', location: redisDb(2) },
    }),
  },
);
