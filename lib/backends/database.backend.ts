import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource, QueryResult, QueryRunner } from 'typeorm';
import { addDelta } from '../core/values.js';
import { CacheConfigError } from '../core/errors.js';
import { checkOptionNames, integerOption } from '../core/resolve-config.js';
import { decodeValue, encodeValue } from '../core/serializer.js';
import type { TtlMs } from '../core/timeouts.js';
import { MISS, type CacheBackend, type Miss } from '../interfaces/cache-backend.interface.js';
import type { BackendContext, ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';
import { EntryCount } from './entry-count.js';

export interface DatabaseOptions {
  /** The table (Django's LOCATION). */
  table: string;
  /** A `@nestjs/typeorm` connection name; `undefined` is the default DataSource. */
  dataSource: string | undefined;
  /** Creates the table at bootstrap when it is missing, instead of failing. */
  createTable: boolean;
  maxEntries: number;
  cullFrequency: number;
}

const OPTION_NAMES = ['dataSource', 'createTable', 'maxEntries', 'cullFrequency'];
// Django's datetime.max: what "never expires" is stored as.
const NEVER = '9999-12-31 23:59:59.999';
const NEVER_MS = Date.parse('9999-12-31T23:59:59.999Z');
// Rows per multi-row statement: far below SQLite's (32766) and PostgreSQL's (65535) parameter limits.
const ROWS_PER_STATEMENT = 500;
const CAS_ATTEMPTS = 100;

/** Builds the backend of a `backend: 'database'` alias; the DataSource is looked up at bootstrap. */
export function createDatabaseBackend(entry: ResolvedCacheEntry, context: BackendContext): DatabaseBackend {
  checkOptionNames(entry, OPTION_NAMES);
  const table = entry.location;
  if (typeof table !== 'string' || table === '') {
    throw new CacheConfigError(
      `caches.${entry.alias}.location: the database backend needs a table name, e.g. 'my_cache_table'.`,
    );
  }
  const { dataSource, createTable = false } = entry.options;
  if (dataSource !== undefined && typeof dataSource !== 'string') {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.dataSource must be the name of a TypeOrmModule connection; got ${typeof dataSource}.`,
    );
  }
  if (typeof createTable !== 'boolean') {
    throw new CacheConfigError(`caches.${entry.alias}.options.createTable must be true or false.`);
  }
  const options: DatabaseOptions = {
    table,
    dataSource,
    createTable,
    maxEntries: integerOption(entry, 'maxEntries', 300, 1),
    cullFrequency: integerOption(entry, 'cullFrequency', 3, 0),
  };
  return new DatabaseBackend(entry.alias, options, () => findDataSource(entry.alias, dataSource, context));
}

function findDataSource(alias: string, name: string | undefined, context: BackendContext): DataSource {
  let dataSource: DataSource | undefined;
  try {
    dataSource = context.moduleRef.get<DataSource>(getDataSourceToken(name) as never, { strict: false });
  } catch {
    dataSource = undefined;
  }
  if (!dataSource) {
    throw new CacheConfigError(
      `caches.${alias}.options.dataSource: no TypeORM DataSource ${name ? `named '${name}'` : '(the default one)'} was found. Import TypeOrmModule.forRoot(${name ? `{ name: '${name}', ... }` : '{ ... }'}) in the application module.`,
    );
  }
  return dataSource;
}

/** The SQL that creates Django's cache table and its index on `expires`; idempotent. */
export function createTableStatements(dataSource: DataSource, table: string): string[] {
  const t = dataSource.driver.escape(table);
  const index = dataSource.driver.escape(`${table}_expires`);
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (cache_key varchar(255) NOT NULL PRIMARY KEY, value text NOT NULL, expires timestamp NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${index} ON ${t} (expires)`,
  ];
}

/** Creates the table unless it exists; concurrent callers for one table share the work. */
export async function ensureCacheTable(dataSource: DataSource, table: string): Promise<void> {
  let tables = creations.get(dataSource);
  if (!tables) creations.set(dataSource, (tables = new Map()));
  let creation = tables.get(table);
  if (!creation) {
    creation = (async () => {
      for (const sql of createTableStatements(dataSource, table)) await dataSource.query(sql);
    })();
    tables.set(table, creation);
    creation.catch(() => tables.delete(table));
  }
  await creation;
}
const creations = new WeakMap<DataSource, Map<string, Promise<void>>>();

export async function cacheTableExists(dataSource: DataSource, table: string): Promise<boolean> {
  const runner = dataSource.createQueryRunner();
  try {
    return await runner.hasTable(table);
  } finally {
    await runner.release();
  }
}

/**
 * Django's DatabaseCache on a TypeORM DataSource (better-sqlite3 and PostgreSQL, one code path):
 * the value is base64 of the V8 serialization, `expires` a UTC timestamp compared in SQL against
 * the time passed as a parameter. Each operation is one statement where it can be: `add` is an
 * upsert whose update only applies to an expired row (atomic through the primary key), `incr` a
 * compare-and-set on the old value, `getMany` one `IN (...)` select. The number of rows is kept
 * between counts (see `EntryCount`), so a write runs no `COUNT(*)`.
 */
export class DatabaseBackend implements CacheBackend {
  private dataSource: DataSource | undefined;
  private sql: Statements | undefined;
  private readonly rows: EntryCount;
  private readonly pool: Runner = { run: (sql, parameters) => this.run(sql, parameters) };

  constructor(
    private readonly alias: string,
    private readonly options: DatabaseOptions,
    private readonly resolveDataSource: () => DataSource,
  ) {
    this.rows = new EntryCount(options.maxEntries);
  }

  /** At bootstrap: the DataSource exists by now; check (or create) the table. */
  async init(): Promise<void> {
    const dataSource = this.source();
    if (!dataSource.isInitialized) await dataSource.initialize();
    if (this.options.createTable) return ensureCacheTable(dataSource, this.options.table);
    if (!(await cacheTableExists(dataSource, this.options.table))) {
      throw new CacheConfigError(
        `caches.${this.alias}: the cache table '${this.options.table}' does not exist. Create it with \`npx nestjs-caches createcachetable ${this.options.table} --datasource <your data-source file>\`, or set caches.${this.alias}.options.createTable: true to create it at boot.`,
      );
    }
  }

  async get(key: string): Promise<unknown> {
    return (await this.getMany([key]))[0];
  }

  async has(key: string): Promise<boolean> {
    const rows = await this.query(this.statements().has, [key, timestamp(Date.now())]);
    return rows.length > 0;
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    const found = new Map<string, unknown>();
    if (keys.length === 0) return [];
    const now = timestamp(Date.now());
    const unique = [...new Set(keys)];
    const expired: string[] = [];
    for (let start = 0; start < unique.length; start += ROWS_PER_STATEMENT) {
      const chunk = unique.slice(start, start + ROWS_PER_STATEMENT);
      const s = this.statements();
      const rows = await this.query(
        `SELECT cache_key, value, expires > ${s.p(0)} AS live FROM ${s.table} WHERE cache_key IN (${s.list(1, chunk.length)})`,
        [now, ...chunk],
      );
      for (const row of rows) {
        if (isTrue(row.live)) found.set(row.cache_key, decodeValue(Buffer.from(row.value, 'base64')));
        else expired.push(row.cache_key);
      }
    }
    // Django deletes what it found expired; the `expires` check spares a row set again meanwhile.
    if (expired.length > 0) await this.deleteWhere(expired, now);
    return keys.map((key) => (found.has(key) ? found.get(key) : MISS));
  }

  async set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    const encoded = encode(key, value);
    await this.cull();
    const { created } = await this.insert(this.pool, this.statements().upsert, [key, encoded, expiresOf(ttlMs)], [key]);
    this.rows.added(created);
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    // The last value of a repeated key wins, and one upsert may not touch a row twice.
    const rows = [...new Map(entries.map(([key, value]) => [key, encode(key, value)] as const))];
    if (rows.length === 0) return [];
    await this.cull();
    const expires = expiresOf(ttlMs);
    const write = async (runner: Runner) => {
      let created = 0;
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        const chunk = rows.slice(start, start + ROWS_PER_STATEMENT);
        const s = this.statements();
        const values = chunk.map((_, i) => `(${s.p(i * 3)}, ${s.p(i * 3 + 1)}, ${s.p(i * 3 + 2)})`).join(', ');
        created += (
          await this.insert(
            runner,
            `INSERT INTO ${s.table} (cache_key, value, expires) VALUES ${values} ${s.onConflictUpdate}${s.returnCreated}`,
            chunk.flatMap(([key, encoded]) => [key, encoded, expires]),
            chunk.map(([key]) => key),
          )
        ).created;
      }
      return created;
    };
    // One statement is atomic on its own; several need a transaction to store all or nothing.
    // Counted once the transaction is in: a rolled-back write created nothing.
    this.rows.added(
      rows.length <= ROWS_PER_STATEMENT
        ? await write(this.pool)
        : await this.source().transaction((manager) => write(transactionRunner(manager.queryRunner))),
    );
    return [];
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    const encoded = encode(key, value);
    await this.cull();
    const s = this.statements();
    const { affected, created } = await this.insert(
      this.pool,
      s.add,
      [key, encoded, expiresOf(ttlMs), timestamp(Date.now())],
      [key],
    );
    this.rows.added(created);
    return affected > 0;
  }

  /** A compare-and-set on the stored text: atomic without a transaction, retried on a race. */
  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    const s = this.statements();
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const rows = await this.query(s.getLive, [key, timestamp(Date.now())]);
      if (rows.length === 0) return MISS;
      const stored: string = rows[0].value;
      const next = addDelta(decodeValue(Buffer.from(stored, 'base64')), delta, key);
      const result = await this.run(s.compareAndSet, [encode(key, next), key, stored]);
      if ((result.affected ?? 0) > 0) return next;
    }
    throw new Error(`incr of '${key}' lost the race ${CAS_ATTEMPTS} times in a row`);
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    const now = timestamp(Date.now());
    const s = this.statements();
    if (ttlMs !== null && ttlMs <= 0) return (await this.remove(s.deleteLive, [key, now])) > 0;
    return ((await this.run(s.touch, [expiresOf(ttlMs), key, now])).affected ?? 0) > 0;
  }

  /** `true` only when a live row went: an expired one was already gone as far as callers know. */
  async delete(key: string): Promise<boolean> {
    return (await this.remove(this.statements().deleteLive, [key, timestamp(Date.now())])) > 0;
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const unique = [...new Set(keys)];
    for (let start = 0; start < unique.length; start += ROWS_PER_STATEMENT) {
      const chunk = unique.slice(start, start + ROWS_PER_STATEMENT);
      const s = this.statements();
      await this.remove(`DELETE FROM ${s.table} WHERE cache_key IN (${s.list(0, chunk.length)})`, chunk);
    }
  }

  /** The table belongs to the cache, as in Django: every row goes. */
  async clear(): Promise<void> {
    await this.query(`DELETE FROM ${this.statements().table}`, []);
    this.rows.counted(0);
  }

  /**
   * Django's `_cull`: at `maxEntries` rows, first drop the expired ones; if still full, drop the
   * first `count / cullFrequency` keys in `cache_key` order (`0`: every row). Decided on a
   * `COUNT(*)` only when the kept count is due for one.
   */
  private cull(): Promise<void> {
    return this.rows.beforeWrite(async () => {
      const s = this.statements();
      let count = Number((await this.query(s.count, []))[0].count);
      this.rows.counted(count);
      if (count < this.options.maxEntries) return;
      count -= await this.remove(s.deleteExpired, [timestamp(Date.now())]);
      if (count < this.options.maxEntries) return;
      if (this.options.cullFrequency === 0) return this.clear();
      const victims = Math.floor(count / this.options.cullFrequency);
      if (victims > 0) await this.remove(s.cullFirst, [victims]);
    });
  }

  /**
   * Runs an insert or upsert of `keys`' rows, telling how many rows it created (a replaced row is
   * none): PostgreSQL's statement says so itself (`returnCreated`); on SQLite the keys already
   * present are looked up first, which another process's write in between can make one off until
   * the next count.
   */
  private async insert(
    runner: Runner,
    sql: string,
    parameters: unknown[],
    keys: string[],
  ): Promise<{ affected: number; created: number }> {
    const s = this.statements();
    let present = 0;
    if (!s.returnCreated) {
      const found = await runner.run(
        `SELECT cache_key FROM ${s.table} WHERE cache_key IN (${s.list(0, keys.length)})`,
        keys,
      );
      present = found.records?.length ?? 0;
    }
    const result = await runner.run(sql, parameters);
    let affected: number;
    let created: number;
    if (s.returnCreated) {
      const records = result.records ?? [];
      affected = records.length;
      created = records.filter((row) => isTrue(row.created)).length;
    } else {
      affected = result.affected ?? 0;
      created = Math.max(0, affected - present);
    }
    return { affected, created };
  }

  /** Runs a delete, keeping the row count; answers how many rows went. */
  private async remove(sql: string, parameters: unknown[]): Promise<number> {
    const removed = (await this.run(sql, parameters)).affected ?? 0;
    this.rows.removed(removed);
    return removed;
  }

  private async deleteWhere(keys: string[], now: string): Promise<void> {
    const s = this.statements();
    await this.remove(
      `DELETE FROM ${s.table} WHERE cache_key IN (${s.list(0, keys.length)}) AND expires <= ${s.p(keys.length)}`,
      [...keys, now],
    );
  }

  private source(): DataSource {
    return (this.dataSource ??= this.resolveDataSource());
  }

  private statements(): Statements {
    return (this.sql ??= new Statements(this.source(), this.options.table));
  }

  private async query(sql: string, parameters: unknown[]): Promise<any[]> {
    return (await this.run(sql, parameters)).records ?? [];
  }

  /** One statement with its structured result: rows, and the affected count on both drivers. */
  private async run(sql: string, parameters: unknown[]): Promise<QueryResult> {
    const runner = this.source().createQueryRunner();
    try {
      return await runner.query(sql, parameters, true);
    } finally {
      await runner.release();
    }
  }
}

