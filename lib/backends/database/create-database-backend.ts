import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CacheConfigError } from '../../core/errors.js';
import { checkOptionNames, integerOption } from '../../core/resolve-config.js';
import type { BackendContext, ResolvedCacheEntry } from '../../interfaces/cache-options.interface.js';
import { DatabaseBackend, type DatabaseOptions } from './database.backend.js';

const OPTION_NAMES = ['dataSource', 'createTable', 'maxEntries', 'cullFrequency'];

/** Builds the backend of a `backend: 'database'` alias; the DataSource is looked up at bootstrap. */
export function createDatabaseBackend(entry: ResolvedCacheEntry, context: BackendContext): DatabaseBackend {
  checkOptionNames(entry, OPTION_NAMES);
  const table = entry.location;
  if (typeof table !== 'string' || table === '') {
    throw new CacheConfigError(
      `caches.${entry.alias}.location: the database backend needs a table name, e.g. 'my_cache_table'.`,
    );
  }
  const { dataSource, createTable = false } = entry.options;
  if (dataSource !== undefined && typeof dataSource !== 'string') {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.dataSource must be the name of a TypeOrmModule connection; got ${typeof dataSource}.`,
    );
  }
  if (typeof createTable !== 'boolean') {
    throw new CacheConfigError(`caches.${entry.alias}.options.createTable must be true or false.`);
  }
  const options: DatabaseOptions = {
    table,
    dataSource,
    createTable,
    maxEntries: integerOption(entry, 'maxEntries', 300, 1),
    cullFrequency: integerOption(entry, 'cullFrequency', 3, 0),
  };
  return new DatabaseBackend(entry.alias, options, () => findDataSource(entry.alias, dataSource, context));
}

function findDataSource(alias: string, name: string | undefined, context: BackendContext): DataSource {
  let dataSource: DataSource | undefined;
  try {
    dataSource = context.moduleRef.get<DataSource>(getDataSourceToken(name) as never, { strict: false });
  } catch {
    dataSource = undefined;
  }
  if (!dataSource) {
    throw new CacheConfigError(
      `caches.${alias}.options.dataSource: no TypeORM DataSource ${name ? `named '${name}'` : '(the default one)'} was found. Import TypeOrmModule.forRoot(${name ? `{ name: '${name}', ... }` : '{ ... }'}) in the application module.`,
    );
  }
  return dataSource;
}
