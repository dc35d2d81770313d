import { Inject } from '@nestjs/common';
import { getCacheToken } from './cache.constants.js';

// Which classes inject which aliases. The module gives every alias named here a provider, so
// forRootAsync knows its aliases before its factory runs, and an alias that a class of the app
// injects but nobody configured fails at boot with the configured ones listed. Bounded: one
// entry per decorator in the code.
const injectingClasses = new Map<string, Set<Function>>([['default', new Set()]]);

export function aliasesNamedByInjectCache(): string[] {
  return [...injectingClasses.keys()];
}

export function classesInjectingAlias(alias: string): ReadonlySet<Function> {
  return injectingClasses.get(alias) ?? new Set();
}

/**
 * Injects the store of one alias (`default` when none is given).
 *
 * @example constructor(@InjectCache('filesystem') private readonly files: Cache) {}
 */
export function InjectCache(alias = 'default'): PropertyDecorator & ParameterDecorator {
  const inject = Inject(getCacheToken(alias));
  return (target: object, propertyKey: string | symbol | undefined, parameterIndex?: number) => {
    // A constructor parameter's target is the class; a property's is its prototype.
    const injectingClass = typeof target === 'function' ? target : target.constructor;
    if (!injectingClasses.has(alias)) injectingClasses.set(alias, new Set());
    injectingClasses.get(alias)!.add(injectingClass);
    (inject as (target: object, key: string | symbol | undefined, index?: number) => void)(
      target,
      propertyKey,
      parameterIndex,
    );
  };
}
