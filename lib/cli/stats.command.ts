import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { Cache } from '../core/cache.js';
import { clearPatternOf } from '../core/keys.js';
import type { ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';
import type { CliOutput } from './createcachetable.command.js';
import { CONFIG_OPTIONS_USAGE, loadCaches, takeCacheSource, type LoadedCaches } from './load-caches.js';

export const STATS_USAGE = `Usage: nestjs-caches stats (--config <file> | --module <file>#<Class>) [--timeout-ms <ms>]

Prints, for each alias, what can be known from outside the application: whether the backend
answers a write and a read (and how fast), and how many entries it holds where that is cheap
to count. Hit and miss counters (cache.stats()) live in each application process: read them
there, or through the Prometheus metrics.

  entries: filesystem   cache files in the directory and their bytes (expired ones included)
           database     rows in the table (expired ones included until culled)
           redis        keys matching the alias's prefix (SCAN), and the keys in the database
           memcached    items and bytes of each server (the whole server, every alias)
           locmem       n/a: each application process has its own
${CONFIG_OPTIONS_USAGE}
  --timeout-ms <ms>            how long the round trip may take (2000)`;

const FILE_EXTENSION = '.ncache';

/**
 * `nestjs-caches stats`. Returns the process exit code.
 *
 * @example await statsCommand(['--config', 'dist/caches.js'], console)
 */
export async function statsCommand(args: readonly string[], output: CliOutput): Promise<number> {
  const { source, rest } = takeCacheSource(args);
  let timeoutMs = 2000;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--help' || arg === '-h') {
      output.out(STATS_USAGE);
      return 0;
    }
    if (arg === '--timeout-ms') timeoutMs = Number(rest[++i]);
    else return usageError(output, `unexpected argument ${arg}`);
  }
  if (!(timeoutMs > 0)) return usageError(output, '--timeout-ms must be a number of milliseconds > 0');
  if (source.config === undefined && source.module === undefined)
    return usageError(output, '--config <file> or --module <file>#<Class> is required');

  const loaded = await loadCaches(source);
  try {
    const rows: string[][] = [['alias', 'backend', 'round trip', 'entries']];
    for (const entry of loaded.entries) {
      const cache = loaded.caches.get(entry.alias);
      const backend = typeof entry.backend === 'string' ? entry.backend : entry.backend.name || 'custom';
      // Counted before the round trip, which writes (and removes) an entry of its own.
      const entries = await countEntries(entry, loaded).catch(
        (error: unknown) => `unknown: ${firstLine((error as Error)?.message ?? String(error))}`,
      );
      const reach = await roundTrip(cache, entry, timeoutMs);
      rows.push([entry.alias, backend, reach, entries]);
    }
    for (const line of table(rows)) output.out(line);
    return 0;
  } finally {
    await loaded.close();
  }
}

async function roundTrip(cache: Cache, entry: ResolvedCacheEntry, timeoutMs: number): Promise<string> {
  if (entry.backend === 'locmem') return 'n/a (in process)';
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const trip = cache.roundTrip();
    trip.catch(() => undefined);
    await Promise.race([
      trip,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return `ok ${(performance.now() - started).toFixed(1)} ms`;
  } catch (error) {
    return `failed: ${firstLine((error as Error)?.message ?? String(error))}`;
  } finally {
    clearTimeout(timer);
  }
}

async function countEntries(entry: ResolvedCacheEntry, loaded: LoadedCaches): Promise<string> {
  switch (entry.backend) {
    case 'locmem':
      return 'n/a (each app process has its own)';
    case 'dummy':
      return '0 (keeps nothing)';
    case 'tiered':
      return `see its tiers: ${(entry.tiers ?? []).join(', ')}`;
    case 'filesystem':
      return countFiles(entry.location as string);
    case 'database':
      return countRows(entry, loaded);
    case 'redis':
      return countRedisKeys(entry);
    case 'memcached':
      return memcachedItems(entry);
    default:
      return 'n/a (custom backend)';
  }
}

async function countFiles(directory: string): Promise<string> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '0 files (no directory yet)';
    throw error;
  }
  const files = names.filter((name) => name.endsWith(FILE_EXTENSION));
  let bytes = 0;
  for (const name of files) bytes += (await stat(join(directory, name)).catch(() => ({ size: 0 }))).size;
  return `${files.length} files, ${bytes} bytes`;
}

async function countRows(entry: ResolvedCacheEntry, loaded: LoadedCaches): Promise<string> {
  const { getDataSourceToken } = await import('@nestjs/typeorm');
  const name = entry.options.dataSource as string | undefined;
  const dataSource = loaded.app.get<DataSource>(getDataSourceToken(name) as never, { strict: false });
  const table = dataSource.driver.escape(entry.location as string);
  const [row] = (await dataSource.query(`SELECT COUNT(*) AS n FROM ${table}`)) as Array<{ n: number | string }>;
  return `${Number(row!.n)} rows`;
}

async function countRedisKeys(entry: ResolvedCacheEntry): Promise<string> {
  if (typeof entry.location !== 'string') return 'not counted (cluster or sentinels: count on each master)';
  const pattern = clearPatternOf(entry.keyFunction, entry.keyPrefix);
  const { Redis } = await import('ioredis');
  const client = new Redis(entry.location, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: entry.commandTimeoutMs * 4,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the commands below report it
  try {
    await client.connect();
    const total = await client.dbsize();
    if (pattern === undefined) return `${total} keys in the database (its keyFunction hides which are its own)`;
    let cursor = '0';
    let matching = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      matching += keys.length;
    } while (cursor !== '0');
    return `${matching} keys matching ${pattern} (${total} in the database)`;
  } finally {
    client.disconnect();
  }
}

async function memcachedItems(entry: ResolvedCacheEntry): Promise<string> {
  const servers = Array.isArray(entry.location) ? entry.location : String(entry.location ?? '').split(/[,;]/);
  const memjs = (await import('memjs')).default;
  const client = memjs.Client.create(servers.join(','), { retries: 0, timeout: 1, logger: { log: () => undefined } });
  try {
    const perServer = await new Promise<string[]>((resolve) => {
      const found: string[] = [];
      let answered = 0;
      client.stats((error, server, stats) => {
        found.push(
          error || !stats
            ? `${server}: ${error?.message ?? 'no answer'}`
            : `${server}: ${stats.curr_items} items, ${stats.bytes} bytes`,
        );
        if (++answered === servers.length) resolve(found);
      });
    });
    return `${perServer.sort().join('; ')} (whole servers)`;
  } finally {
    client.close();
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

function usageError(output: CliOutput, problem: string): number {
  output.err(`stats: ${problem}.\n\n${STATS_USAGE}`);
  return 2;
}
