import 'reflect-metadata';
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Cache, Cacheable, CacheModule, type CacheEntryOptions } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';
import { redisUserDenied } from '../support/redis-acl-user.js';

// Leases on the real redis when things go wrong: an owner process that is killed, a release the
// store refuses. Redis database 5 belongs to this file.
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

describe('a lease whose owner process is killed (SIGKILL)', () => {
  it('frees itself after its TTL: another process then computes, well before its wait is over', async () => {
    const prefix = freshPrefix();
    const runsKey = `${prefix}:runs`;
    @Injectable()
    class ReportService {
      @Cacheable({ key: 'report', timeout: 60, lock: { ttl: 2, wait: 10 } })
      async build(): Promise<string> {
        await raw.incr(runsKey);
        return 'built by the survivor';
      }
    }
    // Booted first, so that the time measured below is the wait for the lease and nothing else.
    const { service } = await boot({ backend: 'redis', location: redisDb(DB), keyPrefix: prefix }, ReportService);
    const worker = join(import.meta.dirname, 'lease-owner-worker.ts');
    const register = join(import.meta.dirname, '..', 'support', 'register-ts.mjs');
    const owner = spawn(process.execPath, ['--import', register, worker, redisDb(DB), prefix, '2'], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => owner.once('exit', resolve));
    cleanups.push(async () => {
      owner.kill('SIGKILL');
      await exited;
      await raw.del(runsKey);
    });
    // The owner holds the lease from just before its run counts itself.
    const deadline = Date.now() + 20_000;
    while ((await raw.get(runsKey)) !== '1') {
      if (Date.now() > deadline) throw new Error('The owner process did not start its run within 20 s.');
      await sleep(20);
    }
    owner.kill('SIGKILL');
    await exited;
    const started = performance.now();
    expect(await service!.build()).toBe('built by the survivor');
    const waitedMs = performance.now() - started;
    expect(await raw.get(runsKey)).toBe('2'); // the dead owner's run, then this one
    expect(waitedMs).toBeGreaterThan(500); // the lease was held: this process waited for it
    expect(waitedMs).toBeLessThan(2000 + 3000); // its TTL (2 s) and a margin, far less than the 10 s wait
  }, 30_000);
});

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
