// RFC 9111 §4.4: a non-error response to an unsafe request (any method but GET, HEAD, OPTIONS
// and TRACE, unknown ones included) invalidates what is stored for the target URI, and for the
// URIs in Location and Content-Location when they are on the same origin.
import { firstFieldValue, type CacheRequest, type CacheResponse } from './messages.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** The absolute URLs whose stored responses to drop, in no particular order; none if nothing is. */
export function invalidationTargets(request: CacheRequest, response: Pick<CacheResponse, 'status' | 'headers'>) {
  // RFC 9110 §9.1: methods are case-sensitive; `get` is an unknown method, so unsafe.
  if (SAFE_METHODS.has(request.method)) return [];
  if (response.status < 200 || response.status >= 400) return [];
  const target = parsed(request.url);
  if (target === undefined) return [];
  const targets = new Set([withoutFragment(target)]);
  for (const field of ['location', 'content-location']) {
    const value = firstFieldValue(response.headers, field);
    const other = value === undefined ? undefined : parsed(value.trim(), target);
    // §4.4: another origin's URIs are not invalidated, so a response cannot evict another site.
    if (other !== undefined && other.origin === target.origin) targets.add(withoutFragment(other));
  }
  return [...targets];
}

function parsed(url: string, base?: URL): URL | undefined {
  try {
    return new URL(url, base);
  } catch {
    return undefined;
  }
}

function withoutFragment(url: URL): string {
  return url.href.replace(/#.*$/, '');
}
