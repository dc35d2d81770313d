import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheModule, Caches, CacheValueError, toKeyvStore } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';

let moduleRef: TestingModule;
let caches: Caches;

beforeAll(async () => {
  moduleRef = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot({
        default: { backend: 'locmem', location: 'to-keyv-store' },
        // Database 10 of the test server belongs to the interop tests (keys apart by prefix).
        redis: { backend: 'redis', location: redisDb(10), keyPrefix: 'to-keyv-store' },
        files: { backend: 'filesystem', location: `${process.env.TMPDIR ?? '/tmp'}/to-keyv-store-${process.pid}` },
      }),
    ],
  }).compile();
  caches = moduleRef.get(Caches);
});

afterAll(async () => {
  await Promise.all(caches.all().map((cache) => cache.clear()));
  await moduleRef.close();
});

describe.each(['default', 'redis'])('toKeyvStore over %s', (alias) => {
  it("passes Keyv's key to the store as the user's key", async () => {
    const cache = caches.get(alias);
    const keyv = new Keyv({ store: toKeyvStore(cache), serialize: undefined, deserialize: undefined });
    const saved = new Date('2026-01-02T03:04:05Z');
    await keyv.set('user:7', { saved });
    // Without Keyv's serializer the store keeps the envelope itself, and structured clone keeps the Date.
    expect(await cache.get('keyv:user:7')).toEqual({ value: { saved }, expires: undefined });
    expect(await keyv.get('user:7')).toEqual({ saved });
    await cache.delete('keyv:user:7');
    expect(await keyv.get('user:7')).toBeUndefined();
  });

  it("is cache-manager's store: createCache({ stores: [keyv] }) round trips, ttl in milliseconds", async () => {
    const cache = caches.get(alias);
    const manager = createCache({ stores: [new Keyv({ store: toKeyvStore(cache), namespace: 'cm' })] });
    await manager.set('answer', 42, 200);
    expect(await manager.get('answer')).toBe(42);
    expect(await cache.has('cm:answer')).toBe(true);
    expect(await manager.mget(['answer', 'missing'])).toEqual([42, undefined]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await cache.has('cm:answer')).toBe(false);
    expect(await manager.wrap('wrapped', async () => 'computed', 10_000)).toBe('computed');
    expect(await manager.get('wrapped')).toBe('computed');
    await manager.clear();
    expect(await manager.get('wrapped')).toBeUndefined();
  });

  it("clears only its Keyv namespace, never the alias's other keys", async () => {
    const cache = caches.get(alias);
    await cache.set('own', 'kept');
    const keyv = new Keyv({ store: toKeyvStore(cache), namespace: 'sessions' });
    await keyv.set('a', 1);
    await keyv.clear();
    expect(await keyv.get('a')).toBeUndefined();
    expect(await cache.get('own')).toBe('kept');
  });
});

describe('toKeyvStore over a store that cannot match keys', () => {
  it('refuses a namespaced clear, saying what to do, and clears the alias without a namespace', async () => {
    const files = caches.get('files');
    const namespaced = new Keyv({ store: toKeyvStore(files), throwOnErrors: true });
    await namespaced.set('a', 1);
    await expect(namespaced.clear()).rejects.toThrow(CacheValueError);
    await expect(namespaced.clear()).rejects.toThrow(
      "Cache 'files' cannot remove only the keys starting with 'keyv:': its backend cannot match keys",
    );
    const whole = new Keyv({ store: toKeyvStore(files), namespace: undefined });
    await whole.set('b', 2);
    await whole.clear();
    expect(await files.has('b')).toBe(false);
    expect(await files.has('keyv:a')).toBe(false);
  });
});
