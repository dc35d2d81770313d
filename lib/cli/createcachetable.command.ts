import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DataSource } from 'typeorm';
import { cacheTableExists, createTableStatements, ensureCacheTable } from '../backends/database/cache-table.js';

/** Where the command writes: the real streams in the CLI, buffers in tests. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export const CREATECACHETABLE_USAGE = `Usage: nestjs-caches createcachetable <table> [<table> ...] --datasource <file> [--dry-run]

Creates Django's cache table (cache_key varchar(255) primary key, value text, expires timestamp,
indexed on expires) for each table named, unless it exists.

  --datasource, -d <file>  a module exporting a TypeORM DataSource (default export, or a named
                           export dataSource or AppDataSource), as TypeORM's own CLI takes
  --dry-run                print the SQL and change nothing`;

/**
 * `nestjs-caches createcachetable`: like Django's command, and idempotent (a table that exists is
 * left alone). Returns the process exit code.
 *
 * @example await createCacheTableCommand(['my_cache_table', '--datasource', 'dist/data-source.js'], console)
 */
export async function createCacheTableCommand(args: readonly string[], output: CliOutput): Promise<number> {
  const tables: string[] = [];
  let dataSourcePath: string | undefined;
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--datasource' || arg === '-d') dataSourcePath = args[++i];
    else if (arg.startsWith('--datasource=')) dataSourcePath = arg.slice('--datasource='.length);
    else if (arg === '--help' || arg === '-h') {
      output.out(CREATECACHETABLE_USAGE);
      return 0;
    } else if (arg.startsWith('-')) return usageError(output, `unknown option ${arg}`);
    else tables.push(arg);
  }
  if (tables.length === 0) return usageError(output, 'name at least one table (the location of a database alias)');
  if (!dataSourcePath) return usageError(output, '--datasource <file> is required');

  const dataSource = await loadDataSource(dataSourcePath);
  if (dryRun) {
    // The SQL depends only on the driver: nothing is opened, so nothing is created.
    for (const table of tables) for (const sql of createTableStatements(dataSource, table)) output.out(`${sql};`);
    return 0;
  }
  const initializedHere = !dataSource.isInitialized;
  if (initializedHere) await dataSource.initialize();
  try {
    for (const table of tables) {
      if (await cacheTableExists(dataSource, table)) {
        output.out(`Cache table '${table}' already exists.`);
        continue;
      }
      await ensureCacheTable(dataSource, table);
      output.out(`Cache table '${table}' created.`);
    }
  } finally {
    if (initializedHere) await dataSource.destroy();
  }
  return 0;
}

/** Reads the DataSource a module exports, as TypeORM's CLI does with `-d`. */
export async function loadDataSource(path: string): Promise<DataSource> {
  const exports = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const candidates = [exports.default, exports.dataSource, exports.AppDataSource, ...Object.values(exports)];
  const found = candidates.find(isDataSource);
  if (!found) {
    throw new Error(
      `${path} exports no TypeORM DataSource: export one as the default export, or as dataSource or AppDataSource.`,
    );
  }
  return found;
}

/** A TypeORM DataSource, told by its shape: the app's typeorm may be another copy than ours. */
export function isDataSource(value: unknown): value is DataSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as DataSource).initialize === 'function' &&
    typeof (value as DataSource).driver === 'object'
  );
}

function usageError(output: CliOutput, problem: string): number {
  output.err(`createcachetable: ${problem}.\n\n${CREATECACHETABLE_USAGE}`);
  return 2;
}
