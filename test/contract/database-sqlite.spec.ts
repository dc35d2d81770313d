import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import { TypeOrmModule } from '@nestjs/typeorm';
import { describeCacheBackendContract } from '../../lib/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-contract-db-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeCacheBackendContract(
  'database (SQLite, better-sqlite3)',
  (store) => ({ backend: 'database', location: `cache_${store.replace(/\W/g, '_')}`, options: { createTable: true } }),
  {
    imports: () => [TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(root, 'cache.sqlite') })],
    culls: true,
  },
);
