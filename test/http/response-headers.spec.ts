import { describe, expect, it } from '@jest/globals';
import {
  addNeverCacheHeaders,
  patchCacheControl,
  patchResponseHeaders,
  patchVaryHeaders,
  type CacheControlDirectives,
  type HeaderAccess,
} from '../../lib/http/response-headers.js';
import { isNotModified, matchesIfNoneMatch } from '../../lib/http/stored-page.js';

function headersWith(initial: Record<string, string>): HeaderAccess & { all: Map<string, string> } {
  const all = new Map(Object.entries(initial).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    all,
    get: (name) => all.get(name.toLowerCase()),
    set: (name, value) => void all.set(name.toLowerCase(), value),
  };
}

const directivesOf = (header: string | undefined) => new Set((header ?? '').split(', ').filter(Boolean));

describe("Django's header helpers", () => {
  it.each<[string | undefined, CacheControlDirectives, string[]]>([
    [undefined, { private: true }, ['private']],
    ['', { noCache: true }, ['no-cache']],
    ['private', { private: true }, ['private']],
    ['private', { public: true }, ['public']],
    ['public', { private: true }, ['private']],
    ['must-revalidate,max-age=60,private', { public: true }, ['must-revalidate', 'max-age=60', 'public']],
    ['must-revalidate,max-age=60,public', { private: true }, ['must-revalidate', 'max-age=60', 'private']],
    ['max-age=60', { maxAge: 30 }, ['max-age=30']],
    ['max-age=30', { maxAge: 60 }, ['max-age=30']],
    ['public, max-age=60', { public: false }, ['max-age=60']],
    ['', { sMaxage: 10, staleWhileRevalidate: 5 }, ['s-maxage=10', 'stale-while-revalidate=5']],
  ])('patches Cache-Control %p with %j', (initial, options, expected) => {
    const headers = headersWith(initial === undefined ? {} : { 'Cache-Control': initial });
    patchCacheControl(headers, options);
    expect(directivesOf(headers.get('cache-control'))).toEqual(new Set(expected));
  });

  it.each<[string | undefined, string[], string]>([
    [undefined, ['Accept-Encoding'], 'Accept-Encoding'],
    ['Accept-Encoding', ['accept-encoding'], 'Accept-Encoding'],
    ['Cookie', ['Accept-Encoding'], 'Cookie, Accept-Encoding'],
    ['Cookie, Accept-Encoding', ['Accept-Encoding', 'cookie'], 'Cookie, Accept-Encoding'],
    [undefined, ['Accept-Encoding', 'COOKIE'], 'Accept-Encoding, COOKIE'],
    ['Cookie    ,     Accept-Encoding', ['Accept-Encoding', 'cookie'], 'Cookie, Accept-Encoding'],
    ['*', ['Accept-Language', 'Cookie'], '*'],
    ['Accept-Language, Cookie', ['*'], '*'],
  ])('patches Vary %p with %j', (initial, names, expected) => {
    const headers = headersWith(initial === undefined ? {} : { Vary: initial });
    patchVaryHeaders(headers, names);
    expect(headers.get('vary')).toBe(expected);
  });

  it('adds Expires and max-age for a stored page, keeping an existing Expires and a lower max-age', () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0);
    const fresh = headersWith({});
    patchResponseHeaders(fresh, 600, now);
    expect(fresh.get('expires')).toBe('Mon, 23 Nov 2026 12:10:00 GMT');
    expect(fresh.get('cache-control')).toBe('max-age=600');
    const existing = headersWith({ Expires: 'Tue, 24 Nov 2026 00:00:00 GMT', 'Cache-Control': 'max-age=60' });
    patchResponseHeaders(existing, 600, now);
    expect(existing.get('expires')).toBe('Tue, 24 Nov 2026 00:00:00 GMT');
    expect(existing.get('cache-control')).toBe('max-age=60');
  });

  it('marks a response as never to be kept', () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0);
    const headers = headersWith({ 'Cache-Control': 'public, max-age=600' });
    addNeverCacheHeaders(headers, now);
    expect(headers.get('expires')).toBe('Mon, 23 Nov 2026 12:00:00 GMT');
    expect(directivesOf(headers.get('cache-control'))).toEqual(
      new Set(['max-age=0', 'no-cache', 'no-store', 'must-revalidate', 'private']),
    );
  });

  it.each<[string | undefined, string | undefined, boolean]>([
    ['"abc"', '"abc"', true],
    ['W/"abc"', '"abc"', true],
    ['"x", "abc"', '"abc"', true],
    ['*', '"abc"', true],
    ['"abd"', '"abc"', false],
    [undefined, '"abc"', false],
    ['"abc"', undefined, false],
  ])('If-None-Match %p against %p: %p', (ifNoneMatch, etag, matches) => {
    expect(matchesIfNoneMatch(ifNoneMatch, etag)).toBe(matches);
  });

  const DAY = 'Wed, 01 Jan 2025 00:00:00 GMT';
  const LATER = 'Thu, 02 Jan 2025 00:00:00 GMT';
  it.each<[Record<string, string>, string | undefined, boolean]>([
    [{ 'if-modified-since': LATER }, DAY, true],
    [{ 'if-modified-since': DAY }, DAY, true],
    [{ 'if-modified-since': DAY }, LATER, false],
    [{ 'if-modified-since': 'not a date' }, DAY, false],
    [{ 'if-modified-since': LATER }, undefined, false],
    // If-None-Match, when sent, decides alone (RFC 9110 §13.2.2).
    [{ 'if-none-match': '"other"', 'if-modified-since': LATER }, DAY, false],
    [{ 'if-none-match': '"abc"', 'if-modified-since': 'Tue, 31 Dec 2024 00:00:00 GMT' }, DAY, true],
  ])('request %j against Last-Modified %p: not modified %p', (headers, lastModified, expected) => {
    expect(isNotModified({ header: (name) => headers[name] }, '"abc"', lastModified)).toBe(expected);
  });
});
