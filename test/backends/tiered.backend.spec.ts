import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { ChildProcess } from 'node:child_process';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocMemBackend } from '../../lib/backends/locmem.backend.js';
import {
  CacheConfigError,
  CacheKeyError,
  CacheModule,
  Caches,
  MISS,
  type CacheBackend,
  type CachesOptions,
} from '../../lib/index.js';
import { resolvedEntry } from '../support/resolved-entry.js';
import { redisDb } from '../support/addresses.js';
import { startMemcached } from '../support/memcached-server.js';

// Database 4 of the test server belongs to this file; the bus channel is named after the
// alias ('shared'), which no other file uses.
const redisUrl = redisDb(4);

/** One instance of the application: its own L1 (a locmem location of its own), the shared redis. */
async function instance(name: string): Promise<TestingModule> {
  const caches: CachesOptions = {
    default: { backend: 'locmem', location: `tiered-spec-${name}` },
    l2: { backend: 'redis', location: redisUrl },
    shared: { backend: 'tiered', tiers: ['default', 'l2'], bus: process.env.REDIS_URL },
  };
  const moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();
  await moduleRef.init();
  return moduleRef;
}

/**
 * Lets the bus deliver the messages of earlier writes: a read that overlaps an invalidation of
 * its key does not back-fill (the value read may be the replaced one), by design.
 */
const settle = () => sleep(50);

async function within<T>(ms: number, read: () => Promise<T>, expected: T): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await sleep(5);
    value = await read();
  }
  return value;
}

describe('tiered backend: two instances sharing locmem + redis with an invalidation bus', () => {
  let a: TestingModule;
  let b: TestingModule;
  let sharedA: ReturnType<Caches['get']>;
  let sharedB: ReturnType<Caches['get']>;
  let l1B: ReturnType<Caches['get']>;

  beforeAll(async () => {
    [a, b] = await Promise.all([instance('a'), instance('b')]);
    sharedA = a.get(Caches).get('shared');
    sharedB = b.get(Caches).get('shared');
    l1B = b.get(Caches).default;
  });
  beforeEach(() => sharedA.clear());
  afterAll(async () => {
    await sharedA.clear();
    await Promise.all([a.close(), b.close()]);
  });

  it('reads through to redis and back-fills the reader L1', async () => {
    await sharedA.set('recipe', 'v1', 60);
    await settle();
    expect(await l1B.get('recipe')).toBeUndefined();
    expect(await sharedB.get('recipe')).toBe('v1');
    expect(await l1B.get('recipe')).toBe('v1');
  });

  it('a write in one instance is seen by a read in the other at once: no stale L1', async () => {
    await sharedA.set('recipe', 'v1', 60);
    expect(await sharedB.get('recipe')).toBe('v1'); // now in B's L1
    await sharedA.set('recipe', 'v2', 60);
    expect(await within(200, () => sharedB.get('recipe'), 'v2')).toBe('v2');
    await sharedA.delete('recipe');
    expect(await within(200, () => sharedB.get('recipe'), undefined)).toBeUndefined();
  });

  it('drops the other L1 on incr, setMany, deleteMany and clear', async () => {
    await sharedA.setMany({ x: 1, y: 'y1' }, 60);
    await settle();
    expect(await sharedB.getMany(['x', 'y'])).toEqual(
      new Map<string, unknown>([
        ['x', 1],
        ['y', 'y1'],
      ]),
    );
    expect(await l1B.get('y')).toBe('y1');
    await sharedA.incr('x');
    expect(await within(200, () => sharedB.get('x'), 2)).toBe(2);
    await sharedA.setMany({ y: 'y2' }, 60);
    expect(await within(200, () => sharedB.get('y'), 'y2')).toBe('y2');
    await sharedA.deleteMany(['y']);
    expect(await within(200, () => l1B.get('y'), undefined)).toBeUndefined();
    expect(await sharedB.get('x')).toBe(2);
    await sharedA.clear();
    expect(await within(200, () => l1B.get('x'), undefined)).toBeUndefined();
    expect(await sharedB.get('x')).toBeUndefined();
  });

  it('back-fills with the time the value has left, not the alias default', async () => {
    await sharedA.set('short', 'v', 1);
    await sleep(500);
    expect(await sharedB.get('short')).toBe('v');
    expect(await l1B.get('short')).toBe('v');
    await sleep(700);
    expect(await l1B.get('short')).toBeUndefined();
    expect(await sharedB.get('short')).toBeUndefined();
  });

  it('back-fills getMany with the remaining time too', async () => {
    await sharedA.setMany({ m1: 1, m2: 2 }, 1);
    await sleep(500);
    expect((await sharedB.getMany(['m1', 'm2'])).size).toBe(2);
    expect(await l1B.get('m1')).toBe(1);
    await sleep(700);
    expect(await l1B.get('m1')).toBeUndefined();
  });
});

