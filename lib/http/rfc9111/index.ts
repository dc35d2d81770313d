// RFC 9111 (HTTP Caching) and RFC 5861 (stale-while-revalidate, stale-if-error) as pure functions
// over plain data, for the page cache's `rules: 'rfc9111'`. No Nest, no I/O, no clock of their
// own: each takes the time it decides at.
//
//   messages.ts            the request and response shapes, header list helpers
//   field-lists.ts         RFC 9110 list syntax, quoted strings, field-name lists
//   http-dates.ts          the three HTTP-date forms a recipient accepts
//   cache-control.ts       Cache-Control directives (§5.2)
//   request-directives.ts  what a request asks of the cache (§5.2.1, Pragma §5.4)
//   statuses.ts            storable, heuristically cacheable, understood status codes
//   freshness.ts           freshness lifetime (§4.2.1), heuristic freshness (§4.2.2)
//   age.ts                 current age (§4.2.3), the Age to send (§5.1)
//   storability.ts         whether to store a response (§3, §3.5)
//   storage-fields.ts      the fields not stored (§3.1)
//   vary.ts                Vary matching (§4.1)
//   reuse.ts               serve, revalidate, stale-while-revalidate, stale-if-error (§4.2.4, RFC 5861)
//   revalidation.ts        the conditional request (§4.3.1) and its outcome (§4.3.3)
//   client-conditionals.ts a client's conditional request answered from the cache (§4.3.2)
//   updates.ts             freshening from a 304 (§4.3.4) and from a HEAD (§4.3.5)
//   invalidation.ts        invalidation after unsafe methods (§4.4)
export { ageToSend, ageValue, currentAge } from './age.js';
export { NOT_IN_304, answersNotModified } from './client-conditionals.js';
export {
  MAX_DELTA_SECONDS,
  coversAll,
  directivesOf,
  namedFields,
  parseCacheControl,
  type CacheDirectives,
  type DeltaSeconds,
  type FieldScope,
} from './cache-control.js';
export { fieldNames, listElements, unquote } from './field-lists.js';
export {
  dateOf,
  freshnessLifetime,
  hasExplicitFreshness,
  type Freshness,
  type HeuristicFreshness,
} from './freshness.js';
export { parseHttpDate } from './http-dates.js';
export { invalidationTargets } from './invalidation.js';
export {
  fieldValue,
  firstFieldValue,
  hasField,
  withoutFields,
  type CacheRequest,
  type CacheResponse,
  type HeaderList,
} from './messages.js';
export { requestPolicy, type RequestCachePolicy } from './request-directives.js';
export {
  ERROR_STATUSES_FOR_STALE,
  decideReuse,
  mayServeStaleOnError,
  mayServeStaleWhenDisconnected,
  type ReuseDecision,
  type ReuseOptions,
} from './reuse.js';
export { canRevalidate, conditionalFields, revalidationOutcome, type RevalidationOutcome } from './revalidation.js';
export { HEURISTICALLY_CACHEABLE, isStorableStatus, isUnderstood } from './statuses.js';
export { decideStore, type StoreDecision, type StoreOptions } from './storability.js';
export { fieldsNotStored, fieldsToStore } from './storage-fields.js';
export { describesStored, freshenedWith, headUpdate, type HeadUpdate } from './updates.js';
export { normalisedFieldValue, selectingFields, varyMatches, varyNames } from './vary.js';
