// locmem through the public API (a Cache injected from CacheModule.forRoot) against a bare Map,
// lru-cache and cache-manager's default in-memory store, plus what each way of isolating a
// cached value from its readers costs (the reason locmem freezes a copy at set).
import 'reflect-metadata';
import { deserialize, serialize } from 'node:v8';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createCache } from 'cache-manager';
import { LRUCache } from 'lru-cache';
import { Cache, CacheModule } from '../dist/index.js';
import { takeSnapshot } from '../dist/core/snapshot.js';
import {
  environmentHeader,
  formatNs,
  formatOps,
  formatRatio,
  formatSpread,
  isMain,
  measure,
  chartPath,
  printTable,
  writeBarChart,
} from './harness.mjs';

// Not in ESLint's globals: taken from globalThis so the file lints as is.
const { structuredClone } = globalThis;

const KEY_COUNT = 1000;
// Far above KEY_COUNT, so that no store evicts or culls while measured.
const CAPACITY = 10_000;
const TARGET_GET_RATIO = 2;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);

/** ~5 fields, the shape of a typical cached row. */
function smallValue(i) {
  return { id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0, score: i * 1.5 };
}

/** A nested document whose JSON is ~10 kB: plain data only, so locmem keeps it frozen. */
function largeValue(i) {
  const paragraph = `Paragraph of article ${i}: `.padEnd(220, 'lorem ipsum dolor sit amet ');
  return {
    id: i,
    slug: `article-${i}`,
    title: `Article number ${i}, with a title of ordinary length`,
    publishedAt: new Date(1_700_000_000_000 + i * 60_000).toISOString(),
    author: { id: i % 50, name: `Author ${i % 50}`, email: `author${i % 50}@example.com`, roles: ['editor', 'writer'] },
    tags: Array.from({ length: 8 }, (_, t) => `tag-${(i + t) % 40}`),
    sections: Array.from({ length: 30 }, (_, s) => ({
      heading: `Section ${s}`,
      body: paragraph,
      stats: { views: i * 31 + s, likes: (i + s) % 97, ratio: s / 30 },
    })),
    related: Array.from({ length: 20 }, (_, r) => (i + r * 7) % KEY_COUNT),
  };
}

const SIZES = [
  { label: 'small object (~5 fields)', make: smallValue },
  { label: '10 kB object (nested)', make: largeValue },
];

/** Each store behind the same async get/set, filled with the same keys and values. */
async function createStores(values) {
  const map = new Map();
  const lru = new LRUCache({ max: CAPACITY });
  const manager = createCache();
  // The public way in: CacheModule.forRoot in a Nest application, the Cache taken from it.
  const app = await NestFactory.createApplicationContext(benchModule(), { logger: false });
  const cache = app.get(Cache);
  for (let i = 0; i < KEY_COUNT; i++) {
    map.set(keys[i], values[i]);
    lru.set(keys[i], values[i]);
    await manager.set(keys[i], values[i]);
    await cache.set(keys[i], values[i]);
  }
  return {
    // The baselines are synchronous; an async wrapper gives them the same promise per call.
    map: { get: async (key) => map.get(key), set: async (key, value) => void map.set(key, value) },
    lru: { get: async (key) => lru.get(key), set: async (key, value) => void lru.set(key, value) },
    manager,
    cache,
    close: async () => {
      await manager.disconnect();
      await app.close();
    },
  };
}

function benchModule() {
  class LocMemBenchModule {}
  const locmem = { backend: 'locmem', location: 'bench-locmem', options: { maxEntries: CAPACITY } };
  Module({ imports: [CacheModule.forRoot({ default: locmem })] })(LocMemBenchModule);
  return LocMemBenchModule;
}

const miss = (store, key) => new Error(`${store} missed '${key}': a get-hit benchmark must only hit.`);

/**
 * One task per store and operation, each a pass over every key. The loops are written out,
 * not made by one factory, so that no call site inside them is shared between stores.
 */
