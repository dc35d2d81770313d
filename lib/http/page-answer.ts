import type { PageAdapter } from './adapters/page-adapter.interface.js';
import type { PageRequest } from './page-keys.js';
import { isNotModified, type StoredPage } from './stored-page.js';

export type CacheStatus = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';

// What a 304 repeats of the stored response (RFC 9110 §15.4.5, as Django's ConditionalGetMiddleware).
const NOT_MODIFIED_HEADERS = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'last-modified',
  'vary',
]);

/** Writes a stored page as it is (a 304 when the client holds it already), saying what the cache did. */
export function answerFromPage(
  send: PageAdapter['send'],
  response: unknown,
  page: StoredPage,
  request: PageRequest,
  lookupMs: number,
  status: 'HIT' | 'STALE',
  statusHeader: string,
): void {
  const extra: Array<[string, string]> = [
    [statusHeader, status],
    ['age', String(Math.max(0, Math.floor((Date.now() - page.storedAt) / 1000)))],
    ['server-timing', serverTiming(status, lookupMs)],
  ];
  const lastModified = page.headers.find(([name]) => name === 'last-modified')?.[1];
  if (isNotModified(request, page.etag, lastModified)) {
    const kept = page.headers.filter(([name]) => NOT_MODIFIED_HEADERS.has(name));
    send(response, 304, [...kept, ...extra], undefined);
  } else {
    extra.push(['content-length', String(page.contentLength)]);
    // The platform drops the body of a HEAD response itself.
    send(response, page.status, [...page.headers, ...extra], page.body);
  }
}

/** `Server-Timing` naming what the cache did and how long its lookup took (for browser dev tools). */
export function serverTiming(status: CacheStatus, lookupMs: number): string {
  return `cache;desc="${status}";dur=${lookupMs.toFixed(2)}`;
}
