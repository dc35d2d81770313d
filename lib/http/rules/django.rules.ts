import type { PageRequest } from '../page-keys.js';
import { isStale, mayServe, refusalOf, storeTimeoutOf, type RequestCredentials } from '../stored-page.js';
import type { PageRules } from './page-rules.js';

/** What a request brings that could make a page someone else's. */
export function credentialsOf(request: PageRequest): RequestCredentials {
  return {
    authorization: request.header('authorization') !== undefined,
    cookie: request.header('cookie') !== undefined,
  };
}

/**
 * Django's page cache rules (`UpdateCacheMiddleware` / `FetchFromCacheMiddleware`), with this
 * project's stricter ones on credentials, as DESIGN.md §3 states them; over `stored-page.ts`.
 */
export const DJANGO_RULES: PageRules = {
  name: 'django',
  use(page, request, now) {
    if (!mayServe(page, credentialsOf(request))) return 'unusable';
    return isStale(page, now) ? 'stale' : 'fresh';
  },
  refusal: (response, request) => refusalOf(response, credentialsOf(request)),
  keepSeconds: storeTimeoutOf,
  mayWaitForOthers(request, varyOn) {
    // A page kept for someone else answers a request with credentials only if its key holds them
    // (or it is public, which only its response can say: such requests run, and the page answers
    // them once kept).
    const { authorization, cookie } = credentialsOf(request);
    if (authorization && !varyOn?.includes('authorization')) return false;
    return !cookie || varyOn?.includes('cookie') === true;
  },
};
