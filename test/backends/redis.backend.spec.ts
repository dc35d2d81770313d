import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { clearPatternOf } from '../../lib/core/keys.js';
import {
  CacheBackendError,
  CacheConfigError,
  CacheModule,
  Caches,
  CacheValueError,
  defaultKeyFunction,
  type CachesOptions,
} from '../../lib/index.js';
import { resolvedEntry } from '../support/resolved-entry.js';
import { redisDb, freePort } from '../support/addresses.js';

// Database 3 of the test server belongs to this file; on the cluster, keys carry prefixes
// that no other file uses.
const redisUrl = redisDb(3);
const clusterNodes = (process.env.REDIS_CLUSTER_NODES ?? '').split(',');

async function boot(caches: CachesOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('redis backend (one server)', () => {
  let moduleRef: TestingModule;
  let caches: Caches;
  let raw: Redis;

  beforeAll(async () => {
    moduleRef = await boot({
      default: { backend: 'redis', location: redisUrl, keyPrefix: 'spec-a' },
      other: { backend: 'redis', location: redisUrl, keyPrefix: 'spec-b' },
      starry: { backend: 'redis', location: redisUrl, keyPrefix: 'we*rd' },
    });
    caches = moduleRef.get(Caches);
    raw = new Redis(redisUrl);
  });
  afterAll(async () => {
    await moduleRef.close();
    await raw.quit();
  });

  it('stores integers as decimal text, and other values serialized', async () => {
    await caches.default.set('answer', 42);
    await caches.default.set('float', 1.5);
    expect(await raw.get('spec-a:1:answer')).toBe('42');
    expect((await raw.getBuffer('spec-a:1:float'))![0]).toBe(0xff);
    expect(await caches.default.get('answer')).toBe(42);
    expect(await caches.default.get('float')).toBe(1.5);
  });

  it('increments atomically on the server, keeping the expiry', async () => {
    await caches.default.set('hits', 0, 60);
    const results = await Promise.all(Array.from({ length: 50 }, () => caches.default.incr('hits')));
    expect(new Set(results).size).toBe(50);
    expect(await caches.default.get('hits')).toBe(50);
    expect(await raw.get('spec-a:1:hits')).toBe('50');
    const ttl = await raw.pttl('spec-a:1:hits');
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('does not create a missing key on incr, and refuses to increment a non-integer', async () => {
    await expect(caches.default.incr('nope')).rejects.toThrow(/not found/);
    expect(await raw.exists('spec-a:1:nope')).toBe(0);
    await caches.default.set('text', 'abc');
    await expect(caches.default.incr('text')).rejects.toBeInstanceOf(CacheValueError);
  });

  it('clear() removes only its own keys: not another prefix, nor foreign keys', async () => {
    await caches.default.setMany({ a: 1, b: 2 });
    await caches.default.set('old', 'v1', undefined, 7);
    await caches.get('other').set('a', 'kept');
    await caches.get('starry').set('a', 'star');
    await raw.set('weXrd:1:a', 'foreign, matched by an unescaped glob');
    await raw.set('foreign', 'not ours');
    await caches.get('starry').clear();
    expect(await raw.get('weXrd:1:a')).not.toBeNull();
    await caches.default.clear();
    expect(await caches.default.get('a')).toBeUndefined();
    expect(await caches.default.get('old', undefined, 7)).toBeUndefined();
    expect(await caches.get('other').get('a')).toBe('kept');
    expect(await raw.get('foreign')).toBe('not ours');
    await raw.del('foreign', 'weXrd:1:a');
  });

  it('tells the remaining time with getWithTtl, in one round trip', async () => {
    const backend = (await import('../../lib/backends/redis/create-redis-backend.js')).createRedisBackend(
      resolvedEntry('direct', { backend: 'redis', location: redisUrl }),
    );
    await backend.connected();
    await backend.set('direct:ttl', 'v', 10_000);
    const found = await backend.getWithTtl('direct:ttl');
    expect(found).toEqual({ value: 'v', ttlMs: expect.any(Number) });
    expect((found as { ttlMs: number }).ttlMs).toBeGreaterThan(9_000);
    await backend.set('direct:forever', 'v', null);
    expect(await backend.getWithTtl('direct:forever')).toEqual({ value: 'v', ttlMs: null });
    await backend.deleteMany(['direct:ttl', 'direct:forever']);
    await backend.close();
  });

  it("is connected by the time other providers' onModuleInit runs (a seeder whose writes invalidate)", async () => {
    const written: unknown[] = [];
    @Injectable()
    class Warmer implements OnModuleInit {
      constructor(private readonly caches: Caches) {}
      async onModuleInit() {
        await this.caches.get('default').set('spec-warm:key', 'warm');
        written.push(await this.caches.get('default').get('spec-warm:key'));
      }
    }
    const warmed = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'redis', location: redisUrl } })],
      providers: [Warmer],
    }).compile();
    await warmed.init();
    expect(written).toEqual(['warm']);
    await warmed.get(Caches).get('default').delete('spec-warm:key');
    await warmed.close();
  });
});

