import { describe, expect, it } from '@jest/globals';
import {
  MAX_DELTA_SECONDS,
  ageToSend,
  ageValue,
  currentAge,
  freshnessLifetime,
  hasExplicitFreshness,
  type HeaderList,
} from '../../lib/http/rfc9111/index.js';
import { T, dateAt, response, seconds } from './messages.js';

const lifetime = (headers: HeaderList, heuristic?: { fraction: number; maxSeconds: number }, status = 200) =>
  freshnessLifetime(response(headers, status), heuristic);

describe('freshness lifetime (RFC 9111 §4.2.1)', () => {
  it('takes s-maxage first, then max-age, then Expires minus Date', () => {
    const date: [string, string] = ['Date', dateAt(0)];
    const expires: [string, string] = ['Expires', dateAt(100)];
    expect(lifetime([date, expires, ['Cache-Control', 'max-age=50, s-maxage=10']])).toEqual({
      source: 's-maxage',
      seconds: 10,
    });
    expect(lifetime([date, expires, ['Cache-Control', 'max-age=50']])).toEqual({ source: 'max-age', seconds: 50 });
    expect(lifetime([date, expires])).toEqual({ source: 'expires', seconds: 100 });
  });

  it('counts Expires from the time the response arrived when Date is missing', () => {
    expect(lifetime([['Expires', dateAt(30)]])).toEqual({ source: 'expires', seconds: 30 });
  });

  it.each<[string, HeaderList]>([
    ['an invalid Expires', [['Expires', '0']]],
    ['an Expires in the past', [['Expires', dateAt(-10)]]],
    [
      'two Expires lines',
      [
        ['Expires', dateAt(100)],
        ['Expires', dateAt(200)],
      ],
    ],
    ['an invalid max-age', [['Cache-Control', 'max-age=a100']]],
  ])('reads %s as already stale', (_label, headers) => {
    expect(lifetime(headers).seconds).toBe(0);
    expect(hasExplicitFreshness(response(headers))).toBe(true);
  });

  it('accepts Expires in the RFC 850 and asctime forms', () => {
    const asctime = 'Thu Jan 15 12:01:40 2026';
    const rfc850 = 'Thursday, 15-Jan-26 12:01:40 GMT';
    expect(lifetime([['Expires', asctime]]).seconds).toBe(100);
    expect(lifetime([['Expires', rfc850]]).seconds).toBe(100);
  });

  it('has no freshness without explicit information, unless the heuristic is on (§4.2.2)', () => {
    const headers: HeaderList = [
      ['Date', dateAt(0)],
      ['Last-Modified', dateAt(-1000)],
    ];
    expect(lifetime(headers)).toEqual({ source: 'none', seconds: 0 });
    expect(lifetime(headers, { fraction: 0.1, maxSeconds: 86_400 })).toEqual({ source: 'heuristic', seconds: 100 });
    expect(lifetime(headers, { fraction: 0.1, maxSeconds: 60 }).seconds).toBe(60);
    // 201 is not heuristically cacheable (RFC 9110 §15.1).
    expect(lifetime(headers, { fraction: 0.1, maxSeconds: 86_400 }, 201).source).toBe('none');
    expect(lifetime([['Date', dateAt(0)]], { fraction: 0.1, maxSeconds: 86_400 }).source).toBe('none');
  });
});

describe('age (RFC 9111 §4.2.3, §5.1)', () => {
  it('adds the response delay to Age, and the time since the response arrived', () => {
    const stored = response([
      ['Date', dateAt(0)],
      ['Age', '10'],
    ]);
    // corrected_age_value = 10 + 1 (response delay); resident 5 s.
    expect(currentAge(stored, T + seconds(5))).toBe(16);
    expect(ageToSend(stored, T + seconds(5.7))).toBe('16');
  });

  it('uses the apparent age when the Date is older than the Age says', () => {
    const stored = response([['Date', dateAt(-30)]]);
    expect(currentAge(stored, T)).toBe(30);
  });

  it('never counts a Date in the future as negative age', () => {
    expect(currentAge(response([['Date', dateAt(30)]]), T)).toBe(1);
  });

  it.each<[string, HeaderList]>([
    ['non-numeric', [['Age', 'abc']]],
    ['negative', [['Age', '-7200']]],
    ['a float', [['Age', '7200.0']]],
    ['with a parameter', [['Age', '0;foo=bar']]],
    ['a list whose first member is invalid', [['Age', 'abc, 0']]],
  ])('reads an Age that is %s as old', (_label, headers) => {
    const stored = response(headers);
    expect(ageValue(stored)).toBe('invalid');
    expect(currentAge(stored, T)).toBe(MAX_DELTA_SECONDS);
  });

  it.each<[string, HeaderList, number]>([
    ['a list', [['Age', '0,7200']], 0],
    ['a list of equal members', [['Age', '3600, 3600']], 3600],
    [
      'two lines',
      [
        ['Age', '7200'],
        ['Age', '0'],
      ],
      7200,
    ],
  ])('reads an Age that is %s by its first member (§5.1)', (_label, headers, first) => {
    expect(ageValue(response(headers))).toBe(first);
  });

  it('caps the Age it sends at 2^31', () => {
    expect(ageToSend(response([['Age', '99999999999999']]), T)).toBe(String(MAX_DELTA_SECONDS));
  });
});
