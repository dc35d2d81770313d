// RFC 9111 §3: whether a shared cache may store a response to a request, and §3.5 for requests
// with Authorization. This cache stores only what it can reuse: a response it could only ever
// forward again (no freshness, no heuristic, no no-cache with a validator) is not kept.
import { coversAll, parseCacheControl } from './cache-control.js';
import { hasExplicitFreshness, freshnessLifetime, type HeuristicFreshness } from './freshness.js';
import { hasField, type CacheRequest, type CacheResponse } from './messages.js';
import { canRevalidate as hasValidator } from './revalidation.js';
import { requestPolicy } from './request-directives.js';
import { isStorableStatus, isUnderstood } from './statuses.js';
import { varyNames } from './vary.js';

/** Request methods whose responses this cache stores (§2: GET; HEAD updates, §4.3.5). */
const CACHED_METHODS = new Set(['GET']);

export type StoreDecision =
  | { store: true }
  | {
      store: false;
      reason:
        | 'method'
        | 'status'
        | 'no-store'
        | 'private'
        | 'authorization'
        | 'vary-star'
        | 'must-understand'
        | 'no-freshness';
    };

export interface StoreOptions {
  /** Heuristic freshness (§4.2.2), off unless given. */
  heuristic?: HeuristicFreshness;
}

export function decideStore(request: CacheRequest, response: CacheResponse, options: StoreOptions = {}): StoreDecision {
  // RFC 9110 §9.1: methods are case-sensitive; `get` is some other method.
  if (!CACHED_METHODS.has(request.method)) return { store: false, reason: 'method' };
  // §5.2.1.5: must-understand overrides only the response's no-store, never the request's.
  if (requestPolicy(request).noStore) return { store: false, reason: 'no-store' };
  const directives = parseCacheControl(response.headers);
  if (directives.mustUnderstand) {
    // §5.2.2.3: a status this cache understands may be stored whatever the response's no-store says.
    if (!isUnderstood(response.status) || !isStorableStatus(response.status)) {
      return { store: false, reason: 'must-understand' };
    }
  } else {
    if (!isStorableStatus(response.status)) return { store: false, reason: 'status' };
    if (directives.noStore) return { store: false, reason: 'no-store' };
  }
  // §5.2.2.7: the qualified form only keeps the named fields out (storage-fields.ts).
  if (coversAll(directives.private)) return { store: false, reason: 'private' };
  if (
    hasField(request.headers, 'authorization') &&
    !(directives.mustRevalidate || directives.public || directives.sMaxage !== undefined)
  ) {
    return { store: false, reason: 'authorization' };
  }
  // §4.1: a stored response with Vary: * never matches a later request.
  if (varyNames(response.headers) === '*') return { store: false, reason: 'vary-star' };
  const reusable =
    hasExplicitFreshness(response, directives) ||
    freshnessLifetime(response, options.heuristic, directives).source === 'heuristic' ||
    // no-cache asks for exactly this: keep it, and revalidate it before each use.
    (coversAll(directives.noCache) && hasValidator(response));
  return reusable ? { store: true } : { store: false, reason: 'no-freshness' };
}
