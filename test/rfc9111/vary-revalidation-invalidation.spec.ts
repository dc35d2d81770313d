import { describe, expect, it } from '@jest/globals';
import {
  answersNotModified,
  conditionalFields,
  currentAge,
  describesStored,
  freshenedWith,
  headUpdate,
  invalidationTargets,
  revalidationOutcome,
  selectingFields,
  varyMatches,
  varyNames,
  type HeaderList,
} from '../../lib/http/rfc9111/index.js';
import { T, dateAt, request, response, seconds } from './messages.js';

describe('Vary (RFC 9111 §4.1)', () => {
  const vary: HeaderList = [['Vary', 'Accept-Language, Foo']];

  it('matches when every named field has the same value, after normalising the list', () => {
    const stored: HeaderList = [
      ['Accept-Language', 'en, fr'],
      ['Foo', 'x'],
    ];
    expect(
      varyMatches(vary, stored, [
        ['accept-language', 'en,fr'],
        ['FOO', 'x'],
      ]),
    ).toBe(true);
    expect(
      varyMatches(vary, stored, [
        ['Accept-Language', 'en'],
        ['Accept-Language', 'fr'],
        ['Foo', 'x'],
      ]),
    ).toBe(true);
    expect(
      varyMatches(vary, stored, [
        ['Accept-Language', 'en, fr'],
        ['Foo', 'y'],
      ]),
    ).toBe(false);
  });

  it('ignores case where the field says case means nothing, and keeps order (a preference)', () => {
    const byLanguage: HeaderList = [['Vary', 'Accept-Language']];
    expect(varyMatches(byLanguage, [['Accept-Language', 'en-US']], [['Accept-Language', 'EN-us']])).toBe(true);
    expect(varyMatches(byLanguage, [['Accept-Language', 'en, fr']], [['Accept-Language', 'fr, en']])).toBe(false);
    expect(varyMatches([['Vary', 'Foo']], [['Foo', 'a']], [['Foo', 'A']])).toBe(false);
  });

  it('tells an absent field from one sent empty, and matches two requests that both omit it', () => {
    expect(varyMatches(vary, [], [])).toBe(true);
    expect(varyMatches(vary, [], [['Foo', '']])).toBe(false);
  });

  it('never matches Vary: *, on any line of the field', () => {
    expect(
      varyNames([
        ['Vary', 'Foo'],
        ['Vary', '*'],
      ]),
    ).toBe('*');
    expect(varyMatches([['Vary', '*']], [], [])).toBe(false);
    expect(selectingFields([['Vary', '*']], [])).toBe('*');
  });

  it('keeps the selecting fields of the request, normalised', () => {
    expect(selectingFields(vary, [['Accept-Language', ' en ,fr ']])).toEqual([['accept-language', 'en, fr']]);
  });
});

