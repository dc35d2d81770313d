import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { types } from 'node:util';
import {
  Cache,
  CacheKeyError,
  CacheModule,
  Caches,
  CacheValueError,
  type CacheEntryOptions,
  type CachesOptions,
  type CommonEntryOptions,
  type CullingOptions,
} from '../../lib/index.js';

/** How a backend under test is configured; `entry(name)` gives each test alias its own store. */
export interface ContractTarget {
  entry(name: string, overrides?: CommonEntryOptions): CacheEntryOptions;
  /** Shortest timeout (seconds) the backend honours precisely; memcached counts whole seconds. */
  shortTimeout?: number;
  /** Backends that refuse unsafe keys (memcached) throw instead of warning. */
  rejectsUnsafeKeys?: boolean;
  /**
   * Counters the server keeps as unsigned 64-bit numbers (memcached): they cannot go below 0, and
   * the server has stored a result past `Number.MAX_SAFE_INTEGER` before the library refuses it.
   */
  unsignedServerCounters?: boolean;
  /** Backends with Django's culling (locmem, filesystem, database). */
  culls?: boolean;
  /** Modules the backend needs beside CacheModule, e.g. TypeOrmModule.forRoot for the database. */
  imports?: () => unknown[];
  /** Aliases the backend needs beside the contract's own, e.g. the tiers of a tiered alias. */
  extraCaches?: () => Record<string, CacheEntryOptions>;
}

/** A culling backend's entry (locmem, filesystem, database: the ones whose options take culling) with culling options added. */
const withCulling = (entry: CacheEntryOptions, culling: CullingOptions) =>
  ({ ...entry, options: { ...entry.options, ...culling } }) as CacheEntryOptions;

const customKeyFunction = (key: string, prefix: string, version: number) => `CUSTOM-${prefix}-${version}-${key}`;

/**
 * Django's BaseCacheTests (tests/cache/tests.py), ported as behaviour: every backend passes
 * these against the real store.
 */
