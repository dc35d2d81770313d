import 'reflect-metadata';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { CacheBackendError, CacheModule, Caches } from '../../lib/index.js';
import { UnreachableBackend } from '../support/unreachable-backend.js';

describe('a backend that fails', () => {
  let moduleRef: TestingModule;
  afterEach(() => moduleRef.close());

  async function boot() {
    moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({
          default: { backend: UnreachableBackend },
          lenient: { backend: UnreachableBackend, ignoreErrors: true },
        }),
      ],
    }).compile();
    return moduleRef.get(Caches);
  }

  it('surfaces as CacheBackendError naming the alias, the key and the fix, and is counted', async () => {
    const cache = (await boot()).default;
    const failure = cache.get('recipe:1').catch((e: unknown) => e);
    await expect(failure).resolves.toBeInstanceOf(CacheBackendError);
    expect(((await failure) as Error).message).toMatch(
      /Cache 'default' failed to get 'recipe:1': connect ECONNREFUSED.*set ignoreErrors: true/,
    );
    expect(((await failure) as Error).cause).toBeInstanceOf(Error);
    await expect(cache.set('k', 1)).rejects.toBeInstanceOf(CacheBackendError);
    expect(cache.stats().errors).toBe(2);
  });

  it('with ignoreErrors, reads miss, writes resolve, getOrSet returns the computed value; incr still throws', async () => {
    const cache = (await boot()).get('lenient');
    expect(await cache.get('k', 'fallback')).toBe('fallback');
    await expect(cache.set('k', 1)).resolves.toBeUndefined();
    expect(await cache.add('k', 1)).toBe(false);
    expect(await cache.getOrSet('k', () => 'computed')).toBe('computed');
    expect(await cache.getMany(['a', 'b'])).toEqual(new Map());
    await expect(cache.incr('k')).rejects.toBeInstanceOf(CacheBackendError);
    expect(cache.stats().errors).toBeGreaterThanOrEqual(5);
  });

  it('with failOpen, getOrSet answers the computed value, computed once for concurrent callers', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const cache = (await boot()).default; // no ignoreErrors: without failOpen, the failure is thrown
      await expect(cache.getOrSet('k', () => 'computed')).rejects.toBeInstanceOf(CacheBackendError);
      let runs = 0;
      const compute = async () => `computed ${++runs}`;
      const calls = Array.from({ length: 50 }, () => cache.getOrSet('k', compute, 60, undefined, { failOpen: true }));
      expect(new Set(await Promise.all(calls))).toEqual(new Set(['computed 1']));
      expect(runs).toBe(1);
      // Nothing could be stored: a later call computes again.
      expect(await cache.getOrSet('k', compute, 60, undefined, { failOpen: true })).toBe('computed 2');
    } finally {
      warn.mockRestore();
    }
  });

  it('is logged once per burst, not once per call', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const cache = (await boot()).get('lenient');
      for (let i = 0; i < 100; i++) await cache.get(`k${i}`);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain("Cache 'lenient' failed to get 'k0'");
    } finally {
      warn.mockRestore();
    }
  });
});
