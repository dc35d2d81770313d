// memcached through the public API (a Cache injected from CacheModule.forRoot) against raw memjs
// sending the same commands: same servers, same keys, same V8-serialized value.
//
//   node --expose-gc bench/backends-memcached.mjs      (after `npm run build`)
//
// Uses MEMCACHED_SERVERS (`h:p,h:p`) when set, else starts two memcached of its own
// (MEMCACHED_BIN or `memcached` on the PATH) on free loopback ports and stops them at the end.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { deserialize, serialize } from 'node:v8';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import memjs from 'memjs';
import { Cache, CacheModule } from '../dist/index.js';
import {
  environmentHeader,
  formatNs,
  formatOps,
  formatRatio,
  formatSpread,
  isMain,
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

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function answersVersion(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('VERSION'))));
    socket.write('version\r\n');
  });
}

/** Two memcached of our own; returns their addresses and a function that stops them. */
async function startServers() {
  const children = [];
  const addresses = [];
  for (let n = 0; n < 2; n++) {
    const port = await freePort();
    const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64'];
    if (process.getuid?.() === 0) args.push('-u', 'nobody');
    children.push(spawn(process.env.MEMCACHED_BIN ?? 'memcached', args, { stdio: 'ignore' }));
    let ready = false;
    for (let attempt = 0; attempt < 100 && !ready; attempt++) {
      ready = await answersVersion(port);
      if (!ready) await sleep(50);
    }
    if (!ready) throw new Error(`memcached on port ${port} did not start`);
    addresses.push(`127.0.0.1:${port}`);
  }
  return { addresses, stop: () => children.forEach((child) => child.kill()) };
}

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

export async function run() {
  const given = process.env.MEMCACHED_SERVERS;
  const own = given ? null : await startServers();
  const servers = given ? given.split(',') : own.addresses;
  console.log(
    `\n== memcached: Cache (CacheModule.forRoot) against raw memjs, ${servers.length} servers, ${KEY_COUNT} keys ==`,
  );
  console.log(
    `Each timed call runs ${CONCURRENCY} commands at once (pipelined); values are a ~5-field object, V8-serialized by both. Ratios > 1x are faster.`,
  );
  const app = await NestFactory.createApplicationContext(benchModule(servers), { logger: false });
  const cache = app.get(Cache);
  const raw = memjs.Client.create(servers.join(','), { logger: { log: () => undefined } });
  const results = [];
  try {
    await cache.setMany(Object.fromEntries(keys.map((key) => [key, value])));
    for (const [operation, pair] of Object.entries(tasks(cache, raw))) {
      const [ours, theirs] = await measure(pair);
      const ratio = ours.opsPerSec / theirs.opsPerSec;
      results.push({ operation, ratio });
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
    own?.stop();
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
