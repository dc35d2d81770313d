import { recordOperation } from './trampoline.js';
import type { CacheableOptions, MethodCacheKey } from './method-cache-options.interface.js';

/**
 * Caches a method's result (sync or async; the decorated method returns a promise): later calls
 * with the same key return the cached value without running it.
 *
 * @example @Cacheable({ key: 'recipe:{0}', timeout: 600, staleWhileRevalidate: 60 }) findOne(id: number) {...}
 */
export function Cacheable(keyOrOptions: MethodCacheKey | CacheableOptions = {}): MethodDecorator {
  const options = typeof keyOrOptions === 'object' ? keyOrOptions : { key: keyOrOptions };
  return (prototype, methodName, descriptor) => {
    recordOperation(prototype, methodName, descriptor, { kind: 'cacheable', options });
    return descriptor;
  };
}
