// RFC 9111 §4.3.2: a cache answers a client's own conditional GET or HEAD from the response it
// would otherwise send. If-None-Match (RFC 9110 §13.1.2, weak comparison) takes precedence; when
// absent, If-Modified-Since (§13.1.3) against the stored Last-Modified, or else its Date.
import { listElements } from './field-lists.js';
import { parseHttpDate } from './http-dates.js';
import { fieldValue, firstFieldValue, type CacheRequest, type CacheResponse } from './messages.js';

/** Whether `request` is answered `304 Not Modified` rather than with `stored`. */
export function answersNotModified(request: CacheRequest, stored: CacheResponse): boolean {
  // RFC 9110 §9.1: methods are case-sensitive.
  const { method } = request;
  if ((method !== 'GET' && method !== 'HEAD') || stored.status !== 200) return false;
  const noneMatch = fieldValue(request.headers, 'if-none-match');
  if (noneMatch !== undefined) {
    const etag = firstFieldValue(stored.headers, 'etag');
    const tags = listElements(noneMatch);
    // `*` matches any current representation, and a stored response is one.
    if (tags.includes('*')) return true;
    return etag !== undefined && tags.some((tag) => opaqueTag(tag) === opaqueTag(etag));
  }
  const since = parseHttpDate(firstFieldValue(request.headers, 'if-modified-since'), stored.receivedAt);
  if (since === undefined) return false;
  const modified =
    parseHttpDate(firstFieldValue(stored.headers, 'last-modified'), stored.receivedAt) ??
    parseHttpDate(firstFieldValue(stored.headers, 'date'), stored.receivedAt);
  return modified !== undefined && modified <= since;
}

/** The fields a 304 made from a stored 200 keeps: all but those describing the body it leaves out. */
export const NOT_IN_304 = new Set(['content-length', 'content-type', 'transfer-encoding', 'content-encoding']);

/** RFC 9110 §8.8.3.2: weak comparison ignores `W/`; tags are compared as the opaque quoted string. */
function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
