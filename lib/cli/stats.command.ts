import type { Cache } from '../core/cache.js';
import type { CacheBackend } from '../interfaces/cache-backend.interface.js';
import type { ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';
import type { CliOutput } from './createcachetable.command.js';
import { CONFIG_OPTIONS_USAGE, loadCaches, takeCacheSource } from './load-caches.js';

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
           custom       what its count() says, else n/a
${CONFIG_OPTIONS_USAGE}
  --timeout-ms <ms>            how long the round trip and the count may take (2000)`;

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
      const backend = loaded.caches.backendOf(entry.alias);
      // Counted before the round trip, which writes (and removes) an entry of its own.
      const entries = await countEntries(backend, entry, timeoutMs).catch(
        (error: unknown) => `unknown: ${firstLine((error as Error)?.message ?? String(error))}`,
      );
      const reach = backend.processLocal ? 'n/a (in process)' : await roundTrip(cache, timeoutMs);
      rows.push([entry.alias, cache.backendName, reach, entries]);
    }
    for (const line of table(rows)) output.out(line);
    return 0;
  } finally {
    await loaded.close();
  }
}

async function roundTrip(cache: Cache, timeoutMs: number): Promise<string> {
  const started = performance.now();
  try {
    await within(cache.roundTrip(), timeoutMs);
    return `ok ${(performance.now() - started).toFixed(1)} ms`;
  } catch (error) {
    return `failed: ${firstLine((error as Error)?.message ?? String(error))}`;
  }
}

/** What the backend can say of its entries, by its capabilities: the CLI knows no backend by name. */
async function countEntries(backend: CacheBackend, entry: ResolvedCacheEntry, timeoutMs: number): Promise<string> {
  if (backend.processLocal) return 'n/a (each app process has its own)';
  if (backend.failsOnlyThroughTiers) return `see its tiers: ${(entry.tiers ?? []).join(', ')}`;
  if (backend.count === undefined) return 'n/a (its backend cannot count)';
  return (await within(Promise.resolve(backend.count()), timeoutMs)).description;
}

/** `work`, or a failure once `timeoutMs` have passed without an answer. */
async function within<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => undefined); // a late failure is not an unhandled rejection
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
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
