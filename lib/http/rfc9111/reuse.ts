// RFC 9111 §4 (with RFC 5861): whether a stored response that matches a request may answer it
// as it is, after revalidation, or while one revalidation runs in the background.
import { currentAge } from './age.js';
import { coversAll, parseCacheControl, type CacheDirectives } from './cache-control.js';
import { freshnessLifetime, type HeuristicFreshness } from './freshness.js';
import type { CacheRequest, CacheResponse } from './messages.js';
import { requestPolicy } from './request-directives.js';

export type ReuseDecision =
  /** Answer with the stored response. */
  | { use: 'stored'; age: number }
  /** Answer with the stored response, and revalidate it once in the background (RFC 5861 §3). */
  | { use: 'stale-while-revalidate'; age: number }
  /** Send a conditional request (revalidation.ts); a 304 makes the stored response the answer. */
  | { use: 'revalidate'; age: number }
  /** The client said only-if-cached and nothing stored will do: answer 504 (§5.2.1.7). */
  | { use: 'gateway-timeout' }
  /** Forward the request as if nothing were stored. */
  | { use: 'forward' };

export interface ReuseOptions {
  heuristic?: HeuristicFreshness;
}

/** What to do with `stored`, a response that matches `request`'s key and Vary, at `now` (ms). */
export function decideReuse(
  request: CacheRequest,
  stored: CacheResponse,
  now: number,
  options: ReuseOptions = {},
): ReuseDecision {
  const asked = requestPolicy(request);
  if (asked.noStore && !asked.onlyIfCached) return { use: 'forward' };
  const directives = parseCacheControl(stored.headers);
  const age = currentAge(stored, now);
  const lifetime = freshnessLifetime(stored, options.heuristic, directives).seconds;
  const staleBy = age - lifetime;
  const mustRevalidateFirst = asked.noCache || coversAll(directives.noCache);
  const withinMaxAge = asked.maxAge === undefined || age <= asked.maxAge;
  const fresh = staleBy < 0 && withinMaxAge && (asked.minFresh === undefined || lifetime - age >= asked.minFresh);
  if (!mustRevalidateFirst && fresh) return { use: 'stored', age };
  // §5.2.1.1: a client that bounds the age (or asks for freshness left) wants a fresh response,
  // unless it also sends max-stale; its max-age still bounds a stale one (the stricter wins, §5.2).
  const acceptsStale =
    withinMaxAge && (asked.maxStale !== undefined || (asked.maxAge === undefined && asked.minFresh === undefined));
  if (!mustRevalidateFirst && staleBy >= 0 && acceptsStale && mayServeStale(directives)) {
    if (asked.maxStale !== undefined && staleBy <= asked.maxStale) return { use: 'stored', age };
    const window = directives.staleWhileRevalidate;
    if (typeof window === 'number' && staleBy < window) return { use: 'stale-while-revalidate', age };
  }
  if (asked.onlyIfCached) return { use: 'gateway-timeout' };
  return { use: 'revalidate', age };
}

/**
 * RFC 5861 §4: whether a stale stored response may answer when revalidating it failed (the
 * handler threw, or answered 500, 502, 503 or 504). `stale-if-error` of the response or of the
 * request sets the window; must-revalidate and its kin forbid it.
 */
export function mayServeStaleOnError(
  request: CacheRequest,
  stored: CacheResponse,
  now: number,
  options: ReuseOptions = {},
): boolean {
  const directives = parseCacheControl(stored.headers);
  if (!mayServeStale(directives)) return false;
  const staleBy = currentAge(stored, now) - freshnessLifetime(stored, options.heuristic, directives).seconds;
  const fromRequest = parseCacheControl(request.headers).staleIfError;
  const windows = [directives.staleIfError, fromRequest].filter((window) => typeof window === 'number');
  return windows.some((window) => staleBy < window);
}

/**
 * §4.2.4: a cache that cannot reach the origin (here: the handler failed, no response at all) may
 * answer stale, unless the response forbids it: must-revalidate and its kin, or no-cache.
 */
export function mayServeStaleWhenDisconnected(stored: CacheResponse): boolean {
  return mayServeStale(parseCacheControl(stored.headers));
}

/** Statuses RFC 5861 §4 counts as an error that stale-if-error may hide. */
export const ERROR_STATUSES_FOR_STALE = new Set([500, 502, 503, 504]);

/**
 * §4.2.4: whether the response lets a stale copy of it be served at all. must-revalidate
 * (§5.2.2.2), proxy-revalidate (§5.2.2.8, for a shared cache), s-maxage, which implies
 * proxy-revalidate (§5.2.2.10), and no-cache forbid it: once stale, never served without
 * revalidation. (Unqualified no-cache already means revalidating before every use; this keeps it
 * from being served stale when that revalidation fails. `no-cache="X"` only keeps X out of the
 * stored response, so it forbids nothing here.)
 */
function mayServeStale(directives: CacheDirectives): boolean {
  return !(
    directives.mustRevalidate ||
    directives.proxyRevalidate ||
    directives.sMaxage !== undefined ||
    coversAll(directives.noCache)
  );
}
