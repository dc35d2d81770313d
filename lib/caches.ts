import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { createBackend } from './backends/create-backend.js';
import { Cache } from './core/cache.js';
import { withCircuitBreaker } from './core/circuit-breaker.js';
import { CacheBackendError, CacheConfigError } from './core/errors.js';
import { CacheInstrumentation } from './core/instrumentation.js';
import type { CacheObservability } from './observability/cache-observability.js';
import { backendLeaseStore, lockKeyMaker } from './stampede/lease-store.js';
import { StampedeGuard } from './stampede/stampede-guard.js';
import type { CacheBackend } from './interfaces/cache-backend.interface.js';
import type { BackendContext, ResolvedCacheEntry } from './interfaces/cache-options.interface.js';

/** The circuit breaker and deadlines an alias asks for, where its backend can be down. */
function guarded(entry: ResolvedCacheEntry, backend: CacheBackend): CacheBackend {
  if (backend.inProcess || backend.failsOnlyThroughTiers) return backend;
  const timeoutMs = backend.timesOutCommands ? undefined : entry.commandTimeoutMs;
  if (entry.circuitBreaker === false && timeoutMs === undefined) return backend;
  return withCircuitBreaker(backend, entry.alias, entry.circuitBreaker, timeoutMs);
}

/** One alias's `Cache`, with its instrumentation and its `getOrSet` strategy (the stampede guard). */
function buildCache(entry: ResolvedCacheEntry, backend: CacheBackend, observability: CacheObservability | null): Cache {
  const backendName = typeof entry.backend === 'string' ? entry.backend : entry.backend.name || 'custom';
  const instrumentation = new CacheInstrumentation(entry.alias, !backend.inProcess, backendName, observability);
  const leases = backendLeaseStore(
    backend,
    lockKeyMaker(entry),
    (error, key) => {
      const failure = instrumentation.failure(error, 'lock', key);
      if (!(failure instanceof CacheBackendError && entry.ignoreErrors)) throw failure;
    },
    // Counted and logged (once per burst), never thrown, whatever `ignoreErrors` says: the value
    // is computed and stored, and the lease's TTL frees the lock key anyway.
    (error, key) => void instrumentation.failure(error, 'unlock', key),
  );
  return new Cache(entry, backend, {
    instrumentation,
    getOrSet: (store, computing) => new StampedeGuard(store, leases, computing, instrumentation),
  });
}

/**
 * Every configured store, by alias (Django's `caches`). Closes them all on application shutdown.
 *
 * @example constructor(private readonly caches: Caches) {} ... await this.caches.get('filesystem').clear();
 */
export class Caches implements OnApplicationBootstrap, OnApplicationShutdown {
  private constructor(
    private readonly byAlias: ReadonlyMap<string, Cache>,
    private readonly backends: ReadonlyMap<string, CacheBackend>,
    /**
     * Spans and the panel of this app, for the layers that make calls of their own (fragments).
     * @internal
     */
    readonly observability: CacheObservability | null = null,
  ) {}

  /**
   * Builds every alias's backend (tiered aliases last: they chain the others), then waits for
   * their first connections, all at once.
   */
  static async create(
    entries: readonly ResolvedCacheEntry[],
    moduleRef: ModuleRef,
    observability: CacheObservability | null = null,
  ): Promise<Caches> {
    const backends = new Map<string, CacheBackend>();
    const context: BackendContext = {
      moduleRef,
      backendOf: (alias) => {
        const backend = backends.get(alias);
        if (backend === undefined) {
          throw new CacheConfigError(
            `No cache alias '${alias}' to chain; configured: ${entries.map((e) => e.alias).join(', ')}.`,
          );
        }
        return backend;
      },
    };
    const ordered = [...entries].sort((a, b) => Number(a.backend === 'tiered') - Number(b.backend === 'tiered'));
    for (const entry of ordered) backends.set(entry.alias, guarded(entry, await createBackend(entry, context)));
    await Promise.all([...backends.values()].map((backend) => backend.connected?.()));
    const byAlias = new Map(
      entries.map((entry) => [entry.alias, buildCache(entry, backends.get(entry.alias)!, observability)]),
    );
    return new Caches(byAlias, backends, observability);
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

  /**
   * The backend of an alias, as its `Cache` uses it, for what only the backend can say: its
   * capabilities (`processLocal`…) and `count()`. For the CLI.
   * @internal
   */
  backendOf(alias: string): CacheBackend {
    this.get(alias); // the error that lists the configured aliases
    return this.backends.get(alias)!;
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

  /** Backends that check something once the app's providers exist (the database backend's table). */
  async onApplicationBootstrap(): Promise<void> {
    await Promise.all([...this.backends.values()].map((backend) => backend.init?.()));
  }

  async onApplicationShutdown(): Promise<void> {
    const results = await Promise.allSettled(this.all().map((cache) => cache.close()));
    for (const result of results) {
      if (result.status === 'rejected')
        new Logger('CacheModule').warn(`A cache failed to close: ${String(result.reason)}`);
    }
  }
}
