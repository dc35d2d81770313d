import { recordOperation } from './trampoline.js';
import type { CacheEvictOptions, MethodCacheKey } from './method-cache-options.interface.js';

/**
 * Removes the key after the method succeeds (`beforeInvocation: true`: before it runs), or clears
 * the whole alias with `allEntries: true`.
 *
 * @example @CacheEvict({ key: 'recipe:{0}' }) remove(id: number) {...}
 */
export function CacheEvict(keyOrOptions: MethodCacheKey | CacheEvictOptions = {}): MethodDecorator {
  const options = typeof keyOrOptions === 'object' ? keyOrOptions : { key: keyOrOptions };
  return (prototype, methodName, descriptor) => {
    recordOperation(prototype, methodName, descriptor, { kind: 'evict', options });
    return descriptor;
  };
}
