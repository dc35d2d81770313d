import { describe, expect, it } from '@jest/globals';
import {
  MAX_DELTA_SECONDS,
  directivesOf,
  listElements,
  parseCacheControl,
  parseHttpDate,
} from '../../lib/http/rfc9111/index.js';

describe('RFC 9110 lists', () => {
  it.each<[string, string[]]>([
    ['a, b,c', ['a', 'b', 'c']],
    [' , a ,, b , ', ['a', 'b']],
    ['a="x, y", b', ['a="x, y"', 'b']],
    ['a="x \\" , y", b', ['a="x \\" , y"', 'b']],
    ['', []],
  ])('splits %p into its elements', (value, elements) => {
    expect(listElements(value)).toEqual(elements);
  });
});

describe('Cache-Control parsing (RFC 9111 §5.2)', () => {
  it('reads names case-insensitively and every defined directive', () => {
    const parsed = directivesOf(
      'Max-Age=60, S-MAXAGE=30, no-store, Public, must-revalidate, proxy-revalidate, must-understand, ' +
        'stale-while-revalidate=5, stale-if-error=7, only-if-cached, min-fresh=2, max-stale',
    );
    expect(parsed).toMatchObject({
      maxAge: 60,
      sMaxage: 30,
      noStore: true,
      public: true,
      mustRevalidate: true,
      proxyRevalidate: true,
      mustUnderstand: true,
      staleWhileRevalidate: 5,
      staleIfError: 7,
      onlyIfCached: true,
      minFresh: 2,
      maxStale: 'any',
    });
  });

  it('combines the lines of the field', () => {
    const parsed = parseCacheControl([
      ['Cache-Control', 'max-age=60'],
      ['cache-control', 'no-cache'],
    ]);
    expect(parsed.maxAge).toBe(60);
    expect(parsed.noCache).toEqual({ fields: 'all' });
  });

  it.each<[string, number | 'invalid' | undefined]>([
    ['max-age=3600', 3600],
    ['max-age=003600', 3600],
    ['max-age="3600"', 3600],
    ["max-age='3600'", 'invalid'],
    ['max-age=3600.0', 'invalid'],
    ['max-age=-1', 'invalid'],
    ['max-age=a100', 'invalid'],
    ['max-age=100a', 'invalid'],
    ['max-age', 'invalid'],
    ['max-age =3600', undefined],
    ['max-age= 3600', 'invalid'],
    ['max-age=99999999999', MAX_DELTA_SECONDS],
    ['max-age=1, max-age=3600', 1],
    ['foo="max-age=3600", max-age=1', 1],
    ['max-age=1, foo="max-age=3600"', 1],
    ['foo="x, max-age=3600"', undefined],
  ])('reads %p as max-age %p', (value, maxAge) => {
    expect(directivesOf(value).maxAge).toEqual(maxAge);
  });

  it('reads field names of no-cache and private, quoted or not', () => {
    expect(directivesOf('no-cache="Set-Cookie, X-Foo"').noCache).toEqual({ fields: ['set-cookie', 'x-foo'] });
    expect(directivesOf('private=X-Foo').private).toEqual({ fields: ['x-foo'] });
    expect(directivesOf('private=""').private).toEqual({ fields: 'all' });
  });

  it('lets an unqualified no-cache or private win over a qualified one, and merges qualified field lists', () => {
    expect(directivesOf('private="set-cookie", private').private).toEqual({ fields: 'all' });
    expect(directivesOf('no-cache="x", no-cache').noCache).toEqual({ fields: 'all' });
    expect(directivesOf('no-cache, no-cache="x"').noCache).toEqual({ fields: 'all' });
    expect(directivesOf('no-cache="a, b", no-cache="b, c"').noCache).toEqual({ fields: ['a', 'b', 'c'] });
  });

  it('keeps unknown directives by name', () => {
    expect(directivesOf('community="UCI", foo').all).toEqual(
      new Map<string, string | true>([
        ['community', 'UCI'],
        ['foo', true],
      ]),
    );
  });
});

describe('HTTP dates (RFC 9110 §5.6.7)', () => {
  const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
  it.each([
    ['Sun, 06 Nov 1994 08:49:37 GMT', expected],
    ['Sunday, 06-Nov-94 08:49:37 GMT', expected],
    ['Sun Nov  6 08:49:37 1994', expected],
    ['Sun, 06 Nov 1994 08:49:37 UTC', undefined],
    ['Sun, 06 Nov 1994 8:49:37 GMT', undefined],
    ['Sun, 06 nov 1994 08:49:37 GMT', undefined],
    ['sun, 06 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 1994 08:49:37 gmt', undefined],
    ['Sun, 06 Nov 1994 08.49.37 GMT', undefined],
    ['Sun 06 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 31 Feb 1994 08:49:37 GMT', undefined],
    ['0', undefined],
  ])('reads %p', (text, time) => {
    expect(parseHttpDate(text, Date.UTC(2026, 0, 1))).toBe(time);
  });

  it('reads a two-digit year more than 50 years ahead as the past century (§5.6.7)', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(new Date(parseHttpDate('Friday, 01-Jan-77 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2077 - 100);
    expect(new Date(parseHttpDate('Saturday, 01-Jan-50 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2050);
  });
});
