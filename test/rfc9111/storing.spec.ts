import { describe, expect, it } from '@jest/globals';
import { decideStore, fieldsToStore, type HeaderList, type StoreDecision } from '../../lib/http/rfc9111/index.js';
import { dateAt, request, response } from './messages.js';

const fresh: HeaderList = [['Cache-Control', 'max-age=60']];
const heuristic = { fraction: 0.1, maxSeconds: 86_400 };

describe('storing a response (RFC 9111 §3)', () => {
  it.each<[string, HeaderList, number, StoreDecision]>([
    ['with max-age', fresh, 200, { store: true }],
    ['with s-maxage', [['Cache-Control', 's-maxage=60']], 200, { store: true }],
    ['with Expires', [['Expires', dateAt(60)]], 200, { store: true }],
    ['a fresh 404', fresh, 404, { store: true }],
    ['a fresh 302', fresh, 302, { store: true }],
    ['a fresh 500', fresh, 500, { store: true }],
    ['without freshness', [], 200, { store: false, reason: 'no-freshness' }],
    ['a 206', fresh, 206, { store: false, reason: 'status' }],
    ['a 304', fresh, 304, { store: false, reason: 'status' }],
    ['with no-store', [['Cache-Control', 'max-age=60, no-store']], 200, { store: false, reason: 'no-store' }],
    ['with private', [['Cache-Control', 'max-age=60, private']], 200, { store: false, reason: 'private' }],
    ['with private="X-Foo"', [['Cache-Control', 'max-age=60, private="X-Foo"']], 200, { store: true }],
    ['with Vary: *', [...fresh, ['Vary', 'Accept, *']], 200, { store: false, reason: 'vary-star' }],
    ['with no-cache and max-age', [['Cache-Control', 'no-cache, max-age=60']], 200, { store: true }],
    [
      'with no-cache and an ETag',
      [
        ['Cache-Control', 'no-cache'],
        ['ETag', '"a"'],
      ],
      200,
      { store: true },
    ],
    ['with no-cache alone', [['Cache-Control', 'no-cache']], 200, { store: false, reason: 'no-freshness' }],
  ])('stores a response %s: %j', (_label, headers, status, decision) => {
    expect(decideStore(request(), response(headers, status))).toEqual(decision);
  });

  it('stores no response to a POST, and none to a request with no-store', () => {
    expect(decideStore(request([], 'POST'), response(fresh))).toEqual({ store: false, reason: 'method' });
    expect(decideStore(request([['Cache-Control', 'no-store']]), response(fresh))).toEqual({
      store: false,
      reason: 'no-store',
    });
  });

  it('stores nothing for a request with no-store, even when the response says must-understand (§5.2.1.5)', () => {
    const headers: HeaderList = [['Cache-Control', 'max-age=60, no-store, must-understand']];
    expect(decideStore(request([['Cache-Control', 'no-store']]), response(headers))).toEqual({
      store: false,
      reason: 'no-store',
    });
  });

  it('reads methods case-sensitively: a response to `get` is not stored (RFC 9110 §9.1)', () => {
    expect(decideStore(request([], 'get'), response(fresh))).toEqual({ store: false, reason: 'method' });
  });

  it('stores a response to a request with Authorization only when it says so (§3.5)', () => {
    const authorized = request([['Authorization', 'Basic dXNlcjpwYXNz']]);
    expect(decideStore(authorized, response(fresh))).toEqual({ store: false, reason: 'authorization' });
    for (const directive of ['public', 'must-revalidate', 's-maxage=60']) {
      expect(decideStore(authorized, response([['Cache-Control', `max-age=60, ${directive}`]]))).toEqual({
        store: true,
      });
    }
  });

  it('lets must-understand override no-store for a status it understands (§5.2.2.3)', () => {
    const headers: HeaderList = [['Cache-Control', 'max-age=60, must-understand, no-store']];
    expect(decideStore(request(), response(headers, 200))).toEqual({ store: true });
    expect(decideStore(request(), response(headers, 299))).toEqual({ store: false, reason: 'must-understand' });
  });

  it('stores with heuristic freshness only when it is switched on, for the statuses RFC 9110 allows', () => {
    const modified: HeaderList = [
      ['Date', dateAt(0)],
      ['Last-Modified', dateAt(-3600)],
    ];
    expect(decideStore(request(), response(modified))).toEqual({ store: false, reason: 'no-freshness' });
    expect(decideStore(request(), response(modified), { heuristic })).toEqual({ store: true });
    expect(decideStore(request(), response(modified, 201), { heuristic })).toEqual({
      store: false,
      reason: 'no-freshness',
    });
  });

  it('gives heuristic freshness to any status a response marks public (§4.2.2)', () => {
    const publicModified: HeaderList = [
      ['Date', dateAt(0)],
      ['Last-Modified', dateAt(-3600)],
      ['Cache-Control', 'public'],
    ];
    expect(decideStore(request(), response(publicModified, 201), { heuristic })).toEqual({ store: true });
    expect(decideStore(request(), response(publicModified, 201))).toEqual({ store: false, reason: 'no-freshness' });
  });

  it('does not store a response whose private is unqualified on any occurrence (§5.2)', () => {
    const headers: HeaderList = [['Cache-Control', 'max-age=60, private="Set-Cookie", private']];
    expect(decideStore(request(), response(headers))).toEqual({ store: false, reason: 'private' });
  });
});

describe('fields not stored (RFC 9111 §3.1)', () => {
  it('drops Connection and what it names, hop-by-hop and Proxy-* fields, and no-cache/private field names', () => {
    const stored = fieldsToStore([
      ['Cache-Control', 'max-age=60, no-cache="X-Secret", private=X-Mine'],
      ['Connection', 'close, X-Hop'],
      ['X-Hop', '1'],
      ['Keep-Alive', 'timeout=5'],
      ['Transfer-Encoding', 'chunked'],
      ['Proxy-Authenticate', 'Basic'],
      ['Proxy-Authentication-Info', 'x'],
      ['X-Secret', '2'],
      ['x-mine', '3'],
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=b'],
    ]);
    expect(stored.map(([name]) => name)).toEqual(['Cache-Control', 'Content-Type', 'Set-Cookie']);
  });
});
