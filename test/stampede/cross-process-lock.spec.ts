import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createRedisBackend } from '../../lib/backends/redis/create-redis-backend.js';
import { redisDb } from '../support/addresses.js';
import { resolvedEntry } from '../support/resolved-entry.js';

const run = promisify(execFile);

describe('the lease on redis', () => {
  const redis = new Redis(redisDb(6));
  afterAll(() => redis.disconnect());

  it('runs a @Cacheable({ lock: true }) method once in total for three processes firing together', async () => {
    const prefix = `cross-process-${process.pid}-${Date.now()}`;
    const worker = join(import.meta.dirname, 'lock-worker.ts');
    const register = join(import.meta.dirname, '..', 'support', 'register-ts.mjs');
    // Far enough ahead for the three processes to load TypeScript and boot Nest.
    const startAt = String(Date.now() + 4000);
    const outputs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', register, worker, redisDb(6), prefix, startAt])),
    );
    const values = outputs.flatMap(({ stdout }) => (JSON.parse(stdout) as { values: string[] }).values);
    expect(await redis.get(`${prefix}:runs`)).toBe('1');
    expect(new Set(values).size).toBe(1); // every caller in every process got the one value
    await redis.del(`${prefix}:runs`);
  }, 30_000);

  it('is released only by its owner, atomically (compare-and-delete)', async () => {
    const backend = createRedisBackend(resolvedEntry('locks', { backend: 'redis', location: redisDb(6) }));
    await backend.connected();
    const key = `lease-${process.pid}-${Date.now()}`;
    expect(await backend.add(key, 'owner-token', 10_000)).toBe(true);
    expect(await backend.deleteIfEquals(key, 'someone-else')).toBe(false);
    expect(await backend.get(key)).toBe('owner-token');
    expect(await backend.deleteIfEquals(key, 'owner-token')).toBe(true);
    expect(await backend.has(key)).toBe(false);
    await backend.close();
  });
});
