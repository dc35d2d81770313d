import { createHash } from 'node:crypto';

/**
 * The key of a cached template fragment, exactly as Django's `make_template_fragment_key`:
 * `template.cache.<name>.<md5 of each vary-on value as a string followed by ':'>`. Delete it to
 * refresh a fragment by hand.
 *
 * @example await cache.delete(makeTemplateFragmentKey('sidebar', [user.id]));
 */
export function makeTemplateFragmentKey(fragmentName: string, varyOn: Iterable<unknown> = []): string {
  const hasher = createHash('md5');
  for (const value of varyOn) hasher.update(`${String(value)}:`);
  return `template.cache.${fragmentName}.${hasher.digest('hex')}`;
}
