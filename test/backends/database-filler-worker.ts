// One of several processes adding new keys to one database cache table, each keeping its own
// count of the rows: the test watches how far the table grows past maxEntries.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { DatabaseBackend } from '../../lib/backends/database/database.backend.js';

const [type, database, table, workerId, writes, maxEntries] = process.argv.slice(2) as [
  'postgres' | 'better-sqlite3',
  string,
  string,
  string,
  string,
  string,
];
const dataSource = new DataSource(type === 'postgres' ? { type, url: database } : { type, database });
await dataSource.initialize();
const backend = new DatabaseBackend(
  'default',
  { table, dataSource: undefined, createTable: true, maxEntries: Number(maxEntries), cullFrequency: 3 },
  () => dataSource,
);
await backend.init();
for (let i = 0; i < Number(writes); i++) await backend.set(`worker-${workerId}-key-${i}`, i, 60_000);
await dataSource.destroy();
