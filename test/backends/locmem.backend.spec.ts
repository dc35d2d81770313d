import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cache, CacheModule, Caches, type CachesOptions } from '../../lib/index.js';

describe('locmem backend', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(() => moduleRef?.close());

  async function boot(caches: CachesOptions): Promise<Caches> {
    moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();
    return moduleRef.get(Caches);
  }

  it('shares data between stores with the same location, and only those', async () => {
    const caches = await boot({
      default: { backend: 'locmem', location: 'shared-snowflake' },
      sameLocation: { backend: 'locmem', location: 'shared-snowflake' },
      otherLocation: { backend: 'locmem', location: 'other-snowflake' },
    });
    await caches.default.set('k', 'v');
    expect(await caches.get('sameLocation').get('k')).toBe('v');
    expect(await caches.get('otherLocation').get('k')).toBeUndefined();
  });

  it('drops a location when its last store closes, so nothing outlives the app', async () => {
    const first = await boot({ default: { backend: 'locmem', location: 'short-lived' } });
    await first.default.set('k', 'v');
    await moduleRef!.close();
    const second = await boot({ default: { backend: 'locmem', location: 'short-lived' } });
    expect(await second.default.get('k')).toBeUndefined();
  });

  it('culls the least recently used entries first', async () => {
    const caches = await boot({
      default: { backend: 'locmem', location: 'lru', options: { maxEntries: 3, cullFrequency: 3 } },
    });
    const cache = caches.default;
    await cache.set('a', 1);
    await cache.set('b', 2);
    await cache.set('c', 3);
    await cache.get('a'); // now b is the least recently used
    await cache.set('d', 4); // full: culls one entry (3 / 3)
    expect(await cache.has('b')).toBe(false);
    expect(await cache.getMany(['a', 'c', 'd'])).toEqual(
      new Map([
        ['a', 1],
        ['c', 3],
        ['d', 4],
      ]),
    );
  });

  it('hands out plain data as a frozen copy: reads copy nothing and cannot change the cache', async () => {
    const caches = await boot({ default: { backend: 'locmem', location: 'frozen' } });
    const cache: Cache = caches.default;
    await cache.set('recipe', { name: 'soup', tags: ['hot'] });
    const first = (await cache.get('recipe')) as { name: string; tags: string[] };
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.tags)).toBe(true);
    expect(() => first.tags.push('cold')).toThrow(/not extensible/);
    expect(await cache.get('recipe')).toBe(first);
  });

  it('decodes values holding Map, Set, Date or binary data afresh on each read', async () => {
    const caches = await boot({ default: { backend: 'locmem', location: 'copied' } });
    const cache = caches.default;
    await cache.set('index', { byName: new Map([['soup', 1]]) });
    const first = (await cache.get('index')) as { byName: Map<string, number> };
    first.byName.set('stew', 2);
    const second = (await cache.get('index')) as { byName: Map<string, number> };
    expect(second).not.toBe(first);
    expect([...second.byName.keys()]).toEqual(['soup']);
  });

  it('keeps cyclic and shared references, sparse arrays, and turns class instances into plain data', async () => {
    const caches = await boot({ default: { backend: 'locmem', location: 'shapes' } });
    const cache = caches.default;
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { a: shared, b: shared };
    cyclic.self = cyclic;
    await cache.set('cyclic', cyclic);
    const read = (await cache.get('cyclic')) as typeof cyclic;
    expect(read.self).toBe(read);
    expect(read.a).toBe(read.b);
    expect(read.a).not.toBe(shared);

    // eslint-disable-next-line no-sparse-arrays
    await cache.set('sparse', [1, , 3]);
    const sparse = (await cache.get('sparse')) as unknown[];
    expect(sparse).toHaveLength(3);
    expect(1 in sparse).toBe(false);

    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    await cache.set('point', new Point(1, 2));
    const point = await cache.get('point');
    expect(point).toEqual({ x: 1, y: 2 });
    expect(point).not.toBeInstanceOf(Point);
  });
});
