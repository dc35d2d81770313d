/**
 * What `getOrSet` stores when logical expiry is asked for (`staleWhileRevalidate`, `grace`,
 * `earlyRefresh`): the value and when it stops being fresh, while the physical TTL also covers the
 * stale and grace windows. Plain `getOrSet` stores plain values, so only keys written with these
 * options hold an envelope. A plain object with a tag field, because values go through
 * structured-clone serializers that keep neither classes nor symbols.
 */
export interface Envelope<T = unknown> {
  nestjsCachesEnvelope: 1;
  value: T;
  /** Epoch ms when the value was stored. */
  computedAt: number;
  /** Epoch ms after which the value is stale; `null` never. */
  freshUntil: number | null;
  /** How long the computation took, for XFetch. */
  computeMs: number;
}

export function wrapInEnvelope<T>(value: T, ttlMs: number | null, computeMs: number, now = Date.now()): Envelope<T> {
  return {
    nestjsCachesEnvelope: 1,
    value,
    computedAt: now,
    freshUntil: ttlMs === null ? null : now + ttlMs,
    computeMs,
  };
}

/** The envelope a stored value is, or `undefined` for a plain value (e.g. written by `set`). */
export function asEnvelope<T>(stored: unknown): Envelope<T> | undefined {
  return typeof stored === 'object' && stored !== null && (stored as Envelope).nestjsCachesEnvelope === 1
    ? (stored as Envelope<T>)
    : undefined;
}

export function isFresh(envelope: Envelope, now: number): boolean {
  return envelope.freshUntil === null || now < envelope.freshUntil;
}
