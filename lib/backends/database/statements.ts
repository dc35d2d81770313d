import type { DataSource, QueryResult, QueryRunner } from 'typeorm';
import { encodeValue } from '../../core/serializer.js';
import type { TtlMs } from '../../core/timeouts.js';

// Django's datetime.max: what "never expires" is stored as.
const NEVER = '9999-12-31 23:59:59.999';
const NEVER_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** Where a statement runs: on a connection of the pool, or in a transaction's. */
export interface Runner {
  run(sql: string, parameters: unknown[]): Promise<QueryResult>;
}

export function transactionRunner(queryRunner: QueryRunner | undefined): Runner {
  if (!queryRunner) throw new Error('a TypeORM transaction without its query runner');
  return { run: (sql, parameters) => queryRunner.query(sql, parameters, true) };
}

/** The SQL of one table, written once with the driver's placeholders and quoting. */
export class Statements {
  readonly table: string;
  readonly onConflictUpdate =
    'ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, expires = excluded.expires';
  /** PostgreSQL's rows say whether the upsert created them (a new row version has no `xmax`); SQLite's cannot. */
  readonly returnCreated: string;
  readonly has: string;
  readonly getLive: string;
  readonly upsert: string;
  readonly add: string;
  readonly replace: string;
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
    this.replace = `UPDATE ${t} SET value = ${p(0)}, expires = ${p(1)} WHERE cache_key = ${p(2)}`;
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

export function encode(key: string, value: unknown): string {
  return encodeValue(value, key).toString('base64');
}

/**
 * A UTC timestamp as text, `YYYY-MM-DD HH:MM:SS.mmm`: PostgreSQL reads it into a `timestamp`, and
 * on SQLite (which keeps it as text) the fixed width makes text order time order.
 */
export function timestamp(ms: number): string {
  if (ms >= NEVER_MS) return NEVER;
  return new Date(Math.max(ms, 0)).toISOString().replace('T', ' ').slice(0, 23);
}

export function expiresOf(ttlMs: TtlMs): string {
  return ttlMs === null ? NEVER : timestamp(Date.now() + ttlMs);
}

/** A boolean from SQL: PostgreSQL gives true/false, SQLite 1/0. */
export function isTrue(value: unknown): boolean {
  return value === true || value === 1 || value === 't';
}
