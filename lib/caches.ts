import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createBackend } from './backends/create-backend.js';
import { Cache } from './core/cache.js';
import { CacheConfigError } from './core/errors.js';
import type { ResolvedCacheEntry } from './interfaces/cache-options.interface.js';

/**
 * Every configured store, by alias (Django's `caches`). Closes them all on application shutdown.
 *
 * @example constructor(private readonly caches: Caches) {} ... await this.caches.get('filesystem').clear();
 */
export class Caches implements OnApplicationShutdown {
  private readonly byAlias = new Map<string, Cache>();

  constructor(entries: readonly ResolvedCacheEntry[]) {
    for (const entry of entries) this.byAlias.set(entry.alias, new Cache(entry, createBackend(entry)));
  }

  /** The store of an alias; a `CacheConfigError` listing the configured aliases if there is none. */
  get(alias: string): Cache {
    const cache = this.byAlias.get(alias);
    if (cache === undefined) {
      throw new CacheConfigError(
        `No cache alias '${alias}'; configured: ${[...this.byAlias.keys()].join(', ')}. Add it to CacheModule.forRoot().`,
      );
    }
    return cache;
  }

  has(alias: string): boolean {
    return this.byAlias.has(alias);
  }

  get default(): Cache {
    return this.get('default');
  }

  all(): Cache[] {
    return [...this.byAlias.values()];
  }

  async onApplicationShutdown(): Promise<void> {
    const results = await Promise.allSettled(this.all().map((cache) => cache.close()));
    for (const result of results) {
      if (result.status === 'rejected')
        new Logger('CacheModule').warn(`A cache failed to close: ${String(result.reason)}`);
    }
  }
}
