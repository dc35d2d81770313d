import { beforeAll, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheKeyError, CacheValueError } from '../core/errors.js';
import type { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import type { ContractContext } from './contract-context.js';

/** Django's BaseCacheTests, second half: versions, key functions, getOrSet, key validation, stats, culling. */
export function describeKeyContract(context: ContractContext): void {
  const { target } = context;
  let caches: Caches;
  let cache: Cache;
  beforeAll(() => {
    caches = context.caches;
    cache = caches.default;
  });
  it('versions keys: get and set', async () => {
    const v2 = caches.get('v2');
    await cache.set('answer1', 42);
    expect(await cache.get('answer1')).toBe(42);
    expect(await cache.get('answer1', undefined, 1)).toBe(42);
    expect(await cache.get('answer1', undefined, 2)).toBeUndefined();
    expect(await v2.get('answer1')).toBeUndefined();
    expect(await v2.get('answer1', undefined, 1)).toBe(42);

    await cache.set('answer2', 42, undefined, 2);
    expect(await cache.get('answer2')).toBeUndefined();
    expect(await cache.get('answer2', undefined, 2)).toBe(42);
    expect(await v2.get('answer2')).toBe(42);

    await v2.set('answer3', 42);
    expect(await cache.get('answer3', undefined, 1)).toBeUndefined();
    expect(await cache.get('answer3', undefined, 2)).toBe(42);

    await v2.set('answer4', 42, undefined, 1);
    expect(await cache.get('answer4')).toBe(42);
    expect(await v2.get('answer4')).toBeUndefined();
  });

  it('versions keys: add, has, delete', async () => {
    const v2 = caches.get('v2');
    expect(await cache.add('answer1', 42, undefined, 2)).toBe(true);
    expect(await cache.get('answer1', undefined, 2)).toBe(42);
    expect(await cache.add('answer1', 37, undefined, 2)).toBe(false);
    expect(await cache.add('answer1', 37, undefined, 1)).toBe(true);
    expect(await cache.get('answer1', undefined, 1)).toBe(37);

    expect(await v2.add('answer2', 42)).toBe(true);
    expect(await cache.has('answer2')).toBe(false);
    expect(await cache.has('answer2', 2)).toBe(true);
    expect(await v2.has('answer2', 1)).toBe(false);

    await cache.set('answer3', 37, undefined, 1);
    await cache.set('answer3', 42, undefined, 2);
    expect(await cache.delete('answer3', 2)).toBe(true);
    expect(await cache.get('answer3', undefined, 1)).toBe(37);
    expect(await cache.get('answer3', undefined, 2)).toBeUndefined();
  });

  it('versions keys: incr, decr, getMany, setMany', async () => {
    const v2 = caches.get('v2');
    await cache.set('answer1', 37, undefined, 1);
    await cache.set('answer1', 42, undefined, 2);
    expect(await cache.incr('answer1', 1, 2)).toBe(43);
    expect(await cache.get('answer1', undefined, 1)).toBe(37);
    expect(await v2.decr('answer1')).toBe(42);
    expect(await cache.get('answer1', undefined, 1)).toBe(37);

    await cache.setMany({ ford1: 37, arthur1: 42 });
    expect(await cache.getMany(['ford1', 'arthur1'])).toEqual(
      new Map([
        ['ford1', 37],
        ['arthur1', 42],
      ]),
    );
    expect(await cache.getMany(['ford1', 'arthur1'], 2)).toEqual(new Map());
    expect(await v2.getMany(['ford1', 'arthur1'])).toEqual(new Map());
    expect(await v2.getMany(['ford1', 'arthur1'], 1)).toEqual(
      new Map([
        ['ford1', 37],
        ['arthur1', 42],
      ]),
    );

    await v2.setMany({ ford2: 37, arthur2: 42 });
    expect(await cache.getMany(['ford2', 'arthur2'])).toEqual(new Map());
    expect(await cache.getMany(['ford2', 'arthur2'], 2)).toEqual(
      new Map([
        ['ford2', 37],
        ['arthur2', 42],
      ]),
    );
  });

  it('moves a value to the next version with incrVersion', async () => {
    const v2 = caches.get('v2');
    await cache.set('answer', 42, undefined, 2);
    expect(await cache.incrVersion('answer', 1, 2)).toBe(3);
    expect(await cache.get('answer', undefined, 2)).toBeUndefined();
    expect(await cache.get('answer', undefined, 3)).toBe(42);

    await v2.set('answer2', 42);
    expect(await v2.incrVersion('answer2')).toBe(3);
    expect(await v2.get('answer2')).toBeUndefined();
    expect(await v2.get('answer2', undefined, 3)).toBe(42);
    expect(await v2.incrVersion('answer2', 10, 3)).toBe(13);

    await expect(cache.incrVersion('does_not_exist')).rejects.toBeInstanceOf(CacheKeyError);
    await cache.set('null-valued', null);
    expect(await cache.incrVersion('null-valued')).toBe(2);
    expect(await cache.get('null-valued', 'default', 2)).toBeNull();
  });

  it('moves a value to the previous version with decrVersion', async () => {
    await cache.set('answer', 42, undefined, 2);
    expect(await cache.decrVersion('answer', 1, 2)).toBe(1);
    expect(await cache.get('answer')).toBe(42);
    expect(await cache.get('answer', undefined, 2)).toBeUndefined();
    await expect(cache.decrVersion('does_not_exist', 1, 2)).rejects.toBeInstanceOf(CacheKeyError);
  });

  it('uses a custom key function', async () => {
    const custom = caches.get('customKey');
    const custom2 = caches.get('customKey2');
    await custom.set('answer1', 42);
    expect(await cache.get('answer1')).toBeUndefined();
    expect(await custom.get('answer1')).toBe(42);
    expect(await custom2.get('answer1')).toBe(42);
    expect(custom.makeKey('answer1')).toBe('CUSTOM--1-answer1');
    expect(cache.makeKey('answer1', 3)).toBe(':3:answer1');
  });

  it('refuses a value that cannot be serialized and keeps the previous one', async () => {
    await cache.set('unpicklable', 'previous');
    await expect(cache.set('unpicklable', { fn: () => 1 })).rejects.toBeInstanceOf(CacheValueError);
    await expect(cache.set('unpicklable', Symbol('s'))).rejects.toThrow(/cannot be serialized/);
    expect(await cache.get('unpicklable')).toBe('previous');
    await expect(cache.add('unpicklable-add', { fn: () => 1 })).rejects.toBeInstanceOf(CacheValueError);
    expect(await cache.has('unpicklable-add')).toBe(false);
    await expect(cache.setMany({ good: 1, bad: () => 1 })).rejects.toBeInstanceOf(CacheValueError);
    expect(await cache.has('good')).toBe(false);
  });

  it('computes a missing value once with getOrSet', async () => {
    expect(await cache.get('projector')).toBeUndefined();
    expect(await cache.getOrSet('projector', 42)).toBe(42);
    expect(await cache.get('projector')).toBe(42);
    expect(await cache.getOrSet('null', null)).toBeNull();
    expect(await cache.get('null', 'default')).toBeNull();
  });

  it('getOrSet takes sync and async factories, run only on a miss', async () => {
    let runs = 0;
    const factory = () => {
      runs++;
      return 'value';
    };
    expect(await cache.getOrSet('mykey', factory)).toBe('value');
    expect(await cache.getOrSet('mykey', factory)).toBe('value');
    expect(runs).toBe(1);
    expect(await cache.getOrSet('async', async () => ({ computed: true }))).toEqual({ computed: true });
    expect(await cache.getOrSet('null-factory', () => null)).toBeNull();
    expect(await cache.has('null-factory')).toBe(true);
  });

  it('getOrSet honours a version', async () => {
    await expect(cache.getOrSet('brian', 1979, undefined, 2)).resolves.toBe(1979);
    expect(await cache.get('brian')).toBeUndefined();
    expect(await cache.getOrSet('brian', 42, undefined, 1)).toBe(42);
    expect(await cache.getOrSet('brian', 1979, undefined, 2)).toBe(1979);
    expect(await cache.get('brian', undefined, 3)).toBeUndefined();
  });

  it('getOrSet returns the value another writer stored first', async () => {
    // The racing case of Django's test: a value added between our miss and our add wins.
    const result = await cache.getOrSet('racing', async () => {
      await cache.set('racing', 'first writer');
      return 'second writer';
    });
    expect(result).toBe('first writer');
  });

  it('getOrSet runs one factory for concurrent misses of a key', async () => {
    let runs = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        cache.getOrSet('stampede', async () => {
          runs++;
          await sleep(20);
          return 'computed';
        }),
      ),
    );
    expect(new Set(results)).toEqual(new Set(['computed']));
    expect(runs).toBe(1);
  });

  it('validates keys: unsafe keys warn, or throw where the backend cannot store them', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const badKeys = ['key with spaces', 'key\nwith\tcontrol', 'x'.repeat(251), `del\x7f`];
      for (const key of badKeys) {
        if (target.rejectsUnsafeKeys) {
          await expect(cache.set(key, 'value')).rejects.toBeInstanceOf(CacheKeyError);
        } else {
          await cache.set(key, 'value');
          expect(await cache.get(key)).toBe('value');
        }
      }
      if (!target.rejectsUnsafeKeys) {
        const messages = emitWarning.mock.calls.map((call) => String(call[0]));
        // Named as Django names it; a long key is cut, its beginning kept.
        expect(messages).toContainEqual(
          expect.stringMatching(
            /^Cache key ":1:x{97}"… \(154 more characters\) is 254 bytes of UTF-8, longer than 250/,
          ),
        );
        expect(messages.some((m) => m.includes('key with spaces'))).toBe(true);
        expect(emitWarning.mock.calls.every((call) => (call[1] as { type: string }).type === 'CacheKeyWarning')).toBe(
          true,
        );
        // Once per distinct key: the same bad key again adds no warning.
        const before = emitWarning.mock.calls.length;
        await cache.get('key with spaces');
        expect(emitWarning.mock.calls.length).toBe(before);
      }
      // The made key counts: a 240-character key passes alone but not with its prefix and version.
      const nearLimit = 'k'.repeat(248);
      if (target.rejectsUnsafeKeys) await expect(cache.get(nearLimit)).rejects.toBeInstanceOf(CacheKeyError);
      else expect(await cache.get(nearLimit)).toBeUndefined();
    } finally {
      emitWarning.mockRestore();
    }
  });

  it('measures the key limit in bytes of UTF-8, and a bad key is never a backend failure', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const logged = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const errorsBefore = cache.stats().errors;
      const wide = '鍵'.repeat(100); // 100 characters, 300 bytes
      // More bad calls than the circuit breaker's 5 failures in a row: none may count.
      for (let i = 0; i < 8; i++) {
        if (target.rejectsUnsafeKeys) {
          const refused = await cache.set(wide, 'value').catch((error: unknown) => error);
          expect(refused).toBeInstanceOf(CacheKeyError);
          expect((refused as Error).message).toMatch(
            /^Cache 'default' cannot store this key: Cache key ":1:鍵{97}"… \(3 more characters\) is 303 bytes of UTF-8, longer than 250; memcached refuses it/,
          );
        } else {
          await cache.set(wide, 'value');
          expect(await cache.get(wide)).toBe('value');
        }
      }
      if (!target.rejectsUnsafeKeys) {
        expect(emitWarning).toHaveBeenCalledTimes(1);
        expect(String(emitWarning.mock.calls[0]![0])).toContain(`":1:${'鍵'.repeat(97)}"…`);
      }
      expect(cache.stats().errors).toBe(errorsBefore);
      expect(logged).not.toHaveBeenCalled();
      await cache.set('after-bad-keys', 'stored'); // the circuit is closed
      expect(await cache.get('after-bad-keys')).toBe('stored');
      // 83 characters of 3 bytes and the 3 of ':1:' are 252 bytes; one fewer fits.
      expect(() => cache.validateKey(`:1:${'鍵'.repeat(82)}`)).not.toThrow();
      expect(emitWarning).toHaveBeenCalledTimes(target.rejectsUnsafeKeys ? 0 : 1);
    } finally {
      emitWarning.mockRestore();
      logged.mockRestore();
    }
  });

  it('counts hits, misses, sets and deletes', async () => {
    const before = cache.stats();
    await cache.set('counted', 1);
    await cache.get('counted');
    await cache.get('not-there');
    await cache.delete('counted');
    const after = cache.stats();
    expect(after.sets - before.sets).toBe(1);
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(1);
    expect(after.deletes - before.deletes).toBe(1);
    expect(after.errors).toBe(before.errors);
  });

  if (target.culls) {
    // Django sets keys 1..49 into a cache of 30 entries: culling a third at a time leaves 29,
    // clearing everything (cullFrequency 0) leaves 19.
    it.each([
      ['cull', 29],
      ['zeroCull', 19],
    ])('culls when full (%s)', async (alias, expected) => {
      const culling = caches.get(alias);
      for (let i = 1; i < 50; i++) await culling.set(`cull${i}`, 'value', 1000);
      let count = 0;
      for (let i = 1; i < 50; i++) if (await culling.has(`cull${i}`)) count++;
      expect(count).toBe(expected);
    });
  }
}
