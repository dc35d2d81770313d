import { TypeOrmModule } from '@nestjs/typeorm';
import { describeCacheBackendContract } from '../../lib/testing/index.js';

const url = process.env.POSTGRES_URL;
if (!url) throw new Error('POSTGRES_URL is not set: run the tests with `npm test`, which starts PostgreSQL.');

describeCacheBackendContract(
  'database (PostgreSQL)',
  (store) => ({
    backend: 'database',
    location: `contract_cache_${store.replace(/\W/g, '_')}`,
    options: { createTable: true },
  }),
  {
    imports: () => [TypeOrmModule.forRoot({ type: 'postgres', url })],
    culls: true,
  },
);
