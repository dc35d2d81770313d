import { describeValue } from './describe-value.js';
import { CacheValueError } from './errors.js';

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * `current + delta` for a stored number (or bigint), before anything is written: a result past
 * `Number.MAX_SAFE_INTEGER`, where numbers are rounded, and a value that is not a number are a
 * `CacheValueError`, and the store keeps the value it had.
 */
export function addDelta(current: unknown, delta: number, key: string): number | bigint {
  let next: number | bigint;
  if (typeof current === 'number') next = current + delta;
  else if (typeof current === 'bigint') next = current + BigInt(delta);
  else throw new CacheValueError(`Cannot increment key '${key}': its value is a ${typeof current}, not a number.`);
  if (!isSafeCount(next)) throw unsafeCountError(key, next, 'the stored value is unchanged');
  return next;
}

/** Throws unless `delta` is a finite number (what `incr` may add). */
export function checkDelta(delta: unknown, key: string, alias: string): void {
  if (typeof delta === 'number' && Number.isFinite(delta)) return;
  throw new CacheValueError(
    `Cannot increment key '${key}' of cache '${alias}' by ${describeValue(delta)}: the delta must be a finite number.`,
  );
}

/** Whether a count is within ±`Number.MAX_SAFE_INTEGER`, where every integer is exact. */
export function isSafeCount(count: number | bigint): boolean {
  return typeof count === 'number'
    ? Math.abs(count) <= Number.MAX_SAFE_INTEGER
    : count <= MAX_SAFE_BIGINT && count >= -MAX_SAFE_BIGINT;
}

/**
 * The error of an `incr`/`decr` whose result `Number` cannot hold exactly; `afterwards` says what
 * the store holds now (a server that counts, such as memcached, has already stored the result).
 */
export function unsafeCountError(
  key: string,
  result: number | bigint | undefined,
  afterwards: string,
): CacheValueError {
  const shown = result === undefined ? 'the result' : `the result ${describeValue(result)}`;
  return new CacheValueError(
    `Cannot increment key '${key}': ${shown} is outside ±Number.MAX_SAFE_INTEGER (2^53 - 1), where counts are rounded; ${afterwards}. Set the key to a smaller number, or keep larger counts as BigInt with get and set.`,
  );
}
