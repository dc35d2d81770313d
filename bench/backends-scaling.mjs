// `npm run bench -- backends` (after the server benches): how each culling backend's per-op cost
// grows with the number of entries it holds, against a hand-written baseline doing the same work
// on a store of the same size in the same run: locmem against lru-cache (which keeps the order
// of use too; a Map's get and set are printed beside it); filesystem against fs/promises (read; write to a temporary file + rename;
// when full, also unlink the oldest file); database against the same SQL on the same DataSource
// (when full, also a DELETE of the oldest row). Sizes 1e3 and 1e4 (locmem to 1e5) by default;
// NESTJS_CACHES_BENCH_SCALING=full adds 1e5 (locmem 1e6). locmem's tasks run interleaved size by
// size, three slices each; filesystem's and database's tasks of all sizes run interleaved together,
// fifteen slices each (five for a set into a full store). The median is kept. "Growth" is the
// largest size's ns/op over 1e3's.
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { Caches, CacheModule } from '../dist/index.js';
import { environmentHeader, formatNs, formatRatio, isMain, measure, printTable } from './harness.mjs';

const FULL = process.env.NESTJS_CACHES_BENCH_SCALING === 'full';
const SIZES = FULL ? [1e3, 1e4, 1e5] : [1e3, 1e4];
const LOCMEM_SIZES = FULL ? [1e3, 1e4, 1e5, 1e6] : [1e3, 1e4, 1e5];
// NESTJS_CACHES_BENCH_SCALING_ONLY=filesystem,database runs only those (default: all three).
const ONLY = (process.env.NESTJS_CACHES_BENCH_SCALING_ONLY ?? 'locmem,filesystem,database').split(',');
const CULL_FREQUENCY = 3;
const NEVER = '9999-12-31 23:59:59.999';
// Ops per timed call of get and of set over existing keys (random keys of the store).
const BATCH = { locmem: 1000, filesystem: 100, database: 100 };

const value = (i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 });
const keyOf = (i) => `item:${i}`;

/** A fixed pseudo-random sequence of indexes below `n`, the same for the library and its baseline. */
function randomIndexes(n, count = 4096) {
  let state = 12345;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  });
}

async function createApp(imports, entries) {
  class ScalingBenchModule {}
  // Populating and culling 1e5 entries takes longer than a command's default 500 ms.
  const patient = Object.fromEntries(
    Object.entries(entries).map(([alias, entry]) => [
      alias,
      { ...entry, commandTimeoutMs: 600_000, circuitBreaker: false },
    ]),
  );
  Module({ imports: [...imports, CacheModule.forRoot(patient)] })(ScalingBenchModule);
  return NestFactory.createApplicationContext(ScalingBenchModule, { logger: false });
}

/**
 * The three operations at one size, library and baseline: `get` and `set` over the store's own
 * keys (it holds `n` entries throughout), `setFull` of new keys into a store of `maxEntries: n`.
 * A `setFull` call is one cull cycle (n / cullFrequency new keys), so each slice pays for its culls.
 */
function tasksFor(n, batch, stores) {
  const picks = randomIndexes(n);
  let cursor = 0;
  const next = () => picks[(cursor = (cursor + 1) % picks.length)];
  const cycle = Math.ceil(n / CULL_FREQUENCY);
  const tasks = [];
  for (const [side, store] of Object.entries(stores)) {
    for (const op of ['get', 'set']) {
      const fn = async () => {
        for (let i = 0; i < batch; i++) await store[op](next());
      };
      tasks.push({ name: `${op} ${side}`, opsPerCall: batch, fn });
    }
    if (!store.setFull) continue;
    let fresh = n; // the next new key: each side inserts the same keys
    const fn = async () => {
      for (let i = 0; i < cycle; i++) await store.setFull(fresh++);
    };
    tasks.push({ name: `setFull ${side}`, opsPerCall: cycle, fn });
  }
  return tasks;
}

async function measureSize(n, batch, stores) {
  const results = await measure(tasksFor(n, batch, stores), { rounds: 3, sliceMs: 150, warmupMs: 100 });
  return Object.fromEntries(results.map((r) => [r.name, r.nsPerOp]));
}

