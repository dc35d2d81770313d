import type { DataSource } from 'typeorm';

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
