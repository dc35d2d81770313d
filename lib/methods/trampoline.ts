import { CacheConfigError } from '../core/errors.js';
import { CACHE_OPERATIONS, CACHE_WRAPPER_SLOT } from '../cache.constants.js';
import type { MethodCacheOperation } from './method-cache-options.interface.js';

/** What a method's wrapper takes: the arguments as one array, `this` already bound. */
export type MethodWrapper = (args: unknown[]) => unknown;

/**
 * Records an operation on a method and, the first time, replaces the method with a trampoline.
 *
 * Nest binds controller routes to the method functions before `onModuleInit`, when the explorer
 * makes the wrappers; so the function routes hold must be one that looks the wrapper up at call
 * time. The trampoline reads it from the instance (a symbol property per method, set by the
 * explorer) and calls the original until there is one (before wiring, or never wired: a
 * request-scoped provider, a class built outside Nest).
 */
export function recordOperation(
  prototype: object,
  methodName: string | symbol,
  descriptor: PropertyDescriptor,
  operation: MethodCacheOperation,
): void {
  const existing = Reflect.getOwnMetadata(CACHE_OPERATIONS, prototype, methodName) as
    MethodCacheOperation[] | undefined;
  if (existing !== undefined) {
    const kinds = new Set([...existing, operation].map((op) => op.kind));
    if (kinds.has('cacheable') && kinds.has('put')) {
      throw new CacheConfigError(
        `${prototype.constructor.name}.${String(methodName)} has both @Cacheable and @CachePut: use one (a put always runs the method).`,
      );
    }
    existing.push(operation);
    return;
  }
  const original = descriptor.value as (...args: unknown[]) => unknown;
  if (typeof original !== 'function') {
    throw new CacheConfigError(`${prototype.constructor.name}.${String(methodName)}: cache decorators go on methods.`);
  }
  const slot = Symbol(`${prototype.constructor.name}.${String(methodName)}`);
  const trampoline = function (this: Record<symbol, MethodWrapper> | undefined, ...args: unknown[]): unknown {
    const wrapper = this?.[slot];
    return wrapper === undefined ? original.apply(this, args) : wrapper(args);
  };
  Object.defineProperty(trampoline, 'name', { value: original.name });
  // Route, guard and Swagger decorators below this one put their metadata on the original function.
  for (const metadataKey of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(metadataKey, Reflect.getOwnMetadata(metadataKey, original), trampoline);
  }
  descriptor.value = trampoline;
  Reflect.defineMetadata(CACHE_OPERATIONS, [operation], prototype, methodName);
  Reflect.defineMetadata(CACHE_WRAPPER_SLOT, { slot, original }, prototype, methodName);
}