/**
 * Every size's tasks in one interleaved measurement, the stores of all sizes open side by side:
 * a burst of outside load then falls on each size alike, so a growth (largest over smallest)
 * compares slices taken minutes apart no more. Measured one size after the other, the shared
 * machine's load moved by 2-4x between sizes and made up growth of its own.
 * @returns per size, the results as `measureSize`'s.
 */
async function measureSizesTogether(batch, storesBySize) {
  const tasks = [...storesBySize].flatMap(([n, stores]) =>
    tasksFor(n, batch, stores).map((task) => ({ ...task, name: `${n} ${task.name}` })),
  );
  // A set into a full store is a cull cycle per call (seconds at 1e5), so its tasks get five
  // slices of their own; get and set get fifteen short ones, the medians of enough slices to
  // stand against a server's scheduling on a loaded machine.
  const isFull = (task) => task.name.includes('setFull');
  const results = [
    ...(await measure(
      tasks.filter((task) => !isFull(task)),
      { rounds: 15, sliceMs: 100, warmupMs: 100 },
    )),
    ...(await measure(tasks.filter(isFull), { rounds: 5, sliceMs: 150, warmupMs: 100 })),
  ];
  return new Map(
    [...storesBySize.keys()].map((n) => [
      n,
      Object.fromEntries(
        results.filter((r) => r.name.startsWith(`${n} `)).map((r) => [r.name.slice(`${n} `.length), r.nsPerOp]),
      ),
    ]),
  );
}

/** Opens a subject per size, measures them together, reports each size and closes them all. */
async function runSizesTogether(backend, batch, open, report) {
  const subjects = new Map();
  try {
    for (const n of SIZES) subjects.set(n, await open(n));
    const bySize = await measureSizesTogether(batch, new Map([...subjects].map(([n, subject]) => [n, subject.stores])));
    for (const [n, results] of bySize) report(backend, n, results);
  } finally {
    for (const subject of subjects.values()) await subject.close();
  }
}

// --- locmem -----------------------------------------------------------------------------------

async function locmemAt(n) {
  const app = await createApp([], {
    default: { backend: 'locmem', location: `roomy-${n}`, timeout: null, options: { maxEntries: 4 * n } },
    full: { backend: 'locmem', location: `full-${n}`, timeout: null, options: { maxEntries: n } },
  });
  const caches = app.get(Caches);
  const map = new Map();
  const roomy = new LRUCache({ max: 4 * n });
  const lru = new LRUCache({ max: n });
  for (let i = 0; i < n; i++) {
    await caches.default.set(keyOf(i), value(i));
    await caches.get('full').set(keyOf(i), value(i));
    map.set(keyOf(i), value(i));
    roomy.set(keyOf(i), value(i));
    lru.set(keyOf(i), value(i));
  }
  const lib = {
    get: async (i) => {
      if ((await caches.default.get(keyOf(i))) === undefined) throw new Error('locmem get missed');
    },
    set: (i) => caches.default.set(keyOf(i), value(i)),
    setFull: (i) => caches.get('full').set(keyOf(i), value(i)),
  };
  // lru-cache keeps the order of use as locmem does (a hit moves its key); a Map does not.
  const base = {
    get: async (i) => {
      if (roomy.get(keyOf(i)) === undefined) throw new Error('lru-cache get missed');
    },
    set: async (i) => void roomy.set(keyOf(i), value(i)),
    setFull: async (i) => void lru.set(keyOf(i), value(i)),
  };
  const plain = {
    get: async (i) => {
      if (map.get(keyOf(i)) === undefined) throw new Error('Map get missed');
    },
    set: async (i) => void map.set(keyOf(i), value(i)),
  };
  return { stores: { lib, base, plain }, caches, lru, close: () => app.close() };
}

/** The slowest single set of new keys into a full store, over three cull cycles. */
async function worstFullSet(n, set) {
  let worst = 0;
  for (let i = 0; i < 3 * Math.ceil(n / CULL_FREQUENCY); i++) {
    const started = performance.now();
    await set(10 * n + i);
    worst = Math.max(worst, performance.now() - started);
  }
  return worst * 1e6;
}

/** Heap bytes per entry of `fill`'s store at `n` entries, the same keys and values for each. */
async function bytesPerEntry(n, fill) {
  const keys = Array.from({ length: n }, (_, i) => keyOf(i));
  const values = keys.map((_, i) => value(i));
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const store = await fill(keys, values);
  globalThis.gc?.();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  void store;
  return bytes;
}

