import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import { describeCacheContract } from './cache-contract.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-contract-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeCacheContract('filesystem', {
  entry: (name, overrides) => ({ backend: 'filesystem', location: join(root, name), ...overrides }),
  culls: true,
});
