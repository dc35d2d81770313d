import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import KeyvRedis from '@keyv/redis';
import { Test, type TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import {
  CacheBackendError,
  CacheConfigError,
  CacheModule,
  Caches,
  CacheValueError,
  type CachesOptions,
} from '../../lib/index.js';
import { freePort, redisDb } from '../support/addresses.js';

let moduleRef: TestingModule | undefined;

async function boot(config: CachesOptions): Promise<Caches> {
  moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(config)] }).compile();
  await moduleRef.init();
  return moduleRef.get(Caches);
}

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

describe('the keyv backend', () => {
  it('refuses a store that is not a Keyv store, naming the alias and what to pass', async () => {
    const booting = boot({ default: { backend: 'keyv', options: { store: 'redis://127.0.0.1' as never } } });
    await expect(booting).rejects.toThrow(CacheConfigError);
    await expect(booting).rejects.toThrow(
      "caches.default.options.store must be a Keyv instance or a Keyv storage adapter (get, set, delete, clear), e.g. new Keyv() or new KeyvRedis('redis://127.0.0.1:6379'); got 'redis://127.0.0.1'.",
    );
  });

  it("keeps a Keyv instance's namespace, and counts timeouts in seconds", async () => {
    const map = new Map();
    const caches = await boot({
      default: { backend: 'keyv', options: { store: new Keyv({ store: map, namespace: 'app' }) } },
    });
    await caches.default.set('greeting', 'hello', 0.2);
    expect([...map.keys()]).toEqual(['app::1:greeting']);
    expect(await caches.default.get('greeting')).toBe('hello');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await caches.default.get('greeting')).toBeUndefined();
  });

  it('gives back exactly what was stored, whether JSON can hold it or not', async () => {
    const map = new Map();
    const caches = await boot({ default: { backend: 'keyv', options: { store: new Keyv({ store: map }) } } });
    const deep = JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown;
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const values = [
      { plain: { id: 1, tags: ['a'], ok: true, none: null } },
      { undefinedInside: { a: undefined } },
      { numbers: [-0, NaN, Infinity, 2 ** 60] },
      { dated: { at: new Date(0), big: 10n, bytes: Buffer.from('hi'), set: new Set([1]) } },
      { sparse },
      { deep },
      { proto: JSON.parse('{"__proto__": {"polluted": true}}') as unknown },
    ];
    for (const [i, value] of values.entries()) {
      await caches.default.set(`v${i}`, value);
      expect(await caches.default.get(`v${i}`)).toStrictEqual(value);
    }
    // Plain data is stored as JSON, after a marker; anything else as V8's serialization.
    const markers = [...map.values()].map((text: string) => (JSON.parse(text) as { value: string }).value[0]);
    expect(markers).toEqual(['J', '/', '/', '/', '/', '/', '/']);
  });

  it('says so when another Keyv client wrote the value', async () => {
    const keyv = new Keyv({ namespace: 'shared' });
    await keyv.set(':1:foreign', 'plain text');
    const caches = await boot({ default: { backend: 'keyv', options: { store: keyv } } });
    await expect(caches.default.get('foreign')).rejects.toThrow(CacheValueError);
    await expect(caches.default.get('foreign')).rejects.toThrow('was not written by nestjs-caches');
  });

  it('clears its Keyv namespace on redis, and nothing of another namespace', async () => {
    const location = redisDb(5);
    const caches = await boot({
      default: {
        backend: 'keyv',
        options: { store: new KeyvRedis(location, { namespace: 'clear-a', throwOnErrors: true }) },
      },
      other: {
        backend: 'keyv',
        options: { store: new KeyvRedis(location, { namespace: 'clear-b', throwOnErrors: true }) },
      },
    });
    await caches.default.set('k', 1);
    await caches.get('other').set('k', 2);
    await caches.default.clear();
    expect(await caches.default.get('k')).toBeUndefined();
    expect(await caches.get('other').get('k')).toBe(2);
    await caches.get('other').clear();
  });

  describe('over a redis that is down', () => {
    const downStore = async () =>
      new KeyvRedis(`redis://127.0.0.1:${await freePort()}`, { throwOnErrors: true, connectionTimeout: 100 });

    it('throws CacheBackendError naming the alias, then fails fast (circuit breaker)', async () => {
      const caches = await boot({
        default: 'locmem://',
        flaky: {
          backend: 'keyv',
          options: { store: await downStore() },
          circuitBreaker: { failures: 2, breakSeconds: 5 },
        },
      });
      const flaky = caches.get('flaky');
      await expect(flaky.get('k')).rejects.toThrow(CacheBackendError);
      await expect(flaky.set('k', 1)).rejects.toThrow("Cache 'flaky' failed to set 'k'");
      const started = performance.now();
      await expect(flaky.get('k')).rejects.toThrow("Cache 'flaky' is unavailable");
      expect(performance.now() - started).toBeLessThan(50);
    });

    it('fails a call the store never answers once commandTimeoutMs has passed (a server that stays silent)', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const store = new KeyvRedis(`redis://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
        throwOnErrors: true,
      });
      try {
        const caches = await boot({
          default: 'locmem://',
          stuck: { backend: 'keyv', options: { store }, commandTimeoutMs: 100 },
        });
        const started = performance.now();
        await expect(caches.get('stuck').get('k')).rejects.toThrow(
          "no answer within 100 ms (commandTimeoutMs of cache 'stuck')",
        );
        expect(performance.now() - started).toBeGreaterThanOrEqual(99);
        expect(
          await caches
            .get('stuck')
            .get('k', 'fallback')
            .catch(() => 'failed'),
        ).toBe('failed');
      } finally {
        await store.disconnect(true); // a graceful close would wait for the silent server's answer
        const closed = new Promise((resolve) => silent.close(resolve));
        for (const socket of sockets) socket.destroy();
        await closed;
      }
    });

    it('answers misses with ignoreErrors (fail open)', async () => {
      const caches = await boot({
        default: { backend: 'keyv', options: { store: await downStore() }, ignoreErrors: true },
      });
      expect(await caches.default.get('k', 'fallback')).toBe('fallback');
      expect(await caches.default.getOrSet('k', () => 'computed')).toBe('computed');
    });
  });
});
