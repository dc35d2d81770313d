// RFC 9111 §5.2.1: what a request asks of the cache. `Pragma: no-cache` counts as
// `Cache-Control: no-cache` only when the request has no Cache-Control at all (§5.4).
import { listElements } from './field-lists.js';
import { directivesOf } from './cache-control.js';
import { fieldValue, type CacheRequest } from './messages.js';

export interface RequestCachePolicy {
  /** Neither store this request's response nor answer it from the cache (§5.2.1.5). */
  noStore: boolean;
  /** Do not answer from the cache without revalidating (§5.2.1.4). */
  noCache: boolean;
  /** The oldest response, in seconds of age, the client accepts (§5.2.1.1). */
  maxAge: number | undefined;
  /** Seconds of freshness the response must still have (§5.2.1.3). */
  minFresh: number | undefined;
  /** Seconds a response may be stale and still do; `Infinity` for a bare `max-stale` (§5.2.1.2). */
  maxStale: number | undefined;
  /** Answer from the cache or with 504, never from the origin (§5.2.1.7). */
  onlyIfCached: boolean;
}

export function requestPolicy(request: CacheRequest): RequestCachePolicy {
  const cacheControl = fieldValue(request.headers, 'cache-control');
  const directives = directivesOf(cacheControl);
  const pragmaNoCache =
    cacheControl === undefined &&
    listElements(fieldValue(request.headers, 'pragma')).some((element) => element.toLowerCase() === 'no-cache');
  const { maxAge, minFresh, maxStale } = directives;
  return {
    noStore: directives.noStore,
    noCache: directives.noCache !== undefined || pragmaNoCache,
    // An invalid max-age asks for a response of age 0: only a revalidated one will do.
    maxAge: maxAge === 'invalid' ? 0 : maxAge,
    // An invalid min-fresh or max-stale is ignored: neither can then loosen or tighten by a guess.
    minFresh: minFresh === 'invalid' ? undefined : minFresh,
    maxStale: maxStale === 'any' ? Infinity : maxStale === 'invalid' ? undefined : maxStale,
    onlyIfCached: directives.onlyIfCached,
  };
}
