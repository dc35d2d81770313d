import 'reflect-metadata';
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, Scope, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  Cache,
  Cacheable,
  CacheConfig,
  CacheEvict,
  CacheModule,
  CachePut,
  Caches,
  EARLY_REFRESH_RANDOM,
  type CacheEntryOptions,
} from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';
import { initOrClose } from '../support/init-or-close.js';
import { UnreachableBackend } from '../support/unreachable-backend.js';

let prefixes = 0;
const locmem = (): CacheEntryOptions => ({ backend: 'locmem', location: `methods-${++prefixes}` });
// Redis database 9 belongs to this file; each boot gets a key prefix of its own.
const redis = (): CacheEntryOptions => ({
  backend: 'redis',
  location: redisDb(9),
  keyPrefix: `methods-${process.pid}-${Date.now()}-${++prefixes}`,
});
/** The stores the decorator options are tested on: in process, and over the network. */
const backends: Array<[string, () => CacheEntryOptions]> = [
  ['locmem', locmem],
  ['redis', redis],
];

const modules: TestingModule[] = [];
afterEach(async () => {
  while (modules.length > 0) await modules.pop()!.close();
  jest.restoreAllMocks();
});

/** Boots a module with the given caches and providers; returns the first provider and the default cache. */
async function boot<T>(
  provider: Type<T>,
  caches: Record<string, CacheEntryOptions> = { default: locmem() },
  configure: (builder: ReturnType<typeof Test.createTestingModule>) => ReturnType<typeof Test.createTestingModule> = (
    b,
  ) => b,
): Promise<{ service: T; cache: Cache; caches: Caches }> {
  const moduleRef = await configure(
    Test.createTestingModule({
      imports: [CacheModule.forRoot(caches as { default: CacheEntryOptions })],
      providers: [provider],
    }),
  ).compile();
  await initOrClose(moduleRef);
  modules.push(moduleRef);
  return { service: await moduleRef.resolve(provider), cache: moduleRef.get(Cache), caches: moduleRef.get(Caches) };
}