describe('tiered backend configuration', () => {
  const boot = (caches: CachesOptions) =>
    Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();

  it('refuses fewer than two tiers, unknown tiers and a bus that is not a redis URL', async () => {
    await expect(boot({ default: { backend: 'tiered', tiers: ['x'] } })).rejects.toThrow(/caches\.default\.tiers/);
    await expect(
      boot({ default: { backend: 'locmem' }, t: { backend: 'tiered', tiers: ['default', 'nope'] } }),
    ).rejects.toThrow(/No cache alias 'nope'/);
    await expect(
      boot({
        default: { backend: 'locmem' },
        l: { backend: 'locmem' },
        t: { backend: 'tiered', tiers: ['default', 'l'], bus: 'http://x' },
      }),
    ).rejects.toBeInstanceOf(CacheConfigError);
  });

  it('refuses a maxStaleness that is not seconds >= 0, or one without a bus, saying what to write', async () => {
    const tiered = (extra: object) =>
      boot({
        default: { backend: 'locmem' },
        l: { backend: 'locmem' },
        t: { backend: 'tiered', tiers: ['default', 'l'], ...extra },
      });
    for (const maxStaleness of [-1, '0.25', Number.NaN, Infinity]) {
      const booted = tiered({ bus: 'redis://127.0.0.1:1', maxStaleness });
      await expect(booted).rejects.toBeInstanceOf(CacheConfigError);
      await expect(booted).rejects.toThrow(
        /caches\.t\.maxStaleness must be a number of seconds >= 0, e\.g\. maxStaleness: 0\.25/,
      );
    }
    await expect(tiered({ maxStaleness: 0.25 })).rejects.toThrow(/caches\.t\.maxStaleness .*add bus: 'redis:\/\/…'/);
    await expect(
      boot({ default: { backend: 'locmem', maxStaleness: 1 } as CachesOptions['default'] }),
    ).rejects.toBeInstanceOf(CacheConfigError);
  });
});

describe('tiered backend: back-fill and invalidation races', () => {
  /** A lower tier whose reads wait for the test to release them. */
  function slowTier(stored: Map<string, unknown>) {
    let release: () => void = () => {};
    const gate = () => new Promise<void>((resolve) => (release = resolve));
    const tier: CacheBackend = {
      get: async (key) => {
        const value = stored.has(key) ? stored.get(key) : MISS;
        await gate();
        return value;
      },
      set: (key, value) => void stored.set(key, value),
      add: () => false,
      delete: (key) => stored.delete(key),
      touch: () => true,
      clear: () => stored.clear(),
    };
    return { tier, release: () => release() };
  }

  async function tiered(lower: CacheBackend) {
    const { createTieredBackend } = await import('../../lib/backends/tiered/create-tiered-backend.js');
    const upper = new LocMemBackend(`race-${Math.random()}`, { maxEntries: 100, cullFrequency: 3 });
    const backend = await createTieredBackend(
      resolvedEntry('race', { backend: 'tiered', timeout: 60, tiers: ['upper', 'lower'] }),
      { moduleRef: undefined as never, backendOf: (alias) => (alias === 'upper' ? upper : lower) },
    );
    return { backend, upper };
  }

  it('does not back-fill a value read before a write of its key landed', async () => {
    const stored = new Map<string, unknown>([['k', 'old']]);
    const { tier, release } = slowTier(stored);
    const { backend, upper } = await tiered(tier);
    const read = backend.get('k');
    await new Promise(setImmediate); // the read is now waiting on the lower tier
    await backend.delete('k'); // and this lands while it is in flight
    release();
    expect(await read).toBe('old'); // what the lower tier answered...
    expect(upper.get('k')).toBe(MISS); // ...but not kept as current in L1
  });

  it('back-fills when nothing changed the key meanwhile, with the default lifetime as a fallback', async () => {
    const { tier, release } = slowTier(new Map([['k', 'v']]));
    const { backend, upper } = await tiered(tier);
    const read = backend.get('k');
    await new Promise(setImmediate);
    await backend.delete('other');
    release();
    expect(await read).toBe('v');
    expect(upper.get('k')).toBe('v');
  });
});

