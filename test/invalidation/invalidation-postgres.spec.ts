import { beforeAll } from '@jest/globals';
import pg from 'pg';
import { redisDb } from '../support/addresses.js';
import { describeInvalidation } from './invalidation-scenarios.js';

const url = process.env.POSTGRES_URL;
if (!url) throw new Error('POSTGRES_URL is not set: run the tests with `npm test`, which starts PostgreSQL.');
// A schema of its own, so that other test files on the same database never see these tables.
const schema = 'invalidation_test';

beforeAll(async () => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } finally {
    await client.end();
  }
});

// Generations in redis: the store several app instances would share.
describeInvalidation('PostgreSQL, redis', {
  dataSource: () => ({ type: 'postgres', url, schema }),
  cache: () => ({ backend: 'redis', location: redisDb(11) }),
});
