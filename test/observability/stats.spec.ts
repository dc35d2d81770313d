import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CACHE_COMMAND_CHANNEL,
  CACHE_LOCK_WAIT_CHANNEL,
  CACHE_STALE_CHANNEL,
  CacheModule,
  Caches,
  type CacheCommandEvent,
  type CachesOptions,
} from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';
import { UnreachableBackend } from '../support/unreachable-backend.js';

const opened: TestingModule[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((moduleRef) => moduleRef.close()));
});

async function boot(caches: CachesOptions): Promise<Caches> {
  const moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();
  await moduleRef.init();
  opened.push(moduleRef);
  return moduleRef.get(Caches);
}

/** Collects what a diagnostics channel publishes while `run` runs. */
async function recorded<T>(name: string, run: () => Promise<void>): Promise<T[]> {
  const events: T[] = [];
  const listener = (message: unknown) => events.push(message as T);
  subscribe(name, listener);
  try {
    await run();
  } finally {
    unsubscribe(name, listener);
  }
  return events;
}

describe('stats()', () => {
  it('counts hits, misses, sets, deletes and errors per alias, and starts at zero', async () => {
    const caches = await boot({ default: { backend: 'locmem', location: 'stats-a' }, other: 'locmem://stats-b' });
    const cache = caches.default;
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, staleServes: 0 });
    await cache.set('a', 1);
    await cache.setMany({ b: 2, c: 3 });
    await cache.get('a');
    await cache.get('missing');
    await cache.getMany(['a', 'b', 'nope']);
    await cache.delete('a');
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 2, sets: 3, deletes: 1, errors: 0 });
    expect(caches.get('other').stats()).toMatchObject({ hits: 0, misses: 0, sets: 0 });
  });

  it('does not time in-process stores, and times networked ones into a bounded histogram', async () => {
    const caches = await boot({
      default: { backend: 'locmem', location: 'stats-latency' },
      redis: { backend: 'redis', location: redisDb(7), keyPrefix: 'obs-stats' },
    });
    await caches.default.set('k', 1);
    await caches.default.get('k');
    expect(caches.default.stats().latency).toMatchObject({ count: 0, totalMs: 0 });

    const redis = caches.get('redis');
    await redis.set('k', 1);
    await redis.get('k');
    await redis.get('absent');
    const { latency } = redis.stats();
    expect(latency.count).toBe(3);
    expect(latency.totalMs).toBeGreaterThan(0);
    expect(latency.buckets).toHaveLength(13);
    expect(latency.buckets.at(-1)).toEqual({ leMs: Infinity, count: 3 });
    const counts = latency.buckets.map((bucket) => bucket.count);
    expect(counts).toEqual([...counts].sort((a, b) => a - b)); // cumulative
    await redis.clear();
  });

  it('counts a tiered read answered from L1 as 0 ms, and times one that goes down to redis', async () => {
    const caches = await boot({
      default: { backend: 'locmem', location: 'stats-l1' },
      redis: { backend: 'redis', location: redisDb(7), keyPrefix: 'obs-tiered' },
      tiered: { backend: 'tiered', tiers: ['default', 'redis'] },
    });
    const tiered = caches.get('tiered');
    await tiered.set('k', 1); // timed: a write goes through to redis
    const afterSet = tiered.stats().latency.totalMs;
    await tiered.get('k'); // an L1 hit: counted, without reading the clock
    expect(tiered.stats().latency.count).toBe(2);
    const afterHit = tiered.stats().latency.totalMs;
    expect(afterHit).toBe(afterSet);
    await caches.default.delete('k');
    expect(await tiered.get('k')).toBe(1); // down to redis
    const { latency } = tiered.stats();
    expect(latency.count).toBe(3);
    expect(latency.totalMs).toBeGreaterThan(afterHit);
    await caches.get('redis').clear();
  });

  it('counts values served stale by stale-while-revalidate', async () => {
    const cache = (await boot({ default: { backend: 'locmem', location: 'stats-stale' } })).default;
    let runs = 0;
    const compute = async () => ++runs;
    expect(await cache.getOrSet('k', compute, 0.05, undefined, { staleWhileRevalidate: 10 })).toBe(1);
    await sleep(80);
    const events = await recorded(CACHE_STALE_CHANNEL, async () => {
      expect(await cache.getOrSet('k', compute, 0.05, undefined, { staleWhileRevalidate: 10 })).toBe(1);
    });
    expect(cache.stats().staleServes).toBe(1);
    expect(events).toEqual([{ alias: 'default', key: 'k', source: 'getOrSet' }]);
  });

  it('counts getOrSet calls that waited for another process holding the lock', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'nestjs-caches-obs-'));
    try {
      // Two apps on one directory: two processes, as far as the lease can tell.
      const owner = (await boot({ default: { backend: 'filesystem', location: directory } })).default;
      const waiter = (await boot({ default: { backend: 'filesystem', location: directory } })).default;
      const slow = owner.getOrSet(
        'report',
        async () => {
          await sleep(150);
          return 'by owner';
        },
        60,
        undefined,
        { lock: true },
      );
      await sleep(30);
      let waited: unknown[] = [];
      waited = await recorded(CACHE_LOCK_WAIT_CHANNEL, async () => {
        expect(await waiter.getOrSet('report', () => 'by waiter', 60, undefined, { lock: true })).toBe('by owner');
      });
      await slow;
      expect(owner.stats().lockWaits).toBe(0);
      expect(waiter.stats().lockWaits).toBe(1);
      expect(waiter.stats().lockWaitMs).toBeGreaterThanOrEqual(50);
      expect(waited).toEqual([{ alias: 'default', key: 'report', waitedMs: expect.any(Number) }]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('diagnostics_channel', () => {
  it(`publishes each command on ${CACHE_COMMAND_CHANNEL} while subscribed, and nothing after`, async () => {
    const cache = (await boot({ default: { backend: 'locmem', location: 'diag' } })).default;
    const events = await recorded<CacheCommandEvent>(CACHE_COMMAND_CHANNEL, async () => {
      await cache.set('recipe:1', 'soup');
      await cache.get('recipe:1');
      await cache.get('recipe:2');
      await cache.getMany(['recipe:1', 'recipe:3']);
    });
    expect(events.map(({ durationMs: _, ...rest }) => rest)).toEqual([
      { alias: 'default', operation: 'set', key: 'recipe:1', hit: undefined, error: undefined },
      { alias: 'default', operation: 'get', key: 'recipe:1', hit: true, error: undefined },
      { alias: 'default', operation: 'get', key: 'recipe:2', hit: false, error: undefined },
      { alias: 'default', operation: 'getMany', key: 'recipe:1, recipe:3', hit: false, error: undefined },
    ]);
    for (const event of events) expect(event.durationMs).toBeGreaterThanOrEqual(0);
    // The locmem alias is timed for the subscriber only: its stats keep no latency.
    expect(cache.stats().latency.count).toBe(0);

    await cache.get('recipe:1'); // unsubscribed: published to no one
    expect(events).toHaveLength(4);
  });

  it('carries the backend failure', async () => {
    const cache = (await boot({ default: { backend: UnreachableBackend, ignoreErrors: true } })).default;
    const events = await recorded<CacheCommandEvent>(CACHE_COMMAND_CHANNEL, async () => {
      await cache.get('k');
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ alias: 'default', operation: 'get', key: 'k' });
    expect(events[0]!.error?.message).toContain('ECONNREFUSED');
    expect(cache.stats()).toMatchObject({ errors: 1, misses: 1 });
    expect(cache.stats().latency.count).toBe(1); // a custom backend is timed
  });
});
