import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule, HttpAdapterHost, ModuleRef, ModulesContainer } from '@nestjs/core';
import { CACHES_CONFIG, getCacheToken } from './cache.constants.js';
import { Caches } from './caches.js';
import { resolveCaches } from './core/resolve-config.js';
import { FragmentCache } from './fragments/fragment-cache.js';
import { CacheInvalidator } from './invalidation/cache-invalidator.js';
import { CACHE_INVALIDATION_OPTIONS } from './invalidation/invalidation.constants.js';
import { InvalidationSubscriber } from './invalidation/invalidation.subscriber.js';
import { resolveInvalidationOptions } from './invalidation/resolve-invalidation-options.js';
import { CACHE_HTTP_OPTIONS } from './http/http-cache.constants.js';
import { resolveHttpOptions } from './http/resolve-http-options.js';
import { PageCache } from './http/page-cache.js';
import { SiteCacheInterceptor } from './http/site-cache.interceptor.js';
import { aliasesNamedByInjectCache, classesInjectingAlias } from './inject-cache.decorator.js';
import { EARLY_REFRESH_RANDOM } from './methods/method-cache.constants.js';
import { MethodCacheExplorer } from './methods/method-cache.explorer.js';
import { CacheHealthIndicator } from './observability/cache.health.js';
import { CacheMetrics } from './observability/cache-metrics.js';
import type { CacheObservability } from './observability/cache-observability.js';
import { CACHE_METRICS_OPTIONS, CACHE_OBSERVABILITY } from './observability/observability.constants.js';
import { createObservability } from './observability/resolve-observability.js';
import { resolveMetricsOptions } from './observability/resolve-metrics-options.js';
import type {
  CacheModuleAsyncConfig,
  CacheModuleAsyncOptions,
  CachesOptions,
  ResolvedCacheEntry,
} from './interfaces/cache-options.interface.js';
import type { CacheModuleOptions } from './interfaces/http-cache-options.interface.js';

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
      {
        provide: CACHE_OBSERVABILITY,
        useFactory: (adapterHost: HttpAdapterHost) => createObservability(options, adapterHost),
        inject: [HttpAdapterHost],
      },
    ];
    return CacheModule.assemble(config, Object.keys(caches ?? {}), [], options.site !== undefined);
  }

  /**
   * Aliases injectable by `@InjectCache` are `default`, `aliases`, and those `@InjectCache` names.
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
      {
        provide: CACHE_OBSERVABILITY,
        useFactory: (resolved: CacheModuleAsyncConfig, adapterHost: HttpAdapterHost) =>
          createObservability(resolved, adapterHost),
        inject: [ASYNC_CONFIG, HttpAdapterHost],
      },
    ];
    return CacheModule.assemble(config, options.aliases ?? [], options.imports ?? [], true);
  }

  private static assemble(
    config: Provider[],
    aliases: string[],
    imports: NonNullable<DynamicModule['imports']>,
    siteCache: boolean,
  ): DynamicModule {
    const injectable = [...new Set([...aliases, ...aliasesNamedByInjectCache()])];
    const aliasProviders: Provider[] = injectable.map((alias) => ({
      provide: getCacheToken(alias),
      useFactory: (caches: Caches, container: ModulesContainer) => {
        if (caches.has(alias) || isInjectedByThisApp(alias, container)) return caches.get(alias);
        return null; // named by a class this app does not use
      },
      inject: [Caches, ModulesContainer],
    }));
    const registry: Provider = {
      provide: Caches,
      useFactory: (entries: ResolvedCacheEntry[], moduleRef: ModuleRef, observability: CacheObservability | null) =>
        Caches.create(entries, moduleRef, observability),
      inject: [CACHES_CONFIG, ModuleRef, CACHE_OBSERVABILITY],
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

const ASYNC_CONFIG = Symbol('nestjs-caches:async-config');

/** Whether a provider or controller registered in this app injects the alias. */
function isInjectedByThisApp(alias: string, container: ModulesContainer): boolean {
  const classes = classesInjectingAlias(alias);
  for (const module of container.values()) {
    for (const wrapper of [...module.providers.values(), ...module.controllers.values()]) {
      if (classes.has(wrapper.metatype as Function)) return true;
    }
  }
  return false;
}
