import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import { describeInvalidation } from './invalidation-scenarios.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-invalidation-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let stores = 0;
describeInvalidation('SQLite (better-sqlite3), locmem', {
  dataSource: () => ({ type: 'better-sqlite3', database: join(root, 'library.sqlite') }),
  cache: () => ({ backend: 'locmem', location: `invalidation-sqlite-${++stores}` }),
});
