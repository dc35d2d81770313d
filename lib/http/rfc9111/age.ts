// RFC 9111 §4.2.3: a stored response's current age, from its Age field and the clock readings of
// the exchange that brought it; and the Age a cache sends with it (§5.1).
import { MAX_DELTA_SECONDS } from './cache-control.js';
import { dateOf } from './freshness.js';
import { listElements } from './field-lists.js';
import { fieldValue, type CacheResponse } from './messages.js';

/**
 * The response's `Age` in seconds; `undefined` when absent. §5.1: a list (on one line or several)
 * counts by its first member only. `'invalid'` when that member is not a non-negative integer (a
 * sign, a fraction, a parameter): §5.1 says to ignore such a field, but ignoring it would make an
 * old response look new, so it is read as old, the safe side (the cache-tests suite wants that too).
 */
export function ageValue(response: CacheResponse): number | 'invalid' | undefined {
  const value = fieldValue(response.headers, 'age');
  if (value === undefined) return undefined;
  const first = listElements(value)[0] ?? '';
  if (!/^\d+$/.test(first)) return 'invalid';
  return Math.min(Number(first), MAX_DELTA_SECONDS);
}

/** §4.2.3's current_age, in seconds (not rounded), at `now` (ms since the epoch). */
export function currentAge(response: CacheResponse, now: number): number {
  const age = ageValue(response);
  if (age === 'invalid') return MAX_DELTA_SECONDS;
  const date = dateOf(response) ?? response.receivedAt;
  const apparentAge = Math.max(0, response.receivedAt - date) / 1000;
  const responseDelay = Math.max(0, response.receivedAt - response.requestedAt) / 1000;
  const correctedAgeValue = (age ?? 0) + responseDelay;
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue);
  const residentTime = Math.max(0, now - response.receivedAt) / 1000;
  return correctedInitialAge + residentTime;
}

/** The `Age` to send with a stored response at `now`: whole seconds, never more than 2^31. */
export function ageToSend(response: CacheResponse, now: number): string {
  return String(Math.min(Math.floor(currentAge(response, now)), MAX_DELTA_SECONDS));
}