describe('@Cacheable', () => {
  @Injectable()
  class RecipesService {
    runs = 0;

    @Cacheable('recipe:{0}')
    async findOne(id: number) {
      this.runs++;
      await sleep(20);
      return { id, title: `Recipe ${id}` };
    }

    @Cacheable({ key: 'author:{0.author.id}:{1}' })
    byAuthor(query: { author: { id: number } }, page: number) {
      this.runs++;
      return `page ${page} of ${query.author.id}`;
    }

    @Cacheable({ key: (args) => `search:${String(args[0]).toLowerCase()}` })
    search(term: string) {
      this.runs++;
      return [term];
    }

    /** A key that is nothing but an argument: user input decides it. */
    @Cacheable('{0}')
    lookup(key: string) {
      this.runs++;
      return `computed for ${key}`;
    }

    @Cacheable()
    filter(criteria: object) {
      this.runs++;
      return criteria;
    }

    @Cacheable()
    all() {
      this.runs++;
      return ['all'];
    }

    @Cacheable('title:{0}')
    byTitle(title: string) {
      this.runs++;
      return title;
    }
  }

  it('stores under the rendered key, so the low-level API reads and evicts it', async () => {
    const { service, cache } = await boot(RecipesService);
    expect(await service.findOne(7)).toEqual({ id: 7, title: 'Recipe 7' });
    expect(await service.findOne(7)).toEqual({ id: 7, title: 'Recipe 7' });
    expect(service.runs).toBe(1);
    expect(await cache.get('recipe:7')).toEqual({ id: 7, title: 'Recipe 7' });
    expect(await cache.delete('recipe:7')).toBe(true);
    await service.findOne(7);
    expect(service.runs).toBe(2);
  });

  it('renders templates with fields, function keys, and a default key of class, method and arguments', async () => {
    const { service, cache } = await boot(RecipesService);
    expect(await service.byAuthor({ author: { id: 3 } }, 2)).toBe('page 2 of 3');
    expect(await cache.get('author:3:2')).toBe('page 2 of 3');
    await service.search('Soup');
    expect(await cache.get('search:soup')).toEqual(['Soup']);
    await service.all();
    await service.all();
    expect(await cache.get('RecipesService.all')).toEqual(['all']);
    // Same content, other key order: one key, one run.
    service.runs = 0;
    await service.filter({ a: 1, b: { c: [1, 2], d: 'x' } });
    await service.filter({ b: { d: 'x', c: [1, 2] }, a: 1 });
    expect(service.runs).toBe(1);
    await service.filter({ a: 2, b: { c: [1, 2], d: 'x' } });
    expect(service.runs).toBe(2);
  });

  it('hashes keys from arguments that memcached could not store', async () => {
    const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { service, cache } = await boot(RecipesService);
    const long = 'x'.repeat(300);
    for (const title of ['with spaces and\nnewline', long]) {
      expect(await service.byTitle(title)).toBe(title);
      expect(await service.byTitle(title)).toBe(title);
    }
    expect(service.runs).toBe(2);
    expect(warnings).not.toHaveBeenCalled();
    expect(await cache.get('title:with spaces and\nnewline')).toBeUndefined();
  });

  it("keeps keys from arguments out of the library's own entries (pages, fragments, generations)", async () => {
    const { service, cache } = await boot(RecipesService);
    for (const query of [
      'views.decorators.cache.cache_header..abc',
      'template.cache.sidebar.x',
      '__nestjs_caches__:generation:Recipe',
    ]) {
      await cache.set(query, 'internal entry');
      expect(await service.lookup(query)).toBe(`computed for ${query}`);
      expect(await cache.get(query)).toBe('internal entry');
      expect(await service.lookup(query)).toBe(`computed for ${query}`); // cached, under another key
    }
    expect(service.runs).toBe(3);
  });

  it('runs a cold method once for 1,000 concurrent callers', async () => {
    const { service } = await boot(RecipesService);
    const results = await Promise.all(Array.from({ length: 1000 }, () => service.findOne(1)));
    expect(service.runs).toBe(1);
    expect(results.every((r) => r.id === 1)).toBe(true);
  });

  it('caches sync methods too (the decorated method returns a promise)', async () => {
    const { service } = await boot(RecipesService);
    const result = service.search('tea');
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toEqual(['tea']);
    await service.search('tea');
    expect(service.runs).toBe(1);
  });

  it('returns a promise from a sync method on every path: condition false, vary unknown, and a throw', async () => {
    @Injectable()
    class SyncService {
      runs = 0;

      @Cacheable({ key: 'sync:{0}', condition: ([id]) => id > 0 })
      find(id: number) {
        this.runs++;
        if (id === -13) throw new Error('unlucky');
        return `item ${id}`;
      }

      @Cacheable({ key: 'mine', vary: () => undefined })
      mine() {
        return 'for whom?';
      }
    }
    const { service } = await boot(SyncService);
    const uncached = service.find(-1); // condition false: the cache is left alone
    expect(uncached).toBeInstanceOf(Promise);
    expect(await uncached).toBe('item -1');
    const unknownCaller = service.mine(); // vary knows no caller: not cached either
    expect(unknownCaller).toBeInstanceOf(Promise);
    expect(await unknownCaller).toBe('for whom?');
    let thrown: unknown;
    let call: unknown;
    try {
      call = service.find(-13);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeUndefined(); // rejects, as a hit or an async method would, rather than throwing
    await expect(call).rejects.toThrow('unlucky');
  });
});

describe.each(backends)('@Cacheable options on %s', (_name, entry) => {
  const bootOn = <T>(provider: Type<T>, configure?: Parameters<typeof boot>[2]) =>
    boot(provider, { default: entry() }, configure);

  @Injectable()
  class RulesService {
    runs = 0;

    @Cacheable({ key: 'cond:{0}', condition: ([id]) => id > 0, unless: (result: string | null) => result === null })
    find(id: number) {
      this.runs++;
      return id === 13 ? null : `item ${id}`;
    }

    @Cacheable({ key: 'zero', timeout: 0 })
    neverKept() {
      return ++this.runs;
    }

    @Cacheable({ key: 'forever', timeout: null })
    forever() {
      return ++this.runs;
    }

    @Cacheable({ key: 'short', timeout: 0.1 })
    short() {
      return ++this.runs;
    }
  }

  it('checks condition before the call and unless after it', async () => {
    const { service, cache } = await bootOn(RulesService);
    await service.find(-1);
    await service.find(-1);
    expect(service.runs).toBe(2); // condition false: not cached
    expect(await cache.has('cond:-1')).toBe(false);
    expect(await service.find(13)).toBeNull();
    expect(await service.find(13)).toBeNull();
    expect(service.runs).toBe(4); // unless true: returned, not stored
    await service.find(5);
    await service.find(5);
    expect(service.runs).toBe(5);
  });

  it('follows Django timeouts: 0 stores nothing, null keeps forever, seconds expire', async () => {
    const { service, cache } = await boot(RulesService, { default: { ...entry(), timeout: 0.1 } });
    expect(await service.neverKept()).toBe(1);
    expect(await service.neverKept()).toBe(2);
    expect(await cache.has('zero')).toBe(false);
    await service.forever();
    await service.short();
    await sleep(200);
    expect(await cache.has('forever')).toBe(true); // not the alias's 0.1 s
    expect(await cache.has('short')).toBe(false);
  });

  it('staleWhileRevalidate: serves the stale value at once while one refresh runs', async () => {
    @Injectable()
    class FeedService {
      runs = 0;

      @Cacheable({ key: 'feed', timeout: 0.2, staleWhileRevalidate: 10 })
      async feed() {
        this.runs++;
        await sleep(1000);
        return `feed ${this.runs}`;
      }
    }
    const { service } = await bootOn(FeedService);
    expect(await service.feed()).toBe('feed 1');
    await sleep(300);
    const started = performance.now();
    const stale = await Promise.all(Array.from({ length: 50 }, () => service.feed()));
    expect(new Set(stale)).toEqual(new Set(['feed 1'])); // stale, and without waiting for the 1 s refresh
    expect(performance.now() - started).toBeLessThan(700);
    // Callers keep getting the stale value, and start no other refresh, until the one refresh is in.
    let latest = stale[0];
    for (let polls = 0; polls < 50 && latest !== 'feed 2'; polls++) {
      await sleep(100);
      latest = await service.feed();
    }
    expect(latest).toBe('feed 2');
    expect(service.runs).toBe(2); // one refresh for the 50 callers and the polls
  });

  it('grace: past timeout + staleWhileRevalidate, a method that throws is answered with the stale value, with back-off', async () => {
    @Injectable()
    class FeedService {
      runs = 0;
      failing = false;

      @Cacheable({ key: 'graceful', timeout: 0.2, staleWhileRevalidate: 0.1, grace: 4 })
      async feed() {
        this.runs++;
        if (this.failing) throw new Error('upstream down');
        return `feed ${this.runs}`;
      }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { service } = await bootOn(FeedService);
    expect(await service.feed()).toBe('feed 1');
    service.failing = true;
    await sleep(450); // stale for 250 ms: past staleWhileRevalidate (100 ms), within grace (4 s)
    // The refresh runs in the foreground (no stale-while-revalidate any more), fails, and the stale value answers.
    expect(await service.feed()).toBe('feed 1');
    expect(service.runs).toBe(2);
    // Back-off (1 s after a first failure): the next callers get the stale value without another run.
    expect(await service.feed()).toBe('feed 1');
    await sleep(500);
    expect(await service.feed()).toBe('feed 1');
    expect(service.runs).toBe(2);
    await sleep(700); // past the back-off: one more try, which fails too; then 2 s of back-off
    expect(await service.feed()).toBe('feed 1');
    expect(service.runs).toBe(3);
    expect(await service.feed()).toBe('feed 1');
    expect(service.runs).toBe(3);
    expect(warn.mock.calls.map((call) => String(call[0]))).toContainEqual(
      expect.stringMatching(
        /Refreshing '.*graceful' failed \(serving the stale value, next try in 1 s\): upstream down/,
      ),
    );
  });

  it('uses the injected random source for earlyRefresh', async () => {
    @Injectable()
    class HotService {
      runs = 0;
      @Cacheable({ key: 'hot', timeout: 10, earlyRefresh: 1 })
      async hot() {
        await sleep(30);
        return ++this.runs;
      }
    }
    // A draw of 0 gives XFetch a head start of 30 ms * 1 * 744 (-ln of the smallest double), about
    // 22 s, more than the 10 s timeout: the first hit refreshes.
    const { service } = await bootOn(HotService, (builder) =>
      builder.overrideProvider(EARLY_REFRESH_RANDOM).useValue(() => 0),
    );
    expect(await service.hot()).toBe(1);
    expect(await service.hot()).toBe(1); // served, and refreshed in the background
    await sleep(100);
    expect(service.runs).toBe(2);
  });

  it('lock: runs the method once across two processes sharing the store (two modules here)', async () => {
    let runs = 0;
    @Injectable()
    class ReportService {
      @Cacheable({ key: 'report', timeout: 60, lock: true })
      async locked() {
        runs++;
        await sleep(200);
        return 'report';
      }

      @Cacheable({ key: 'report-unlocked', timeout: 60 })
      async unlocked() {
        runs++;
        await sleep(200);
        return 'report';
      }
    }
    const shared = entry();
    const [a, b] = [await boot(ReportService, { default: shared }), await boot(ReportService, { default: shared })];
    for (const [method, expectedRuns] of [
      ['locked', 1],
      ['unlocked', 2], // without the lease: once per process
    ] as const) {
      runs = 0;
      const calls = Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).service[method]());
      expect(new Set(await Promise.all(calls))).toEqual(new Set(['report']));
      expect(runs).toBe(expectedRuns);
    }
  });
});