async function runLocmem(report) {
  for (const n of LOCMEM_SIZES) {
    const subject = await locmemAt(n);
    report('locmem', n, await measureSize(n, BATCH.locmem, subject.stores));
    await subject.close();
  }
  // Django's cull is a burst: the worst single set is when it runs.
  const n = FULL ? 1e6 : 1e5;
  const subject = await locmemAt(1e5);
  const worst = [];
  for (let rep = 0; rep < 3; rep++) {
    worst.push([
      await worstFullSet(1e5, (i) => subject.caches.get('full').set(keyOf(i), value(i))),
      await worstFullSet(1e5, async (i) => void subject.lru.set(keyOf(i), value(i))),
    ]);
  }
  await subject.close();
  const median = (xs) => xs.sort((a, b) => a - b)[1];
  const [lib, base] = [median(worst.map((w) => w[0])), median(worst.map((w) => w[1]))];
  printTable(
    'locmem: worst single set of a new key into a full store of 1e5 (median of 3 runs of 3 cull cycles)',
    ['store', 'worst ns', 'vs lru-cache'],
    [
      ['locmem', formatNs(lib), formatRatio(lib / base)],
      ['lru-cache', formatNs(base), '1.00x'],
    ],
  );
  const memory = [];
  for (let rep = 0; rep < 3; rep++) {
    memory.push([
      await bytesPerEntry(n, async (keys, values) => {
        const app = await createApp([], {
          default: { backend: 'locmem', location: `memory-${rep}`, timeout: null, options: { maxEntries: 2 * n } },
        });
        const cache = app.get(Caches).default;
        for (let i = 0; i < n; i++) await cache.set(keys[i], values[i]);
        return app;
      }),
      await bytesPerEntry(n, async (keys, values) => {
        const lru = new LRUCache({ max: 2 * n });
        for (let i = 0; i < n; i++) lru.set(keys[i], values[i]);
        return lru;
      }),
      // What locmem holds besides the map: its own key string (prefix and version) and a copy of the value.
      await bytesPerEntry(n, async (keys, values) => {
        const lru = new LRUCache({ max: 2 * n });
        for (let i = 0; i < n; i++) lru.set(`:1:${keys[i]}`, deserialize(serialize(values[i])));
        return lru;
      }),
    ]);
  }
  const [libBytes, lruBytes, lruCopyBytes] = [0, 1, 2].map((k) => median(memory.map((m) => m[k])));
  printTable(
    `locmem: heap per entry at ${n.toLocaleString('en-US')} entries (small objects; median of 3)`,
    ['store', 'bytes/entry', 'vs lru-cache'],
    [
      [
        'locmem',
        Math.round(libBytes),
        `${formatRatio(libBytes / lruBytes)} (${formatRatio(libBytes / lruCopyBytes)} of copies)`,
      ],
      ['lru-cache', Math.round(lruBytes), '1.00x'],
      ['lru-cache, copies', Math.round(lruCopyBytes), formatRatio(lruCopyBytes / lruBytes)],
    ],
  );
}

// --- filesystem -------------------------------------------------------------------------------

