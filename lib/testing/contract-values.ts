import { beforeAll, expect, it } from '@jest/globals';
import { types } from 'node:util';
import { CacheKeyError, CacheValueError } from '../core/errors.js';
import type { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import type { ContractContext } from './contract-context.js';

/** Django's BaseCacheTests, first half: values, counters, expiry, many keys, timeouts. */
export function describeValueContract(context: ContractContext): void {
  const { target, shortTimeout, afterExpiry } = context;
  let caches: Caches;
  let cache: Cache;
  beforeAll(() => {
    caches = context.caches;
    cache = caches.default;
  });
  it('counts what it holds, if it has count() (nestjs-caches stats)', async () => {
    const backend = caches.backendOf('default');
    if (backend.count === undefined) return; // optional: the CLI then says n/a
    await cache.setMany({ a: 1, b: 2, c: 3 });
    const { entries, description } = await backend.count();
    expect(description).toMatch(/\S/); // and stores shared with others may count more than 3:
    if (entries !== undefined) expect(entries).toBeGreaterThanOrEqual(3);
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
    await expect(cache.set('k', 'v', '10' as unknown as number)).rejects.toThrow(/Timeout must be a number of seconds/);
  });
}
