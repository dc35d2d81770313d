import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { CacheBackendError, CacheModule, Caches, type Cache, type CachesOptions } from '../../lib/index.js';
import { TestServers, type RedisSentinelGroup } from '../setup/servers.mjs';
import { redisSentinels } from '../support/addresses.js';

async function boot(caches: CachesOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();
  await moduleRef.init();
  return moduleRef;
}

/** The first element of ROLE's answer: 'master', 'slave' or 'sentinel'. */
async function role(client: Redis): Promise<string> {
  return ((await client.call('ROLE')) as [string])[0];
}

describe('redis backend (sentinels)', () => {
  let moduleRef: TestingModule | undefined;
  const raw: Redis[] = [];
  afterEach(async () => {
    await moduleRef?.close();
    // A sentinel knows no QUIT (redis 7.0): just close.
    for (const client of raw.splice(0)) client.disconnect();
  });

  // REDIS_SENTINELS (started by `npm test`), database 6: no other file uses it.
  it('finds the master through the sentinel', async () => {
    const { sentinels, name } = redisSentinels();
    const sentinel = new Redis(sentinels[0]!);
    raw.push(sentinel);
    const [host, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
    const master = new Redis({ host, port: Number(port), db: 6 });
    raw.push(master);
    expect(await role(master)).toBe('master');

    moduleRef = await boot({
      default: { backend: 'redis', location: { sentinels, name }, options: { redisOptions: { db: 6 } } },
    });
    const cache = moduleRef.get(Caches).default;
    await cache.set('where', 42);
    expect(await master.get(cache.makeKey('where'))).toBe('42');
    expect(await cache.get('where')).toBe(42);
    await cache.delete('where');
  });
});

describe('redis backend (sentinels) when the master dies', () => {
  // A master, replica and sentinel of this test's own: killing the shared master would break the
  // other sentinel tests running meanwhile.
  let dir: string;
  let servers: TestServers;
  let group: RedisSentinelGroup;
  let moduleRef: TestingModule | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-sentinel-'));
    servers = new TestServers(dir, { 'redis-server': process.env.REDIS_SERVER_BIN ?? 'redis-server' });
    group = await servers.startRedisSentinel('failover');
  });
  afterAll(async () => {
    await moduleRef?.close();
    await servers?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails fast while the master is gone, then keeps working on the promoted replica', async () => {
    moduleRef = await boot({
      default: {
        backend: 'redis',
        location: { sentinels: [{ host: '127.0.0.1', port: group.sentinelPort }], name: group.name },
        commandTimeoutMs: 200,
      },
    });
    const cache = moduleRef.get(Caches).default;
    await cache.set('before', 'written to the first master');
    const master = new Redis({ port: group.masterPort });
    // Replication is asynchronous: wait until the replica has the value, so it survives the failover.
    expect(await master.call('WAIT', 1, 2000)).toBe(1);
    master.disconnect();

    await group.stopMaster();
    const killedAt = Date.now();
    await expect(cache.get('before')).rejects.toBeInstanceOf(CacheBackendError);
    expect(Date.now() - killedAt).toBeLessThan(1000);

    await eventually(() => works(cache), 15_000);
    expect(await cache.get('before')).toBe('written to the first master');
    await cache.set('after', 7);
    const promoted = new Redis({ port: group.replicaPort });
    try {
      expect(await role(promoted)).toBe('master');
      expect(await promoted.get(cache.makeKey('after'))).toBe('7');
    } finally {
      promoted.disconnect();
    }
  });
});

async function works(cache: Cache): Promise<boolean> {
  try {
    await cache.set('probe', 1);
    return (await cache.get('probe')) === 1;
  } catch {
    return false;
  }
}

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${withinMs} ms`);
    await sleep(50);
  }
}
