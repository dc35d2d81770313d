import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cache, CacheModule, type CacheEntryOptions } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';

// Redis database 6 belongs to the method caching tests; each file uses prefixes of its own.
const backends: Array<[string, (prefix: string) => CacheEntryOptions]> = [
  ['locmem', (prefix) => ({ backend: 'locmem', location: `stampede-${prefix}`, keyPrefix: prefix })],
  ['redis', (prefix) => ({ backend: 'redis', location: redisDb(6), keyPrefix: `stampede-${prefix}` })],
];

/** A factory that counts its runs and takes `ms` to answer `value` (or throws what `fail` says). */
function slowFactory<T>(ms: number, value: () => T) {
  const factory = Object.assign(
    async () => {
      factory.runs++;
      await sleep(ms);
      if (factory.fail) throw new Error('database down');
      return value();
    },
    { runs: 0, fail: false },
  );
  return factory;
}

/** A factory whose run answers `value` only when the test calls `finish()`. */
function heldFactory<T>(value: T) {
  let answer: (() => void) | undefined;
  const factory = Object.assign(
    () => {
      factory.runs++;
      return new Promise<T>((resolve) => (answer = () => resolve(value)));
    },
    { runs: 0, finish: () => answer!() },
  );
  return factory;
}

/** Resolves once `condition` holds; fails after `ms`. */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${ms} ms.`);
    await sleep(10);
  }
}

describe.each(backends)('getOrSet options on %s', (_name, entry) => {
  const modules: TestingModule[] = [];
  let counter = 0;

  /** A Cache in a module of its own: two of them on one location act as two processes. */
  async function cacheAt(prefix: string): Promise<Cache> {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: entry(prefix) })],
    }).compile();
    await moduleRef.init();
    modules.push(moduleRef);
    return moduleRef.get(Cache);
  }

  const freshPrefix = () => `p${process.pid}-${Date.now()}-${++counter}`;
  let cache: Cache;

  beforeAll(async () => {
    cache = await cacheAt(freshPrefix());
  });
  afterAll(async () => {
    for (const moduleRef of modules) await moduleRef.close();
  });

  it('runs the factory once for 1,000 concurrent callers of a cold key, with or without options', async () => {
    for (const options of [undefined, { staleWhileRevalidate: 10 }, { lock: true }]) {
      const factory = slowFactory(50, () => 'v');
      const key = `cold-${JSON.stringify(options)}`;
      const results = await Promise.all(
        Array.from({ length: 1000 }, () => cache.getOrSet(key, factory, 60, undefined, options)),
      );
      expect(new Set(results)).toEqual(new Set(['v']));
      expect(factory.runs).toBe(1);
    }
  });

  it('shares one run between plain getOrSet calls and calls with options on the same key', async () => {
    const factory = slowFactory(100, () => 'v');
    const calls = [undefined, { staleWhileRevalidate: 10 }, { lock: true }, undefined].flatMap((options) =>
      Array.from({ length: 50 }, () => cache.getOrSet('mixed', factory, 60, undefined, options)),
    );
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']));
    expect(factory.runs).toBe(1);
  });

  it('stores plain values without options and an envelope with logical expiry', async () => {
    await cache.getOrSet('plain', () => 'value', 60);
    expect(await cache.get('plain')).toBe('value');
    await cache.getOrSet('enveloped', () => 'value', 60, undefined, { staleWhileRevalidate: 10 });
    expect(await cache.get('enveloped')).toMatchObject({ nestjsCachesEnvelope: 1, value: 'value' });
    // A value stored by `set` has no logical expiry: read as fresh.
    await cache.set('set-by-hand', 'by hand', 60);
    expect(await cache.getOrSet('set-by-hand', () => 'computed', 60, undefined, { grace: 10 })).toBe('by hand');
  });

  it('keeps the stale value for the stale and grace windows (physical TTL = timeout + both)', async () => {
    await cache.getOrSet('windows', () => 'v', 0.2, undefined, { staleWhileRevalidate: 0.3, grace: 0.3 });
    await sleep(500);
    expect(await cache.get('windows')).toMatchObject({ value: 'v' });
    await sleep(400);
    expect(await cache.get('windows')).toBeUndefined();
  });

  it('serves the stale value at once during stale-while-revalidate and refreshes exactly once', async () => {
    let version = 0;
    const factory = slowFactory(200, () => `v${++version}`);
    const options = { staleWhileRevalidate: 30 };
    expect(await cache.getOrSet('swr', factory, 0.2, undefined, options)).toBe('v1');
    await sleep(300);
    const started = performance.now();
    const stale = await Promise.all(
      Array.from({ length: 100 }, () => cache.getOrSet('swr', factory, 0.2, undefined, options)),
    );
    expect(performance.now() - started).toBeLessThan(150); // did not wait for the 200 ms refresh
    expect(new Set(stale)).toEqual(new Set(['v1']));
    await sleep(300);
    expect(factory.runs).toBe(2);
    expect(await cache.getOrSet('swr', factory, 0.2, undefined, options)).toBe('v2');
  });

  it('serves the stale value in grace while the factory throws, backing off, then throws after grace', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const factory = slowFactory(10, () => 'good');
    const options = { grace: 1.5 };
    await cache.getOrSet('grace', factory, 0.2, undefined, options);
    factory.fail = true;
    await sleep(300);
    expect(await cache.getOrSet('grace', factory, 0.2, undefined, options)).toBe('good');
    expect(factory.runs).toBe(2);
    // Back-off: the next callers get the stale value without another try.
    expect(await cache.getOrSet('grace', factory, 0.2, undefined, options)).toBe('good');
    expect(factory.runs).toBe(2);
    await sleep(1100);
    expect(await cache.getOrSet('grace', factory, 0.2, undefined, options)).toBe('good');
    expect(factory.runs).toBe(3);
    expect(warn).toHaveBeenCalledTimes(1); // two failed refreshes, one report per burst
    expect(String(warn.mock.calls[0]![0])).toMatch(/Refreshing '.*grace' failed .*database down/);
    warn.mockRestore();
    await sleep(600); // past timeout + grace: the value is gone
    await expect(cache.getOrSet('grace', factory, 0.2, undefined, options)).rejects.toThrow('database down');
  });

  it('refreshes hot keys before they expire with XFetch (seeded random), and not with a draw of 1', async () => {
    const runEarlyRefresh = async (key: string, random: () => number) => {
      let version = 0;
      const factory = slowFactory(100, () => ++version);
      const options = { earlyRefresh: 1, random };
      await cache.getOrSet(key, factory, 1, undefined, options);
      const expiresAt = Date.now() + 1000 - 20; // stored right after the 100 ms computation
      let refreshedAt: number | undefined;
      while (Date.now() < expiresAt - 20) {
        const value = await cache.getOrSet(key, factory, 1, undefined, options);
        if (value !== 1 && refreshedAt === undefined) refreshedAt = Date.now();
        await sleep(10);
      }
      return { runs: factory.runs, refreshedBeforeExpiry: refreshedAt !== undefined && refreshedAt < expiresAt };
    };
    expect(await runEarlyRefresh('xfetch-seeded', seededRandom(42))).toEqual({ runs: 2, refreshedBeforeExpiry: true });
    expect(await runEarlyRefresh('xfetch-never', () => 1)).toEqual({ runs: 1, refreshedBeforeExpiry: false });
  });

  it('with lock, runs the factory once across stores that share the data (as processes do)', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await cacheAt(prefix), await cacheAt(prefix)];
    for (const [lock, expectedRuns] of [
      [true, 1],
      [false, 2],
    ] as const) {
      const factory = slowFactory(100, () => 'v');
      const calls = Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? a : b).getOrSet(`locked-${lock}`, factory, 60, undefined, { lock, staleWhileRevalidate: 1 }),
      );
      expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']));
      expect(factory.runs).toBe(expectedRuns);
    }
  });

  it('lets waiters take over when the lease owner dies, and bounds their wait', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await cacheAt(prefix), await cacheAt(prefix)];
    const hangs = () => new Promise<string>(() => undefined);
    // The owner never answers; its lease (0.3 s) expires and the waiter computes.
    void a.getOrSet('dead-owner', hangs, 60, undefined, { lock: { ttl: 0.3, wait: 5 } });
    await sleep(20);
    let started = performance.now();
    expect(await b.getOrSet('dead-owner', () => 'taken over', 60, undefined, { lock: { ttl: 0.3, wait: 5 } })).toBe(
      'taken over',
    );
    expect(performance.now() - started).toBeGreaterThan(200);
    // A live but slow owner: the waiter gives up after `wait` and computes itself.
    void a.getOrSet('slow-owner', hangs, 60, undefined, { lock: { ttl: 30, wait: 0.3 } });
    await sleep(20);
    started = performance.now();
    expect(await b.getOrSet('slow-owner', () => 'own', 60, undefined, { lock: { ttl: 30, wait: 0.3 } })).toBe('own');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("keeps a new owner's lease when the owner of an expired one finishes late", async () => {
    const prefix = freshPrefix();
    const [a, b, c] = [await cacheAt(prefix), await cacheAt(prefix), await cacheAt(prefix)];
    const late = heldFactory('late');
    // Its lease (0.3 s) expires while it computes. It refuses its own value (unless), so that when
    // it finishes the key is still missing and only the new owner's lease keeps others waiting.
    const lateCall = a.getOrSet('contested', late, 60, undefined, {
      lock: { ttl: 0.3, wait: 10 },
      unless: (value: string) => value === 'late',
    });
    await sleep(500);
    const next = heldFactory('next');
    const nextCall = b.getOrSet('contested', next, 60, undefined, { lock: { ttl: 30, wait: 10 } });
    await until(() => next.runs === 1); // b took the expired lease and computes
    late.finish();
    expect(await lateCall).toBe('late'); // resolved after its release, which must not free b's lease
    const third = slowFactory(0, () => 'third');
    const thirdCall = c.getOrSet('contested', third, 60, undefined, { lock: { ttl: 30, wait: 10 } });
    await sleep(300);
    expect(third.runs).toBe(0); // waiting for b's lease
    next.finish();
    expect(await nextCall).toBe('next');
    expect(await thirdCall).toBe('next');
    expect(third.runs).toBe(0);
    expect(late.runs + next.runs).toBe(2);
  });

  it('keeps leases out of the keys users can make, and releases them after the computation', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await cacheAt(prefix), await cacheAt(prefix)];
    let release!: () => void;
    const computing = a.getOrSet(
      'report',
      () => new Promise<string>((done) => (release = () => done('r'))),
      60,
      undefined,
      {
        lock: true,
      },
    );
    await sleep(20);
    // No user key reads or removes the lease: a delete of every plausible name leaves it held.
    for (const key of ['report', 'lock.1:report', 'lock:report', ':lock.1:report']) await b.delete(key);
    const waiter = b.getOrSet('report', () => 'second', 60, undefined, { lock: { ttl: 10, wait: 0.2 } });
    await sleep(100);
    release();
    expect(await computing).toBe('r');
    expect(await waiter).toBe('r');
    // Released: a new computation takes the lease at once.
    await b.delete('report');
    const started = performance.now();
    expect(await b.getOrSet('report', () => 'again', 60, undefined, { lock: { ttl: 10, wait: 5 } })).toBe('again');
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('does not store values that `unless` refuses', async () => {
    for (const options of [
      { unless: (v: string) => v === 'empty' },
      { unless: (v: string) => v === 'empty', lock: true },
    ]) {
      const key = `unless-${Boolean(options.lock)}`;
      expect(await cache.getOrSet(key, () => 'empty', 60, undefined, options)).toBe('empty');
      expect(await cache.has(key)).toBe(false);
    }
  });
});

/** mulberry32: a small seeded PRNG, so the XFetch test draws the same numbers every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('leases with a key function that drops the version', () => {
  it('still keep the lease apart from the value', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({
          default: {
            backend: 'locmem',
            location: 'stampede-no-version',
            keyFunction: (key, prefix) => `${prefix}${key}`,
          },
        }),
      ],
    }).compile();
    const cache = moduleRef.get(Cache);
    let release!: () => void;
    const computing = cache.getOrSet(
      'report',
      () => new Promise<string>((done) => (release = () => done('r'))),
      60,
      undefined,
      {
        lock: true,
      },
    );
    await sleep(10);
    expect(await cache.get('report')).toBeUndefined(); // the lease is not stored under the key itself
    release();
    expect(await computing).toBe('r');
    expect(await cache.get('report')).toBe('r');
    await moduleRef.close();
  });
});
