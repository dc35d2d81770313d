import { checkDependencies } from '../invalidation/dependencies.js';
import { recordOperation } from './trampoline.js';
import type { CacheableOptions, MethodCacheKey } from './method-cache-options.interface.js';

/**
 * Caches a method's result (sync or async; once the module has wired it, every call returns a
 * promise, and a sync method's throw rejects it): later calls with the same key return the
 * cached value without running it.
 *
 * @example @Cacheable({ key: 'recipe:{0}', timeout: 600, staleWhileRevalidate: 60 }) findOne(id: number) {...}
 */
export function Cacheable(keyOrOptions: MethodCacheKey | CacheableOptions = {}): MethodDecorator {
  const options = typeof keyOrOptions === 'object' ? keyOrOptions : { key: keyOrOptions };
  return (prototype, methodName, descriptor) => {
    checkDependencies(options.dependsOn, `@Cacheable on ${prototype.constructor.name}.${String(methodName)}`);
    recordOperation(prototype, methodName, descriptor, { kind: 'cacheable', options });
    return descriptor;
  };
}