function storeTasks({ map, lru, manager, cache }, values) {
  const opsPerCall = KEY_COUNT;
  return [
    {
      store: 'Map',
      op: 'get',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++) if ((await map.get(keys[i])) === undefined) throw miss('Map', keys[i]);
      },
    },
    {
      store: 'lru-cache',
      op: 'get',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++)
          if ((await lru.get(keys[i])) === undefined) throw miss('lru-cache', keys[i]);
      },
    },
    {
      store: 'cache-manager',
      op: 'get',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++)
          if ((await manager.get(keys[i])) === undefined) throw miss('cache-manager', keys[i]);
      },
    },
    {
      store: 'locmem',
      op: 'get',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++) if ((await cache.get(keys[i])) === undefined) throw miss('locmem', keys[i]);
      },
    },
    {
      store: 'Map',
      op: 'set',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++) await map.set(keys[i], values[i]);
      },
    },
    {
      store: 'lru-cache',
      op: 'set',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++) await lru.set(keys[i], values[i]);
      },
    },
    {
      store: 'cache-manager',
      op: 'set',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++) await manager.set(keys[i], values[i]);
      },
    },
    {
      store: 'locmem',
      op: 'set',
      opsPerCall,
      fn: async () => {
        for (let i = 0; i < KEY_COUNT; i++) await cache.set(keys[i], values[i]);
      },
    },
  ].map((task) => ({ ...task, name: `${task.store} ${task.op}` }));
}

async function measureSize({ label, make }, bars) {
  const values = keys.map((_, i) => make(i));
  const jsonBytes = Math.round(values.reduce((sum, value) => sum + JSON.stringify(value).length, 0) / KEY_COUNT);
  const stores = await createStores(values);
  try {
    const tasks = storeTasks(stores, values);
    const results = await measure(tasks);
    const stats = stores.cache.stats();
    if (stats.misses !== 0) throw new Error(`locmem counted ${stats.misses} misses; the get benchmark must only hit.`);
    const byName = new Map(results.map((result) => [result.name, result]));
    const rows = tasks.map((task) => {
      const result = byName.get(task.name);
      const map = byName.get(`Map ${task.op}`);
      const manager = byName.get(`cache-manager ${task.op}`);
      return [
        task.op,
        task.store,
        formatOps(result.opsPerSec),
        formatNs(result.nsPerOp),
        formatSpread(result.spread),
        formatRatio(result.opsPerSec / map.opsPerSec),
        formatRatio(result.opsPerSec / manager.opsPerSec),
      ];
    });
    printTable(
      `${label}: ${KEY_COUNT} keys, JSON ~${jsonBytes.toLocaleString('en-US')} B per value`,
      ['op', 'store', 'ops/s', 'ns/op', 'spread', 'vs Map', 'vs cache-manager'],
      rows,
    );
    for (const task of tasks) {
      bars.push({
        group: `${task.op}, ${label}`,
        label: task.store,
        value: byName.get(task.name).opsPerSec,
        baseline: task.store === 'cache-manager',
      });
    }
    return byName.get('locmem get').opsPerSec / byName.get('cache-manager get').opsPerSec;
  } finally {
    await stores.close();
  }
}

/** What locmem does at set (lib/core/snapshot.ts): a frozen copy of plain data. */
function frozenCopy(value) {
  return takeSnapshot(value, 'bench').frozen;
}

/**
 * A cache must not let one reader's change show up in the next read. Each way of ensuring that
 * has a cost at set (a private copy of the caller's value) and a cost at each read.
 */
