import { describe, expect, it } from '@jest/globals';
import {
  decideReuse,
  mayServeStaleOnError,
  mayServeStaleWhenDisconnected,
  requestPolicy,
  type HeaderList,
  type ReuseDecision,
} from '../../lib/http/rfc9111/index.js';
import { T, dateAt, request, response, seconds } from './messages.js';

/** A response stored at T with these Cache-Control directives (its Date is T). */
const storedWith = (cacheControl: string) =>
  response([
    ['Date', dateAt(0)],
    ['Cache-Control', cacheControl],
  ]);
const at = (secondsAfter: number) => T + seconds(secondsAfter);
const use = (decision: ReuseDecision) => decision.use;

describe('request directives (RFC 9111 §5.2.1, §5.4)', () => {
  it('reads Pragma: no-cache only without Cache-Control', () => {
    expect(requestPolicy(request([['Pragma', 'no-cache']])).noCache).toBe(true);
    expect(requestPolicy(request([['Pragma', 'foo, No-Cache']])).noCache).toBe(true);
    expect(
      requestPolicy(
        request([
          ['Pragma', 'no-cache'],
          ['Cache-Control', 'max-age=60'],
        ]),
      ).noCache,
    ).toBe(false);
  });

  it('reads max-stale without a value as any staleness', () => {
    expect(requestPolicy(request([['Cache-Control', 'max-stale']])).maxStale).toBe(Infinity);
    expect(requestPolicy(request([['Cache-Control', 'max-stale=5']])).maxStale).toBe(5);
  });
});

