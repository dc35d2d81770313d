import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cache, Cacheable, CacheEvict, CacheModule, CachePut, type CacheEntryOptions } from '../../lib/index.js';
import { KillableServer } from '../faults/fault-servers.js';
import { freePort } from '../support/addresses.js';
import { redisUserDenied } from '../support/redis-acl-user.js';
import { UnreachableBackend } from '../support/unreachable-backend.js';

// Fail open, on stores that fail for real where they can: a redis-server of the test's own that
// is killed or stopped (SIGSTOP), the shared test redis (database 10 belongs to this file) as a
// user who may not write. A store that throws at once stands for a client that fails fast.

const COMMAND_TIMEOUT_MS = 300;

/** A store that works at boot, and `fail()` then breaks; `cleanup()` undoes what it started. */
interface FailingStore {
  entry: CacheEntryOptions;
  fail(): void | Promise<void>;
  cleanup(): Promise<void>;
}

const stores: Array<[string, () => Promise<FailingStore>]> = [
  [
    'a store that throws at once',
    async () => ({ entry: { backend: UnreachableBackend }, fail: () => undefined, cleanup: async () => undefined }),
  ],
  [
    'a redis-server that was killed',
    async () => {
      const redis = KillableServer.redis(await freePort());
      await redis.start();
      return {
        entry: { backend: 'redis', location: redis.url, commandTimeoutMs: COMMAND_TIMEOUT_MS },
        fail: () => redis.kill(),
        cleanup: () => redis.kill(),
      };
    },
  ],
  [
    `a redis-server that hangs (SIGSTOP, commandTimeoutMs ${COMMAND_TIMEOUT_MS})`,
    async () => {
      const redis = KillableServer.redis(await freePort());
      await redis.start();
      return {
        // Without the breaker every call pays the timeout: the slowest case of fail-open.
        entry: { backend: 'redis', location: redis.url, commandTimeoutMs: COMMAND_TIMEOUT_MS, circuitBreaker: false },
        fail: () => redis.hang(),
        cleanup: () => redis.kill(),
      };
    },
  ],
];

const modules: TestingModule[] = [];
let cleanups: Array<() => Promise<void>> = [];
beforeEach(() => {
  // The failures are expected: their once-per-burst reports would only fill the output.
  jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});
afterEach(async () => {
  // Servers first: a stopped one would make each module's QUIT wait for its timeout.
  for (const cleanup of cleanups) await cleanup();
  cleanups = [];
  while (modules.length > 0) await modules.pop()!.close();
  jest.restoreAllMocks();
});

async function boot<T>(provider: Type<T>, entry: CacheEntryOptions): Promise<{ service: T; cache: Cache }> {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ default: entry })],
    providers: [provider],
  }).compile();
  modules.push(moduleRef);
  await moduleRef.init();
  return { service: moduleRef.get(provider), cache: moduleRef.get(Cache) };
}

async function bootOn<T>(provider: Type<T>, store: () => Promise<FailingStore>) {
  const failing = await store();
  cleanups.push(failing.cleanup);
  const booted = await boot(provider, failing.entry);
  await failing.fail();
  return booted;
}

@Injectable()
class ReportService {
  runs = 0;
  /**
   * Shorter than the spread of the timeouts of a burst's reads on a store that hangs: a run that
   * ended is no reason for a caller whose read fails later to run the method again.
   */
  methodMs = 1;

  private async build(id: number) {
    this.runs++;
    await sleep(this.methodMs);
    return `report ${id}, run ${this.runs}`;
  }

  @Cacheable({ key: 'plain:{0}', timeout: 60 })
  plain(id: number) {
    return this.build(id);
  }

  @Cacheable({ key: 'stale:{0}', timeout: 60, staleWhileRevalidate: 10, grace: 10 })
  stale(id: number) {
    return this.build(id);
  }

  @Cacheable({ key: 'locked:{0}', timeout: 60, lock: true })
  locked(id: number) {
    return this.build(id);
  }

  @Cacheable({ key: 'unless:{0}', timeout: 60, unless: (result: string) => result === '' })
  filtered(id: number) {
    return this.build(id);
  }