describe('revalidation (RFC 9111 §4.3)', () => {
  const stored = response([
    ['Date', dateAt(0)],
    ['Cache-Control', 'max-age=1'],
    ['ETag', '"v1"'],
    ['Last-Modified', dateAt(-100)],
    ['Content-Length', '5'],
    ['Content-Encoding', 'gzip'],
    ['X-Old', 'kept'],
    ['X-Changed', 'before'],
  ]);

  it('sends the stored validators as If-None-Match and If-Modified-Since', () => {
    expect(conditionalFields(stored)).toEqual([
      ['If-None-Match', '"v1"'],
      ['If-Modified-Since', dateAt(-100)],
    ]);
    expect(conditionalFields(response([['Cache-Control', 'max-age=1']]))).toEqual([]);
  });

  it('reads the answer: 304 uses the stored one, 5xx is an error, anything else replaces it', () => {
    expect([304, 500, 503, 200, 404].map(revalidationOutcome)).toEqual([
      'use-stored',
      'error',
      'error',
      'replace',
      'replace',
    ]);
  });

  it('updates the stored fields from a 304, except those of the stored body and those never stored (§3.2)', () => {
    const later = T + seconds(60);
    const notModified = response(
      [
        ['Date', dateAt(60)],
        ['Cache-Control', 'max-age=600'],
        ['ETag', '"v1"'],
        ['X-Changed', 'after'],
        ['Content-Length', '0'],
        ['Content-Encoding', 'br'],
        ['Connection', 'close'],
      ],
      304,
      later,
    );
    expect(describesStored(stored, notModified)).toBe(true);
    const freshened = freshenedWith(stored, notModified);
    expect(freshened.status).toBe(200);
    expect(freshened.receivedAt).toBe(later);
    expect(Object.fromEntries(freshened.headers.map(([name, value]) => [name.toLowerCase(), value]))).toEqual({
      'last-modified': dateAt(-100),
      'content-length': '5',
      'content-encoding': 'gzip',
      'x-old': 'kept',
      date: dateAt(60),
      'cache-control': 'max-age=600',
      etag: '"v1"',
      'x-changed': 'after',
    });
  });

  it('answers a client’s conditional request from the stored response (§4.3.2)', () => {
    const conditional = (headers: HeaderList) => answersNotModified(request(headers), stored);
    expect(conditional([['If-None-Match', '"v0", W/"v1"']])).toBe(true);
    expect(conditional([['If-None-Match', '*']])).toBe(true);
    expect(conditional([['If-None-Match', '"v2"']])).toBe(false);
    // If-None-Match takes precedence over If-Modified-Since.
    expect(
      conditional([
        ['If-None-Match', '"v2"'],
        ['If-Modified-Since', dateAt(0)],
      ]),
    ).toBe(false);
    expect(conditional([['If-Modified-Since', dateAt(-100)]])).toBe(true);
    expect(conditional([['If-Modified-Since', dateAt(-101)]])).toBe(false);
    expect(answersNotModified(request([['If-None-Match', '"v1"']], 'POST'), stored)).toBe(false);
    // RFC 9110 §9.1: methods are case-sensitive.
    expect(answersNotModified(request([['If-None-Match', '"v1"']], 'get'), stored)).toBe(false);
  });

  it('selects the stored response by its validators (§4.3.4)', () => {
    expect(describesStored(stored, response([['ETag', '"v2"']], 304))).toBe(false);
    expect(describesStored(stored, response([['ETag', 'W/"v1"']], 304))).toBe(true);
    expect(describesStored(stored, response([['Last-Modified', dateAt(-100)]], 304))).toBe(true);
    expect(describesStored(stored, response([['Last-Modified', dateAt(-50)]], 304))).toBe(false);
    expect(describesStored(response([['Cache-Control', 'max-age=1']]), response([], 304))).toBe(true);
  });

  it('matches no stored response with a validator to an update without one (§4.3.4)', () => {
    expect(describesStored(stored, response([], 304))).toBe(false);
    expect(headUpdate(stored, response([['X-Changed', 'after']], 200))).toEqual({ invalidate: true });
  });

  it('tells two weak ETags apart even when Last-Modified agrees (§4.3.4)', () => {
    const weak = response([
      ['ETag', 'W/"a"'],
      ['Last-Modified', dateAt(-100)],
    ]);
    const other = (status: number) =>
      response(
        [
          ['ETag', 'W/"b"'],
          ['Last-Modified', dateAt(-100)],
        ],
        status,
      );
    expect(describesStored(weak, other(304))).toBe(false);
    expect(headUpdate(weak, other(200))).toEqual({ invalidate: true });
  });

  it('dates a 304 without Date by its arrival and drops the stored Age, so its age starts again', () => {
    const aged = response([
      ['Date', dateAt(0)],
      ['Age', '50'],
      ['Cache-Control', 'max-age=100'],
      ['ETag', '"v1"'],
    ]);
    const validated = T + seconds(120);
    const freshened = freshenedWith(aged, response([['ETag', '"v1"']], 304, validated));
    const fields = Object.fromEntries(freshened.headers.map(([name, value]) => [name.toLowerCase(), value]));
    expect(fields.date).toBe(dateAt(120));
    expect(fields.age).toBeUndefined();
    expect(currentAge(freshened, validated + seconds(1))).toBe(2);
    const withAge = freshenedWith(aged, response([['Age', '7']], 304, validated));
    expect(withAge.headers.filter(([name]) => name === 'Age')).toEqual([['Age', '7']]);
  });

  it('updates from a matching 200 to HEAD, drops the stored response when it no longer matches (§4.3.5)', () => {
    const head = response(
      [
        ['ETag', '"v1"'],
        ['X-Changed', 'after'],
      ],
      200,
    );
    expect(headUpdate(stored, head)).toMatchObject({ update: { status: 200 } });
    expect(headUpdate(stored, response([['ETag', '"v2"']], 200))).toEqual({ invalidate: true });
    expect(headUpdate(stored, response([['ETag', '"v1"']], 404))).toEqual({ keep: true });
  });
});

describe('invalidation (RFC 9111 §4.4)', () => {
  const post = request([], 'POST', 'http://example.test/items/1?x=1');

  it('invalidates the target URI, and Location and Content-Location on the same origin', () => {
    const answer = {
      status: 201,
      headers: [
        ['Location', '/items/2'],
        ['Content-Location', 'http://example.test/items/2/view#top'],
      ] as HeaderList,
    };
    expect(invalidationTargets(post, answer).sort()).toEqual([
      'http://example.test/items/1?x=1',
      'http://example.test/items/2',
      'http://example.test/items/2/view',
    ]);
  });

  it('leaves other origins alone', () => {
    const answer = { status: 200, headers: [['Location', 'http://other.test/items/2']] as HeaderList };
    expect(invalidationTargets(post, answer)).toEqual(['http://example.test/items/1?x=1']);
  });

  it('invalidates after any unsafe method, unknown ones too, but not after an error or a safe method', () => {
    const ok = { status: 204, headers: [] };
    for (const method of ['PUT', 'DELETE', 'PATCH', 'M-SEARCH']) {
      expect(invalidationTargets({ ...post, method }, ok)).toHaveLength(1);
    }
    expect(invalidationTargets(post, { status: 404, headers: [] })).toEqual([]);
    expect(invalidationTargets(post, { status: 500, headers: [] })).toEqual([]);
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) {
      expect(invalidationTargets({ ...post, method }, ok)).toEqual([]);
    }
  });

  it('reads methods case-sensitively: `get` is an unknown, unsafe method (RFC 9110 §9.1)', () => {
    expect(invalidationTargets({ ...post, method: 'get' }, { status: 204, headers: [] })).toHaveLength(1);
  });
});
