import { Cache } from './core/cache.js';

/** Holds the validated entries of every alias; the `Caches` registry is built from it. */
export const CACHES_CONFIG = Symbol('nestjs-caches:config');

/**
 * The injection token of an alias's `Cache`. The `default` alias is the `Cache` class itself.
 *
 * @example { provide: ReportService, useFactory: (cache: Cache) => new ReportService(cache), inject: [getCacheToken('redis')] }
 */
export function getCacheToken(alias = 'default'): string | typeof Cache {
  return alias === 'default' ? Cache : `nestjs-caches:${alias}`;
}

/** Metadata on a class: the aliases it injects with `@InjectCache`. */
export const INJECTED_ALIASES_METADATA = 'nestjs-caches:injected-aliases';
