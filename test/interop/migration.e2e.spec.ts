import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { INestApplication, Type } from '@nestjs/common';
import type { Cache as CacheManager } from 'cache-manager';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { Caches } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';
import { redisDb } from '../support/addresses.js';

// Every step of docs/migrating-from-cache-manager.md runs here: its code blocks are these files.
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('docs/migrating-from-cache-manager.md', () => {
  it('shows the code these tests run, block for block', () => {
    const guide = readFileSync(`${root}docs/migrating-from-cache-manager.md`, 'utf8');
    const shown = [...guide.matchAll(/<!-- (test\/interop\/migration\/[\w.-]+\.ts) -->\n+```ts\n([\s\S]*?)```/g)];
    expect(shown.map(([, file]) => file)).toEqual([
      'test/interop/migration/before.module.ts',
      'test/interop/migration/after.module.ts',
      'test/interop/migration/side-by-side.module.ts',
    ]);
    for (const [, file, code] of shown) {
      const tested = readFileSync(`${root}${file}`, 'utf8').replaceAll("'../../../lib/index.js'", "'nestjs-caches'");
      expect(code).toBe(tested);
    }
  });
});

describe.each(ADAPTERS)('migrating from @nestjs/cache-manager on %s', (adapter) => {
  const boot = async (file: string) => {
    const { AppModule } = (await import(`./migration/${file}`)) as { AppModule: Type<unknown> };
    return startApp(adapter, AppModule);
  };

  describe.each(['before.module.js', 'after.module.js'])('%s', (file) => {
    let app: INestApplication;
    let url: string;

    beforeAll(async () => ({ app, url } = await boot(file)));
    afterAll(async () => app?.close());

    it('caches the list route, keyed by the URL (CacheInterceptor / @CachePage)', async () => {
      const first = await request(url).get('/recipes').expect(200);
      const second = await request(url).get('/recipes').expect(200);
      expect(second.body).toEqual(first.body);
      expect(first.body.listed).toBe(1);
    });

    it('caches a recipe until it is updated (CACHE_MANAGER by hand / @Cacheable + @CacheEvict)', async () => {
      const first = await request(url).get('/recipes/7').expect(200);
      expect((await request(url).get('/recipes/7').expect(200)).body.runs).toBe(first.body.runs);
      await request(url).post('/recipes/7').expect(201);
      expect((await request(url).get('/recipes/7').expect(200)).body.runs).toBe(first.body.runs + 1);
    });
  });

  it('after: timeouts are seconds, and Cache is injected by its class', async () => {
    const { app, url } = await boot('after.module.js');
    try {
      await request(url).get('/recipes/1').expect(200);
      const visits = (await request(url).get('/recipes/1').expect(200)).body.visits;
      expect(visits).toBe(2);
      const cache = app.get(Caches).default;
      expect(await cache.get('recipe:1')).toEqual({ id: '1', runs: 1 });
      await cache.touch('recipe:1', 0.2); // seconds
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await cache.has('recipe:1')).toBe(false);
    } finally {
      await app.close();
    }
  });

  describe('side by side, over the same redis', () => {
    let app: INestApplication;
    let url: string;

    beforeAll(async () => {
      // Database 15 of the test server belongs to this file.
      process.env.CACHE_URL = redisDb(15);
      ({ app, url } = await boot('side-by-side.module.js'));
      await app.get(Caches).default.clear();
    });
    afterAll(async () => {
      await app?.get(Caches).default.clear();
      await app?.close();
    });

    it("keeps the old CACHE_MANAGER code working on the new alias's store, in Keyv's namespace", async () => {
      const first = await request(url).get('/recipes/3').expect(200);
      expect((await request(url).get('/recipes/3').expect(200)).body).toEqual(first.body);
      const cache = app.get(Caches).default;
      // Keyv's key is the alias's key: the new code sees, and can evict, what the old code cached.
      expect(await cache.has('keyv:recipe:3')).toBe(true);
      await cache.delete('keyv:recipe:3');
      expect((await request(url).get('/recipes/3').expect(200)).body.runs).toBe(first.body.runs + 1);
    });

    it("gives the old code its milliseconds: cache-manager's ttl becomes the entry's timeout", async () => {
      const manager = app.get<CacheManager>(CACHE_MANAGER);
      await manager.set('short', 'lived', 200); // milliseconds
      expect(await manager.get('short')).toBe('lived');
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await manager.get('short')).toBeUndefined();
      expect(await app.get(Caches).default.has('keyv:short')).toBe(false);
    });

    it("clears only Keyv's namespace when the old code calls clear()", async () => {
      const cache = app.get(Caches).default;
      await cache.set('new-code-key', 'kept');
      await app.get<CacheManager>(CACHE_MANAGER).set('old-code-key', 'gone');
      await app.get<CacheManager>(CACHE_MANAGER).clear();
      expect(await cache.has('keyv:old-code-key')).toBe(false);
      expect(await cache.get('new-code-key')).toBe('kept');
    });
  });
});
