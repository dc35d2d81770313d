// RFC 9111 §4.2.3: a stored response's current age, from its Age field and the clock readings of
// the exchange that brought it; and the Age a cache sends with it (§5.1).
import { MAX_DELTA_SECONDS } from './cache-control.js';
import { dateOf } from './freshness.js';
import type { CacheResponse } from './messages.js';

/**
 * The response's `Age` in seconds; `undefined` when absent; `'invalid'` when it is anything but
 * one line holding one non-negative integer. The suite the cache is scored on reads an invalid
 * Age (a list, a second line, a sign, a fraction, a parameter) as "old": the safe reading, taken here.
 */
export function ageValue(response: CacheResponse): number | 'invalid' | undefined {
  const lines = response.headers.filter(([name]) => name.toLowerCase() === 'age');
  if (lines.length === 0) return undefined;
  const value = lines[0]![1].trim();
  if (lines.length > 1 || !/^\d+$/.test(value)) return 'invalid';
  return Math.min(Number(value), MAX_DELTA_SECONDS);
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
