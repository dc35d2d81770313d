// RFC 9111 §4.3.1: the conditional request a cache sends to revalidate what it stored, built from
// the stored response's validators; and §4.3.3: what to make of the answer.
import { firstFieldValue, type CacheResponse, type HeaderList } from './messages.js';

/** The fields to add to the forwarded request: `If-None-Match` and `If-Modified-Since`. */
export function conditionalFields(stored: CacheResponse): HeaderList {
  const fields: Array<readonly [string, string]> = [];
  const etag = firstFieldValue(stored.headers, 'etag');
  if (etag !== undefined) fields.push(['If-None-Match', etag]);
  const lastModified = firstFieldValue(stored.headers, 'last-modified');
  if (lastModified !== undefined) fields.push(['If-Modified-Since', lastModified]);
  return fields;
}

/** Whether the stored response has a validator, so that revalidating it can save the body. */
export function canRevalidate(stored: CacheResponse): boolean {
  return conditionalFields(stored).length > 0;
}

/**
 * §4.3.3: a 304 answers with the stored response (updated, updates.ts); a 5xx may be hidden by a
 * stale response where stale-if-error allows (reuse.ts); anything else replaces the stored one.
 */
export type RevalidationOutcome = 'use-stored' | 'error' | 'replace';

export function revalidationOutcome(status: number): RevalidationOutcome {
  if (status === 304) return 'use-stored';
  if (status >= 500) return 'error';
  return 'replace';
}