/** Where a statement runs: on a connection of the pool, or in a transaction's. */
interface Runner {
  run(sql: string, parameters: unknown[]): Promise<QueryResult>;
}

function transactionRunner(queryRunner: QueryRunner | undefined): Runner {
  if (!queryRunner) throw new Error('a TypeORM transaction without its query runner');
  return { run: (sql, parameters) => queryRunner.query(sql, parameters, true) };
}

/** The SQL of one table, written once with the driver's placeholders and quoting. */
class Statements {
  readonly table: string;
  readonly onConflictUpdate =
    'ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, expires = excluded.expires';
  /** PostgreSQL's rows say whether the upsert created them (a new row version has no `xmax`); SQLite's cannot. */
  readonly returnCreated: string;
  readonly has: string;
  readonly getLive: string;
  readonly upsert: string;
  readonly add: string;
  readonly compareAndSet: string;
  readonly touch: string;
  readonly deleteLive: string;
  readonly deleteExpired: string;
  readonly count: string;
  readonly cullFirst: string;

  constructor(
    private readonly dataSource: DataSource,
    table: string,
  ) {
    const t = (this.table = dataSource.driver.escape(table));
    const p = (i: number) => this.p(i);
    this.returnCreated = dataSource.driver.options.type === 'postgres' ? ' RETURNING (xmax = 0) AS created' : '';
    this.has = `SELECT 1 AS found FROM ${t} WHERE cache_key = ${p(0)} AND expires > ${p(1)}`;
    this.getLive = `SELECT value FROM ${t} WHERE cache_key = ${p(0)} AND expires > ${p(1)}`;
    const upsert = `INSERT INTO ${t} (cache_key, value, expires) VALUES (${p(0)}, ${p(1)}, ${p(2)}) ${this.onConflictUpdate}`;
    this.upsert = upsert + this.returnCreated;
    // The update branch only runs over an expired row: a live one makes the statement change nothing.
    this.add = `${upsert} WHERE ${t}.expires <= ${p(3)}${this.returnCreated}`;
    this.compareAndSet = `UPDATE ${t} SET value = ${p(0)} WHERE cache_key = ${p(1)} AND value = ${p(2)}`;
    this.touch = `UPDATE ${t} SET expires = ${p(0)} WHERE cache_key = ${p(1)} AND expires > ${p(2)}`;
    this.deleteLive = `DELETE FROM ${t} WHERE cache_key = ${p(0)} AND expires > ${p(1)}`;
    this.deleteExpired = `DELETE FROM ${t} WHERE expires <= ${p(0)}`;
    this.count = `SELECT COUNT(*) AS count FROM ${t}`;
    this.cullFirst = `DELETE FROM ${t} WHERE cache_key < (SELECT cache_key FROM ${t} ORDER BY cache_key LIMIT 1 OFFSET ${p(0)})`;
  }

  /** The placeholder of the parameter at `index`: `?` on SQLite, `$n` on PostgreSQL. */
  p(index: number): string {
    return this.dataSource.driver.createParameter(`p${index}`, index);
  }

  list(from: number, count: number): string {
    return Array.from({ length: count }, (_, i) => this.p(from + i)).join(', ');
  }
}

function encode(key: string, value: unknown): string {
  return encodeValue(value, key).toString('base64');
}

/**
 * A UTC timestamp as text, `YYYY-MM-DD HH:MM:SS.mmm`: PostgreSQL reads it into a `timestamp`, and
 * on SQLite (which keeps it as text) the fixed width makes text order time order.
 */
function timestamp(ms: number): string {
  if (ms >= NEVER_MS) return NEVER;
  return new Date(Math.max(ms, 0)).toISOString().replace('T', ' ').slice(0, 23);
}

function expiresOf(ttlMs: TtlMs): string {
  return ttlMs === null ? NEVER : timestamp(Date.now() + ttlMs);
}

/** A boolean from SQL: PostgreSQL gives true/false, SQLite 1/0. */
function isTrue(value: unknown): boolean {
  return value === true || value === 1 || value === 't';
}
