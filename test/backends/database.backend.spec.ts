import 'reflect-metadata';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { Test, type TestingModule } from '@nestjs/testing';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { DataSource, Logger as TypeOrmLogger } from 'typeorm';
import { Caches, CacheConfigError, type DatabaseEntryOptions } from '../../lib/index.js';
import { CacheModule } from '../../lib/index.js';
import { initOrClose } from '../support/init-or-close.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-db-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every statement the DataSource runs, as TypeORM's logger sees it. */
class QueryLog implements TypeOrmLogger {
  readonly queries: string[] = [];
  logQuery(query: string): void {
    this.queries.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

let tableCounter = 0;
const uniqueTable = () => `spec_cache_${process.pid}_${++tableCounter}`;

const drivers = [
  {
    name: 'SQLite (better-sqlite3)',
    connection: () => ({ type: 'better-sqlite3' as const, database: join(root, `db-${++tableCounter}.sqlite`) }),
    // What a worker process connects to: the database file the test's own DataSource uses.
    workerDatabase: (dataSource: DataSource) => String(dataSource.options.database),
    columns: async (dataSource: DataSource, table: string) =>
      (await dataSource.query(`PRAGMA table_info(${dataSource.driver.escape(table)})`)).map((c: any) => ({
        name: c.name,
        type: String(c.type).toLowerCase(),
        notNull: c.notnull === 1,
        primaryKey: c.pk === 1,
      })),
    indexedColumns: async (dataSource: DataSource, table: string) => {
      const indexes = await dataSource.query(`PRAGMA index_list(${dataSource.driver.escape(table)})`);
      const columns: string[] = [];
      for (const index of indexes) {
        for (const info of await dataSource.query(`PRAGMA index_info(${dataSource.driver.escape(index.name)})`))
          columns.push(info.name);
      }
      return columns;
    },
  },
  {
    name: 'PostgreSQL',
    connection: () => {
      const url = process.env.POSTGRES_URL;
      if (!url) throw new Error('POSTGRES_URL is not set: run the tests with `npm test`, which starts PostgreSQL.');
      return { type: 'postgres' as const, url };
    },
    workerDatabase: () => process.env.POSTGRES_URL!,
    columns: async (dataSource: DataSource, table: string) => {
      const rows = await dataSource.query(
        `SELECT c.column_name AS name, c.data_type, c.character_maximum_length AS length, c.is_nullable,
           EXISTS (SELECT 1 FROM information_schema.table_constraints t
                   JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name
                   WHERE t.table_name = c.table_name AND t.constraint_type = 'PRIMARY KEY' AND k.column_name = c.column_name) AS pk
         FROM information_schema.columns c WHERE c.table_name = $1 ORDER BY c.ordinal_position`,
        [table],
      );
      return rows.map((c: any) => ({
        name: c.name,
        type:
          c.data_type === 'character varying'
            ? `varchar(${c.length})`
            : c.data_type === 'timestamp without time zone'
              ? 'timestamp'
              : c.data_type,
        notNull: c.is_nullable === 'NO',
        primaryKey: c.pk === true,
      }));
    },
    indexedColumns: async (dataSource: DataSource, table: string) => {
      const rows = await dataSource.query(`SELECT indexdef FROM pg_indexes WHERE tablename = $1`, [table]);
      return rows.flatMap((r: any) => [...String(r.indexdef).matchAll(/\((\w+)\)/g)].map((m) => m[1]));
    },
  },
];

describe.each(drivers)('database backend on $name', (driver) => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  async function boot(entry: Partial<DatabaseEntryOptions>, logger?: QueryLog) {
    const booting = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ ...driver.connection(), ...(logger ? { logger, logging: true } : {}) }),
        CacheModule.forRoot({ default: { backend: 'database', location: uniqueTable(), ...entry } }),
      ],
    }).compile();
    await initOrClose(booting);
    moduleRef = booting;
    return {
      cache: moduleRef.get(Caches).default,
      dataSource: moduleRef.get<DataSource>(getDataSourceToken() as never),
    };
  }

  it('fails at boot when the table is missing, naming the command to run', async () => {
    const table = uniqueTable();
    const failure = boot({ location: table }).catch((error: unknown) => error);
    const error = (await failure) as Error;
    expect(error).toBeInstanceOf(CacheConfigError);
    expect(error.message).toContain('caches.default');
    expect(error.message).toContain(`'${table}'`);
    expect(error.message).toContain('npx nestjs-caches createcachetable');
    expect(error.message).toContain('options.createTable: true');
  });

  it('fails at boot when the named DataSource does not exist', async () => {
    const error = (await boot({ options: { dataSource: 'reporting', createTable: true } }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(CacheConfigError);
    expect(error.message).toContain('caches.default.options.dataSource');
    expect(error.message).toContain('TypeOrmModule.forRoot');
  });

  it("creates Django's table with createTable: true, indexed on expires", async () => {
    const table = uniqueTable();
    const { cache, dataSource } = await boot({ location: table, options: { createTable: true } });
    expect(await driver.columns(dataSource, table)).toEqual([
      { name: 'cache_key', type: 'varchar(255)', notNull: true, primaryKey: true },
      { name: 'value', type: 'text', notNull: true, primaryKey: false },
      { name: 'expires', type: 'timestamp', notNull: true, primaryKey: false },
    ]);
    expect(await driver.indexedColumns(dataSource, table)).toContain('expires');

    // Values are base64 text; "never" is Django's datetime.max.
    await cache.set('forever', { a: 1 }, null);
    const [row] = await dataSource.query(
      `SELECT value, ${dataSource.driver.options.type === 'postgres' ? "to_char(expires, 'YYYY-MM-DD')" : 'substr(expires, 1, 10)'} AS day FROM ${dataSource.driver.escape(table)}`,
    );
    expect(row.value).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(row.day).toBe('9999-12-31');
  });

  it('adds atomically: of 20 concurrent adds of one key, exactly one stores', async () => {
    const { cache } = await boot({ options: { createTable: true } });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.add('contended', i)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await cache.get('contended')).toBe(results.indexOf(true));
  });

  it('treats an expired row as absent for add, in the same statement', async () => {
    const { cache } = await boot({ options: { createTable: true } });
    await cache.set('stale', 'old', 0.05);
    await sleep(100);
    expect(await cache.add('stale', 'new')).toBe(true);
    expect(await cache.get('stale')).toBe('new');
  });

  it('reads many keys in one query', async () => {
    const log = new QueryLog();
    const { cache } = await boot({ options: { createTable: true } }, log);
    await cache.setMany({ a: 1, b: 2, c: 3, d: 4 });
    log.queries.length = 0;
    expect(await cache.getMany(['a', 'b', 'c', 'x'])).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]),
    );
    expect(log.queries).toHaveLength(1);
    expect(log.queries[0]).toMatch(/^SELECT .* WHERE cache_key IN \(/);
  });

  it('increments atomically: concurrent increments all count', async () => {
    const { cache } = await boot({ options: { createTable: true } });
    await cache.set('counter', 0);
    await Promise.all(Array.from({ length: 20 }, () => cache.incr('counter')));
    expect(await cache.get('counter')).toBe(20);
  });

  it('culls expired rows first, and only then the first keys in cache_key order', async () => {
    const table = uniqueTable();
    const { cache, dataSource } = await boot({
      location: table,
      options: { createTable: true, maxEntries: 4, cullFrequency: 2 },
    });
    const keys = async () =>
      (await dataSource.query(`SELECT cache_key FROM ${dataSource.driver.escape(table)} ORDER BY cache_key`)).map(
        (row: any) => row.cache_key,
      );

    // Live keys sort first: culling by key order alone would remove them.
    await cache.set('a', 1, 1000);
    await cache.set('b', 2, 1000);
    await cache.set('y', 3, 0.05);
    await cache.set('z', 4, 0.05);
    await sleep(100);
    await cache.set('e', 5, 1000);
    expect(await keys()).toEqual([':1:a', ':1:b', ':1:e']);

    // Full of live rows: half of them go, the first in key order.
    await cache.set('f', 6, 1000);
    await cache.set('g', 7, 1000);
    expect(await keys()).toEqual([':1:e', ':1:f', ':1:g']);
  });

  it('runs no COUNT(*) per write: counted now and then, kept by its own writes, overwrites adding no row', async () => {
    const log = new QueryLog();
    const table = uniqueTable();
    const { cache, dataSource } = await boot(
      { location: table, options: { createTable: true, maxEntries: 1000 } },
      log,
    );
    const counts = () => log.queries.filter((sql) => /^SELECT COUNT\(\*\)/i.test(sql)).length;
    for (let i = 0; i < 300; i++) await cache.set(`key-${i}`, i);
    for (let i = 0; i < 300; i++) await cache.set(`key-${i % 10}`, i);
    await cache.setMany({ 'key-1': 1, 'key-2': 2 });
    expect(await cache.add('key-3', 'taken')).toBe(false);
    // Django counts before each of these 602 writes.
    expect(counts()).toBeLessThanOrEqual(16);
    const [{ n }] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${dataSource.driver.escape(table)}`);
    expect(Number(n)).toBe(300);
  }, 60_000);

  it('culls exactly when a count before every write would', async () => {
    const table = uniqueTable();
    const { cache, dataSource } = await boot({
      location: table,
      options: { createTable: true, maxEntries: 200, cullFrequency: 2 },
    });
    const rows = async () =>
      Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${dataSource.driver.escape(table)}`))[0].n);
    for (let i = 0; i < 200; i++) await cache.set(`a-${i}`, i);
    expect(await rows()).toBe(200); // full, not culled
    await cache.set('b', 1);
    expect(await rows()).toBe(101); // half of 200 went before the write
    await cache.deleteMany(['b', 'a-99']);
    for (let i = 0; i < 101; i++) await cache.set(`c-${i}`, i);
    expect(await rows()).toBe(200);
    await cache.set('d', 1);
    expect(await rows()).toBe(101);
  }, 60_000);

  it('4 processes adding keys keep the table within maxEntries + 10 %', async () => {
    const maxEntries = 500;
    const table = uniqueTable();
    const { dataSource } = await boot({ location: table, options: { createTable: true } });
    const worker = join(import.meta.dirname, 'database-filler-worker.ts');
    const register = join(import.meta.dirname, '..', 'support', 'register-ts.mjs');
    const type = dataSource.driver.options.type;
    const database = driver.workerDatabase(dataSource);
    // Several processes writing one SQLite file: the journal mode they would use (readers do not block writers).
    if (type === 'better-sqlite3') await dataSource.query('PRAGMA journal_mode = WAL');
    let done = false;
    const workers = Promise.all(
      [1, 2, 3, 4].map((id) =>
        run(process.execPath, [
          '--import',
          register,
          worker,
          type,
          database,
          table,
          String(id),
          '1500',
          String(maxEntries),
        ]),
      ),
    ).finally(() => (done = true));
    const rows = async () =>
      Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${dataSource.driver.escape(table)}`))[0].n);
    let most = 0;
    while (!done) {
      most = Math.max(most, await rows());
      await sleep(5);
    }
    await workers;
    expect(most).toBeGreaterThan(maxEntries * 0.9); // it did fill up
    expect(most).toBeLessThanOrEqual(maxEntries * 1.1);
    expect(await rows()).toBeLessThanOrEqual(maxEntries * 1.1);
  }, 120_000);
});
