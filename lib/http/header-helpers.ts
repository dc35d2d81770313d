import * as rules from './response-headers.js';
import type { CacheControlDirectives, HeaderAccess } from './response-headers.js';

/**
 * A response whose headers Django's helpers can patch, before it is sent: Express's `res` (a Node
 * `ServerResponse`), a plain `ServerResponse`, or Fastify's `reply`. In a Nest handler, take it
 * with `@Res({ passthrough: true })`.
 */
export type PatchableResponse =
  | { getHeader(name: string): unknown; setHeader(name: string, value: string): unknown }
  | { getHeader(name: string): unknown; header(name: string, value: string): unknown };

function headersOf(response: PatchableResponse): HeaderAccess {
  const read = (name: string) => {
    const value = response.getHeader(name);
    if (value === undefined || value === null) return undefined;
    return Array.isArray(value) ? value.join(', ') : String(value);
  };
  // Fastify keeps a reply's headers on the reply until it is sent, so its `header()` is used, not
  // the raw response's; Express's `res.header()` is its `res.set()`, the same as `setHeader` here.
  if ('header' in response && typeof response.header === 'function') {
    return { get: read, set: (name, value) => void response.header(name, value) };
  }
  return {
    get: read,
    set: (name, value) => void (response as { setHeader: (n: string, v: string) => unknown }).setHeader(name, value),
  };
}

/**
 * Django's `patch_cache_control`: merges directives into `Cache-Control`. `public` and `private`
 * exclude each other, a new `maxAge` never raises an existing one, and `false` removes a directive.
 *
 * @example patchCacheControl(res, { public: true, maxAge: 300 });
 */
export function patchCacheControl(response: PatchableResponse, directives: CacheControlDirectives): void {
  rules.patchCacheControl(headersOf(response), directives);
}

/**
 * Django's `patch_vary_headers`: adds header names to `Vary`, once each whatever their case; `*` replaces all.
 *
 * @example patchVaryHeaders(res, ['Accept-Language']);
 */
export function patchVaryHeaders(response: PatchableResponse, names: readonly string[]): void {
  rules.patchVaryHeaders(headersOf(response), names);
}

/**
 * Django's `patch_response_headers`: `Expires` (when absent) and a `max-age` no higher than `timeoutSeconds`.
 *
 * @example patchResponseHeaders(res, 600);
 */
export function patchResponseHeaders(response: PatchableResponse, timeoutSeconds: number): void {
  rules.patchResponseHeaders(headersOf(response), timeoutSeconds);
}

/**
 * Django's `add_never_cache_headers`: headers that tell every cache, this library's included, not to keep the response.
 *
 * @example addNeverCacheHeaders(res);
 */
export function addNeverCacheHeaders(response: PatchableResponse): void {
  rules.addNeverCacheHeaders(headersOf(response));
}

/**
 * Django's `get_max_age`: the `max-age` of `Cache-Control` in seconds, or `undefined` when there is none.
 *
 * @example const seconds = getMaxAge(res); // 300, or undefined
 */
export function getMaxAge(response: PatchableResponse): number | undefined {
  return rules.getMaxAge(headersOf(response));
}

/**
 * Django's `has_vary_header`: whether `Vary` names the header, whatever its case.
 *
 * @example if (!hasVaryHeader(res, 'Cookie')) patchVaryHeaders(res, ['Cookie']);
 */
export function hasVaryHeader(response: PatchableResponse, name: string): boolean {
  return rules.hasVaryHeader(headersOf(response), name);
}
