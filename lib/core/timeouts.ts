import { describeValue } from './describe-value.js';
import { CacheValueError } from './errors.js';

/**
 * A Django timeout in seconds: `null` never expires, `0` or less means "do not keep", and
 * `undefined` (at call sites) means the alias default.
 */
export type TimeoutSeconds = number | null;

/** Lifetime in milliseconds as backends take it: `null` forever, `<= 0` expired at once. */
export type TtlMs = number | null;

/** Turns a Django timeout into a lifetime in milliseconds, rejecting what is not a timeout. */
export function toTtlMs(timeout: TimeoutSeconds | undefined, aliasDefault: TimeoutSeconds): TtlMs {
  const seconds = timeout === undefined ? aliasDefault : timeout;
  if (seconds === null || seconds === Infinity) return null;
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
    throw new CacheValueError(
      `Timeout must be a number of seconds, null (never expire) or undefined (the alias default); got ${describeValue(seconds)}.`,
    );
  }
  return seconds * 1000;
}

/** The absolute expiry (epoch ms) of a lifetime, `null` for never. */
export function expiryOf(ttlMs: TtlMs, now = Date.now()): number | null {
  return ttlMs === null ? null : now + ttlMs;
}
