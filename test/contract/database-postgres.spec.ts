import { TypeOrmModule } from '@nestjs/typeorm';
import { describeCacheContract } from './cache-contract.js';

const url = process.env.POSTGRES_URL;
if (!url) throw new Error('POSTGRES_URL is not set: run the tests with `npm test`, which starts PostgreSQL.');

describeCacheContract('database (PostgreSQL)', {
  entry: (name, overrides) => ({
    backend: 'database',
    location: `contract_cache_${name.replace(/\W/g, '_')}`,
    ...overrides,
    options: { createTable: true },
  }),
  imports: () => [TypeOrmModule.forRoot({ type: 'postgres', url })],
  culls: true,
});
