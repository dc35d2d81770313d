import { hash } from 'node:crypto';
import type { TimeoutSeconds } from '../core/timeouts.js';
import {
  getMaxAge,
  hasVaryHeader,
  parseCacheControl,
  setStoredFreshness,
  varyHeaderNames,
  type HeaderAccess,
} from './response-headers.js';

/**
 * A whole response as the page cache keeps it. The body is a latin1 string (one character per
 * byte, so any bytes round-trip): plain data, which the locmem backend hands out without decoding.
 */
export interface StoredPage {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
  /** The body's length as sent; a HEAD response keeps the GET's length and no body. */
  readonly contentLength: number;
  readonly etag: string | undefined;
  /** Epoch ms, for `Age`. */
  readonly storedAt: number;
  /** Epoch ms after which the page is stale (kept on only to answer while it is recomputed); `null` never. */
  readonly freshUntil: number | null;
  /** Whether the key covers the request's credentials, or the response says anyone may have it. */
  readonly variesOnAuthorization: boolean;
  readonly variesOnCookie: boolean;
  readonly public: boolean;
}

/** A response as it leaves the app, seen by the adapter just before its bytes are written. */
export interface CapturedResponse extends HeaderAccess {
  readonly status: number;
  /** `undefined` when the headers left before the body (a stream, or an explicit `writeHead`): never stored. */
  readonly body: Buffer | undefined;
  /** Every header name set on the response, lower-cased. */
  headerNames(): string[];
  /** Sends `304` instead, without the body and the headers that describe it (as Express does). */
  notModified(): void;
}

/** What a request brings that could make a page someone else's. */
export interface RequestCredentials {
  readonly authorization: boolean;
  readonly cookie: boolean;
}

// Never replayed: they describe one connection or one delivery, or belong to one client.
const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'date',
  'age',
  'set-cookie',
  'server-timing',
]);

/**
 * Why a response must not be stored, or `undefined` if it may be: Django's
 * `UpdateCacheMiddleware` rules plus this project's stricter ones on credentials and cookies.
 */
export function refusalOf(response: CapturedResponse, credentials: RequestCredentials): string | undefined {
  if (response.status !== 200) return `status ${response.status}`;
  if (response.body === undefined) return 'streamed';
  const directives = parseCacheControl(response.get('cache-control'));
  for (const directive of ['private', 'no-cache', 'no-store']) {
    if (directives.has(directive)) return `Cache-Control: ${directive}`;
  }
  if (varyHeaderNames(response).includes('*')) return 'Vary: *';
  const isPublic = directives.has('public');
  if (response.get('set-cookie') !== undefined) {
    if (!isPublic) return 'sets a cookie without Cache-Control: public';
    if (!credentials.cookie && hasVaryHeader(response, 'cookie')) return 'sets a cookie and varies on Cookie';
  }
  if (credentials.authorization && !isPublic && !hasVaryHeader(response, 'authorization')) {
    return 'request has Authorization; the response neither varies on it nor is public';
  }
  if (credentials.cookie && !isPublic && !hasVaryHeader(response, 'cookie')) {
    return 'request has cookies; the response neither varies on Cookie nor is public';
  }
  return undefined;
}

/** Whether a stored page may answer this request: never one cached for someone else. */
export function mayServe(page: StoredPage, credentials: RequestCredentials): boolean {
  if (page.public) return true;
  if (credentials.authorization && !page.variesOnAuthorization) return false;
  if (credentials.cookie && !page.variesOnCookie) return false;
  return true;
}

/**
 * How long to keep a response, in seconds (`null` forever), in Django's order: `@CachePage`'s
 * timeout (`page_timeout`), else the response's `max-age`, else the per-site timeout
 * (`CACHE_MIDDLEWARE_SECONDS`), else the alias default. `0` keeps nothing.
 */
export function storeTimeoutOf(
  response: HeaderAccess,
  timeouts: { page: number | undefined; fallback: number | undefined },
  aliasDefault: TimeoutSeconds,
): TimeoutSeconds {
  if (timeouts.page !== undefined) return timeouts.page;
  return getMaxAge(response) ?? timeouts.fallback ?? aliasDefault;
}

/**
 * Adds what a stored page carries (`Expires`, `max-age`, a strong `ETag`) to the response and
 * returns the page to store.
 */
export function toStoredPage(response: CapturedResponse, timeout: TimeoutSeconds, now = Date.now()): StoredPage {
  const body = response.body!;
  if (timeout !== null) setStoredFreshness(response, timeout, now);
  let etag = response.get('etag');
  // A weak validator (Express adds one to every body) gives way to a strong one of the exact bytes.
  if (etag === undefined || etag.startsWith('W/')) {
    etag = `"${hash('md5', body, 'hex')}"`;
    response.set('etag', etag);
  }
  const headers: Array<[string, string]> = [];
  for (const name of response.headerNames()) {
    if (!NOT_STORED.has(name)) headers.push([name, response.get(name)!]);
  }
  const directives = parseCacheControl(response.get('cache-control'));
  return {
    status: response.status,
    headers,
    body: body.toString('latin1'),
    contentLength: Number(response.get('content-length') ?? body.length),
    etag,
    storedAt: now,
    freshUntil: timeout === null ? null : now + timeout * 1000,
    variesOnAuthorization: hasVaryHeader(response, 'authorization'),
    variesOnCookie: hasVaryHeader(response, 'cookie'),
    public: directives.has('public'),
  };
}

export function isStale(page: StoredPage, now = Date.now()): boolean {
  return page.freshUntil !== null && now > page.freshUntil;
}

/**
 * Whether a conditional GET or HEAD is answered `304` (RFC 9110 §13.2.2): `If-None-Match`
 * against the entity tag when the request has one, else `If-Modified-Since` against
 * `Last-Modified`. The same for a stored page and for the response that is being stored.
 */
export function isNotModified(
  request: { header(name: string): string | undefined },
  etag: string | undefined,
  lastModified: string | undefined,
): boolean {
  const ifNoneMatch = request.header('if-none-match');
  if (ifNoneMatch !== undefined) return matchesIfNoneMatch(ifNoneMatch, etag);
  const ifModifiedSince = request.header('if-modified-since');
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  const modified = Date.parse(lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/** RFC 9110 §13.1.2: `If-None-Match` compares weakly and `*` matches any current representation. */
export function matchesIfNoneMatch(ifNoneMatch: string | undefined, etag: string | undefined): boolean {
  if (ifNoneMatch === undefined || etag === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return ifNoneMatch.split(',').some((candidate) => opaque(candidate.trim()) === opaque(etag));
}
