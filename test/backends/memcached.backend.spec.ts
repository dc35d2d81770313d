import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import memjs from 'memjs';
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { createBackend } from '../../lib/backends/create-backend.js';
import { expirationOf } from '../../lib/backends/memcached.backend.js';
import { Cache } from '../../lib/core/cache.js';
import { resolveCaches } from '../../lib/core/resolve-config.js';
import { CacheBackendError, CacheConfigError, CacheValueError } from '../../lib/index.js';
import type { MemcachedEntryOptions } from '../../lib/interfaces/cache-options.interface.js';
import type { BackendContext } from '../../lib/interfaces/cache-options.interface.js';
import { freePort } from '../support/addresses.js';
import { startMemcached } from '../support/memcached-server.js';
import { HashRing } from '../../lib/backends/hash-ring.js';

// Two memcached servers of this file's own: the contract suite's clear() is flush_all on the
// servers of MEMCACHED_SERVERS, and Jest runs the two files at the same time.
const DAY = 24 * 60 * 60;
const quiet = { log: () => undefined };
const children: ChildProcess[] = [];
const caches: Cache[] = [];
const rawClients: Array<memjs.Client> = [];
let servers: string[] = [];

async function makeCache(overrides: Partial<MemcachedEntryOptions> = {}): Promise<Cache> {
  const [entry] = resolveCaches({ default: { backend: 'memcached', location: servers, ...overrides } });
  const cache = new Cache(entry!, await createBackend(entry!, {} as BackendContext));
  caches.push(cache);
  return cache;
}

/** A plain memjs client that places keys on the same servers as the backend's ring. */
function rawClient(location: string): memjs.Client {
  const client = memjs.Client.create(location, { logger: quiet });
  const ring = new HashRing(location.split(','));
  (client as unknown as { getServer(key: string): number }).getServer = (key) => ring.serverOf(key);
  rawClients.push(client);
  return client;
}

beforeAll(async () => {
  servers = await Promise.all([startMemcached(children), startMemcached(children)]);
});

afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()));
  for (const client of rawClients) client.close();
  for (const child of children) child.kill();
});

