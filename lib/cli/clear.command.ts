import type { CliOutput } from './createcachetable.command.js';
import { CONFIG_OPTIONS_USAGE, loadCaches, takeCacheSource } from './load-caches.js';

export const CLEAR_USAGE = `Usage: nestjs-caches clear <alias> [<alias> ...] (--config <file> | --module <file>#<Class>)

Clears each alias named, as cache.clear() does in the application: only that alias's keys on a
shared redis, the whole directory of a filesystem alias, the table of a database alias.
A locmem alias (any process-local backend) lives inside each application process and cannot be
cleared from outside.

${CONFIG_OPTIONS_USAGE}`;

/**
 * `nestjs-caches clear <alias>`. Returns the process exit code.
 *
 * @example await clearCommand(['sessions', '--config', 'dist/caches.js'], console)
 */
export async function clearCommand(args: readonly string[], output: CliOutput): Promise<number> {
  const { source, rest } = takeCacheSource(args);
  if (rest.includes('--help') || rest.includes('-h')) {
    output.out(CLEAR_USAGE);
    return 0;
  }
  const unknownOption = rest.find((arg) => arg.startsWith('-'));
  if (unknownOption !== undefined) return usageError(output, `unknown option ${unknownOption}`);
  if (rest.length === 0) return usageError(output, 'name the alias to clear');
  if (source.config === undefined && source.module === undefined)
    return usageError(output, '--config <file> or --module <file>#<Class> is required');

  const loaded = await loadCaches(source);
  try {
    const configured = loaded.entries.map((entry) => entry.alias);
    const unknown = rest.filter((alias) => !configured.includes(alias));
    if (unknown.length > 0) {
      output.err(
        `clear: no cache alias ${unknown.map((a) => `'${a}'`).join(', ')}; configured: ${configured.join(', ')}.`,
      );
      return 1;
    }
    let failed = false;
    for (const alias of rest) {
      const cache = loaded.caches.get(alias);
      // Only the processes that hold its entries can clear a process-local store.
      if (loaded.caches.backendOf(alias).processLocal) {
        output.err(
          `clear: '${alias}' is a ${cache.backendName} cache: it lives inside each application process, so only the application can clear it (cache.clear()).`,
        );
        failed = true;
        continue;
      }
      const errorsBefore = cache.stats().errors;
      try {
        await cache.clear();
      } catch (error) {
        output.err(`clear: ${(error as Error).message}`);
        failed = true;
        continue;
      }
      // With ignoreErrors the failure was swallowed; the count still tells.
      if (cache.stats().errors > errorsBefore) {
        output.err(`clear: cache '${alias}' failed to clear (its backend failed; ignoreErrors hid the error).`);
        failed = true;
        continue;
      }
      output.out(`Cleared cache '${alias}'.`);
    }
    return failed ? 1 : 0;
  } finally {
    await loaded.close();
  }
}

function usageError(output: CliOutput, problem: string): number {
  output.err(`clear: ${problem}.\n\n${CLEAR_USAGE}`);
  return 2;
}
