// memcached through the public API (a Cache injected from CacheModule.forRoot) against raw memjs
// sending the same commands: same servers, same keys, same V8-serialized value.
//
//   node --expose-gc bench/backends-memcached.mjs      (after `npm run build`)
//
// Uses MEMCACHED_SERVERS (`h:p,h:p`) when set, else starts two memcached of its own
// (MEMCACHED_BIN or `memcached` on the PATH) on free loopback ports and stops them at the end.
import 'reflect-metadata';
import { deserialize, serialize } from 'node:v8';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import memjs from 'memjs';
import { HashRing } from '../dist/backends/hash-ring.js';
import { Cache, CacheModule } from '../dist/index.js';
import {
  environmentHeader,
  formatNs,
  formatOps,
  formatRatio,
  formatSpread,
  isMain,
  requireEnv,
  measure,
  printTable,
} from './harness.mjs';

const KEY_COUNT = 1000;
/** Commands in flight per timed call: memjs pipelines them on one connection per server. */
const CONCURRENCY = 100;
const MANY = 10;
const TARGET_RATIO = 0.85;
const PREFIX = 'bench';
const VERSION = 1;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);
// What Cache stores under a key: Django's default key function, `prefix:version:key`.
const madeKeys = keys.map((key) => `${PREFIX}:${VERSION}:${key}`);
const value = { id: 7, name: 'Item 7', email: 'item7@example.com', active: true, score: 10.5 };

function benchModule(servers) {
  class MemcachedBenchModule {}
  const memcached = { backend: 'memcached', location: servers, keyPrefix: PREFIX, version: VERSION };
  Module({ imports: [CacheModule.forRoot({ default: memcached })] })(MemcachedBenchModule);
  return MemcachedBenchModule;
}

const miss = (store, key) => new Error(`${store} missed '${key}': a get-hit benchmark must only hit.`);

/**
 * Each timed call runs CONCURRENCY operations at once over a window of keys that moves on each
 * call. The loops are written out per store so that no call site is shared between them.
 */
function tasks(cache, raw) {
  let cacheAt = 0;
  let rawAt = 0;
  const window = (at) => Array.from({ length: CONCURRENCY }, (_, i) => (at + i) % KEY_COUNT);
  const manyWindow = (at) =>
    Array.from({ length: CONCURRENCY / MANY }, (_, b) =>
      Array.from({ length: MANY }, (_, i) => (at + b * MANY + i) % KEY_COUNT),
    );
  return {
    get: [
      {
        name: 'Cache.get',
        opsPerCall: CONCURRENCY,
        fn: async () => {
          const at = (cacheAt = (cacheAt + CONCURRENCY) % KEY_COUNT);
          await Promise.all(
            window(at).map(async (i) => {
              if ((await cache.get(keys[i])) === undefined) throw miss('Cache', keys[i]);
            }),
          );
        },
      },
      {
        name: 'memjs get',
        opsPerCall: CONCURRENCY,
        fn: async () => {
          const at = (rawAt = (rawAt + CONCURRENCY) % KEY_COUNT);
          await Promise.all(
            window(at).map(async (i) => {
              const { value: bytes } = await raw.get(madeKeys[i]);
              if (bytes === null) throw miss('memjs', madeKeys[i]);
              deserialize(bytes);
            }),
          );
        },
      },
    ],
    set: [
      {
        name: 'Cache.set',
        opsPerCall: CONCURRENCY,
        fn: async () => {
          const at = (cacheAt = (cacheAt + CONCURRENCY) % KEY_COUNT);
          await Promise.all(window(at).map((i) => cache.set(keys[i], value)));
        },
      },
      {
        name: 'memjs set',
        opsPerCall: CONCURRENCY,
        fn: async () => {
          const at = (rawAt = (rawAt + CONCURRENCY) % KEY_COUNT);
          // Cache's default timeout is 300 s; raw memjs sends the same expiration.
          await Promise.all(window(at).map((i) => raw.set(madeKeys[i], serialize(value), { expires: 300 })));
        },
      },
    ],
    getMany: [
      {
        name: `Cache.getMany(${MANY})`,
        opsPerCall: CONCURRENCY / MANY,
        fn: async () => {
          const at = (cacheAt = (cacheAt + CONCURRENCY) % KEY_COUNT);
          await Promise.all(
            manyWindow(at).map(async (batch) => {
              const found = await cache.getMany(batch.map((i) => keys[i]));
              if (found.size !== MANY) throw miss('Cache', batch.join(','));
            }),
          );
        },
      },
      {
        name: `memjs get x${MANY}`,
        opsPerCall: CONCURRENCY / MANY,
        fn: async () => {
          const at = (rawAt = (rawAt + CONCURRENCY) % KEY_COUNT);
          await Promise.all(
            manyWindow(at).map(async (batch) => {
              const found = new Map();
              const values = await Promise.all(batch.map((i) => raw.get(madeKeys[i])));
              values.forEach(({ value: bytes }, n) => bytes !== null && found.set(keys[batch[n]], deserialize(bytes)));
              if (found.size !== MANY) throw miss('memjs', batch.join(','));
            }),
          );
        },
      },
    ],
  };
}

export async function run(bars = []) {
  const servers = requireEnv('MEMCACHED_SERVERS').split(',');
  console.log(
    `\n== memcached: Cache (CacheModule.forRoot) against raw memjs, ${servers.length} servers, ${KEY_COUNT} keys ==`,
  );
  console.log(
    `Each timed call runs ${CONCURRENCY} commands at once (pipelined); values are a ~5-field object, V8-serialized by both. Ratios > 1x are faster.`,
  );
  const app = await NestFactory.createApplicationContext(benchModule(servers), { logger: false });
  const cache = app.get(Cache);
  const raw = memjs.Client.create(servers.join(','), { logger: { log: () => undefined } });
  // The same key placement as the backend's, so both read each key from the same server.
  const ring = new HashRing(servers);
  raw.getServer = (key) => ring.serverOf(key);
  const results = [];
  try {
    await cache.setMany(Object.fromEntries(keys.map((key) => [key, value])));
    for (const [operation, pair] of Object.entries(tasks(cache, raw))) {
      const [ours, theirs] = await measure(pair, { rounds: 25, sliceMs: 100, warmupMs: 300 });
      const ratio = ours.opsPerSec / theirs.opsPerSec;
      results.push({ operation, ratio });
      bars.push(
        { group: `memcached ${operation}`, label: theirs.name, value: theirs.opsPerSec, baseline: true },
        { group: `memcached ${operation}`, label: ours.name, value: ours.opsPerSec },
      );
      printTable(
        `memcached ${operation}`,
        ['client', 'ops/s', 'ns/op', 'spread', 'vs memjs'],
        [ours, theirs].map((result) => [
          result.name,
          formatOps(result.opsPerSec),
          formatNs(result.nsPerOp),
          formatSpread(result.spread),
          formatRatio(result.opsPerSec / theirs.opsPerSec),
        ]),
      );
    }
  } finally {
    raw.close();
    await app.close();
  }
  console.log(`\nTarget: Cache >= ${TARGET_RATIO}x raw memjs`);
  for (const { operation, ratio } of results) {
    console.log(
      `  ${operation.padEnd(10)} ${formatRatio(ratio).padStart(6)}  ${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}`,
    );
  }
  return results;
}

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
