import type { TimeoutSeconds } from '../../core/timeouts.js';
import type { PageRequest } from '../page-keys.js';
import type { HeaderAccess } from '../response-headers.js';
import type { CapturedResponse, StoredPage } from '../stored-page.js';

/** What a stored page may do for a request: answer it, answer it while it is recomputed, or nothing. */
export type PageUse = 'fresh' | 'stale' | 'unusable';

/** The timeouts a route gives, in seconds; see `PageRules.keepSeconds`. */
export interface PageTimeouts {
  /** `@CachePage(timeout)`, winning over the response's own freshness. */
  readonly page: number | undefined;
  /** `site.timeout`: when neither the route nor the response says. */
  readonly fallback: number | undefined;
}

/**
 * The three questions of a shared page cache, answered by one rule set (`'django'` today, an
 * RFC 9111 set next): may this stored page answer this request, may this response be stored,
 * and for how long. The interceptor, the per-site cache and the early hits all ask these and
 * nothing else, so a rule set changes what the page cache does everywhere at once; keys, storage
 * and the wiring into Nest stay the same under every rule set.
 *
 * Implementations are pure: no I/O, no Nest, no clock but the `now` given.
 */
export interface PageRules {
  /** As `@CachePage({ rules })` and `site: { rules }` name it. */
  readonly name: string;
  /** Whether `page`, found under this request's key, may answer it (never one kept for someone else). */
  use(page: StoredPage, request: PageRequest, now: number): PageUse;
  /** Why `response` to `request` must not be stored, or `undefined` if it may be. */
  refusal(response: CapturedResponse, request: PageRequest): string | undefined;
  /** How long to keep a response that may be stored: seconds, `null` forever, `<= 0` not at all. */
  keepSeconds(response: HeaderAccess, timeouts: PageTimeouts, aliasDefault: TimeoutSeconds): TimeoutSeconds;
  /**
   * Whether this request may wait for another request's computation of its page, given the
   * request headers the URL's pages vary on (`undefined` before any page of the URL was kept):
   * only when a page computed for another request could answer this one. A request that could
   * not use it runs at once.
   */
  mayWaitForOthers(request: PageRequest, varyOn: readonly string[] | undefined): boolean;
}