describe.each(backends)('@CachePut, @CacheEvict and @CacheConfig on %s', (_name, entry) => {
  @CacheConfig({ cache: 'other', timeout: 0.1 })
  @Injectable()
  class RecipesService {
    runs = 0;
    fail = false;

    @Cacheable('recipe:{0}')
    findOne(id: number) {
      this.runs++;
      return `recipe ${id} v${this.runs}`;
    }

    @Cacheable({ key: 'long:{0}', timeout: 60, cache: 'default' })
    findLong(id: number) {
      this.runs++;
      return `long ${id}`;
    }

    @CachePut({
      key: 'recipe:{0}',
      unless: (result: string) => result.includes('draft'),
      condition: ([id]) => id !== 0,
    })
    update(id: number, title: string) {
      this.runs++;
      return title;
    }

    @CachePut({ key: 'pinned:{0}', timeout: null })
    pin(id: number) {
      return `pinned ${id}`;
    }

    @CacheEvict('recipe:{0}')
    remove(id: number) {
      if (this.fail) throw new Error('cannot remove');
      return id;
    }

    @CacheEvict({ key: 'recipe:{0}', beforeInvocation: true })
    removeFirst(id: number) {
      if (this.fail) throw new Error('cannot remove');
      return id;
    }

    @CacheEvict({ allEntries: true })
    removeAll() {
      return true;
    }

    @CacheEvict({ key: 'recipe:{0}', condition: ([id]) => id !== 1 })
    @CacheEvict('list')
    removeTwo(id: number) {
      return id;
    }
  }

  const caches = () => ({ default: entry(), other: entry() });

  it('takes the class defaults, which an operation overrides', async () => {
    const { service, caches: registry } = await boot(RecipesService, caches());
    await service.findOne(1);
    await service.findLong(1);
    expect(await registry.get('other').get('recipe:1')).toBe('recipe 1 v1');
    expect(await registry.get('default').get('recipe:1')).toBeUndefined();
    expect(await registry.get('default').get('long:1')).toBe('long 1');
    await sleep(150); // the class timeout, 0.1 s
    expect(await registry.get('other').has('recipe:1')).toBe(false);
    expect(await registry.get('default').has('long:1')).toBe(true);
  });

  it('@CachePut always runs and stores, under its condition and unless', async () => {
    const { service, caches: registry } = await boot(RecipesService, caches());
    const other = registry.get('other');
    expect(await service.update(1, 'Soup')).toBe('Soup');
    expect(await service.update(1, 'Soup')).toBe('Soup');
    expect(service.runs).toBe(2);
    expect(await other.get('recipe:1')).toBe('Soup');
    expect(await service.findOne(1)).toBe('Soup');
    await service.update(1, 'Soup draft');
    expect(await other.get('recipe:1')).toBe('Soup');
    await service.update(0, 'Zero');
    expect(await other.has('recipe:0')).toBe(false);
    await service.pin(1);
    await sleep(150); // past the class timeout: the put's own timeout (forever) wins
    expect(await other.get('pinned:1')).toBe('pinned 1');
  });

  it('@CacheEvict removes after success, before with beforeInvocation, everything with allEntries', async () => {
    const { service, caches: registry } = await boot(RecipesService, caches());
    const other = registry.get('other');
    await other.set('recipe:1', 'cached', 60);
    await service.remove(1);
    expect(await other.has('recipe:1')).toBe(false);

    await other.set('recipe:1', 'cached', 60);
    service.fail = true;
    await expect(service.remove(1)).rejects.toThrow('cannot remove');
    expect(await other.has('recipe:1')).toBe(true); // the method failed: nothing evicted
    await expect(service.removeFirst(1)).rejects.toThrow('cannot remove');
    expect(await other.has('recipe:1')).toBe(false); // evicted before the call
    service.fail = false;

    await other.setMany({ 'recipe:1': 1, 'recipe:2': 2, list: [1, 2] }, 60);
    await service.removeTwo(1);
    expect(await other.has('recipe:1')).toBe(true); // condition false for this one
    expect(await other.has('list')).toBe(false);
    await service.removeTwo(2);
    expect(await other.has('recipe:2')).toBe(false);
    await registry.get('default').set('recipe:1', 'in another alias', 60);
    await service.removeAll();
    expect(await other.has('recipe:1')).toBe(false);
    expect(await registry.get('default').get('recipe:1')).toBe('in another alias'); // only the alias is cleared
  });
});

