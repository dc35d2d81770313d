import { recordOperation } from './trampoline.js';
import type { CachePutOptions, MethodCacheKey } from './method-cache-options.interface.js';

/**
 * Always runs the method and stores its result under the key (Spring's `@CachePut`).
 *
 * @example @CachePut({ key: 'recipe:{0}' }) update(id: number, dto: UpdateRecipeDto) {...}
 */
export function CachePut(keyOrOptions: MethodCacheKey | CachePutOptions = {}): MethodDecorator {
  const options = typeof keyOrOptions === 'object' ? keyOrOptions : { key: keyOrOptions };
  return (prototype, methodName, descriptor) => {
    recordOperation(prototype, methodName, descriptor, { kind: 'put', options });
    return descriptor;
  };
}
