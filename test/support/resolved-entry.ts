import { resolveCaches } from '../../lib/core/resolve-config.js';
import type { CacheEntryOptions, ResolvedCacheEntry } from '../../lib/interfaces/cache-options.interface.js';

/** One alias's entry with the module's defaults applied, for tests that build a backend directly. */
export function resolvedEntry(alias: string, options: CacheEntryOptions): ResolvedCacheEntry {
  return resolveCaches({ default: { backend: 'dummy' }, [alias]: options }).find((entry) => entry.alias === alias)!;
}
