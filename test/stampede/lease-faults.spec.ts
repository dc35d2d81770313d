import 'reflect-metadata';
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Cache, CacheModule, type CacheEntryOptions } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';
import { redisUserDenied } from '../support/methods-redis-server.js';

// Leases on the real redis when things go wrong: a release the store refuses. Redis database 5
// belongs to this file.
const DB = 5;
const raw = new Redis(redisDb(DB));
const modules: TestingModule[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (modules.length > 0) await modules.pop()!.close();
  while (cleanups.length > 0) await cleanups.pop()!();
  jest.restoreAllMocks();
});
afterAll(() => raw.disconnect());

let counter = 0;
const freshPrefix = () => `lease-faults-${process.pid}-${Date.now()}-${++counter}`;

async function boot<T = never>(entry: CacheEntryOptions, provider?: Type<T>) {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ default: entry })],
    providers: provider ? [provider] : [],
  }).compile();
  modules.push(moduleRef);
  await moduleRef.init();
  return { cache: moduleRef.get(Cache), service: provider ? moduleRef.get(provider) : undefined };
}

describe('a lease the store refuses to release (an ACL without the scripts)', () => {
  it('loses no value: the computed value is returned and stored, the failure counted and reported', async () => {
    const user = await redisUserDenied(DB, ['evalsha', 'eval']);
    cleanups.push(user.remove);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { cache } = await boot({ backend: 'redis', location: user.url, keyPrefix: freshPrefix() });
    for (const options of [{ lock: true }, { lock: true, staleWhileRevalidate: 10 }]) {
      const key = `report-${Object.keys(options).length}`;
      expect(await cache.getOrSet(key, () => 'built', 60, undefined, options)).toBe('built');
      expect(await cache.getOrSet(key, () => 'again', 60, undefined, options)).toBe('built'); // stored
    }
    expect(cache.stats().errors).toBe(2); // the two releases
    const reports = warn.mock.calls.map((call) => String(call[0]));
    expect(reports).toHaveLength(1); // once per burst
    expect(reports[0]).toMatch(/Cache 'default' failed to unlock 'report-1': .*NOPERM/);
  });
});
