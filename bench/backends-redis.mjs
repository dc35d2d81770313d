// The redis backend through the public API (a Cache from CacheModule.forRoot) against raw ioredis
// running the same commands, and a tiered (locmem + redis) L1 hit against a plain locmem alias.
// Both redis sides encode and decode the value the same way (V8 serialization), so the ratio is
// what the library adds: key making, validation, stats. Uses REDIS_URL, or starts a redis-server
// of its own (REDIS_SERVER_BIN, default redis-server on PATH) on a free loopback port.
import 'reflect-metadata';
import { deserialize, serialize } from 'node:v8';
import { Redis } from 'ioredis';
import { createCacheApp, onDatabase } from './cache-app.mjs';
import { Caches } from '../dist/index.js';
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

// Commands in flight at once per timed call: a server round trip per operation would measure
// the loopback, not the client.
const KEY_COUNT = 100;
const REDIS_TARGET = 0.85;
const TIERED_TARGET_COST = 1.3;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);
const values = keys.map((_, i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 }));
// The backend stores made keys (`${prefix}:${version}:${key}`); the raw side uses the same keys.
const made = (key) => `:1:${key}`;

function rowsAgainst(baselineName, results, pairs) {
  return pairs.flatMap(([op, baseline, api]) => {
    const base = results.get(baseline);
    return [base, results.get(api)].map((result) => [
      op,
      result.name,
      formatOps(result.opsPerSec),
      formatNs(result.nsPerOp),
      formatSpread(result.spread),
      formatRatio(result.opsPerSec / base.opsPerSec),
    ]);
  });
}

/** get, set and getMany through Cache against raw ioredis doing the same commands. */
export async function runRedisBench(url, bars = []) {
  console.log(`\n== redis: get/set/getMany through Cache against raw ioredis (target >= ${REDIS_TARGET}x) ==`);
  const location = onDatabase(url, 9);
  const app = await createCacheApp({ default: { backend: 'redis', location, timeout: null, commandTimeoutMs: 500 } });
  // The raw client gets the backend's connection settings: its commandTimeout costs a timer per
  // command, which is the price of failing fast, not of the library.
  const raw = new Redis(location, { commandTimeout: 500, maxRetriesPerRequest: 1 });
  try {
    const cache = app.get(Caches).default;
    await cache.clear();
    for (let i = 0; i < KEY_COUNT; i++) await cache.set(keys[i], values[i]);
    const madeKeys = keys.map(made);
    const tasks = [
      {
        name: 'ioredis get',
        fn: async () => {
          const found = await Promise.all(madeKeys.map((key) => raw.getBuffer(key)));
          for (const bytes of found) if (deserialize(bytes).id === undefined) throw new Error('raw get missed');
        },
      },
      {
        name: 'Cache get',
        fn: async () => {
          const found = await Promise.all(keys.map((key) => cache.get(key)));
          if (found.includes(undefined)) throw new Error('Cache get missed');
        },
      },
      {
        name: 'ioredis set',
        fn: () => Promise.all(madeKeys.map((key, i) => raw.set(key, serialize(values[i])))),
      },
      {
        name: 'Cache set',
        fn: () => Promise.all(keys.map((key, i) => cache.set(key, values[i]))),
      },
      {
        name: 'ioredis mget',
        fn: async () => {
          const found = await raw.mgetBuffer(...madeKeys);
          if (found.map((bytes) => deserialize(bytes)).length !== KEY_COUNT) throw new Error('raw mget missed');
        },
      },
      {
        name: 'Cache getMany',
        fn: async () => {
          if ((await cache.getMany(keys)).size !== KEY_COUNT) throw new Error('Cache getMany missed');
        },
      },
    ].map((task) => ({ ...task, opsPerCall: KEY_COUNT }));
    const results = new Map(
      (await measure(tasks, { rounds: 21, sliceMs: 100, warmupMs: 300 })).map((r) => [r.name, r]),
    );
    printTable(
      `redis (one server): ${KEY_COUNT} small objects, ${KEY_COUNT} commands in flight (getMany: one MGET of ${KEY_COUNT} keys)`,
      ['op', 'way', 'ops/s', 'ns/op', 'spread', 'vs ioredis'],
      rowsAgainst('ioredis', results, [
        ['get', 'ioredis get', 'Cache get'],
        ['set', 'ioredis set', 'Cache set'],
        ['getMany', 'ioredis mget', 'Cache getMany'],
      ]),
    );
    for (const [op, baseline, api] of [
      ['get', 'ioredis get', 'Cache get'],
      ['set', 'ioredis set', 'Cache set'],
      ['getMany', 'ioredis mget', 'Cache getMany'],
    ]) {
      for (const name of [baseline, api]) {
        bars.push({
          group: `redis ${op}`,
          label: name,
          value: results.get(name).opsPerSec,
          baseline: name === baseline,
        });
      }
    }
    await cache.clear();
  } finally {
    await raw.quit();
    await app.close();
  }
}

/** A tiered (locmem + redis) L1 hit against a plain locmem get, both through Cache. */
export async function runTieredBench(url, bars = []) {
  console.log(
    `\n== tiered: L1 hit of locmem + redis against plain locmem (target <= ${TIERED_TARGET_COST}x its cost) ==`,
  );
  const app = await createCacheApp({
    default: { backend: 'locmem', location: 'bench-plain', timeout: null, options: { maxEntries: 10_000 } },
    l1: { backend: 'locmem', location: 'bench-l1', timeout: null, options: { maxEntries: 10_000 } },
    l2: { backend: 'redis', location: onDatabase(url, 9), timeout: null },
    tiered: { backend: 'tiered', tiers: ['l1', 'l2'], timeout: null },
  });
  try {
    const caches = app.get(Caches);
    const plain = caches.default;
    const tiered = caches.get('tiered');
    for (let i = 0; i < KEY_COUNT; i++) {
      await plain.set(keys[i], values[i]);
      await tiered.set(keys[i], values[i]);
    }
    const getAll = (cache) => async () => {
      for (let i = 0; i < KEY_COUNT; i++) if ((await cache.get(keys[i])) === undefined) throw new Error('missed');
    };
    const tasks = [
      { name: 'locmem get', fn: getAll(plain) },
      { name: 'tiered L1 hit', fn: getAll(tiered) },
    ].map((task) => ({ ...task, opsPerCall: KEY_COUNT }));
    const results = new Map((await measure(tasks)).map((r) => [r.name, r]));
    const base = results.get('locmem get');
    printTable(
      `tiered (locmem + redis): ${KEY_COUNT} small objects, every read an L1 hit`,
      ['way', 'ops/s', 'ns/op', 'spread', 'cost vs locmem'],
      ['locmem get', 'tiered L1 hit'].map((name) => {
        const result = results.get(name);
        return [
          result.name,
          formatOps(result.opsPerSec),
          formatNs(result.nsPerOp),
          formatSpread(result.spread),
          formatRatio(result.nsPerOp / base.nsPerOp),
        ];
      }),
    );
    for (const name of ['locmem get', 'tiered L1 hit']) {
      bars.push({
        group: 'tiered L1 hit',
        label: name,
        value: results.get(name).opsPerSec,
        baseline: name === 'locmem get',
      });
    }
    await tiered.clear();
  } finally {
    await app.close();
  }
}

/** Both, on REDIS_URL. */
export async function run(bars = []) {
  const url = requireEnv('REDIS_URL');
  await runRedisBench(url, bars);
  await runTieredBench(url, bars);
}

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
