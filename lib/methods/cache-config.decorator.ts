import { CACHE_CONFIG } from '../cache.constants.js';
import type { CacheConfigOptions } from './method-cache-options.interface.js';

/**
 * Class defaults (alias, timeout in seconds) for the cache decorators of its methods.
 *
 * @example @CacheConfig({ cache: 'redis', timeout: 600 }) @Injectable() export class RecipesService {...}
 */
export function CacheConfig(options: CacheConfigOptions): ClassDecorator {
  return (target) => Reflect.defineMetadata(CACHE_CONFIG, options, target);
}
