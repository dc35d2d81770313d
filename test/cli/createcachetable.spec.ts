import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataSource } from 'typeorm';
import { cli } from '../support/run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The data-source module lives outside the project, so it imports TypeORM by its resolved path.
const typeormUrl = pathToFileURL(createRequire(import.meta.url).resolve('typeorm')).href;

/** A directory with a data-source module, as an application keeps for TypeORM's CLI. */
function project(exportLine: string): { dataSourceFile: string; database: string } {
  const dir = mkdtempSync(join(root, 'app-'));
  const database = join(dir, 'app.sqlite');
  const dataSourceFile = join(dir, 'data-source.mjs');
  writeFileSync(
    dataSourceFile,
    `import { DataSource } from '${typeormUrl}';\n${exportLine.replace('$DS', `new DataSource({ type: 'better-sqlite3', database: ${JSON.stringify(database)} })`)}\n`,
  );
  return { dataSourceFile, database };
}

/** Runs queries on the SQLite file the CLI wrote, through a DataSource of the test's own. */
async function inspect<T>(database: string, use: (db: DataSource) => Promise<T>): Promise<T> {
  const db = await new DataSource({ type: 'better-sqlite3', database }).initialize();
  try {
    return await use(db);
  } finally {
    await db.destroy();
  }
}

const tablesOf = (database: string): Promise<string[]> =>
  inspect(database, async (db) =>
    (await db.query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)).map((row: any) => row.name),
  );

describe('npx nestjs-caches createcachetable', () => {
  it('prints the SQL with --dry-run and creates nothing', async () => {
    const { dataSourceFile, database } = project('export default $DS;');
    const result = await cli('createcachetable', 'my_cache_table', '--datasource', dataSourceFile, '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'CREATE TABLE IF NOT EXISTS "my_cache_table" (cache_key varchar(255) NOT NULL PRIMARY KEY, value text NOT NULL, expires timestamp NOT NULL);',
    );
    expect(result.stdout).toContain(
      'CREATE INDEX IF NOT EXISTS "my_cache_table_expires" ON "my_cache_table" (expires);',
    );
    expect(existsSync(database)).toBe(false);
  });

  it("creates Django's table, and a second run changes nothing", async () => {
    const { dataSourceFile, database } = project('export const AppDataSource = $DS;');
    const first = await cli('createcachetable', 'my_cache_table', '--datasource', dataSourceFile);
    expect(first).toMatchObject({ code: 0, stdout: "Cache table 'my_cache_table' created.\n" });
    expect(await tablesOf(database)).toEqual(['my_cache_table']);
    const columns = await inspect(database, async (db) => {
      await db.query(`INSERT INTO my_cache_table VALUES ('k', 'dg==', '9999-12-31 23:59:59.999')`);
      return (await db.query(`PRAGMA table_info(my_cache_table)`)) as Array<{ name: string; type: string }>;
    });
    expect(columns.map((c) => `${c.name} ${c.type.toLowerCase()}`)).toEqual([
      'cache_key varchar(255)',
      'value text',
      'expires timestamp',
    ]);

    const second = await cli('createcachetable', 'my_cache_table', '--datasource', dataSourceFile);
    expect(second).toMatchObject({ code: 0, stdout: "Cache table 'my_cache_table' already exists.\n" });
    expect(await inspect(database, (db) => db.query('SELECT COUNT(*) AS n FROM my_cache_table'))).toEqual([{ n: 1 }]);
  });

  it('explains what is missing, with the usage', async () => {
    const noTable = await cli('createcachetable', '--datasource', 'x.mjs');
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toContain('name at least one table');
    const noDataSource = await cli('createcachetable', 'my_cache_table');
    expect(noDataSource.code).toBe(2);
    expect(noDataSource.stderr).toContain('--datasource <file> is required');
    const { dataSourceFile } = project('export const somethingElse = 1;');
    const wrongModule = await cli('createcachetable', 'my_cache_table', '--datasource', dataSourceFile);
    expect(wrongModule.code).toBe(1);
    expect(wrongModule.stderr).toContain('exports no TypeORM DataSource');
  });
});
