import { Inject, Optional } from '@nestjs/common';
import { getCacheToken, INJECTED_ALIASES_METADATA } from './cache.constants.js';

// The alias names any `@InjectCache` in the process names, and nothing else: forRootAsync must offer
// their tokens before its factory says which aliases exist, since Nest looks tokens up when it scans
// the modules, before any factory runs. Which app injects which alias is read from the classes'
// metadata, per app. Bounded: one entry per decorator in the code.
const namedAliases = new Set<string>();

/** Every alias named by an `@InjectCache` in the process (for forRootAsync's tokens). */
export function aliasesNamedByInjectCache(): readonly string[] {
  return [...namedAliases];
}

/** The aliases a class injects with `@InjectCache`, its base classes' included. */
export function aliasesInjectedBy(type: unknown): readonly string[] {
  if (typeof type !== 'function') return [];
  return (Reflect.getMetadata(INJECTED_ALIASES_METADATA, type) as string[] | undefined) ?? [];
}

/**
 * Injects the store of one alias (`default` when none is given).
 *
 * @example constructor(@InjectCache('filesystem') private readonly files: Cache) {}
 */
export function InjectCache(alias = 'default'): PropertyDecorator & ParameterDecorator {
  // Optional for Nest: an alias this app does not configure has no token, and the module's boot
  // check then fails with the configured aliases listed, instead of Nest's unknown dependency.
  const inject = [Inject(getCacheToken(alias)), Optional()] as Array<
    (target: object, key: string | symbol | undefined, index?: number) => void
  >;
  return (target: object, propertyKey: string | symbol | undefined, parameterIndex?: number) => {
    // A constructor parameter's target is the class; a property's is its prototype.
    const injectingClass = typeof target === 'function' ? target : target.constructor;
    const own = (Reflect.getOwnMetadata(INJECTED_ALIASES_METADATA, injectingClass) as string[] | undefined) ?? [
      ...aliasesInjectedBy(injectingClass),
    ];
    if (!own.includes(alias)) Reflect.defineMetadata(INJECTED_ALIASES_METADATA, [...own, alias], injectingClass);
    namedAliases.add(alias);
    for (const decorate of inject) decorate(target, propertyKey, parameterIndex);
  };
}
