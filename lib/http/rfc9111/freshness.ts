// RFC 9111 §4.2.1: how long a response stays fresh, from the first of `s-maxage` (a shared
// cache's), `max-age`, `Expires` minus `Date`; and §4.2.2's heuristic when it says nothing.
import { parseCacheControl, type CacheDirectives, type DeltaSeconds } from './cache-control.js';
import { parseHttpDate } from './http-dates.js';
import { fieldValue, firstFieldValue, type CacheResponse } from './messages.js';
import { HEURISTICALLY_CACHEABLE } from './statuses.js';

/** Heuristic freshness (§4.2.2), off unless asked for: a fraction of the time since Last-Modified. */
export interface HeuristicFreshness {
  /** Share of (Date − Last-Modified) the response stays fresh; 0.1 is the usual one. */
  fraction: number;
  /** A ceiling in seconds, so that a page unchanged for years is not trusted for months. */
  maxSeconds: number;
}

export type Freshness =
  { source: 's-maxage' | 'max-age' | 'expires' | 'heuristic'; seconds: number } | { source: 'none'; seconds: 0 };

/** The response's freshness lifetime in seconds, with where it came from. */
export function freshnessLifetime(
  response: CacheResponse,
  heuristic?: HeuristicFreshness,
  directives: CacheDirectives = parseCacheControl(response.headers),
): Freshness {
  const shared = explicit(directives.sMaxage);
  if (shared !== undefined) return { source: 's-maxage', seconds: shared };
  const own = explicit(directives.maxAge);
  if (own !== undefined) return { source: 'max-age', seconds: own };
  const expires = fieldValue(response.headers, 'expires');
  if (expires !== undefined) return { source: 'expires', seconds: expiresLifetime(response, expires) };
  const guessed = heuristic === undefined ? undefined : heuristicLifetime(response, heuristic, directives);
  return guessed === undefined ? { source: 'none', seconds: 0 } : { source: 'heuristic', seconds: guessed };
}

/** Whether the response carries freshness of its own (§4.2.1), not counting a heuristic. */
export function hasExplicitFreshness(response: CacheResponse, directives = parseCacheControl(response.headers)) {
  return (
    directives.sMaxage !== undefined ||
    directives.maxAge !== undefined ||
    fieldValue(response.headers, 'expires') !== undefined
  );
}

/** An invalid delta-seconds is a lifetime of 0: stale at once (§4.2.1). */
function explicit(value: DeltaSeconds | undefined): number | undefined {
  return value === undefined ? undefined : value === 'invalid' ? 0 : value;
}

/**
 * §5.3: Expires minus Date (or the time the response arrived, when Date is absent or invalid).
 * An invalid Expires, `0` among them, or more than one, means already expired.
 */
function expiresLifetime(response: CacheResponse, expires: string): number {
  const lines = response.headers.filter(([name]) => name.toLowerCase() === 'expires');
  const expiresAt = lines.length === 1 ? parseHttpDate(expires, response.receivedAt) : undefined;
  if (expiresAt === undefined) return 0;
  const date = dateOf(response) ?? response.receivedAt;
  return Math.max(0, Math.floor((expiresAt - date) / 1000));
}

/** The response's `Date`, in ms, if it has a valid one. */
export function dateOf(response: CacheResponse): number | undefined {
  return parseHttpDate(firstFieldValue(response.headers, 'date'), response.receivedAt);
}

/** §4.2.2: for a heuristically cacheable status, or any status the response marks `public`. */
function heuristicLifetime(
  response: CacheResponse,
  heuristic: HeuristicFreshness,
  directives: CacheDirectives,
): number | undefined {
  if (!HEURISTICALLY_CACHEABLE.has(response.status) && !directives.public) return undefined;
  const modified = parseHttpDate(firstFieldValue(response.headers, 'last-modified'), response.receivedAt);
  if (modified === undefined) return undefined;
  const date = dateOf(response) ?? response.receivedAt;
  if (modified > date) return undefined;
  return Math.min(Math.floor(((date - modified) / 1000) * heuristic.fraction), heuristic.maxSeconds);
}