export function describeCacheContract(backendName: string, target: ContractTarget): void {
  const shortTimeout = target.shortTimeout ?? 0.3;
  const afterExpiry = () => sleep(shortTimeout * 1000 * 2 + 100);

  describe(`${backendName}: the cache contract (Django's BaseCacheTests)`, () => {
    let moduleRef: TestingModule;
    let caches: Caches;
    let cache: Cache;
    const contractCaches = () => caches.all().filter((c) => !(c.alias in (target.extraCaches?.() ?? {})));

    beforeAll(async () => {
      const config: CachesOptions = {
        default: target.entry('default'),
        prefix: target.entry('default', { keyPrefix: 'cacheprefix' }),
        v2: target.entry('default', { version: 2 }),
        customKey: target.entry('default', { keyFunction: customKeyFunction }),
        customKey2: target.entry('default', { keyFunction: customKeyFunction }),
      };
      if (target.culls) {
        config.cull = withCulling(target.entry('cull'), { maxEntries: 30 });
        config.zeroCull = withCulling(target.entry('zero-cull'), { maxEntries: 30, cullFrequency: 0 });
      }
      Object.assign(config, target.extraCaches?.());
      moduleRef = await Test.createTestingModule({
        imports: [...((target.imports?.() ?? []) as never[]), CacheModule.forRoot(config)],
      }).compile();
      await moduleRef.init(); // runs backends' init() at bootstrap, as an application would
      caches = moduleRef.get(Caches);
      cache = caches.default;
    });

    beforeEach(async () => {
      await Promise.all(contractCaches().map((c) => c.clear()));
    });

    afterAll(async () => {
      await Promise.all(contractCaches().map((c) => c.clear()));
      await moduleRef.close();
    });

    it('stores and reads a value', async () => {
      await cache.set('key', 'value');
      expect(await cache.get('key')).toBe('value');
    });

    it('treats null as a value, not as a miss', async () => {
      await cache.set('key-null', null);
      expect(await cache.get('key-null', 'default')).toBeNull();
      expect(await cache.has('key-null')).toBe(true);
      expect((await cache.getMany(['key-null'])).get('key-null')).toBeNull();
    });

    it('stores undefined as a value too', async () => {
      await cache.set('key-undefined', undefined);
      expect(await cache.has('key-undefined')).toBe(true);
      expect(await cache.get('key-undefined', 'default')).toBeUndefined();
    });

    it('adds only when the key is absent', async () => {
      expect(await cache.add('addkey1', 'value')).toBe(true);
      expect(await cache.add('addkey1', 'newvalue')).toBe(false);
      expect(await cache.get('addkey1')).toBe('value');
    });

    it('keeps aliases with different prefixes apart', async () => {
      const prefixed = caches.get('prefix');
      await cache.set('somekey', 'value');
      expect(await prefixed.has('somekey')).toBe(false);
      await prefixed.set('somekey', 'value2');
      expect(await cache.get('somekey')).toBe('value');
      expect(await prefixed.get('somekey')).toBe('value2');
    });

    it('returns the default (or undefined) on a miss', async () => {
      expect(await cache.get('does-not-exist')).toBeUndefined();
      expect(await cache.get('does-not-exist', 'bang!')).toBe('bang!');
    });

    it('gets many keys at once, found ones only', async () => {
      await cache.setMany({ a: 'a', b: 'b', c: 'c', d: 'd' });
      expect(await cache.getMany(['a', 'c', 'd'])).toEqual(
        new Map([
          ['a', 'a'],
          ['c', 'c'],
          ['d', 'd'],
        ]),
      );
      expect(await cache.getMany(['a', 'b', 'e'])).toEqual(
        new Map([
          ['a', 'a'],
          ['b', 'b'],
        ]),
      );
      expect(await cache.getMany(new Set(['a', 'b']))).toEqual(
        new Map([
          ['a', 'a'],
          ['b', 'b'],
        ]),
      );
      expect(await cache.getMany([])).toEqual(new Map());
    });

    it('deletes, saying whether a key was removed', async () => {
      await cache.setMany({ key1: 'spam', key2: 'eggs' });
      expect(await cache.delete('key1')).toBe(true);
      expect(await cache.get('key1')).toBeUndefined();
      expect(await cache.get('key2')).toBe('eggs');
      expect(await cache.delete('key1')).toBe(false);
    });

    it('answers false when it deletes a dead entry (stored with a timeout of 0, or expired)', async () => {
      await cache.set('never-kept', 'value', 0);
      expect(await cache.delete('never-kept')).toBe(false);
      await cache.set('replaced', 'value');
      await cache.set('replaced', 'value', 0);
      expect(await cache.delete('replaced')).toBe(false);
      await cache.set('touched-away', 'value');
      await cache.touch('touched-away', 0);
      expect(await cache.delete('touched-away')).toBe(false);
      await cache.set('expired', 'value', shortTimeout);
      await afterExpiry();
      expect(await cache.delete('expired')).toBe(false);
      expect(await cache.has('expired')).toBe(false);
    });

    it('answers has() for present and absent keys', async () => {
      await cache.set('hello1', 'goodbye1');
      expect(await cache.has('hello1')).toBe(true);
      expect(await cache.has('goodbye1')).toBe(false);
      await cache.set('no_expiry', 'here', null);
      expect(await cache.has('no_expiry')).toBe(true);
    });

    it('increments and decrements numbers', async () => {
      await cache.set('answer', 41);
      expect(await cache.incr('answer')).toBe(42);
      expect(await cache.get('answer')).toBe(42);
      expect(await cache.incr('answer', 10)).toBe(52);
      expect(await cache.incr('answer', -10)).toBe(42);
      expect(await cache.decr('answer')).toBe(41);
      expect(await cache.decr('answer', 10)).toBe(31);
      expect(await cache.decr('answer', -10)).toBe(41);
      await expect(cache.incr('does_not_exist')).rejects.toThrow(
        new CacheKeyError(`Key 'does_not_exist' not found in cache 'default'; set it before incrementing.`),
      );
      await expect(cache.decr('does_not_exist')).rejects.toBeInstanceOf(CacheKeyError);
      await cache.set('null', null);
      await expect(cache.incr('null')).rejects.toBeInstanceOf(CacheValueError);
      await cache.set('text', 'abc');
      await expect(cache.incr('text')).rejects.toBeInstanceOf(CacheValueError);
    });

    it('refuses a count past Number.MAX_SAFE_INTEGER with a CacheValueError naming the key', async () => {
      const max = Number.MAX_SAFE_INTEGER;
      await cache.set('big', max - 1);
      expect(await cache.incr('big')).toBe(max);
      const refused = await cache.incr('big').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CacheValueError);
      expect((refused as Error).message).toMatch(/Cannot increment key '(:1:)?big'.*MAX_SAFE_INTEGER/);
      if (target.unsignedServerCounters) {
        expect((refused as Error).message).toContain('memcached has already stored it');
        expect(await cache.get('big')).toBe(BigInt(max) + 1n);
      } else {
        expect((refused as Error).message).toContain('the stored value is unchanged');
        expect(await cache.get('big')).toBe(max);
        await cache.set('low', -max + 1);
        expect(await cache.decr('low')).toBe(-max);
        await expect(cache.decr('low')).rejects.toThrow(CacheValueError);
        expect(await cache.get('low')).toBe(-max);
        await cache.set('small', 1);
        await expect(cache.incr('small', max)).rejects.toThrow(CacheValueError);
        expect(await cache.get('small')).toBe(1);
      }
      await cache.set('small', 1);
      await expect(cache.incr('small', Number.NaN)).rejects.toThrow(/the delta must be a finite number/);
      await expect(cache.incr('small', '5' as unknown as number)).rejects.toThrow(CacheValueError);
      expect(await cache.get('small')).toBe(1);
    });

    it('keeps the expiry of a key it increments', async () => {
      await cache.set('counter', 1, shortTimeout);
      expect(await cache.incr('counter')).toBe(2);
      await afterExpiry();
      expect(await cache.get('counter')).toBeUndefined();
    });

    it('round-trips structured data', async () => {
      const stuff = {
        string: 'this is a string',
        int: 42,
        float: 1.5,
        bool: true,
        list: [1, 2, 3, 4],
        nested: { key: 'value', deeper: [{ a: null }] },
        date: new Date('2026-01-02T03:04:05.678Z'),
        map: new Map<unknown, unknown>([
          ['a', 1],
          [2, { b: [3] }],
        ]),
        set: new Set(['x', 'y']),
        buffer: Buffer.from([0, 1, 2, 255]),
        bytes: new Uint8Array([9, 8, 7]),
        floats: new Float64Array([1.25, -2.5]),
        big: 12345678901234567890n,
        missing: undefined,
        nothing: null,
      };
      await cache.set('stuff', stuff);
      const read = (await cache.get('stuff')) as typeof stuff;
      expect(read).toEqual(stuff);
      expect(Buffer.isBuffer(read.buffer)).toBe(true);
      // util.types, not instanceof: Jest runs tests in a separate realm from Node's deserializer.
      expect(types.isDate(read.date)).toBe(true);
      expect(types.isFloat64Array(read.floats)).toBe(true);
      expect('missing' in read).toBe(true);
    });

    it('isolates stored values from later mutation by the caller', async () => {
      const value = { list: [1, 2], map: new Map([['k', 'v']]) };
      await cache.set('isolated', value);
      value.list.push(3);
      value.map.set('k', 'changed');
      const read = (await cache.get('isolated')) as typeof value;
      expect(read).toEqual({ list: [1, 2], map: new Map([['k', 'v']]) });
      try {
        read.list.push(4);
        read.map.set('k', 'mutated-after-get');
      } catch {
        // frozen snapshots refuse mutation outright: equally safe
      }
      expect(await cache.get('isolated')).toEqual({ list: [1, 2], map: new Map([['k', 'v']]) });
    });

    it('expires keys after their timeout', async () => {
      await cache.set('expire1', 'very quickly', shortTimeout);
      await cache.set('expire2', 'very quickly', shortTimeout);
      expect(await cache.add('expire3', 'very quickly', shortTimeout)).toBe(true);
      expect(await cache.get('expire1')).toBe('very quickly');
      await afterExpiry();
      expect(await cache.get('expire1')).toBeUndefined();
      expect(await cache.add('expire2', 'newvalue')).toBe(true);
      expect(await cache.get('expire2')).toBe('newvalue');
      expect(await cache.has('expire3')).toBe(false);
    });

    it('touches keys to give them a new timeout', async () => {
      await cache.set('expire1', 'very quickly', shortTimeout);
      expect(await cache.touch('expire1', shortTimeout * 4)).toBe(true);
      await afterExpiry();
      expect(await cache.has('expire1')).toBe(true);
      await afterExpiry();
      await afterExpiry();
      expect(await cache.has('expire1')).toBe(false);
      expect(await cache.touch('expire1')).toBe(false);

      await cache.set('expire2', 'very quickly', shortTimeout);
      expect(await cache.touch('expire2', null)).toBe(true);
      await afterExpiry();
      expect(await cache.has('expire2')).toBe(true);

      expect(await cache.touch('nonexistent')).toBe(false);
    });

    it('touch with a timeout of 0 expires the key', async () => {
      await cache.set('soon', 'gone');
      expect(await cache.touch('soon', 0)).toBe(true);
      expect(await cache.has('soon')).toBe(false);
    });

    it('handles unicode keys and values', async () => {
      const stuff: Record<string, unknown> = {
        ascii: 'ascii_value',
        unicode_ascii: 'Iñtërnâtiônàlizætiøn1',
        Iñtërnâtiônàlizætiøn: 'Iñtërnâtiônàlizætiøn2',
        ascii2: { x: 1 },
        日本語のキー: '值 🎉',
      };
      for (const [key, value] of Object.entries(stuff)) {
        await cache.set(key, value);
        expect(await cache.get(key)).toEqual(value);
        expect(await cache.delete(key)).toBe(true);
        expect(await cache.add(key, value)).toBe(true);
        expect(await cache.get(key)).toEqual(value);
        await cache.delete(key);
      }
      await cache.setMany(stuff);
      for (const [key, value] of Object.entries(stuff)) expect(await cache.get(key)).toEqual(value);
    });

    it('stores binary values byte for byte', async () => {
      const bytes = Buffer.alloc(4096);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
      await cache.set('binary1', bytes);
      const read = (await cache.get('binary1')) as Buffer;
      expect(Buffer.isBuffer(read)).toBe(true);
      expect(read.equals(bytes)).toBe(true);
      expect(await cache.add('binary1-add', bytes)).toBe(true);
      expect(((await cache.get('binary1-add')) as Buffer).equals(bytes)).toBe(true);
      await cache.setMany({ 'binary1-set_many': bytes });
      expect(((await cache.get('binary1-set_many')) as Buffer).equals(bytes)).toBe(true);
    });

    it('sets many keys, from an object or a Map, returning no failures', async () => {
      expect(await cache.setMany({ key1: 'spam', key2: 'eggs' })).toEqual([]);
      expect(await cache.setMany(new Map<string, unknown>([['key3', 'ham']]))).toEqual([]);
      expect(await cache.get('key1')).toBe('spam');
      expect(await cache.get('key2')).toBe('eggs');
      expect(await cache.get('key3')).toBe('ham');
    });

    it('sets many keys with a timeout', async () => {
      await cache.setMany({ key1: 'spam', key2: 'eggs' }, shortTimeout);
      expect(await cache.get('key1')).toBe('spam');
      await afterExpiry();
      expect(await cache.get('key1')).toBeUndefined();
      expect(await cache.get('key2')).toBeUndefined();
    });

    it('deletes many keys', async () => {
      await cache.setMany({ key1: 'spam', key2: 'eggs', key3: 'ham' });
      await cache.deleteMany(['key1', 'key2']);
      expect(await cache.get('key1')).toBeUndefined();
      expect(await cache.get('key2')).toBeUndefined();
      expect(await cache.get('key3')).toBe('ham');
      await cache.deleteMany([]);
    });

    it('clears every key of the alias', async () => {
      await cache.setMany({ key1: 'spam', key2: 'eggs' });
      await cache.clear();
      expect(await cache.get('key1')).toBeUndefined();
      expect(await cache.get('key2')).toBeUndefined();
    });

    it('honours long, forever and fractional timeouts', async () => {
      await cache.set('long', 'ham', 60 * 60 * 24 * 365);
      expect(await cache.get('long')).toBe('ham');
      expect(await cache.add('long-add', 'ham', 60 * 60 * 24 * 40)).toBe(true);
      await cache.set('forever', 'ham', null);
      expect(await cache.get('forever')).toBe('ham');
      await cache.setMany({ forever2: 'eggs' }, null);
      expect(await cache.get('forever2')).toBe('eggs');
      await cache.set('fractional', 'spam', 100.2);
      expect(await cache.get('fractional')).toBe('spam');
    });

    it('keeps nothing readable with a timeout of 0 or less', async () => {
      await cache.set('key1', 'eggs', 0);
      expect(await cache.get('key1')).toBeUndefined();
      expect(await cache.add('key2', 'ham', 0)).toBe(true);
      expect(await cache.get('key2')).toBeUndefined();
      await cache.setMany({ key3: 'sausage', key4: 'lobster bisque' }, 0);
      expect(await cache.getMany(['key3', 'key4'])).toEqual(new Map());
      await cache.set('key5', 'belgian fries', -1);
      expect(await cache.get('key5')).toBeUndefined();
      await cache.set('key6', 'present');
      await cache.set('key6', 'replaced', 0);
      expect(await cache.has('key6')).toBe(false);
    });

    it('refuses timeouts that are not numbers of seconds', async () => {
      await expect(cache.set('k', 'v', Number.NaN)).rejects.toBeInstanceOf(CacheValueError);
      await expect(cache.set('k', 'v', '10' as unknown as number)).rejects.toThrow(
        /Timeout must be a number of seconds/,
      );
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
  });
}
