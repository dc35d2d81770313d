import { hash } from 'node:crypto';

/**
 * Page cache keys as Django's `get_cache_key` / `learn_cache_key` make them: a URL's *header key*
 * holds the names of the request headers its response varies on, and the page key hashes the
 * values of those headers. A URL's first request cannot know its `Vary` yet, so it is a miss
 * without reading a page.
 */
export interface PageRequest {
  readonly method: string;
  /** Absolute: scheme, host and query string included. */
  readonly url: string;
  /**
   * The host the app answers for: `Host`, or `X-Forwarded-Host` when the app trusts its proxy,
   * as the framework reads it for `@HostParam` and host-bound controllers (Django's `get_host()`
   * with `USE_X_FORWARDED_HOST`). Part of the key, so one tenant's page never reaches another.
   */
  readonly host: string | undefined;
  header(name: string): string | undefined;
}

const md5 = (text: string) => hash('md5', text, 'hex');

/**
 * A request's absolute URL as page keys hold it, with the host the app answers for. When the
 * `Host` header says another (behind a trusted proxy), it is added as well: a handler or a route
 * may read either, so pages must differ when either does.
 */
export function pageUrlOf(protocol: string, host: string | undefined, hostHeader: string | undefined, path: string) {
  const url = `${protocol}://${host ?? ''}${path}`;
  return hostHeader === undefined || hostHeader === host ? url : `${url}#host=${hostHeader}`;
}
const NO_VARY = md5('');

/** Where the list of request headers the URL's response varies on is kept. */
export function headerKeyOf(keyPrefix: string, urlHash: string): string {
  return `views.decorators.cache.cache_header.${keyPrefix}.${urlHash}`;
}

export function urlHashOf(request: PageRequest): string {
  return md5(request.url);
}

/** The key of one stored response: method, URL, and the values of the varying headers. */
export function pageKeyOf(
  keyPrefix: string,
  method: string,
  urlHash: string,
  request: PageRequest,
  varyOn: readonly string[],
): string {
  if (varyOn.length === 0) return `views.decorators.cache.cache_page.${keyPrefix}.${method}.${urlHash}.${NO_VARY}`;
  // Each value is named and framed, so that two header lists can never hash alike.
  let context = '';
  for (const name of varyOn) context += `${name}:${request.header(name) ?? ''}\n`;
  return `views.decorators.cache.cache_page.${keyPrefix}.${method}.${urlHash}.${md5(context)}`;
}

/** Lower-cased and sorted, so that `Vary: Accept, Cookie` and `Vary: cookie, accept` share entries. */
export function normalizeVary(names: readonly string[]): string[] {
  return [...new Set(names.map((name) => name.toLowerCase()))].sort();
}
