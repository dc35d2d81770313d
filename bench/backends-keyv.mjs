// The Keyv interop both ways, each against Keyv on its own in the same run:
// - the keyv backend over @keyv/redis (a Cache from CacheModule.forRoot) against a raw Keyv over
//   @keyv/redis doing the same gets and sets. The raw side keeps Keyv's JSON; the backend
//   V8-serializes (structured clone, as every backend) and base64s the bytes into Keyv's envelope:
//   the ratio is what the library adds, encoding included.
// - toKeyvStore over a locmem alias, inside a Keyv, against Keyv's own in-memory store (a Map).
// Uses REDIS_URL (bench/backends.bench.mjs starts a server).
import 'reflect-metadata';
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { createCacheApp, onDatabase } from './cache-app.mjs';
import { Caches, toKeyvStore } from '../dist/index.js';
import {
  environmentHeader,
  formatNs,
  formatOps,
  formatRatio,
  formatSpread,
  isMain,
  measure,
  printTable,
  requireEnv,
} from './harness.mjs';

const KEY_COUNT = 100;
const KEYV_REDIS_TARGET = 0.85;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);
const values = keys.map((_, i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 }));

/** Gets and sets of KEY_COUNT keys, all in flight at once, for a baseline and a contender of each. */
function getSetTasks(sides) {
  return sides
    .flatMap(({ name, get, set }) => [
      {
        name: `${name} get`,
        fn: async () => {
          const found = await Promise.all(keys.map((key) => get(key)));
          if (found.includes(undefined)) throw new Error(`${name} get missed`);
        },
      },
      { name: `${name} set`, fn: () => Promise.all(keys.map((key, i) => set(key, values[i]))) },
    ])
    .map((task) => ({ ...task, opsPerCall: KEY_COUNT }));
}

function report(title, baseline, contender, results, bars, groupPrefix) {
  const rows = ['get', 'set'].flatMap((op) => {
    const base = results.get(`${baseline} ${op}`);
    return [base, results.get(`${contender} ${op}`)].map((result) => [
      op,
      result.name,
      formatOps(result.opsPerSec),
      formatNs(result.nsPerOp),
      formatSpread(result.spread),
      formatRatio(result.opsPerSec / base.opsPerSec),
    ]);
  });
  printTable(title, ['op', 'way', 'ops/s', 'ns/op', 'spread', `vs ${baseline}`], rows);
  for (const op of ['get', 'set']) {
    for (const name of [baseline, contender]) {
      bars.push({
        group: `${groupPrefix} ${op}`,
        label: `${name} ${op}`,
        value: results.get(`${name} ${op}`).opsPerSec,
        baseline: name === baseline,
      });
    }
  }
}

/** The keyv backend over @keyv/redis against Keyv over @keyv/redis. */
export async function runKeyvBackendBench(url, bars = []) {
  console.log(`\n== keyv backend over @keyv/redis against raw Keyv + @keyv/redis (target >= ${KEYV_REDIS_TARGET}x) ==`);
  const location = onDatabase(url, 10);
  const app = await createCacheApp({
    default: {
      backend: 'keyv',
      timeout: null,
      options: { store: new KeyvRedis(location, { namespace: 'bench-backend', throwOnErrors: true }) },
    },
  });
  const raw = new Keyv({ store: new KeyvRedis(location, { namespace: 'bench-raw' }), useKeyPrefix: false });
  try {
    const cache = app.get(Caches).default;
    for (let i = 0; i < KEY_COUNT; i++) {
      await cache.set(keys[i], values[i]);
      await raw.set(keys[i], values[i]);
    }
    const sides = [
      { name: 'Keyv', get: (key) => raw.get(key), set: (key, value) => raw.set(key, value) },
      { name: 'Cache', get: (key) => cache.get(key), set: (key, value) => cache.set(key, value) },
    ];
    const results = new Map(
      (await measure(getSetTasks(sides), { rounds: 21, sliceMs: 100, warmupMs: 300 })).map((r) => [r.name, r]),
    );
    report(
      `keyv backend over @keyv/redis: ${KEY_COUNT} small objects, ${KEY_COUNT} commands in flight`,
      'Keyv',
      'Cache',
      results,
      bars,
      'keyv backend',
    );
    await cache.clear();
    await raw.clear();
  } finally {
    await raw.disconnect();
    await app.close();
  }
}

/** toKeyvStore over locmem, inside a Keyv, against Keyv's own Map. */
export async function runToKeyvStoreBench(bars = []) {
  console.log("\n== toKeyvStore over locmem against Keyv's in-memory store ==");
  const app = await createCacheApp({
    default: { backend: 'locmem', location: 'bench-keyv', timeout: null, options: { maxEntries: 10_000 } },
  });
  try {
    const overLocmem = new Keyv({ store: toKeyvStore(app.get(Caches).default) });
    const inMemory = new Keyv();
    for (let i = 0; i < KEY_COUNT; i++) {
      await overLocmem.set(keys[i], values[i]);
      await inMemory.set(keys[i], values[i]);
    }
    const sides = [
      { name: 'Keyv Map', get: (key) => inMemory.get(key), set: (key, value) => inMemory.set(key, value) },
      { name: 'toKeyvStore', get: (key) => overLocmem.get(key), set: (key, value) => overLocmem.set(key, value) },
    ];
    const results = new Map((await measure(getSetTasks(sides))).map((r) => [r.name, r]));
    report(
      `toKeyvStore over locmem inside Keyv: ${KEY_COUNT} small objects`,
      'Keyv Map',
      'toKeyvStore',
      results,
      bars,
      'toKeyvStore',
    );
  } finally {
    await app.close();
  }
}

export async function run(bars = []) {
  await runKeyvBackendBench(requireEnv('REDIS_URL'), bars);
  await runToKeyvStoreBench(bars);
}

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