async function filesystemAt(n, root) {
  const dirs = { roomy: join(root, `roomy-${n}`), full: join(root, `full-${n}`), base: join(root, `base-${n}`) };
  const baseFull = join(root, `base-full-${n}`);
  mkdirSync(dirs.base, { recursive: true });
  mkdirSync(baseFull, { recursive: true });
  const app = await createApp([], {
    default: { backend: 'filesystem', location: dirs.roomy, timeout: null, options: { maxEntries: 4 * n } },
    full: { backend: 'filesystem', location: dirs.full, timeout: null, options: { maxEntries: n } },
  });
  const caches = app.get(Caches);
  // The hand-written store: a file per key, written whole to a temporary name, renamed into place;
  // its files and temporary files are named as the library's, so both directories have one shape.
  const basePath = (dir, i) =>
    join(
      dir,
      `${createHash('sha256')
        .update(`:1:${keyOf(i)}`)
        .digest('hex')}.ncache`,
    );
  const baseWrite = async (dir, i) => {
    const temp = join(dir, `${randomBytes(12).toString('hex')}.ncache-tmp`);
    await writeFile(temp, serialize(value(i)));
    await rename(temp, basePath(dir, i));
  };
  for (let start = 0; start < n; start += 200) {
    const chunk = Array.from({ length: Math.min(200, n - start) }, (_, j) => start + j);
    await caches.default.setMany(Object.fromEntries(chunk.map((i) => [keyOf(i), value(i)])));
    await caches.get('full').setMany(Object.fromEntries(chunk.map((i) => [keyOf(i), value(i)])));
    await Promise.all(chunk.flatMap((i) => [baseWrite(dirs.base, i), baseWrite(baseFull, i)]));
  }
  const lib = {
    get: async (i) => {
      if ((await caches.default.get(keyOf(i))) === undefined) throw new Error('filesystem get missed');
    },
    set: (i) => caches.default.set(keyOf(i), value(i)),
    setFull: (i) => caches.get('full').set(keyOf(i), value(i)),
  };
  const base = {
    get: async (i) => {
      if (deserialize(await readFile(basePath(dirs.base, i))).id !== i) throw new Error('fs get missed');
    },
    set: (i) => baseWrite(dirs.base, i),
    // A bounded store of its own keeps n files: each new one replaces the oldest.
    setFull: async (i) => {
      await baseWrite(baseFull, i);
      await unlink(basePath(baseFull, i - n));
    },
  };
  return {
    stores: { lib, base },
    close: async () => {
      await app.close();
      for (const dir of [...Object.values(dirs), baseFull]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function runFilesystem(report) {
  const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-scaling-'));
  try {
    await runSizesTogether('filesystem', BATCH.filesystem, (n) => filesystemAt(n, root), report);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// --- database ---------------------------------------------------------------------------------

async function databaseAt(n, connection) {
  const tables = { roomy: `scaling_roomy_${n}`, full: `scaling_full_${n}`, base: `scaling_base_full_${n}` };
  const app = await createApp([TypeOrmModule.forRoot(connection)], {
    default: {
      backend: 'database',
      location: tables.roomy,
      timeout: null,
      options: { createTable: true, maxEntries: 4 * n },
    },
    full: { backend: 'database', location: tables.full, timeout: null, options: { createTable: true, maxEntries: n } },
    base: {
      backend: 'database',
      location: tables.base,
      timeout: null,
      options: { createTable: true, maxEntries: 4 * n },
    },
  });
  const caches = app.get(Caches);
  const dataSource = app.get(getDataSourceToken());
  for (const table of Object.values(tables)) await dataSource.query(`DELETE FROM ${dataSource.driver.escape(table)}`);
  for (let start = 0; start < n; start += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, n - start) }, (_, j) => start + j);
    const entries = Object.fromEntries(chunk.map((i) => [keyOf(i), value(i)]));
    for (const alias of ['default', 'full', 'base']) await caches.get(alias).setMany(entries);
  }
  if (connection.type === 'postgres')
    for (const table of Object.values(tables)) await dataSource.query(`ANALYZE ${dataSource.driver.escape(table)}`);
  const p = (i) => dataSource.driver.createParameter(`p${i}`, i);
  const sql = (table) => {
    const t = dataSource.driver.escape(table);
    return {
      get: `SELECT cache_key, value, expires > ${p(0)} AS live FROM ${t} WHERE cache_key IN (${p(1)})`,
      set: `INSERT INTO ${t} (cache_key, value, expires) VALUES (${p(0)}, ${p(1)}, ${p(2)}) ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, expires = excluded.expires`,
      delete: `DELETE FROM ${t} WHERE cache_key = ${p(0)}`,
    };
  };
  const roomy = sql(tables.roomy);
  const baseFull = sql(tables.base);
  // The backend stores made keys (`:1:key`); the raw side reads and writes the same rows.
  const made = (i) => `:1:${keyOf(i)}`;
  const now = () => new Date().toISOString().replace('T', ' ').slice(0, 23);
  const lib = {
    get: async (i) => {
      if ((await caches.default.get(keyOf(i))) === undefined) throw new Error('database get missed');
    },
    set: (i) => caches.default.set(keyOf(i), value(i)),
    setFull: (i) => caches.get('full').set(keyOf(i), value(i)),
  };
  const base = {
    get: async (i) => {
      const [row] = await dataSource.query(roomy.get, [now(), made(i)]);
      if (!row || deserialize(Buffer.from(row.value, 'base64')).id !== i) throw new Error('raw get missed');
    },
    set: (i) => dataSource.query(roomy.set, [made(i), serialize(value(i)).toString('base64'), NEVER]),
    // A bounded table of its own keeps n rows: each new one replaces the oldest.
    setFull: async (i) => {
      await dataSource.query(baseFull.set, [made(i), serialize(value(i)).toString('base64'), NEVER]);
      await dataSource.query(baseFull.delete, [made(i - n)]);
    },
  };
  return {
    stores: { lib, base },
    close: async () => {
      for (const table of Object.values(tables))
        await dataSource.query(`DROP TABLE ${dataSource.driver.escape(table)}`);
      await app.close();
    },
  };
}

async function runDatabase(report) {
  const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-scaling-db-'));
  try {
    // WAL without a sync per commit, as a busy SQLite cache would run: the fsync of the default
    // journal swamps what is measured here (both sides share the connection and its settings).
    // A database file per size, as a store of that size would have.
    const sqlite = (n) => ({
      type: 'better-sqlite3',
      database: join(root, `scaling-${n}.sqlite`),
      enableWAL: true,
      prepareDatabase: (db) => db.pragma('synchronous = NORMAL'),
    });
    await runSizesTogether('database (SQLite)', BATCH.database, (n) => databaseAt(n, sqlite(n)), report);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const url = process.env.POSTGRES_URL;
  if (!url) return console.log('\ndatabase (PostgreSQL): skipped, POSTGRES_URL is not set.');
  await runSizesTogether(
    'database (PostgreSQL)',
    BATCH.database,
    (n) => databaseAt(n, { type: 'postgres', url }),
    report,
  );
}

// --- report -----------------------------------------------------------------------------------

const OPERATIONS = [
  ['get', 'get hit'],
  ['set', 'set (not full)'],
  ['setFull', 'set new key, full'],
];

export async function runScalingBench() {
  console.log('\n== scaling: per-op cost as the store grows, against a hand-written baseline of the same size ==');
  console.log(
    `Sizes ${SIZES.join(', ')} (locmem ${LOCMEM_SIZES.join(', ')})${FULL ? '' : '; NESTJS_CACHES_BENCH_SCALING=full adds the largest'}. ` +
      'Baselines: lru-cache (a Map beside it); fs/promises write + rename, read (full: + unlink); the same SQL on the same DataSource (full: + DELETE).',
  );
  const measured = new Map(); // backend -> [[n, results]]
  const report = (backend, n, results) => {
    if (!measured.has(backend)) measured.set(backend, []);
    measured.get(backend).push([n, results]);
    console.log(
      `${backend} at ${n.toLocaleString('en-US')}: ` +
        OPERATIONS.map(
          ([op]) => `${op} ${formatNs(results[`${op} lib`])} ns (base ${formatNs(results[`${op} base`])})`,
        ).join(', ') +
        ('get plain' in results
          ? `; a Map: get ${formatNs(results['get plain'])} ns, set ${formatNs(results['set plain'])} ns`
          : ''),
    );
  };
  if (ONLY.includes('locmem')) await runLocmem(report);
  if (ONLY.includes('filesystem')) await runFilesystem(report);
  if (ONLY.includes('database')) await runDatabase(report);
  const rows = [];
  for (const [backend, sizes] of measured) {
    const [first, last] = [sizes[0], sizes[sizes.length - 1]];
    for (const [op, label] of OPERATIONS) {
      const libGrowth = last[1][`${op} lib`] / first[1][`${op} lib`];
      const baseGrowth = last[1][`${op} base`] / first[1][`${op} base`];
      rows.push([
        backend,
        label,
        ...sizes.map(([, results]) => formatNs(results[`${op} lib`])),
        ...Array(4 - sizes.length).fill('-'),
        formatRatio(last[1][`${op} lib`] / last[1][`${op} base`]),
        `${formatRatio(libGrowth)} @${last[0].toExponential(0)}`,
        formatRatio(baseGrowth),
        formatRatio(libGrowth / baseGrowth),
      ]);
    }
  }
  printTable(
    'Scaling: library ns/op by size; growth = largest size / 1e3 (goal: library growth within 1.5x the baseline growth)',
    ['backend', 'op', '1e3', '1e4', '1e5', '1e6', 'vs base (largest)', 'growth', 'base growth', 'growth ratio'],
    rows,
  );
}

export { runScalingBench as run };

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await runScalingBench();
}