describe('wiring', () => {
  it('refuses @Cacheable with @CachePut on one method', () => {
    expect(() => {
      class Both {
        @CachePut('k')
        @Cacheable('k')
        method() {
          return 1;
        }
      }
      return Both;
    }).toThrow(/both @Cacheable and @CachePut/);
  });

  it('fails at boot on an unknown alias, naming the configured ones', async () => {
    @Injectable()
    class Misconfigured {
      @Cacheable({ key: 'k', cache: 'nowhere' })
      method() {
        return 1;
      }
    }
    await expect(boot(Misconfigured)).rejects.toThrow(/No cache alias 'nowhere'; configured: default/);
  });
  @Injectable()
  class Counter {
    runs = 0;
    @Cacheable('count')
    count() {
      return ++this.runs;
    }
  }

  it('runs the original method on instances Nest did not wire', async () => {
    const counter = new Counter();
    expect(counter.count()).toBe(1);
    expect(counter.count()).toBe(2); // no wrapper: plain, synchronous calls
  });

  it('warns about request-scoped providers and leaves them uncached', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      runs = 0;
      @Cacheable('per-request')
      count() {
        return ++this.runs;
      }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { service } = await boot(PerRequest);
    expect(warn.mock.calls.map((call) => String(call[0]))).toContainEqual(
      expect.stringMatching(
        /PerRequest is request-scoped or transient: its cache decorators \(count\) are not applied/,
      ),
    );
    expect(service.count()).toBe(1);
    expect(service.count()).toBe(2);
  });

  it('fails open: with the store down, the method runs, its result is returned, the failure counted', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { service, cache } = await boot(Counter, { default: { backend: UnreachableBackend } });
    expect(await service.count()).toBe(1);
    expect(await service.count()).toBe(2);
    expect(cache.stats().errors).toBe(2); // each call's read; the method then runs as on a miss
    expect(warn).toHaveBeenCalledTimes(1); // once per burst
  });

  it('works on redis (database 6): 1,000 concurrent callers, one run', async () => {
    const { service, cache } = await boot(Counter, {
      default: { backend: 'redis', location: redisDb(6), keyPrefix: `methods-${process.pid}-${Date.now()}` },
    });
    const results = await Promise.all(Array.from({ length: 1000 }, () => service.count()));
    expect(new Set(results)).toEqual(new Set([1]));
    expect(await service.count()).toBe(1);
    expect(await cache.get('count')).toBe(1);
    await cache.clear();
  });
});

