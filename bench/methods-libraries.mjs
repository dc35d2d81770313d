// The same cached function (key -> compute()) built with each library compared by
// methods.bench.mjs, in memory or on redis: this library's @Cacheable (with and without
// `lock`), BentoCache's getOrSet and cache-manager's wrap.
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { Cacheable, CacheModule } from '../dist/index.js';

export const LIBRARIES = ['nestjs-caches', 'nestjs-caches lock', 'bentocache', 'cache-manager'];
const TTL_SECONDS = 600;

/**
 * `{ call(key), close() }` for a library; `redisUrl` puts the store on redis (else in memory).
 * `compute(key)` is what a miss runs.
 */
export async function cachedFunction(library, compute, { redisUrl, prefix = 'bench' } = {}) {
  if (library.startsWith('nestjs-caches'))
    return nestjsCaches(compute, { redisUrl, prefix, lock: library.endsWith('lock') });
  if (library === 'bentocache') return bento(compute, { redisUrl, prefix });
  if (library === 'cache-manager') return cacheManager(compute, { redisUrl, prefix });
  throw new Error(`Unknown library ${library}; one of ${LIBRARIES.join(', ')}.`);
}

/** A service method with @Cacheable, in a Nest application context, called with the key's id. */
async function nestjsCaches(compute, { redisUrl, prefix, lock }) {
  class RecipesService {
    findOne(id) {
      return compute(`recipe:${id}`);
    }
  }
  // The decorators as TypeScript would apply them (this file is plain JavaScript).
  const descriptor = Object.getOwnPropertyDescriptor(RecipesService.prototype, 'findOne');
  Cacheable({ key: 'recipe:{0}', timeout: TTL_SECONDS, ...(lock ? { lock: true } : {}) })(
    RecipesService.prototype,
    'findOne',
    descriptor,
  );
  Object.defineProperty(RecipesService.prototype, 'findOne', descriptor);
  Injectable()(RecipesService);
  const store = redisUrl
    ? { backend: 'redis', location: redisUrl, keyPrefix: prefix }
    : { backend: 'locmem', location: `bench-methods-${prefix}`, options: { maxEntries: 100_000 } };
  class BenchModule {}
  Module({ imports: [CacheModule.forRoot({ default: store })], providers: [RecipesService] })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const service = app.get(RecipesService);
  return { call: (key) => service.findOne(key.slice('recipe:'.length)), close: () => app.close() };
}

/** BentoCache with its memory driver (L1), or redis (L2) across processes; its defaults otherwise. */
async function bento(compute, { redisUrl, prefix }) {
  const store = redisUrl
    ? bentostore().useL2Layer(redisDriver({ connection: redisUrl, prefix }))
    : bentostore().useL1Layer(memoryDriver({ maxItems: 100_000 }));
  const cache = new BentoCache({ default: 'store', stores: { store } });
  const ttl = `${TTL_SECONDS}s`;
  return {
    call: (key) => cache.getOrSet({ key, factory: () => compute(key), ttl }),
    close: () => cache.disconnectAll(),
  };
}

/** cache-manager 7 on Keyv: its in-memory default, or a Keyv store over redis (see redisKeyvStore). */
async function cacheManager(compute, { redisUrl, prefix }) {
  const client = redisUrl ? new Redis(redisUrl) : undefined;
  const manager = client
    ? createCache({ stores: [new Keyv({ store: redisKeyvStore(client, prefix) })] })
    : createCache();
  const ttlMs = TTL_SECONDS * 1000;
  return {
    call: (key) => manager.wrap(key, () => compute(key), ttlMs),
    close: async () => {
      await manager.disconnect();
      client?.disconnect();
    },
  };
}

/** The few methods Keyv asks of a store (@keyv/redis is not a dependency here). */
function redisKeyvStore(client, prefix) {
  const key = (k) => `${prefix}:cm:${k}`;
  return {
    opts: {},
    on() {},
    get: async (k) => (await client.get(key(k))) ?? undefined,
    set: async (k, value, ttl) =>
      void (ttl ? await client.set(key(k), value, 'PX', ttl) : await client.set(key(k), value)),
    delete: async (k) => (await client.del(key(k))) > 0,
    clear: async () => undefined,
  };
}