describe('tiered backend with a bus that is down', () => {
  async function bootWithBus(bus: string) {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({
          default: { backend: 'locmem', location: `tiered-spec-busdown-${bus}` },
          l2: { backend: 'redis', location: redisUrl },
          shared: { backend: 'tiered', tiers: ['default', 'l2'], bus, commandTimeoutMs: 200 },
        }),
      ],
    }).compile();
    await moduleRef.init();
    const busWarnings = () =>
      warn.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('caches.shared.bus'));
    return { moduleRef, busWarnings, restore: () => warn.mockRestore() };
  }

  it('boots and keeps serving: writes succeed, the failure is only logged', async () => {
    const { moduleRef, busWarnings, restore } = await bootWithBus('redis://127.0.0.1:1');
    try {
      const caches = moduleRef.get(Caches);
      const cache = caches.get('shared');
      for (let i = 0; i < 5; i++) await cache.set('busdown', `v${i}`); // each publish fails
      expect(await cache.get('busdown')).toBe('v4');
      expect(await caches.get('l2').get('busdown')).toBe('v4'); // the lowest tier has the write
      expect(await cache.delete('busdown')).toBe(true);
      expect(await caches.get('l2').get('busdown')).toBeUndefined();
      // One warning for the whole burst (connection and publish failures alike), naming the alias and the bus.
      expect(busWarnings()).toHaveLength(1);
      expect(busWarnings()[0]).toMatch(/^caches\.shared\.bus redis:\/\/127\.0\.0\.1:1: invalidation bus error/);
    } finally {
      await moduleRef.close();
      restore();
    }
  });

  it('logs the bus URL without its password', async () => {
    const { moduleRef, busWarnings, restore } = await bootWithBus('redis://:hunter2@127.0.0.1:1');
    try {
      await moduleRef.get(Caches).get('shared').set('busdown', 'v');
      expect(busWarnings()).toHaveLength(1);
      expect(busWarnings()[0]).toContain('redis://:***@127.0.0.1:1');
      expect(busWarnings()[0]).not.toContain('hunter2');
    } finally {
      await moduleRef.close();
      restore();
    }
  });
});

describe('tiered backend over memcached', () => {
  const children: ChildProcess[] = [];
  let moduleRef: TestingModule;
  beforeAll(async () => {
    const server = await startMemcached(children);
    moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({
          default: { backend: 'locmem', location: 'tiered-spec-memcached' },
          mc: { backend: 'memcached', location: server },
          both: { backend: 'tiered', tiers: ['default', 'mc'] },
        }),
      ],
    }).compile();
    await moduleRef.init();
  });
  afterAll(async () => {
    await moduleRef.close();
    for (const child of children) child.kill();
  });

  it('refuses a key memcached cannot store with a CacheKeyError, before any tier is written', async () => {
    const caches = moduleRef.get(Caches);
    const both = caches.get('both');
    await both.set('fine', 'v');
    expect(await caches.get('mc').get('fine')).toBe('v'); // both tiers are really in use
    await expect(both.set('a key', 'v')).rejects.toBeInstanceOf(CacheKeyError);
    await expect(both.set('a key', 'v')).rejects.toThrow(/Cache 'both' cannot store this key/);
    await expect(both.get('a key')).rejects.toBeInstanceOf(CacheKeyError);
    // The locmem tier's alias shares the made key (':1:a key'); it only warns about it.
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(await caches.default.has('a key')).toBe(false);
    } finally {
      emitWarning.mockRestore();
    }
    expect(both.stats().errors).toBe(0); // a bad key is not a backend failure
  });
});