async function measureIsolation() {
  const value = largeValue(7);
  // Two of each, read alternately, so that no read can be hoisted out of its loop.
  const twice = (make) => [make(value), make(value)];
  const frozen = twice(frozenCopy);
  const clones = twice(structuredClone);
  const bytes = twice(serialize);
  const json = twice(JSON.stringify);
  const READS = 20;
  const FROZEN_READS = 100_000;
  let sink = 0;
  const strategies = [
    {
      name: 'frozen copy made once at set (locmem)',
      set: () => frozenCopy(value),
      reads: FROZEN_READS,
      read: () => {
        for (let i = 0; i < FROZEN_READS; i++) sink += frozen[i & 1].sections.length;
      },
    },
    {
      name: 'structuredClone per read',
      set: () => structuredClone(value),
      reads: READS,
      read: () => {
        for (let i = 0; i < READS; i++) sink += structuredClone(clones[i & 1]).sections.length;
      },
    },
    {
      name: 'v8.deserialize(v8.serialize()) per read',
      set: () => structuredClone(value),
      reads: READS,
      read: () => {
        for (let i = 0; i < READS; i++) sink += deserialize(serialize(clones[i & 1])).sections.length;
      },
    },
    {
      name: 'v8.deserialize per read, bytes kept at set',
      set: () => serialize(value),
      reads: READS,
      read: () => {
        for (let i = 0; i < READS; i++) sink += deserialize(bytes[i & 1]).sections.length;
      },
    },
    {
      name: 'JSON.parse per read, string kept at set',
      set: () => JSON.stringify(value),
      reads: READS,
      read: () => {
        for (let i = 0; i < READS; i++) sink += JSON.parse(json[i & 1]).sections.length;
      },
    },
  ];
  const tasks = strategies.flatMap((strategy) => [
    { name: `${strategy.name} read`, opsPerCall: strategy.reads, fn: strategy.read },
    { name: `${strategy.name} set`, opsPerCall: 1, fn: strategy.set },
  ]);
  const results = new Map(
    (await measure(tasks, { rounds: 11, sliceMs: 40, warmupMs: 150 })).map((result) => [result.name, result]),
  );
  if (sink === 0) throw new Error('isolation reads returned nothing');

  const readNs = (strategy) => results.get(`${strategy.name} read`).nsPerOp;
  const setNs = (strategy) => results.get(`${strategy.name} set`).nsPerOp;
  const [frozenStrategy, cloneStrategy] = strategies;
  const rows = strategies.map((strategy) => [
    strategy.name,
    formatNs(readNs(strategy)),
    formatRatio(readNs(strategy) / readNs(cloneStrategy)),
    formatNs(setNs(strategy)),
    formatRatio(setNs(strategy) / setNs(cloneStrategy)),
  ]);
  printTable(
    `Isolating a ${json[0].length.toLocaleString('en-US')} B (JSON) object from its readers: time per read and per set, vs structuredClone`,
    ['strategy', 'read ns', 'read vs clone', 'set ns (copy)', 'set vs clone'],
    rows,
  );
  const extraAtSet = setNs(frozenStrategy) - setNs(cloneStrategy);
  const savedPerRead = readNs(cloneStrategy) - readNs(frozenStrategy);
  const breakEven = Math.max(1, Math.ceil(extraAtSet / savedPerRead));
  console.log(
    extraAtSet <= 0
      ? 'Freezing at set costs no more than one structuredClone, and each read is then free.'
      : `Freezing costs ${formatNs(extraAtSet)} ns more than one structuredClone at set and saves ${formatNs(savedPerRead)} ns on every read: ` +
          (breakEven === 1
            ? 'it has paid for itself by the first read.'
            : `it has paid for itself after ${breakEven} reads.`),
  );
}

export async function run() {
  console.log(
    `\n== locmem: get hit and set through Cache (CacheModule.forRoot), ${KEY_COUNT} keys, maxEntries ${CAPACITY} ==`,
  );
  console.log(
    'Each op is one awaited call; every store is wrapped in the same async call shape. Ratios > 1x are faster.',
  );
  console.log(
    "locmem entries carry the alias's default timeout (300 s), so each get checks the clock; Map, lru-cache and cache-manager are configured without expiry.",
  );
  const ratios = [];
  const bars = [];
  for (const size of SIZES) ratios.push({ label: size.label, ratio: await measureSize(size, bars) });
  writeBarChart(chartPath('locmem'), {
    title: `locmem: get hit and set through Cache, ${KEY_COUNT} keys (higher is faster)`,
    unit: 'ops/s',
    bars,
    note:
      'Each bar is the median of interleaved slices of one run; ratios are to cache-manager 7 (grey) in the same group. ' +
      'Each group has its own axis from zero. locmem copies and freezes at set, so its 10 kB set pays for isolation that the others do not give.',
  });
  console.log(`\nTarget: locmem get hit >= ${TARGET_GET_RATIO}x cache-manager get`);
  for (const { label, ratio } of ratios) {
    console.log(
      `  ${label.padEnd(26)} ${formatRatio(ratio).padStart(6)}  ${ratio >= TARGET_GET_RATIO ? 'PASS' : 'FAIL'}`,
    );
  }
  await measureIsolation();
}

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
