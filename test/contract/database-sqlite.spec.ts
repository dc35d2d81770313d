import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import { TypeOrmModule } from '@nestjs/typeorm';
import { describeCacheContract } from './cache-contract.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-contract-db-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeCacheContract('database (SQLite, better-sqlite3)', {
  entry: (name, overrides) => ({
    backend: 'database',
    location: `cache_${name.replace(/\W/g, '_')}`,
    ...overrides,
    options: { createTable: true },
  }),
  imports: () => [TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(root, 'cache.sqlite') })],
  culls: true,
});
