import { Inject } from '@nestjs/common';
import { getCacheToken } from './cache.constants.js';

// Aliases named by @InjectCache anywhere in the app. The module gives each a provider, so an
// alias that is not configured fails at boot with the list of configured ones, and
// forRootAsync knows its aliases before its factory runs. Bounded by the code's own decorators.
const injectedAliases = new Set<string>(['default']);

export function aliasesNamedByInjectCache(): string[] {
  return [...injectedAliases];
}

/**
 * Injects the store of one alias (`default` when none is given).
 *
 * @example constructor(@InjectCache('filesystem') private readonly files: Cache) {}
 */
export function InjectCache(alias = 'default'): PropertyDecorator & ParameterDecorator {
  injectedAliases.add(alias);
  return Inject(getCacheToken(alias));
}
