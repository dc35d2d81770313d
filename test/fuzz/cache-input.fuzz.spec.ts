import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import fc from 'fast-check';
import {
  Cache,
  CacheKeyError,
  CacheModule,
  Caches,
  CacheValueError,
  MAX_KEY_LENGTH,
  type CacheEntryOptions,
} from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';

// Property-based bad input, on real stores: every input gets the documented result or a typed
// error that says what to do, and a refused write never leaves the store changed.
const RUNS = 60;
const directory = mkdtempSync(join(tmpdir(), 'nestjs-caches-fuzz-'));

const backends: Array<[string, CacheEntryOptions, { rejectsUnsafeKeys: boolean }]> = [
  ['locmem', { backend: 'locmem', location: 'fuzz', options: { maxEntries: 10_000 } }, { rejectsUnsafeKeys: false }],
  [
    'filesystem',
    { backend: 'filesystem', location: directory, options: { maxEntries: 10_000 } },
    { rejectsUnsafeKeys: false },
  ],
  ['redis', { backend: 'redis', location: redisDb(8) }, { rejectsUnsafeKeys: false }],
  [
    'memcached',
    { backend: 'memcached', location: (process.env.MEMCACHED_SERVERS ?? '127.0.0.1:11211').split(',') },
    { rejectsUnsafeKeys: true },
  ],
];

/** Values the structured clone algorithm (and so the V8 serializer) keeps. */
const storable = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue(),
    fc.date({ noInvalidDate: true }),
    fc.bigInt(),
    fc.uint8Array({ maxLength: 64 }),
    fc.float64Array({ maxLength: 16 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
    fc.array(fc.tuple(fc.string(), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.array(fc.integer(), { maxLength: 6 }).map((items) => new Set(items)),
  ),
})).value;

/** A storable value with something no store can keep (a function or a symbol) somewhere inside. */
const unstorable = fc
  .tuple(
    fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
    fc.constantFrom(() => 1, Symbol('s')),
  )
  .map(([object, bad]) => ({ ...object, nested: [{ bad }] }));

const anyTimeout = fc.oneof(
  fc.constantFrom(Number.NaN, Infinity, -Infinity, null, '60', {}, [], true),
  fc.double({ min: -1e6, max: 1e6 }),
);

describe.each(backends)('bad input on %s', (name, entry, { rejectsUnsafeKeys }) => {
  let moduleRef: TestingModule;
  let cache: Cache;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'locmem' }, fuzz: entry })],
    }).compile();
    await moduleRef.init();
    cache = moduleRef.get(Caches).get('fuzz');
    await cache.clear();
  });

  afterAll(async () => {
    await cache.clear();
    await moduleRef.close();
    if (name === 'filesystem') rmSync(directory, { recursive: true, force: true });
  });

  it('keeps any storable value and gives back an equal copy', async () => {
    await fc.assert(
      fc.asyncProperty(storable, async (value) => {
        await cache.set('value', value);
        expect(await cache.get('value')).toEqual(structuredClone(value));
      }),
      { numRuns: RUNS, examples: [[JSON.parse('{"__proto__":{"__proto__":[1]}}')]] },
    );
  });

  it('refuses a value it cannot keep with CacheValueError, and keeps the previous one', async () => {
    await fc.assert(
      fc.asyncProperty(unstorable, fc.jsonValue(), async (bad, previous) => {
        await cache.set('kept', previous);
        await expect(cache.set('kept', bad)).rejects.toThrow(CacheValueError);
        expect(await cache.get('kept')).toEqual(structuredClone(previous));
      }),
      // Found by this property: locmem's frozen copy lost an own `__proto__` key (JSON.parse makes them).
      { numRuns: RUNS, examples: [[{ bad: () => 1 }, JSON.parse('{"":{"__proto__":false}}')]] },
    );
  });

  it('round-trips cyclic values', async () => {
    const cyclic: { name: string; self?: unknown; list: unknown[] } = { name: 'loop', list: [] };
    cyclic.self = cyclic;
    cyclic.list.push(cyclic);
    await cache.set('cyclic', cyclic);
    const copy = (await cache.get('cyclic')) as typeof cyclic;
    expect(copy.self).toBe(copy);
    expect(copy.list[0]).toBe(copy);
  });

  it('stores under any key, or refuses an unsafe one with CacheKeyError (memcached) and stores nothing', async () => {
    const warn = process.emitWarning;
    process.emitWarning = () => {}; // the other stores warn (CacheKeyWarning) once per key
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 40 }),
            fc.string({ minLength: 240, maxLength: 10_000 }),
            // Under 250 characters, over 250 bytes of UTF-8 or close to it: memcached counts bytes.
            fc
              .array(fc.constantFrom('a', 'é', '鍵', '🎉'), { minLength: 60, maxLength: 120 })
              .map((units) => units.join('')),
          ),
          fc.integer(),
          async (key, value) => {
            const made = cache.makeKey(key);
            const unsafe =
              Buffer.byteLength(made, 'utf8') > MAX_KEY_LENGTH ||
              [...made].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f);
            if (rejectsUnsafeKeys && unsafe) {
              await expect(cache.set(key, value)).rejects.toThrow(CacheKeyError);
              await expect(cache.get(key)).rejects.toThrow(/memcached refuses it\. (Hash|Encode)/);
            } else {
              await cache.set(key, value);
              expect(await cache.get(key)).toBe(value);
              expect(await cache.delete(key)).toBe(true);
            }
          },
        ),
        { numRuns: RUNS },
      );
    } finally {
      process.emitWarning = warn;
    }
  });

  it('takes any timeout: numbers keep (or expire at once), null and Infinity keep forever, the rest is a CacheValueError', async () => {
    await fc.assert(
      fc.asyncProperty(anyTimeout, async (timeout) => {
        await cache.set('timed', 'before');
        const valid = timeout === null || (typeof timeout === 'number' && !Number.isNaN(timeout));
        if (!valid) {
          await expect(cache.set('timed', 'after', timeout as number)).rejects.toThrow(
            /Timeout must be a number of seconds, null \(never expire\) or undefined/,
          );
          expect(await cache.get('timed')).toBe('before');
          return;
        }
        await cache.set('timed', 'after', timeout as number | null);
        const expected = timeout === null || (timeout as number) >= 1 ? 'after' : undefined;
        if (expected !== undefined || (timeout as number) <= 0) expect(await cache.get('timed')).toBe(expected);
      }),
      { numRuns: RUNS },
    );
  });
});
