// The database backend through the public API (a Cache from CacheModule.forRoot, on the app's
// TypeORM DataSource) against the same SQL run by hand on that DataSource, on SQLite
// (better-sqlite3) and, when POSTGRES_URL is set, PostgreSQL. Both sides encode and decode the
// value the same way (V8 serialization, base64 text), so the ratio is what the library adds:
// key making, stats, and for set on SQLite the look-up of the key that tells a new row from a
// replaced one (the row count is kept without a COUNT(*) per write).
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
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

const KEY_COUNT = 200;
const TABLE = 'bench_cache';
// Far above KEY_COUNT, so that no write culls while measured.
const CAPACITY = 100_000;
const NEVER = '9999-12-31 23:59:59.999';

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);
const values = keys.map((_, i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 }));

async function createApp(connection) {
  class DatabaseBenchModule {}
  const entry = {
    backend: 'database',
    location: TABLE,
    timeout: null,
    options: { createTable: true, maxEntries: CAPACITY },
  };
  Module({ imports: [TypeOrmModule.forRoot(connection), CacheModule.forRoot({ default: entry })] })(
    DatabaseBenchModule,
  );
  return NestFactory.createApplicationContext(DatabaseBenchModule, { logger: false });
}

/** The statements the backend runs, written out by hand for this driver. */
function rawStatements(dataSource) {
  const t = dataSource.driver.escape(TABLE);
  const p = (i) => dataSource.driver.createParameter(`p${i}`, i);
  return {
    get: `SELECT cache_key, value, expires > ${p(0)} AS live FROM ${t} WHERE cache_key IN (${p(1)})`,
    set: `INSERT INTO ${t} (cache_key, value, expires) VALUES (${p(0)}, ${p(1)}, ${p(2)}) ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, expires = excluded.expires`,
  };
}

const now = () => new Date().toISOString().replace('T', ' ').slice(0, 23);
// The backend stores made keys (`${prefix}:${version}:${key}`); the raw side uses the same rows.
const made = (key) => `:1:${key}`;

async function measureDriver(label, connection, bars) {
  const app = await createApp(connection);
  try {
    const cache = app.get(Cache);
    const dataSource = app.get(getDataSourceToken());
    const sql = rawStatements(dataSource);
    for (let i = 0; i < KEY_COUNT; i++) await cache.set(keys[i], values[i]);
    const tasks = [
      {
        name: 'raw SQL get',
        fn: async () => {
          for (let i = 0; i < KEY_COUNT; i++) {
            const [row] = await dataSource.query(sql.get, [now(), made(keys[i])]);
            if (!row || deserialize(Buffer.from(row.value, 'base64')).id !== i) throw new Error('raw get missed');
          }
        },
      },
      {
        name: 'Cache get',
        fn: async () => {
          for (let i = 0; i < KEY_COUNT; i++)
            if ((await cache.get(keys[i])) === undefined) throw new Error('Cache get missed');
        },
      },
      {
        name: 'raw SQL set',
        fn: async () => {
          for (let i = 0; i < KEY_COUNT; i++)
            await dataSource.query(sql.set, [made(keys[i]), serialize(values[i]).toString('base64'), NEVER]);
        },
      },
      {
        name: 'Cache set',
        fn: async () => {
          for (let i = 0; i < KEY_COUNT; i++) await cache.set(keys[i], values[i]);
        },
      },
    ].map((task) => ({ ...task, opsPerCall: KEY_COUNT }));
    const results = new Map((await measure(tasks, { rounds: 9, sliceMs: 80, warmupMs: 200 })).map((r) => [r.name, r]));
    const rows = ['get', 'set'].flatMap((op) => {
      const raw = results.get(`raw SQL ${op}`);
      const api = results.get(`Cache ${op}`);
      return [raw, api].map((result) => [
        op,
        result.name,
        formatOps(result.opsPerSec),
        formatNs(result.nsPerOp),
        formatSpread(result.spread),
        formatRatio(result.opsPerSec / raw.opsPerSec),
      ]);
    });
    for (const op of ['get', 'set']) {
      for (const way of ['raw SQL', 'Cache']) {
        const name = `${way} ${op}`;
        bars.push({
          group: `${label} ${op}`,
          label: name,
          value: results.get(name).opsPerSec,
          baseline: way === 'raw SQL',
        });
      }
    }
    printTable(
      `${label}: ${KEY_COUNT} keys, small objects`,
      ['op', 'way', 'ops/s', 'ns/op', 'spread', 'vs raw SQL'],
      rows,
    );
    await cache.clear();
  } finally {
    await app.close();
  }
}

/** Database get hit and set, SQLite then PostgreSQL (skipped, and said so, without POSTGRES_URL). */
export async function runDatabaseBench(bars = []) {
  console.log('\n== database: get hit and set through Cache against the same SQL on the DataSource ==');
  console.log('Ratios > 1x are faster than raw SQL. Cache set on SQLite also looks its key up (the kept row count).');
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-db-'));
  try {
    await measureDriver(
      'SQLite (better-sqlite3, file)',
      {
        type: 'better-sqlite3',
        database: join(dir, 'bench.sqlite'),
      },
      bars,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.POSTGRES_URL;
  if (url) await measureDriver('PostgreSQL', { type: 'postgres', url }, bars);
  else console.log('\nPostgreSQL: skipped, POSTGRES_URL is not set.');
}

export { runDatabaseBench as run };

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await runDatabaseBench();
}