describe('reusing a stored response (RFC 9111 §4, RFC 5861)', () => {
  it('serves it while fresh, revalidates it once stale', () => {
    const stored = storedWith('max-age=60');
    expect(decideReuse(request(), stored, at(30))).toEqual({ use: 'stored', age: 31 });
    expect(use(decideReuse(request(), stored, at(60)))).toBe('revalidate');
  });

  it('counts the Age the response came with', () => {
    const stored = response([
      ['Cache-Control', 'max-age=60'],
      ['Age', '59'],
    ]);
    expect(use(decideReuse(request(), stored, at(1)))).toBe('revalidate');
  });

  it('revalidates on no-cache, the response’s or the request’s', () => {
    expect(use(decideReuse(request(), storedWith('max-age=60, no-cache'), at(1)))).toBe('revalidate');
    expect(use(decideReuse(request([['Cache-Control', 'no-cache']]), storedWith('max-age=60'), at(1)))).toBe(
      'revalidate',
    );
    expect(use(decideReuse(request([['Pragma', 'no-cache']]), storedWith('max-age=60'), at(1)))).toBe('revalidate');
  });

  it('serves a response stored with qualified no-cache (its fields were not stored)', () => {
    expect(use(decideReuse(request(), storedWith('max-age=60, no-cache="X-Foo"'), at(1)))).toBe('stored');
  });

  it.each<[string, string, number, ReuseDecision['use']]>([
    ['max-age=10', 'max-age', 5, 'stored'],
    ['max-age=3', 'max-age', 5, 'revalidate'],
    ['min-fresh=50', 'min-fresh', 5, 'stored'],
    ['min-fresh=58', 'min-fresh', 5, 'revalidate'],
    ['max-stale=30', 'max-stale', 80, 'stored'],
    ['max-stale=10', 'max-stale', 80, 'revalidate'],
    ['max-stale', 'max-stale', 8000, 'stored'],
    ['no-store', 'no-store', 5, 'forward'],
  ])('follows the request’s %s', (cacheControl, _name, after, expected) => {
    const asked = request([['Cache-Control', cacheControl]]);
    expect(use(decideReuse(asked, storedWith('max-age=60'), at(after)))).toBe(expected);
  });

  it('serves no stale response to a request with max-age or min-fresh, unless it also says max-stale (§5.2.1.1)', () => {
    const revalidating = storedWith('max-age=1, stale-while-revalidate=600');
    for (const cacheControl of ['max-age=0', 'max-age=100', 'min-fresh=300']) {
      expect(use(decideReuse(request([['Cache-Control', cacheControl]]), revalidating, at(10)))).toBe('revalidate');
    }
    expect(use(decideReuse(request([['Cache-Control', 'max-age=100, max-stale=5']]), revalidating, at(10)))).toBe(
      'stale-while-revalidate',
    );
  });

  it('bounds a stale response by the request’s max-age even with max-stale (§5.2)', () => {
    const asked = request([['Cache-Control', 'max-age=10, max-stale=1000']]);
    expect(use(decideReuse(asked, storedWith('max-age=60'), at(700)))).toBe('revalidate');
    expect(decideReuse(asked, storedWith('max-age=1'), at(5))).toEqual({ use: 'stored', age: 6 });
  });

  it('revalidates a response with no-cache on any occurrence, even after a qualified one (§5.2)', () => {
    expect(use(decideReuse(request(), storedWith('max-age=60, no-cache="X-Foo", no-cache'), at(1)))).toBe('revalidate');
  });

  it('answers only-if-cached from the cache or with 504', () => {
    const asked = request([['Cache-Control', 'only-if-cached']]);
    expect(use(decideReuse(asked, storedWith('max-age=60'), at(5)))).toBe('stored');
    expect(use(decideReuse(asked, storedWith('max-age=60'), at(100)))).toBe('gateway-timeout');
  });

  it('never serves stale what must-revalidate, proxy-revalidate or s-maxage covers, even with max-stale', () => {
    const asked = request([['Cache-Control', 'max-stale']]);
    for (const strict of ['max-age=1, must-revalidate', 'max-age=1, proxy-revalidate', 's-maxage=1']) {
      expect(use(decideReuse(asked, storedWith(strict), at(10)))).toBe('revalidate');
    }
  });

  it('serves stale while revalidating within stale-while-revalidate (RFC 5861 §3)', () => {
    const stored = storedWith('max-age=1, stale-while-revalidate=30');
    expect(use(decideReuse(request(), stored, at(10)))).toBe('stale-while-revalidate');
    expect(use(decideReuse(request(), stored, at(40)))).toBe('revalidate');
    expect(use(decideReuse(request([['Cache-Control', 'no-cache']]), stored, at(10)))).toBe('revalidate');
  });

  it('serves stale on an error within stale-if-error, the response’s or the request’s (RFC 5861 §4)', () => {
    expect(mayServeStaleOnError(request(), storedWith('max-age=1, stale-if-error=30'), at(10))).toBe(true);
    expect(mayServeStaleOnError(request(), storedWith('max-age=1, stale-if-error=30'), at(40))).toBe(false);
    expect(mayServeStaleOnError(request(), storedWith('max-age=1'), at(10))).toBe(false);
    const asking = request([['Cache-Control', 'stale-if-error=60']]);
    expect(mayServeStaleOnError(asking, storedWith('max-age=1'), at(10))).toBe(true);
    expect(mayServeStaleOnError(asking, storedWith('max-age=1, must-revalidate'), at(10))).toBe(false);
  });

  it('serves nothing stale on an error when the response says no-cache (§4.2.4)', () => {
    expect(mayServeStaleOnError(request(), storedWith('max-age=1, no-cache, stale-if-error=30'), at(10))).toBe(false);
    const asking = request([['Cache-Control', 'stale-if-error=60']]);
    expect(mayServeStaleOnError(asking, storedWith('max-age=1, no-cache'), at(10))).toBe(false);
    // The qualified form keeps only its fields out of the stored response.
    expect(mayServeStaleOnError(asking, storedWith('max-age=1, no-cache="X-Foo"'), at(10))).toBe(true);
  });

  it('serves stale when the origin cannot be reached, unless the response forbids it (§4.2.4)', () => {
    expect(mayServeStaleWhenDisconnected(storedWith('max-age=1'))).toBe(true);
    for (const strict of ['max-age=1, must-revalidate', 'max-age=1, proxy-revalidate', 's-maxage=1', 'no-cache']) {
      expect(mayServeStaleWhenDisconnected(storedWith(strict))).toBe(false);
    }
  });

  it('reuses a response whose freshness is heuristic only when the heuristic is on', () => {
    const headers: HeaderList = [
      ['Date', dateAt(0)],
      ['Last-Modified', dateAt(-1000)],
    ];
    const heuristic = { fraction: 0.1, maxSeconds: 86_400 };
    expect(use(decideReuse(request(), response(headers), at(10), { heuristic }))).toBe('stored');
    expect(use(decideReuse(request(), response(headers), at(10)))).toBe('revalidate');
  });
});
