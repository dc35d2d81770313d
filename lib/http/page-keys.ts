import { hash } from 'node:crypto';

/**
 * Page cache keys as Django's `get_cache_key` / `learn_cache_key` make them: a URL's *header key*
 * holds the names of the request headers its response varies on, and the page key hashes the
 * values of those headers. A URL's first request cannot know its `Vary` yet, so it is a miss
 * without reading a page.
 */
export interface PageRequest {
  /** As the app routes it (a middleware may have overridden it). */
  readonly method: string;
  /** As it came off the wire, before any middleware could change it. */
  readonly wireMethod: string;
  /** As the framework reports it (`X-Forwarded-Proto` under trust proxy): anything, until checked. */
  readonly scheme: string;
  /**
   * The host the app answers for: `Host`, or `X-Forwarded-Host` when the app trusts its proxy,
   * as the framework reads it for `@HostParam` and host-bound controllers (Django's `get_host()`
   * with `USE_X_FORWARDED_HOST`). Part of the key, so one tenant's page never reaches another.
   */
  readonly host: string | undefined;
  /** The request's absolute URL, readable; for events, not for keys (see `address`). */
  readonly url: string;
  /** Everything the page key holds of the request's URL, framed; see `pageAddressOf`. */
  readonly address: string;
  header(name: string): string | undefined;
}

const md5 = (text: string) => hash('md5', text, 'hex');

/**
 * What page keys hold of a request's URL: the scheme, the host the app answers for, the `Host`
 * header when it says another (behind a trusted proxy: a handler or a route may read either),
 * and the path and query as routed. Each part is a JSON string, so no character in one (`#`,
 * `://`, `?`, `%`, a quote) can move the boundary to the next: two requests the framework
 * reports differently never share an address.
 */
export function pageAddressOf(
  scheme: string,
  host: string | undefined,
  hostHeader: string | undefined,
  target: string,
): string {
  // The Host header is `0` when it is the host: the common case stays short.
  return JSON.stringify([scheme, host ?? null, hostHeader === host ? 0 : (hostHeader ?? null), target]);
}

/**
 * Whether the page cache may answer or keep this request at all: a GET or HEAD as it came off
 * the wire (a method a middleware overrode reaches a handler with its body), over `http` or
 * `https` (a trusted proxy's `X-Forwarded-Proto` can say anything), without a body (which the
 * key does not hold, yet a handler may read).
 */
export function isCacheableRequest(request: PageRequest): boolean {
  const { method } = request;
  if ((method !== 'GET' && method !== 'HEAD') || request.wireMethod !== method) return false;
  if (request.scheme !== 'http' && request.scheme !== 'https') return false;
  const length = request.header('content-length');
  return (length === undefined || Number(length) === 0) && request.header('transfer-encoding') === undefined;
}

const NO_VARY = md5('');

/** Where the list of request headers the URL's response varies on is kept. */
export function headerKeyOf(keyPrefix: string, urlHash: string): string {
  return `views.decorators.cache.cache_header.${keyPrefix}.${urlHash}`;
}

export function urlHashOf(request: PageRequest): string {
  return md5(request.address);
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
