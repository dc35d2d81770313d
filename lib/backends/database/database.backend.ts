import type { DataSource, QueryResult } from 'typeorm';
import { CacheConfigError } from '../../core/errors.js';
import { decodeValue } from '../../core/serializer.js';
import type { TtlMs } from '../../core/timeouts.js';
import { addDelta } from '../../core/values.js';
import { MISS, type CacheBackend, type EntryTally, type Miss } from '../../interfaces/cache-backend.interface.js';
import { EntryCount } from '../entry-count.js';
import { cacheTableExists, ensureCacheTable } from './cache-table.js';
import { encode, expiresOf, isTrue, Statements, timestamp, transactionRunner, type Runner } from './statements.js';

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

// Rows per multi-row statement: far below SQLite's (32766) and PostgreSQL's (65535) parameter limits.
const ROWS_PER_STATEMENT = 500;
const CAS_ATTEMPTS = 100;

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
    const expires = expiresOf(ttlMs);
    await this.cull();
    const s = this.statements();
    if (s.returnCreated) {
      this.rows.added((await this.insert(this.pool, s.upsert, [key, encoded, expires], [key])).created);
      return;
    }
    // SQLite's upsert cannot say whether it created its row: an update of the key's row first
    // can, in the one statement a set over an existing key needs (no look-up beside the upsert).
    if (((await this.run(s.replace, [encoded, expires, key])).affected ?? 0) > 0) return;
    // No row had the key: the upsert creates it, unless another write of the key came in
    // between (then the count is one high until the next count).
    this.rows.added((await this.run(s.upsert, [key, encoded, expires])).affected ?? 0);
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

  /** Rows of the table, expired ones included until culled (`nestjs-caches stats`). */
  async count(): Promise<EntryTally> {
    const rows = Number((await this.query(this.statements().count, []))[0].count);
    return { entries: rows, description: `${rows} rows` };
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
