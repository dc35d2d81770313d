import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import { describeCacheBackendContract } from '../../lib/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-contract-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeCacheBackendContract('filesystem', (store) => ({ backend: 'filesystem', location: join(root, store) }), {
  culls: true,
});
