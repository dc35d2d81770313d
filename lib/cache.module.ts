import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule, ModuleRef, ModulesContainer } from '@nestjs/core';
import {
  ASYNC_CONFIG,
  CACHE_HTTP_OPTIONS,
  CACHE_INVALIDATION_OPTIONS,
  CACHE_METRICS_OPTIONS,
  CACHES_CONFIG,
  EARLY_REFRESH_RANDOM,
  getCacheToken,
} from './cache.constants.js';
import { Caches } from './caches.js';
import { resolveCaches } from './core/resolve-config.js';
import { FragmentCache } from './fragments/fragment-cache.js';
import { CacheInvalidator } from './invalidation/cache-invalidator.js';
import { InvalidationSubscriber } from './invalidation/invalidation.subscriber.js';
import { resolveInvalidationOptions } from './invalidation/resolve-invalidation-options.js';
import { resolveHttpOptions } from './http/resolve-http-options.js';
import { PageCache } from './http/page-cache.js';
import { SiteCacheInterceptor } from './http/site-cache.interceptor.js';
import { aliasesInjectedBy, aliasesNamedByInjectCache } from './inject-cache.decorator.js';
import { unknownAliasError } from './core/errors.js';
import { MethodCacheExplorer } from './methods/method-cache.explorer.js';
import { CacheHealthIndicator } from './observability/cache.health.js';
import { CacheMetrics } from './observability/cache-metrics.js';
import { resolveMetricsOptions } from './observability/resolve-metrics-options.js';
import type {
  CacheModuleAsyncConfig,
  CacheModuleAsyncOptions,
  CacheModuleOptions,
  CachesOptions,
  ResolvedCacheEntry,
} from './interfaces/cache-options.interface.js';

/**
 * Registers named stores, each injectable by `@InjectCache(alias)`, and all of them as `Caches`.
 * Global: import it once, in the root module.
 *
 * The second argument turns on the per-site cache, names the cache status header and asks for
 * Prometheus metrics.
 *
 * @example CacheModule.forRoot({ default: { backend: 'locmem' }, files: 'file:///var/tmp/nest_cache' })
 */
@Module({})
export class CacheModule {
  static forRoot(caches: CachesOptions, options: CacheModuleOptions = {}): DynamicModule {
    // Validated inside the providers, so a wrong setting fails NestFactory.create() with a
    // CacheConfigError rather than at import time.
    const config: Provider[] = [
      { provide: CACHES_CONFIG, useFactory: () => resolveCaches(caches) },
      { provide: CACHE_HTTP_OPTIONS, useFactory: () => resolveHttpOptions(options) },
      { provide: CACHE_INVALIDATION_OPTIONS, useFactory: () => resolveInvalidationOptions(options?.invalidation) },
      { provide: CACHE_METRICS_OPTIONS, useFactory: () => resolveMetricsOptions(options.metrics) },
    ];
    return CacheModule.assemble(config, Object.keys(caches ?? {}), [], options.site !== undefined);
  }

  /**
   * Aliases injectable by `@InjectCache` are `default`, `aliases`, and those `@InjectCache` names
   * (their tokens must exist before the factory runs).
   * The per-site cache's interceptor is always bound here, since only the factory knows whether
   * `site` is set; without it, it lets every route through untouched.
   */
  static forRootAsync(options: CacheModuleAsyncOptions): DynamicModule {
    const config: Provider[] = [
      { provide: ASYNC_CONFIG, useFactory: options.useFactory, inject: options.inject ?? [] },
      {
        provide: CACHES_CONFIG,
        useFactory: (resolved: CacheModuleAsyncConfig) => resolveCaches(resolved.caches),
        inject: [ASYNC_CONFIG],
      },
      {
        provide: CACHE_HTTP_OPTIONS,
        useFactory: ({ caches: _caches, ...http }: CacheModuleAsyncConfig) => resolveHttpOptions(http),
        inject: [ASYNC_CONFIG],
      },
      {
        provide: CACHE_INVALIDATION_OPTIONS,
        useFactory: (resolved: CacheModuleAsyncConfig) => resolveInvalidationOptions(resolved.invalidation),
        inject: [ASYNC_CONFIG],
      },
      {
        provide: CACHE_METRICS_OPTIONS,
        useFactory: (resolved: CacheModuleAsyncConfig) => resolveMetricsOptions(resolved.metrics),
        inject: [ASYNC_CONFIG],
      },
    ];
    const aliases = ['default', ...(options.aliases ?? []), ...aliasesNamedByInjectCache()];
    return CacheModule.assemble(config, aliases, options.imports ?? [], true);
  }

  private static assemble(
    config: Provider[],
    aliases: string[],
    imports: NonNullable<DynamicModule['imports']>,
    siteCache: boolean,
  ): DynamicModule {
    const aliasProviders: Provider[] = [...new Set(aliases)].map((alias) => ({
      provide: getCacheToken(alias),
      // null: listed for forRootAsync, or named by another app's class, but not configured here
      useFactory: (caches: Caches) => (caches.has(alias) ? caches.get(alias) : null),
      inject: [Caches],
    }));
    const registry: Provider = {
      provide: Caches,
      useFactory: (entries: ResolvedCacheEntry[], moduleRef: ModuleRef, container: ModulesContainer) => {
        checkInjectedAliases(entries, container); // before any store connects
        return Caches.create(entries, moduleRef);
      },
      inject: [CACHES_CONFIG, ModuleRef, ModulesContainer],
    };
    return {
      module: CacheModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [
        ...config,
        registry,
        PageCache,
        FragmentCache,
        MethodCacheExplorer,
        CacheInvalidator,
        InvalidationSubscriber,
        CacheMetrics,
        CacheHealthIndicator,
        { provide: EARLY_REFRESH_RANDOM, useValue: Math.random },
        ...(siteCache ? [{ provide: APP_INTERCEPTOR, useClass: SiteCacheInterceptor }] : []),
        ...aliasProviders,
      ],
      exports: [
        Caches,
        PageCache,
        FragmentCache,
        CacheInvalidator,
        CacheMetrics,
        CacheHealthIndicator,
        ...aliasProviders.map((provider) => (provider as { provide: string }).provide),
      ],
    };
  }
}

/** Every alias a provider, controller or enhancer of this app injects must be configured. */
function checkInjectedAliases(entries: readonly ResolvedCacheEntry[], container: ModulesContainer): void {
  const configured = new Set(entries.map((entry) => entry.alias));
  for (const module of container.values()) {
    const wrappers = [...module.providers.values(), ...module.controllers.values(), ...module.injectables.values()];
    for (const wrapper of wrappers) {
      for (const alias of aliasesInjectedBy(wrapper.metatype)) {
        if (!configured.has(alias)) throw unknownAliasError(alias, configured);
      }
    }
  }
}
