import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule, ModuleRef, ModulesContainer } from '@nestjs/core';
import { CACHES_CONFIG, getCacheToken } from './cache.constants.js';
import { Caches } from './caches.js';
import { resolveCaches } from './core/resolve-config.js';
import { aliasesNamedByInjectCache, classesInjectingAlias } from './inject-cache.decorator.js';
import { EARLY_REFRESH_RANDOM } from './methods/method-cache.constants.js';
import { MethodCacheExplorer } from './methods/method-cache.explorer.js';
import type {
  CacheModuleAsyncOptions,
  CachesOptions,
  ResolvedCacheEntry,
} from './interfaces/cache-options.interface.js';

/**
 * Registers named stores, each injectable by `@InjectCache(alias)`, and all of them as `Caches`.
 * Global: import it once, in the root module.
 *
 * @example CacheModule.forRoot({ default: { backend: 'locmem' }, files: 'file:///var/tmp/nest_cache' })
 */
@Module({})
export class CacheModule {
  static forRoot(caches: CachesOptions): DynamicModule {
    // Validated inside the provider, so a wrong setting fails NestFactory.create() with a
    // CacheConfigError rather than at import time.
    const config: Provider = { provide: CACHES_CONFIG, useFactory: () => resolveCaches(caches) };
    return CacheModule.assemble(config, Object.keys(caches ?? {}), []);
  }

  /** Aliases injectable by `@InjectCache` are `default`, `aliases`, and those `@InjectCache` names. */
  static forRootAsync(options: CacheModuleAsyncOptions): DynamicModule {
    const config: Provider = {
      provide: CACHES_CONFIG,
      useFactory: async (...args: unknown[]) => resolveCaches((await options.useFactory(...args)).caches),
      inject: options.inject ?? [],
    };
    return CacheModule.assemble(config, options.aliases ?? [], options.imports ?? []);
  }

  private static assemble(
    config: Provider,
    aliases: string[],
    imports: NonNullable<DynamicModule['imports']>,
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
      useFactory: (entries: ResolvedCacheEntry[], moduleRef: ModuleRef) => Caches.create(entries, moduleRef),
      inject: [CACHES_CONFIG, ModuleRef],
    };
    return {
      module: CacheModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [
        config,
        registry,
        ...aliasProviders,
        MethodCacheExplorer,
        { provide: EARLY_REFRESH_RANDOM, useValue: Math.random },
      ],
      exports: [Caches, ...aliasProviders.map((provider) => (provider as { provide: string }).provide)],
    };
  }
}

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
