import { describeCacheBackendContract } from '../../lib/testing/index.js';

/** REDIS_URL, on a database of this file's own. */
function redisDb(db: number): string {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  url.pathname = `/${db}`;
  return url.href;
}

// Database 1 of the test server belongs to this file: other files use other databases, so Jest
// workers running in parallel never clear each other's keys. Aliases built from the same name
// share that database, told apart by their prefix and version only, as the contract expects.
describeCacheBackendContract('redis', () => ({ backend: 'redis', location: redisDb(1) }));