describe('memcached backend', () => {
  it('stores non-negative integers as decimal text, everything else V8-serialized', async () => {
    const cache = await makeCache({ keyPrefix: 'raw' });
    const raw = rawClient(servers.join(','));
    await cache.set('answer', 42);
    await cache.set('negative', -5);
    await cache.set('text', '42');
    expect((await raw.get('raw:1:answer')).value?.toString()).toBe('42');
    expect((await raw.get('raw:1:negative')).value?.[0]).toBe(0xff);
    expect((await raw.get('raw:1:text')).value?.[0]).toBe(0xff);
    expect(await cache.get('answer')).toBe(42);
    expect(await cache.get('negative')).toBe(-5);
    expect(await cache.get('text')).toBe('42');
  });

  it('increments atomically on the server, from 50 concurrent callers', async () => {
    const cache = await makeCache({ keyPrefix: 'atomic' });
    const other = await makeCache({ keyPrefix: 'atomic' }); // a second client, as another process
    await cache.set('hits', 0);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ((i % 2 ? cache : other) as Cache).incr('hits')),
    );
    expect(new Set(results).size).toBe(50);
    expect(Math.max(...results)).toBe(50);
    expect(await cache.get('hits')).toBe(50);
  });

  it("decrements below zero to zero, as memcached (and Django's memcached backend) do", async () => {
    const cache = await makeCache({ keyPrefix: 'clamp' });
    await cache.set('n', 100);
    expect(await cache.decr('n', 1)).toBe(99); // memcached pads the shortened text with a space
    expect(await cache.get('n')).toBe(99);
    expect(await cache.decr('n', 150)).toBe(0);
    expect(await cache.incr('n', -1)).toBe(0);
  });

  it('refuses to increment numbers memcached cannot count, and by fractions', async () => {
    const cache = await makeCache({ keyPrefix: 'nocount' });
    await cache.set('negative', -5);
    await expect(cache.incr('negative')).rejects.toThrow(/not a non-negative integer/);
    await cache.set('float', 1.5);
    await expect(cache.incr('float')).rejects.toBeInstanceOf(CacheValueError);
    await cache.set('whole', 1);
    await expect(cache.incr('whole', 0.5)).rejects.toBeInstanceOf(CacheValueError);
    await cache.set('list', [1]);
    await expect(cache.incr('list')).rejects.toThrow(/its value is a object, not a number/);
    expect(await cache.get('negative')).toBe(-5);
  });

  it('counts past 2^32; past Number.MAX_SAFE_INTEGER it refuses the count the server has kept', async () => {
    const cache = await makeCache({ keyPrefix: 'big' });
    await cache.set('n', 2 ** 32 - 1);
    expect(await cache.incr('n')).toBe(2 ** 32);
    await cache.set('m', Number.MAX_SAFE_INTEGER);
    await expect(cache.incr('m')).rejects.toThrow(
      new CacheValueError(
        "Cannot increment key 'big:1:m': the result 9007199254740992n is outside ±Number.MAX_SAFE_INTEGER (2^53 - 1), where counts are rounded; memcached has already stored it (get returns it as a BigInt). Set the key to a smaller number, or keep larger counts as BigInt with get and set.",
      ),
    );
    expect(await cache.get('m')).toBe(BigInt(Number.MAX_SAFE_INTEGER) + 1n);
    expect(await cache.decr('m', 2)).toBe(Number.MAX_SAFE_INTEGER - 1); // back in range
  });

  it('sends timeouts over 30 days as absolute Unix times (Django: memcached reads them so)', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(expirationOf(null, now)).toBe(0);
    expect(expirationOf(100, now)).toBe(1);
    expect(expirationOf(100_200, now)).toBe(101);
    expect(expirationOf(30 * DAY * 1000, now)).toBe(30 * DAY);
    expect(expirationOf(31 * DAY * 1000, now)).toBe(now / 1000 + 31 * DAY);

    // Sent as relative seconds, memcached would read 31 or 40 days as a date in 1970: expired.
    const cache = await makeCache({ keyPrefix: 'thirty' });
    await cache.set('forty', 'days', 40 * DAY);
    await cache.set('thirty-one', 'days', 31 * DAY);
    expect(await cache.add('added', 'days', 40 * DAY)).toBe(true);
    await cache.set('touched', 'days');
    expect(await cache.touch('touched', 365 * DAY)).toBe(true);
    expect(await cache.get('forty')).toBe('days');
    expect(await cache.get('thirty-one')).toBe('days');
    expect(await cache.get('added')).toBe('days');
    expect(await cache.get('touched')).toBe('days');
  });

  it('refuses a value over the item size limit and deletes the old one', async () => {
    const cache = await makeCache({ keyPrefix: 'huge' });
    const twoMegabytes = Buffer.alloc(2 * 1024 * 1024, 7);
    await cache.set('big', 'small old value');
    await expect(cache.set('big', twoMegabytes)).rejects.toThrow(CacheValueError);
    await expect(cache.set('big', twoMegabytes)).rejects.toThrow(/larger than the memcached server accepts/);
    expect(await cache.has('big')).toBe(false);

    await cache.setMany({ ok: 1, big2: 'old' });
    expect(await cache.setMany({ ok: 2, big2: twoMegabytes })).toEqual(['big2']);
    expect(await cache.get('ok')).toBe(2);
    expect(await cache.has('big2')).toBe(false);
    await expect(cache.add('big3', twoMegabytes)).rejects.toBeInstanceOf(CacheValueError);
  });

  it('spreads keys over both servers', async () => {
    const cache = await makeCache({ keyPrefix: 'spread' });
    const keys = Array.from({ length: 40 }, (_, i) => `key${i}`);
    await cache.setMany(Object.fromEntries(keys.map((key) => [key, key])));
    const perServer = await Promise.all(
      servers.map(async (server) => {
        const direct = rawClient(server);
        const found = await Promise.all(keys.map(async (key) => (await direct.get(`spread:1:${key}`)).value !== null));
        return found.filter(Boolean).length;
      }),
    );
    expect(perServer[0]).toBeGreaterThan(0);
    expect(perServer[1]).toBeGreaterThan(0);
    expect(perServer[0]! + perServer[1]!).toBe(keys.length); // each key on exactly one server
    expect(await cache.getMany(keys)).toEqual(new Map(keys.map((key) => [key, key])));
  });

  describe('a server that is down', () => {
    let deadPort: number;
    let silent: Server;
    let silentPort: number;
    const accepted: Socket[] = [];

    beforeAll(async () => {
      deadPort = await freePort();
      silent = createServer((socket) => {
        accepted.push(socket);
        socket.on('data', () => undefined); // accepts, never answers
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      silentPort = (silent.address() as { port: number }).port;
    });

    afterAll(async () => {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it.each([
      ['refuses connections', () => `127.0.0.1:${deadPort}`],
      ['never answers', () => `127.0.0.1:${silentPort}`],
    ])('fails commands with CacheBackendError in bounded time when it %s', async (_what, location) => {
      const cache = await makeCache({ location: location(), commandTimeoutMs: 200 });
      const started = Date.now();
      await expect(cache.get('key')).rejects.toBeInstanceOf(CacheBackendError);
      await expect(cache.set('key', 'value')).rejects.toBeInstanceOf(CacheBackendError);
      await expect(cache.incr('key')).rejects.toBeInstanceOf(CacheBackendError);
      await expect(cache.setMany({ a: 1, b: 2 })).rejects.toBeInstanceOf(CacheBackendError);
      // 4 commands, each at most 2 attempts of 200 ms plus a 50 ms pause.
      expect(Date.now() - started).toBeLessThan(4 * 600);
    });

    it('counts as a miss with ignoreErrors', async () => {
      const cache = await makeCache({ location: `127.0.0.1:${deadPort}`, ignoreErrors: true, commandTimeoutMs: 200 });
      expect(await cache.get('key', 'default')).toBe('default');
      await cache.set('key', 'value');
      expect(await cache.has('key')).toBe(false);
      expect(await cache.setMany({ a: 1 })).toEqual(['a']);
    });
  });

  it('names the alias and field of a wrong configuration', async () => {
    await expect(makeCache({ location: undefined })).rejects.toThrow(/caches\.default\.location/);
    await expect(makeCache({ location: ['127.0.0.1:11211', 'bad host'] })).rejects.toThrow(CacheConfigError);
    await expect(makeCache({ location: '127.0.0.1:99999' })).rejects.toThrow(
      /'127.0.0.1:99999' is not a memcached server/,
    );
    // JavaScript apps and untyped factories get past the types (which refuse these); boot refuses them too.
    // @ts-expect-error a misspelt option
    await expect(makeCache({ options: { retires: 2 } })).rejects.toThrow(/caches\.default\.options\.retires/);
    await expect(makeCache({ options: { retries: -1 } })).rejects.toThrow(CacheConfigError);
    // @ts-expect-error an option of the wrong type
    await expect(makeCache({ options: { failover: 'yes' } })).rejects.toThrow(
      /options\.failover must be true or false/,
    );
    const fromString = await makeCache({ location: servers.join(','), keyPrefix: 'str' });
    await fromString.set('k', 'v');
    expect(await fromString.get('k')).toBe('v');
  });
});