  @Cacheable({ key: 'rows:{0}', timeout: 60, dependsOn: ['Recipe'] })
  rows(id: number) {
    return this.build(id);
  }
}

const variants = ['plain', 'stale', 'locked', 'filtered', 'rows'] as const;

describe.each(stores)('@Cacheable on %s', (_name, store) => {
  it.each(variants)('%s: 150 concurrent callers of a cold key run the method once and share its result', async (m) => {
    const { service, cache } = await bootOn(ReportService, store);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 150 }, () => service[m](1)));
    const elapsedMs = performance.now() - started;
    expect(new Set(results)).toEqual(new Set(['report 1, run 1']));
    expect(service.runs).toBe(1);
    expect(cache.stats().errors).toBeGreaterThan(0); // the store did fail
    // One store timeout (the read), the method, and a wide margin for a loaded machine.
    expect(elapsedMs).toBeLessThan(COMMAND_TIMEOUT_MS + 1500);
    // Later calls fail open too, and run the method again (nothing could be stored).
    expect(await service[m](1)).toBe('report 1, run 2');
  });
});

describe('@Cacheable on a redis-server that hangs', () => {
  it('returns the method’s own result within about commandTimeoutMs', async () => {
    const { service } = await bootOn(ReportService, stores[2]![1]);
    for (const m of variants) {
      const started = performance.now();
      expect(await service[m](7)).toMatch(/^report 7, run \d$/);
      const elapsedMs = performance.now() - started;
      // It waited for the store (so the store did hang), then no longer than its timeout and the method.
      expect(elapsedMs).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
      expect(elapsedMs).toBeLessThan(COMMAND_TIMEOUT_MS + 1500);
    }
  });
});

describe('@Cacheable on a redis that refuses writes (an ACL without SET), shared test redis database 10', () => {
  it.each(['plain', 'stale', 'filtered'] as const)(
    '%s: the write after the computation fails; 150 concurrent callers still run the method once',
    async (m) => {
      const user = await redisUserDenied(10, ['set']);
      cleanups.push(user.remove);
      const keyPrefix = `methods-faults-${process.pid}-${Date.now()}-${m}`;
      const { service, cache } = await boot(ReportService, { backend: 'redis', location: user.url, keyPrefix });
      const results = await Promise.all(Array.from({ length: 150 }, () => service[m](1)));
      expect(new Set(results)).toEqual(new Set(['report 1, run 1']));
      expect(service.runs).toBe(1);
      expect(cache.stats().errors).toBeGreaterThan(0); // the write was refused
      expect(await cache.has(`${m}:1`)).toBe(false);
    },
  );
});

@Injectable()
class EditorService {
  runs = 0;

  @CachePut({ key: 'recipe:{0}', timeout: 60 })
  update(id: number, title: string) {
    this.runs++;
    return title;
  }

  @CacheEvict('recipe:{0}')
  remove(id: number) {
    this.runs++;
    return `removed ${id}`;
  }

  @CacheEvict({ key: 'recipe:{0}', beforeInvocation: true })
  removeFirst(id: number) {
    this.runs++;
    return `removed ${id} first`;
  }

  @CacheEvict({ allEntries: true })
  removeAll() {
    this.runs++;
    return 'removed all';
  }
}

describe.each(stores)('@CachePut and @CacheEvict on %s', (_name, store) => {
  it('run the method once and return its result; the store’s failure is counted, not thrown', async () => {
    const { service, cache } = await bootOn(EditorService, store);
    const calls: Array<[() => unknown, unknown]> = [
      [() => service.update(1, 'Soup'), 'Soup'],
      [() => service.remove(1), 'removed 1'],
      [() => service.removeFirst(1), 'removed 1 first'],
      [() => service.removeAll(), 'removed all'],
    ];
    for (const [call, expected] of calls) {
      const started = performance.now();
      expect(await call()).toBe(expected);
      expect(performance.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 1000);
    }
    expect(service.runs).toBe(4);
    expect(cache.stats().errors).toBeGreaterThanOrEqual(4); // one failed write, delete or clear each
  });
});