describe('generations of a @Cacheable with dependsOn, on redis (database 9)', () => {
  const raw = new Redis(redisDb(9));
  afterAll(() => raw.disconnect());

  @Injectable()
  class CatalogService {
    @Cacheable({ key: 'kept:{0}', timeout: 50_000, staleWhileRevalidate: 30_000, grace: 70_000, dependsOn: ['Kept'] })
    kept(id: number) {
      return id;
    }

    @Cacheable({ key: 'default:{0}', grace: 70_000, dependsOn: ['AliasDefault'] })
    aliasDefault(id: number) {
      return id;
    }

    @Cacheable({ key: 'forever:{0}', timeout: null, grace: 70_000, dependsOn: ['Forever'] })
    forever(id: number) {
      return id;
    }
  }

  it("outlive the entry's whole stored life: timeout + staleWhileRevalidate + grace, null for never", async () => {
    const { service, cache } = await boot(CatalogService, { default: { ...redis(), timeout: 50_000 } });
    // Shortest kept life first: a store's generation lifetime only grows (see generations.ts).
    await service.aliasDefault(1);
    await service.kept(1);
    await service.forever(1);
    const ttlSeconds = async (entity: string) =>
      (await raw.pttl(cache.makeKey(`__nestjs_caches__:generation:${entity}`))) / 1000;
    // The alias's timeout (50,000 s) + grace (70,000 s), twice, not twice the timeout alone.
    expect(await ttlSeconds('AliasDefault')).toBeGreaterThan(2 * 100_000);
    expect(await ttlSeconds('AliasDefault')).toBeLessThanOrEqual(2 * 120_000);
    // Twice the kept life (150,000 s).
    expect(await ttlSeconds('Kept')).toBeGreaterThan(2 * 120_000);
    expect(await ttlSeconds('Kept')).toBeLessThanOrEqual(2 * 150_000);
    expect(await raw.pttl(cache.makeKey('__nestjs_caches__:generation:Forever'))).toBe(-1); // no expiry
    await cache.clear();
  });
});
