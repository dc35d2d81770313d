import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { Caches } from '../caches.js';
import { buildCachedMethod } from './cached-method.js';
import { CACHE_CONFIG, CACHE_OPERATIONS, CACHE_WRAPPER_SLOT, EARLY_REFRESH_RANDOM } from '../cache.constants.js';
import type { CacheConfigOptions, MethodCacheOperation } from './method-cache-options.interface.js';
import type { MethodWrapper } from './trampoline.js';

/**
 * Wires the cache decorators at module init: for each provider and controller instance with
 * decorated methods, builds the wrappers and puts them where the methods' trampolines look.
 */
@Injectable()
export class MethodCacheExplorer implements OnModuleInit {
  private readonly logger = new Logger('CacheModule');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly caches: Caches,
    @Inject(EARLY_REFRESH_RANDOM) private readonly random: () => number,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        this.warnIfDecorated(wrapper.metatype);
        continue;
      }
      const instance = wrapper.instance as Record<symbol, MethodWrapper> | undefined;
      if (typeof instance !== 'object' || instance === null) continue;
      // From the instance, not the metatype: a factory provider may build a decorated class.
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.decoratedMethods(prototype)) this.wire(instance, prototype, name);
    }
  }

  private decoratedMethods(prototype: object): string[] {
    return this.scanner
      .getAllMethodNames(prototype)
      .filter((name) => Reflect.hasMetadata(CACHE_OPERATIONS, prototype, name));
  }

  private warnIfDecorated(type: unknown): void {
    if (typeof type !== 'function' || typeof type.prototype !== 'object') return;
    const methods = this.decoratedMethods(type.prototype as object);
    if (methods.length === 0) return;
    this.logger.warn(
      `${type.name} is request-scoped or transient: its cache decorators (${methods.join(', ')}) are not applied, the methods run uncached. Inject a Cache and call getOrSet instead.`,
    );
  }

  private wire(instance: Record<symbol, MethodWrapper>, prototype: object, methodName: string): void {
    const { slot, original } = Reflect.getMetadata(CACHE_WRAPPER_SLOT, prototype, methodName) as {
      slot: symbol;
      original: (...args: unknown[]) => unknown;
    };
    // The same instance may be listed twice (an alias provider, an exported provider).
    if (Object.prototype.hasOwnProperty.call(instance, slot)) return;
    const type = instance.constructor as Function;
    const operations = Reflect.getMetadata(CACHE_OPERATIONS, prototype, methodName) as MethodCacheOperation[];
    const wrapper = buildCachedMethod(operations, {
      instance,
      original,
      className: type.name,
      methodName,
      classDefaults: (Reflect.getMetadata(CACHE_CONFIG, type) as CacheConfigOptions | undefined) ?? {},
      caches: this.caches,
      random: this.random,
    });
    Object.defineProperty(instance, slot, { value: wrapper, enumerable: false });
  }
}
