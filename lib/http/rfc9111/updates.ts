// RFC 9111 §4.3.4 and §4.3.5: a 304 to a revalidation, or a 200 to a HEAD, refreshes the stored
// response's header fields (§3.2) when its validators say it describes the same representation.
import { firstFieldValue, hasField, type CacheResponse, type HeaderList } from './messages.js';
import { fieldsNotStored } from './storage-fields.js';

/**
 * §3.2: fields the stored response depends on stay as stored: Content-Length (named there), and
 * the fields that describe the stored body's bytes, which a header-only answer cannot change.
 */
const NEVER_UPDATED = new Set(['content-length', 'content-encoding', 'content-range', 'content-md5']);

/**
 * Whether `update` (a 304 or a HEAD response) is about the representation `stored` holds
 * (§4.3.4): a strong ETag must equal the stored one; a weak one must match the stored ETag
 * weakly, or, when nothing is stored to compare it with, its Last-Modified the stored one. Two
 * ETags that differ name two representations, whatever Last-Modified says. An update with no
 * validator at all matches only a stored response that has none either.
 */
export function describesStored(stored: CacheResponse, update: CacheResponse): boolean {
  const etag = firstFieldValue(update.headers, 'etag');
  const lastModified = firstFieldValue(update.headers, 'last-modified');
  const storedEtag = firstFieldValue(stored.headers, 'etag');
  const storedLastModified = firstFieldValue(stored.headers, 'last-modified');
  if (etag !== undefined && !etag.startsWith('W/')) return storedEtag === etag;
  if (etag !== undefined && storedEtag !== undefined) return opaque(etag) === opaque(storedEtag);
  if (lastModified !== undefined) return storedLastModified === lastModified;
  return etag === undefined && storedEtag === undefined && storedLastModified === undefined;
}

/**
 * §3.2: the stored response with every field of `update` in place of the stored field of the same
 * name, except the fields never stored (§3.1) and Content-Length; its status and body stay, its
 * clock readings become the new exchange's (its age starts again from `update`). The stored
 * `Date` and `Age` describe the old exchange, so they go with it: an update without `Date` gets
 * the time it arrived (RFC 9110 §6.6.1), and one without `Age` leaves none.
 */
export function freshenedWith(stored: CacheResponse, update: CacheResponse): CacheResponse {
  const notStored = fieldsNotStored(update.headers);
  const incoming = update.headers.filter(([name]) => {
    const lower = name.toLowerCase();
    return !notStored.has(lower) && !NEVER_UPDATED.has(lower);
  });
  if (!hasField(incoming, 'date')) incoming.push(['Date', new Date(update.receivedAt).toUTCString()]);
  const replaced = new Set([...incoming.map(([name]) => name.toLowerCase()), 'age']);
  const kept: HeaderList = stored.headers.filter(([name]) => !replaced.has(name.toLowerCase()));
  return {
    status: stored.status,
    headers: [...kept, ...incoming],
    requestedAt: update.requestedAt,
    receivedAt: update.receivedAt,
  };
}

export type HeadUpdate = { update: CacheResponse } | { invalidate: true } | { keep: true };

/**
 * §4.3.5: a 200 to a HEAD that matches the stored response refreshes it; one whose validators
 * differ says the stored body is out of date; any other status leaves the stored response alone.
 */
export function headUpdate(stored: CacheResponse, head: CacheResponse): HeadUpdate {
  if (head.status !== 200) return { keep: true };
  if (!describesStored(stored, head)) return { invalidate: true };
  return { update: freshenedWith(stored, head) };
}

function opaque(etag: string): string {
  return etag.startsWith('W/') ? etag.slice(2) : etag;
}
