import type { CacheRequest, CacheResponse, HeaderList } from '../../lib/http/rfc9111/index.js';

/** The clock of every test: a response received at T, its request sent 1 s before. */
export const T = Date.UTC(2026, 0, 15, 12, 0, 0);
export const seconds = (n: number) => n * 1000;

/** An IMF-fixdate `n` seconds after T. */
export const dateAt = (n: number) => new Date(T + seconds(n)).toUTCString();

export function response(headers: HeaderList, status = 200, received = T): CacheResponse {
  return { status, headers, requestedAt: received - seconds(1), receivedAt: received };
}

export function request(headers: HeaderList = [], method = 'GET', url = 'http://example.test/page'): CacheRequest {
  return { method, url, headers };
}
