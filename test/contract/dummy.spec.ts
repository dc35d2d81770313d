import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cache, CacheKeyError, CacheModule, CacheValueError } from '../../lib/index.js';

// Django's DummyCacheTests: the dummy backend accepts every call and keeps nothing.
describe('dummy: stores nothing (Django DummyCacheTests)', () => {
  let moduleRef: TestingModule;
  let cache: Cache;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'dummy' } })],
    }).compile();
    cache = moduleRef.get(Cache);
  });
  afterAll(() => moduleRef.close());

  it('never returns what was set', async () => {
    await cache.set('key', 'value');
    expect(await cache.get('key')).toBeUndefined();
    expect(await cache.get('key', 'default')).toBe('default');
    expect(await cache.has('key')).toBe(false);
  });

  it('reports add as done, yet keeps nothing', async () => {
    expect(await cache.add('addkey1', 'value')).toBe(true);
    expect(await cache.add('addkey1', 'newvalue')).toBe(true);
    expect(await cache.get('addkey1')).toBeUndefined();
  });

  it('finds nothing with getMany, and setMany fails no key', async () => {
    expect(await cache.setMany({ a: 'a', b: 'b' })).toEqual([]);
    expect(await cache.getMany(['a', 'b', 'e'])).toEqual(new Map());
  });

  it('deletes and touches nothing', async () => {
    await cache.set('key1', 'spam');
    expect(await cache.delete('key1')).toBe(false);
    await cache.deleteMany(['key1', 'key2']);
    expect(await cache.touch('key1')).toBe(false);
    await cache.clear();
  });

  it('cannot increment or move versions of keys it never holds', async () => {
    await cache.set('answer', 42);
    await expect(cache.incr('answer')).rejects.toBeInstanceOf(CacheKeyError);
    await expect(cache.decr('answer')).rejects.toBeInstanceOf(CacheKeyError);
    await expect(cache.incrVersion('answer')).rejects.toBeInstanceOf(CacheKeyError);
    await expect(cache.decrVersion('answer')).rejects.toBeInstanceOf(CacheKeyError);
  });

  it('getOrSet returns the default or the factory result every time', async () => {
    let runs = 0;
    expect(await cache.getOrSet('mykey', 'default')).toBe('default');
    expect(await cache.getOrSet('mykey', () => ++runs)).toBe(1);
    expect(await cache.getOrSet('mykey', () => ++runs)).toBe(2);
  });

  it('still refuses values a real backend could not store', async () => {
    await expect(cache.set('fn', () => 1)).rejects.toBeInstanceOf(CacheValueError);
  });

  it('handles unicode and expiring keys without complaint', async () => {
    await cache.set('Iñtërnâtiônàlizætiøn', 'value', 1);
    expect(await cache.get('Iñtërnâtiônàlizætiøn')).toBeUndefined();
    await cache.set('expire', 'soon', 0);
    expect(await cache.has('expire')).toBe(false);
  });
});