describe('redis backend (cluster)', () => {
  let moduleRef: TestingModule;
  let caches: Caches;

  beforeAll(async () => {
    moduleRef = await boot({ default: { backend: 'redis', location: { cluster: clusterNodes }, keyPrefix: 'spec-c' } });
    caches = moduleRef.get(Caches);
  });
  afterAll(() => moduleRef.close());

  it('gets, sets and deletes many keys spread over every master', async () => {
    const entries = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i % 2 ? i : { i }]));
    expect(await caches.default.setMany(entries)).toEqual([]);
    const found = await caches.default.getMany([...Object.keys(entries), 'absent']);
    expect(found).toEqual(new Map(Object.entries(entries)));
    await caches.default.deleteMany(['k0', 'k1', 'k2']);
    expect((await caches.default.getMany(['k0', 'k1', 'k2', 'k3'])).size).toBe(1);
  });

  it('clears its keys on every master and leaves other prefixes alone', async () => {
    const raw = new Cluster(clusterNodes);
    try {
      await caches.default.setMany(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${i}`, i])));
      await raw.set('spec-other:1:x', 'kept');
      await caches.default.clear();
      expect((await caches.default.getMany(Array.from({ length: 40 }, (_, i) => `c${i}`))).size).toBe(0);
      expect(await raw.get('spec-other:1:x')).toBe('kept');
      await raw.del('spec-other:1:x');
    } finally {
      await raw.quit();
    }
  });
});

describe('redis backend configuration', () => {
  it.each([
    ['memcached://127.0.0.1:11211', /caches\.default\.location: 'memcached:.*e\.g\. 'redis:\/\//],
    [{ cluster: [] }, /caches\.default\.location: cluster must be/],
    [{ sentinels: [{ host: 'h', port: 1 }] }, /caches\.default\.location: sentinels need the name/],
    [undefined, /caches\.default\.location/],
  ])('refuses the location %j at boot', async (location, message) => {
    await expect(boot({ default: { backend: 'redis', location: location as never } })).rejects.toThrow(message);
    await expect(boot({ default: { backend: 'redis', location: location as never } })).rejects.toBeInstanceOf(
      CacheConfigError,
    );
  });

  it('refuses unknown options', async () => {
    await expect(
      // @ts-expect-error a misspelt option, as a JavaScript app may pass it (the types refuse it)
      boot({ default: { backend: 'redis', location: redisUrl, options: { clearAl: true } } }),
    ).rejects.toThrow(/caches\.default\.options\.clearAl is not an option/);
  });

  it('refuses to clear an alias whose key function hides the key, as a configuration error naming the fix', async () => {
    const moduleRef = await boot({
      default: { backend: 'redis', location: redisUrl, keyFunction: (key) => `hashed-${key.length}` },
    });
    try {
      const clearing = moduleRef.get(Caches).default.clear();
      await expect(clearing).rejects.toBeInstanceOf(CacheConfigError);
      await expect(moduleRef.get(Caches).default.clear()).rejects.toThrow(/Set options\.clearAll: true/);
    } finally {
      await moduleRef.close();
    }
  });

  it('derives the clear pattern from the key function, every version included', () => {
    expect(clearPatternOf(defaultKeyFunction, 'p')).toBe('p:*:*');
    expect(clearPatternOf(defaultKeyFunction, 'a*b?[c]')).toBe('a\\*b\\?\\[c\\]:*:*');
    expect(clearPatternOf((key, prefix, version) => `CUSTOM-${prefix}-${version}-${key}`, '')).toBe('CUSTOM--*-*');
    expect(clearPatternOf((key) => `hashed-${key.length}`, 'p')).toBeUndefined();
  });
});

/** A redis-server of this test's own, to stop and start. */
class OwnRedis {
  private process: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
    this.process = spawn(
      bin,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      if (await accepts(this.port)) return;
      await sleep(20);
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
    socket.connect(port, '127.0.0.1');
  });
}

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${withinMs} ms`);
    await sleep(50);
  }
}

describe('redis backend when the server is down', () => {
  let server: OwnRedis;
  let moduleRef: TestingModule | undefined;

  beforeAll(async () => {
    server = new OwnRedis(await freePort());
  });
  afterEach(async () => {
    await moduleRef?.close();
    await server.stop();
  });

  it('waits for the first connections of all its aliases at once, not one after another', async () => {
    const location = `redis://127.0.0.1:${server.port}/0`; // nothing listens: each wait runs to its 1 s bound
    const bootStarted = Date.now();
    moduleRef = await boot({
      default: { backend: 'redis', location, commandTimeoutMs: 200 },
      second: { backend: 'redis', location, commandTimeoutMs: 200 },
      third: { backend: 'redis', location, commandTimeoutMs: 200 },
      fourth: { backend: 'redis', location, commandTimeoutMs: 200 },
    });
    expect(Date.now() - bootStarted).toBeLessThan(2500); // one after another: 4 s
  });

  it('boots, fails fast (or misses with ignoreErrors), and recovers when the server is back', async () => {
    const location = `redis://127.0.0.1:${server.port}/0`;
    const bootStarted = Date.now();
    moduleRef = await boot({
      default: { backend: 'redis', location, commandTimeoutMs: 200 },
      lenient: { backend: 'redis', location, commandTimeoutMs: 200, ignoreErrors: true },
    });
    expect(Date.now() - bootStarted).toBeLessThan(3000);
    const caches = moduleRef.get(Caches);

    const failStarted = Date.now();
    await expect(caches.default.get('k')).rejects.toBeInstanceOf(CacheBackendError);
    expect(Date.now() - failStarted).toBeLessThan(1000);
    expect(await caches.get('lenient').get('k', 'missed')).toBe('missed');
    await caches.get('lenient').set('k', 'v'); // resolves: writes pass silently

    await server.start();
    await eventually(works, 5000);
    await caches.default.set('k', 'v');
    expect(await caches.default.get('k')).toBe('v');

    await server.stop();
    await expect(caches.default.get('k')).rejects.toBeInstanceOf(CacheBackendError);
    await server.start();
    await eventually(works, 5000);

    async function works(): Promise<boolean> {
      try {
        await caches.default.set('probe', 1);
        return (await caches.default.get('probe')) === 1;
      } catch {
        return false;
      }
    }
  });
});
