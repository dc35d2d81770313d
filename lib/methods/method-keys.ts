import { CacheConfigError } from '../core/errors.js';
import { fitKey, hashKey, isInternalKey } from '../core/keys.js';
import { hashArguments } from './argument-hash.js';
import { compileKeyTemplate } from './key-template.js';
import type { MethodCacheKey } from './method-cache-options.interface.js';

/** Where a decorated method's key comes from. */
export interface MethodKeySource {
  key: MethodCacheKey | undefined;
  /** The caller's identity, hashed onto the key (the decorators' `vary` option). */
  vary: ((args: unknown[]) => unknown) | undefined;
  className: string;
  methodName: string;
}

/**
 * The key function of one decorated method: its template, its function, or class + method + a
 * stable hash of the arguments, then the hash of `vary`'s answer. It returns `undefined` when
 * `vary` knows no one: that call leaves the cache alone. Keys that come from arguments are
 * checked as the alias will make them: one memcached could not store (too long, a space or
 * control character) is replaced by a hash of it, the same on every call, so the cache works on
 * every backend. So is one that would land among the library's own entries (pages, fragments,
 * generations): arguments often carry user input, which must not be able to overwrite a page or
 * a fragment.
 */
export function compileMethodKey(
  { key, vary, className, methodName }: MethodKeySource,
  makeKey: (key: string) => string,
): (args: unknown[]) => string | undefined {
  if (vary !== undefined && typeof vary !== 'function') {
    throw new CacheConfigError(
      `${className}.${methodName}: vary must be a function of the arguments, e.g. vary: () => currentUserId().`,
    );
  }
  const render = compileRender(key, `${className}.${methodName}`, makeKey);
  if (vary === undefined) return render;
  return (args) => {
    const who = vary(args);
    return who === undefined ? undefined : render(args, `@${hashArguments([who])}`);
  };
}

function compileRender(
  key: MethodCacheKey | undefined,
  name: string,
  makeKey: (key: string) => string,
): (args: unknown[], suffix?: string) => string {
  if (key === undefined) {
    return (args, suffix = '') => (args.length === 0 ? name : `${name}:${hashArguments(args)}`) + suffix;
  }
  const render = typeof key === 'string' ? compileKeyTemplate(key) : key;
  // The alias's prefix and version add the same bytes to every key, measured once; a version with
  // more digits than the alias default adds a few: 240, not 250, keeps a margin.
  const budget = 240 - Buffer.byteLength(makeKey(''), 'utf8');
  return (args, suffix = '') => {
    const rendered = render(args) + suffix;
    return isInternalKey(rendered) ? hashKey(rendered) : fitKey(rendered, budget);
  };
}
