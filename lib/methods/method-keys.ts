import { createHash } from 'node:crypto';
import { isInternalKey } from '../core/keys.js';
import { hashArguments } from './argument-hash.js';
import { compileKeyTemplate } from './key-template.js';
import type { MethodCacheKey } from './method-cache-options.interface.js';

/**
 * The key function of one decorated method: its template, its function, or class + method + a
 * stable hash of the arguments. Keys that come from arguments are checked as the alias will make
 * them: one memcached could not store (too long, a space or control character) is replaced by a
 * hash of it, the same on every call, so the cache works on every backend. So is one that would
 * land among the library's own entries (pages, fragments, generations): arguments often carry
 * user input, which must not be able to overwrite a page or a fragment.
 */
export function compileMethodKey(
  key: MethodCacheKey | undefined,
  className: string,
  methodName: string,
  makeKey: (key: string) => string,
): (args: unknown[]) => string {
  if (key === undefined) {
    const name = `${className}.${methodName}`;
    return (args) => (args.length === 0 ? name : `${name}:${hashArguments(args)}`);
  }
  const render = typeof key === 'string' ? compileKeyTemplate(key) : key;
  // The alias's prefix and version add the same length to every key: measured once.
  const overhead = makeKey('').length;
  return (args) => {
    const rendered = render(args);
    return isSafe(rendered, overhead)
      ? rendered
      : `sha256:${createHash('sha256').update(rendered).digest('base64url')}`;
  };
}

function isSafe(rendered: string, overhead: number): boolean {
  if (isInternalKey(rendered)) return false;
  // A version with more digits than the alias default adds a few characters: keep a margin.
  if (rendered.length + overhead > 240) return false;
  for (let i = 0; i < rendered.length; i++) {
    const code = rendered.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return false;
  }
  return true;
}
